/**
 * CPU cost of the conference bridge per 20 ms tick: 10 conferences of 10, one of 100 and one of
 * 500 participants, with 8 kHz and with 48 kHz ports, at the bridge rates that matter for each.
 * Every port is a real port: the figure includes putting its frame, the edge resamplers both
 * ways, mix-minus, tx gain, saturation and the level meter. Beside it, in the same run:
 * - the floor: a plain sum of the same N native frames into one Int32Array;
 * - the edge resampling alone (the same resampler calls the ports make), and its share.
 * All parties talk at once (the worst case); one extra row has 3 talkers of 100, where the
 * silent ports skip their input resamplers and the listeners who only listen share one output
 * resampler per conference, and one row uses shorter edge filters (16 taps per phase).
 *
 * After the table, the bridge's in-to-out latency in ticks, measured in virtual time: a frame
 * put into one port at tick N, and the first tick another port's owner takes it out, with the
 * bridge driven as before the media pump (the bridge as the clock's first listener, each line
 * receiving and sending in its own listener afterwards) and as the engine drives it now (one
 * `MediaPump`: every line produces, the bridge mixes, every line consumes). Last, the
 * allocation checks of a whole pump tick: 100 fake lines producing and consuming, and 20 real
 * media sessions with every kind of port of their graph open (a looping WAV file, an IVR Tx
 * stream, a tone, in-band DTMF, the conference's mix; an IVR Rx stream and a recorder as
 * sinks), not sending (Node's `dgram` allocates per datagram, which is not the graph's doing).
 *
 * Run `npm run bench:mixer` or `node dist/bench/mixer.js [msPerCase]`. Figures only; tests never
 * assert timings.
 * @module
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { ConferenceBridge, type MixerRate, type Port } from '../mixer/index.js';
import { createResampler, type Resampler, type ResamplerOptions } from '../media/resample.js';
import { fillSine } from '../media/tones.js';
import { speexEdgeResamplers } from '../mixer/edgeResamplers.js';
import { virtualMediaClock } from '../media/mediaClock.js';
import { MediaPump, type MediaNode } from '../media/mediaPump.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import wavefilePkg from 'wavefile';
import { CallRecorder } from '../media/callRecorder.js';
import { RtpPortAllocator } from '../media/rtpSocket.js';
import { MediaSession } from '../media/session.js';

/** One benchmark case. */
export interface MixerBenchCase {
  /** Conferences in the bridge. */
  readonly conferences: number;
  /** Participants per conference. */
  readonly size: number;
  /** Native rate of every port. */
  readonly portRate: MixerRate;
  /** Mixing rate of the bridge. */
  readonly bridgeRate: MixerRate;
  /** Participants per conference that talk (the rest put digital silence); default all. */
  readonly talkers?: number;
  /** Edge resampler settings (default: the resampler's own). */
  readonly resampler?: ResamplerOptions;
  /** Use libspeexdsp's edge resamplers (the engine's default when installed). */
  readonly speex?: boolean;
}

/** What one case measured. */
export interface MixerBenchResult extends MixerBenchCase {
  /** Total ports. */
  readonly ports: number;
  /** Mean µs per tick of the real bridge (frames put, mixed, taken). */
  readonly tickUs: number;
  /** Tick cost as a share of one core: tickUs / 20 ms, in %. */
  readonly corePercent: number;
  /** Mean µs of the plain sum of the same native frames into an Int32Array. */
  readonly floorUs: number;
  /** Mean µs of the edge resampling alone (0 when port and bridge rates match). */
  readonly resampleUs: number;
  /** Garbage collections seen over {@link MixerBenchResult.checkTicks} bare ticks (0: nothing allocated). */
  readonly gcs: number;
  /** Ticks run for the allocation check. */
  readonly checkTicks: number;
}

let sink = 0;
let gcCount = 0;

/**
 * Mean CPU µs per call of `fn` over about `durationMs` of wall time (at least `minRuns` calls),
 * after a warm-up. CPU time (process user + system), not wall time, so a busy machine that
 * preempts the benchmark does not inflate the figure.
 */
