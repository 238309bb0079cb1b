/**
 * Call recording and VU meters during real engine-to-engine calls: the WAV holds both
 * directions (each side plays its own tone), Opus calls record at 48 kHz, raw files are
 * headerless, the real-time callback sees every frame, and bad input gets its code.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import wavefilePkg from 'wavefile';
import { TelephonyReturnValue as T, MediaFormatAudio as F } from '../index.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { tonePcm, wait } from './helpers/audio.js';
import { blocksWithoutTone, mediaWait, receiveTrouble, sentPackets, sentPacketsNow } from './helpers/mediaTime.js';
import { toneLevelDb } from './helpers/analysis.js';

const { WaveFile } = wavefilePkg;

async function call(t: ExecutionContext, format: F, params = {}): Promise<[EngineUnderTest, EngineUnderTest]> {
  const a = await startEngine(t, { phoneName: 'alice', ...params });
  const b = await startEngine(t, { phoneName: 'bob' });
  b.engine.on('SipOkToAnswerCall', (n) => b.engine.goOffHook(n.phoneLine));
  t.is(a.engine.setAudioMediaFormats(0, [format]), T.SipSuccess);
  t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, 0, true, 5000), T.SipSuccess);
  await b.waitFor(T.SipIncomingCallConnected);
  return [a, b];
}

function play(e: EngineUnderTest, freq: number, seconds: number): void {
  const r = e.engine.openTxIvrChannel(0, { sampleRate: 8000 });
  if (r.result !== T.SipSuccess || !r.channel) throw new Error(T[r.result]);
  r.channel.write(tonePcm(freq, seconds, 8000, 6000));
}

function tmpDir(t: ExecutionContext): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'linescape-rec-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

for (const [format, rate] of [
  [F.ULaw8k, 8000],
  [F.Opus48k, 48000],
] as const) {
  test(`recording a ${F[format]} call: a valid ${rate} Hz WAV with both directions`, async (t) => {
    const [a, b] = await call(t, format);
    const dir = tmpDir(t);
    // long enough for a recording made again (below)
    play(a, 1000, 30);
    play(b, 440, 30);
    await wait(300);
    // With media workers a statistics read can miss its 250 ms on a starved worker; its tick count
    // is then not that of the recording's start or stop, so that recording is made again (at
    // most three times): the count it is judged by is exact.
    let ticks: number | undefined;
    let troubleAtStart = 0;
    let file = '';
    for (let attempt = 1; ticks === undefined; attempt++) {
      t.is(a.engine.startPhoneLineRecording(0, true, false, dir), T.SipSuccess);
      const sentAtStart = sentPacketsNow(a.engine, 0);
      troubleAtStart = receiveTrouble(a.engine, 0);
      t.true(a.engine.getLineStatus(0).callRecordingActive);
      const active = (await a.waitForCount(T.SipCallRecordActive, attempt))[attempt - 1]!;
      t.is(a.engine.startPhoneLineRecording(0, true, false, dir), T.SipCallRecordAlreadyStarted);
      // two seconds of media time: on a loaded machine the clock skips ticks, so wall time is no measure
      await mediaWait(a.engine, 0, 2000);
      t.is(a.engine.stopPhoneLineRecording(0), T.SipSuccess);
      const sentAtStop = sentPacketsNow(a.engine, 0);
      const done = (await a.waitForCount(T.SipCallRecordComplete, attempt))[attempt - 1]!;
      file = done.data.path!; // recorded to a file, so a path
      t.is(file, active.data.path!);
      t.false(a.engine.getLineStatus(0).callRecordingActive);
      t.is(a.engine.stopPhoneLineRecording(0), T.SipCallRecordAlreadyStopped);
      if (sentAtStart !== undefined && sentAtStop !== undefined) ticks = sentAtStop - sentAtStart;
      else if (attempt === 3) return void t.fail('three recordings in a row, each with a statistics read the media worker did not answer in time');
      else t.log(`recording ${attempt}: a statistics read went unanswered; recording again`);
    }
    const wav = new WaveFile(fs.readFileSync(file));
    const fmt = wav.fmt as { sampleRate: number; numChannels: number; bitsPerSample: number };
    t.deepEqual([fmt.sampleRate, fmt.numChannels, fmt.bitsPerSample], [rate, 1, 16]);
    const samples = wav.getSamples(false, Int16Array) as unknown as Int16Array;
    const seconds = samples.length / rate;
    // one 20 ms frame per tick the line ran while recording, no more and no fewer
    t.true(ticks >= 100 && Math.abs(seconds / 0.02 - ticks) <= 1, `${seconds.toFixed(2)} s recorded over ${ticks} ticks`);
    const mid = samples.subarray(Math.round(0.5 * rate), Math.round(1.5 * rate));
    const sent = toneLevelDb(mid, rate, 1000);
    const received = toneLevelDb(mid, rate, 440);
    // each 20 ms block holds both tones (each about -3 dB of the pair); the received one may be
    // missing only where the line measured receive trouble (a concealed or dropped frame spoils
    // its block and, through the decoder overlap, the next one)
    const trouble = receiveTrouble(a.engine, 0) - troubleAtStart;
    const noSent = blocksWithoutTone(mid, rate, 1000, 20, -9);
    const noReceived = blocksWithoutTone(mid, rate, 440, 20, -9);
    t.log(`sent 1000 Hz ${sent.toFixed(1)} dB, received 440 Hz ${received.toFixed(1)} dB; blocks without them ${noSent} / ${noReceived} of 50, receive trouble ${trouble} frames`);
    t.is(noSent, 0, 'what the line sent is in every block');
    t.true(noReceived <= 2 * trouble, 'what the line received is in every block not explained by trouble');
    if (trouble === 0) t.true(sent > -6 && received > -6, 'both directions are in the file');
  });
}

test('raw recording, the real-time callback, and recording ends with the call', async (t) => {
  const [a, b] = await call(t, F.ALaw8k);
  const dir = tmpDir(t);
  play(b, 440, 3);
  let frames = 0;
  let rxPeak = 0;
  t.is(
    a.engine.startPhoneLineRecording(0, true, true, dir, (f) => {
      frames++;
      for (let i = 0; i < f.samples; i++) rxPeak = Math.max(rxPeak, Math.abs(f.rx[i]!));
    }),
    T.SipSuccess,
  );
  await mediaWait(a.engine, 0, 1000); // a second of media time, however long the machine takes
  t.is(await b.engine.terminateCall(0, true, 3000), T.SipSuccess);
  const done = await a.waitFor(T.SipCallRecordComplete);
  const file = done.data.path!; // recorded to a file, so a path
  t.true(file.endsWith('.raw'));
  const bytes = fs.readFileSync(file);
  t.is(bytes.subarray(0, 4).toString('latin1') === 'RIFF', false, 'no header');
  t.true(bytes.length > 8000 && bytes.length % 2 === 0, `${bytes.length} bytes`);
  t.true(frames >= 40, `${frames} callback frames`);
  t.true(rxPeak > 3000, `callback saw the far end (peak ${rxPeak})`);
});

test('VU meter callback reports both directions', async (t) => {
  const [a, b] = await call(t, F.ULaw8k);
  const seen: { rxPeak: number; txPeak: number; rxRms: number }[] = [];
  play(b, 440, 2);
  play(a, 1000, 2);
  t.is(a.engine.setPhoneLineVuMeterCallback(0, (d) => seen.push({ ...d }), 100), T.SipSuccess);
  const sentAtSet = sentPackets(a.engine, 0);
  await mediaWait(a.engine, 0, 1200);
  t.is(a.engine.setPhoneLineVuMeterCallback(0, null), T.SipSuccess);
  const ticks = sentPackets(a.engine, 0) - sentAtSet;
  const n = seen.length;
  await mediaWait(a.engine, 0, 300);
  t.is(seen.length, n, 'removed');
  // 100 ms is five 20 ms ticks: one callback per five ticks the line actually ran
  t.true(ticks >= 60 && Math.abs(n - ticks / 5) <= 1, `${n} callbacks over ${ticks} ticks at 100 ms`);
  const last = seen[n - 1]!;
  t.true(last.rxPeak > 3000 && last.txPeak > 3000 && last.rxRms > 1000, JSON.stringify(last));
  t.is(a.engine.setPhoneLineVuMeterCallback(0, () => undefined, 5), T.SipBadParameter);
});

test('recording procedures answer bad input with codes', async (t) => {
  const [a] = await call(t, F.ULaw8k);
  const dir = tmpDir(t);
  t.is(a.engine.startPhoneLineRecording(0, true, false, path.join(dir, 'missing')), T.SipCallRecordFilenameNotCreated);
  t.is(a.engine.startPhoneLineRecording(0, true, false, ''), T.SipBadParameter);
  t.is(a.engine.startPhoneLineRecording(0, false, false, dir), T.SipBadParameter, 'neither a file nor a callback');
  t.is(a.engine.startPhoneLineRecording(0, 'yes' as unknown as boolean, false, dir), T.SipBadParameter);
  t.is(a.engine.startPhoneLineRecording(9, true, false, dir), T.SipBadPhoneLine);
  t.is(a.engine.stopPhoneLineRecording(0), T.SipCallRecordAlreadyStopped);
  const idle = await startEngine(t, {});
  t.is(idle.engine.startPhoneLineRecording(0, true, false, dir), T.SipNoCallActive);
  const off = await startEngine(t, { enablePhoneLineRecording: false });
  t.is(off.engine.startPhoneLineRecording(0, true, false, dir), T.SipCallRecordNotEnabled);
  // a throwing callback does not stop the call or the recording
  t.is(a.engine.startPhoneLineRecording(0, true, false, dir, () => { throw new Error('app bug'); }), T.SipSuccess);
  await wait(300);
  t.is(a.engine.stopPhoneLineRecording(0), T.SipSuccess);
  await a.waitFor(T.SipCallRecordComplete);
  t.is(a.of(T.SipCallComplete).length, 0);
});

for (const [format, rate] of [
  [F.ULaw8k, 8000],
  [F.Opus48k, 48000],
] as const) {
  test(`recordingChannels 'stereo' (${F[format]}): left what the far end said, right what the line sent`, async (t) => {
    const [a, b] = await call(t, format, { recordingChannels: 'stereo' });
    const dir = tmpDir(t);
    play(a, 1000, 3);
    play(b, 440, 3);
    await wait(300);
    t.is(a.engine.startPhoneLineRecording(0, true, false, dir), T.SipSuccess);
    const troubleAtStart = receiveTrouble(a.engine, 0);
    await mediaWait(a.engine, 0, 2000);
    t.is(a.engine.stopPhoneLineRecording(0), T.SipSuccess);
    const trouble = receiveTrouble(a.engine, 0) - troubleAtStart;
    const done = await a.waitFor(T.SipCallRecordComplete);
    const wav = new WaveFile(fs.readFileSync(done.data.path!));
    const fmt = wav.fmt as { sampleRate: number; numChannels: number; bitsPerSample: number };
    t.deepEqual([fmt.sampleRate, fmt.numChannels, fmt.bitsPerSample], [rate, 2, 16]);
    const [left, right] = wav.getSamples(false, Int16Array) as unknown as [Int16Array, Int16Array];
    t.is(left.length, right.length);
    t.is(done.data.samples, left.length, 'samples counts per channel');
    const mid = (s: Int16Array): Int16Array => s.subarray(Math.round(0.5 * rate), Math.round(1.5 * rate));
    const levels = { leftFar: toneLevelDb(mid(left), rate, 440), leftOwn: toneLevelDb(mid(left), rate, 1000), rightOwn: toneLevelDb(mid(right), rate, 1000), rightFar: toneLevelDb(mid(right), rate, 440) };
    // as in the mixed test: the received tone may be missing only where the line measured receive trouble
    const noReceived = blocksWithoutTone(mid(left), rate, 440, 20, -9);
    t.log(`${Object.entries(levels).map(([k, v]) => `${k} ${v.toFixed(1)} dB`).join(', ')}; left blocks without the far end ${noReceived} of 50, receive trouble ${trouble} frames`);
    t.true(noReceived <= 2 * trouble, 'left: the far end in every block not explained by trouble');
    if (trouble === 0) t.true(levels.leftFar > -6, 'left: the far end');
    t.true(levels.leftOwn < -25, 'left: not what the line sent');
    t.true(levels.rightOwn > -6, 'right: what the line sent');
    t.true(levels.rightFar < -25, 'right: not the far end');
  });
}

test('recordingChannels: anything but mixed or stereo is refused at start', async (t) => {
  const { VoipMediaEngine } = await import('../index.js');
  const e = new VoipMediaEngine();
  t.is(await e.startSipTelephony({ ipAddressOfThisHost: '127.0.0.1', sipPort: 0, recordingChannels: 'quad' as unknown as 'mixed' }), T.SipBadParameter);
});
