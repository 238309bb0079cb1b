/**
 * The two resamplers side by side, in the same run: libspeexdsp through koffi
 * (`SpeexResampler`, qualities 3, 5 and 8) and the TypeScript polyphase FIR (`createResampler`
 * from media/resample.ts), for 48 kHz → 8 kHz and 8 kHz → 48 kHz in 20 ms frames.
 *
 * For each: frames per second on one core, and accuracy measured by streaming test tones frame
 * by frame through a fresh converter and fitting the expected sine by least squares:
 * - gain at 1 kHz and passband ripple (spread of gains over 300–3400 Hz), in dB;
 * - SNR at 1019 Hz: the fitted tone against everything else (distortion, images, noise), in dB;
 * - rejection: down, the worst alias left in the 8 kHz output by near-full-scale tones at
 *   4.6–23 kHz ("0 LSB": every alias rounded to zero, better than −96 dB); up, the
 *   worst image/noise energy above the tone across the passband tones. In dB below the tone.
 *
 * Run `node dist/bench/resamplers.js [durationMs]`. Figures only; tests never assert timings.
 * @module
 */
import { pathToFileURL } from 'node:url';
import { createResampler, type Resampler } from '../media/resample.js';
import { SpeexResampler } from '../ffi/speexdsp.js';
import { fillSine } from '../media/tones.js';
import { framesPerSecond } from './measure.js';

/** One row of the comparison. */
export interface ResamplerBenchRow {
  /** Which implementation and settings. */
  readonly name: string;
  /** `48k->8k` or `8k->48k`. */
  readonly direction: string;
  /** 20 ms frames per second. */
  readonly framesPerSec: number;
  /** Level change of a 1 kHz tone, dB. */
  readonly gain1kDb: number;
  /** Largest minus smallest gain over 300–3400 Hz, dB. */
  readonly rippleDb: number;
  /** A 1019 Hz tone against the rest of the output (distortion, images, noise), dB. */
  readonly snrDb: number;
  /**
   * Worst alias (down) or image/noise (up) relative to the tone, dB (more negative is better);
   * below −200 means every alias rounded to zero (the table prints "0 LSB", better than −96 dB).
   */
  readonly rejectionDb: number;
}

let sink = 0;

const measure = framesPerSecond;

const AMP = 10000;
/** Alias probes are near full scale, so an alias rounds to zero only below about −96 dB. */
const ALIAS_AMP = 30000;

/** Stream `seconds` of a sine at `freq` through `rs` in 20 ms frames; returns the output after 100 ms of settling. */
function toneThrough(rs: Resampler, freq: number, amp = AMP, seconds = 0.6): Int16Array {
  const inFrame = rs.fromRate / 50;
  const outFrame = rs.toRate / 50;
  const frames = Math.round(seconds * 50);
  const input = new Int16Array(inFrame);
  const out = new Int16Array(outFrame * frames);
  const tmp = new Int16Array(outFrame);
  let phase = 0;
  for (let f = 0; f < frames; f++) {
    phase = fillSine(input, rs.fromRate, freq, amp, phase);
    const n = rs.process(input, inFrame, tmp);
    out.set(tmp.subarray(0, n), f * outFrame);
  }
  return out.subarray(rs.toRate / 10);
}

/** Least-squares fit of a sine at `freq`: returns [fitted amplitude, residual mean square]. */
function fitSine(x: Int16Array, rate: number, freq: number): [number, number] {
  const n = x.length;
  let ss = 0;
  let cc = 0;
  let sc = 0;
  let xs = 0;
  let xc = 0;
  const w = (2 * Math.PI * freq) / rate;
  for (let i = 0; i < n; i++) {
    const s = Math.sin(w * i);
    const c = Math.cos(w * i);
    ss += s * s;
    cc += c * c;
    sc += s * c;
    xs += x[i]! * s;
    xc += x[i]! * c;
  }
  const det = ss * cc - sc * sc;
  const a = (xs * cc - xc * sc) / det;
  const b = (xc * ss - xs * sc) / det;
  let res = 0;
  for (let i = 0; i < n; i++) {
    const e = x[i]! - (a * Math.sin(w * i) + b * Math.cos(w * i));
    res += e * e;
  }
  return [Math.hypot(a, b), res / n];
}

function meanSquare(x: Int16Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return s / x.length;
}

const db = (ratio: number): number => 10 * Math.log10(Math.max(ratio, 1e-30));
// Frequencies slightly off round numbers: a tone whose period is a whole number of samples
// (1 kHz at 8 or 48 kHz) repeats the same rounding errors and would flatter the SNR.
const PASSBAND = [307, 509, 1019, 2011, 3001, 3403];
const SNR_TONE = 1019;
const ALIAS_TONES = [4600, 5000, 6000, 8000, 12000, 16000, 20000, 23000];

