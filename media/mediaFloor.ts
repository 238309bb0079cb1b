/**
 * A media floor: the entry of one media worker thread (`mediaWorkers` start parameter). It runs
 * the same classes as the main thread's media (MediaSession, MediaPump, DriftCorrectedMediaClock,
 * RtpPortAllocator, CallRecorder, the IVR streams) for the calls the engine assigned to it, with
 * its own clock and pump, so its ticks never wait for signalling. It owns the RTP/RTCP sockets
 * of those calls (a dgram socket cannot move between threads, so each call's ports are bound
 * here from the start). Commands and events are the messages of media/mediaFloorProtocol.ts.
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DriftCorrectedMediaClock, type MediaClockListener } from './mediaClock.js';
import { MediaPump } from './mediaPump.js';
import { RtpPortAllocator } from './rtpSocket.js';
import { MediaSession, type MediaFramePort, type MediaLevels, type RawRtpData } from './session.js';
import { CallRecorder } from './callRecorder.js';
import { FloorClockWriter } from './floorClockFigures.js';
import type { IvrRxStream, IvrTxStream } from './ivr.js';
import { raiseThreadPriority, resetThreadPriority } from '../ffi/sched.js';
import { RealtimeGuard, threadCpuMs } from './realtimeGuard.js';
import { MediaYieldGate } from './yieldGate.js';
import { SlackQueue } from './slackQueue.js';
import {
  CommandRing,
  FrameRing,
  MessageBatch,
  SLOT_FIELDS,
  SLOT_LEVEL_TICKS,
  SLOT_PACKETS_IN,
  SLOT_QUALITY,
  SLOT_RTP,
  rawVerdictIndex,
  SLOT_RX_PEAK,
  SLOT_RX_RMS,
  SLOT_TX_PEAK,
  SLOT_TX_RMS,
  type FloorInit,
  type FromFloor,
  type ToFloor,
} from './mediaFloorProtocol.js';

/** How often the packet and RTP counters are copied to the shared slots, ms. */
const COUNTER_MS = 250;
/** The guard reads the thread's CPU every this many counter rounds (1 s). */
const GUARD_EVERY = 4;
/** Longest run of queued commands before the floor lets its I/O in, ms. */
const WORK_BUDGET_MS = 2;
/** Queued commands stop this long before the clock's next tick is due, ms. */
const WORK_MARGIN_MS = 1;

/**
 * A call's frame port onto its two rings: what the bridge on the main thread mixes. The rings
 * decouple the two threads' clocks, so the call may sit in any of this floor's phase groups.
 */
class RingFramePort implements MediaFramePort {
  readonly mixedElsewhere = true;
  private readonly up: FrameRing;
  private readonly down: FrameRing;
  private readonly out = new Int16Array(FrameRing.FRAME);

  constructor(
    sab: SharedArrayBuffer,
    readonly rate: number,
  ) {
    this.up = new FrameRing(sab, 0);
    this.down = new FrameRing(sab, 1);
  }

  putFrame(pcm: Int16Array): void {
    this.up.write(pcm, this.rate / 50);
  }

  getFrame(): Int16Array {
    // no mix yet (or the main thread fell behind): silence
    if (!this.down.read(this.out, this.rate / 50)) this.out.fill(0);
    return this.out;
  }
}

/** One call's media on this floor. */
interface FloorCall {
  session: MediaSession;
  slot: number;
  /**
   * The raw RTP handler's verdicts, one byte per direction and payload type (index
   * `(transmitting ? 128 : 0) + payloadType`, 1 = drop): the handler runs on the main thread, so
   * its choice for a packet is applied here to the packets of that kind that follow. Made by the
   * first handler: most calls never have one, and a storm's calls each made 256 bytes off the heap.
   */
  rawDrop: Uint8Array | null;
}

