/**
 * One participant of the {@link ConferenceBridge}: a phone line, the local audio device, an IVR
 * channel or a file player. A port has a native rate and two sides, like a pjmedia conference
 * port: the owner puts one frame per tick into it ({@link Port.putFrame}) and takes one frame per
 * tick out of it ({@link Port.getFrame}); the bridge converts between the native rate and its own
 * rate at the edge with a persistent resampler per direction, so consecutive frames join without
 * clicks.
 *
 * The mixing itself lives in the bridge; the fields marked internal are its per-port working
 * state (buffers preallocated here, once, so a tick allocates nothing).
 * @module
 */
import type { Resampler } from '../media/resample.js';
import { clampGain, GAIN_UNITY, measureLevel, saturate16, type FrameLevel } from '../media/gain.js';

/** Sample rates a port (or the bridge) may run at. */
export type MixerRate = 8000 | 16000 | 48000;

export { GAIN_UNITY, GAIN_MAX } from '../media/gain.js';

/**
 * Settings of the edge resamplers between a port's rate and the bridge's (the windowed-sinc
 * filters of `media/resample`).
 */
export interface EdgeResamplerOptions {
  /** FIR taps per polyphase branch (default 48; fewer is cheaper with a wider transition band). */
  readonly tapsPerPhase?: number;
  /** Passband edge as a fraction of the lower rate's Nyquist frequency (default 0.9). */
  readonly cutoff?: number;
  /** Kaiser window β (default 7: about 70 dB stopband attenuation). */
  readonly beta?: number;
}

/**
 * Makes the bridge's edge resamplers, when the TypeScript ones of `media/resample` are not
 * wanted (the engine passes libspeexdsp's, which are several times faster; see
 * `bench/resamplers.ts`). The bridge relies on a resampler's state after a whole frame
 * depending only on that frame, which holds for any FIR shorter than a frame.
 */
export interface EdgeResamplerFactory {
  /** A new resampler for one stream from `from` to `to` Hz. */
  create(from: MixerRate, to: MixerRate): Resampler;
  /** The longest filter history in ms: silence this long flushes a resampler. */
  readonly historyMs: number;
}


/** What {@link ConferenceBridge.addPort} needs to create a {@link Port}. */
export interface AddPortOptions {
  /** A label for diagnostics (line number, "device", "ivr 3"…). Need not be unique. */
  readonly name: string;
  /** Native sample rate of the frames put into and taken from the port. */
  readonly rate: MixerRate;
  /** Conference groups to join on the first tick (default none: the port hears nobody). */
  readonly groups?: readonly string[];
  /** Rx gain (what the port contributes), 0..2048, 512 = 100 % (default 512). */
  readonly rxGain?: number;
  /** Tx gain (what the port hears), 0..2048, 512 = 100 % (default 512). */
  readonly txGain?: number;
  /**
   * Measure peak and RMS of both sides every tick for {@link Port.levels} (default false; it
   * costs two passes over the frames, and setting {@link Port.onLevels} turns it on).
   */
  readonly meter?: boolean;
}

/**
 * Peak and RMS of one tick's frames, in 16-bit sample units (a full-scale sine has peak 32767 and
 * RMS about 23170). Input is the frame the owner put (before rx gain); output is the frame
 * {@link Port.getFrame} returns (after tx gain).
 */
export interface PortLevels {
  /** Largest absolute sample of the input frame. */
  inPeak: number;
  /** RMS of the input frame. */
  inRms: number;
  /** Largest absolute sample of the output frame. */
  outPeak: number;
  /** RMS of the output frame. */
  outRms: number;
}

/**
 * Recording tap, called once per tick after mixing with the port's input frame (what the far
 * end said, as put), its output frame (what the far end hears) and both summed with saturation,
 * all at the port's native rate. The arrays are the port's own buffers, reused every tick:
 * copy what you keep before returning. Must not throw.
 */
export type RecordTap = (input: Int16Array, output: Int16Array, mixed: Int16Array, port: Port) => void;

/**
 * Level tap (for a VU meter), called once per tick with the port's levels. The object is reused
 * every tick: copy the figures you keep. Must not throw.
 */
export type LevelTap = (levels: Readonly<PortLevels>, port: Port) => void;

/**
 * The bridge side of a port: what a port tells its bridge when its membership changes.
 * @internal
 */
