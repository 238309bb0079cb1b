/**
 * LanScape's in-call and on-hold transmit data: a Tx IVR channel opened with `onHold` plays only
 * while we hold the call (music on hold), an ordinary one pauses during hold.
 */
import test from 'ava';
import { TelephonyReturnValue as T, type Notification } from '../index.js';
import { startEngine } from './helpers/engine.js';
import { listenFor, tonePcm, wait } from './helpers/audio.js';
import { toneLevelDb } from '../media/analysis.js';

test('an on-hold Tx channel plays while we hold the call; the in-call one pauses', async (t) => {
  const a = await startEngine(t, { phoneName: 'alice' });
  const b = await startEngine(t, { phoneName: 'bob' });
  b.engine.on('SipOkToAnswerCall', (n: Notification) => b.engine.goOffHook(n.phoneLine));
  t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, 0, true, 5000), T.SipSuccess);
  await b.waitFor(T.SipIncomingCallConnected);
  const inCall = a.engine.openTxIvrChannel(0, { sampleRate: 8000 });
  const onHold = a.engine.openTxIvrChannel(0, { sampleRate: 8000, onHold: true });
  t.is(onHold.result, T.SipSuccess);
  t.is(a.engine.openTxIvrChannel(0, { onHold: 'yes' as unknown as boolean }).result, T.SipBadParameter);
  inCall.channel!.write(tonePcm(1000, 6, 8000, 6000));
  onHold.channel!.write(tonePcm(440, 6, 8000, 6000));
  // a fresh Rx channel per window (listenFor pauses the one it read)
  const listen = (ms: number): Promise<Int16Array> => {
    const rx = b.engine.openRxIvrChannel(0, { sampleRate: 8000 }).channel!;
    return listenFor(rx, ms).finally(() => b.engine.closeRxIvrChannel(rx));
  };
  await wait(600);
  const before = await listen(800);
  t.is(await a.engine.holdLine(0, true), T.SipSuccess);
  await wait(400);
  const during = await listen(800);
  t.is(await a.engine.holdLine(0, false), T.SipSuccess);
  await wait(400);
  const after = await listen(800);
  const lv = (p: Int16Array, f: number): string => toneLevelDb(p, 8000, f).toFixed(1);
  t.log(`before ${lv(before, 1000)}/${lv(before, 440)}, during ${lv(during, 1000)}/${lv(during, 440)}, after ${lv(after, 1000)}/${lv(after, 440)} dB (1000/440 Hz)`);
  t.true(toneLevelDb(before, 8000, 1000) > -3 && toneLevelDb(before, 8000, 440) < -30, 'in call: the in-call data');
  t.true(toneLevelDb(during, 8000, 440) > -3 && toneLevelDb(during, 8000, 1000) < -30, 'on hold: the on-hold data');
  t.true(toneLevelDb(after, 8000, 1000) > -3 && toneLevelDb(after, 8000, 440) < -30, 'resumed: the in-call data again');
});
