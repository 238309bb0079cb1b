/**
 * The media graph's pump: one media-clock listener that runs every tick in three phases, in
 * the shape of pjmedia's conference bridge (`get_frame` from every port, mix, `put_frame` to
 * every port):
 * 1. **produce** — every node makes this tick's frame and hands it to its mixer port: an RTP
 *    stream pops its jitter buffer and decodes, the sound card reads its capture;
 * 2. **mix** — the mixer (the conference bridge) mixes every group, mix-minus per listener;
 * 3. **consume** — every node takes this tick's mix and pushes it out: an RTP stream adds its
 *    own sources (WAV, tones, IVR Tx), encodes and sends, feeds IVR Rx and the recorder; the
 *    sound card plays.
 *
 * So a frame received in tick N is mixed and sent in tick N: the bridge adds no delay of its
 * own. The order is structural (this class calls the phases in turn), not a matter of which
 * listener the clock happened to get first.
 *
 * The pump knows neither RTP nor the bridge: both meet it through the structural interfaces
 * below, so `media/` needs nothing from `mixer/`.
 *
 * Hot path: a tick walks two arrays and calls methods; nothing is allocated. Nodes added during
 * a tick take part from the next one; a node removed during a tick is not called again.
 * @module
 */
import type { MediaClock, MediaClockListener } from './mediaClock.js';

/** A participant of the pump with a produce and a consume phase (see the module notes). */
export interface MediaNode {
  /** Phase 1: make this tick's frame and hand it to the mixer (if connected). Must not throw. */
  produce(tick: number): void;
  /** Phase 3: take this tick's mix and push it out. Must not throw. */
  consume(tick: number): void;
}

/** The mixing phase: the conference bridge, or anything that turns put frames into mixes. */
export interface MediaMixer {
  /** Phase 2: consume every port's input frame and leave every port's output frame. */
  mix(tick: number): void;
}

/** Figures of {@link MediaPump.stats}. */
export interface MediaPumpStats {
  /** Ticks pumped. */
  readonly ticks: number;
  /** Nodes taking part. */
  readonly nodes: number;
  /** True when a mixer is attached. */
  readonly mixing: boolean;
  /** Exceptions thrown by nodes or the mixer (caught, counted, the tick goes on). */
  readonly errors: number;
}

/**
 * The pump. Create one per engine on its media clock ({@link MediaPump.attach}, or add it to a
 * clock yourself: it is a `MediaClockListener`), then add nodes and set the mixer.
 */
export class MediaPump implements MediaClockListener {
  private readonly nodes: MediaNode[] = [];
  /** Nodes called this tick (fixed at tick start, so a node added mid-tick waits a tick). */
  private end = 0;
  private cursor = -1;
  private mixer: MediaMixer | null = null;
  private ticks = 0;
  private errors = 0;
  private clock: MediaClock | null = null;
  private readonly onError: ((error: unknown) => void) | undefined;

  /** A pump with no nodes; `onError` is told about a node or mixer that threw. */
  constructor(options: { readonly onError?: (error: unknown) => void } = {}) {
    this.onError = options.onError;
  }

  /** A pump added to `clock` (removed again by {@link MediaPump.detach}). */
  static attach(clock: MediaClock, options: { readonly onError?: (error: unknown) => void } = {}): MediaPump {
    const p = new MediaPump(options);
    p.clock = clock;
    clock.add(p);
    return p;
  }

  /** Leave the clock given to {@link MediaPump.attach}. */
  detach(): void {
    this.clock?.remove(this);
    this.clock = null;
  }

  /** Add a node (a no-op when present); it takes part from the next tick. */
  add(node: MediaNode): void {
    if (this.nodes.indexOf(node) < 0) this.nodes.push(node);
  }

  /** Remove a node; safe from inside a tick. False when it was not there. */
  remove(node: MediaNode): boolean {
    const i = this.nodes.indexOf(node);
    if (i < 0) return false;
    this.nodes.splice(i, 1);
    if (i < this.end) {
      // keep the walk of the running phase on the next node to call
      this.end--;
      if (i <= this.cursor) this.cursor--;
    }
    return true;
  }

  /** True when `node` takes part. */
  has(node: MediaNode): boolean {
    return this.nodes.indexOf(node) >= 0;
  }

  /** The mixing phase (null: none, produced frames then go straight to consume). */
  setMixer(mixer: MediaMixer | null): void {
    this.mixer = mixer;
  }

  /** `MediaClockListener` entry point: one pump. */
  onTick(tick: number): void {
    this.pump(tick);
  }

  /** Run one tick: produce, mix, consume. */
  pump(tick: number): void {
    const nodes = this.nodes;
    this.end = nodes.length;
    for (this.cursor = 0; this.cursor < this.end; this.cursor++) {
      try {
        nodes[this.cursor]!.produce(tick);
      } catch (err) {
        this.fail(err);
      }
    }
    const m = this.mixer;
    if (m !== null) {
      try {
        m.mix(tick);
      } catch (err) {
        this.fail(err);
      }
    }
    for (this.cursor = 0; this.cursor < this.end; this.cursor++) {
      try {
        nodes[this.cursor]!.consume(tick);
      } catch (err) {
        this.fail(err);
      }
    }
    this.cursor = -1;
    this.end = 0;
    this.ticks++;
  }

  private fail(err: unknown): void {
    this.errors++;
    if (this.onError !== undefined) {
      try {
        this.onError(err);
      } catch {
        /* a failing error handler must not stop the media */
      }
    }
  }

  /** Pump figures (allocates: not per tick). */
  stats(): MediaPumpStats {
    return { ticks: this.ticks, nodes: this.nodes.length, mixing: this.mixer !== null, errors: this.errors };
  }
}
