/**
 * The transfer part of the `npm start` demo: three engines on 127.0.0.1 (alice with two lines,
 * bob with two, carol with one), no server needed.
 * - Blind transfer: alice calls bob, then transfers him to carol (transferLine). bob's engine
 *   accepts the REFER, calls carol and reports the progress in NOTIFYs; alice sees
 *   SipReferAccepted, SipTransferTrying, SipTransferRinging, SipActvTransferSuccess and bob
 *   hangs up on her.
 * - Attended transfer: alice calls bob on line 0 and carol on line 1, then joins them
 *   (attendedTransfer(0, 1)): bob calls carol with a Replaces header, carol's engine swaps
 *   alice's call for bob's on the same line, and both of alice's calls end.
 * @module
 */
import { VoipMediaEngine, TelephonyReturnValue as T, NotifyType, type Notification } from '../index.js';
import { check, nextEvent, say } from './demoKit.js';

/** Events worth a line of output in this demo. */
const SHOWN = new Set<T>([
  T.SipOutgoingCallConnected,
  T.SipIncomingCallConnected,
  T.SipByeReceived,
  T.SipOnHook,
  T.SipReceivedRefer,
  T.SipTransferExecuting,
  T.SipTransferingCall,
  T.SipReferAccepted,
  T.SipReferRejected,
  T.SipTransferTrying,
  T.SipTransferRinging,
  T.SipActvTransferSuccess,
  T.SipActvTransferFailure,
]);

function printer(who: string, started: number): (n: Notification) => void {
  return (n) => {
    if (!SHOWN.has(n.event)) return;
    const kind = n.notifyType === NotifyType.ImmediateNotification ? 'immediate' : `line ${n.phoneLine}`;
    let data = '';
    if (n.data) {
      // the whole REFER is long: show its first line only
      const d = { ...n.data } as Record<string, unknown>;
      if (typeof d['referSipMessage'] === 'string') d['referSipMessage'] = `${(d['referSipMessage']).split('\r\n')[0]} ...`;
      data = ` ${JSON.stringify(d)}`;
    }
    console.log(`${String(Date.now() - started).padStart(5)} ms  ${who.padEnd(5)} ${kind.padEnd(9)} ${T[n.event]}${data}`);
  };
}

/** Runs the blind and the attended transfer between three fresh engines, then stops them. */
export async function demoTransfer(): Promise<void> {
  const started = Date.now();
  const alice = new VoipMediaEngine();
  const bob = new VoipMediaEngine();
  const carol = new VoipMediaEngine();
  const start = async (e: VoipMediaEngine, name: string, lines: number): Promise<number> => {
    check(`${name}.startSipTelephony`, await e.startSipTelephony({
      numPhoneLinesRequested: lines, ipAddressOfThisHost: '127.0.0.1', sipPort: 0, phoneName: name,
      farEndCallTransferEnabled: true, userNotifyCallbackProc: printer(name, started),
    }));
    // bob and carol answer whatever rings
    if (name !== 'alice') e.on('SipOkToAnswerCall', (n: Notification) => e.goOffHook(n.phoneLine));
    return e.getSipPort();
  };
  await start(alice, 'alice', 2);
  const bobPort = await start(bob, 'bob', 2);
  const carolPort = await start(carol, 'carol', 1);

  say('-- blind transfer: alice calls bob, then transfers him to carol');
  check('alice.makeCall(bob)', await alice.makeCall('bob', '127.0.0.1', bobPort, 0, true, 5000));
  let success = nextEvent(alice, T.SipActvTransferSuccess);
  let carolUp = nextEvent(carol, T.SipIncomingCallConnected);
  const aliceDown = nextEvent(alice, T.SipOnHook, (n) => n.phoneLine === 0);
  check('alice.transferLine(carol)', alice.transferLine('carol', '127.0.0.1', carolPort, 0));
  await Promise.all([success, carolUp, aliceDown]);
  say(`bob line 1 is ${bob.getActiveCallInfo(1).connected ? 'talking to carol' : 'idle'}; alice has ${alice.getNumActiveCalls().numActiveCalls} calls`);
  let carolDown = nextEvent(carol, T.SipOnHook);
  check('bob.terminateCall(1)', await bob.terminateCall(1, true, 3000));
  await carolDown;

  say('-- attended transfer: alice talks to bob (line 0) and carol (line 1), then joins them');
  check('alice.makeCall(bob) on line 0', await alice.makeCall('bob', '127.0.0.1', bobPort, 0, true, 5000));
  check('alice.makeCall(carol) on line 1', await alice.makeCall('carol', '127.0.0.1', carolPort, 1, true, 5000));
  success = nextEvent(alice, T.SipActvTransferSuccess);
  const bothDown = Promise.all([nextEvent(alice, T.SipOnHook, (n) => n.phoneLine === 0), nextEvent(alice, T.SipOnHook, (n) => n.phoneLine === 1)]);
  carolUp = nextEvent(carol, T.SipIncomingCallConnected);
  check('alice.attendedTransfer(0, 1)', alice.attendedTransfer(0, 1));
  await Promise.all([success, bothDown, carolUp]);
  say(`carol line 0 now talks to ${carol.getIncomingCallInfo(0).from}; alice has ${alice.getNumActiveCalls().numActiveCalls} calls`);
  carolDown = nextEvent(carol, T.SipOnHook);
  check('bob.terminateCall(1)', await bob.terminateCall(1, true, 3000));
  await carolDown;

  for (const [name, e] of [['alice', alice], ['bob', bob], ['carol', carol]] as const) check(`${name}.stopSipTelephony`, await e.stopSipTelephony());
}
