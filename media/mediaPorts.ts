/**
 * The ports of a call's media graph: what a media session mixes into the frame it sends
 * ({@link MediaSource}: a WAV file, IVR Tx streams, a tone, in-band DTMF, the conference's mix,
 * loopback) and what it hands the frames of a tick to ({@link MediaSink}: IVR Rx streams, the
 * recorder). Each side of a session is one {@link PortChain}, whose order and mixing rule are
 * data (a table of {@link PortSlot}s written once by the session), so the tick is one walk over
 * a list instead of a hand-written sequence, and opening or closing a WAV file, a stream or a
 * tone is adding or removing a port.
 *
 * Mixing rule: the chain zeroes the frame, then asks each source in slot order to add its
 * samples with 16-bit saturation; an `exclusive` source that wrote ends the walk (the sources
 * after it are not read, so they hold their place), an `additive` one lets it go on. Saturation
 * happens after each addition, so the order is part of the result: that is why it is data, not
 * whatever order the ports were opened in.
 *
 * A port that reports {@link MediaPort.ended} is removed before it would be read (or written),
 * and the chain's owner is told, so a WAV file that played out or a stream the application
 * destroyed leaves the graph by itself.
 *
 * Hot path: a walk over an array, one call per port; nothing is allocated. Adding and removing
 * (the application's actions, not the tick) may allocate.
 * @module
 */

/** What every port of a chain has: whether it is finished for good. */
export interface MediaPort {
  /**
   * True once the port will never give or take audio again (a non-looping WAV file played to its
   * end, a stream destroyed by the application): the chain removes it and tells its owner.
   */
  readonly ended: boolean;
}

/** A source of audio for what a call sends. */
export interface MediaSource extends MediaPort {
  /**
   * Adds this tick's next `n` samples at `rate` Hz into `out[0, n)` with 16-bit saturation.
   * A source that cannot give audio at `rate` adds nothing (rate conversion is its owner's
   * business). Must not throw, must not allocate.
   * @returns true when it wrote (added) audio this tick
   */
  read(out: Int16Array, n: number, rate: number): boolean;
}

/** A taker of one tick's frame of a call (the received one, or the one sent). */
export interface MediaSink extends MediaPort {
  /**
   * Takes `frame[0, n)` at `rate` Hz. The array is reused every tick: copy what you keep. Must
   * not throw, must not allocate beyond what it documents.
   */
  write(frame: Int16Array, n: number, rate: number): void;
}

/**
 * A sink of both directions of a call (the recorder): each tick its `rx` half takes the
 * received frame, then its `tx` half the frame sent, in that order.
 */
export interface DuplexMediaSink {
  /** Takes the received frame (after the rx gain). */
  readonly rx: MediaSink;
  /** Takes the frame sent (after the tx gain); written after `rx` in the same tick. */
  readonly tx: MediaSink;
}

/** How a source's audio combines with the sources after it. */
export type SourceMix = 'exclusive' | 'additive';

/** One place in a chain's order. Ports of one slot run in the order they were added. */
export interface PortSlot {
  /** What goes here (for readers and errors; the chain works by index). */
  readonly name: string;
  /** Sources only: `exclusive` ends the walk when the source wrote. Default `additive`. */
  readonly mix?: SourceMix;
}

/** The index of the slot called `name` in `order` (done once, at module load). */
export function slotIndex(order: readonly PortSlot[], name: string): number {
  const i = order.findIndex((s) => s.name === name);
  if (i < 0) throw new RangeError(`no port slot called ${name}`);
  return i;
}

/** The exclusive flag of each slot of an order, made once per order table (shared by its chains). */
const exclusiveFlags = new WeakMap<readonly PortSlot[], readonly boolean[]>();

/** The default `onEnded`: one function for every chain that is not told. */
const ignoreEnded = (): void => undefined;

/**
 * An ordered list of ports in slots (see the module notes). `onEnded` is told about a port the
 * chain removed because it ended; it may add and remove ports (also mid-walk).
 */
