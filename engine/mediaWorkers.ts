/**
 * Media workers (`mediaWorkers` start parameter): the main thread's side of the media floors
 * (media/mediaFloor.ts). {@link MediaFloors} starts one `worker_threads` worker per floor, gives
 * each new call to the floor with the fewest active calls, notices a floor that dies (its calls
 * are reported lost, and a fresh floor takes its place), and stops them with the run.
 * {@link FloorLineMedia} is a call's media as lines/ and engine/ see it (the {@link LineMedia}
 * interface, the same one a main-thread session has): each method becomes a small message to the
 * floor, or a read of the call's slot of shared counters; events from the floor come back as the
 * same callbacks the main-thread media calls. Why and what it costs: docs/architecture.md,
 * "Media workers".
 * @module
 */
import { Worker } from 'node:worker_threads';
import { Readable, Writable } from 'node:stream';
import { probeWav, type WavLoadResult } from '../media/wavPlayer.js';
import type { MediaNode, MediaPump } from '../media/mediaPump.js';
import type { DuplexMediaSink, MediaSink } from '../media/mediaPorts.js';
import { MediaSession, type ConferenceFramesLost, type MediaFramePort, type MediaLevels, type MediaSessionStats, type RawRtpData } from '../media/session.js';
import { CODEC_INFO, isCodecAvailable, isCodecName, type CodecName } from '../media/codecs.js';
import { callQualityFromInputs, callQualityFromStats, type CallQuality } from '../media/quality.js';
import { readRtpCounters, type RtpCounters } from '../media/rtpCounters.js';
import { isValidDtmfString } from '../media/dtmf.js';
import { srtpStatus } from '../ffi/srtp.js';
import type { OpusSettings } from '../media/opus.js';
import type { CallRecorderOptions, RecordingResult } from '../media/callRecorder.js';
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
  STATS_BOX_BYTES,
  type FloorOpenOptions,
  type FloorSetter,
  type FromFloor,
  type ToFloor,
} from '../media/mediaFloorProtocol.js';
import { FLOOR_CLOCK_BOX_BYTES, FloorClockMerger, FloorClockReader } from '../media/floorClockFigures.js';
import type { MediaClockStats } from '../media/mediaClock.js';
import { mediaParamsOf, type LineMedia } from '../lines/lineMedia.js';
import type { NegotiatedMedia } from '../sip/sdp.js';
import type { PhoneLine } from '../lines/phoneLine.js';
import type { ThreadPriority, ThreadPriorityResult } from '../ffi/sched.js';
import type { RealtimeSeat, RealtimeSeats } from '../media/realtimeSeats.js';

/** Young generation of a floor's V8 heap, MB (see the Floor constructor). */
export const FLOOR_YOUNG_GENERATION_MB = 4;

/** Highest `mediaWorkers` the start parameters accept. */
export const MAX_MEDIA_WORKERS = 64;

/**
 * How long {@link MediaFloors.start} waits for every floor's 'ready', ms: a worker loads the
 * media modules and starts its clock, well under a second on an idle machine, a few seconds on
 * a loaded one; a floor that takes longer is taken to be broken and the start fails.
 */
export const FLOOR_START_TIMEOUT_MS = 30_000;

/**
 * A replacement floor that dies before it is ready is started again at most this many times in
 * a row; then its place stays empty (the other floors take the calls), so a floor that cannot
 * start does not respawn for ever.
 */
export const FLOOR_RESTARTS = 3;

/** The last engine's floor start in this process: the next one waits for it (see MediaFloors.start). */
let startTurn: Promise<void> = Promise.resolve();

/**
 * How long a synchronous statistics read waits for the floor, ms, when nothing was asked of the
 * call since its last answer: a busy floor then gets its last figures (at most a second old).
 */
export const STATS_READ_MS = 10;

/**
 * How long the read waits when a command went to the call since its last answer (a recording
 * started or stopped, a setter, a hold): the figures must show what the command did (the floor
 * answers in order, after the command), so a loaded floor is given longer before the last
 * figures stand in. This is what keeps a recording's length equal to the ticks the statistics
 * count between its start and its stop.
 */
export const STATS_READ_AFTER_COMMAND_MS = 250;

/**
 * Commands that go by message (a wake) rather than through the floor's command ring: what the
 * main thread waits on synchronously (a statistics read), the floor's end, and a frame ring
 * (shared memory the ring's copy cannot carry). See {@link CommandRing}. An open, whose RTP port
 * the call's SDP needs, waits for the floor's next phase (at most 20 ms / `mediaPhaseGroups`,
 * 5 ms by default): a wake per call cost the main thread 13 µs, a twentieth of a set-up
 * (bench:calls f), and the floor answers a phase's opens in one message.
 */
const WAKES_FLOOR: ReadonlySet<ToFloor['t']> = new Set(['statsSync', 'shutdown', 'crash', 'spin', 'frames']);
/**
 * Commands that are plain data (no typed arrays, no shared memory, no NaN: every field comes
 * from a validated setting or a parsed SDP), so they cross the ring as JSON
 * ({@link CommandRing.write}); a setter's arguments are whatever the application passed and go
 * as structured clones.
 */
const PLAIN_DATA: ReadonlySet<ToFloor['t']> = new Set(['open', 'configure', 'start', 'stop', 'dtmf', 'wav', 'levels', 'raw', 'rawVerdict', 'rec', 'recStop', 'rxOpen', 'rxClose', 'txOpen', 'txEnd', 'stats']);