const init = workerData as FloorInit;
const port = parentPort!;
// before the clock starts: the tick must get a core at once when it wakes (ffi/sched.ts)
const rank = raiseThreadPriority(init.priority ?? 'normal');
port.postMessage([{ t: 'sched', result: rank }] satisfies FromFloor[]);
/** A real-time floor's safety valve (media/realtimeGuard.ts); none for a thread that is not real-time. */
const guard = rank.applied === 'realtime' ? new RealtimeGuard() : null;
const slots = new Int32Array(init.slots);
/** Commands left for this floor's next phase ({@link CommandRing}): read after each phase's media. */
const commands = new CommandRing(init.commands);
// cut into the engine's phase groups: the floor's calls are spread over the tick, each group
// sent at its own offset, so a call waits behind its own group only and one phase holds this
// thread for a share of the tick's work (docs/architecture.md, "Phase groups on the floors")
const clock = new DriftCorrectedMediaClock({ phases: init.phases ?? 1 });
const pump = MediaPump.attach(clock);
clock.start();
const allocator = new RtpPortAllocator({ host: init.host, minPort: init.minPort, maxPort: init.maxPort, strategy: init.strategy, transport: init.transport });
/** The clock figures and port use the main thread reads (getMediaClockStatistics, the overload guard). */
const figures = new FloorClockWriter(init.clockBox);
const calls = new Map<number, FloorCall>();
// after each tick's media: every call's quality inputs, so that a hang-up reads them without a
// synchronous request to this floor (Call.finish on the main thread); with phase groups that is
// after the tick's last phase (this listener comes after the pump in each dispatch)
function writeQuality(): void {
  for (const c of calls.values()) c.session.writeQualityInputs(slots, c.slot * SLOT_FIELDS + SLOT_QUALITY);
}
const lastPhase = clock.phases - 1;
clock.add({
  onTick: () => {
    if (lastPhase === 0) writeQuality();
    commands.read(batchesHandled, takeCommand);
    // commands that gave way to this tick go on in its slack
    work.afterTick();
  },
  onPhase: (_tick, phase) => {
    if (phase === lastPhase) writeQuality();
    commands.read(batchesHandled, takeCommand);
    // ... and to each of its phases
    work.afterTick();
  },
});
/** Recordings by call: kept past the session's stop, until the main thread's stop collects the result. */
const recorders = new Map<number, CallRecorder>();
const box = new Int32Array(init.statsBox, 0, 3);
const boxBytes = new Uint8Array(init.statsBox, 12);
const encoder = new TextEncoder();
const rxChannels = new Map<number, IvrRxStream>();
const txChannels = new Map<number, IvrTxStream>();

/** What this task says to the main thread, posted as one message when the task ends. */
const out = new MessageBatch<FromFloor>((batch, transfer) => port.postMessage(batch, transfer));
function post(m: FromFloor, transfer?: ArrayBuffer[]): void {
  out.push(m, transfer);
}

/**
 * Commands run in the clock's slack, in arrival order (docs/architecture.md, "Media workers"):
 * a burst of them (a set-up storm) no longer runs to its end before a due tick. A statistics
 * read the main thread waits for is urgent: only a due tick holds it up.
 */
const gate = new MediaYieldGate({ budgetMs: WORK_BUDGET_MS, marginMs: WORK_MARGIN_MS });
gate.setClock(clock);
const work = new SlackQueue<ToFloor>(
  {
    now: () => performance.now(),
    shouldYield: (batchStartMs) => gate.shouldYield(batchStartMs),
    tickPending: () => gate.phaseDue(),
    tickLate: () => gate.phaseDue(0),
    later: (fn) => void setImmediate(fn),
  },
  {
    run: (m) => handle(m),
    urgent: (m) => m.t === 'statsSync',
  },
);

let rounds = 0;
// no statistics objects here: the main thread reads a call's statistics on demand (statsSync)
// and gets them with the stop; what it polls sits in the slot (docs/architecture.md)
const counters = setInterval(() => {
  for (const c of calls.values()) {
    const base = c.slot * SLOT_FIELDS;
    Atomics.store(slots, base + SLOT_PACKETS_IN, c.session.mediaPacketsIn);
    c.session.writeRtpCounters(slots, base + SLOT_RTP);
  }
  figures.publish(clock.stats(), clock.sendTiming, calls.size, pump.groupSizes());
  if (guard !== null && ++rounds % GUARD_EVERY === 0) watchRank(guard);
}, COUNTER_MS);
counters.unref();

