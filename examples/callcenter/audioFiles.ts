/**
 * WAV files for the call center: writing mono prompts, a streaming writer for two-channel call
 * recordings, reading a file's length (the engine raises nothing when `playWaveFile` reaches
 * the end), and the synthetic prompts, music and voices the demo uses when no real recordings
 * are given.
 * @module
 */
import fs from 'node:fs';
import path from 'node:path';

/** Bytes of the canonical 44-byte PCM WAV header. */
const HEADER_BYTES = 44;

/** A 44-byte header for 16-bit PCM with `channels` channels and `dataBytes` bytes of samples. */
function wavHeader(rate: number, channels: number, dataBytes: number): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * channels * 2, 28);
  h.writeUInt16LE(channels * 2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

/** Writes `samples` as a 16-bit mono WAV at `rate`. */
export function writeMonoWav(file: string, samples: Int16Array, rate = 8000): void {
  const data = Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
  fs.writeFileSync(file, Buffer.concat([wavHeader(rate, 1, data.length), data]));
}

/**
 * Length of a PCM WAV file in milliseconds, from its `fmt ` and `data` chunks; 0 when the file
 * cannot be read as one. The IVR times its prompts with it.
 */
export function wavDurationMs(file: string): number {
  let b: Buffer;
  try {
    b = fs.readFileSync(file);
  } catch {
    return 0;
  }
  if (b.length < 12 || b.toString('ascii', 0, 4) !== 'RIFF' || b.toString('ascii', 8, 12) !== 'WAVE') return 0;
  let byteRate = 0;
  for (let at = 12; at + 8 <= b.length; ) {
    const id = b.toString('ascii', at, at + 4);
    const size = b.readUInt32LE(at + 4);
    if (id === 'fmt ' && at + 20 <= b.length) byteRate = b.readUInt32LE(at + 16);
    if (id === 'data') return byteRate > 0 ? Math.round((Math.min(size, b.length - at - 8) * 1000) / byteRate) : 0;
    at += 8 + size + (size & 1);
  }
  return 0;
}

/**
 * A 16-bit WAV written while the call runs, mono or two-channel. The call recordings are
 * two-channel: left is what the caller said, right is what the caller heard (the agent,
 * prompts, music, a barging supervisor); a left message is mono. Frames are collected in one
 * reused interleave buffer and written a second at a time; `close()` fixes the header's sizes,
 * which were unknown while writing.
 */
export class WavStreamWriter {
  private readonly fd: number;
  private readonly block: Int16Array;
  private fill = 0;
  private dataBytes = 0;
  private closed = false;

  /** Creates `file` (its directory must exist) for audio at `rate` with 1 or 2 `channels`. */
  constructor(
    readonly file: string,
    readonly rate: number,
    readonly channels: 1 | 2,
  ) {
    this.fd = fs.openSync(file, 'w');
    fs.writeSync(this.fd, wavHeader(rate, channels, 0));
    this.block = new Int16Array(rate * channels); // one second
  }

  /** Appends `count` samples of a frame: `left[i]` (and `right[i]` in a two-channel file) make the i-th. */
  write(left: Int16Array, right: Int16Array | undefined, count = left.length): void {
    if (this.closed) return;
    const n = Math.min(count, left.length);
    for (let i = 0; i < n; i++) {
      this.block[this.fill++] = left[i] ?? 0;
      if (this.channels === 2) this.block[this.fill++] = right?.[i] ?? 0;
      if (this.fill === this.block.length) this.flush();
    }
  }

  /** Seconds written so far. */
  get seconds(): number {
    return (this.dataBytes + this.fill * 2) / (this.rate * 2 * this.channels);
  }

  private flush(): void {
    if (this.fill === 0) return;
    const bytes = this.fill * 2;
    fs.writeSync(this.fd, Buffer.from(this.block.buffer, 0, bytes));
    this.dataBytes += bytes;
    this.fill = 0;
  }

  /** Writes what is left and the final header; later writes are ignored. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    fs.writeSync(this.fd, wavHeader(this.rate, this.channels, this.dataBytes), 0, HEADER_BYTES, 0);
    fs.closeSync(this.fd);
  }
}

/** Reads a 16-bit PCM WAV (as written here) into its channels; for tests and tools. */
export function readWav(file: string): { rate: number; channels: Int16Array[] } {
  const b = fs.readFileSync(file);
  let rate = 8000;
  let count = 1;
  for (let at = 12; at + 8 <= b.length; ) {
    const id = b.toString('ascii', at, at + 4);
    const size = b.readUInt32LE(at + 4);
    if (id === 'fmt ') {
      count = b.readUInt16LE(at + 10);
      rate = b.readUInt32LE(at + 12);
    }
    if (id === 'data') {
      const frames = Math.floor(Math.min(size, b.length - at - 8) / (2 * count));
      const channels = Array.from({ length: count }, () => new Int16Array(frames));
      for (let f = 0; f < frames; f++) {
        for (let c = 0; c < count; c++) channels[c]![f] = b.readInt16LE(at + 8 + (f * count + c) * 2);
      }
      return { rate, channels };
    }
    at += 8 + size + (size & 1);
  }
  return { rate, channels: [] };
}

// ------------------------------------------------------------------ synthetic audio

/** A voice for {@link voice}: pitch and two formants, so different speakers sound (and measure) different. */
export interface VoiceShape {
  /** Glottal pitch in Hz. */
  pitchHz: number;
  /** First and second formant in Hz. */
  formantsHz: [number, number];
  /** Syllables per second. */
  syllableRate: number;
}

/** Speech-like sound at 8 kHz: a pulse train through two resonators under a syllable envelope, with pauses. */
export function voice(seconds: number, shape: VoiceShape, rate = 8000, level = 1800): Int16Array {
  const n = Math.round(seconds * rate);
  const out = new Int16Array(n);
  const res = shape.formantsHz.map((f) => ({ a1: 2 * 0.95 * Math.cos((2 * Math.PI * f) / rate), a2: -0.95 * 0.95, y1: 0, y2: 0 }));
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    // a slow intonation drift, and a pause every few syllables, as in running speech
    const pitch = shape.pitchHz * (1 + 0.08 * Math.sin(2 * Math.PI * 0.7 * t));
    phase += pitch / rate;
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
    const syllable = Math.abs(Math.sin(Math.PI * shape.syllableRate * t));
    const phrase = (t % 3) < 2.4 ? 1 : 0.05;
    out[i] = Math.max(-32768, Math.min(32767, Math.round(level * acc * syllable * phrase)));
  }
  return out;
}

/** A sine of `freq` Hz for `seconds` with 10 ms ramps (no clicks). */
export function tone(freq: number, seconds: number, rate = 8000, amplitude = 8000): Int16Array {
  const n = Math.round(seconds * rate);
  const ramp = Math.round(rate / 100);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const g = Math.min(1, i / ramp, (n - 1 - i) / ramp);
    out[i] = Math.round(amplitude * g * Math.sin((2 * Math.PI * freq * i) / rate));
  }
  return out;
}

