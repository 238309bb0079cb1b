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
 * ## Phase groups
 * On a clock cut into phases (`MediaClockOptions.phases`, the engine's `mediaPhaseGroups`) the
 * nodes sit in as many phase groups, and group k runs its produce and consume at phase k, k·20/n
 * ms into the tick. So one tick is not one burst of every line's work and every send: a line
 * waits behind the nodes of its own group only, its send time no longer moves with the number
 * of lines, and one phase holds the event loop for a share of the tick's work only.
 *
 * The bridge mixes once per tick, in phase 0. A node that talks to the bridge (marked with
 * {@link MediaPump.setMixed}: a line in a conference, the sound card) must put its frame before
 * the mix and take the mix after it in the same tick, so mixed nodes always sit in group 0 and
 * phase 0 runs produce (group 0), mix, consume (group 0). A line whose bridge runs on another
 * thread (a media floor's call in a conference, through its frame rings) is not marked: the rings
 * decouple the two threads' clocks, so its phase in this one does not matter to the mix. The
 * other nodes, the great majority in a call center, are spread over all groups, each new one in
 * the least populated group. A node changes group only at the start of a tick (before phase 0),
 * so it never loses or doubles a tick: moving from group k to 0 its next frame is simply sent k
 * phases early, once.
 *
 * Hot path: a phase walks one group's array twice and calls methods; nothing is allocated.
 * Nodes added during a phase take part from the next phase of their group; a node removed
 * during a phase is not called again.
 * @module
 */
import type { MediaClock, MediaClockListener } from './mediaClock.js';
import type { SendTiming } from './sendTiming.js';

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

/** Options of {@link MediaPump}. */
export interface MediaPumpOptions {
  /** Told about a node or mixer that threw. */
  readonly onError?: (error: unknown) => void;
  /** Phase groups (default 1; {@link MediaPump.attach} takes the clock's phases). */
  readonly phases?: number;
  /** Where the nodes' sends are timed (default: none; {@link MediaPump.attach} takes the clock's). */
  readonly timing?: SendTiming | null;
}

/**
 * The pump. Create one per engine on its media clock ({@link MediaPump.attach}, or add it to a
 * clock yourself: it is a `MediaClockListener`), then add nodes and set the mixer.
 */
export class MediaPump implements MediaClockListener {
  /** Nodes per phase group; group 0 also holds every mixed node. */
  private readonly groups: MediaNode[][];
  /** Group of each node. */
  private readonly where = new Map<MediaNode, number>();
  /** Nodes that talk to the mixer (kept across remove/add, weakly). */
  private readonly mixed = new WeakSet<MediaNode>();
  /** Nodes to move to another group at the start of the next tick. */
  private moves: MediaNode[] = [];
  /** The group being walked, its end (fixed at phase start) and position. */
  private walking: MediaNode[] | null = null;
  private end = 0;
  private cursor = -1;
  private mixer: MediaMixer | null = null;
  private ticks = 0;
  private errors = 0;
  private clock: MediaClock | null = null;
  private readonly onError: ((error: unknown) => void) | undefined;
  /**
   * Where the nodes time their sends (null: not timed). The pump sets its `idealMs` before
   * each phase; a node calls `onSend` for each packet it sends.
   */
  readonly timing: SendTiming | null;

  /** A pump with no nodes. */
  constructor(options: MediaPumpOptions = {}) {
    this.onError = options.onError;
    const n = Math.max(1, Math.floor(options.phases ?? 1));
    this.groups = Array.from({ length: n }, () => []);
    this.timing = options.timing ?? null;
  }

  /** A pump added to `clock`, with its phases and send timing (removed again by {@link MediaPump.detach}). */
  static attach(clock: MediaClock, options: MediaPumpOptions = {}): MediaPump {
    const p = new MediaPump({ phases: clock.phases ?? 1, timing: clock.sendTiming ?? null, ...options });
    p.clock = clock;
    clock.add(p);
    return p;
  }

  /** Leave the clock given to {@link MediaPump.attach}. */
  detach(): void {
    this.clock?.remove(this);
    this.clock = null;
  }

  /** Phase groups. */
  get phases(): number {
    return this.groups.length;
  }

  /**
   * Add a node (a no-op when present); it takes part from its group's next phase. `mixed`
   * marks it as a node that talks to the mixer (see {@link MediaPump.setMixed}).
   */
  add(node: MediaNode, mixed = false): void {
    if (mixed) this.mixed.add(node);
    if (this.where.has(node)) {
      if (mixed) this.setMixed(node, true);
      return;
    }
    const g = this.mixed.has(node) ? 0 : this.leastPopulated();
    this.where.set(node, g);
    this.groups[g]!.push(node);
  }

  /**
   * Mark a node as talking to the mixer (it puts frames to a bridge port and takes the mix) or
   * not. A mixed node runs in group 0, around the mix; the change takes effect at the start of
   * the next tick. A node not yet added is remembered for its {@link MediaPump.add}.
   */
  setMixed(node: MediaNode, mixed: boolean): void {
    if (mixed) this.mixed.add(node);
    else this.mixed.delete(node);
    if (this.groups.length > 1 && this.where.has(node) && this.moves.indexOf(node) < 0) this.moves.push(node);
  }

  /** Remove a node; safe from inside a tick. False when it was not there. */
  remove(node: MediaNode): boolean {
    const g = this.where.get(node);
    if (g === undefined) return false;
    this.where.delete(node);
    this.detachFrom(this.groups[g]!, node);
    return true;
  }

  private detachFrom(list: MediaNode[], node: MediaNode): void {
    const i = list.indexOf(node);
    if (i < 0) return;
    list.splice(i, 1);
    if (list === this.walking && i < this.end) {
      // keep the walk of the running phase on the next node to call
      this.end--;
      if (i <= this.cursor) this.cursor--;
    }
  }

  private leastPopulated(): number {
    const gs = this.groups;
    let best = gs.length - 1;
    for (let i = gs.length - 2; i >= 0; i--) if (gs[i]!.length < gs[best]!.length) best = i;
    return best;
  }

  /** Regroup the nodes marked since the last tick (at a tick's start, so none loses a tick). */
  private applyMoves(): void {
    const moves = this.moves;
    for (let i = 0; i < moves.length; i++) {
      const node = moves[i]!;
      const from = this.where.get(node);
      if (from === undefined) continue;
      let to = from;
      if (this.mixed.has(node)) to = 0;
      else if (from === 0) {
        // a node leaving the mix goes back to a lighter group, so a conference that ends
        // does not leave group 0 heavy
        const least = this.leastPopulated();
        if (this.groups[least]!.length + 1 < this.groups[0]!.length) to = least;
      }
      if (to === from) continue;
      this.detachFrom(this.groups[from]!, node);
      this.groups[to]!.push(node);
      this.where.set(node, to);
    }
    moves.length = 0;
  }

  /** True when `node` takes part. */
  has(node: MediaNode): boolean {
    return this.where.has(node);
  }

  /** The phase group `node` runs in (undefined when it does not take part). */
  groupOf(node: MediaNode): number | undefined {
    return this.where.get(node);
  }

  /** The mixing phase (null: none, produced frames then go straight to consume). */
  setMixer(mixer: MediaMixer | null): void {
    this.mixer = mixer;
  }

  /** `MediaClockListener` entry point: phase 0 of a tick (group 0 around the mix). */
  onTick(tick: number): void {
    if (this.moves.length > 0) this.applyMoves();
    this.setIdeal();
    this.runGroup(tick, 0, true);
    this.ticks++;
  }

  /** `MediaClockListener.onPhase`: group `phase` of tick `tick`. */
  onPhase(tick: number, phase: number): void {
    if (phase <= 0 || phase >= this.groups.length) return;
    this.setIdeal();
    this.runGroup(tick, phase, false);
  }

  private setIdeal(): void {
    const t = this.timing;
    if (t !== null) t.idealMs = this.clock?.idealMs ?? t.now();
  }

  /** Run one whole tick, every group in turn (for a pump driven without a clock). */
  pump(tick: number): void {
    if (this.moves.length > 0) this.applyMoves();
    this.setIdeal();
    this.runGroup(tick, 0, true);
    for (let g = 1; g < this.groups.length; g++) this.runGroup(tick, g, false);
    this.ticks++;
  }

  private runGroup(tick: number, g: number, mix: boolean): void {
    const nodes = this.groups[g]!;
    this.walking = nodes;
    this.end = nodes.length;
    for (this.cursor = 0; this.cursor < this.end; this.cursor++) {
      try {
        nodes[this.cursor]!.produce(tick);
      } catch (err) {
        this.fail(err);
      }
    }
    const m = this.mixer;
    if (mix && m !== null) {
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
    this.walking = null;
    this.cursor = -1;
    this.end = 0;
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
    return { ticks: this.ticks, nodes: this.where.size, mixing: this.mixer !== null, errors: this.errors };
  }

  /** Nodes per phase group, index = phase (allocates: not per tick). */
  groupSizes(): number[] {
    return this.groups.map((g) => g.length);
  }
}