/** Options of {@link MediaFloors.start}. */
export interface MediaFloorsOptions {
  /** Number of floors (1..{@link MAX_MEDIA_WORKERS}). */
  count: number;
  /** Address RTP binds to. */
  host: string;
  /** The engine's RTP port range, shared out between the floors. */
  minPort: number;
  /** Last port of the range. */
  maxPort: number;
  /** Port choice within each floor's share. */
  strategy: 'sequential' | 'random';
  /** Calls a floor may hold at once (its shared-counter slots). */
  maxCalls: number;
  /** The main thread's pump: conference relays of floor calls take part in it. */
  pump: MediaPump;
  /** A floor died: each of its calls is reported here once (the engine ends the call). */
  onLost: (media: FloorLineMedia, floor: number, reason: string) => void;
  /** How far each floor raises its thread's scheduling priority (`mediaThreadPriority`; default normal). */
  priority?: ThreadPriority;
  /**
   * The real-time seats a `'realtime'` floor needs one of (the engine's: the machine's, or
   * `EngineOptions.realtimeSeats`); a floor without one runs at `'high'` (media/realtimeSeats.ts).
   */
  seats: RealtimeSeats;
  /** Each floor's RTP transport (`rtpTransport`; default dgram). */
  transport?: 'dgram' | 'native';
  /**
   * A floor started and says what priority its thread got (and why less than asked), or a
   * real-time floor stepped down (saturated) or was raised again (`step`; media/realtimeGuard.ts).
   */
  onPriority?: (floor: number, result: ThreadPriorityResult, step?: 'down' | 'up') => void;
  /** Phase groups of each floor's clock and pump (`mediaPhaseGroups`; default 1). */
  phases?: number;
}

/** What a call's media reports back (as {@link OpenLineMediaOptions} in lines/lineMedia.ts). */
export interface FloorCallbacks {
  /** A DTMF digit was received. */
  onDtmf: (digit: string, method: 'rfc4733' | 'inband') => void;
  /** RTP arrived from an unexpected source. */
  onMediaConflict: (address: string, port: number) => void;
  /** A media handler or callback threw. */
  onHandlerError?: (err: unknown, count: number) => void;
  /** A non-looping WAV file played to its end (not when stopped or replaced). */
  onWaveEnd?: (path: string) => void;
}

/** One worker and its bookkeeping. */
class Floor {
  readonly worker: Worker;
  readonly slots: Int32Array;
  readonly calls = new Map<number, FloorLineMedia>();
  /** Calls with a recording stop in flight: its result may come after the call's media stopped. */
  readonly recordingStops = new Map<number, FloorLineMedia>();
  private readonly freeSlots: number[];
  private readonly box: Int32Array;
  private readonly boxBytes: Uint8Array;
  private readonly decoder = new TextDecoder();
  /** Commands of the current task that go by message, posted together as it ends. */
  private readonly out = new MessageBatch<ToFloor>((batch, transfer) => {
    if (this.dead) return;
    this.batchesPosted++;
    this.worker.postMessage(batch, transfer);
  });
  /** Commands the floor picks up at its next phase, without a wake. */
  private readonly commands = new CommandRing(CommandRing.create());
  /** Message batches posted so far (ring records name how many come before them). */
  private batchesPosted = 0;
  private statsSeq = 0;
  /** Set once the floor is gone (crashed, killed or stopped). */
  dead = false;
  /** Set once the worker said 'ready' (its clock runs and it hears commands). */
  isReady = false;
  /** Resolves true when the floor is ready, false when it died first. */
  readonly ready: Promise<boolean>;
  private readyDone!: (ok: boolean) => void;
  /** The floor's published clock figures and RTP port use. */
  readonly clock: FloorClockReader;
  /** RTP/RTCP port pairs of the floor's share of the range. */
  readonly rtpPairs: number;
  /** What scheduling priority the floor's thread got, once it said. */
  priority: ThreadPriorityResult | undefined;
  /** The real-time seat this floor holds (media/realtimeSeats.ts). */
  private seat: RealtimeSeat | undefined;
  /** Why a `'realtime'` floor got no seat and runs at `'high'` ('' when it got one or did not ask). */
  private readonly seatless: string = '';

  constructor(
    readonly index: number,
    readonly pool: MediaFloors,
    o: MediaFloorsOptions,
  ) {
    // one more slot at the end: the floor's own figures (FLOOR_*)
    const sab = new SharedArrayBuffer(o.maxCalls * SLOT_FIELDS * 4);
    const statsBox = new SharedArrayBuffer(STATS_BOX_BYTES);
    this.box = new Int32Array(statsBox, 0, 3);
    this.boxBytes = new Uint8Array(statsBox, 12);
    this.slots = new Int32Array(sab);
    this.ready = new Promise((r) => (this.readyDone = r));
    this.freeSlots = Array.from({ length: o.maxCalls }, (_, i) => o.maxCalls - 1 - i);
    // each floor binds its own share of the port range: no two threads race for a port
    const first = o.minPort + (o.minPort % 2);
    const pairs = Math.max(0, Math.floor((o.maxPort - first + 1) / 2));
    const share = Math.floor(pairs / o.count);
    const min = first + index * share * 2;
    const max = index === o.count - 1 ? o.maxPort : min + share * 2 - 1;
    this.rtpPairs = Math.max(0, Math.floor((max - min + 1) / 2));
    const clockBox = new SharedArrayBuffer(FLOOR_CLOCK_BOX_BYTES);
    this.clock = new FloorClockReader(clockBox);
    let priority = o.priority ?? 'normal';
    if (priority === 'realtime') {
      const got = o.seats.take();
      this.seat = got.seat;
      if (got.reason !== undefined) {
        priority = 'high';
        this.seatless = got.reason;
      }
    }
    this.worker = new Worker(new URL('../media/mediaFloor.js', import.meta.url), {
      workerData: { index, host: o.host, minPort: min, maxPort: max, strategy: o.strategy, slots: sab, commands: this.commands.sab, statsBox, clockBox, priority, phases: o.phases ?? 1, transport: o.transport ?? 'dgram' },
      // a small young generation bounds each scavenge (what it copies) to a millisecond or two:
      // a floor allocates ~13 MB/s at 200 calls (Node's per-datagram Buffer and rinfo) and 5x
      // that in a set-up storm, and with V8's default (up to 16 MB semi-spaces) a scavenge held
      // the floor 10-40 ms at a time (docs/architecture.md, "Media workers")
      resourceLimits: { maxYoungGenerationSizeMb: FLOOR_YOUNG_GENERATION_MB },
    });
    this.worker.on('message', (batch: FromFloor[]) => {
      for (const m of batch) pool.onMessage(this, m);
    });
    this.worker.on('error', (err) => pool.onDead(this, err.message));
    this.worker.on('exit', (code) => pool.onDead(this, `exited with code ${code}`));
    // the floor's clock keeps it alive; the engine's stop ends it
    this.worker.unref();
  }