/**
 * Once a second on a real-time floor: a thread that kept its core saturated steps down to
 * `'high'`, and is raised again once quiet (media/realtimeGuard.ts); the main thread logs each step.
 */
function watchRank(g: RealtimeGuard): void {
  const verdict = g.observe(threadCpuMs(), performance.now());
  if (verdict === null) return;
  const pct = Math.round(g.lastShare * 100);
  if (verdict === 'down') {
    resetThreadPriority();
    const r = raiseThreadPriority('high');
    const why = `stepped down from SCHED_FIFO: the thread kept ${pct} % of a core busy for ${RealtimeGuard.ROUNDS} s`;
    post({ t: 'sched', step: 'down', result: { ...r, requested: 'realtime', reason: r.reason === '' ? why : `${why}; ${r.reason}` } });
    return;
  }
  const r = raiseThreadPriority('realtime');
  const why = `raised again after ${RealtimeGuard.QUIET_ROUNDS} s under ${RealtimeGuard.QUIET_LIMIT * 100} % of a core`;
  post({ t: 'sched', step: 'up', result: { ...r, reason: r.reason === '' ? why : `${why}; ${r.reason}` } });
}

/**
 * Test hook: holds the thread busy in 50 ms pieces (the clock, its timers and the guard run
 * between them) until `until`, or until the guard has stepped the thread down.
 */
function spin(until: number): void {
  const end = Math.min(until, performance.now() + 50);
  while (performance.now() < end) {
    // busy on purpose
  }
  if (performance.now() < until && guard?.steppedDown !== true) setImmediate(spin, until);
}

async function open(id: number, slot: number, o: Extract<ToFloor, { t: 'open' }>['o']): Promise<void> {
  const opened = await MediaSession.open({
    clock,
    pump,
    allocator,
    localAddress: o.localAddress,
    dtmfDetect: o.dtmfDetect,
    jitterMs: o.jitterMs,
    jitterEnabled: o.jitterEnabled,
    cname: o.cname,
    phoneLine: o.phoneLine,
    onDtmf: (digit, method) => post({ t: 'dtmf', id, digit, method }),
    onMediaConflict: (address, p) => post({ t: 'conflict', id, address, port: p }),
    onWaveEnd: (path) => post({ t: 'wavEnd', id, path }),
    onHandlerError: (err, count) => post({ t: 'handlerError', id, message: err instanceof Error ? err.message : String(err), count }),
  });
  figures.portsInUse(allocator.inUse);
  if (!(opened instanceof MediaSession)) {
    post({ t: 'openFailed', id, error: opened.message });
    return;
  }
  const s = opened;
  s.setVolume(o.volume.rx, o.volume.tx);
  s.setLoopback(o.loopback);
  if (o.keepAliveMs > 0) s.setKeepAlive(o.keepAliveMs);
  s.setOpusSettings(o.opus);
  s.setSilenceSuppression(o.suppression);
  calls.set(id, { session: s, slot, rawDrop: null });
  post({ t: 'opened', id, localPort: s.localPort });
}

function levelTap(slot: number): (lv: MediaLevels) => void {
  const base = slot * SLOT_FIELDS;
  return (lv) => {
    slots[base + SLOT_RX_PEAK] = lv.rxPeak;
    slots[base + SLOT_RX_RMS] = Math.round(lv.rxRms);
    slots[base + SLOT_TX_PEAK] = lv.txPeak;
    slots[base + SLOT_TX_RMS] = Math.round(lv.txRms);
    Atomics.add(slots, base + SLOT_LEVEL_TICKS, 1);
  };
}

function rawTap(id: number, drop: Uint8Array): (d: RawRtpData) => void {
  // a copy per packet crosses (the application asked for every packet); the verdict applied is
  // the handler's last one for this direction and payload type
  return (d) => {
    if (drop[rawVerdictIndex(d.transmittingPacket, d.payloadType)] === 1) d.processRtpPacket = false;
    const copy = new Uint8Array(d.packet.length);
    copy.set(d.packet);
    post({ t: 'raw', id, transmitting: d.transmittingPacket, packet: copy, payloadOffset: d.packet.length - d.payload.length }, [copy.buffer]);
  };
}

