/**
 * Calls with real audio between the engine and baresip 1.0 (a headless softphone), for PCMU,
 * PCMA, G.722, GSM, Opus and G.726-32, in both directions:
 * - baresip calls an engine line, the engine answers with goOffHook;
 * - the engine calls baresip (auto-answer) with makeCall and hangs up with terminateCall.
 * baresip's microphone plays a 440 Hz tone, which must show up in the engine's Rx IVR channel;
 * the engine plays a 1 kHz WAV, which must show up in baresip's recording of the call. Audio is
 * judged by frequency, never by packet counts.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { ExecutionContext } from 'ava';
import { TelephonyReturnValue as T, MediaFormatAudio, CallDirection, type Notification } from '../index.js';
import { dominantFrequency, findGaps, rmsDbfs, toneLevelDb } from './helpers/analysis.js';
import { startBaresip, readWav, type BaresipHandle } from './helpers/baresip.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { native, peerTest, peersDir, type Requirement } from './helpers/env.js';

/** baresip's microphone: 440 Hz (engine must receive it). */
const TONE_440 = path.join(peersDir, 'audio', 'tone440.wav');
/** What the engine plays: 1 kHz (baresip must receive it). */
const TONE_1K = path.join(peersDir, 'audio', 'tone1k.wav');

/** The engine's phoneName: the user baresip dials. */
const ENGINE_USER = 'linescape';
/** Rate of the engine's Rx IVR channel. */
const IVR_RATE = 8000;
/** Received audio skipped at the start (jitter buffer fill, codec warm-up). */
const SKIP_S = 0.5;
/** Audio analysed after the skipped part, in s. */
const ANALYSE_S = 2;
/** Largest accepted distance from the expected frequency, in Hz. */
const FREQ_TOLERANCE_HZ = 10;
/** Length of the blocks the tone's share of the power is measured in, in s. */
const BLOCK_S = 0.1;
/** In the median block the expected tone must carry at least this share of the power (dB relative to total). */
const MIN_TONE_LEVEL_DB = -3;
/** And the signal must be at least this loud (dBFS); the test tones are about -9 dBFS. */
const MIN_RMS_DBFS = -30;

/** A codec under test: how baresip names it, the engine format, the codec name the engine reports. */
interface CodecCase {
  /** Title. */
  readonly title: string;
  /** baresip `CODECS` value. */
  readonly baresip: string;
  /** Engine audio format. */
  readonly format: MediaFormatAudio;
  /** Expected `getActiveCallInfo().codec`, lower case. */
  readonly codec: string;
  /** Rate of baresip's recording: the codec's audio rate (G.722 is 16 kHz on an 8 kHz RTP clock). */
  readonly recordRate: number;
  /** Native libraries the engine needs for it, beyond the peers. */
  readonly needs?: readonly Requirement[];
}

const CASES: readonly CodecCase[] = [
  { title: 'PCMU', baresip: 'PCMU', format: MediaFormatAudio.ULaw8k, codec: 'pcmu', recordRate: 8000 },
  { title: 'PCMA', baresip: 'PCMA', format: MediaFormatAudio.ALaw8k, codec: 'pcma', recordRate: 8000 },
  { title: 'G.722', baresip: 'G722', format: MediaFormatAudio.G722, codec: 'g722', recordRate: 16000 },
  { title: 'GSM', baresip: 'GSM', format: MediaFormatAudio.Gsm, codec: 'gsm', recordRate: 8000, needs: [native('gsm')] },
  { title: 'Opus', baresip: 'opus/48000/2', format: MediaFormatAudio.Opus48k, codec: 'opus', recordRate: 48000 },
  // baresip 1.0's g726 module packs AAL2 style (libspandsp's G726_PACKING_LEFT) under the name
  // G726-32, where we pack as RFC 3551 says: each side decodes the other's code words in swapped
  // pairs. A tone survives that at its frequency (-0.4 / -1.1 dB tone share, about 1.5 dB quieter,
  // where an AAL2-packing engine measured -0.0 dB), so this case proves the call and the SDP, not
  // the packing: test/g726.test.ts checks that against libspandsp.
  { title: 'G.726-32', baresip: 'G726-32/8000', format: MediaFormatAudio.G726_32, codec: 'g726-32', recordRate: 8000, needs: [native('spandsp')] },
];

/** Audio received on an engine line, collected from its Rx IVR channel. */
interface RxCapture {
  /** Resolves with everything received once at least `n` samples have arrived. */
  waitSamples(n: number, timeoutMs?: number): Promise<Int16Array>;
  /** Closes the channel. */
  close(): void;
}

