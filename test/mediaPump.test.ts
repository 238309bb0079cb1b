/**
 * The media graph's pump in virtual time: a virtual media clock drives one MediaPump whose
 * mixer is a real ConferenceBridge, with fake, RTP-free sources in place of media sessions.
 * A frame put in at tick N comes out at tick N; mix-minus, groups, gains and hold; nodes added
 * and removed during a tick; errors are counted. Beside it, the WAV header probe that lets
 * playWaveFile answer at once without reading the file.
 */
import test from 'ava';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import wavefilePkg from 'wavefile';
import { ConferenceBridge, type Port } from '../mixer/index.js';
import { virtualMediaClock, type MediaClock } from '../media/mediaClock.js';
import { MediaPump, type MediaNode } from '../media/mediaPump.js';
import { probeWav } from '../media/wavPlayer.js';
import { LocalAudioPort } from '../mixer/localAudioPort.js';
import type { LocalAudio, LocalAudioStats } from '../media/audioDevice.js';

const { WaveFile } = wavefilePkg;

/**
 * A fake source and sink: each tick it produces a constant frame (its `level`, 0 = silence)
 * into its port, and in the consume phase keeps what the port gives back, by tick number.
 */
class FakeLine implements MediaNode {
  readonly frame = new Int16Array(160);
  /** What it heard, by tick: the first sample of the mix (the frames are constant). */
  readonly heard = new Map<number, number>();
  level = 0;
  /** Level to put from a given tick on (tick → level). */
  readonly script = new Map<number, number>();

  constructor(readonly port: Port) {}

  produce(tick: number): void {
    const next = this.script.get(tick);
    if (next !== undefined) this.level = next;
    this.frame.fill(this.level);
    this.port.putFrame(this.frame);
  }

  /** Peak of what it heard, by tick (for frames that are not constant). */
  readonly peak = new Map<number, number>();

  consume(tick: number): void {
    const out = this.port.getFrame();
    // a steady frame: every sample alike
    this.heard.set(tick, out[out.length - 1]!);
    let p = 0;
    for (const v of out) p = Math.max(p, Math.abs(v));
    this.peak.set(tick, p);
  }
}

interface Graph {
  clock: MediaClock & { tickOnce(): void };
  pump: MediaPump;
  bridge: ConferenceBridge;
  line(name: string, groups: string[]): FakeLine;
  run(ticks: number): void;
}

function graph(): Graph {
  const clock = virtualMediaClock();
  const pump = MediaPump.attach(clock);
  const bridge = new ConferenceBridge({ rate: 8000, frameMs: 20 });
  pump.setMixer(bridge);
  clock.start();
  return {
    clock,
    pump,
    bridge,
    line(name, groups) {
      const l = new FakeLine(bridge.addPort({ name, rate: 8000, groups }));
      pump.add(l);
      return l;
    },
    run(ticks) {
      for (let i = 0; i < ticks; i++) clock.tickOnce();
    },
  };
}

test('a frame put in at tick N is mixed and comes out at tick N', (t) => {
  const g = graph();
  const a = g.line('a', ['conf']);
  const b = g.line('b', ['conf']);
  g.run(3); // joined and faded in
  const n = g.clock.tick;
  a.script.set(n, 1000);
  g.run(1);
  t.is(b.heard.get(n), 1000, 'B hears A in the tick A spoke');
  t.is(b.heard.get(n - 1), 0, 'and not before');
  a.script.set(n + 3, 0);
  g.run(4);
  t.is(b.heard.get(n + 2), 1000);
  t.is(b.heard.get(n + 3), 0, 'silence is heard in the same tick too');
  t.deepEqual(g.pump.stats(), { ticks: n + 5, nodes: 2, mixing: true, errors: 0 });
});

test('mix-minus: each hears the others, never itself', (t) => {
  const g = graph();
  const a = g.line('a', ['conf']);
  const b = g.line('b', ['conf']);
  const c = g.line('c', ['conf']);
  a.level = 100;
  b.level = 20;
  c.level = 3;
  g.run(3);
  const n = g.clock.tick - 1;
  t.is(a.heard.get(n), 23);
  t.is(b.heard.get(n), 103);
  t.is(c.heard.get(n), 120);
});