export class PortChain<P extends MediaPort> {
  /** The ports, sorted by slot, then by the order they were added. */
  protected readonly ports: P[] = [];
  /** The slot of each port, parallel to `ports`. */
  protected readonly slots: number[] = [];
  /** The exclusive flag of each slot (read per port in the walk; shared by the chains of one order). */
  protected readonly exclusive: readonly boolean[];
  /** Ports called this walk (kept right by additions and removals mid-walk). */
  protected end = 0;
  /** The walk's position, -1 outside a walk. */
  protected cursor = -1;

  /**
   * @param order the slots, as data
   * @param onEnded told about a port removed because it ended
   */
  constructor(
    /** The order, as data. */
    readonly order: readonly PortSlot[],
    private readonly onEnded: (port: P) => void = ignoreEnded,
  ) {
    let flags = exclusiveFlags.get(order);
    if (flags === undefined) {
      flags = order.map((s) => s.mix === 'exclusive');
      exclusiveFlags.set(order, flags);
    }
    this.exclusive = flags;
  }

  /** Ports in the chain. */
  get length(): number {
    return this.ports.length;
  }

  /** True when `port` is in the chain. */
  has(port: P): boolean {
    return this.ports.indexOf(port) >= 0;
  }

  /** The ports in walk order (a copy: for statistics and teardown, not per tick). */
  list(): P[] {
    return this.ports.slice();
  }

  /**
   * Adds `port` at the end of slot `slot` (a no-op when it is in the chain already). Added
   * during a walk, it is called in that walk when its place is after the walk's position.
   */
  add(port: P, slot: number): void {
    if (!(slot >= 0 && slot < this.order.length)) throw new RangeError(`no port slot ${slot}`);
    if (this.ports.indexOf(port) >= 0) return;
    let i = this.slots.length;
    while (i > 0 && this.slots[i - 1]! > slot) i--;
    this.ports.splice(i, 0, port);
    this.slots.splice(i, 0, slot);
    if (this.cursor >= 0 && i < this.end) {
      // the ports of the walk moved up by one: it must neither call one twice nor miss the last
      this.end++;
      if (i <= this.cursor) this.cursor++;
    }
  }

  /** Removes `port`; safe during a walk. False when it was not in the chain. */
  remove(port: P): boolean {
    const i = this.ports.indexOf(port);
    if (i < 0) return false;
    this.removeAt(i);
    return true;
  }

  /** Removes every port (without telling `onEnded`). */
  clear(): void {
    this.ports.length = 0;
    this.slots.length = 0;
    if (this.cursor >= 0) {
      this.cursor = -1;
      this.end = 0;
    }
  }

  private removeAt(i: number): void {
    this.ports.splice(i, 1);
    this.slots.splice(i, 1);
    if (this.cursor >= 0 && i < this.end) {
      this.end--;
      if (i <= this.cursor) this.cursor--;
    }
  }

  /** The port at the walk's cursor, or null when it ended (then removed and reported). */
  protected live(): P | null {
    const p = this.ports[this.cursor]!;
    if (!p.ended) return p;
    this.removeAt(this.cursor);
    this.onEnded(p);
    return null;
  }
}

/** The sources of what a call sends, in the order and with the rule of their slots. */
export class SourceChain extends PortChain<MediaSource> {
  /**
   * Builds this tick's frame into `out[0, n)` at `rate`: zeroes it, then lets each source add
   * its audio (see the module notes for the rule). Allocates nothing.
   */
  read(out: Int16Array, n: number, rate: number): void {
    out.fill(0, 0, n);
    const ports = this.ports;
    this.end = ports.length;
    for (this.cursor = 0; this.cursor < this.end; this.cursor++) {
      const s = this.live();
      if (s === null) continue;
      const slot = this.slots[this.cursor]!;
      if (s.read(out, n, rate) && this.exclusive[slot]!) break;
    }
    this.cursor = -1;
    this.end = 0;
  }
}

/** The sinks of one point of a call's graph, in the order of their slots. */
export class SinkChain extends PortChain<MediaSink> {
  /** Hands `frame[0, n)` at `rate` to every sink. Allocates nothing itself. */
  write(frame: Int16Array, n: number, rate: number): void {
    const ports = this.ports;
    this.end = ports.length;
    for (this.cursor = 0; this.cursor < this.end; this.cursor++) {
      const s = this.live();
      if (s !== null) s.write(frame, n, rate);
    }
    this.cursor = -1;
    this.end = 0;
  }
}
