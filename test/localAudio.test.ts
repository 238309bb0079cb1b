/**
 * The engine's local audio device (naudiodon / PortAudio) on a sound card made of files
 * (test/helpers/alsaFile.ts): the "microphone" plays a 1 kHz sine from in.raw and the
 * "loudspeaker" writes out.raw. A tone from the microphone must reach the far end of a call, the
 * far end's audio must land in the speaker file, the operator joins conferences, local tones and
 * loopback play, and PhoneLine mode holds the other lines.
 *
 * The ALSA configuration is chosen at the top of the file, before PortAudio first initialises
 * (ava runs each test file in its own process). Tests are serial: they share the one card.
 */
import fs from 'node:fs';
import type { ExecutionContext } from 'ava';
import { createAlsaFileDevice } from './helpers/alsaFile.js';
import { audioBackend, native, peerTest } from './helpers/env.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { listenFor, tonePcm, wait } from './helpers/audio.js';
import { toneLevelDb } from './helpers/analysis.js';
import { blocksWithoutTone } from './helpers/mediaTime.js';
import { until } from './helpers/observe.js';
import {
  TelephonyReturnValue as T,
  LineMode,
  LineState,
  SIP_USE_PREFERED_AUDIO_DEVICE as PREFERRED,
  type StartSipTelephonyParams,
} from '../index.js';

const RATE = 16000;
const MIC_HZ = 1000;

const card = createAlsaFileDevice({ rate: RATE, inFreq: MIC_HZ, inAmplitude: 6000, inSeconds: 60 });
card.applyToProcess();
process.on('exit', () => card.cleanup());

// probed after the card is applied: listing the devices initialises PortAudio, which reads
// the ALSA configuration only then
const alsa = await audioBackend();
/** The tests share the one card, so they run serially. */
const deviceTest = (title: string, fn: (t: ExecutionContext) => Promise<void>): void => peerTest.serial(title, [alsa], fn);
/** A device test that switches the echo canceller or the preprocessor (SipNativeLibraryMissing without libspeexdsp). */
const dspDeviceTest = (title: string, fn: (t: ExecutionContext) => Promise<void>): void =>
  peerTest.serial(title, [alsa, native('speexdsp')], fn);

const withDevice: StartSipTelephonyParams = { zeroBasedAudioInDeviceId: PREFERRED, zeroBasedAudioOutDeviceId: PREFERRED };

function autoAnswer(e: EngineUnderTest): void {
  e.engine.on('SipOkToAnswerCall', (n) => e.engine.goOffHook(n.phoneLine));
}

/** The last `seconds` the loudspeaker played (out.raw, S16LE mono at RATE). */
function speakerTail(seconds: number): Int16Array {
  const b = fs.readFileSync(card.outFile);
  const n = Math.min(Math.floor(b.length / 2), seconds * RATE);
  const all = new Int16Array(b.buffer, b.byteOffset, Math.floor(b.length / 2));
  return all.slice(all.length - n);
}

function play(e: EngineUnderTest, line: number, freq: number, seconds: number): void {
  const r = e.engine.openTxIvrChannel(line, { sampleRate: 8000 });
  if (r.result !== T.SipSuccess || !r.channel) throw new Error(`openTxIvrChannel: ${T[r.result]}`);
  r.channel.write(tonePcm(freq, seconds, 8000, 6000));
}

function listen(e: EngineUnderTest, line: number, ms: number): Promise<Int16Array> {
  const r = e.engine.openRxIvrChannel(line, { sampleRate: 8000 });
  if (r.result !== T.SipSuccess || !r.channel) throw new Error(`openRxIvrChannel: ${T[r.result]}`);
  return listenFor(r.channel, ms).finally(() => e.engine.closeRxIvrChannel(r.channel!));
}

deviceTest('getAudioDeviceList shows the file card', async (t) => {
  const e = await startEngine(t, {});
  const r = await e.engine.getAudioDeviceList();
  t.is(r.result, T.SipSuccess);
  t.truthy(r.devices.find((d) => d.name === 'default' && d.maxInputChannels > 0 && d.maxOutputChannels > 0));
});

