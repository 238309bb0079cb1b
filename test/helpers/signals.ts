/**
 * Test signals and a waveform SNR for codec round trips.
 * @module
 */
import type { AudioCodec } from '../../media/codecs.js';

/** `seconds` of a sine at `freq` Hz sampled at `rate`. */
export function sine(freq: number, seconds: number, rate: number, amplitude = 10000): Int16Array {
  const pcm = new Int16Array(Math.round(seconds * rate));
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(amplitude * Math.sin((2 * Math.PI * freq * i) / rate));
  return pcm;
}

/**
 * Voiced speech-like sound at 8 kHz: a 140 Hz pulse train through two formant resonators (700
 * and 1200 Hz) under a 4 Hz syllable envelope, the structure a speech codec is built for. The
 * pitch is steady so the strongest harmonic (the 5th, 700 Hz) is a well-defined frequency to judge.
 */
export function speechLike8k(seconds: number): Int16Array {
  const rate = 8000;
  const n = Math.round(seconds * rate);
  const out = new Int16Array(n);
  const res = [700, 1200].map((f) => ({ a1: 2 * 0.96 * Math.cos((2 * Math.PI * f) / rate), a2: -0.96 * 0.96, y1: 0, y2: 0 }));
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    phase += 140 / rate;
    let x = 0;
    if (phase >= 1) {
      phase -= 1;
      x = 1;
    }
    let acc = 0;
    for (const r of res) {
      const y = x + r.a1 * r.y1 + r.a2 * r.y2;
      r.y2 = r.y1;
      r.y1 = y;
      acc += y;
    }
    const env = 0.35 + 0.65 * Math.abs(Math.sin(Math.PI * 4 * t));
    out[i] = Math.max(-32768, Math.min(32767, Math.round(1500 * acc * env)));
  }
  return out;
}

/**
 * Waveform SNR in dB of `decoded` against `input` at the codec delay (0..`maxDelay` samples)
 * that fits best, skipping the first `skip` samples while the coder adapts.
 */
export function snrDb(input: Int16Array, decoded: Int16Array, skip = 800, maxDelay = 120): { snr: number; delay: number } {
  let best = -Infinity;
  let delay = 0;
  for (let d = 0; d <= maxDelay; d++) {
    let c = 0;
    for (let i = skip; i < input.length - maxDelay; i++) c += input[i]! * decoded[i + d]!;
    if (c > best) {
      best = c;
      delay = d;
    }
  }
  let sig = 0;
  let err = 0;
  for (let i = skip; i < input.length - maxDelay; i++) {
    sig += input[i]! ** 2;
    err += (input[i]! - decoded[i + delay]!) ** 2;
  }
  return { snr: 10 * Math.log10(sig / err), delay };
}

/**
 * `pcm` through encoder `tx` and decoder `rx` (two codec objects, as two lines would have), frame
 * by frame; returns each payload and the decoded audio, and closes both codecs.
 */
export function codecRoundTrip(tx: AudioCodec, rx: AudioCodec, pcm: Int16Array): { payloads: Buffer[]; out: Int16Array } {
  const n = tx.samplesPerFrame;
  const payloads: Buffer[] = [];
  const out = new Int16Array(pcm.length);
  const frame = new Int16Array(n);
  const dec = new Int16Array(n);
  const pkt = Buffer.alloc(400);
  for (let off = 0; off + n <= pcm.length; off += n) {
    frame.set(pcm.subarray(off, off + n));
    const len = tx.encode(frame, pkt, 0);
    payloads.push(Buffer.from(pkt.subarray(0, len)));
    if (rx.decode(pkt, 0, len, dec) !== n) throw new Error('short decode');
    out.set(dec, off);
  }
  tx.close();
  rx.close();
  return { payloads, out };
}