test('groups: a conference hears only its own members; a port in two groups hears both, each voice once', (t) => {
  const g = graph();
  const a = g.line('a', ['g1']);
  const b = g.line('b', ['g1']);
  const c = g.line('c', ['g2']);
  const d = g.line('d', ['g2']);
  const e = g.line('e', ['g1', 'g2']);
  a.level = 1;
  b.level = 10;
  c.level = 100;
  d.level = 1000;
  e.level = 10000;
  g.run(3);
  const n = g.clock.tick - 1;
  t.is(a.heard.get(n), 10 + 10000);
  t.is(c.heard.get(n), 1000 + 10000);
  t.is(e.heard.get(n), 1 + 10 + 100 + 1000);
});

test('gain: rx gain scales what a port contributes, tx gain what it hears (512 = unity)', (t) => {
  const g = graph();
  const a = g.line('a', ['conf']);
  const b = g.line('b', ['conf']);
  a.level = 1000;
  b.level = 400;
  a.port.rxGain = 1024; // A is heard at 200 %
  b.port.txGain = 256; // B hears at 50 %
  g.run(3);
  const n = g.clock.tick - 1;
  t.is(b.heard.get(n), 1000, '1000 × 2 × 0.5');
  t.is(a.heard.get(n), 400);
  a.port.setGains(99999, -1); // clamped to 2048 and 0
  g.run(2);
  t.is(a.port.rxGain, 2048);
  t.is(a.heard.get(g.clock.tick - 1), 0, 'tx gain 0 hears nothing');
  t.is(b.heard.get(g.clock.tick - 1), 2000, '1000 × 4 × 0.5');
});

test('hold removes a port from the mix both ways, and resume brings it back', (t) => {
  const g = graph();
  const a = g.line('a', ['conf']);
  const b = g.line('b', ['conf']);
  const c = g.line('c', ['conf']);
  a.level = 1;
  b.level = 10;
  c.level = 100;
  g.run(3);
  b.port.held = true;
  g.run(2); // one frame of fade, then out
  let n = g.clock.tick - 1;
  t.is(a.heard.get(n), 100, 'A no longer hears B');
  t.is(c.heard.get(n), 1);
  t.is(b.heard.get(n), 0, 'B hears nobody');
  b.port.held = false;
  g.run(2);
  n = g.clock.tick - 1;
  t.is(a.heard.get(n), 110);
  t.is(b.heard.get(n), 101);
});

test('nodes added during a tick join at the next; removed ones are not called again; errors are counted', (t) => {
  const g = graph();
  const calls: string[] = [];
  const late: MediaNode = { produce: (n) => calls.push(`late.p${n}`), consume: (n) => calls.push(`late.c${n}`) };
  let victim: MediaNode | null = null;
  const adder: MediaNode = {
    produce: (n) => {
      calls.push(`adder.p${n}`);
      g.pump.add(late);
      if (victim !== null) g.pump.remove(victim);
    },
    consume: (n) => calls.push(`adder.c${n}`),
  };
  victim = { produce: (n) => calls.push(`victim.p${n}`), consume: (n) => calls.push(`victim.c${n}`) };
  g.pump.add(adder);
  g.pump.add(victim);
  g.bridge.mix = () => calls.push('mix');
  g.run(2);
  t.deepEqual(calls, ['adder.p0', 'mix', 'adder.c0', 'adder.p1', 'late.p1', 'mix', 'adder.c1', 'late.c1']);
  const errors: unknown[] = [];
  const p = new MediaPump({ onError: (e) => errors.push(e) });
  const seen: number[] = [];
  p.add({
    produce: () => {
      throw new Error('boom');
    },
    consume: () => undefined,
  });
  p.add({ produce: (n) => seen.push(n), consume: () => undefined });
  p.setMixer({
    mix: () => {
      throw new Error('mix');
    },
  });
  p.pump(7);
  t.deepEqual(seen, [7], 'the others still run');
  t.is(errors.length, 2);
  t.is(p.stats().errors, 2);
});