deviceTest('the microphone reaches the far line and the far line reaches the loudspeaker', async (t) => {
  const operator = await startEngine(t, { phoneName: 'operator', ...withDevice });
  autoAnswer(operator);
  const caller = await startEngine(t, { phoneName: 'caller' });
  t.is(await caller.engine.makeCall('operator', '127.0.0.1', operator.port, 0, true, 5000), T.SipSuccess);
  await operator.waitFor(T.SipIncomingCallConnected);
  play(caller, 0, 440, 5);
  await wait(800);
  const heard = await listen(caller, 0, 1500);
  t.true(toneLevelDb(heard, 8000, MIC_HZ) > -6, `the caller hears the microphone's 1 kHz (${toneLevelDb(heard, 8000, MIC_HZ).toFixed(1)} dB)`);
  await wait(500);
  const spk = speakerTail(1);
  const lv = toneLevelDb(spk, RATE, 440);
  t.true(lv > -6, `the loudspeaker plays the caller's 440 Hz (${lv.toFixed(1)} dB of ${spk.length} samples)`);
  const stats = operator.engine.getLocalAudioStatistics();
  t.is(stats.result, T.SipSuccess);
  t.log(JSON.stringify(stats));
});

dspDeviceTest('the operator talks in a conference: both far lines hear the microphone and each other', async (t) => {
  const operator = await startEngine(t, { phoneName: 'operator', numPhoneLinesRequested: 2, lineMode: LineMode.SwitchLine, ...withDevice });
  autoAnswer(operator);
  const a = await startEngine(t, { phoneName: 'a' });
  const b = await startEngine(t, { phoneName: 'b' });
  t.is(await a.engine.makeCall('operator', '127.0.0.1', operator.port, 0, true, 5000), T.SipSuccess);
  t.is(await b.engine.makeCall('operator', '127.0.0.1', operator.port, 0, true, 5000), T.SipSuccess);
  await operator.waitForCount(T.SipIncomingCallConnected, 2);
  // the microphone file has no echo in it: without a real echo path the canceller's first
  // seconds of adaptation would leak a little of the far ends into it (about -30 dB)
  t.is(operator.engine.enableEchoCancellation(false), T.SipSuccess);
  t.is(operator.engine.conferenceLine(0, true), T.SipSuccess);
  t.is(operator.engine.conferenceLine(1, true), T.SipSuccess);
  play(a, 0, 440, 5);
  play(b, 0, 2500, 5);
  await wait(800);
  const [ha, hb] = await Promise.all([listen(a, 0, 1500), listen(b, 0, 1500)]);
  t.true(toneLevelDb(ha, 8000, MIC_HZ) > -12 && toneLevelDb(ha, 8000, 2500) > -12, 'a hears the microphone and b');
  t.log(`a hears: 440 ${toneLevelDb(ha, 8000, 440).toFixed(1)} dB, 1000 ${toneLevelDb(ha, 8000, MIC_HZ).toFixed(1)} dB, 2500 ${toneLevelDb(ha, 8000, 2500).toFixed(1)} dB`);
  t.true(toneLevelDb(ha, 8000, 440) < -40, 'a does not hear itself');
  t.true(toneLevelDb(hb, 8000, MIC_HZ) > -12 && toneLevelDb(hb, 8000, 440) > -12, 'b hears the microphone and a');
  await wait(300);
  const spk = speakerTail(1);
  t.true(toneLevelDb(spk, RATE, 440) > -12 && toneLevelDb(spk, RATE, 2500) > -12, 'the loudspeaker plays both far lines');
});

/** Frames the device played so far, and its trouble: silence inserted, frames dropped or trimmed, capture underruns. */
function deviceFigures(e: EngineUnderTest): { played: number; trouble: number } {
  const d = e.engine.getLocalAudioStatistics().device;
  if (d === undefined) return { played: 0, trouble: 0 };
  const { playback: p, capture: c } = d;
  return { played: p.framesPlayed, trouble: p.silenceFrames + p.overflows + p.trimmed + c.underruns + c.overflows + c.trimmed };
}

/** Waits until the device has played `ms` more of audio (device time, not wall time). */
async function devicePlays(e: EngineUnderTest, ms: number): Promise<void> {
  const from = deviceFigures(e).played;
  await until(() => deviceFigures(e).played - from >= ms / 20, 30000);
}

