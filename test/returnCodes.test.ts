import test from 'ava';
import {
  TelephonyReturnValue as T,
  getTelephonyStatusString,
  NOTIFICATION_KIND,
  TELEPHONY_CODE_USAGE,
} from '../engine/returnCodes.js';

// Names the API contract and the EnableSipRegisterServer seed require.
const REQUIRED = [
  'SipSuccess', 'SipCallFailure', 'SipBadParameter', 'SipBadPhoneLine', 'SipInvalidHandle',
  'SipProxyNotEnabled', 'SipUnknownHost', 'SipRegisterBadNameList', 'SipDomainNameNotDefined',
  'SipRegisterError', 'SipRegisterTimeOut', 'SipRegisterAuthorizationError', 'SipRegisterIntervalError',
  'SipRegisterSuccess', 'SipRegisterTrying', 'SipThreadCreationError', 'SipOffHook', 'SipOnHook',
  'SipOutgoingCallConnected', 'SipIncomingCallConnected', 'SipIncomingCallAssignPhoneLine',
  'SipStartIncomingRing', 'SipCallHoldOn', 'SipInConferenceOn', 'SipByeReceived', 'SipCallComplete',
  'SipWanIpAddressChange', 'SipDtmfDigitEvent', 'SipModifySipMessage', 'SipReceivedSipMessageParseError',
  'SipMediaEngineNotInitialized', 'SipRegisterReceived',
  // PortSIP events
  'SipReceivedRefer', 'SipReferAccepted', 'SipReferRejected', 'SipTransferTrying', 'SipTransferRinging',
  'SipActvTransferSuccess', 'SipActvTransferFailure', 'SipPresenceRecvSubscribe', 'SipPresenceOnline',
  'SipPresenceOffline', 'SipRecvMessage', 'SipRecvOutOfDialogMessage', 'SipSendMessageSuccess',
  'SipSendMessageFailure', 'SipSendOutOfDialogMessageSuccess', 'SipSendOutOfDialogMessageFailure',
  // LineScape additions
  'SipMediaEngineAlreadyInitialized', 'SipNativeLibraryMissing', 'SipFeatureNotAvailable', 'SipNotRegistered',
  // other LanScape names called out in the brief
  'SipUndefined', 'SipPhoneLineIncomingDtmfEventOverflow', 'SipInvalidDtmfToneDuration',
  'SipOutgoingCallInitializing', 'SipSendInvite', 'SipReceived100Trying', 'SipReceived180Ringing',
  'SipReceived183SessionProgress', 'SipInviteOkReceived', 'SipSendInviteAck', 'SipIncomingCallStart',
  'SipIncomingCallInitialized', 'SipSendRinging', 'SipOkToAnswerCall', 'SipSend200Ok', 'SipReceivedInviteAck',
  'SipSendBye', 'SipFarEndIsBusy', 'SipFarEndError', 'SipAnswerTimeout', 'SipCallCanceled',
  'SipIncomingCallAborted', 'SipReceived302MovedTemporarily', 'SipFarEndHoldOn', 'SipFarEndHoldOff',
  'SipReceivedRtpMediaConflict', 'SipInConferenceOff', 'SipConferenceActive', 'SipCallRecordActive',
  'SipCallRecordComplete', 'SipTransfrerNotAllowed', 'SipTransferExecuting', 'SipTransferingCall',
  'SipSubscriptionReceived', 'SipEventNotifyReceived', 'SipIncomingAuthentication',
];

const members = Object.keys(T).filter((k) => Number.isNaN(Number(k)));
const values = members.map((k) => (T as unknown as Record<string, number>)[k]!);

test('every required name exists', (t) => {
  const missing = REQUIRED.filter((n) => typeof (T as unknown as Record<string, unknown>)[n] !== 'number');
  t.deepEqual(missing, []);
});

test('seed spelling wins over older header spelling', (t) => {
  const names = new Set(members);
  t.false(names.has('SipRegistrationIntervalError'));
  t.false(names.has('SipRegistrationTimeOut'));
});

test('SipSuccess is 0 and values are unique and sequential', (t) => {
  t.is(T.SipSuccess, 0);
  t.is(new Set(values).size, values.length);
  const sorted = [...values].sort((a, b) => a - b);
  t.deepEqual(sorted, sorted.map((_, i) => i));
});

test('frozen numbering of a few anchors (append-only guard)', (t) => {
  // If one of these moves, a member was inserted or reordered instead of appended.
  t.is(T.SipCallFailure, 1);
  t.is(T.SipBadPhoneLine, 6);
  t.is(T.SipRegisterSuccess, 136);
  t.is(T.SipDtmfDigitEvent, 182);
  t.is(T.SipReceivedRefer, 194);
  t.is(T.SipNotRegistered, 212);
});

test('every member has a specific status string', (t) => {
  for (const v of values) {
    const s = getTelephonyStatusString(v);
    t.true(s.length > 0, T[v]);
    t.false(s.startsWith('Unknown telephony status'), T[v]);
  }
});

test('status strings are not all the same', (t) => {
  const texts = new Set(values.map((v) => getTelephonyStatusString(v)));
  t.true(texts.size > values.length * 0.9);
});

test('unknown codes give the fallback and never throw', (t) => {
  t.is(getTelephonyStatusString(-5), 'Unknown telephony status (-5)');
  t.is(getTelephonyStatusString(99999), 'Unknown telephony status (99999)');
  t.notThrows(() => getTelephonyStatusString(Number.NaN));
  t.notThrows(() => getTelephonyStatusString(1.5));
  t.notThrows(() => getTelephonyStatusString(undefined as unknown as number));
  t.notThrows(() => getTelephonyStatusString(Symbol('x') as unknown as number));
});

test('usage metadata covers every member and marks known kinds', (t) => {
  for (const v of values) t.true(Array.isArray(TELEPHONY_CODE_USAGE[v as T]), T[v]);
  t.deepEqual([...TELEPHONY_CODE_USAGE[T.SipRegisterTimeOut]], ['api', 'global']);
  t.is(NOTIFICATION_KIND[T.SipRegisterSuccess], 'global');
  t.is(NOTIFICATION_KIND[T.SipOffHook], 'line');
  t.is(NOTIFICATION_KIND[T.SipIncomingCallAssignPhoneLine], 'immediate');
  t.is(NOTIFICATION_KIND[T.SipRegisterReceived], 'immediate');
  t.is(NOTIFICATION_KIND[T.SipDtmfDigitEvent], 'immediate');
  t.is(NOTIFICATION_KIND[T.SipBadParameter], undefined);
});
