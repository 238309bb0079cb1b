/**
 * Without libspeexdsp (disabled here as if it were not installed) the engine still conferences
 * (with the TypeScript edge resamplers) and the procedures that need the library say so with
 * SipNativeLibraryMissing instead of failing.
 */
import test from 'ava';
import { setNativeLibraryDisabled } from '../ffi/loader.js';
import { TelephonyReturnValue as T, MediaFormatAudio as F } from '../index.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { listenFor, tonePcm, wait } from './helpers/audio.js';
import { toneLevelDb } from './helpers/analysis.js';
import { speexEdgeResamplers } from '../mixer/edgeResamplers.js';
import { blocksWithoutTone, receiveTrouble } from './helpers/mediaTime.js';

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
  hub.engine.on('SipOkToAnswerCall', (n) => hub.engine.goOffHook(n.phoneLine));
  const parties: EngineUnderTest[] = [];
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
  // receive trouble (concealed or dropped frames) on the paths to party 0 while it listens
  const trouble = (): number[] => [1, 2].map((l) => receiveTrouble(hub.engine, l) + receiveTrouble(parties[0]!.engine, 0));
  const trouble0 = trouble();
  const heard = await listenFor(rx, 1200);
  const troubled = trouble().map((n, k) => n - trouble0[k]!);
  if (troubled.every((n) => n === 0)) {
    t.true(toneLevelDb(heard, 8000, 1100) > -10 && toneLevelDb(heard, 8000, 1900) > -10, 'party 0 hears the two others');
  } else {
    // a loaded machine damaged frames: each 20 ms block carries both tones (each -3 dB of the
    // pair) within 10 dB, except two blocks per frame of trouble on that tone's path
    const bad = [1100, 1900].map((f) => blocksWithoutTone(heard, 8000, f, 20, -13));
    t.true(bad.every((b, k) => b <= 2 * troubled[k]!), `party 0 hears the two others: ${bad.join(' / ')} blocks without them, ${troubled.join(' / ')} frames of trouble`);
  }
  t.true(toneLevelDb(heard, 8000, 500) < -30, 'and not itself');
});
