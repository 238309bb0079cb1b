/**
 * Audio helpers for call tests: feed a tone into a line's Tx IVR channel, capture a line's
 * received audio from its Rx IVR channel, and judge it by frequency.
 * @module
 */
import type { ExecutionContext } from 'ava';
import type { Readable, Writable } from 'node:stream';
import { dominantFrequency, rms, rmsDbfs, toneLevelDb } from './analysis.js';
import { TelephonyReturnValue as T, type VoipMediaEngine } from '../../index.js';
import { until } from './observe.js';

/** `seconds` of a sine at `freq` Hz as 16-bit little-endian PCM. */
export function tonePcm(freq: number, seconds: number, rate = 8000, amplitude = 8000): Buffer {
  const n = Math.round(seconds * rate);
  const pcm = new Int16Array(n);
  for (let i = 0; i < n; i++) pcm[i] = Math.round(amplitude * Math.sin((2 * Math.PI * freq * i) / rate));
  return Buffer.from(pcm.buffer);
}

/** Starts sending a tone on a line through its Tx IVR channel; returns the channel. */
export function sendTone(engine: VoipMediaEngine, line: number, freq: number, seconds = 3, rate = 8000): Writable {
  const r = engine.openTxIvrChannel(line, { sampleRate: rate });
  if (r.result !== T.SipSuccess || !r.channel) throw new Error(`openTxIvrChannel(${line}): ${T[r.result]}`);
  r.channel.write(tonePcm(freq, seconds, rate));
  return r.channel;
}

/** A running capture of a line's received audio. */
export interface Capture {
  /** The Rx channel. */
  channel: Readable;
  /** Everything received so far as samples. */
  samples(): Int16Array;
  /** Stops capturing. */
  close(): void;
}

/** Starts capturing what a line receives. */
export function capture(engine: VoipMediaEngine, line: number, rate = 8000): Capture {
  const r = engine.openRxIvrChannel(line, { sampleRate: rate });
  if (r.result !== T.SipSuccess || !r.channel) throw new Error(`openRxIvrChannel(${line}): ${T[r.result]}`);
  const chunks: Buffer[] = [];
  r.channel.on('data', (c: Buffer) => chunks.push(c));
  const channel = r.channel;
  return {
    channel,
    samples: () => {
      const all = Buffer.concat(chunks);
      return new Int16Array(all.buffer, all.byteOffset, Math.floor(all.length / 2));
    },
    close: () => {
      engine.closeRxIvrChannel(channel);
    },
  };
}

/** Dominant frequency and level of the last `seconds` of a capture. */
export function analyse(samples: Int16Array, rate = 8000, seconds = 0.5): { freq: number; levelDb: number; samples: number } {
  const n = Math.min(samples.length, Math.round(seconds * rate));
  const tail = samples.subarray(samples.length - n);
  const freq = n > 64 ? dominantFrequency(tail, rate) : 0;
  return { freq, levelDb: n > 64 ? toneLevelDb(tail, rate, freq) : -Infinity, samples: samples.length };
}

/**
 * Where sound begins in a capture: the first sample of the first `blockMs` block louder than
 * `minDbfs`, or -1. A tone sent after a capture opened reaches it after the sender's media
 * thread, the wire and the receiver's jitter buffer, a delay a loaded machine stretches in media
 * time too; a test judges the tone from here instead of guessing that delay.
 */
export function soundOnset(samples: Int16Array, rate = 8000, minDbfs = -40, blockMs = 20): number {
  const block = Math.round((rate * blockMs) / 1000);
  for (let i = 0; i + block <= samples.length; i += block) if (rmsDbfs(samples, i, i + block) > minDbfs) return i;
  return -1;
}

/**
 * Waits until `cap` holds `ms` of media from `leadMs` after its sound began ({@link soundOnset})
 * on, at most `limitMs` of wall time, and returns those samples: what a tone sent after the
 * capture opened sounds like once it is there, however long it took to arrive. With no sound
 * by then, the whole capture (`onset` -1).
 */
export async function soundAfterOnset(cap: Capture, ms: number, limitMs = 30000, leadMs = 40, rate = 8000): Promise<{ pcm: Int16Array; onset: number; captured: number }> {
  const lead = Math.round((leadMs * rate) / 1000);
  const want = Math.round((ms * rate) / 1000);
  let onset = -1;
  await until(() => {
    const s = cap.samples();
    onset = soundOnset(s, rate);
    return onset >= 0 && s.length >= onset + lead + want;
  }, limitMs);
  const all = cap.samples();
  const pcm = onset < 0 ? all : all.subarray(onset + lead, onset + lead + want);
  return { pcm, onset, captured: all.length };
}

