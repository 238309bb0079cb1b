/**
 * LanScape's in-call and on-hold transmit data: a Tx IVR channel opened with `onHold` plays only
 * while we hold the call (music on hold), an ordinary one pauses during hold.
 */
import test from 'ava';
import { TelephonyReturnValue as T } from '../index.js';
import { startEngine } from './helpers/engine.js';
import { listenFor, tonePcm } from './helpers/audio.js';
import { toneLevelDb } from './helpers/analysis.js';
import { blocksWithoutTone, mediaWait, receiveTrouble } from './helpers/mediaTime.js';

test('an on-hold Tx channel plays while we hold the call; the in-call one pauses', async (t) => {
  const a = await startEngine(t, { phoneName: 'alice' });
  const b = await startEngine(t, { phoneName: 'bob' });
  b.engine.on('SipOkToAnswerCall', (n) => b.engine.goOffHook(n.phoneLine));
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
  // settle by media time (what A has sent), not wall time: a loaded machine skips media ticks
  const window = async (): Promise<{ pcm: Int16Array; trouble: number }> => {
    await mediaWait(a.engine, 0, 400);
    const t0 = receiveTrouble(b.engine, 0);
    const pcm = await listen(800);
    return { pcm, trouble: receiveTrouble(b.engine, 0) - t0 };
  };
  const before = await window();
  t.is(await a.engine.holdLine(0, true), T.SipSuccess);
  const during = await window();
  t.is(await a.engine.holdLine(0, false), T.SipSuccess);
  const after = await window();
  const lv = (p: Int16Array, f: number): string => toneLevelDb(p, 8000, f).toFixed(1);
  t.log(`before ${lv(before.pcm, 1000)}/${lv(before.pcm, 440)}, during ${lv(during.pcm, 1000)}/${lv(during.pcm, 440)}, after ${lv(after.pcm, 1000)}/${lv(after.pcm, 440)} dB (1000/440 Hz); receive trouble ${before.trouble}/${during.trouble}/${after.trouble} frames`);
  // the wanted data over the window, or, where B measured receive trouble, in every 20 ms block
  // but two per damaged frame; the other data never
  const judge = (w: { pcm: Int16Array; trouble: number }, want: number, not: number, what: string): void => {
    if (w.trouble === 0) t.true(toneLevelDb(w.pcm, 8000, want) > -3, what);
    else t.true(blocksWithoutTone(w.pcm, 8000, want, 20, -3) <= 2 * w.trouble, `${what}: ${blocksWithoutTone(w.pcm, 8000, want, 20, -3)} blocks without it, ${w.trouble} frames of trouble`);
    t.true(toneLevelDb(w.pcm, 8000, not) < -30, `${what}: not the other data`);
  };
  judge(before, 1000, 440, 'in call: the in-call data');
  judge(during, 440, 1000, 'on hold: the on-hold data');
  judge(after, 1000, 440, 'resumed: the in-call data again');
});
