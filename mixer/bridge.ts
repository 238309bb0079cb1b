/**
 * The conference bridge: a set of {@link Port}s, the mixing phase of the engine's media pump
 * (`media/mediaPump`), in the shape of pjmedia's conference bridge. Every tick it takes the
 * frame each port's owner put in this tick, mixes the conference groups with mix-minus (nobody
 * hears themself), and leaves one frame in each port for its owner to take in the same tick.
 *
 * ## Bridge rate
 * The bridge mixes at one rate chosen at construction (8, 16 or 48 kHz); ports at another rate
 * are resampled at the edge, in and out, by a persistent resampler each. The default is
 * **16 kHz**: it carries wideband voice (G.722, Opus in its voice modes, which puts nearly all
 * speech energy below 8 kHz) without loss, and a G.711 line costs a 1:2 resampler pair, not a
 * 1:6 one. Mixing at the highest participant rate (48 kHz whenever one Opus line is present)
 * would keep an 8–20 kHz band a phone conference does not need, and put 1:6 resamplers on
 * every G.711 line. What a tick costs is almost all edge resampling, not mixing (see
 * `bench/mixer.ts`): mixing a 960-sample frame is cheaper than resampling a 160-sample one. So
 * the cheapest rate is the one most ports already have: an all-G.711 deployment should pass
 * `rate: 8000` (8 kHz lines then need no resampling at all), an all-Opus or music deployment
 * `rate: 48000`. Two things keep the default affordable in real conferences, where few talk
 * at once: a port putting silence skips its input resampler, and listeners who only listen
 * share one output resampler per group and rate (below).
 *
 * ## Mixing and overlapping groups
 * Per tick each contributing port's frame (at the bridge rate) is scaled by its rx gain and fade
 * and saturated to 16 bits once — at unity gain the frame itself is the contribution, no copy;
 * each group's contributions are summed once into the group's Int32 accumulator (not once per
 * listener). A listener then builds its output from a precomputed
 * *mix plan*, rebuilt only when membership changes:
 * - in one group (the common case): `group sum − own contribution`, fused with tx gain and
 *   saturation in one pass;
 * - in several groups: a port present in more than one of the listener's groups must be heard
 *   once, not once per group. The plan is `Σ group sums + Σ cₚ·contributionₚ` with
 *   `c_self = −k` (k groups) and `cₚ = −(mₚ − 1)` for every other port found in `mₚ > 1` of
 *   those groups: exactly the union of distinct contributors, minus self. When that correction
 *   list makes the plan longer than summing the distinct contributors directly, the plan is the
 *   direct sum instead. All arithmetic is exact integer arithmetic, so mix-minus cancels the
 *   listener's own voice completely.
 * The output is `mix × tx gain`, saturated to ±32767 (clamped, never wrapped), then resampled to
 * the port's rate.
 *
 * ## Joining, leaving, hold
 * Each port has a contribution envelope and a hearing envelope, 0 or 1 between ticks; a change
 * (mute, deaf, join, leave, removal) ramps the envelope linearly over one frame. A membership
 * change of an audible port fades it out of its old groups over one frame, switches, and fades
 * it into the new ones over the next, so the others hear no click and never a gap: their own
 * streams are not touched.
 *
 * ## Shared outputs
 * A listener in one group that contributes nothing this tick (silent, muted) at unity tx gain
 * and with a steady envelope hears exactly the group sum. For such listeners the bridge
 * saturates and resamples the group sum once per native rate and copies the result, instead of
 * running one output resampler per listener. This changes no sample: a resampler's state after
 * a whole frame depends only on that frame (20 ms is longer than any edge filter's history), so
 * a listener switches to the shared frame only after a tick in which its own output already
 * equalled it, and switches back by first running its own resampler over last tick's shared
 * frame. `shareOutputs: false` turns this off; a test compares both sample by sample.
 *
 * ## Hot path
 * `tick()` allocates nothing: all buffers are per port and per group, made when the port or group
 * is created, and the tick's own cost is timed on one tick in `costSampleEvery` only (reading
 * the clock allocates a number). Silence is cheap: a port putting digital silence (or none) skips its input
 * resampler once the resampler's history is flushed, a group nobody speaks in is skipped, and a
 * listener hearing silence skips its output resampler likewise.
 * @module
 */