export interface PortHost {
  /** Rate of the bridge. */
  readonly rate: MixerRate;
  /** Samples per frame at the bridge rate. */
  readonly frameLen: number;
  /** Frame duration in ms. */
  readonly frameMs: number;
  /** Resampler settings for the port edges. */
  readonly resampler: EdgeResamplerOptions;
  /** Makes one edge resampler (the bridge's factory, or the TypeScript one). */
  newResampler(from: MixerRate, to: MixerRate): Resampler;
  /** The port has a membership change or removal to apply at a coming tick. */
  schedule(port: Port): void;
}

/**
 * A conference group's per-tick state: the sum of its members' contributions, built once per
 * tick and shared by every listener that hears the group.
 * @internal
 */
export class MixGroup {
  /** Members, in join order. */
  readonly members: Port[] = [];
  /** Sum of the contributing members' frames at the bridge rate, this tick. */
  acc: Int32Array;
  /** The previous tick's sum (double buffer: the two swap every tick). */
  prevAcc: Int32Array;
  /** Members that contributed non-silence this tick. */
  active = 0;
  /** {@link MixGroup.active} of the previous tick. */
  prevActive = 0;
  /** Tick number of the last sum (−1: never). */
  summedTick = -1;
  /** Tick number of the sum before (the one in {@link MixGroup.prevAcc}). */
  prevTick = -1;
  /** True when some listener's mix plan reads {@link MixGroup.acc}. */
  needed = false;
  /** Shared outputs, one per native rate (other than the bridge's) among the members. */
  shared: SharedOutput[] = [];

  /** An empty group named `id`, with accumulators of `frameLen` samples. */
  constructor(
    readonly id: string,
    frameLen: number,
  ) {
    this.acc = new Int32Array(frameLen);
    this.prevAcc = new Int32Array(frameLen);
  }
}

/**
 * What every listener of a group hears when it does not talk: the group sum at unity tx gain,
 * resampled once to one native rate for all such listeners at that rate. A listener's output
 * equals it exactly when the listener is in that one group, contributes nothing, has unity tx
 * gain and a steady envelope; because a resampler's state after a whole frame depends only on
 * that frame, a listener that heard the shared output last tick can switch to it (or back to
 * its own resampler, primed with last tick's shared frame) without any difference in output.
 * @internal
 */
export class SharedOutput {
  /** Resampler from the bridge rate to {@link SharedOutput.rate}. */
  readonly rs: Resampler;
  /** This tick's frame at the bridge rate. */
  cur: Int16Array;
  /** The previous tick's frame at the bridge rate. */
  prev: Int16Array;
  /** This tick's frame at the native rate. */
  readonly native: Int16Array;
  /** Tick number of {@link SharedOutput.cur} (−1: never computed). */
  tick = -1;
  /** The resampler holds only zeros. */
  clean = true;
  /** Consecutive silent frames run through the resampler. */
  silentRun = 0;
  /** {@link SharedOutput.native} is all zeros. */
  zero = true;

  /** A shared output of `group` at `rate`. */
  constructor(
    readonly group: MixGroup,
    readonly rate: MixerRate,
    host: PortHost,
  ) {
    this.rs = host.newResampler(host.rate, rate);
    this.cur = new Int16Array(host.frameLen);
    this.prev = new Int16Array(host.frameLen);
    this.native = new Int16Array((rate * host.frameMs) / 1000);
  }
}

/** Mix plan kinds of a listener (see {@link ConferenceBridge}). @internal */
export const enum PlanKind {
  /** In no group, or alone: hears nothing. */
  None = 0,
  /** In exactly one group: the group sum minus its own contribution. */
  One = 1,
  /** Several groups: a sum of group sums and signed port terms. */
  General = 2,
}


function sameSet(a: ReadonlySet<string>, b: readonly string[]): boolean {
  if (a.size !== b.length) return false;
  for (const id of b) if (!a.has(id)) return false;
  return true;
}

/**
 * A bridge participant. Create ports with {@link ConferenceBridge.addPort}; never construct one
 * directly.
 *
 * Timing: membership, mute and deaf changes take effect at the next tick, with a one-frame fade
 * so nobody hears a click. A membership change of a port that is audible fades it out of its old
 * groups over one frame, switches it, and fades it into the new ones over the next frame.
 */
export class Port {
  /** Diagnostic label. */
  readonly name: string;
  /** Native sample rate. */
  readonly rate: MixerRate;
  /** Samples per frame at the native rate (160 for 8 kHz and 20 ms). */
  readonly frameLen: number;