function measure(fn: () => void, durationMs: number, minRuns = 20): number {
  for (let i = 0; i < 30; i++) fn();
  // the best of three rounds: other load on the machine only ever adds
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    let n = 0;
    const start = performance.now();
    const cpu0 = process.cpuUsage();
    while (performance.now() - start < durationMs / 3 || n < minRuns) {
      for (let i = 0; i < 10; i++) fn();
      n += 10;
    }
    const cpu = process.cpuUsage(cpu0);
    best = Math.min(best, (cpu.user + cpu.system) / n);
  }
  return best;
}

/** Run one case for about `durationMs` per measurement. */
export async function benchCase(c: MixerBenchCase, durationMs: number): Promise<MixerBenchResult> {
  const factory = c.speex ? speexEdgeResamplers() : null;
  if (c.speex && factory === null) throw new Error('libspeexdsp is not installed (apt-get install -y libspeexdsp1)');
  const bridge = new ConferenceBridge({ rate: c.bridgeRate, frameMs: 20, resampler: c.resampler, ...(factory ? { resamplerFactory: factory } : {}) });
  const newRs = (from: MixerRate, to: MixerRate): Resampler => (factory ? factory.create(from, to) : createResampler(from, to, c.resampler));
  const ports: Port[] = [];
  const frameLen = c.portRate / 50;
  // a few distinct tone frames, shared: the cost is in the bridge, not in making the input
  const tones: Int16Array[] = [];
  for (let k = 0; k < 16; k++) {
    const f = new Int16Array(frameLen);
    fillSine(f, c.portRate, 300 + 50 * k, 3000);
    tones.push(f);
  }
  const silence = new Int16Array(frameLen);
  const inputs: Int16Array[] = [];
  for (let g = 0; g < c.conferences; g++) {
    for (let i = 0; i < c.size; i++) {
      ports.push(bridge.addPort({ name: `c${g}p${i}`, rate: c.portRate, groups: [`conf${g}`] }));
      inputs.push(i < (c.talkers ?? c.size) ? tones[(g + i) % tones.length]! : silence);
    }
  }
  const n = ports.length;
  const tick = (): void => {
    for (let i = 0; i < n; i++) ports[i]!.putFrame(inputs[i]!);
    bridge.tick();
    for (let i = 0; i < n; i++) sink += ports[i]!.getFrame()[7]!;
  };
  for (let i = 0; i < 5; i++) tick(); // apply memberships (allocates once)
  const tickUs = measure(tick, durationMs);

  // allocation check: ticks alone, with nothing else in the loop that could allocate
  const checkTicks = Math.max(50, Math.min(2000, Math.round((durationMs * 1000) / tickUs)));
  let chk = 0;
  await new Promise((r) => setTimeout(r, 50));
  const gcBefore = gcCount;
  for (let t = 0; t < checkTicks; t++) {
    for (let i = 0; i < n; i++) ports[i]!.putFrame(inputs[i]!);
    bridge.tick();
    for (let i = 0; i < n; i++) chk = (chk + ports[i]!.getFrame()[7]!) | 0;
  }
  await new Promise((r) => setTimeout(r, 50)); // let gc entries arrive
  const gcs = gcCount - gcBefore;
  if (chk === 0.5) sink++;

  // the floor: add the same N native frames into one Int32Array
  const acc = new Int32Array(frameLen);
  const floorUs = measure(() => {
    acc.fill(0);
    for (let i = 0; i < n; i++) {
      const f = inputs[i]!;
      for (let j = 0; j < frameLen; j++) acc[j] = acc[j]! + f[j]!;
    }
    sink += acc[3]!;
  }, durationMs);

  // the edge resamplers alone, as the bridge runs them: in and out for every talker, and one
  // shared output per conference for the listeners who only listen
  let resampleUs = 0;
  if (c.portRate !== c.bridgeRate) {
    const ins: Resampler[] = [];
    const outs: Resampler[] = [];
    const talkers = c.talkers ?? c.size;
    const outsPerConf = talkers + (talkers < c.size ? 1 : 0);
    for (let i = 0; i < c.conferences * talkers; i++) ins.push(newRs(c.portRate, c.bridgeRate));
    for (let i = 0; i < c.conferences * outsPerConf; i++) outs.push(newRs(c.bridgeRate, c.portRate));
    const mid = new Int16Array(c.bridgeRate / 50);
    const back = new Int16Array(frameLen);
    resampleUs = measure(() => {
      for (let i = 0; i < ins.length; i++) ins[i]!.process(tones[i % tones.length]!, frameLen, mid);
      for (let i = 0; i < outs.length; i++) outs[i]!.process(mid, mid.length, back);
      sink += back[5]!;
    }, durationMs);
  }
  return { ...c, ports: n, tickUs, corePercent: tickUs / 200, floorUs, resampleUs, gcs, checkTicks };
}