  /** @internal the worker said 'ready' (true) or died before or after it (false) */
  settle(ok: boolean): void {
    if (ok && !this.dead) this.isReady = true;
    this.readyDone(ok && !this.dead);
  }

  /**
   * The floor's word on its priority, completed: a floor that got no real-time seat asked for
   * real time too, and says why it runs at `'high'`; a floor whose thread was refused real time
   * at its start gives its seat to another (a step down keeps it: the floor may be raised again).
   */
  ranked(r: ThreadPriorityResult, step: 'down' | 'up' | undefined): ThreadPriorityResult {
    if (this.seatless !== '') return { ...r, requested: 'realtime', reason: r.reason === '' ? this.seatless : `${this.seatless}; ${r.reason}` };
    if (step === undefined && r.applied !== 'realtime') this.releaseSeat();
    return r;
  }

  /** Gives the floor's real-time seat back (its thread is gone or was refused real time). */
  releaseSeat(): void {
    this.seat?.release();
    this.seat = undefined;
  }

  /** A free counter slot, or -1 when the floor is full. */
  takeSlot(): number {
    const s = this.freeSlots.pop();
    if (s === undefined) return -1;
    this.slots.fill(0, s * SLOT_FIELDS, (s + 1) * SLOT_FIELDS);
    return s;
  }

  /**
   * Port pairs still free in the floor's share: its calls (opening ones included) and what its
   * allocator reports held, whichever is more.
   */
  freeRtpPairs(): number {
    if (this.dead) return 0;
    return Math.max(0, this.rtpPairs - Math.max(this.calls.size, this.clock.rtpInUse));
  }

  /** Gives a slot back. */
  freeSlot(s: number): void {
    this.freeSlots.push(s);
  }

  /**
   * A call's statistics read synchronously: the floor answers between its ticks, and the main
   * thread waits for it, at most `timeoutMs` (undefined then, and fresh figures follow by
   * message): signalling must not wait long on a busy floor. An application's read, never a
   * per-packet path: it costs the floor's answer time, typically well under a millisecond.
   */
  readStats(id: number, timeoutMs = STATS_READ_MS): MediaSessionStats | undefined {
    if (this.dead) return undefined;
    const seq = ++this.statsSeq;
    Atomics.store(this.box, 0, 0);
    this.post({ t: 'statsSync', id, seq });
    // the read and every command before it go now: the wait below holds this task
    this.out.flush();
    const end = Date.now() + timeoutMs;
    // a late answer to an earlier read that timed out is skipped by its sequence number
    for (;;) {
      const left = end - Date.now();
      if (left <= 0 || Atomics.wait(this.box, 0, 0, left) === 'timed-out') {
        // a busy floor: the last figures now, fresh ones by message for the next read
        this.post({ t: 'stats', id });
        return undefined;
      }
      if (this.box[2] === seq) break;
      Atomics.store(this.box, 0, 0);
    }
    const n = this.box[1]!;
    Atomics.store(this.box, 0, 0);
    if (n === 0) return undefined;
    return JSON.parse(this.decoder.decode(this.boxBytes.slice(0, n))) as MediaSessionStats;
  }

  /**
   * Sends a command: through the ring when it can wait for the floor's next phase, else by
   * message with the task's others ({@link MessageBatch}). Behind a message still to be posted,
   * a command follows it the same way, so the floor sees them in order.
   */
  post(m: ToFloor, transfer?: ArrayBuffer[]): void {
    if (this.dead) return;
    if (transfer === undefined && !WAKES_FLOOR.has(m.t) && this.out.empty() && this.commands.write(m, this.batchesPosted, PLAIN_DATA.has(m.t))) return;
    this.out.push(m, transfer);
  }
}

/** The run's media floors. */
export class MediaFloors {
  private readonly floors: Floor[];
  private nextId = 1;
  private nextChannel = 1;
  private readonly rx = new Map<number, Readable>();
  private readonly tx = new Map<number, { floor: Floor; acks: Map<number, (err?: Error | null) => void>; seq: number }>();
  private readonly tapped = new Set<FloorLineMedia>();
  private tapTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  /** Until every first floor is ready: a floor lost now fails the start (no replacement). */
  private starting = true;
  /** Per floor index: replacements in a row that died before they were ready. */
  private readonly failedStarts: number[];
  private readonly merger = new FloorClockMerger();

  private constructor(private readonly o: MediaFloorsOptions) {
    // libsrtp2 initialises once per process, on this thread, before any floor may use it
    srtpStatus();
    this.floors = Array.from({ length: o.count }, (_, i) => new Floor(i, this, o));
    this.failedStarts = this.floors.map(() => 0);
  }

