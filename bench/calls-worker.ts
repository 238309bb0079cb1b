/**
 * Child process of `bench/calls.ts`: hosts one thing whose cost is measured on its own event
 * loop and CPU, driven by the parent over the IPC channel:
 * - a {@link VoipMediaEngine} that places or answers calls (G.711 or Opus) and reports media
 *   statistics between a `mark` and a `measure`;
 * - a bare `node:dgram` stand-in for the same traffic (one socket per "call", 172-byte
 *   datagrams every 20 ms from one drift-corrected timer), the raw Node UDP reference;
 * - a `node:dgram` ping-pong for the raw datagram ceiling of one process.
 *
 * Requests are `{ id, cmd, ...args }`; every reply is `{ id, ok: true, ...result }` or
 * `{ id, ok: false, error }`. Start it with `fork()` (and `--expose-gc` for `mem`).
 * @module
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import { Session } from 'node:inspector';
import v8 from 'node:v8';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { VoipMediaEngine, TelephonyReturnValue as T, LineState, MediaFormatAudio, type Notification, type RawRtpData } from '../index.js';
import type { MediaClockStats } from '../media/mediaClock.js';
import type { MediaSessionStats } from '../media/session.js';
import type { SrtpSuite } from '../sip/sdes.js';

/** A request from the parent. */
export interface WorkerRequest {
  /** Correlates the reply. */
  id: number;
  /** What to do. */
  cmd: string;
  /** Arguments, by command. */
  [arg: string]: unknown;
}

/** Figures of one process between `mark` and `measure`. */
export interface WindowFigures {
  /** Wall seconds of the window. */
  seconds: number;
  /** CPU of this process over the window, percent of one core (user + system). */
  cpuPct: number;
  /** Calls (or raw flows) measured: present at both mark and measure. */
  calls: number;
  /** Calls that were up at mark but gone at measure. */
  droppedCalls: number;
  /** Packets expected by sequence numbers, all measured calls. */
  expected: number;
  /** Packets received. */
  received: number;
  /** expected − received. */
  lost: number;
  /** Frames played as concealment (lost or late packets, playout gaps). */
  concealed: number;
  /** Packets the jitter buffer got after their playout time. */
  late: number;
  /** Packets sent. */
  sent: number;
  /** Media clock (or raw timer) ticks in the window. */
  ticks: number;
  /** Ticks that ran more than one period late, plus ticks skipped. */
  lateTicks: number;
  /** 99th percentile of |interval − 20 ms| between consecutive packets SENT on the sampled lines, ms. */
  txIntervalP99Ms: number;
  /** Largest |interval − 20 ms| between sent packets on the sampled lines, ms. */
  txIntervalMaxMs: number;
  /** 99th percentile of |interval − 20 ms| between packets as this process's JS saw them ARRIVE, ms. */
  rxIntervalP99Ms: number;
  /** Event loop delay p99 over the window, ms. */
  loopDelayP99Ms: number;
  /** Event loop delay max over the window, ms. */
  loopDelayMaxMs: number;
}

/** Sends a reply to the parent. */
function reply(msg: object): void {
  process.send?.(msg);
}

/** p99 and max of |interval − 20 ms| over a list of interval arrays (ns). */
function intervalJitter(lists: number[][]): { p99: number; max: number } {
  const dev: number[] = [];
  for (const l of lists) for (const v of l) dev.push(Math.abs(v / 1e6 - 20));
  if (dev.length === 0) return { p99: 0, max: 0 };
  dev.sort((a, b) => a - b);
  return { p99: dev[Math.min(dev.length - 1, Math.ceil(dev.length * 0.99) - 1)]!, max: dev[dev.length - 1]! };
}

/** Interval recorder of one sampled line or socket: consecutive hrtime gaps, tx and rx. */
class IntervalProbe {
  /** Gaps between sent packets, ns. */
  readonly tx: number[] = [];
  /** Gaps between received packets, ns. */
  readonly rx: number[] = [];
  private lastTx = 0n;
  private lastRx = 0n;

  /** Records one sent packet now. */
  sent(): void {
    const now = process.hrtime.bigint();
    if (this.lastTx !== 0n) this.tx.push(Number(now - this.lastTx));
    this.lastTx = now;
  }

