/**
 * Benchmark of the RTP receive hot path on one core: RTP header parse + receive statistics +
 * jitter buffer push/pop per packet, plus each stage alone, and a measurement of heap bytes
 * allocated per packet over a million packets (the architecture demands ~0).
 *
 * Run `node --expose-gc dist/bench/rtp.js [durationMs] [packets]`. Without `--expose-gc` the
 * flag is switched on at run time. Figures only; tests never assert timings.
 * @module
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { createRtpHeader, parseRtp, RtpParseResult, writeRtpHeader, type RtpHeader } from '../media/rtp.js';
import { RtpReceiveStats } from '../media/rtpStats.js';
import { JitterBuffer } from '../media/jitterBuffer.js';
import { MediaClock } from '../media/mediaClock.js';

/** Figures of {@link benchRtp}. */
export interface RtpBenchResult {
  /** Packets per second through parse + stats + jitter push/pop. */
  pipelinePerSec: number;
  /** parseRtp calls per second. */
  parsePerSec: number;
  /** RtpReceiveStats.update calls per second. */
  statsPerSec: number;
  /** JitterBuffer push + pop pairs per second. */
  jitterPerSec: number;
  /** Packets in the allocation run. */
  allocPackets: number;
  /** Heap growth over the allocation run divided by its packets (valid when `gcDuringRun` is 0). */
  heapBytesPerPacket: number;
  /** Garbage collections that happened during the allocation run (0 means nothing was freed behind our back). */
  gcDuringRun: number;
  /** Media clock interval jitter p99 over a short real run, ms (0 when skipped). */
  clockJitterP99Ms: number;
  /** Media clock ticks in that run. */
  clockTicks: number;
}

const PAYLOAD = 160; // 20 ms of G.711
const RING = 64; // distinct datagram buffers, as if from the socket

/**
 * The whole receive path for one stream, with every buffer preallocated, stepped one packet
 * at a time. A class with methods so the loop has no per-packet closures either.
 */
class Pipeline {
  readonly bufs: Buffer[] = [];
  readonly h: RtpHeader = createRtpHeader();
  readonly stats = new RtpReceiveStats({ clockRate: 8000 });
  readonly jb = new JitterBuffer({ samplesPerFrame: 160, maxPayload: 200 });
  readonly fields = { marker: false, payloadType: 0, sequence: 0, timestamp: 0, ssrc: 0x1234 };
  sink = 0;

  constructor() {
    for (let i = 0; i < RING; i++) {
      const b = Buffer.alloc(12 + PAYLOAD);
      b.fill(i, 12);
      this.bufs.push(b);
    }
  }

  /** Makes datagram `i` (the sender's side, not measured separately). */
  make(i: number): Buffer {
    const b = this.bufs[i & (RING - 1)]!;
    const f = this.fields;
    f.sequence = i & 0xffff;
    f.timestamp = (i * 160) >>> 0;
    writeRtpHeader(b, f);
    return b;
  }

  /** One packet through parse, stats and the jitter buffer, then one playout tick. */
  step(i: number): void {
    const b = this.make(i);
    const arrival = i * 20 + (i & 7); // a little jitter
    if (i % 50 !== 7) {
      // 2 % loss exercises the 'lost' path
      const h = this.h;
      if (parseRtp(b, b.length, h) === RtpParseResult.Ok) {
        this.stats.update(h.sequence, h.timestamp, arrival, b.length);
        this.jb.push(h.sequence, h.timestamp, b, h.payloadOffset, h.payloadLength, arrival);
      } else {
        this.stats.countMalformed();
      }
    }
    const out = this.jb.pop();
    this.sink += out.length;
  }

  parseOnly(i: number): void {
    const b = this.bufs[i & (RING - 1)]!;
    this.sink += parseRtp(b, b.length, this.h);
  }

  statsOnly(i: number): void {
    this.stats.update(i & 0xffff, (i * 160) >>> 0, i * 20 + (i & 7), 172);
  }

  jitterOnly(i: number): void {
    const b = this.bufs[i & (RING - 1)]!;
    this.jb.push(i & 0xffff, (i * 160) >>> 0, b, 12, PAYLOAD, i * 20);
    this.sink += this.jb.pop().length;
  }
}

/** Runs `fn(i)` with increasing `i` for `durationMs`; returns calls per second. */
function rate(p: Pipeline, fn: (this: Pipeline, i: number) => void, durationMs: number, startAt: number): number {
  for (let i = 0; i < 50_000; i++) fn.call(p, startAt + i);
  let n = 0;
  let i = startAt + 50_000;
  const start = process.hrtime.bigint();
  const limit = BigInt(Math.round(durationMs)) * 1_000_000n;
  let elapsed = 0n;
  while (elapsed < limit) {
    for (let k = 0; k < 10_000; k++) fn.call(p, i++);
    n += 10_000;
    elapsed = process.hrtime.bigint() - start;
  }
  return Math.round(n / (Number(elapsed) / 1e9));
}