  /**
   * Starts `o.count` floors and resolves once every one is ready (its clock runs and it hears
   * commands), so the engine takes no call while its floors still load: a call placed the
   * moment the engine's start resolved finds its floor running, and the start's CPU burst is
   * over before the overload guard measures the event loop. Undefined (every floor stopped
   * again) when a floor died or did not get ready within `timeoutMs`.
   */
  static async start(o: MediaFloorsOptions, timeoutMs = FLOOR_START_TIMEOUT_MS): Promise<MediaFloors | undefined> {
    // one engine's floors load at a time in a process: loading a floor is a burst of CPU
    // (a V8 isolate and the media modules, ~150 ms), and many engines starting together (tests,
    // several engines in one process) would starve the running engines' threads of the core
    const previous = startTurn;
    let done!: () => void;
    startTurn = new Promise((r) => (done = r));
    await previous;
    try {
      const pool = new MediaFloors(o);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
      const ok = await Promise.race([Promise.all(pool.floors.map((f) => f.ready)).then((all) => all.every(Boolean)), late]);
      clearTimeout(timer);
      pool.starting = false;
      if (ok) return pool;
      await pool.stop();
      return undefined;
    } finally {
      done();
    }
  }

  /** Per floor: whether it is ready for calls (a replacement is not until its worker says so). */
  readiness(): boolean[] {
    return this.floors.map((f) => f.isReady && !f.dead);
  }

  /** Number of floors. */
  get count(): number {
    return this.floors.length;
  }

  /** Active calls per floor (balancing; tests and the benchmark read it). */
  load(): number[] {
    return this.floors.map((f) => f.calls.size);
  }

  /**
   * Opens a call's media on the floor with the fewest active calls; undefined when no port or
   * slot could be had there.
   */
  async open(line: PhoneLine, o: FloorOpenOptions, cb: FloorCallbacks): Promise<FloorLineMedia | undefined> {
    let floor: Floor | undefined;
    for (;;) {
      if (this.stopping) return undefined;
      // the floor with the fewest calls among those with a free port pair (shares can differ by
      // one), leaving out a floor that is gone and could not be restarted
      floor = undefined;
      for (const f of this.floors) {
        if (f.dead) continue;
        if (floor === undefined || floor.freeRtpPairs() === 0 || (f.freeRtpPairs() > 0 && f.calls.size < floor.calls.size)) floor = f;
      }
      if (floor === undefined) return undefined;
      if (floor.isReady) break;
      // a replacement still starting: the call waits for it (it keeps the balance), then
      // chooses again; a replacement that dies instead is replaced or left out, so this ends
      await floor.ready;
    }
    const slot = floor.takeSlot();
    if (slot < 0) return undefined;
    const media = new FloorLineMedia(this.nextId++, floor, slot, line, cb, this.o.pump, o);
    floor.calls.set(media.id, media);
    floor.post({ t: 'open', id: media.id, slot, o });
    const ok = await media.opened;
    if (!ok) {
      floor.calls.delete(media.id);
      floor.freeSlot(slot);
      return undefined;
    }
    return media;
  }