test('the pump leaves the clock on detach, and a clock drives nothing else', (t) => {
  const clock = virtualMediaClock();
  const pump = MediaPump.attach(clock);
  t.is(clock.stats().listeners, 1);
  pump.detach();
  t.is(clock.stats().listeners, 0);
});

/** A sound card that captures a tone and remembers what it was given to play. */
class FakeCard implements LocalAudio {
  readonly sampleRate = 8000;
  readonly frameMs = 20;
  readonly frameSamples = 160;
  readonly capturing = true;
  readonly playing = true;
  readonly tonePlaying = false;
  level = 0;
  readonly played: number[] = [];
  private phase = 0;
  readFrame(out: Int16Array): boolean {
    // a 1 kHz tone at `level` (a constant frame would be taken for DC by the capture processing)
    for (let i = 0; i < out.length; i++) out[i] = Math.round(this.level * Math.sin((2 * Math.PI * (this.phase + i) + 1) / 8));
    this.phase += out.length;
    return true;
  }
  writeFrame(pcm: Int16Array): void {
    this.played.push(pcm[100]!);
  }
  playTone(): boolean {
    return false;
  }
  stopTone(): void {}
  stats(): LocalAudioStats {
    throw new Error('not used');
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

test('the sound card is a node of the pump: its capture is heard, and it plays the mix, in the same tick', async (t) => {
  const g = graph();
  const card = new FakeCard();
  const dev = LocalAudioPort.attach(card, g.bridge, g.pump, { echoCancellation: false });
  dev.port.setGroups(['conf']);
  dev.port.setMetering(true);
  const far = g.line('far', ['conf']);
  // what the device put into its port in each tick (after its capture processing: libspeexdsp's
  // preprocessor, when installed, has latency of its own, which is not the bridge's)
  const put = new Map<number, number>();
  g.pump.add({ produce: () => undefined, consume: (tick) => put.set(tick, dev.port.levels().inPeak) });
  g.run(3);
  const n = g.clock.tick;
  card.level = 7000;
  far.script.set(n, 55);
  g.run(3);
  for (let k = n - 1; k < n + 3; k++) t.is(far.peak.get(k), put.get(k), `tick ${k}: the far end hears what the device put in that tick`);
  t.true(put.get(n + 2)! > 0, 'the microphone is heard');
  t.is(card.played[n], 55, 'the loudspeaker plays the far end of this tick');
  t.is(card.played[n - 1], 0);
  t.is(g.pump.stats().nodes, 3);
  await dev.close();
  t.is(g.pump.stats().nodes, 2, 'closing leaves the pump');
});

test('probeWav answers from the header alone: missing, empty, not a WAV, unsupported, fine', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'linescape-probe-'));
  const good = new WaveFile();
  good.fromScratch(1, 16000, '16', new Int16Array(1600));
  writeFileSync(path.join(dir, 'good.wav'), good.toBuffer());
  const rate = new WaveFile();
  rate.fromScratch(1, 12345, '16', new Int16Array(100));
  writeFileSync(path.join(dir, 'rate.wav'), rate.toBuffer());
  const six = new WaveFile();
  six.fromScratch(6, 8000, '16', new Int16Array(600));
  writeFileSync(path.join(dir, 'six.wav'), six.toBuffer());
  const none = new WaveFile();
  none.fromScratch(1, 8000, '16', new Int16Array(0));
  writeFileSync(path.join(dir, 'none.wav'), none.toBuffer());
  writeFileSync(path.join(dir, 'empty.wav'), '');
  writeFileSync(path.join(dir, 'text.wav'), 'this is no RIFF file');
  mkdirSync(path.join(dir, 'dir.wav'));
  t.is(probeWav(path.join(dir, 'good.wav')), 'ok');
  t.is(probeWav(path.join(dir, 'missing.wav')), 'not-found');
  t.is(probeWav(path.join(dir, 'dir.wav')), 'not-found');
  t.is(probeWav(path.join(dir, 'empty.wav')), 'empty');
  t.is(probeWav(path.join(dir, 'none.wav')), 'empty');
  t.is(probeWav(path.join(dir, 'text.wav')), 'bad-format');
  t.is(probeWav(path.join(dir, 'rate.wav')), 'bad-format');
  t.is(probeWav(path.join(dir, 'six.wav')), 'bad-format');
});