  /** Records one received packet now. */
  received(): void {
    const now = process.hrtime.bigint();
    if (this.lastRx !== 0n) this.rx.push(Number(now - this.lastRx));
    this.lastRx = now;
  }
}

/** Counters of one call at `mark`. */
interface CallMark {
  callId: string;
  expected: number;
  received: number;
  lost: number;
  concealed: number;
  late: number;
  sent: number;
}

let engine: VoipMediaEngine | undefined;
let engineLines = 0;
let callsPlaced = 0;
let callsFailed = 0;

/** State between mark and measure. */
let window:
  | {
      t0: bigint;
      cpu0: NodeJS.CpuUsage;
      calls: Map<number, CallMark>;
      ticks0: number;
      late0: number;
      probes: IntervalProbe[];
      eld: IntervalHistogram;
    }
  | undefined;

/** The engine's media clock figures (ticks, late ticks, interval jitter); with media workers, their clocks merged. */
function clockOf(e: VoipMediaEngine): { stats(): MediaClockStats } | undefined {
  const r = e.getMediaClockStatistics();
  if (r.result !== T.SipSuccess) return undefined;
  return { stats: () => e.getMediaClockStatistics() as MediaClockStats };
}

/** Statistics of the call on a line, or undefined. */
function lineStats(e: VoipMediaEngine, line: number): { callId: string; s: MediaSessionStats } | undefined {
  const info = e.getActiveCallInfo(line);
  if (info.result !== T.SipSuccess || !info.connected || !info.statistics || !info.callId) return undefined;
  return { callId: info.callId, s: info.statistics as MediaSessionStats };
}

/** Lines spread over `0..n-1` to sample intervals on (first, last and evenly between). */
function sampleIndexes(n: number, count: number): number[] {
  if (n <= 0) return [];
  const out = new Set<number>();
  for (let i = 0; i < count; i++) out.add(Math.min(n - 1, Math.round((i * (n - 1)) / Math.max(1, count - 1))));
  return [...out];
}

// ------------------------------------------------------------------------------ engine

async function startEngine(req: WorkerRequest): Promise<object> {
  const lines = Number(req.lines);
  engine = new VoipMediaEngine();
  engineLines = lines;
  const rc = await engine.startSipTelephony({
    ipAddressOfThisHost: '127.0.0.1',
    sipPort: 0,
    numPhoneLinesRequested: lines,
    phoneName: typeof req.phoneName === 'string' ? req.phoneName : 'bench',
    minLocalRtpPort: Number(req.rtpMin),
    maxLocalRtpPort: Number(req.rtpMax),
    // in-band DTMF detection off, as pjsua's comparison has none; BENCH_DTMF_DETECT=1 measures
    // the engine's default (dtmfEnabled: true, a detector on every received frame)
    dtmfEnabled: process.env.BENCH_DTMF_DETECT === '1',
    callAnswerTimeoutSeconds: 60,
    // bench:calls workers / f: media in this many worker threads; the other parts and rows
    // measure media on the main thread, whatever the engine's default
    mediaWorkers: typeof req.mediaWorkers === 'number' ? req.mediaWorkers : 0,
    // every part: the RTP transport, from the request (part e's variants), else
    // BENCH_RTP_TRANSPORT, else dgram, so the README's earlier figures keep their meaning;
    // 'default' leaves it to the engine (part e's `defaults` variant)
    ...(req.rtpTransport === 'default'
      ? {}
      : { rtpTransport: req.rtpTransport === 'native' || req.rtpTransport === 'dgram' ? req.rtpTransport : process.env.BENCH_RTP_TRANSPORT === 'native' ? 'native' : 'dgram' }),
    // bench:calls e: the media worker threads' scheduling priority
    ...(typeof req.mediaThreadPriority === 'string' ? { mediaThreadPriority: req.mediaThreadPriority as 'normal' | 'high' | 'realtime' } : {}),
    // bench:calls e: the media clock's phase groups and signalling's yield, on or off
    ...(typeof req.mediaPhaseGroups === 'number' ? { mediaPhaseGroups: req.mediaPhaseGroups } : {}),
    ...(typeof req.signallingYieldsToMedia === 'boolean' ? { signallingYieldsToMedia: req.signallingYieldsToMedia } : {}),
    // bench:calls f: a transaction table sized for the offered rate (each set-up leaves its INVITE and BYE transactions 32 s)
    ...(typeof req.maxServerTransactions === 'number' ? { maxServerTransactions: req.maxServerTransactions } : {}),
    // bench:calls f: SIPp is one source, a trunk or proxy in front (docs/security.md): no per-source rate
    ...(typeof req.requestRatePerSource === 'number' ? { requestRatePerSource: req.requestRatePerSource } : {}),
    // bench:calls srtp: every call SRTP (RTP/SAVP) with the one suite asked for
    ...(typeof req.srtp === 'string' ? { srtpPolicy: 'mandatory' as const, srtpSuites: [req.srtp as SrtpSuite] } : {}),
  });
  if (rc !== T.SipSuccess) throw new Error(`startSipTelephony: ${T[rc]}`);
  const only = req.codec === 'opus' ? MediaFormatAudio.Opus48k : req.codec === 'g722' ? MediaFormatAudio.G722 : req.codec === 'g729' ? MediaFormatAudio.G729 : undefined;
  if (only !== undefined) {
    for (let i = 0; i < lines; i++) engine.setAudioMediaFormats(i, [only]);
  }
  if (req.answer === true) {
    const e = engine;
    e.on('SipOkToAnswerCall', (n: Notification) => {
      e.goOffHook(n.phoneLine);
    });
  }
  return { port: engine.getSipPort() };
}