  /** @internal a floor's message */
  onMessage(floor: Floor, m: FromFloor): void {
    switch (m.t) {
      case 'ready':
        if (floor.dead) return;
        floor.settle(true);
        this.failedStarts[floor.index] = 0;
        return;
      case 'rxData':
        this.rx.get(m.ch)?.push(Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength));
        return;
      case 'rxEnd': {
        const r = this.rx.get(m.ch);
        this.rx.delete(m.ch);
        r?.push(null);
        return;
      }
      case 'txAck': {
        const ch = this.tx.get(m.ch);
        const done = ch?.acks.get(m.seq);
        ch?.acks.delete(m.seq);
        done?.(m.error === undefined ? null : new Error(m.error));
        return;
      }
      case 'stats':
        for (const [id, s] of m.list) floor.calls.get(id)?.setStats(s);
        return;
      case 'sched': {
        const r = floor.ranked(m.result, m.step);
        floor.priority = r;
        this.o.onPriority?.(floor.index, r, m.step);
        return;
      }
      default:
        (floor.calls.get(m.id) ?? (m.t === 'recDone' ? floor.recordingStops.get(m.id) : undefined))?.onEvent(m);
    }
  }

  /** @internal a floor died (or was stopped): its calls are lost; a new floor takes its place. */
  onDead(floor: Floor, reason: string): void {
    if (floor.dead) return;
    floor.dead = true;
    floor.releaseSeat();
    floor.settle(false);
    for (const [ch, c] of this.tx) if (c.floor === floor) {
      for (const done of c.acks.values()) done(new Error('media worker lost'));
      this.tx.delete(ch);
    }
    const lost = [...floor.calls.values()];
    for (const m of floor.recordingStops.values()) if (!lost.includes(m)) m.lose();
    floor.recordingStops.clear();
    floor.calls.clear();
    for (const media of lost) media.lose();
    if (this.stopping || this.starting) return;
    // a replacement that never got ready counts against the next; a floor that ran resets it
    const failed = floor.isReady ? 0 : this.failedStarts[floor.index]! + 1;
    this.failedStarts[floor.index] = failed;
    if (failed <= FLOOR_RESTARTS) {
      // the new floor's clock counts from 0: the index carries on what this one counted
      this.merger.retire(floor.index, floor.clock);
      this.floors[floor.index] = new Floor(floor.index, this, this.o);
    }
    for (const media of lost) this.o.onLost(media, floor.index, reason);
  }

  /**
   * Test hook: makes floor `index` fail as an uncaught fault would (it closes its sockets and its
   * thread ends); its calls are lost and a new floor starts.
   */
  killFloor(index: number): boolean {
    const f = this.floors[index];
    if (f === undefined || f.dead) return false;
    f.post({ t: 'crash' });
    return true;
  }

  /**
   * Test hook: holds floor `index`'s thread busy for `ms` (in 50 ms pieces), as a floor with more
   * calls than its core can carry would be; a real-time floor steps down meanwhile.
   */
  spinFloor(index: number, ms: number): boolean {
    const f = this.floors[index];
    if (f === undefined || f.dead) return false;
    f.post({ t: 'spin', ms });
    return true;
  }

  /**
   * The engine's clock figures with workers: the floors' published figures merged (what the wire
   * sees), each floor's own in `floors`, and `main` (the main thread's clock) in `mainThread`.
   * Synchronous: reads shared memory, at most 250 ms old.
   */
  clockStats(main: MediaClockStats): MediaClockStats {
    return this.merger.merge(main, this.floors.map((f) => f.clock));
  }

  /** Free RTP port pairs over all floors (the overload guard's port check). */
  freeRtpPairs(): number {
    let n = 0;
    for (const f of this.floors) n += f.freeRtpPairs();
    return n;
  }

  /** What scheduling priority each floor's thread got (undefined for a floor that has not said yet). */
  threadPriorities(): (ThreadPriorityResult | undefined)[] {
    return this.floors.map((f) => f.priority);
  }

  /** @internal an IVR Rx stream of a floor call */
  openRx(floor: Floor, id: number, rate: 8000 | 16000 | 48000): Readable {
    const ch = this.nextChannel++;
    const r = new Readable({
      read: () => undefined,
      destroy: (err, done) => {
        this.rx.delete(ch);
        floor.post({ t: 'rxClose', ch });
        done(err);
      },
    });
    this.rx.set(ch, r);
    floor.post({ t: 'rxOpen', id, ch, rate });
    return r;
  }

  /** @internal an IVR Tx stream of a floor call: each write is acknowledged when the floor's stream took it (backpressure) */
  openTx(floor: Floor, id: number, rate: 8000 | 16000 | 48000, onHold: boolean): Writable {
    const ch = this.nextChannel++;
    const state = { floor, acks: new Map<number, (err?: Error | null) => void>(), seq: 0 };
    this.tx.set(ch, state);
    floor.post({ t: 'txOpen', id, ch, rate, onHold });
    return new Writable({
      write: (chunk: Buffer, _enc, done) => {
        if (!this.tx.has(ch)) return done(new Error('IVR Tx channel is closed: the call ended'));
        const seq = state.seq++;
        state.acks.set(seq, done);
        const copy = new Uint8Array(chunk.length);
        copy.set(chunk);
        floor.post({ t: 'txWrite', ch, seq, data: copy }, [copy.buffer]);
      },
      final: (done) => {
        floor.post({ t: 'txEnd', ch });
        done();
      },
      destroy: (err, done) => {
        this.tx.delete(ch);
        floor.post({ t: 'txEnd', ch });
        done(err);
      },
    });
  }

  /** @internal a call's level tap changed: poll the shared levels every tick while any is set */
  tap(media: FloorLineMedia, on: boolean): void {
    if (on) this.tapped.add(media);
    else this.tapped.delete(media);
    if (this.tapped.size > 0 && this.tapTimer === undefined) {
      this.tapTimer = setInterval(() => {
        for (const m of this.tapped) m.pollLevels();
      }, 20);
      this.tapTimer.unref();
    } else if (this.tapped.size === 0 && this.tapTimer !== undefined) {
      clearInterval(this.tapTimer);
      this.tapTimer = undefined;
    }
  }

  /** Ends every floor (after the run's calls have stopped). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.tapTimer !== undefined) clearInterval(this.tapTimer);
    this.tapTimer = undefined;
    this.tapped.clear();
    // a graceful end first: the floor closes its sessions and codecs, then its thread ends
    // (terminating a thread in the middle of a native codec call can abort the process)
    await Promise.all(
      this.floors.map(async (f) => {
        if (f.dead) return;
        const exited = new Promise<void>((r) => f.worker.once('exit', () => r()));
        f.post({ t: 'shutdown' });
        const t = setTimeout(() => void f.worker.terminate(), 10_000);
        await exited;
        clearTimeout(t);
      }),
    );
  }
}

/** A recording that runs on a call's floor (the file is written by the worker). */
class FloorRecording implements DuplexMediaSink {
  /** Unused: the frames never cross; the floor's own recorder takes them. */
  readonly rx: MediaSink = { ended: false, write: () => undefined };
  /** Unused, as {@link FloorRecording.rx}. */
  readonly tx: MediaSink = { ended: false, write: () => undefined };
  private done: ((r: RecordingResult) => void) | null = null;
  private result: Promise<RecordingResult> | null = null;
  /** The frames of the real-time callback, rebuilt per message. */
  readonly frame: { phoneLine: number; sampleRate: number; samples: number; rx: Int16Array; tx: Int16Array; mixed: Int16Array } = { phoneLine: 0, sampleRate: 0, samples: 0, rx: new Int16Array(0), tx: new Int16Array(0), mixed: new Int16Array(0) };

  constructor(
    readonly media: FloorLineMedia,
    readonly o: CallRecorderOptions,
  ) {
    this.frame.phoneLine = o.phoneLine;
  }

  /** Stops it on the floor; resolves with what was written. */
  stop(): Promise<RecordingResult> {
    if (this.result !== null) return this.result;
    this.result = new Promise<RecordingResult>((resolve) => (this.done = resolve));
    this.media.stopRecording(this);
    return this.result;
  }

  /** @internal the floor finished it */
  finished(r: RecordingResult): void {
    this.done?.(r);
    this.done = null;
  }
}

/** What {@link FloorLineMedia.openRecorder} returns: a sink for setRecorder plus its stop. */
export interface RecordingHandle extends DuplexMediaSink {
  /** Ends the recording; resolves with what was written. */
  stop(): Promise<RecordingResult>;
}

