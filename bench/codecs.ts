/**
 * Throughput of the media building blocks, in 20 ms frames per second on one core:
 * G.711 through our lookup tables vs alawmulaw's own array API, Opus raw through
 * `@discordjs/opus` (the baseline later engine benchmarks compare against) and through
 * `OpusCodec`, G.722 in TypeScript beside libspandsp's, G.729, GSM and G.726-32 through our codec
 * classes beside the bare libbcg729 / libgsm / libspandsp calls (the ratio is what our framing and copies cost), the
 * resampler, and the in-band DTMF detector.
 * Run `node dist/bench/codecs.js [durationMs]`. Figures only; tests never assert timings.
 * @module
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import alawmulaw from 'alawmulaw';
import { createCodec } from '../media/codecs.js';
import { createSpandspG722, createSpandspG726 } from '../ffi/spandsp.js';
import { createBcg729Channel } from '../ffi/bcg729.js';
import { createGsmChannel } from '../ffi/gsm.js';
import { createResampler } from '../media/resample.js';
import { DtmfDetector, DtmfGenerator } from '../media/dtmf.js';
import { fillSine } from '../media/tones.js';
import { framesPerSecond } from './measure.js';

/** One benchmark result. */
export interface CodecBenchResult {
  /** What was measured. */
  readonly name: string;
  /** 20 ms frames per second. */
  readonly framesPerSec: number;
}

let sink = 0;

const measure = framesPerSecond;

function speech8k(): Int16Array {
  const pcm = new Int16Array(160);
  for (let i = 0; i < 160; i++) pcm[i] = Math.round(9000 * Math.sin(i * 0.21) + 3000 * Math.sin(i * 1.3 + 1));
  return pcm;
}