/** `global.gc`, enabling `--expose-gc` at run time when Node was started without it. */
function getGc(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') return g;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

/** Heap bytes per packet of the full pipeline over `packets` packets. */
async function measureAllocation(packets: number): Promise<{ bytesPerPacket: number; gcs: number }> {
  const gc = getGc();
  const p = new Pipeline();
  for (let i = 0; i < 200_000; i++) p.step(i); // warm up: JIT settled, field types stable
  let gcs = 0;
  const obs = new PerformanceObserver((list) => {
    gcs += list.getEntries().length;
  });
  obs.observe({ entryTypes: ['gc'] });
  gc();
  gc();
  // the observer reports asynchronously: let the two forced collections arrive, then zero
  await new Promise((r) => setTimeout(r, 20));
  gcs = 0;
  const before = process.memoryUsage().heapUsed;
  const base = 200_000;
  for (let i = 0; i < packets; i++) p.step(base + i);
  const after = process.memoryUsage().heapUsed;
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 10));
  obs.disconnect();
  if (p.sink === -1) console.log(p.sink);
  return { bytesPerPacket: (after - before) / packets, gcs };
}

/** Runs the media clock for `ms` and reports its interval jitter p99. */
async function clockRun(ms: number): Promise<{ p99: number; ticks: number }> {
  if (ms <= 0) return { p99: 0, ticks: 0 };
  const clock = new MediaClock();
  clock.add({ onTick: () => undefined });
  clock.start();
  await new Promise((r) => setTimeout(r, ms));
  clock.stop();
  const s = clock.stats();
  return { p99: s.intervalJitterP99Ms, ticks: s.ticks };
}

/** Measures everything; `durationMs` per throughput figure, `packets` for the allocation run. */
export async function benchRtp(durationMs = 1500, packets = 1_000_000, clockMs = 2000): Promise<RtpBenchResult> {
  const p = new Pipeline();
  /* eslint-disable @typescript-eslint/unbound-method -- rate() calls each method with `this` = a Pipeline */
  const pipelinePerSec = rate(p, Pipeline.prototype.step, durationMs, 0);
  const parsePerSec = rate(new Pipeline(), Pipeline.prototype.parseOnly, durationMs, 0);
  const statsPerSec = rate(new Pipeline(), Pipeline.prototype.statsOnly, durationMs, 0);
  const jitterPerSec = rate(new Pipeline(), Pipeline.prototype.jitterOnly, durationMs, 0);
  /* eslint-enable @typescript-eslint/unbound-method */
  const alloc = await measureAllocation(packets);
  const clock = await clockRun(clockMs);
  return {
    pipelinePerSec,
    parsePerSec,
    statsPerSec,
    jitterPerSec,
    allocPackets: packets,
    heapBytesPerPacket: alloc.bytesPerPacket,
    gcDuringRun: alloc.gcs,
    clockJitterP99Ms: clock.p99,
    clockTicks: clock.ticks,
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const ms = Number(process.argv[2] ?? 1500);
  const packets = Number(process.argv[3] ?? 1_000_000);
  const r = await benchRtp(ms, packets);
  const f = (n: number): string => n.toLocaleString('en');
  const ns = (perSec: number): string => (1e9 / perSec).toFixed(0);
  console.log('RTP receive path, one stream, one core (G.711 20 ms, 172-byte datagrams)');
  console.log(`parse + stats + jitter push/pop: ${f(r.pipelinePerSec)} packets/s (${ns(r.pipelinePerSec)} ns/packet)`);
  console.log(`  parseRtp alone:                ${f(r.parsePerSec)} /s (${ns(r.parsePerSec)} ns)`);
  console.log(`  RtpReceiveStats.update alone:  ${f(r.statsPerSec)} /s (${ns(r.statsPerSec)} ns)`);
  console.log(`  JitterBuffer push+pop alone:   ${f(r.jitterPerSec)} /s (${ns(r.jitterPerSec)} ns)`);
  console.log(
    `heap allocation: ${r.heapBytesPerPacket.toFixed(4)} bytes/packet over ${f(r.allocPackets)} packets ` +
      `(GCs during run: ${r.gcDuringRun}${r.gcDuringRun > 0 ? ' — something allocated; the figure is a lower bound' : ''})`,
  );
  console.log(`media clock: ${r.clockTicks} ticks in 2 s, interval jitter p99 ${r.clockJitterP99Ms.toFixed(3)} ms`);
}
