/**
 * The local device port's echo canceller in place: a simulated room (what the loudspeaker plays
 * comes back into the microphone 60 ms later, attenuated, with reflections) behind the
 * `LocalAudio` interface, the engine's bridge and a far line listening. After convergence the
 * far line must hear its own speech-like signal at least 20 dB below the echo that reached the
 * microphone. The DSP itself is tested in speexdsp.test.ts; this proves the device path feeds it
 * the right reference in the right order.
 */
import { ConferenceBridge } from '../mixer/index.js';
import { LocalAudioPort } from '../mixer/localAudioPort.js';
import { MediaClock } from '../media/mediaClock.js';
import type { LocalAudio, LocalAudioStats } from '../media/audioDevice.js';
import { native, peerTest } from './helpers/env.js';
import { prng } from './helpers/prng.js';

const RATE = 16000;
const N = 320;

/** A loudspeaker and microphone in a room: every played sample returns as echo. */
class Room implements LocalAudio {
  readonly sampleRate = RATE;
  readonly frameMs = 20;
  readonly frameSamples = N;
  readonly capturing = true;
  readonly playing = true;
  readonly tonePlaying = false;
  private readonly played: number[] = [];
  /** The echo part of every captured frame, for the reference measurement. */
  readonly echoes: Int16Array[] = [];
  private readonly delay = 3 * N;
  readFrame(out: Int16Array): boolean {
    const base = this.echoes.length * N;
    for (let i = 0; i < N; i++) {
      const n = base + i - this.delay;
      const x = (k: number): number => (k >= 0 && k < this.played.length ? this.played[k]! : 0);
      out[i] = Math.round(0.5 * x(n) + 0.25 * x(n - 37) - 0.12 * x(n - 121));
    }
    this.echoes.push(out.slice());
    return true;
  }
  writeFrame(pcm: Int16Array): void {
    for (let i = 0; i < N; i++) this.played.push(pcm[i]!);
  }
  playTone(): boolean {
    return true;
  }
  stopTone(): void {}
  stats(): LocalAudioStats {
    throw new Error('not used');
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const power = (frames: Int16Array[]): number => {
  let s = 0;
  let n = 0;
  for (const f of frames) {
    for (const v of f) {
      s += v * v;
      n++;
    }
  }
  return s / n;
};

peerTest('device path: the far end hears its echo attenuated by at least 20 dB after convergence', [native('speexdsp')], (t) => {
  const clock = MediaClock.manual();
  const bridge = new ConferenceBridge({ rate: RATE });
  clock.add({ onTick: () => bridge.tick() });
  const room = new Room();
  const dev = LocalAudioPort.attach(room, bridge, clock);
  dev.port.setGroups(['call']);
  const far = bridge.addPort({ name: 'far', rate: RATE, groups: ['call'] });
  clock.start();
  // far-end speech: filtered noise with a syllabic envelope
  const rnd = prng(7);
  let lp = 0;
  const heard: Int16Array[] = [];
  const frame = new Int16Array(N);
  const seconds = 8;
  for (let k = 0; k < seconds * 50; k++) {
    for (let i = 0; i < N; i++) {
      lp = 0.7 * lp + 0.3 * rnd();
      const env = 0.3 + 0.7 * Math.abs(Math.sin((2 * Math.PI * 1.7 * (k * N + i)) / RATE));
      frame[i] = Math.round(30000 * lp * env);
    }
    far.putFrame(frame);
    clock.tickOnce();
    heard.push(far.getFrame().slice());
  }
  const from = 5 * 50; // the last three seconds
  const echo = power(room.echoes.slice(from));
  const residual = power(heard.slice(from));
  const erle = 10 * Math.log10(echo / residual);
  t.log(`echo ${(10 * Math.log10(echo)).toFixed(1)} dB, residual ${(10 * Math.log10(residual)).toFixed(1)} dB: ERLE ${erle.toFixed(1)} dB`);
  t.true(dev.stats().echoCancellation);
  t.true(erle >= 20, `ERLE ${erle.toFixed(1)} dB`);
  // without the canceller the far end hears the echo itself
  t.true(dev.setEchoCancellation(false));
  const plain: Int16Array[] = [];
  for (let k = 0; k < 100; k++) {
    far.putFrame(frame);
    clock.tickOnce();
    plain.push(far.getFrame().slice());
  }
  const erleOff = 10 * Math.log10(power(room.echoes.slice(-50)) / power(plain.slice(-50)));
  t.log(`canceller off: ${erleOff.toFixed(1)} dB`);
  t.true(erleOff < 3, 'off means the echo comes through');
  void dev.close();
});