/** A call's media on a floor, as lines/ and engine/ use it. */
export class FloorLineMedia implements LineMedia {
  /** Resolves true once the floor opened the session (false: no port). */
  readonly opened: Promise<boolean>;
  private openedDone!: (ok: boolean) => void;
  private port = 0;
  private rate = 0;
  /** The floor's last figures of this call; undefined until the first arrive (from a synchronous read, the floor's once-a-second batch or the stop). */
  private latest: MediaSessionStats | undefined;
  /** The negotiated codec (the quality figure's codec). */
  private codec: CodecName | null = null;
  private stopPromise: Promise<void> | null = null;
  private stoppedDone: (() => void) | null = null;
  private gone = false;
  private wavFailed: ((reason: Exclude<WavLoadResult, 'ok'>) => void) | undefined;
  private levelTap: ((levels: MediaLevels) => void) | null = null;
  private readonly levels: MediaLevels = { rxPeak: 0, rxRms: 0, txPeak: 0, txRms: 0 };
  private levelTicks = 0;
  private raw: ((d: RawRtpData) => void) | undefined;
  /** The raw handler's verdicts as the floor has them (see FloorCall.rawDrop in media/mediaFloor.ts). */
  private readonly rawDrop = new Uint8Array(256);
  private rawErrors = 0;
  /** What the floor's session was last told of hold (a session opens not held). */
  private held = false;
  /** A command went to the floor since its last statistics answer. */
  private commanded = false;
  private recording: FloorRecording | null = null;
  private relay: FrameRelay | null = null;
  /** Conference frames lost in the relays this call had before the current one (each way). */
  private readonly relayLostBefore: ConferenceFramesLost = { toBridge: 0, fromBridge: 0 };
  private readonly stoppingRecordings: FloorRecording[] = [];

  constructor(
    /** Unique per run. */
    readonly id: number,
    private readonly floor: Floor,
    private readonly slot: number,
    private readonly line: PhoneLine,
    private readonly cb: FloorCallbacks,
    private readonly pump: MediaPump,
    /** What the session opened with (its figures before the floor's first). */
    private readonly openedWith: Pick<FloorOpenOptions, 'jitterMs' | 'jitterEnabled'>,
  ) {
    this.opened = new Promise((r) => (this.openedDone = r));
  }

  /** The floor (worker index) the call's media runs on. */
  get floorIndex(): number {
    return this.floor.index;
  }

  get localPort(): number {
    return this.port;
  }
  get sampleRate(): number {
    return this.rate;
  }

  configure(n: NegotiatedMedia): boolean {
    if (this.gone) return false;
    const p = mediaParamsOf(n);
    // what the floor's configure would refuse at once is refused here, so the answer stays synchronous
    if (!isCodecName(p.codec) || !isCodecAvailable(p.codec)) return false;
    this.rate = CODEC_INFO[p.codec].sampleRate;
    this.codec = p.codec;
    this.send({ t: 'configure', id: this.id, p });
    return true;
  }
  start(): void {
    this.send({ t: 'start', id: this.id });
  }
  stop(): Promise<void> {
    if (this.stopPromise !== null) return this.stopPromise;
    if (this.line.media === this) this.line.media = undefined;
    this.setFramePort(null);
    this.pool().tap(this, false);
    if (this.gone) return (this.stopPromise = Promise.resolve());
    this.stopPromise = new Promise<void>((r) => (this.stoppedDone = r));
    this.send({ t: 'stop', id: this.id });
    return this.stopPromise;
  }
  sendDtmf(digits: string, method: 'rfc4733' | 'inband'): boolean {
    if (this.gone || !isValidDtmfString(digits)) return false;
    this.send({ t: 'dtmf', id: this.id, digits, method });
    return true;
  }
  private set(m: FloorSetter, ...a: unknown[]): void {
    this.send({ t: 'set', id: this.id, m, a });
  }
  setVolume(rx: number, tx: number): void {
    this.set('setVolume', rx, tx);
  }
  setLoopback(on: boolean): void {
    this.set('setLoopback', on);
  }
  setJitter(ms: number): void {
    this.set('setJitter', ms);
  }
  setOpusSettings(s: OpusSettings): void {
    this.set('setOpusSettings', s);
  }
  enableJitter(on: boolean): void {
    this.set('enableJitter', on);
  }
  setSilenceSuppression(on: boolean): void {
    this.set('setSilenceSuppression', on);
  }
  setKeepAlive(ms: number): void {
    this.set('setKeepAlive', ms);
  }
  setHeld(on: boolean): void {
    // the engine tells every line state change; only a change of hold crosses to the floor
    if (on === this.held) return;
    this.held = on;
    this.set('setHeld', on);
  }
  stopWave(): void {
    this.set('stopWave');
  }
  setRawRtpAccess(cb: ((d: RawRtpData) => void) | undefined): void {
    this.raw = cb;
    this.rawDrop.fill(0);
    this.send({ t: 'raw', id: this.id, on: cb !== undefined });
  }
  /**
   * The call's figures, read from the floor synchronously (see Floor.readStats); after the
   * session's stop, or when the floor does not answer in time, the last ones it sent (it sends
   * them with the stop and after a read that timed out).
   */
  stats(): MediaSessionStats {
    const answered = this.gone || this.stopPromise !== null || this.readFresh();
    const s = this.withCrossing(this.known());
    return answered ? s : { ...s, awaitingFloor: true };
  }

  /** The floor's last figures, or a just-opened session's before the floor has sent any. */
  private known(): MediaSessionStats {
    return (this.latest ??= MediaSession.openingStats(this.openedWith.jitterMs, this.openedWith.jitterEnabled));
  }

  /** The floor's figures plus what only this side counts: conference frames lost crossing threads. */
  private withCrossing(s: MediaSessionStats): MediaSessionStats {
    const r = this.relay;
    const before = this.relayLostBefore;
    if (r === null && before.toBridge + before.fromBridge === 0) return s;
    const conferenceFramesLost = { toBridge: before.toBridge + (r?.lostToBridge ?? 0), fromBridge: before.fromBridge + (r?.lostFromBridge ?? 0) };
    return { ...s, conferenceFramesLost };
  }

  /**
   * Reads the floor's figures (after every command sent so far: the floor answers in order);
   * when the floor does not answer in time the last figures stay (false).
   */
  private readFresh(): boolean {
    const fresh = this.floor.readStats(this.id, this.commanded ? STATS_READ_AFTER_COMMAND_MS : STATS_READ_MS);
    if (fresh === undefined) return false;
    this.latest = fresh;
    this.commanded = false;
    return true;
  }