import { GAIN_UNITY } from '../media/gain.js';
import {
  MixGroup,
  PlanKind,
  Port,
  SharedOutput,
  type AddPortOptions,
  type EdgeResamplerFactory,
  type EdgeResamplerOptions,
  type MixerRate,
} from './port.js';
import { createResampler, type Resampler } from '../media/resample.js';

/** Options of {@link ConferenceBridge}. */
export interface ConferenceBridgeOptions {
  /** Mixing rate (default 16000; see the module notes for the trade-off). */
  readonly rate?: MixerRate;
  /** Frame duration in ms, equal to the media clock's period: an integer from 5 to 120 (default 20). */
  readonly frameMs?: number;
  /** Settings of the edge resamplers (default: the resampler's own, 48 taps per phase). */
  readonly resampler?: EdgeResamplerOptions;
  /** Makes the edge resamplers instead (then `resampler` is ignored). */
  readonly resamplerFactory?: EdgeResamplerFactory;
  /**
   * Time one tick in this many for {@link ConferenceBridge.stats} (default 50: once a second at
   * 20 ms; 1 times every tick; 0 never). Reading the clock allocates a number, so timing every
   * tick would break the allocation-free tick.
   */
  readonly costSampleEvery?: number;
  /**
   * Resample the mix once per group and native rate for all listeners that hear exactly the
   * group sum (in one group, not talking, unity tx gain), instead of once per listener
   * (default true). Output is identical either way; only the cost differs.
   */
  readonly shareOutputs?: boolean;
}

/** Figures of {@link ConferenceBridge.stats}. */
export interface ConferenceBridgeStats {
  /** Mixing rate in Hz. */
  readonly rate: number;
  /** Frame duration in ms. */
  readonly frameMs: number;
  /** Ticks run. */
  readonly ticks: number;
  /** Ports attached (including ones fading out before removal). */
  readonly ports: number;
  /** Conference groups with at least one member. */
  readonly groups: number;
  /** Ticks timed (one in `costSampleEvery`). */
  readonly timedTicks: number;
  /** Wall time of the last timed tick, µs. */
  readonly lastTickUs: number;
  /** Mean wall time of the timed ticks, µs. */
  readonly meanTickUs: number;
  /** Largest wall time of a timed tick, µs. */
  readonly maxTickUs: number;
  /** Mean tick cost as a share of one core: mean tick time / frame duration, in %. */
  readonly cpuPercent: number;
  /** Sum of the ports' underruns (ticks without a frame from an owner). */
  readonly underruns: number;
}

const MAX_OUT = 32767;

/**
 * The conference bridge. Make it the mixer of the engine's media pump
 * (`pump.setMixer(bridge)`: the pump calls {@link ConferenceBridge.mix} between its produce
 * and consume phases), or call {@link ConferenceBridge.tick} directly. Owners put their ports'
 * input frames before the tick and take the output frames after it, in the same tick.
 *
 * @example
 * ```ts
 * const bridge = new ConferenceBridge({ rate: 16000 });
 * const a = bridge.addPort({ name: 'line 1', rate: 8000, groups: ['conf'] });
 * const b = bridge.addPort({ name: 'line 2', rate: 48000, groups: ['conf'] });
 * // every 20 ms:
 * a.putFrame(pcm8k); b.putFrame(pcm48k);
 * bridge.tick();
 * send(a.getFrame()); send(b.getFrame());
 * ```
 */
export class ConferenceBridge {
  /** Mixing rate in Hz. */
  readonly rate: MixerRate;
  /** Frame duration in ms. */
  readonly frameMs: number;
  /** Samples per frame at the bridge rate. */
  readonly frameLen: number;
  /** Edge resampler settings. */
  readonly resampler: EdgeResamplerOptions;