/** Resolves after `ms`. */
export const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Reads an IVR Rx channel for `ms` milliseconds of wall time.
 *
 * @param channel - 16-bit LE mono PCM stream
 * @param ms - how long to listen
 * @returns the samples received (copied to an aligned buffer)
 */
export async function listenFor(channel: Readable, ms: number): Promise<Int16Array> {
  const chunks: Buffer[] = [];
  const onData = (b: Buffer): void => {
    chunks.push(b);
  };
  channel.on('data', onData);
  await wait(ms);
  channel.off('data', onData);
  channel.pause();
  const all = Buffer.concat(chunks);
  const pcm = new Int16Array(all.length >> 1);
  for (let i = 0; i < pcm.length; i++) pcm[i] = all.readInt16LE(i * 2);
  return pcm;
}

/**
 * Asserts that `pcm` is dominated by a tone at `freq`: the strongest FFT bin within 15 Hz, the
 * Goertzel power at `freq` within 3 dB of the total, and a level well above silence.
 *
 * @param t - the test
 * @param pcm - samples at 8 kHz
 * @param freq - expected frequency in Hz
 * @param what - label for messages
 */
export function assertTone(t: ExecutionContext, pcm: Int16Array, freq: number, what: string): void {
  const dominant = dominantFrequency(pcm, 8000);
  const level = toneLevelDb(pcm, 8000, freq);
  const r = rms(pcm);
  t.log(`${what}: ${pcm.length} samples, dominant ${dominant.toFixed(1)} Hz, ${freq} Hz at ${level.toFixed(2)} dB of total, rms ${r.toFixed(0)}`);
  t.true(pcm.length >= 4000, `${what}: too little audio (${pcm.length} samples)`);
  t.true(Math.abs(dominant - freq) < 15, `${what}: dominant ${dominant.toFixed(1)} Hz, expected ${freq}`);
  t.true(level > -3, `${what}: ${freq} Hz only ${level.toFixed(2)} dB of the total`);
  t.true(r > 1000, `${what}: rms ${r.toFixed(0)} is near silence`);
}

/** What {@link exchangeTones} measured: each side's tone as heard, and the payload sizes each received. */
export interface ToneExchange {
  heardAtA: ReturnType<typeof analyse>;
  heardAtB: ReturnType<typeof analyse>;
  /** Payload lengths of the RTP packets of `payloadType` each side received. */
  received: { a: number[]; b: number[] };
  /** What enableRawRtpPacketAccess returned on A and on B. */
  rawAccess: [T, T];
  /** Both sides captured 1.5 s within 30 s. */
  captured: boolean;
}

/**
 * On line 0 of two connected engines, A sends tone `fromA` and B tone `fromB` for 3 s; returns what each heard (past the first half second) and the sizes of the payloads of
 * type `payloadType` each received (raw RTP access), so a test judges frequency, level and the
 * packet time both ways.
 */
export async function exchangeTones(a: VoipMediaEngine, b: VoipMediaEngine, payloadType: number, fromA: number, fromB: number): Promise<ToneExchange> {
  const received = { a: [] as number[], b: [] as number[] };
  const rawAccess: [T, T] = [
    a.enableRawRtpPacketAccess(0, true, (d) => void (!d.transmittingPacket && d.payloadType === payloadType && received.a.push(d.payload.length))),
    b.enableRawRtpPacketAccess(0, true, (d) => void (!d.transmittingPacket && d.payloadType === payloadType && received.b.push(d.payload.length))),
  ];
  const atA = capture(a, 0);
  const atB = capture(b, 0);
  sendTone(a, 0, fromA, 3);
  sendTone(b, 0, fromB, 3);
  const deadline = Date.now() + 30_000;
  const enough = (): boolean => atA.samples().length >= 12000 && atB.samples().length >= 12000;
  while (!enough() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const captured = enough();
  const heardAtB = analyse(atB.samples().subarray(4000));
  const heardAtA = analyse(atA.samples().subarray(4000));
  atA.close();
  atB.close();
  return { heardAtA, heardAtB, received, rawAccess, captured };
}