/** Places calls on free lines to `127.0.0.1:dest` until `target` lines are connected. */
async function placeCalls(req: WorkerRequest): Promise<object> {
  const e = engine!;
  const target = Math.min(Number(req.target), engineLines);
  const dest = Number(req.dest);
  const concurrency = Number(req.concurrency ?? 25);
  const t0 = Date.now();
  const connected = (): number => e.getNumActiveCalls().numActiveCalls ?? 0;
  let failedNow = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      if (connected() >= target) return;
      let line = -1;
      while (next < engineLines) {
        const l = next++;
        if (e.getActiveCallInfo(l).result === T.SipNoCallActive) {
          line = l;
          break;
        }
      }
      if (line < 0) return;
      callsPlaced++;
      const rc = await e.makeCall('far', '127.0.0.1', dest, line, true, 15_000);
      if (rc !== T.SipSuccess) {
        callsFailed++;
        failedNow++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  let up = 0;
  for (let i = 0; i < engineLines; i++) if (e.getActiveCallInfo(i).connected) up++;
  return { connected: up, failed: failedNow, seconds: (Date.now() - t0) / 1000 };
}

/** Lines playing the step's WAV (part c): each connected line starts it once. */
const playing = new Set<number>();

/**
 * Every connected line not yet playing starts the looping WAV at `req.path`: the bench lines then
 * carry a signal instead of digital silence, as speech calls do (a codec's cost depends on it).
 */
function playOnConnected(req: WorkerRequest): object {
  const e = engine!;
  let started = 0;
  for (let i = 0; i < engineLines; i++) {
    if (playing.has(i) || !e.getActiveCallInfo(i).connected) continue;
    const rc = e.playWaveFile(i, String(req.path), true);
    if (rc !== T.SipSuccess) throw new Error(`playWaveFile(${i}): ${T[rc]}`);
    playing.add(i);
    started++;
  }
  return { playing: playing.size, started };
}

async function hangUpAll(): Promise<object> {
  playing.clear();
  const e = engine!;
  const jobs: Promise<T>[] = [];
  for (let i = 0; i < engineLines; i++) {
    if (e.getActiveCallInfo(i).result === T.SipSuccess) jobs.push(e.terminateCall(i, true, 5000));
  }
  await Promise.all(jobs);
  return { ended: jobs.length };
}

function engineMark(req: WorkerRequest): object {
  const e = engine!;
  const calls = new Map<number, CallMark>();
  for (let i = 0; i < engineLines; i++) {
    const st = lineStats(e, i);
    if (!st) continue;
    const s = st.s;
    calls.set(i, { callId: st.callId, expected: s.rx.expected, received: s.rx.received, lost: s.rx.lost, concealed: s.concealedFrames, late: s.jitter.late, sent: s.tx.packets });
  }
  const probes: IntervalProbe[] = [];
  const active = [...calls.keys()];
  // with media workers raw RTP access crosses the thread once per packet: no probes (tx p99 not measured)
  const sample = e['run']?.mediaFloors !== undefined ? 0 : Number(req.sample ?? 8);
  for (const idx of sampleIndexes(active.length, sample)) {
    const line = active[idx]!;
    const probe = new IntervalProbe();
    probes.push(probe);
    e.enableRawRtpPacketAccess(line, true, (d: RawRtpData) => {
      if (d.transmittingPacket) probe.sent();
      else probe.received();
    });
  }
  const cs = clockOf(e)!.stats();
  const eld = monitorEventLoopDelay({ resolution: 1 });
  eld.enable();
  window = { t0: process.hrtime.bigint(), cpu0: process.cpuUsage(), calls, ticks0: cs.ticks, late0: cs.lateTicks + cs.skippedTicks, probes, eld };
  return { calls: calls.size };
}

function engineMeasure(): WindowFigures {
  const e = engine!;
  const w = window!;
  window = undefined;
  const seconds = Number(process.hrtime.bigint() - w.t0) / 1e9;
  const cpu = process.cpuUsage(w.cpu0);
  w.eld.disable();
  if (process.env.BENCH_CLOCK_DUMP) {
    const c = e.getMediaClockStatistics() as MediaClockStats;
    for (const x of [c, ...(c.floors ?? [])]) process.stderr.write(`CLOCK ${JSON.stringify({ late: x.lateTicks, skip: x.skippedTicks, maxLate: x.maxLatenessMs, sliceP99: x.sliceP99Ms, sliceMax: x.sliceMaxMs, jit99: x.intervalJitterP99Ms, jitMax: x.intervalJitterMaxMs })}\n`);
  }
  for (let i = 0; i < engineLines; i++) e.enableRawRtpPacketAccess(i, false);
  const f = { calls: 0, droppedCalls: 0, expected: 0, received: 0, lost: 0, concealed: 0, late: 0, sent: 0 };
  for (const [line, m] of w.calls) {
    const st = lineStats(e, line);
    if (!st || st.callId !== m.callId) {
      f.droppedCalls++;
      continue;
    }
    const s = st.s;
    f.calls++;
    f.expected += s.rx.expected - m.expected;
    f.received += s.rx.received - m.received;
    f.lost += s.rx.lost - m.lost;
    f.concealed += s.concealedFrames - m.concealed;
    f.late += s.jitter.late - m.late;
    f.sent += s.tx.packets - m.sent;
  }
  const cs = clockOf(e)!.stats();
  // with media workers no probe: the floors' own send spacing (every line, their last ~5 s)
  const floors = e['run']?.mediaFloors !== undefined;
  const tx = floors ? { p99: cs.sendSpacingP99Ms ?? 0, max: cs.sendSpacingMaxMs ?? 0 } : intervalJitter(w.probes.map((p) => p.tx));
  const rx = intervalJitter(w.probes.map((p) => p.rx));
  return {
    seconds,
    cpuPct: ((cpu.user + cpu.system) / 1e6 / seconds) * 100,
    ...f,
    ticks: cs.ticks - w.ticks0,
    lateTicks: cs.lateTicks + cs.skippedTicks - w.late0,
    txIntervalP99Ms: tx.p99,
    txIntervalMaxMs: tx.max,
    rxIntervalP99Ms: rx.p99,
    loopDelayP99Ms: w.eld.percentile(99) / 1e6,
    loopDelayMaxMs: w.eld.max / 1e6,
  };
}

// ------------------------------------------------------------------------------ raw dgram flows

/** One raw flow: a socket sending 172-byte RTP-shaped datagrams to its peer every 20 ms. */
interface RawFlow {
  sock: dgram.Socket;
  port: number;
  peer: number;
  pkt: Buffer;
  seq: number;
  sent: number;
  received: number;
  firstSeq: number;
  maxSeq: number;
  probe?: IntervalProbe;
}

const RAW_PERIOD_NS = 20_000_000;
let rawFlows: RawFlow[] = [];
let rawTimer: NodeJS.Timeout | undefined;
let rawTicks = 0;
let rawLateTicks = 0;
let rawWindow: { t0: bigint; cpu0: NodeJS.CpuUsage; marks: Array<{ sent: number; received: number; expected: number }>; ticks0: number; late0: number; eld: IntervalHistogram } | undefined;

function bindSocket(onMessage: (msg: Buffer, port: number) => void): Promise<{ sock: dgram.Socket; port: number }> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    sock.once('error', reject);
    sock.on('message', (msg, rinfo) => onMessage(msg, rinfo.port));
    sock.bind(0, '127.0.0.1', () => {
      try {
        sock.setRecvBufferSize(262144);
        sock.setSendBufferSize(262144);
      } catch {
        // keep the OS default
      }
      resolve({ sock, port: sock.address().port });
    });
  });
}

