/**
 * Bounded handling of a burst of received UDP datagrams. Node hands a socket's datagrams to
 * JavaScript one after another in the poll phase (libuv reads up to 32 per readiness, and every
 * ready socket is served), and each SIP datagram is parsed, matched and handed to the
 * application synchronously: a set-up storm fills one turn of the event loop with tens of ms of
 * signalling while the media clock's timer waits. This class handles datagrams inline until the
 * gate says to stop (a media phase is due, or the batch spent its budget), queues the rest
 * (cheaply: the buffer and its sender) and drains the queue from `setImmediate`, one bounded
 * batch per turn, so the timers phase runs between batches. Order is kept: while anything is
 * queued, new datagrams queue behind it.
 * @module
 */
import type dgram from 'node:dgram';

/** Decides when a batch stops (see `media/yieldGate`). */
export interface IngressGate {
  /** True when a batch started at `batchStartMs` (`performance.now()`) must stop for now. */
  shouldYield(batchStartMs: number): boolean;
}

/** A queued datagram this old (ms) means signalling is being starved by a clock that is always due. */
const STARVED_MS = 20;
/** What a starved queue gets per turn whatever the clock says, ms (the gate's budget is 3). */
const STARVED_SHARE_MS = 2;

/** The queue stops growing here; beyond it datagrams are dropped as a full socket buffer would. */
const MAX_QUEUED = 20_000;

/** A gate between a UDP socket's `'message'` events and their handler. */
export class UdpIngress {
  private bufs: Buffer[] = [];
  private froms: dgram.RemoteInfo[] = [];
  /** When each queued datagram arrived (`now()`), for the age of the oldest (the overload guard's). */
  private arrivals: number[] = [];
  private head = 0;
  /** Start of the current batch (`performance.now()`), −1 between turns. */
  private batchStart = -1;
  private drainScheduled = false;
  private turnScheduled = false;
  private closed = false;
  /** Datagrams that waited in the queue, and dropped because it was full. */
  queued = 0;
  /** Datagrams dropped because the queue was full. */
  dropped = 0;

  /**
   * @param gate when to stop
   * @param handle what a datagram's handling is
   * @param now the time source, ms (the gate's scale; tests pass virtual time)
   */
  constructor(
    private readonly gate: IngressGate,
    private readonly handle: (buf: Buffer, from: dgram.RemoteInfo) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * How long the oldest datagram still waiting in the queue has waited, ms (0 when none waits;
   * the one being handled no longer counts). Time spent here is invisible to an event-loop lag
   * timer (the timers run between batches), so the overload guard reads it beside its lag: while
   * datagrams wait behind the one in hand, signalling is that far behind.
   */
  oldestQueuedAgeMs(): number {
    return this.head < this.arrivals.length ? Math.max(0, this.now() - this.arrivals[this.head]!) : 0;
  }

  /** Datagrams waiting in the queue (the one being handled no longer counts). */
  get waiting(): number {
    return this.bufs.length - this.head;
  }

  /** The socket's `'message'` listener. */
  readonly receive = (buf: Buffer, from: dgram.RemoteInfo): void => {
    if (this.closed) return;
    if (this.head < this.bufs.length || (this.batchStart >= 0 && this.gate.shouldYield(this.batchStart))) {
      this.enqueue(buf, from);
      return;
    }
    if (this.batchStart < 0) {
      this.batchStart = this.now();
      if (!this.turnScheduled) {
        this.turnScheduled = true;
        setImmediate(this.endTurn);
      }
    }
    this.handle(buf, from);
  };

  /** Forget everything queued (the socket is closing). */
  close(): void {
    this.closed = true;
    this.bufs = [];
    this.froms = [];
    this.arrivals = [];
    this.head = 0;
  }

  private enqueue(buf: Buffer, from: dgram.RemoteInfo): void {
    if (this.bufs.length - this.head >= MAX_QUEUED) {
      this.dropped++;
      return;
    }
    this.bufs.push(buf);
    this.froms.push(from);
    this.arrivals.push(this.now());
    this.queued++;
    if (!this.drainScheduled) {
      this.drainScheduled = true;
      setImmediate(this.drain);
    }
  }

  /** The turn's inline batch is over (the check phase follows the poll phase that read it). */
  private readonly endTurn = (): void => {
    this.turnScheduled = false;
    if (!this.drainScheduled) this.batchStart = -1;
  };

  /** One bounded batch from the queue; the rest waits for the next turn. */
  private readonly drain = (): void => {
    this.drainScheduled = false;
    if (this.closed) return;
    const start = this.now();
    this.batchStart = start;
    const bufs = this.bufs;
    const froms = this.froms;
    let n = 0;
    // at least one per turn; and once the oldest datagram has waited STARVED_MS, at least
    // STARVED_SHARE_MS of handling per turn: on a loaded machine the media clock is always due,
    // and one datagram per turn left SIP waiting over a second (the overload guard then shed it)
    const starved = this.oldestQueuedAgeMs() >= STARVED_MS;
    while (this.head < bufs.length && (n === 0 || (starved && this.now() - start < STARVED_SHARE_MS) || !this.gate.shouldYield(start))) {
      const i = this.head++;
      const buf = bufs[i]!;
      const from = froms[i]!;
      n++;
      this.handle(buf, from);
      if (this.closed) return;
    }
    if (this.head < bufs.length) {
      // keep the arrays from growing for ever while a long burst drains
      if (this.head > 1024) {
        this.bufs = bufs.slice(this.head);
        this.froms = froms.slice(this.head);
        this.arrivals = this.arrivals.slice(this.head);
        this.head = 0;
      }
      this.drainScheduled = true;
      setImmediate(this.drain);
    } else {
      this.bufs = [];
      this.froms = [];
      this.arrivals = [];
      this.head = 0;
      this.batchStart = -1;
    }
  };
}
