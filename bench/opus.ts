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
import { createOpusCodec, type NativeOpus, type NativeOpusCtor, type OpusCodecOptions } from '../media/opus.js';
import { fillSine } from '../media/tones.js';
import { framesPerSecond } from './measure.js';

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
interface Settings {
  label: string;
  voip: boolean;
  bitrate?: number;
  complexity?: number;
  fec?: boolean;
  loss?: number;
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

function rawEncoder(ctor: NativeOpusCtor, s: Settings): NativeOpus {
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
  n.applyEncoderCTL(SET_MAX_BANDWIDTH, 1105);
  return n;
}

/**
 * CPU-seconds rate of two workloads measured in alternation (slices of `slice` frames, CPU time
 * of this process), so both see the same machine state on a shared, loaded host.
 */
function pair(a: () => void, b: () => void, totalMs: number, slice = 40): [number, number] {
  for (let i = 0; i < 200; i++) {
    a();
    b();
  }
  let ua = 0;
  let ub = 0;
  let na = 0;
  let nb = 0;
  const end = Date.now() + totalMs;
  while (Date.now() < end) {
    let c0 = process.cpuUsage();
    for (let i = 0; i < slice; i++) a();
    let c1 = process.cpuUsage(c0);
    ua += c1.user + c1.system;
    na += slice;
    c0 = process.cpuUsage();
    for (let i = 0; i < slice; i++) b();
    c1 = process.cpuUsage(c0);
    ub += c1.user + c1.system;
    nb += slice;
  }
  return [Math.round(na / (ua / 1e6)), Math.round(nb / (ub / 1e6))];
}

function main(): void {
  const req = createRequire(import.meta.url);
  const ctor = (req('@discordjs/opus') as { OpusEncoder: NativeOpusCtor }).OpusEncoder;
  const frames = input(50);
  const bufs = frames.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength));
  const rows: [string, number, number][] = [];
  let sink = 0;
  const settings: Settings[] = [
    { label: 'engine defaults (voip, 32 kbit/s, cx 5, FEC, 10 % loss)', voip: true, bitrate: 32000, complexity: 5, fec: true, loss: 10 },
    { label: 'binding defaults (audio, auto bitrate, cx 10, no FEC)', voip: false },
  ];
  for (const s of settings) {
    const opts: OpusCodecOptions = s.voip
      ? { bitrate: s.bitrate, complexity: s.complexity, fec: s.fec, packetLossPercent: s.loss }
      : ({ application: 'audio', bitrate: 'auto', complexity: 10, fec: false, packetLossPercent: 0 } as unknown as OpusCodecOptions);
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
    const [rawBoth, oursBoth] = pair(
      () => {
        sink += raw.decode(raw.encode(bufs[i++ % 50]!)).length;
      },
      () => {
        const n = codec.encode(frames[j++ % 50]!, pkt, 12);
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
        sink += codec.encode(frames[j++ % 50]!, pkt, 12);
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
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log('frames per CPU second (one 20 ms mono 48 kHz frame), raw binding and OpusCodec measured in alternation');
  console.log(`${'row'.padEnd(w)}  raw frames/s  OpusCodec frames/s  ratio`);
  for (const [label, raw, ours] of rows) {
    console.log(`${label.padEnd(w)}  ${String(raw).padStart(12)}  ${String(ours).padStart(18)}  ${(ours / raw).toFixed(3)}`);
  }
  if (sink === -1) console.log('');
}

main();