/** Binds `n` more raw flow sockets; returns all their ports (in flow order). */
async function rawBind(req: WorkerRequest): Promise<object> {
  const n = Number(req.n);
  while (rawFlows.length < n) {
    const flow = { seq: 0, sent: 0, received: 0, firstSeq: -1, maxSeq: -1, pkt: Buffer.alloc(172) } as RawFlow;
    const { sock, port } = await bindSocket((msg) => {
      if (msg.length < 12) return;
      const seq = msg.readUInt32BE(8);
      flow.received++;
      if (flow.firstSeq < 0) flow.firstSeq = seq;
      if (seq > flow.maxSeq) flow.maxSeq = seq;
      flow.probe?.received();
    });
    flow.sock = sock;
    flow.port = port;
    flow.peer = 0;
    flow.pkt[0] = 0x80;
    rawFlows.push(flow);
  }
  return { ports: rawFlows.map((f) => f.port) };
}

/** Sets the peers of the flows and starts the 20 ms timer (once). */
function rawStart(req: WorkerRequest): object {
  const peers = req.peers as number[];
  for (let i = 0; i < peers.length && i < rawFlows.length; i++) rawFlows[i]!.peer = peers[i]!;
  if (rawTimer === undefined) {
    const origin = process.hrtime.bigint();
    let due = 0;
    const tick = (): void => {
      const now = Number(process.hrtime.bigint() - origin);
      let ran = 0;
      while (now + 1_000_000 >= due && ran < 5) {
        if (now - due > RAW_PERIOD_NS) rawLateTicks++;
        rawTicks++;
        for (const f of rawFlows) {
          if (f.peer === 0) continue;
          f.pkt.writeUInt16BE(f.seq & 0xffff, 2);
          f.pkt.writeUInt32BE(f.seq, 8);
          f.seq++;
          f.probe?.sent();
          f.sock.send(f.pkt, f.peer, '127.0.0.1');
          f.sent++;
        }
        due += RAW_PERIOD_NS;
        ran++;
      }
      if (now + 1_000_000 >= due) {
        const missed = Math.floor((now - due) / RAW_PERIOD_NS) + 1;
        rawLateTicks += missed;
        due += missed * RAW_PERIOD_NS;
      }
      const wait = Math.max(0, Math.floor((due - Number(process.hrtime.bigint() - origin)) / 1e6));
      rawTimer = setTimeout(tick, wait);
    };
    rawTimer = setTimeout(tick, 0);
  }
  return { flows: rawFlows.filter((f) => f.peer !== 0).length };
}