  private readonly portList: Port[] = [];
  private readonly groupMap = new Map<string, MixGroup>();
  private groupList: MixGroup[] = [];
  private pending: Port[] = [];
  /** Frames of silence that flush an edge resampler's history. */
  private readonly flushFrames: number;
  /** rampUp[i] = (i + 1) / n; rampDown[i] = 1 − rampUp[i]. */
  private readonly rampUp: Float64Array;
  private readonly rampDown: Float64Array;

  private readonly sampleEvery: number;
  private readonly share: boolean;
  private readonly factory: EdgeResamplerFactory | null;
  private ticks = 0;
  private timed = 0;
  private lastUs = 0;
  private totalUs = 0;
  private maxUs = 0;

  /** A bridge with no ports. */
  constructor(options: ConferenceBridgeOptions = {}) {
    const rate = options.rate ?? 16000;
    if (rate !== 8000 && rate !== 16000 && rate !== 48000) throw new RangeError(`unsupported bridge rate ${String(rate)}`);
    const frameMs = options.frameMs ?? 20;
    if (!Number.isInteger(frameMs) || frameMs < 5 || frameMs > 120) throw new RangeError(`unsupported frame duration ${frameMs} ms`);
    this.rate = rate;
    this.frameMs = frameMs;
    this.frameLen = (rate * frameMs) / 1000;
    this.resampler = { ...options.resampler };
    this.sampleEvery = Math.max(0, Math.floor(options.costSampleEvery ?? 50));
    this.share = options.shareOutputs ?? true;
    this.factory = options.resamplerFactory ?? null;
    // the TypeScript filter's longest history is tapsPerPhase samples at 8 kHz (tapsPerPhase / 8 ms)
    const historyMs = this.factory?.historyMs ?? (options.resampler?.tapsPerPhase ?? 48) / 8;
    this.flushFrames = Math.ceil(historyMs / frameMs) + 1;
    const n = this.frameLen;
    this.rampUp = new Float64Array(n);
    this.rampDown = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      this.rampUp[i] = (i + 1) / n;
      this.rampDown[i] = 1 - (i + 1) / n;
    }
  }

  /** Makes one edge resampler. @internal */
  newResampler(from: MixerRate, to: MixerRate): Resampler {
    return this.factory !== null ? this.factory.create(from, to) : createResampler(from, to, this.resampler);
  }

  /**
   * Add a participant. It takes part from the next tick, fading in over one frame when it has
   * groups.
   * @throws RangeError for a rate other than 8000, 16000 or 48000.
   */
  addPort(options: AddPortOptions): Port {
    const port = new Port(this, options);
    this.portList.push(port);
    return port;
  }

  /**
   * Remove a participant: it fades out of its groups over the next tick and is then dropped
   * (its {@link Port.isAttached} turns false and its output stays silent). A no-op for a port
   * already removed or from another bridge.
   */
  removePort(port: Port): void {
    if (!port.attached || port.removing || this.portList.indexOf(port) < 0) return;
    port.removing = true;
    port.pendingGroups = null;
    this.schedule(port);
  }

  /** Ports attached, in the order added. */
  get ports(): readonly Port[] {
    return this.portList.slice();
  }

  /** Ids of the groups in effect (having at least one member). */
  groupIds(): string[] {
    return [...this.groupMap.keys()];
  }

  /** Members in effect of group `id` (empty for an unknown group). */
  members(id: string): Port[] {
    return this.groupMap.get(id)?.members.slice() ?? [];
  }

  /** @internal A port has a change to apply at a coming tick. */
  schedule(port: Port): void {
    if (this.pending.indexOf(port) < 0) this.pending.push(port);
  }

  /** Media clock entry point (`MediaClockListener.onTick`): runs {@link ConferenceBridge.tick}. */
  onTick(): void {
    this.tick();
  }

  /**
   * The media pump's mixing phase (`MediaMixer.mix`): runs {@link ConferenceBridge.tick}
   * after every port's owner has put this tick's frame and before any takes its mix.
   */
  mix(): void {
    this.tick();
  }

  /**
   * Mix one frame: consume every port's input frame, leave every port's output frame. Allocates
   * nothing unless membership changed since the last tick.
   */
  tick(): void {
    const timed = this.sampleEvery > 0 && this.ticks % this.sampleEvery === 0;
    const t0 = timed ? performance.now() : 0;
    if (this.pending.length > 0) this.applyPending();
    const ports = this.portList;
    const n = ports.length;
    for (let i = 0; i < n; i++) this.prepareInput(ports[i]!);
    const groups = this.groupList;
    const now = this.ticks;
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (g.needed) sumGroup(g, now);
    }
    for (let i = 0; i < n; i++) this.mixOutput(ports[i]!);
    for (let i = 0; i < n; i++) {
      const p = ports[i]!;
      p.inLevel = p.inNext;
      p.outLevel = p.outNext;
      p.finishTick();
    }
    this.ticks++;
    if (timed) {
      const us = (performance.now() - t0) * 1000;
      this.timed++;
      this.lastUs = us;
      this.totalUs += us;
      if (us > this.maxUs) this.maxUs = us;
    }
  }

  /** Bridge figures (allocates: call now and then, not per tick). */
  stats(): ConferenceBridgeStats {
    let underruns = 0;
    for (const p of this.portList) underruns += p.underruns;
    const mean = this.timed === 0 ? 0 : this.totalUs / this.timed;
    return {
      rate: this.rate,
      frameMs: this.frameMs,
      ticks: this.ticks,
      timedTicks: this.timed,
      ports: this.portList.length,
      groups: this.groupMap.size,
      lastTickUs: this.lastUs,
      meanTickUs: mean,
      maxTickUs: this.maxUs,
      cpuPercent: mean / (this.frameMs * 10),
      underruns,
    };
  }

  /** Apply the membership changes and removals of ports that are faded out, then replan. */
  private applyPending(): void {
    let changed = false;
    const still: Port[] = [];
    for (const p of this.pending) {
      if (!p.attached) continue;
      if (p.inLevel !== 0 || p.outLevel !== 0) {
        still.push(p); // fades out this tick, switches at the next
        continue;
      }
      if (p.removing) {
        for (const id of p.groupSet) this.dropMember(id, p);
        p.groupSet.clear();
        this.portList.splice(this.portList.indexOf(p), 1);
        p.attached = false;
        p.removing = false;
        p.inNative.fill(0);
        p.inSilent = true;
        p.outNative.fill(0);
        p.outZero = true;
        p.planKind = PlanKind.None;
        p.planGroups = [];
        p.planPorts = [];
        p.planCoeffs = [];
        p.planShared = null;
        p.lastShared = null;
        p.sharedOk = false;
        changed = true;
      } else if (p.pendingGroups !== null) {
        const next = new Set(p.pendingGroups);
        for (const id of [...p.groupSet]) {
          if (!next.has(id)) {
            this.dropMember(id, p);
            p.groupSet.delete(id);
          }
        }
        for (const id of next) {
          if (p.groupSet.has(id)) continue;
          let g = this.groupMap.get(id);
          if (g === undefined) {
            g = new MixGroup(id, this.frameLen);
            this.groupMap.set(id, g);
          }
          g.members.push(p);
          p.groupSet.add(id);
        }
        p.pendingGroups = null;
        changed = true;
      }
    }
    this.pending = still;
    if (changed) this.replan();
  }

  private dropMember(id: string, p: Port): void {
    const g = this.groupMap.get(id);
    if (g === undefined) return;
    const i = g.members.indexOf(p);
    if (i >= 0) g.members.splice(i, 1);
    if (g.members.length === 0) this.groupMap.delete(id);
  }

  /** Rebuild every listener's mix plan and the groups' `needed` flags. */
  private replan(): void {
    this.groupList = [...this.groupMap.values()];
    for (const g of this.groupList) {
      g.needed = false;
      // one shared output per native rate that needs resampling (kept across replans: state)
      const rates = new Set<MixerRate>();
      if (this.share) for (const m of g.members) if (m.rate !== this.rate) rates.add(m.rate);
      const kept = g.shared.filter((so) => rates.has(so.rate));
      for (const r of rates) if (!kept.some((so) => so.rate === r)) kept.push(new SharedOutput(g, r, this));
      g.shared = kept;
    }
    for (const p of this.portList) {
      const before = p.planShared;
      p.planShared = null;
      p.planGroups = [];
      p.planPorts = [];
      p.planCoeffs = [];
      p.planKind = PlanKind.None;
      const mine: MixGroup[] = [];
      for (const id of p.groupSet) {
        const g = this.groupMap.get(id);
        if (g !== undefined && g.members.length > 1) mine.push(g);
      }
      if (mine.length === 0) {
        p.sharedOk = false;
        continue;
      }
      if (mine.length === 1) {
        const g = mine[0]!;
        p.planKind = PlanKind.One;
        p.planGroups = mine;
        g.needed = true;
        if (p.outRs !== null) p.planShared = g.shared.find((so) => so.rate === p.rate) ?? null;
        // "last tick's output equalled the shared one" still holds for the same shared output
        if (p.planShared !== before) p.sharedOk = false;
        continue;
      }
      p.sharedOk = false;
      // several groups: count how many of them each port is in
      const mult = new Map<Port, number>();
      for (const g of mine) for (const m of g.members) mult.set(m, (mult.get(m) ?? 0) + 1);
      const others = mult.size - (mult.has(p) ? 1 : 0);
      const corrections: Port[] = [];
      const coeffs: number[] = [];
      for (const [m, k] of mult) {
        if (m === p) {
          corrections.push(m);
          coeffs.push(-k);
        } else if (k > 1) {
          corrections.push(m);
          coeffs.push(-(k - 1));
        }
      }
      p.planKind = PlanKind.General;
      if (mine.length + corrections.length <= others) {
        p.planGroups = mine;
        p.planPorts = corrections;
        p.planCoeffs = coeffs;
        for (const g of mine) g.needed = true;
      } else {
        for (const m of mult.keys()) {
          if (m === p) continue;
          p.planPorts.push(m);
          p.planCoeffs.push(1);
        }
      }
    }
  }

  /** Input side of one port: frame → bridge rate → rx gain and fade → contribution. */
  private prepareInput(p: Port): void {
    // targets are fixed here, before any tap runs, so a tap changing a port waits a tick
    p.inNext = p.inTarget();
    p.outNext = p.outTarget();
    const from = p.inLevel;
    const to = p.inNext;
    if (!p.fresh && !p.inSilent) {
      p.inNative.fill(0);
      p.inSilent = true;
    }
    if (from === 0 && to === 0) {
      p.contribActive = false;
      if (!p.inRsClean) {
        p.inRs!.reset();
        p.inRsClean = true;
        p.inSilentRun = 0;
      }
      return;
    }
    if (!p.fresh) p.underruns++;
    if (p.inSilent && p.inRsClean) {
      p.contribActive = false;
      return;
    }
    const rs = p.inRs;
    if (rs !== null) {
      rs.process(p.inNative, p.frameLen, p.inBridge);
      if (p.inSilent) {
        if (++p.inSilentRun >= this.flushFrames) p.inRsClean = true;
      } else {
        p.inSilentRun = 0;
        p.inRsClean = false;
      }
    }
    const g = p.rxFactor();
    if (g === 0) {
      p.contribActive = false;
      return;
    }
    const src = p.inBridge;
    p.contribActive = true;
    if (from === to && g === 1) {
      p.contrib = src; // unity and steady: the input is the contribution, no copy
      return;
    }
    const dst = p.contribBuf;
    p.contrib = dst;
    const len = this.frameLen;
    if (from === to) {
      for (let i = 0; i < len; i++) dst[i] = satIn(src[i]! * g);
    } else {
      const ramp = to > from ? this.rampUp : this.rampDown;
      for (let i = 0; i < len; i++) dst[i] = satIn(src[i]! * g * ramp[i]!);
    }
  }

  /**
   * Output side of one listener: the shared frame of its group when it hears exactly that, else
   * its own mix.
   */
  private mixOutput(p: Port): void {
    const so = p.planShared;
    const eligible = so !== null && p.outLevel === 1 && p.outNext === 1 && !p.contribActive && p.txGain === GAIN_UNITY;
    if (eligible && p.sharedOk) {
      this.computeShared(so, this.ticks);
      if (so.zero) {
        if (!p.outZero) {
          p.outNative.fill(0);
          p.outZero = true;
        }
      } else {
        p.outNative.set(so.native);
        p.outZero = false;
      }
      p.lastShared = so;
      return;
    }
    const last = p.lastShared;
    if (last !== null) {
      // back to its own resampler: give it the state the shared one had after last tick
      p.lastShared = null;
      const prev = last.tick === this.ticks ? last.prev : last.tick === this.ticks - 1 ? last.cur : null;
      if (prev !== null) {
        p.outRs!.process(prev, this.frameLen, p.outNative);
        p.outRsClean = false;
        p.outSilentRun = 0;
      } else {
        p.outRs!.reset();
        p.outRsClean = true;
      }
    }
    this.mixOwn(p);
    p.sharedOk = eligible;
  }

  /**
   * Make `so` hold tick `now`'s frame: the group sum at unity gain, saturated and resampled,
   * once however many listeners take it.
   */
  private computeShared(so: SharedOutput, now: number): void {
    if (so.tick === now) return;
    const g = so.group;
    const len = this.frameLen;
    if (so.tick === now - 1) {
      const t = so.prev;
      so.prev = so.cur;
      so.cur = t;
    } else if (g.summedTick === now && g.prevTick === now - 1 && g.prevActive > 0) {
      // first use after a pause: bring the resampler to its state after last tick's frame
      const prev = so.prev;
      const acc = g.prevAcc;
      for (let i = 0; i < len; i++) prev[i] = sat(acc[i]!);
      so.rs.process(prev, len, so.native);
      so.clean = false;
      so.silentRun = 0;
    } else {
      so.prev.fill(0);
      so.rs.reset(); // the state after a frame of silence
      so.clean = true;
      so.silentRun = 0;
    }
    so.tick = now;
    const cur = so.cur;
    if (g.active > 0) {
      const acc = g.acc;
      for (let i = 0; i < len; i++) cur[i] = sat(acc[i]!);
      so.rs.process(cur, len, so.native);
      so.clean = false;
      so.silentRun = 0;
      so.zero = false;
      return;
    }
    cur.fill(0);
    if (so.clean) {
      if (!so.zero) {
        so.native.fill(0);
        so.zero = true;
      }
      return;
    }
    so.rs.process(cur, len, so.native);
    so.zero = false;
    if (++so.silentRun >= this.flushFrames) so.clean = true;
  }

  /** A listener's own mix: plan → mix → tx gain, fade, saturation → native rate. */
  private mixOwn(p: Port): void {
    const from = p.outLevel;
    const to = p.outNext;
    if (from === 0 && to === 0) {
      this.silenceOutput(p, true);
      return;
    }
    const len = this.frameLen;
    const out = p.outBridge;
    const gain = p.txFactor();
    const ramp = from === to ? null : to > from ? this.rampUp : this.rampDown;
    let heard = false;
    if (gain !== 0 && p.planKind === PlanKind.One) {
      const g = p.planGroups[0]!;
      const self = p.contribActive;
      if (g.active > (self ? 1 : 0)) {
        heard = true;
        const acc = g.acc;
        if (self) {
          const own = p.contrib;
          if (ramp !== null) for (let i = 0; i < len; i++) out[i] = sat((acc[i]! - own[i]!) * gain * ramp[i]!);
          else if (gain === 1) for (let i = 0; i < len; i++) out[i] = sat(acc[i]! - own[i]!);
          else for (let i = 0; i < len; i++) out[i] = sat((acc[i]! - own[i]!) * gain);
        } else if (ramp !== null) for (let i = 0; i < len; i++) out[i] = sat(acc[i]! * gain * ramp[i]!);
        else if (gain === 1) for (let i = 0; i < len; i++) out[i] = sat(acc[i]!);
        else for (let i = 0; i < len; i++) out[i] = sat(acc[i]! * gain);
      }
    } else if (gain !== 0 && p.planKind === PlanKind.General) {
      const mix = p.mix;
      const groups = p.planGroups;
      for (let k = 0; k < groups.length; k++) {
        const g = groups[k]!;
        if (g.active === 0) continue;
        const acc = g.acc;
        if (heard) for (let i = 0; i < len; i++) mix[i] = mix[i]! + acc[i]!;
        else for (let i = 0; i < len; i++) mix[i] = acc[i]!;
        heard = true;
      }
      const terms = p.planPorts;
      const coeffs = p.planCoeffs;
      for (let k = 0; k < terms.length; k++) {
        const q = terms[k]!;
        if (!q.contribActive) continue;
        const c = coeffs[k]!;
        const src = q.contrib;
        if (heard) for (let i = 0; i < len; i++) mix[i] = mix[i]! + c * src[i]!;
        else for (let i = 0; i < len; i++) mix[i] = c * src[i]!;
        heard = true;
      }
      if (heard) {
        if (ramp !== null) for (let i = 0; i < len; i++) out[i] = sat(mix[i]! * gain * ramp[i]!);
        else if (gain === 1) for (let i = 0; i < len; i++) out[i] = sat(mix[i]!);
        else for (let i = 0; i < len; i++) out[i] = sat(mix[i]! * gain);
      }
    }
    if (!heard) {
      this.silenceOutput(p, false);
      return;
    }
    const rs = p.outRs;
    if (rs !== null) {
      rs.process(out, len, p.outNative);
      p.outRsClean = false;
      p.outSilentRun = 0;
    }
    p.outZero = false;
  }

  /**
   * A listener hears silence this tick. With `idle` (not hearing at all) a dirty resampler is
   * reset; otherwise it is run on silence until its history is flushed, so a talker's tail ends
   * as it would in the resampled stream.
   */
  private silenceOutput(p: Port, idle: boolean): void {
    const rs = p.outRs;
    if (rs === null || p.outRsClean) {
      if (!p.outZero) {
        p.outNative.fill(0);
        p.outZero = true;
      }
      return;
    }
    if (idle) {
      rs.reset();
      p.outRsClean = true;
      p.outSilentRun = 0;
      p.outNative.fill(0);
      p.outZero = true;
      return;
    }
    p.outBridge.fill(0);
    rs.process(p.outBridge, this.frameLen, p.outNative);
    p.outZero = false;
    if (++p.outSilentRun >= this.flushFrames) p.outRsClean = true;
  }
}

/** Saturate a scaled input sample to 16 bits (the store truncates toward zero). */
function satIn(v: number): number {
  return v > 32767 ? 32767 : v < -32768 ? -32768 : v;
}

/** Saturate to ±32767 (the Int16Array store then truncates toward zero). */
function sat(v: number): number {
  return v > MAX_OUT ? MAX_OUT : v < -MAX_OUT ? -MAX_OUT : v;
}

/**
 * Sum the group's contributing members into its accumulator once for all its listeners (the
 * accumulators swap, keeping last tick's sum for the shared outputs).
 */
function sumGroup(g: MixGroup, now: number): void {
  const acc = g.prevAcc;
  g.prevAcc = g.acc;
  g.acc = acc;
  g.prevActive = g.active;
  g.prevTick = g.summedTick;
  g.summedTick = now;
  const len = acc.length;
  const members = g.members;
  let active = 0;
  for (let k = 0; k < members.length; k++) {
    const m = members[k]!;
    if (!m.contribActive) continue;
    const src = m.contrib;
    if (active === 0) for (let i = 0; i < len; i++) acc[i] = src[i]!;
    else for (let i = 0; i < len; i++) acc[i] = acc[i]! + src[i]!;
    active++;
  }
  g.active = active;
}