/** Run every benchmark for `durationMs` each and return the figures. */
export async function benchCodecs(durationMs = 1000): Promise<CodecBenchResult[]> {
  const results: CodecBenchResult[] = [];
  const add = (name: string, fps: number) => results.push({ name, framesPerSec: fps });

  // G.711: our tables through the codec interface (zero allocation) ...
  const pcm8 = speech8k();
  const pkt = Buffer.alloc(1500);
  const out8 = new Int16Array(160);
  for (const name of ['PCMU', 'PCMA'] as const) {
    const codec = createCodec(name)!;
    add(`${name} encode+decode (tables)`, measure(() => {
      codec.encode(pcm8, pkt, 12);
      codec.decode(pkt, 12, 160, out8);
      sink += out8[7]!;
    }, durationMs));
    await Promise.resolve();
  }
  // ... against alawmulaw's array API, which allocates a typed array per call
  add('PCMU encode+decode (alawmulaw arrays)', measure(() => {
    const enc = alawmulaw.mulaw.encode(pcm8);
    sink += alawmulaw.mulaw.decode(enc)[7]!;
  }, durationMs));
  add('PCMA encode+decode (alawmulaw arrays)', measure(() => {
    const enc = alawmulaw.alaw.encode(pcm8);
    sink += alawmulaw.alaw.decode(enc)[7]!;
  }, durationMs));
  await Promise.resolve();

  // Opus: the raw binding, PCM Buffer in and out, default encoder settings
  const pcm48 = new Int16Array(960);
  fillSine(pcm48, 48000, 440, 8000);
  fillSine(pcm48, 48000, 1300, 3000, 0, 960, true);
  try {
    const req = createRequire(import.meta.url);
    const { OpusEncoder } = req('@discordjs/opus') as {
      OpusEncoder: new (r: number, c: number) => { encode(b: Buffer): Buffer; decode(b: Buffer): Buffer };
    };
    const raw = new OpusEncoder(48000, 1);
    const pcmBuf = Buffer.from(pcm48.buffer, pcm48.byteOffset, 1920);
    add('opus encode+decode (raw @discordjs/opus)', measure(() => {
      sink += raw.decode(raw.encode(pcmBuf)).length;
    }, durationMs));
  } catch (err) {
    console.error(`opus raw: ${err instanceof Error ? err.message : String(err)}`);
  }
  const opus = createCodec('opus');
  if (opus !== undefined) {
    const out48 = new Int16Array(5760);
    add('opus encode+decode (OpusCodec, 32 kbit/s, complexity 5)', measure(() => {
      const n = opus.encode(pcm48, pkt, 12);
      sink += opus.decode(pkt, 12, n, out48);
    }, durationMs));
    add('opus encode only (OpusCodec)', measure(() => {
      sink += opus.encode(pcm48, pkt, 12);
    }, durationMs));
    opus.close();
  }
  await Promise.resolve();

  // G.722: ours (TypeScript) and libspandsp's, 320 samples at 16 kHz per frame
  const pcm16 = new Int16Array(320);
  fillSine(pcm16, 16000, 440, 8000);
  fillSine(pcm16, 16000, 2300, 3000, 0, 320, true);
  const out16 = new Int16Array(320);
  const g722 = createCodec('G722')!;
  add('G722 encode+decode (TypeScript G722Codec)', measure(() => {
    const n = g722.encode(pcm16, pkt, 12);
    sink += g722.decode(pkt, 12, n, out16);
  }, durationMs));
  const spandsp = createSpandspG722();
  if (spandsp.ok) {
    const bits = new Uint8Array(160);
    add('G722 encode+decode (raw libspandsp)', measure(() => {
      const n = spandsp.coder.encode(pcm16, 320, bits);
      sink += spandsp.coder.decode(bits, n, out16);
    }, durationMs));
    spandsp.coder.close();
  } else console.error(`G722 raw: ${spandsp.reason}`);
  await Promise.resolve();

  // G.729: G729Codec (two frames per packet, copies through scratch) and the bare library calls
  const g729 = createCodec('G729');
  if (g729 !== undefined) {
    add('G729 encode+decode (G729Codec, 2 frames)', measure(() => {
      const n = g729.encode(pcm8, pkt, 12);
      sink += g729.decode(pkt, 12, n, out8);
    }, durationMs));
    g729.close();
  }
  const bcg = createBcg729Channel();
  if (bcg.ok) {
    const half = pcm8.slice(0, 80);
    const bits = new Uint8Array(10);
    const out80 = new Int16Array(80);
    add('G729 encode+decode (raw libbcg729, 2 frames)', measure(() => {
      for (let k = 0; k < 2; k++) {
        bcg.channel.encode(half, bits);
        bcg.channel.decode(bits, 10, out80);
      }
      sink += out80[3]!;
    }, durationMs));
    bcg.channel.close();
  } else console.error(`G729 raw: ${bcg.reason}`);
  await Promise.resolve();

  // GSM 06.10: GsmCodec and the bare libgsm calls
  const gsm = createCodec('GSM');
  if (gsm !== undefined) {
    add('GSM encode+decode (GsmCodec)', measure(() => {
      const n = gsm.encode(pcm8, pkt, 12);
      sink += gsm.decode(pkt, 12, n, out8);
    }, durationMs));
    gsm.close();
  }
  const lg = createGsmChannel();
  if (lg.ok) {
    const bits = new Uint8Array(33);
    add('GSM encode+decode (raw libgsm)', measure(() => {
      lg.channel.encode(pcm8, bits);
      lg.channel.decode(bits, out8);
      sink += out8[5]!;
    }, durationMs));
    lg.channel.close();
  } else console.error(`GSM raw: ${lg.reason}`);
  await Promise.resolve();

  // G.726-32: G726Codec (copies through scratch) and the bare libspandsp calls, 80 octets a frame
  const g726 = createCodec('G726-32');
  if (g726 !== undefined) {
    add('G726-32 encode+decode (G726Codec)', measure(() => {
      const n = g726.encode(pcm8, pkt, 12);
      sink += g726.decode(pkt, 12, n, out8);
    }, durationMs));
    g726.close();
  }
  const sg = createSpandspG726();
  if (sg.ok) {
    const bits = new Uint8Array(80);
    add('G726-32 encode+decode (raw libspandsp)', measure(() => {
      const n = sg.coder.encode(pcm8, 160, bits);
      sink += sg.coder.decode(bits, n, out8);
    }, durationMs));
    sg.coder.close();
  } else console.error(`G726 raw: ${sg.reason}`);
  await Promise.resolve();

  // Resampling
  const down = createResampler(48000, 8000);
  const up = createResampler(8000, 48000);
  const rOut8 = new Int16Array(160);
  const rOut48 = new Int16Array(960);
  add('resample 48k -> 8k', measure(() => {
    sink += down.process(pcm48, 960, rOut8);
  }, durationMs));
  add('resample 8k -> 48k', measure(() => {
    sink += up.process(pcm8, 160, rOut48);
  }, durationMs));
  await Promise.resolve();

  // DTMF detection on a stream of digits and speech-like audio
  const gen = new DtmfGenerator();
  const dtmfAudio = new Int16Array(160 * 500);
  gen.enqueue('0123456789*#ABCD0123456789*#ABCD');
  gen.generate(dtmfAudio);
  const frames: Int16Array[] = [];
  for (let i = 0; i < 500; i++) frames.push(dtmfAudio.subarray(i * 160, i * 160 + 160));
  const det = new DtmfDetector();
  let f = 0;
  add('DTMF detect (8 kHz, 160-sample frames)', measure(() => {
    sink += det.process(frames[f]!, 160);
    f = (f + 1) % 500;
    while (det.takeDigit() >= 0) sink++;
  }, durationMs));

  if (sink === 0.5) console.log(sink); // keeps the work observable to the optimizer
  return results;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const ms = Number(process.argv[2] ?? 1000);
  const results = await benchCodecs(ms);
  console.log(`media benchmarks, ${ms} ms each (frames of 20 ms; 50 frames/s = one real-time stream)`);
  for (const r of results) {
    const streams = Math.floor(r.framesPerSec / 50);
    console.log(`${r.name.padEnd(58)} ${r.framesPerSec.toLocaleString('en').padStart(12)} frames/s  (~${streams.toLocaleString('en')} streams, ${(1e6 / r.framesPerSec).toFixed(2)} µs/frame)`);
  }
}