  private readonly host: PortHost;
  private mutedFlag = false;
  private deafFlag = false;
  private rx = GAIN_UNITY;
  private tx = GAIN_UNITY;

  /** Groups in effect (the bridge mixes by these). @internal */
  readonly groupSet = new Set<string>();
  /** Groups requested but not yet applied, or null. @internal */
  pendingGroups: string[] | null = null;
  /** Removal requested, applied once the port is faded out. @internal */
  removing = false;
  /** False once the bridge has dropped the port. @internal */
  attached = true;

  /** Contribution envelope at the start of the tick: 0 silent, 1 full. @internal */
  inLevel = 0;
  /** Hearing envelope at the start of the tick. @internal */
  outLevel = 0;
  /** Contribution envelope at the end of the running tick (its target, fixed at tick start). @internal */
  inNext = 0;
  /** Hearing envelope at the end of the running tick. @internal */
  outNext = 0;

  /** The frame put by the owner, native rate. @internal */
  readonly inNative: Int16Array;
  /** A frame was put since the last tick. @internal */
  fresh = false;
  /** The current input frame is digital silence. @internal */
  inSilent = true;
  /** Native → bridge resampler, or null when the rates match. @internal */
  readonly inRs: Resampler | null;
  /** The input resampler holds only zeros (skipping it equals running it on silence). @internal */
  inRsClean = true;
  /** Consecutive silent frames run through the input resampler. @internal */
  inSilentRun = 0;
  /** Input at the bridge rate (aliases {@link Port.inNative} when the rates match). @internal */
  readonly inBridge: Int16Array;
  /**
   * This tick's contribution at the bridge rate, rx gain and fade applied and saturated to
   * 16 bits: {@link Port.inBridge} itself at unity gain (no copy), else {@link Port.contribBuf}.
   * @internal
   */
  contrib: Int16Array;
  /** Buffer for a scaled or fading contribution. @internal */
  readonly contribBuf: Int16Array;
  /** {@link Port.contrib} holds non-silence this tick. @internal */
  contribActive = false;

  /** Mix accumulator for listeners with a general plan. @internal */
  readonly mix: Int32Array;
  /** Output at the bridge rate (aliases {@link Port.outNative} when the rates match). @internal */
  readonly outBridge: Int16Array;
  /** Bridge → native resampler, or null when the rates match. @internal */
  readonly outRs: Resampler | null;
  /** The output resampler holds only zeros. @internal */
  outRsClean = true;
  /** Consecutive silent frames run through the output resampler. @internal */
  outSilentRun = 0;
  /** The output frame, native rate. @internal */
  readonly outNative: Int16Array;
  /** {@link Port.outNative} is known to be all zeros. @internal */
  outZero = true;

  /** How this listener builds its output. @internal */
  planKind: PlanKind = PlanKind.None;
  /** Group sums added into the output. @internal */
  planGroups: MixGroup[] = [];
  /** Ports whose contributions are added with {@link Port.planCoeffs} (self with −k, overlaps). @internal */
  planPorts: Port[] = [];
  /** Coefficients of {@link Port.planPorts}. @internal */
  planCoeffs: number[] = [];
  /** The shared output this listener may use (its one group's, at its rate), or null. @internal */
  planShared: SharedOutput | null = null;
  /**
   * The listener's output last tick equalled {@link Port.planShared}'s (same conditions held),
   * so it may take the shared frame this tick. @internal
   */
  sharedOk = false;
  /** The shared output this listener took last tick (its own resampler is stale), or null. @internal */
  lastShared: SharedOutput | null = null;

  /** Measure levels each tick. @internal */
  meter: boolean;
  private readonly lv: PortLevels = { inPeak: 0, inRms: 0, outPeak: 0, outRms: 0 };
  private readonly outLv: FrameLevel = { peak: 0, rms: 0 };
  /** Both sides summed, for the recording tap (allocated when a tap is set). @internal */
  recMixed: Int16Array | null = null;
  private recTap: RecordTap | null = null;
  private levelTap: LevelTap | null = null;

  /** Ticks the port took part in without a frame from its owner (silence was used). */
  underruns = 0;
  /** Frames put that replaced one not yet consumed by a tick (the older was dropped). */
  overruns = 0;