function rawMark(req: WorkerRequest): object {
  for (const f of rawFlows) f.probe = undefined;
  const active = rawFlows.filter((f) => f.peer !== 0);
  for (const idx of sampleIndexes(active.length, Number(req.sample ?? 8))) active[idx]!.probe = new IntervalProbe();
  const eld = monitorEventLoopDelay({ resolution: 1 });
  eld.enable();
  rawWindow = {
    t0: process.hrtime.bigint(),
    cpu0: process.cpuUsage(),
    marks: rawFlows.map((f) => ({ sent: f.sent, received: f.received, expected: f.maxSeq - f.firstSeq + 1 })),
    ticks0: rawTicks,
    late0: rawLateTicks,
    eld,
  };
  return { calls: active.length };
}

function rawMeasure(): WindowFigures {
  const w = rawWindow!;
  rawWindow = undefined;
  const seconds = Number(process.hrtime.bigint() - w.t0) / 1e9;
  const cpu = process.cpuUsage(w.cpu0);
  w.eld.disable();
  const f = { calls: 0, expected: 0, received: 0, lost: 0, sent: 0 };
  const probes: IntervalProbe[] = [];
  rawFlows.forEach((flow, i) => {
    const m = w.marks[i];
    if (!m || flow.peer === 0 || flow.firstSeq < 0) return;
    f.calls++;
    const expected = flow.maxSeq - flow.firstSeq + 1 - m.expected;
    const received = flow.received - m.received;
    f.expected += expected;
    f.received += received;
    f.lost += expected - received;
    f.sent += flow.sent - m.sent;
    if (flow.probe) probes.push(flow.probe);
    flow.probe = undefined;
  });
  const tx = intervalJitter(probes.map((p) => p.tx));
  const rx = intervalJitter(probes.map((p) => p.rx));
  return {
    seconds,
    cpuPct: ((cpu.user + cpu.system) / 1e6 / seconds) * 100,
    ...f,
    droppedCalls: 0,
    concealed: 0,
    late: 0,
    ticks: rawTicks - w.ticks0,
    lateTicks: rawLateTicks - w.late0,
    txIntervalP99Ms: tx.p99,
    txIntervalMaxMs: tx.max,
    rxIntervalP99Ms: rx.p99,
    loopDelayP99Ms: w.eld.percentile(99) / 1e6,
    loopDelayMaxMs: w.eld.max / 1e6,
  };
}