async function stopCall(id: number): Promise<void> {
  const c = calls.get(id);
  if (c === undefined) {
    post({ t: 'stopped', id });
    return;
  }
  calls.delete(id);
  await c.session.stop();
  figures.portsInUse(allocator.inUse);
  post({ t: 'stats', list: [[id, c.session.stats()]] });
  Atomics.store(slots, c.slot * SLOT_FIELDS + SLOT_PACKETS_IN, c.session.mediaPacketsIn);
  post({ t: 'stopped', id });
  // for the next call, once the statistics above are posted (at the end of this task)
  setImmediate(release, c.session);
}

function release(session: MediaSession): void {
  session.release();
}

function startRecording(id: number, c: FloorCall, m: Extract<ToFloor, { t: 'rec' }>): void {
  const opened = CallRecorder.open({
    phoneLine: 0,
    path: m.path,
    raw: m.raw,
    sampleRate: m.rate,
    channels: m.channels,
    ...(m.frames
      ? {
          callback: (f) =>
            post({ t: 'recFrame', id, rate: f.sampleRate, rx: f.rx.slice(0, f.samples), tx: f.tx.slice(0, f.samples), mixed: f.mixed.slice(0, f.samples) }),
        }
      : {}),
    onError: (reason) => post({ t: 'recError', id, reason }),
  });
  if (!(opened instanceof CallRecorder)) {
    post({ t: 'recError', id, reason: opened.error });
    return;
  }
  recorders.set(id, opened);
  c.session.setRecorder(opened);
}

function handle(m: ToFloor): void {
  if (m.t === 'open') return void open(m.id, m.slot, m.o);
  if (m.t === 'stop') return void stopCall(m.id);
  if (m.t === 'stats') {
    // after a statistics read that timed out: fresh figures for the next one
    const c = calls.get(m.id);
    return void (c !== undefined && post({ t: 'stats', list: [[m.id, c.session.stats()]] }));
  }
  if (m.t === 'crash') throw new Error('media floor terminated on purpose (test hook)');
  if (m.t === 'spin') return spin(performance.now() + m.ms);
  if (m.t === 'statsSync') return answerStats(m.id, m.seq);
  if (m.t === 'shutdown') return void shutdown();
  if (m.t === 'recStop') {
    const r = recorders.get(m.id);
    recorders.delete(m.id);
    calls.get(m.id)?.session.setRecorder(null);
    if (r === undefined) return void post({ t: 'recDone', id: m.id, result: { path: null, samples: 0, sampleRate: 8000, error: 'not recording' } });
    return void r.stop().then((result) => post({ t: 'recDone', id: m.id, result }));
  }
  if (m.t === 'rxClose') return void rxChannels.get(m.ch)?.destroy();
  if (m.t === 'txWrite') {
    const tx = txChannels.get(m.ch);
    if (tx === undefined) return void post({ t: 'txAck', ch: m.ch, seq: m.seq, error: 'IVR Tx channel is closed' });
    tx.write(Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength), (err) =>
      post({ t: 'txAck', ch: m.ch, seq: m.seq, ...(err ? { error: err.message } : {}) }),
    );
    return;
  }
  if (m.t === 'txEnd') return void txChannels.get(m.ch)?.end();
  const c = calls.get(m.id);
  if (c === undefined) return;
  const s = c.session;
  switch (m.t) {
    case 'configure':
      if (!s.configure(m.p)) post({ t: 'configureFailed', id: m.id });
      return;
    case 'start':
      s.start();
      return;
    case 'set':
      (s[m.m] as (...a: unknown[]) => unknown).apply(s, m.a);
      return;
    case 'dtmf':
      s.sendDtmf(m.digits, m.method);
      return;
    case 'wav':
      void s.playWave(m.path, m.loop).then((r) => {
        if (r !== 'ok') post({ t: 'wavFailed', id: m.id, reason: r });
      });
      return;
    case 'levels':
      s.setLevelTap(m.on ? levelTap(c.slot) : null);
      return;
    case 'raw':
      // a new handler starts with every packet passing
      if (c.rawDrop === null) c.rawDrop = new Uint8Array(256);
      else c.rawDrop.fill(0);
      s.setRawRtpAccess(m.on ? rawTap(m.id, c.rawDrop) : undefined);
      return;
    case 'rawVerdict':
      if (c.rawDrop !== null) c.rawDrop[rawVerdictIndex(m.transmitting, m.payloadType)] = m.drop ? 1 : 0;
      return;
    case 'rec':
      startRecording(m.id, c, m);
      return;
    case 'rxOpen': {
      const rx = s.openRx(m.rate);
      rxChannels.set(m.ch, rx);
      rx.on('data', (b: Buffer) => {
        const copy = new Uint8Array(b.length);
        copy.set(b);
        post({ t: 'rxData', ch: m.ch, data: copy }, [copy.buffer]);
      });
      rx.on('close', () => {
        rxChannels.delete(m.ch);
        post({ t: 'rxEnd', ch: m.ch });
      });
      rx.on('end', () => rx.destroy());
      return;
    }
    case 'txOpen': {
      const tx = s.openTx(m.rate, m.onHold);
      txChannels.set(m.ch, tx);
      tx.on('error', () => undefined);
      tx.on('close', () => txChannels.delete(m.ch));
      return;
    }
    case 'frames':
      s.setFramePort(m.ring === null ? null : new RingFramePort(m.ring, m.rate));
      return;
  }
}