  /** A command for this call's session (the next statistics read waits for it). */
  private send(m: ToFloor, transfer?: ArrayBuffer[]): void {
    this.commanded = true;
    this.floor.post(m, transfer);
  }
  rtpCounters(): RtpCounters {
    return readRtpCounters(this.floor.slots, this.slot * SLOT_FIELDS + SLOT_RTP);
  }
  /**
   * The call's quality as it ends, from the inputs the floor writes every tick into the call's
   * slot (no wait on the floor), its RTP counters as the slot holds them, and its last statistics
   * once the floor has stopped the session (it sends them just before `stopped`). A synchronous
   * statistics read here blocked the main thread at every hang-up: at 1 000 calls/s it was most
   * of its time (bench:calls f).
   */
  closing(): { quality: CallQuality | undefined; counted: RtpCounters; stats: Promise<MediaSessionStats | undefined> } {
    const fromLatest = (): CallQuality | undefined => this.latest && callQualityFromStats(this.latest);
    // the shared inputs are written after each tick: a call ended before the floor's first tick
    // since its first packets (a short call, a loaded floor) finds them empty while a statistics
    // read already saw those packets, and its quality is then that read's
    const quality = this.gone ? fromLatest() : (callQualityFromInputs(this.codec, this.floor.slots, this.slot * SLOT_FIELDS + SLOT_QUALITY) ?? fromLatest());
    return { quality, counted: this.rtpCounters(), stats: this.stop().then(() => this.latest) };
  }
  mediaActivity(): number {
    return Atomics.load(this.floor.slots, this.slot * SLOT_FIELDS + SLOT_PACKETS_IN);
  }
  playWave(path: string, loop: boolean, onFailed?: (result: Exclude<WavLoadResult, 'ok'>) => void): WavLoadResult {
    const probed = probeWav(path);
    if (probed !== 'ok') return probed;
    this.wavFailed = onFailed;
    this.send({ t: 'wav', id: this.id, path, loop });
    return 'ok';
  }
  openRx(rate: 8000 | 16000 | 48000): Readable {
    return this.pool().openRx(this.floor, this.id, rate);
  }
  openTx(rate: 8000 | 16000 | 48000, onHold?: boolean): Writable {
    return this.pool().openTx(this.floor, this.id, rate, onHold === true);
  }
  setFramePort(port: MediaFramePort | null): void {
    if (this.relay !== null) {
      this.pump.remove(this.relay);
      this.relayLostBefore.toBridge += this.relay.lostToBridge;
      this.relayLostBefore.fromBridge += this.relay.lostFromBridge;
      this.relay = null;
      this.send({ t: 'frames', id: this.id, ring: null, rate: 0 });
    }
    if (port === null || this.gone) return;
    const sab = new SharedArrayBuffer(FrameRing.BYTES);
    this.relay = new FrameRelay(sab, port);
    // mixed: in phase group 0 with the bridge, its frame put before the mix and the mix taken after it
    this.pump.add(this.relay, true);
    this.send({ t: 'frames', id: this.id, ring: sab, rate: port.rate });
  }
  /**
   * A recording on the floor (the worker writes the file; with a callback, each tick's frames
   * come back in one message). Pass the handle to {@link FloorLineMedia.setRecorder}.
   */
  openRecorder(o: CallRecorderOptions): RecordingHandle {
    return new FloorRecording(this, o);
  }
  setRecorder(recorder: DuplexMediaSink | null): void {
    if (recorder === null) {
      if (this.recording !== null) this.stopRecording(this.recording);
      return;
    }
    // only a floor recording can record a floor call (the frames stay in the worker)
    if (!(recorder instanceof FloorRecording) || recorder.media !== this) return;
    this.recording = recorder;
    const o = recorder.o;
    this.send({ t: 'rec', id: this.id, path: o.path, raw: o.raw, rate: o.sampleRate, channels: o.channels ?? 1, frames: o.callback !== undefined });
  }
  setLevelTap(tap: ((levels: MediaLevels) => void) | null): void {
    if (this.levelTap !== null && !this.gone) {
      // the ticks the floor ran before it takes the change still belong to the old tap: the
      // statistics read returns once the floor has taken it (it answers in order), then the
      // slot holds every tick the old tap is owed
      this.send({ t: 'levels', id: this.id, on: false });
      if (this.stopPromise === null) this.readFresh();
      this.pollLevels();
    }
    this.levelTap = tap;
    this.levelTicks = Atomics.load(this.floor.slots, this.slot * SLOT_FIELDS + SLOT_LEVEL_TICKS);
    this.send({ t: 'levels', id: this.id, on: tap !== null });
    this.pool().tap(this, tap !== null);
  }

  // ---------------------------------------------------------------- from the pool

  private pool(): MediaFloors {
    return this.floor.pool;
  }

  /** @internal the floor's statistics of this call */
  setStats(s: MediaSessionStats): void {
    this.latest = s;
  }

  /** @internal stop the recording on the floor */
  stopRecording(r: FloorRecording): void {
    if (this.recording !== r) return;
    this.recording = null;
    if (this.gone) return r.finished({ path: r.o.path, samples: 0, sampleRate: r.o.sampleRate, error: 'media worker lost' });
    this.stoppingRecordings.push(r);
    this.floor.recordingStops.set(this.id, this);
    this.send({ t: 'recStop', id: this.id });
  }

