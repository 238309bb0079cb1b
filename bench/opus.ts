/**
 * Opus micro-benchmark: the engine's `OpusCodec` beside the raw `@discordjs/opus` binding at the
 * SAME encoder settings, in the same run, so the ratio shows what our wrapper costs and not what
 * a different bitrate or mode costs. Rows: encode + decode of one 20 ms mono 48 kHz frame (one
 * call's codec work per 20 ms), encode only, decode only; each at the engine's default settings
 * and at the binding's own defaults (application audio, auto bitrate, complexity 10).
 *
 * `node dist/bench/opus.js` (`OPUS_BENCH_MS`, default 1500 per row). Stays out of the test suite.
 * @module
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { createOpusCodec, type NativeOpus, type NativeOpusCtor, type OpusBandwidth, type OpusCodecOptions } from '../media/opus.js';
import { fillSine } from '../media/tones.js';
import { pairedFramesPerCpuSecond as pair } from './measure.js';

const ms = Number(process.env.OPUS_BENCH_MS ?? 1500);
const FRAME = 960;

// CTL numbers (opus_defines.h), for configuring the raw binding exactly as OpusCodec does
const SET_APPLICATION = 4000;
const SET_MAX_BANDWIDTH = 4004;
const SET_COMPLEXITY = 4010;
const SET_INBAND_FEC = 4012;
const SET_PACKET_LOSS_PERC = 4014;
const SET_DTX = 4016;
const SET_SIGNAL = 4024;

/** Settings of one row pair; `undefined` fields are left at the binding's defaults. */
export interface Settings {
  /** Row label. */
  label: string;
  /** OPUS_APPLICATION_VOIP + OPUS_SIGNAL_VOICE (the engine's), else the binding's audio. */
  voip: boolean;
  /** Bit/s. */
  bitrate?: number;
  /** 0..10. */
  complexity?: number;
  /** In-band FEC. */
  fec?: boolean;
  /** Expected loss %. */
  loss?: number;
  /** Widest band. */
  band?: OpusBandwidth;
}

/** Voice-like input: two tones, changing frame to frame so the encoder cannot coast. */
function input(frames: number): Int16Array[] {
  const out: Int16Array[] = [];
  for (let f = 0; f < frames; f++) {
    const pcm = new Int16Array(FRAME);
    fillSine(pcm, 48000, 220 + f * 7, 6000, f);
    fillSine(pcm, 48000, 1300 + f * 11, 2500, 2 * f, FRAME, true);
    out.push(pcm);
  }
  return out;
}

/** A raw binding object configured through its CTLs exactly as `OpusCodec` configures its own. */
export function rawEncoder(ctor: NativeOpusCtor, s: Settings): NativeOpus {
  const n = new ctor(48000, 1);
  if (s.voip) {
    n.applyEncoderCTL(SET_APPLICATION, 2048);
    n.applyEncoderCTL(SET_SIGNAL, 3001);
  }
  if (s.loss !== undefined) n.applyEncoderCTL(SET_PACKET_LOSS_PERC, s.loss);
  if (s.bitrate !== undefined) n.setBitrate(s.bitrate);
  if (s.complexity !== undefined) n.applyEncoderCTL(SET_COMPLEXITY, s.complexity);
  if (s.fec !== undefined) n.applyEncoderCTL(SET_INBAND_FEC, s.fec ? 1 : 0);
  n.applyEncoderCTL(SET_DTX, 0);
  n.applyEncoderCTL(SET_MAX_BANDWIDTH, s.band === 'wideband' ? 1103 : s.band === 'narrowband' ? 1101 : 1105);
  return n;
}

/** The engine's default encoder settings (media/opus.ts), for the raw binding beside it. */
export const ENGINE_OPUS: Settings = { label: 'engine defaults (voip, 32 kbit/s, cx 5, FEC, 10 % loss)', voip: true, bitrate: 32000, complexity: 5, fec: true, loss: 10 };