  /** @internal Use {@link ConferenceBridge.addPort}. */
  constructor(host: PortHost, opts: AddPortOptions) {
    const { rate } = opts;
    if (rate !== 8000 && rate !== 16000 && rate !== 48000) throw new RangeError(`unsupported port rate ${String(rate)}`);
    this.host = host;
    this.name = opts.name;
    this.rate = rate;
    this.frameLen = (rate * host.frameMs) / 1000;
    const bl = host.frameLen;
    this.inNative = new Int16Array(this.frameLen);
    this.outNative = new Int16Array(this.frameLen);
    if (rate === host.rate) {
      this.inRs = null;
      this.outRs = null;
      this.inBridge = this.inNative;
      this.outBridge = this.outNative;
    } else {
      this.inRs = host.newResampler(rate, host.rate);
      this.outRs = host.newResampler(host.rate, rate);
      this.inBridge = new Int16Array(bl);
      this.outBridge = new Int16Array(bl);
    }
    this.contribBuf = new Int16Array(bl);
    this.contrib = this.contribBuf;
    this.mix = new Int32Array(bl);
    this.rx = clampGain(opts.rxGain ?? GAIN_UNITY);
    this.tx = clampGain(opts.txGain ?? GAIN_UNITY);
    this.meter = opts.meter ?? false;
    if (opts.groups && opts.groups.length > 0) this.setGroups(opts.groups);
  }

  /**
   * Hand the port this tick's input frame at its native rate. The samples are copied (the
   * caller may reuse `pcm` at once); a shorter frame is padded with silence, a longer one cut.
   * Without a frame by the tick the port contributes silence. Ignored after removal.
   */
  putFrame(pcm: Int16Array): void {
    if (!this.attached) return;
    if (this.fresh) this.overruns++;
    const dst = this.inNative;
    const n = pcm.length < dst.length ? pcm.length : dst.length;
    let any = 0;
    if (this.meter) {
      // the input meter rides on the copy: one pass instead of two
      let peak = 0;
      let sum = 0;
      for (let i = 0; i < n; i++) {
        const v = pcm[i]!;
        dst[i] = v;
        any |= v;
        const a = v < 0 ? -v : v;
        if (a > peak) peak = a;
        sum += v * v;
      }
      this.lv.inPeak = peak;
      this.lv.inRms = Math.sqrt(sum / dst.length);
    } else {
      for (let i = 0; i < n; i++) {
        const v = pcm[i]!;
        dst[i] = v;
        any |= v;
      }
    }
    if (n < dst.length) dst.fill(0, n);
    this.inSilent = any === 0;
    this.fresh = true;
  }

  /**
   * This tick's output at the native rate: the mix of everyone the port hears, minus itself,
   * after tx gain. The array is the port's own buffer, overwritten by the next tick: copy it if
   * you keep it.
   */
  getFrame(): Int16Array {
    return this.outNative;
  }

  /**
   * Copy this tick's output into `dst` (up to its length).
   * @returns samples copied.
   */
  readFrame(dst: Int16Array): number {
    const n = dst.length < this.outNative.length ? dst.length : this.outNative.length;
    dst.set(this.outNative.subarray(0, n));
    return n;
  }

  /** The groups the port is in, or will be in from the next tick when a change is pending. */
  get groups(): readonly string[] {
    return this.pendingGroups !== null ? this.pendingGroups.slice() : [...this.groupSet];
  }

  /** True when the port is, or will be from the next tick, in group `id`. */
  inGroup(id: string): boolean {
    return this.pendingGroups !== null ? this.pendingGroups.includes(id) : this.groupSet.has(id);
  }

  /** Join conference group `id` (created on demand); a no-op when already a member. */
  join(id: string): void {
    if (this.inGroup(id)) return;
    this.setGroups([...this.groups, id]);
  }

  /** Leave conference group `id` (dropped once empty); a no-op when not a member. */
  leave(id: string): void {
    if (!this.inGroup(id)) return;
    this.setGroups(this.groups.filter((g) => g !== id));
  }

  /** Replace the port's groups with `ids` (duplicates ignored; `[]` leaves all). */
  setGroups(ids: readonly string[]): void {
    if (!this.attached || this.removing) return;
    const next = [...new Set(ids.map(String))];
    if (sameSet(this.groupSet, next)) {
      this.pendingGroups = null;
      return;
    }
    this.pendingGroups = next;
    this.host.schedule(this);
  }

  /**
   * Set both gains, 0..2048 with 512 = 100 % (values outside are clamped): `rx` scales what the
   * port contributes to others, `tx` what it hears. Takes effect at the next tick.
   */
  setGains(rx: number, tx: number): void {
    this.rx = clampGain(rx);
    this.tx = clampGain(tx);
  }