/** Accuracy figures of one converter kind; `make` returns a fresh converter per tone. */
function accuracy(make: () => Resampler): Omit<ResamplerBenchRow, 'name' | 'direction' | 'framesPerSec'> {
  const probe = make();
  const from = probe.fromRate;
  const to = probe.toRate;
  const gains: number[] = [];
  let gain1k = 0;
  let snr = 0;
  let worstImage = -Infinity;
  for (const f of PASSBAND) {
    const out = toneThrough(make(), f);
    const [amp, res] = fitSine(out, to, f);
    const g = 20 * Math.log10(amp / AMP);
    gains.push(g);
    const rel = db(res / ((amp * amp) / 2));
    if (f === SNR_TONE) {
      gain1k = g;
      snr = -rel;
    }
    if (to > from) worstImage = Math.max(worstImage, rel);
  }
  let rejection = worstImage;
  if (to < from) {
    rejection = -Infinity;
    for (const f of ALIAS_TONES) {
      if (f >= from / 2) continue;
      const out = toneThrough(make(), f, ALIAS_AMP);
      rejection = Math.max(rejection, db(meanSquare(out) / ((ALIAS_AMP * ALIAS_AMP) / 2)));
    }
  }
  return { gain1kDb: gain1k, rippleDb: Math.max(...gains) - Math.min(...gains), snrDb: snr, rejectionDb: rejection };
}

/** Run the comparison; each speed figure takes about `durationMs`. */
export async function benchResamplers(durationMs = 1000): Promise<ResamplerBenchRow[]> {
  const rows: ResamplerBenchRow[] = [];
  const kinds: { name: string; make: (from: number, to: number) => Resampler | undefined; close: (r: Resampler) => void }[] = [
    { name: 'TypeScript polyphase FIR (48 taps/phase)', make: (a, b) => createResampler(a, b), close: () => {} },
  ];
  for (const q of [3, 5, 8]) {
    kinds.push({
      name: `speexdsp quality ${q} (koffi)`,
      make: (a, b) => {
        const r = SpeexResampler.create(a, b, q);
        return r.ok ? r.value : undefined;
      },
      close: (r) => (r as SpeexResampler).close(),
    });
  }
  const pcm48 = new Int16Array(960);
  fillSine(pcm48, 48000, 440, 8000);
  fillSine(pcm48, 48000, 1300, 3000, 0, 960, true);
  const pcm8 = new Int16Array(160);
  fillSine(pcm8, 8000, 440, 8000);
  fillSine(pcm8, 8000, 1300, 3000, 0, 160, true);
  const out8 = new Int16Array(160);
  const out48 = new Int16Array(960);
  for (const kind of kinds) {
    for (const [from, to] of [[48000, 8000], [8000, 48000]] as const) {
      const rs = kind.make(from, to);
      if (rs === undefined) {
        console.error(`${kind.name}: unavailable (libspeexdsp not loaded)`);
        continue;
      }
      const input = from === 48000 ? pcm48 : pcm8;
      const out = to === 8000 ? out8 : out48;
      const inLen = input.length;
      const fps = measure(() => {
        sink += rs.process(input, inLen, out);
      }, durationMs);
      kind.close(rs);
      const made: Resampler[] = [];
      const acc = accuracy(() => {
        const r = kind.make(from, to)!;
        made.push(r);
        return r;
      });
      for (const r of made) kind.close(r);
      rows.push({ name: kind.name, direction: `${from / 1000}k->${to / 1000}k`, framesPerSec: fps, ...acc });
      await Promise.resolve();
    }
  }
  if (sink === 0.5) console.log(sink); // keeps the work observable to the optimizer
  return rows;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const ms = Number(process.argv[2] ?? 1000);
  const rows = await benchResamplers(ms);
  console.log(`resamplers, ${ms} ms per speed figure, 20 ms frames (50 frames/s = one real-time stream)`);
  const head = ['resampler', 'dir', 'frames/s', 'µs/frame', 'gain@1k dB', 'ripple dB', 'SNR@1k dB', 'reject dB'];
  const widths = [42, 8, 12, 9, 11, 10, 10, 10];
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' ');
  console.log(line(head));
  for (const r of rows) {
    console.log(
      line([
        r.name,
        r.direction,
        r.framesPerSec.toLocaleString('en'),
        (1e6 / r.framesPerSec).toFixed(2),
        r.gain1kDb.toFixed(3),
        r.rippleDb.toFixed(3),
        r.snrDb.toFixed(1),
        r.rejectionDb < -200 ? '0 LSB' : r.rejectionDb.toFixed(1),
      ]),
    );
  }
}