function rawStop(): object {
  if (rawTimer !== undefined) clearTimeout(rawTimer);
  rawTimer = undefined;
  for (const f of rawFlows) f.sock.close();
  rawFlows = [];
  return {};
}

// ------------------------------------------------------------------------------ raw ceiling (ping-pong)

let echoSockets: dgram.Socket[] = [];

/** Binds `n` sockets that send every datagram straight back to its sender. */
async function echoBind(req: WorkerRequest): Promise<object> {
  const n = Number(req.n);
  const ports: number[] = [];
  for (let i = 0; i < n; i++) {
    const { sock, port } = await bindSocket(() => undefined);
    sock.removeAllListeners('message');
    sock.on('message', (msg, rinfo) => sock.send(msg, rinfo.port, rinfo.address));
    echoSockets.push(sock);
    ports.push(port);
  }
  return { ports };
}

/**
 * Keeps `window` 172-byte datagrams in flight from each of `peers.length` sockets to its echo
 * peer for `seconds`; every datagram that comes back is sent again at once.
 */
async function pingPong(req: WorkerRequest): Promise<object> {
  const peers = req.peers as number[];
  const inFlight = Number(req.window ?? 8);
  const seconds = Number(req.seconds ?? 3);
  let returned = 0;
  let counting = false;
  let stop = false;
  const socks: dgram.Socket[] = [];
  for (const peer of peers) {
    const { sock } = await bindSocket(() => undefined);
    sock.removeAllListeners('message');
    sock.on('message', (msg) => {
      if (counting) returned++;
      if (!stop) sock.send(msg, peer, '127.0.0.1');
    });
    socks.push(sock);
    const pkt = Buffer.alloc(172);
    pkt[0] = 0x80;
    for (let k = 0; k < inFlight; k++) sock.send(pkt, peer, '127.0.0.1');
  }
  await new Promise((r) => setTimeout(r, 500));
  counting = true;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const got = returned;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  counting = false;
  stop = true;
  await new Promise((r) => setTimeout(r, 200));
  for (const s of socks) s.close();
  return { returnedPerSec: got / secs, cpuPct: ((cpu.user + cpu.system) / 1e6 / secs) * 100 };
}

/**
 * The scheduling floor of this machine now: a bare drift-corrected 20 ms timer (as the media
 * clock and the raw stand-in use) doing no work, for `seconds`.
 */