  /** @internal one tick's levels from the shared slot, for the tap */
  pollLevels(): void {
    const s = this.floor.slots;
    const base = this.slot * SLOT_FIELDS;
    const ticks = Atomics.load(s, base + SLOT_LEVEL_TICKS);
    // once per tick the floor wrote (a late poll repeats the last levels, up to a second of ticks)
    let n = Math.min(50, (ticks - this.levelTicks) | 0);
    this.levelTicks = ticks;
    const lv = this.levels;
    lv.rxPeak = s[base + SLOT_RX_PEAK]!;
    lv.rxRms = s[base + SLOT_RX_RMS]!;
    lv.txPeak = s[base + SLOT_TX_PEAK]!;
    lv.txRms = s[base + SLOT_TX_RMS]!;
    while (n-- > 0 && this.levelTap !== null) this.levelTap(lv);
  }

  /** @internal the floor died: the call's media is gone */
  lose(): void {
    this.gone = true;
    this.openedDone(false);
    if (this.relay !== null) this.pump.remove(this.relay);
    this.relay = null;
    this.pool().tap(this, false);
    const lost = { samples: 0, error: 'media worker lost' };
    for (const r of [...this.stoppingRecordings.splice(0), ...(this.recording !== null ? [this.recording] : [])]) r.finished({ ...lost, path: r.o.path, sampleRate: r.o.sampleRate });
    this.recording = null;
    this.stoppedDone?.();
  }

  /** @internal an event of this call */
  onEvent(m: Exclude<FromFloor, { t: 'ready' | 'rxData' | 'rxEnd' | 'txAck' | 'stats' }>): void {
    switch (m.t) {
      case 'opened':
        this.port = m.localPort;
        this.openedDone(true);
        return;
      case 'openFailed':
        this.openedDone(false);
        return;
      case 'stopped':
        this.floor.calls.delete(this.id);
        this.floor.freeSlot(this.slot);
        this.stoppedDone?.();
        return;
      case 'dtmf':
        this.cb.onDtmf(m.digit, m.method);
        return;
      case 'conflict':
        this.cb.onMediaConflict(m.address, m.port);
        return;
      case 'handlerError':
        this.cb.onHandlerError?.(new Error(m.message), m.count);
        return;
      case 'wavFailed':
        this.wavFailed?.(m.reason as Exclude<WavLoadResult, 'ok'>);
        return;
      case 'wavEnd':
        this.cb.onWaveEnd?.(m.path);
        return;
      case 'configureFailed':
        return;
      case 'recFrame': {
        const r = this.recording;
        const cb = r?.o.callback;
        if (r === null || cb === undefined) return;
        const f = r.frame;
        f.sampleRate = m.rate;
        f.samples = m.rx.length;
        f.rx = m.rx;
        f.tx = m.tx;
        f.mixed = m.mixed;
        try {
          cb(f);
        } catch {
          /* the application's callback must not stop the media */
        }
        return;
      }
      case 'recError':
        this.recording?.o.onError?.(m.reason);
        return;
      case 'recDone': {
        // answers the oldest stop still waiting (the floor answers in order)
        this.stoppingRecordings.shift()?.finished(m.result);
        if (this.stoppingRecordings.length === 0) this.floor.recordingStops.delete(this.id);
        return;
      }
      case 'raw': {
        const cb = this.raw;
        if (cb === undefined) return;
        const packet = Buffer.from(m.packet.buffer, m.packet.byteOffset, m.packet.byteLength);
        const b0 = packet[1] ?? 0;
        const d: RawRtpData = {
          phoneLine: this.line.index,
          transmittingPacket: m.transmitting,
          payloadType: b0 & 0x7f,
          marker: (b0 & 0x80) !== 0,
          sequence: packet.length >= 4 ? packet.readUInt16BE(2) : 0,
          timestamp: packet.length >= 8 ? packet.readUInt32BE(4) : 0,
          ssrc: packet.length >= 12 ? packet.readUInt32BE(8) : 0,
          payload: packet.subarray(m.payloadOffset),
          packet,
          processRtpPacket: true,
        };
        try {
          cb(d);
        } catch (err) {
          this.cb.onHandlerError?.(err, ++this.rawErrors);
        }
        // the packet itself has gone (the floor did not wait): a changed verdict applies to the
        // following packets of the same direction and payload type
        const k = rawVerdictIndex(d.transmittingPacket, d.payloadType);
        const drop = d.processRtpPacket === false ? 1 : 0;
        if (this.rawDrop[k] !== drop && this.raw === cb) {
          this.rawDrop[k] = drop;
          this.floor.post({ t: 'rawVerdict', id: this.id, transmitting: d.transmittingPacket, payloadType: d.payloadType, drop: drop === 1 });
        }
        return;
      }
    }
  }
}

/**
 * A floor call's conference seat on the main thread: a node of the main pump that carries the
 * call's received frame from its up ring into the bridge port before the mix, and the port's
 * mix into its down ring after it. Each way holds the reader's cushion (two frames, more after
 * stalls, see FrameRing); nothing allocated per tick.
 */
class FrameRelay implements MediaNode {
  private readonly up: FrameRing;
  private readonly down: FrameRing;
  private readonly frame = new Int16Array(FrameRing.FRAME);
  private readonly n: number;
  /** The frame at the port's rate (a view made once). */
  private readonly view: Int16Array;

  constructor(
    sab: SharedArrayBuffer,
    private readonly port: MediaFramePort,
  ) {
    this.up = new FrameRing(sab, 0);
    this.down = new FrameRing(sab, 1);
    this.n = port.rate / 50;
    this.view = this.frame.subarray(0, this.n);
  }

  /** The call's frames lost on their way to the bridge (see FrameRing.lostFrames). */
  get lostToBridge(): number {
    return this.up.lostFrames;
  }

  /** The bridge's frames lost on their way to the call. */
  get lostFromBridge(): number {
    return this.down.lostFrames;
  }

  produce(): void {
    if (!this.up.read(this.frame, this.n)) this.frame.fill(0, 0, this.n);
    this.port.putFrame(this.view);
  }

  consume(): void {
    this.down.write(this.port.getFrame(), this.n);
  }
}