/** Writes a call's statistics into the reply box and wakes the main thread waiting on it. */
function answerStats(id: number, seq: number): void {
  const c = calls.get(id);
  const bytes = c === undefined ? 0 : encoder.encodeInto(JSON.stringify(c.session.stats()), boxBytes).written;
  box[1] = bytes;
  box[2] = seq;
  Atomics.store(box, 0, 1);
  Atomics.notify(box, 0);
}

/** Ends every session and recording, stops the clock, and lets the thread end by itself. */
async function shutdown(): Promise<void> {
  clearInterval(counters);
  await Promise.all([...calls.keys()].map((id) => stopCall(id)));
  await Promise.all([...recorders.values()].map((r) => r.stop()));
  recorders.clear();
  // the parked pairs' descriptors are the process's: a thread's end would not close them
  allocator.close();
  pump.detach();
  clock.stop();
  out.flush();
  port.close();
  // in a worker this ends the thread only (a lazily loaded native library may hold a handle)
  setImmediate(() => process.exit(0));
}

/**
 * A fault nobody caught: close every socket first, then end the thread (exit code 1, which the
 * main thread reports as the floor's loss). Node aborts the whole process when a UDP socket
 * receives while its worker is being torn down, so the thread must not end with sockets open.
 */
async function dieCleanly(): Promise<void> {
  clearInterval(counters);
  const stops = [...calls.values()].map((c) => c.session.stop());
  calls.clear();
  allocator.close();
  await Promise.race([Promise.all(stops), new Promise((r) => setTimeout(r, 500))]);
  process.exit(1);
}
process.on('uncaughtException', () => void dieCleanly());

/** Message batches handled: a ring record waits for the batches posted before it. */
let batchesHandled = 0;
const takeCommand = (m: unknown): void => work.push(m as ToFloor);
port.on('message', (batch: ToFloor[]) => {
  // what was left in the ring before this batch was posted goes first
  commands.read(batchesHandled, takeCommand);
  for (const m of batch) work.push(m);
  batchesHandled++;
  commands.read(batchesHandled, takeCommand);
});
// ready once the clock has ticked and its figures are published: the engine may give this floor
// calls, its start may resolve, and its clock statistics already show the floor running
const firstTick: MediaClockListener = {
  onTick: () => {
    clock.remove(firstTick);
    // after the tick, so the figures count it
    setImmediate(() => {
      figures.publish(clock.stats(), clock.sendTiming, calls.size, pump.groupSizes());
      post({ t: 'ready' });
    });
  },
};
clock.add(firstTick);