/** The cases of the issue: 10×10, 1×100, 1×500 at 8 kHz and 48 kHz ports, plus 3 talkers of 100. */
export const MIXER_CASES: readonly MixerBenchCase[] = [
  { conferences: 10, size: 10, portRate: 8000, bridgeRate: 8000 },
  { conferences: 1, size: 100, portRate: 8000, bridgeRate: 8000 },
  { conferences: 1, size: 500, portRate: 8000, bridgeRate: 8000 },
  { conferences: 10, size: 10, portRate: 8000, bridgeRate: 16000 },
  { conferences: 1, size: 100, portRate: 8000, bridgeRate: 16000 },
  { conferences: 1, size: 500, portRate: 8000, bridgeRate: 16000 },
  { conferences: 1, size: 100, portRate: 8000, bridgeRate: 16000, talkers: 3 },
  { conferences: 1, size: 500, portRate: 8000, bridgeRate: 16000, talkers: 3 },
  { conferences: 1, size: 100, portRate: 8000, bridgeRate: 16000, resampler: { tapsPerPhase: 16 } },
  { conferences: 10, size: 10, portRate: 8000, bridgeRate: 16000, speex: true },
  { conferences: 1, size: 100, portRate: 8000, bridgeRate: 16000, speex: true },
  { conferences: 1, size: 500, portRate: 8000, bridgeRate: 16000, speex: true },
  { conferences: 10, size: 10, portRate: 48000, bridgeRate: 48000 },
  { conferences: 1, size: 100, portRate: 48000, bridgeRate: 48000 },
  { conferences: 1, size: 500, portRate: 48000, bridgeRate: 48000 },
  { conferences: 10, size: 10, portRate: 48000, bridgeRate: 16000 },
  { conferences: 1, size: 100, portRate: 48000, bridgeRate: 16000 },
  { conferences: 1, size: 500, portRate: 48000, bridgeRate: 16000 },
  { conferences: 1, size: 100, portRate: 48000, bridgeRate: 16000, talkers: 3 },
  { conferences: 10, size: 10, portRate: 48000, bridgeRate: 16000, speex: true },
  { conferences: 1, size: 100, portRate: 48000, bridgeRate: 16000, speex: true },
  { conferences: 1, size: 500, portRate: 48000, bridgeRate: 16000, speex: true },
];

/** Run every case and return the figures. */
export async function benchMixer(durationMs = 1000): Promise<MixerBenchResult[]> {
  const obs = new PerformanceObserver((list) => {
    gcCount += list.getEntries().length;
  });
  obs.observe({ entryTypes: ['gc'] });
  const results: MixerBenchResult[] = [];
  for (const c of MIXER_CASES) results.push(await benchCase(c, durationMs));
  obs.disconnect();
  if (sink === 0.5) console.log(sink); // keeps the work observable to the optimizer
  return results;
}

/** How the bridge is driven in {@link latencyTicks}. */
export type BridgeDriving = 'listeners' | 'pump';

/**
 * In-to-out latency of the bridge in ticks, in virtual time: A puts a frame at tick N (after
 * silence); the result is the tick at which B's owner first takes a non-silent frame, minus N.
 * `listeners`: the arrangement before the media pump (the bridge first on the clock, then each
 * line receiving, putting, taking and sending in its own listener). `pump`: the engine's now.
 */