/** Pieces of audio one after the other. */
export function concat(...parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The prompt files the IVR plays. */
export interface PromptSet {
  /** Welcome and menu: "press 1 for sales, 2 for support, 9 to leave a message". */
  greeting: string;
  /** Played in a loop to waiting callers. */
  music: string;
  /** "You are caller number N": `position[N - 1]`; the last one is used for longer queues. */
  position: string[];
  /** "Please leave your message after the tone", ending with the tone. */
  leaveMessage: string;
  /** "Sorry, that is not an option". */
  invalid: string;
  /** "Thank you, goodbye". */
  goodbye: string;
}

/** The announcer's voice of the synthetic prompts. */
export const ANNOUNCER: VoiceShape = { pitchHz: 190, formantsHz: [550, 1700], syllableRate: 5 };

/** Frequency of the default music's steady note (a test can listen for it). */
export const MUSIC_HZ = 523;

/**
 * Writes a synthetic prompt set into `dir` (created if needed) and returns its paths: the
 * announcer's voice for words, `n` short beeps after "you are number" for positions, and a
 * slow melody whose steady note is {@link MUSIC_HZ} for the music.
 */
export function writeSyntheticPrompts(dir: string, maxPosition = 5): PromptSet {
  fs.mkdirSync(dir, { recursive: true });
  const file = (name: string, pcm: Int16Array): string => {
    const p = path.join(dir, `${name}.wav`);
    writeMonoWav(p, pcm);
    return p;
  };
  const gap = (s: number): Int16Array => new Int16Array(Math.round(s * 8000));
  const words = (s: number): Int16Array => voice(s, ANNOUNCER);
  const beeps = (n: number): Int16Array => concat(...Array.from({ length: n }, () => concat(tone(880, 0.15), gap(0.15))));
  // the melody keeps returning to one note so it has a clear strongest frequency
  const melody = concat(...[MUSIC_HZ, 659, MUSIC_HZ, 784, MUSIC_HZ, 659].map((f) => tone(f, f === MUSIC_HZ ? 0.9 : 0.3, 8000, 6000)));
  return {
    greeting: file('greeting', concat(words(2.4), gap(0.2))),
    music: file('music', melody),
    position: Array.from({ length: maxPosition }, (_, i) => file(`position-${i + 1}`, concat(words(0.9), gap(0.1), beeps(i + 1)))),
    leaveMessage: file('leave-message', concat(words(1.5), gap(0.2), tone(1000, 0.4))),
    invalid: file('invalid', words(1.0)),
    goodbye: file('goodbye', words(0.8)),
  };
}