function main(): void {
  const req = createRequire(import.meta.url);
  const ctor = (req('@discordjs/opus') as { OpusEncoder: NativeOpusCtor }).OpusEncoder;
  const frames = input(50);
  const bufs = frames.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength));
  const rows: [string, number, number][] = [];
  let sink = 0;
  const settings: Settings[] = [
    ENGINE_OPUS,
  ];
  for (const s of settings) {
    const opts: OpusCodecOptions = { bitrate: s.bitrate, complexity: s.complexity, fec: s.fec, packetLossPercent: s.loss };
    // packets of the raw encoder at these settings, for the decode-only rows (both decode the same)
    const enc = rawEncoder(ctor, s);
    const packets = bufs.map((b) => enc.encode(b));
    let i = 0;
    let j = 0;
    const raw = rawEncoder(ctor, s);
    const codec = createOpusCodec(111, opts);
    if (codec === undefined) throw new Error('OpusCodec unavailable');
    const pkt = Buffer.alloc(1500);
    const out = new Int16Array(5760);
    const tx = new Int16Array(FRAME);
    const [rawBoth, oursBoth] = pair(
      () => {
        sink += raw.decode(raw.encode(bufs[i++ % 50]!)).length;
      },
      () => {
        tx.set(frames[j++ % 50]!); // as a session does: one send array, new audio each tick
        const n = codec.encode(tx, pkt, 12);
        sink += codec.decode(pkt, 12, n, out);
      },
      ms,
    );
    rows.push([`encode+decode, ${s.label}`, rawBoth, oursBoth]);
    const [rawEnc, oursEnc] = pair(
      () => {
        sink += raw.encode(bufs[i++ % 50]!).length;
      },
      () => {
        tx.set(frames[j++ % 50]!);
        sink += codec.encode(tx, pkt, 12);
      },
      ms,
    );
    rows.push([`encode only, ${s.label}`, rawEnc, oursEnc]);
    const rawD = new ctor(48000, 1);
    const [rawDec, oursDec] = pair(
      () => {
        sink += rawD.decode(packets[i++ % 50]!).length;
      },
      () => {
        const p = packets[j++ % 50]!;
        sink += codec.decode(p, 0, p.length, out);
      },
      ms,
    );
    rows.push([`decode only, ${s.label}`, rawDec, oursDec]);
    codec.close();
  }
  {
    // the baseline of the figure: the raw binding left at its own defaults (CELT-only at
    // an automatic ~64 kbit/s, complexity 10), beside the same binding set as the engine sets it
    const atEngine = rawEncoder(ctor, settings[0]!);
    const atOwn = new ctor(48000, 1);
    let i = 0;
    const [e, o] = pair(
      () => {
        sink += atEngine.decode(atEngine.encode(bufs[i++ % 50]!)).length;
      },
      () => {
        sink += atOwn.decode(atOwn.encode(bufs[i++ % 50]!)).length;
      },
      ms,
    );
    rows.push(['raw binding: engine settings (left) vs its own defaults (audio, auto bitrate, cx 10)', o, e]);
  }
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log('frames per CPU second (one 20 ms mono 48 kHz frame), raw binding and OpusCodec measured in alternation');
  console.log(`${'row'.padEnd(w)}  raw frames/s  OpusCodec frames/s  ratio`);
  for (const [label, raw, ours] of rows) {
    console.log(`${label.padEnd(w)}  ${String(raw).padStart(12)}  ${String(ours).padStart(18)}  ${(ours / raw).toFixed(3)}`);
  }
  // what each setting costs: OpusCodec encode+decode beside the engine defaults, in alternation
  const base: OpusCodecOptions = { bitrate: 32000, complexity: 5, fec: true, packetLossPercent: 10 };
  const variants: [string, OpusCodecOptions][] = [
    ['complexity 0', { ...base, complexity: 0 }],
    ['complexity 3', { ...base, complexity: 3 }],
    ['complexity 10', { ...base, complexity: 10 }],
    ['no FEC', { ...base, fec: false }],
    ['wideband (16 kHz audio)', { ...base, maxBandwidth: 'wideband' }],
    ['narrowband (8 kHz audio)', { ...base, maxBandwidth: 'narrowband' }],
    ['16 kbit/s', { ...base, bitrate: 16000 }],
    ['64 kbit/s', { ...base, bitrate: 64000 }],
  ];
  console.log('\nOpusCodec encode+decode frames per CPU second: one setting changed from the engine defaults, measured in alternation with the defaults');
  const w2 = Math.max(...variants.map((v) => v[0].length));
  console.log(`${'setting'.padEnd(w2)}  defaults  this setting  ratio`);
  const pkt = Buffer.alloc(1500);
  const out = new Int16Array(5760);
  const tx = new Int16Array(FRAME);
  const tx2 = new Int16Array(FRAME);
  for (const [label, o] of variants) {
    const d = createOpusCodec(111, base)!;
    const v = createOpusCodec(111, o)!;
    let i = 0;
    let j = 0;
    const [fd, fv] = pair(
      () => {
        tx.set(frames[i++ % 50]!);
        sink += d.decode(pkt, 12, d.encode(tx, pkt, 12), out);
      },
      () => {
        tx2.set(frames[j++ % 50]!);
        sink += v.decode(pkt, 12, v.encode(tx2, pkt, 12), out);
      },
      ms / 2,
    );
    console.log(`${label.padEnd(w2)}  ${String(fd).padStart(8)}  ${String(fv).padStart(12)}  ${(fv / fd).toFixed(2)}`);
    d.close();
    v.close();
  }
  if (sink === -1) console.log('');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