export function latencyTicks(driving: BridgeDriving): number {
  const clock = virtualMediaClock();
  const bridge = new ConferenceBridge({ rate: 8000, frameMs: 20 });
  const a = bridge.addPort({ name: 'a', rate: 8000, groups: ['conf'] });
  const b = bridge.addPort({ name: 'b', rate: 8000, groups: ['conf'] });
  const frame = new Int16Array(160);
  const quiet = new Int16Array(160);
  const speakAt = 5;
  let heardAt = -1;
  const lineA: MediaNode = {
    produce: (tick) => {
      frame.fill(tick >= speakAt ? 1000 : 0);
      a.putFrame(frame);
    },
    consume: () => undefined,
  };
  const lineB: MediaNode = {
    produce: () => b.putFrame(quiet),
    consume: (tick) => {
      if (heardAt < 0 && b.getFrame()[80] !== 0) heardAt = tick;
    },
  };
  if (driving === 'pump') {
    const pump = MediaPump.attach(clock);
    pump.setMixer(bridge);
    pump.add(lineA);
    pump.add(lineB);
  } else {
    clock.add(bridge);
    for (const l of [lineA, lineB]) clock.add({ onTick: (n) => (l.produce(n), l.consume(n)) });
  }
  for (let i = 0; i < 20 && heardAt < 0; i++) clock.tickOnce();
  return heardAt - speakAt;
}

/** Garbage collections over `ticks` pump ticks of 100 fake lines in one 16 kHz conference of 8 kHz ports. */
export async function pumpGcs(ticks: number): Promise<number> {
  const clock = virtualMediaClock();
  const pump = MediaPump.attach(clock);
  const bridge = new ConferenceBridge({ rate: 16000, frameMs: 20 });
  pump.setMixer(bridge);
  const tone = new Int16Array(160);
  fillSine(tone, 8000, 440, 3000);
  let chk = 0;
  for (let i = 0; i < 100; i++) {
    const port = bridge.addPort({ name: `p${i}`, rate: 8000, groups: ['conf'] });
    pump.add({
      produce: () => port.putFrame(tone),
      consume: () => {
        chk = (chk + port.getFrame()[7]!) | 0;
      },
    });
  }
  for (let i = 0; i < 5; i++) clock.tickOnce(); // memberships
  await new Promise((r) => setTimeout(r, 50));
  const before = gcCount;
  // the pump itself, not the virtual clock (whose BigInt time allocates, like hrtime does)
  for (let i = 0; i < ticks; i++) pump.pump(i);
  await new Promise((r) => setTimeout(r, 50));
  if (chk === 0.5) sink++;
  return gcCount - before;
}

/**
 * Garbage collections over `ticks` pump ticks of `lines` real media sessions in one conference,
 * each with a looping WAV file, an IVR Tx stream, a tone and in-band DTMF as sources and an
 * unread IVR Rx stream and a recorder (no file) as sinks; no RTP goes out (remote 0.0.0.0).
 */