async function timerFloor(req: WorkerRequest): Promise<object> {
  const ticks = Math.round((Number(req.seconds ?? 3) * 1000) / 20);
  const probe = new IntervalProbe();
  const origin = process.hrtime.bigint();
  let due = 0;
  await new Promise<void>((resolve) => {
    let n = 0;
    const tick = (): void => {
      probe.sent();
      due += RAW_PERIOD_NS;
      if (++n >= ticks) {
        resolve();
        return;
      }
      setTimeout(tick, Math.max(0, Math.floor((due - Number(process.hrtime.bigint() - origin)) / 1e6)));
    };
    setTimeout(tick, 0);
  });
  const j = intervalJitter([probe.tx]);
  return { p99: j.p99, max: j.max };
}

function echoStop(): object {
  for (const s of echoSockets) s.close();
  echoSockets = [];
  return {};
}

// ------------------------------------------------------------------------------ dispatch

/** Memory of this process after two full garbage collections (needs --expose-gc). */
function mem(): object {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  return { memory: process.memoryUsage(), gcExposed: gc !== undefined };
}

// ------------------------------------------------------------------------------ far-end capture (part e)

/** Arrival spacing of the packets each connected line receives, as this (far-end) process sees them. */
let capture: { dev: number[]; last: Map<number, number>; eld: IntervalHistogram } | undefined;

/** Starts (or restarts) recording |interval − 20 ms| between packets arriving on every connected line. */
function captureStart(): object {
  const e = engine!;
  const last = new Map<number, number>();
  const dev: number[] = [];
  const eld = monitorEventLoopDelay({ resolution: 1 });
  eld.enable();
  let lines = 0;
  for (let i = 0; i < engineLines; i++) {
    if (!e.getActiveCallInfo(i).connected) continue;
    lines++;
    const line = i;
    e.enableRawRtpPacketAccess(line, true, (d: RawRtpData) => {
      if (d.transmittingPacket) return;
      const now = performance.now();
      const prev = last.get(line);
      if (prev !== undefined) capture?.dev.push(Math.abs(now - prev - 20));
      last.set(line, now);
    });
  }
  capture = { dev, last, eld };
  return { lines };
}

/** The figures since `captureStart` (or the previous take), and a fresh window. */
function captureTake(): object {
  const c = capture!;
  const dev = c.dev.sort((a, b) => a - b);
  const n = dev.length;
  const q = (x: number): number => (n === 0 ? 0 : dev[Math.min(n - 1, Math.ceil(n * x) - 1)]!);
  const out = { samples: n, p99: q(0.99), p999: q(0.999), max: n === 0 ? 0 : dev[n - 1]!, gaps40: dev.filter((d) => d > 20).length, loopP99: c.eld.percentile(99) / 1e6, loopMax: c.eld.max / 1e6 };
  c.eld.reset();
  capture = { dev: [], last: c.last, eld: c.eld };
  return out;
}

/** Stops the capture. */
function captureStop(): object {
  if (capture) capture.eld.disable();
  capture = undefined;
  for (let i = 0; i < engineLines; i++) engine?.enableRawRtpPacketAccess(i, false);
  return {};
}

// ------------------------------------------------------------------------------ CPU profile of a window

/** The inspector session of a running profile (main thread of this process only). */
let profiler: Session | undefined;

/** Posts one inspector command and resolves with its result. */
function post<R>(s: Session, method: string, params: object = {}): Promise<R> {
  return new Promise((resolve, reject) => s.post(method, params, (err, res) => (err ? reject(err) : resolve(res as R))));
}

/** Starts V8's sampling profiler on this process's main thread (steady state only, not the set-up). */
async function profileStart(req: WorkerRequest): Promise<object> {
  profiler = new Session();
  profiler.connect();
  await post(profiler, 'Profiler.enable');
  await post(profiler, 'Profiler.setSamplingInterval', { interval: Number(req.intervalUs ?? 200) });
  await post(profiler, 'Profiler.start');
  return {};
}

/** Ends an inspector session with `stop` (a method answering `{ profile }`) and writes the profile to `path`. */
async function stopAndWrite(s: Session, stop: string, path: unknown): Promise<object> {
  const { profile } = await post<{ profile: object }>(s, stop);
  s.disconnect();
  fs.writeFileSync(String(path), JSON.stringify(profile));
  return { path };
}