  /** Rx gain (what the port contributes), 0..2048, 512 = 100 %. */
  get rxGain(): number {
    return this.rx;
  }
  /** Set the rx gain (clamped to 0..2048). */
  set rxGain(v: number) {
    this.rx = clampGain(v);
  }

  /** Tx gain (what the port hears), 0..2048, 512 = 100 %. */
  get txGain(): number {
    return this.tx;
  }
  /** Set the tx gain (clamped to 0..2048). */
  set txGain(v: number) {
    this.tx = clampGain(v);
  }

  /** A muted port contributes nothing (it still hears). Changes fade over one frame. */
  get muted(): boolean {
    return this.mutedFlag;
  }
  /** Mute or unmute. */
  set muted(v: boolean) {
    this.mutedFlag = v;
  }

  /** A deaf port hears nothing (it still contributes). Changes fade over one frame. */
  get deaf(): boolean {
    return this.deafFlag;
  }
  /** Make deaf or hearing. */
  set deaf(v: boolean) {
    this.deafFlag = v;
  }

  /** Hold: muted and deaf, so the port leaves the mix in both directions. */
  get held(): boolean {
    return this.mutedFlag && this.deafFlag;
  }
  /** Hold (true) or resume (false): sets both muted and deaf. */
  set held(v: boolean) {
    this.mutedFlag = v;
    this.deafFlag = v;
  }

  /** False once the bridge has dropped the port after {@link ConferenceBridge.removePort}. */
  get isAttached(): boolean {
    return this.attached;
  }

  /** Levels of the last tick (a fresh copy; zeros when metering is off). */
  levels(): PortLevels {
    const l = this.lv;
    return { inPeak: l.inPeak, inRms: l.inRms, outPeak: l.outPeak, outRms: l.outRms };
  }

  /**
   * Level tap for a VU meter, called every tick (see {@link LevelTap}); setting one turns
   * metering on, null removes it (metering stays as it is).
   */
  get onLevels(): LevelTap | null {
    return this.levelTap;
  }
  /** Install or remove the level tap. */
  set onLevels(tap: LevelTap | null) {
    this.levelTap = tap;
    if (tap !== null) this.meter = true;
  }

  /** Turn per-tick level measurement on or off (off: {@link Port.levels} reads zeros). */
  setMetering(on: boolean): void {
    this.meter = on;
    if (!on) {
      const l = this.lv;
      l.inPeak = l.inRms = l.outPeak = l.outRms = 0;
    }
  }

  /**
   * Install (or with null remove) the recording tap: called every tick with both directions of
   * the port. See {@link RecordTap}.
   */
  setRecordTap(tap: RecordTap | null): void {
    this.recTap = tap;
    if (tap && this.recMixed === null) this.recMixed = new Int16Array(this.frameLen);
  }

  /** Contribution envelope target of this tick. @internal */
  inTarget(): number {
    return this.pendingGroups === null && !this.removing && !this.mutedFlag && this.groupSet.size > 0 ? 1 : 0;
  }

  /** Hearing envelope target of this tick. @internal */
  outTarget(): number {
    return this.pendingGroups === null && !this.removing && !this.deafFlag && this.groupSet.size > 0 ? 1 : 0;
  }

  /** Rx gain as a factor. @internal */
  rxFactor(): number {
    return this.rx / GAIN_UNITY;
  }

  /** Tx gain as a factor. @internal */
  txFactor(): number {
    return this.tx / GAIN_UNITY;
  }

  /** End of tick: meter and taps, then forget the consumed input. @internal */
  finishTick(): void {
    if (this.meter) {
      const l = this.lv;
      if (!this.fresh) {
        l.inPeak = 0;
        l.inRms = 0;
      }
      if (this.outZero) {
        l.outPeak = 0;
        l.outRms = 0;
      } else {
        const o = this.outLv;
        measureLevel(this.outNative, this.outNative.length, o);
        l.outPeak = o.peak;
        l.outRms = o.rms;
      }
      if (this.levelTap !== null) this.levelTap(l, this);
    }
    const tap = this.recTap;
    if (tap !== null) {
      const m = this.recMixed!;
      const a = this.inNative;
      const b = this.outNative;
      for (let i = 0; i < m.length; i++) m[i] = saturate16(a[i]! + b[i]!);
      tap(a, b, m, this);
    }
    this.fresh = false;
  }
}