deviceTest('local loopback and dial tone play on the loudspeaker', async (t) => {
  const e = await startEngine(t, { ...withDevice });
  t.is(e.engine.setLocalAudioLoopback(true), T.SipSuccess);
  await devicePlays(e, 300);
  const before = deviceFigures(e).trouble;
  await devicePlays(e, 500);
  // every 20 ms block of the last half second carries the microphone, except blocks explained
  // by device trouble meanwhile (an inserted silence frame or a dropped one, and the block after)
  const tail = speakerTail(0.5);
  const trouble = deviceFigures(e).trouble - before;
  const lv = toneLevelDb(tail, RATE, MIC_HZ);
  if (trouble === 0) t.true(lv > -3, `the microphone is heard on the loudspeaker (${lv.toFixed(1)} dB)`);
  else {
    const bad = blocksWithoutTone(tail, RATE, MIC_HZ, 20, -3);
    t.true(bad <= 2 * trouble, `the microphone is heard on the loudspeaker: ${bad} blocks without it, ${trouble} frames of device trouble`);
  }
  t.is(e.engine.setLocalAudioLoopback(false), T.SipSuccess);
  t.is(e.engine.enableDialTone(true), T.SipSuccess);
  await devicePlays(e, 800);
  const spk = speakerTail(0.5);
  t.true(toneLevelDb(spk, RATE, 350) > -10 && toneLevelDb(spk, RATE, 440) > -10, 'dial tone: 350 + 440 Hz');
  t.true(toneLevelDb(spk, RATE, MIC_HZ) < -30, 'loopback is off');
  t.is(e.engine.enableDialTone(false), T.SipSuccess);
});

deviceTest('ring-back plays while the far end rings, then the call replaces it', async (t) => {
  const operator = await startEngine(t, { phoneName: 'operator', ...withDevice });
  const far = await startEngine(t, { phoneName: 'far' });
  // far rings and answers after a second
  far.engine.on('SipOkToAnswerCall', (n) => setTimeout(() => far.engine.goOffHook(n.phoneLine), 1500));
  t.is(await operator.engine.makeCall('far', '127.0.0.1', far.port, 0, false, 0), T.SipSuccess);
  await operator.waitFor(T.SipStartOutgoingRing);
  await wait(700);
  const spk = speakerTail(0.5);
  t.true(toneLevelDb(spk, RATE, 440) > -10 && toneLevelDb(spk, RATE, 480) > -10, 'ring-back: 440 + 480 Hz');
  await operator.waitFor(T.SipOutgoingCallConnected);
  play(far, 0, 2500, 3);
  await wait(1000);
  const after = speakerTail(0.5);
  t.true(toneLevelDb(after, RATE, 2500) > -6, 'the far end replaces ring-back');
});

dspDeviceTest('noise discrimination settings need the device preprocessor and validate their input', async (t) => {
  const e = await startEngine(t, { ...withDevice });
  t.is(e.engine.setNoiseThreshold(-45), T.SipSuccess);
  t.is(e.engine.setSilenceDecay(300), T.SipSuccess);
  t.is(e.engine.setNoiseDiscriminationEnableState(true), T.SipSuccess);
  t.is(e.engine.setNoiseThreshold(20), T.SipBadParameter);
  t.is(e.engine.setSilenceDecay(-1), T.SipBadParameter);
  const server = await startEngine(t, {});
  t.is(server.engine.setNoiseDiscriminationEnableState(true), T.SipAudioInFailure, 'no capture device');
});

for (const mode of [LineMode.PhoneLine, LineMode.SwitchLine]) {
  deviceTest(`${mode === LineMode.PhoneLine ? 'PhoneLine' : 'SwitchLine'} mode with a local audio device: ${mode === LineMode.PhoneLine ? 'answering a second line holds the first' : 'lines stay independent'}`, async (t) => {
    const operator = await startEngine(t, { numPhoneLinesRequested: 2, phoneName: 'operator', lineMode: mode, ...withDevice });
    autoAnswer(operator);
    const callers = await startEngine(t, { numPhoneLinesRequested: 2, phoneName: 'callers' });
    t.is(await callers.engine.makeCall('operator', '127.0.0.1', operator.port, 0, true, 5000), T.SipSuccess);
    await operator.waitFor(T.SipIncomingCallConnected);
    t.is(await callers.engine.makeCall('operator', '127.0.0.1', operator.port, 1, true, 5000), T.SipSuccess);
    await operator.waitForCount(T.SipIncomingCallConnected, 2);
    if (mode === LineMode.PhoneLine) {
      await operator.waitFor(T.SipCallHoldOn, (n) => n.phoneLine === 0);
      t.is(operator.engine.getLineStatus(0).state, LineState.OnHold);
      await callers.waitFor(T.SipFarEndHoldOn, (n) => n.phoneLine === 0);
    } else {
      await wait(300);
      t.is(operator.engine.getLineStatus(0).state, LineState.InCall);
      t.is(operator.of(T.SipCallHoldOn).length, 0);
    }
    t.is(operator.engine.getLineStatus(1).state, LineState.InCall);
  });
}
