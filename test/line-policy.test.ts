/**
 * Line policy contract details: busy-out raises SipBusyOutOn / SipBusyOutOff, and a conferenced
 * connected line reports LineState.InConference (and back to InCall when it leaves); an INVITE to
 * a number rings the line registered with the same digits.
 */
import test from 'ava';
import { TelephonyReturnValue as T, LineState, type Notification } from '../index.js';
import { PhoneLine } from '../lines/phoneLine.js';
import type { UsageContext } from '../lines/context.js';
import { LinePolicy } from '../engine/linePolicy.js';
import { startEngine } from './helpers/engine.js';

test('busyOutLine raises SipBusyOutOn and SipBusyOutOff on the line, only when the line changes', async (t) => {
  const e = await startEngine(t, { numPhoneLinesRequested: 2 });
  t.is(e.engine.busyOutLine(1, true), T.SipSuccess);
  const on = await e.waitFor(T.SipBusyOutOn);
  t.is(on.phoneLine, 1);
  t.is(e.engine.busyOutLine(1, true), T.SipSuccess, 'already busied out');
  t.is(e.engine.busyOutLine(0, false), T.SipSuccess, 'not busied out: nothing changes');
  t.is(e.engine.busyOutLine(1, false), T.SipSuccess);
  const off = await e.waitFor(T.SipBusyOutOff);
  t.is(off.phoneLine, 1);
  t.is(e.of(T.SipBusyOutOn).length, 1);
  t.is(e.of(T.SipBusyOutOff).length, 1);
  t.is(e.engine.getLineStatus(1).state, LineState.OnHook);
});

test('a line reports InConference while its connected call is conferenced; hold and leaving report the call state', (t) => {
  const l = new PhoneLine(0);
  l.recordCallStates = true;
  l.setState(LineState.InCall);
  l.conferenced = true;
  t.is(l.reportedState, LineState.InConference);
  t.is(l.state, LineState.InCall, 'the call state the mixer follows is unchanged');
  l.setState(LineState.OnHold);
  t.is(l.reportedState, LineState.OnHold, 'a held line is out of the mix');
  l.setState(LineState.InCall);
  t.is(l.reportedState, LineState.InConference, 'resumed into the conference');
  l.conferenced = false;
  t.is(l.reportedState, LineState.InCall);
  l.conferenced = false;
  t.deepEqual(
    l.recordedStates().map((s) => s.state),
    [LineState.InCall, LineState.InConference, LineState.OnHold, LineState.InConference, LineState.InCall],
  );
});

test('conferenceLine makes getLineStatus report InConference, and InCall after leaving', async (t) => {
  const hub = await startEngine(t, { phoneName: 'hub', numPhoneLinesRequested: 1 });
  hub.engine.on('SipOkToAnswerCall', (n: Notification) => hub.engine.goOffHook(n.phoneLine));
  const party = await startEngine(t, { phoneName: 'party' });
  t.is(await party.engine.makeCall('hub', '127.0.0.1', hub.port, 0, true, 5000), T.SipSuccess);
  await hub.waitFor(T.SipIncomingCallConnected);
  t.is(hub.engine.getLineStatus(0).state, LineState.InCall);
  t.is(hub.engine.setCallStateRecording(0, true), T.SipSuccess);
  t.is(hub.engine.conferenceLine(0, true), T.SipSuccess);
  t.is(hub.engine.getLineStatus(0).state, LineState.InConference);
  t.is(hub.engine.conferenceLine(0, false), T.SipSuccess);
  t.is(hub.engine.getLineStatus(0).state, LineState.InCall);
  t.deepEqual(
    hub.engine.getRecordedCallStates(0).states.map((s) => s.state),
    [LineState.InConference, LineState.InCall],
  );
});

test('an INVITE to a number rings the free line registered with the same digits, as the names stand now', (t) => {
  const lines = [new PhoneLine(0), new PhoneLine(1), new PhoneLine(2)];
  // the policy reads only the lines from its context for this
  const policy = new LinePolicy({ lines: () => lines } as unknown as UsageContext, () => undefined);
  lines[0]!.registrationName = '1001';
  lines[1]!.registrationName = '+1-555-0100';
  lines[2]!.registrationName = 'carol';
  t.is(lines[1]!.registrationDigits, '15550100');
  t.is(lines[2]!.registrationDigits, undefined);
  t.is(policy.selectLineForIncoming('15550100'), lines[1]);
  t.is(policy.selectLineForIncoming('+1.555.(0100)'), lines[1]);
  t.is(policy.selectLineForIncoming('carol'), lines[2]);
  t.is(policy.selectLineForIncoming('1001'), lines[0]);
  // renamed: the digits follow the name
  lines[1]!.registrationName = 'dave';
  lines[2]!.registrationName = '1-555-0100';
  t.is(lines[1]!.registrationDigits, undefined);
  t.is(policy.selectLineForIncoming('+15550100'), lines[2]);
  lines[2]!.registrationName = undefined;
  t.is(lines[2]!.registrationDigits, undefined);
  // no line has those digits: any free line
  t.is(policy.selectLineForIncoming('15550100'), lines[0]);
  // the line with the digits is busy: nobody else takes it
  lines[0]!.registrationName = '15550100';
  lines[0]!.setState(LineState.InCall);
  t.is(policy.selectLineForIncoming('15550100'), undefined);
});