/** Stops the profile and writes it (`.cpuprofile`, for DevTools or a summary script) to `req.path`. */
async function profileStop(req: WorkerRequest): Promise<object> {
  const s = profiler!;
  profiler = undefined;
  return stopAndWrite(s, 'Profiler.stop', req.path);
}

/** The inspector session of a running allocation sample (main thread of this process only). */
let heapSampler: Session | undefined;

/**
 * Starts V8's sampling heap profiler keeping the samples of objects already collected, so the
 * profile shows what a window allocated (garbage included), not only what it left alive.
 */
async function heapSampleStart(req: WorkerRequest): Promise<object> {
  heapSampler = new Session();
  heapSampler.connect();
  await post(heapSampler, 'HeapProfiler.enable');
  await post(heapSampler, 'HeapProfiler.startSampling', {
    samplingInterval: Number(req.intervalBytes ?? 4096),
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  return {};
}

/** Stops the allocation sample and writes it (`.heapprofile`, for DevTools or a summary script) to `req.path`. */
async function heapSampleStop(req: WorkerRequest): Promise<object> {
  const s = heapSampler!;
  heapSampler = undefined;
  return stopAndWrite(s, 'HeapProfiler.stopSampling', req.path);
}

/** Writes a heap snapshot of this process's main thread to `req.path` (what a window left alive). */
function heapSnapshot(req: WorkerRequest): object {
  return { path: v8.writeHeapSnapshot(String(req.path)) };
}

/**
 * Part e: the media clocks that send (with media workers each floor's own, else the engine's)
 * and the floors' thread priorities; with CPU seconds per thread of this process so far
 * (`/proc/self/task`), to see which thread had the cores.
 */
function floorClock(): object {
  // with media workers this is the floors' figures merged (what the wire sees), each in `floors`
  const floors = engine?.['run']?.mediaFloors;
  const clocks = [engine ? (engine.getMediaClockStatistics() as MediaClockStats) : undefined];
  const threads: Array<{ tid: number; name: string; cpuS: number }> = [];
  try {
    for (const tid of fs.readdirSync('/proc/self/task')) {
      const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      threads.push({ tid: Number(tid), name, cpuS: (Number(f[11]) + Number(f[12])) / 100 });
    }
  } catch {
    // not Linux: no per-thread figures
  }
  return { clocks, priorities: floors?.threadPriorities() ?? [], threads, pid: process.pid };
}

const handlers: Record<string, (req: WorkerRequest) => object | Promise<object>> = {
  floorClock,
  profileStart,
  profileStop,
  heapSampleStart,
  heapSampleStop,
  heapSnapshot,
  captureStart,
  captureTake,
  captureStop,
  engine: startEngine,
  call: placeCalls,
  hangup: hangUpAll,
  play: playOnConnected,
  mark: (r) => (engine ? engineMark(r) : rawMark(r)),
  measure: () => (engine ? engineMeasure() : rawMeasure()),
  active: () => ({ active: engine?.getNumActiveCalls().numActiveCalls ?? 0, placed: callsPlaced, failed: callsFailed }),
  clock: () => ({ clock: engine ? clockOf(engine)?.stats() : undefined }),
  lineStates: () => {
    const states: Record<string, number> = {};
    for (let i = 0; i < engineLines; i++) {
      const name = LineState[engine!.getLineStatus(i).state] ?? 'unknown';
      states[name] = (states[name] ?? 0) + 1;
    }
    return { states };
  },
  rawBind,
  rawStart,
  rawStop,
  echoBind,
  echoStop,
  pingPong,
  timerFloor,
  mem,
  stopEngine: async () => {
    await engine?.stopSipTelephony();
    engine = undefined;
    return {};
  },
  exit: () => {
    setImmediate(() => process.exit(0));
    return {};
  },
};

process.on('message', (raw: unknown) => {
  const req = raw as WorkerRequest;
  const fn = handlers[req.cmd];
  if (!fn) {
    reply({ id: req.id, ok: false, error: `unknown command ${req.cmd}` });
    return;
  }
  Promise.resolve()
    .then(() => fn(req))
    .then(
      (res) => reply({ id: req.id, ok: true, ...res }),
      (err: unknown) => reply({ id: req.id, ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) }),
    );
});
process.on('disconnect', () => process.exit(0));