/**
 * Opens the Rx IVR channel of a line and collects what it delivers.
 *
 * @param t - the test (the channel is closed in teardown too)
 * @param eut - the engine
 * @param line - the connected line
 * @returns the capture
 */
function captureRx(t: ExecutionContext, eut: EngineUnderTest, line: number): RxCapture {
  const r = eut.engine.openRxIvrChannel(line, { sampleRate: IVR_RATE });
  if (r.result !== T.SipSuccess || r.channel === undefined) throw new Error(`openRxIvrChannel(${line}): ${T[r.result]}`);
  const channel: Readable = r.channel;
  const chunks: Buffer[] = [];
  let bytes = 0;
  const waiters = new Set<() => void>();
  channel.on('data', (c: Buffer) => {
    chunks.push(c);
    bytes += c.length;
    for (const w of [...waiters]) w();
  });
  channel.on('error', () => undefined);
  const close = (): void => {
    eut.engine.closeRxIvrChannel(channel);
  };
  t.teardown(close);
  const all = (): Int16Array => {
    const b = Buffer.concat(chunks);
    const copy = new Int16Array(Math.floor(b.length / 2));
    for (let i = 0; i < copy.length; i++) copy[i] = b.readInt16LE(2 * i);
    return copy;
  };
  return {
    close,
    waitSamples: (n, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (bytes < 2 * n) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(all());
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`Rx IVR channel of line ${line}: ${bytes / 2} of ${n} samples after ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
  };
}

/**
 * Share of the power at `hz` in each {@link BLOCK_S} block of `pcm`, in dB (see toneLevelDb).
 * Measured per block, not over the whole stretch: one 20 ms frame that a jitter buffer inserts
 * or drops shifts the phase of everything after it, which a single long Goertzel sum would
 * count as lost power although the tone is clean.
 *
 * @param pcm - samples
 * @param rate - their rate
 * @param hz - the frequency
 * @returns one value per whole block
 */
function blockToneLevels(pcm: Int16Array, rate: number, hz: number): number[] {
  const step = Math.round(BLOCK_S * rate);
  const out: number[] = [];
  for (let i = 0; i + step <= pcm.length; i += step) out.push(toneLevelDb(pcm, rate, hz, i, i + step));
  return out;
}

/**
 * Median of a non-empty list.
 *
 * @param values - the values
 * @returns the median (-Infinity for an empty list)
 */
function median(values: readonly number[]): number {
  if (values.length === 0) return -Infinity;
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/**
 * Asserts that a stretch of audio is a clear tone at `hz`: dominant frequency within
 * {@link FREQ_TOLERANCE_HZ}, the tone carrying most of the power in the median
 * {@link BLOCK_S} block, and loud enough. On failure it logs where the audio went wrong.
 * With `LINESCAPE_BARESIP_DUMP=<dir>` the samples are also written there as raw s16le.
 *
 * @param t - the test
 * @param pcm - samples
 * @param rate - their rate
 * @param hz - expected frequency
 * @param what - label for messages
 */
function assertTone(t: ExecutionContext, pcm: Int16Array, rate: number, hz: number, what: string): void {
  const f = dominantFrequency(pcm, rate);
  const levels = blockToneLevels(pcm, rate, hz);
  const level = median(levels);
  const loud = rmsDbfs(pcm);
  t.log(`${what}: ${pcm.length} samples @ ${rate} Hz, dominant ${f.toFixed(1)} Hz, tone ${level.toFixed(1)} dB (median of ${levels.length} blocks), rms ${loud.toFixed(1)} dBFS`);
  const dumpDir = process.env.LINESCAPE_BARESIP_DUMP;
  if (dumpDir) {
    const file = path.join(dumpDir, `${`${t.title}-${what}`.replace(/\W+/g, '-')}-${rate}-${process.pid}-${Date.now()}.raw`);
    fs.writeFileSync(file, Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
    t.log(`${what}: raw s16le written to ${file}`);
  }
  const ok = Math.abs(f - hz) <= FREQ_TOLERANCE_HZ && level >= MIN_TONE_LEVEL_DB && loud >= MIN_RMS_DBFS;
  if (!ok) {
    const gaps = findGaps(pcm, rate, 10, -40);
    t.log(`${what}: silent runs (length@start ms): ${gaps.gaps.map((g) => `${g.lengthMs}@${g.startMs}`).join(' ') || 'none'}`);
    t.log(`${what}: ${hz} Hz share per ${BLOCK_S * 1000} ms block (dB): ${levels.map((l) => l.toFixed(0)).join(' ')}`);
  }
  t.true(Math.abs(f - hz) <= FREQ_TOLERANCE_HZ, `${what}: dominant ${f.toFixed(1)} Hz, expected ${hz} Hz`);
  t.true(level >= MIN_TONE_LEVEL_DB, `${what}: ${hz} Hz carries only ${level.toFixed(1)} dB of the power (median block)`);
  t.true(loud >= MIN_RMS_DBFS, `${what}: too quiet (${loud.toFixed(1)} dBFS)`);
}

/**
 * Checks what the engine received: after skipping the start, {@link ANALYSE_S} s of 440 Hz.
 *
 * @param t - the test
 * @param rx - the capture
 */
async function assertEngineHears440(t: ExecutionContext, rx: RxCapture): Promise<void> {
  const skip = Math.round(SKIP_S * IVR_RATE);
  const pcm = await rx.waitSamples(skip + Math.round(ANALYSE_S * IVR_RATE));
  assertTone(t, pcm.subarray(skip), IVR_RATE, 440, 'engine Rx');
}

/**
 * Checks baresip's recording of the call (channel 0): after skipping the start, 1 kHz.
 *
 * @param t - the test
 * @param peer - baresip, whose call has ended
 * @param codec - the codec under test (the recording's rate depends on it)
 */
async function assertBaresipHeard1k(t: ExecutionContext, peer: BaresipHandle, codec: CodecCase): Promise<void> {
  const files = await peer.recordings(10_000);
  t.is(files.length, 1, `baresip recordings: ${files.join(', ') || '(none)'}`);
  const wav = readWav(files[0]!);
  t.is(wav.sampleRate, codec.recordRate, 'baresip recording rate');
  const ch0 = wav.samples[0]!;
  const skip = Math.round(SKIP_S * wav.sampleRate);
  // the engine's tone started a little after the call connected; drop the last 100 ms (hangup)
  const end = ch0.length - Math.round(0.1 * wav.sampleRate);
  t.true(end - skip >= wav.sampleRate, `baresip recording too short: ${ch0.length} samples`);
  assertTone(t, ch0.subarray(skip, end), wav.sampleRate, 1000, 'baresip recording');
}

/**
 * Logs the line's jitter buffer counters (frames concealed, held, dropped), which explain small
 * phase slips in the received tone.
 *
 * @param t - the test
 * @param eut - the engine
 * @param line - the connected line
 */
function logMediaStats(t: ExecutionContext, eut: EngineUnderTest, line: number): void {
  const stats = eut.engine.getActiveCallInfo(line).statistics as { jitter?: Record<string, unknown> } | undefined;
  const j = stats?.jitter;
  if (j === undefined) return;
  const keys = ['pushed', 'played', 'lost', 'holds', 'late', 'dropped', 'underruns', 'targetDelayMs'];
  t.log(`engine jitter buffer: ${keys.map((k) => `${k}=${String(j[k])}`).join(' ')}`);
}

/**
 * Index of the first notification of `event` on `line` at or after `from`, or -1.
 *
 * @param seen - notifications in order
 * @param event - the event
 * @param line - the phone line
 * @param from - first index to look at
 * @returns the index
 */
function indexOf(seen: readonly Notification[], event: T, line: number, from = 0): number {
  for (let i = from; i < seen.length; i++) {
    if (seen[i]!.event === event && seen[i]!.phoneLine === line) return i;
  }
  return -1;
}

/**
 * Asserts that `events` were raised on `line` in this order (other events may come between).
 *
 * @param t - the test
 * @param seen - the engine's notifications
 * @param line - the phone line
 * @param events - expected order
 */
function assertSequence(t: ExecutionContext, seen: readonly Notification[], line: number, events: readonly T[]): void {
  let from = 0;
  for (const e of events) {
    const i = indexOf(seen, e, line, from);
    if (i < 0) {
      const got = seen.filter((n) => n.phoneLine === line).map((n) => T[n.event]);
      t.fail(`line ${line}: no ${T[e]} after ${events.slice(0, events.indexOf(e)).map((x) => T[x]).join(' → ') || 'the start'}; saw: ${got.join(', ')}`);
      return;
    }
    from = i + 1;
  }
  t.pass();
}

/**
 * Starts an engine with one line restricted to the codec under test.
 *
 * @param t - the test
 * @param codec - the codec under test
 * @param phoneName - the engine's user name
 * @returns the engine
 */
async function engineFor(t: ExecutionContext, codec: CodecCase, phoneName: string): Promise<EngineUnderTest> {
  const eut = await startEngine(t, { numPhoneLinesRequested: 1, phoneName });
  t.is(eut.engine.setAudioMediaFormats(0, [codec.format]), T.SipSuccess);
  return eut;
}

for (const codec of CASES) {
  peerTest(`baresip calls the engine (${codec.title}): engine answers, 440 Hz in, 1 kHz out`, ['baresip', 'sox', ...(codec.needs ?? [])], async (t) => {
    const eut = await engineFor(t, codec, ENGINE_USER);
    const peer = await startBaresip({ user: 'bob', codecs: codec.baresip, micWav: TONE_440 });
    t.teardown(() => peer.stop());

    const answers: T[] = [];
    eut.engine.on('notification', (n: Notification) => {
      if (n.event === T.SipOkToAnswerCall) answers.push(eut.engine.goOffHook(n.phoneLine));
    });

    const established = await peer.dial(`sip:${ENGINE_USER}@127.0.0.1:${eut.port}`, 15);
    t.is(established.direction, 'outgoing');
    const connected = await eut.waitFor(T.SipIncomingCallConnected);
    const line = connected.phoneLine;
    t.deepEqual(answers, [T.SipSuccess], 'goOffHook on SipOkToAnswerCall');

    const info = eut.engine.getActiveCallInfo(line);
    t.is(info.result, T.SipSuccess);
    t.is(info.codec?.toLowerCase(), codec.codec, 'negotiated codec');
    t.is(info.callDirection, CallDirection.Incoming);
    t.true(info.connected);

    const rx = captureRx(t, eut, line);
    t.is(eut.engine.playWaveFile(line, TONE_1K, true), T.SipSuccess);
    await assertEngineHears440(t, rx);
    logMediaStats(t, eut, line);

    const closed = await peer.hangup(15);
    t.is(closed.type, 'CALL_CLOSED');
    await eut.waitFor(T.SipCallComplete, (n) => n.phoneLine === line);
    rx.close();
    assertSequence(t, eut.seen, line, [
      T.SipOkToAnswerCall,
      T.SipIncomingCallConnected,
      T.SipByeReceived,
      T.SipCallComplete,
      T.SipOnHook,
    ]);

    await assertBaresipHeard1k(t, peer, codec);
  });

  peerTest(`the engine calls baresip (${codec.title}): makeCall, 440 Hz in, 1 kHz out, terminateCall`, ['baresip', 'sox', ...(codec.needs ?? [])], async (t) => {
    const eut = await engineFor(t, codec, ENGINE_USER);
    const peer = await startBaresip({ user: 'alice', codecs: codec.baresip, micWav: TONE_440, answerMode: 'auto' });
    t.teardown(() => peer.stop());

    const rc = await eut.engine.makeCall(peer.user, '127.0.0.1', peer.port, -1, true, 15_000);
    t.is(rc, T.SipSuccess, `makeCall: ${T[rc]}`);
    const connected = await eut.waitFor(T.SipOutgoingCallConnected);
    const line = connected.phoneLine;
    const established = await peer.waitEvent('CALL_ESTABLISHED', 15);
    t.is(established.direction, 'incoming');

    const info = eut.engine.getActiveCallInfo(line);
    t.is(info.result, T.SipSuccess);
    t.is(info.codec?.toLowerCase(), codec.codec, 'negotiated codec');
    t.is(info.callDirection, CallDirection.Outgoing);
    t.true(info.connected);

    const rx = captureRx(t, eut, line);
    t.is(eut.engine.playWaveFile(line, TONE_1K, true), T.SipSuccess);
    await assertEngineHears440(t, rx);
    logMediaStats(t, eut, line);

    const term = await eut.engine.terminateCall(line, true, 5000);
    t.is(term, T.SipSuccess, `terminateCall: ${T[term]}`);
    const closed = await peer.waitEvent('CALL_CLOSED', 15);
    t.is(closed.direction, 'incoming');
    t.regex(closed.param ?? '', /peer/i, 'baresip saw the BYE');
    await eut.waitFor(T.SipCallComplete, (n) => n.phoneLine === line);
    rx.close();
    assertSequence(t, eut.seen, line, [
      T.SipOffHook,
      T.SipOutgoingCallConnected,
      T.SipSendBye,
      T.SipCallComplete,
      T.SipOnHook,
    ]);

    await assertBaresipHeard1k(t, peer, codec);
  });
}
