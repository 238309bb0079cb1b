/**
 * Without libspeexdsp (disabled here as if it were not installed) the engine still conferences
 * (with the TypeScript edge resamplers) and the procedures that need the library say so with
 * SipNativeLibraryMissing instead of failing.
 */
import test from 'ava';
import { setNativeLibraryDisabled } from '../ffi/loader.js';
import { TelephonyReturnValue as T, MediaFormatAudio as F, type Notification } from '../index.js';
import { startEngine } from './helpers/engine.js';
import { listenFor, tonePcm, wait } from './helpers/audio.js';
import { toneLevelDb } from '../media/analysis.js';
import { speexEdgeResamplers } from '../mixer/edgeResamplers.js';

setNativeLibraryDisabled('speexdsp', true);

test('without libspeexdsp: DSP procedures return SipNativeLibraryMissing and a PCMU + Opus conference still mixes', async (t) => {
  t.is(speexEdgeResamplers(), null);
  const hub = await startEngine(t, { phoneName: 'hub', numPhoneLinesRequested: 3 });
  for (const call of [
    () => hub.engine.enableEchoCancellation(true),
    () => hub.engine.setNoiseDiscriminationEnableState(true),
    () => hub.engine.setNoiseThreshold(-40),
    () => hub.engine.setSilenceDecay(100),
    () => hub.engine.enableNoiseSuppression(true),
    () => hub.engine.enableAutomaticGainControl(true),
  ]) t.is(call(), T.SipNativeLibraryMissing);
  hub.engine.on('SipOkToAnswerCall', (n: Notification) => hub.engine.goOffHook(n.phoneLine));
  const parties = [];
  for (const [i, f] of [F.ULaw8k, F.Opus48k, F.ALaw8k].entries()) {
    const p = await startEngine(t, { phoneName: `p${i}` });
    p.engine.setAudioMediaFormats(0, [f]);
    t.is(await p.engine.makeCall('hub', '127.0.0.1', hub.port, 0, true, 5000), T.SipSuccess);
    parties.push(p);
  }
  await hub.waitForCount(T.SipIncomingCallConnected, 3);
  for (let l = 0; l < 3; l++) t.is(hub.engine.conferenceLine(l, true), T.SipSuccess);
  const freqs = [500, 1100, 1900];
  parties.forEach((p, i) => p.engine.openTxIvrChannel(0, { sampleRate: 8000 }).channel!.write(tonePcm(freqs[i]!, 4, 8000, 5000)));
  await wait(1000);
  const rx = parties[0]!.engine.openRxIvrChannel(0, { sampleRate: 8000 }).channel!;
  const heard = await listenFor(rx, 1200);
  t.true(toneLevelDb(heard, 8000, 1100) > -10 && toneLevelDb(heard, 8000, 1900) > -10, 'party 0 hears the two others');
  t.true(toneLevelDb(heard, 8000, 500) < -30, 'and not itself');
});