export async function sessionPumpGcs(ticks: number, lines = 20): Promise<number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'linescape-bench-'));
  const wavPath = path.join(dir, 'tone.wav');
  const pcm = new Int16Array(8000);
  fillSine(pcm, 8000, 700, 4000);
  const w = new wavefilePkg.WaveFile();
  w.fromScratch(1, 8000, '16', pcm);
  writeFileSync(wavPath, w.toBuffer());
  const clock = virtualMediaClock();
  const pump = MediaPump.attach(clock);
  const bridge = new ConferenceBridge({ rate: 8000, frameMs: 20 });
  pump.setMixer(bridge);
  const base = 40000 + 2 * Math.floor(Math.random() * 5000);
  const allocator = new RtpPortAllocator({ host: '127.0.0.1', minPort: base, maxPort: base + 4 * lines + 200 });
  const sessions: MediaSession[] = [];
  const recorders: CallRecorder[] = [];
  for (let i = 0; i < lines; i++) {
    const s = await MediaSession.open({ clock, pump, allocator });
    if (!(s instanceof MediaSession)) throw new Error(`no RTP port: ${s.message}`);
    sessions.push(s);
    s.configure({ remoteAddress: '0.0.0.0', remotePort: 0, codec: 'PCMU', payloadType: 0, receivePayloadType: 0, sending: true, receiving: true, rtcpMux: false });
    s.start();
    if ((await s.playWave(wavPath, true)) !== 'ok') throw new Error('WAV did not load');
    s.playTone([440, 480], -19);
    s.sendDtmf('1'.repeat(20), 'inband', 5000);
    s.openTx(8000).write(Buffer.alloc(16000 * 2));
    s.openRx(8000);
    const rec = CallRecorder.open({ phoneLine: i, path: null, raw: true, sampleRate: 8000 });
    if (!(rec instanceof CallRecorder)) throw new Error(rec.error);
    recorders.push(rec);
    s.setRecorder(rec);
    s.setFramePort(bridge.addPort({ name: `s${i}`, rate: 8000, groups: ['conf'] }));
  }
  for (let i = 0; i < 5; i++) clock.tickOnce(); // memberships, first frames
  await new Promise((r) => setTimeout(r, 50));
  const before = gcCount;
  for (let i = 0; i < ticks; i++) pump.pump(i);
  await new Promise((r) => setTimeout(r, 50));
  const gcs = gcCount - before;
  for (const r of recorders) await r.stop();
  for (const s of sessions) await s.stop();
  pump.detach();
  rmSync(dir, { recursive: true, force: true });
  return gcs;
}

function fmt(v: number, w: number, digits = 1): string {
  return v.toFixed(digits).padStart(w);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const ms = Number(process.argv[2] ?? 1000);
  const results = await benchMixer(ms);
  const obs = new PerformanceObserver((list) => {
    gcCount += list.getEntries().length;
  });
  obs.observe({ entryTypes: ['gc'] });
  const pumpTicks = 2000;
  const gcs = await pumpGcs(pumpTicks);
  const sessionTicks = 2000;
  const sessionGcs = await sessionPumpGcs(sessionTicks);
  obs.disconnect();
  console.log(`conference bridge, CPU µs per 20 ms tick (${ms} ms per figure; all parties talking unless noted)`);
  console.log(
    'case                    port  bridge  ports   tick µs  % core   floor µs  resample µs  resample %  GCs/ticks',
  );
  for (const r of results) {
    const note = r.talkers !== undefined ? ` (${r.talkers} talk)` : r.resampler?.tapsPerPhase !== undefined ? ` (${r.resampler.tapsPerPhase} taps)` : r.speex ? ' (speex)' : '';
    const name = `${r.conferences}×${r.size}${note}`;
    const share = r.resampleUs === 0 ? '—' : `${Math.min(100, (100 * r.resampleUs) / r.tickUs).toFixed(0)} %`;
    console.log(
      `${name.padEnd(22)} ${String(r.portRate / 1000).padStart(3)}k ${String(r.bridgeRate / 1000).padStart(5)}k ${String(r.ports).padStart(6)} ${fmt(r.tickUs, 9)} ${fmt(r.corePercent, 6, 2)} ${fmt(r.floorUs, 10)} ${fmt(r.resampleUs, 12)} ${share.padStart(11)} ${`${r.gcs}/${r.checkTicks}`.padStart(10)}`,
    );
  }
  console.log('');
  console.log('in-to-out latency of the bridge, ticks of 20 ms (virtual time; a frame put at tick N is first taken out at N + latency)');
  console.log(`  before (bridge as the first clock listener, lines after it): ${latencyTicks('listeners')}`);
  console.log(`  after  (one MediaPump: produce, mix, consume):                ${latencyTicks('pump')}`);
  console.log(`whole pump tick, 100 fake lines, 8 kHz ports in a 16 kHz conference: ${gcs} GCs over ${pumpTicks} ticks`);
  console.log(`whole pump tick, 20 media sessions with WAV, IVR Tx, tone, DTMF, conference; IVR Rx, recorder: ${sessionGcs} GCs over ${sessionTicks} ticks`);
}
