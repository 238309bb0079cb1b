/**
 * Line policy: which line an incoming call rings, which line an outgoing call takes, busy-out
 * and outgoing-only lines, and LanScape's inter-line rule in LineMode.PhoneLine (taking one line
 * off hook holds the others). Works on the engine's {@link PhoneLine}s; the facade validates the
 * arguments and routes here. It takes the usage context (lines/context.ts) plus the start
 * parameters it follows.
 * @module
 */
import type { PhoneLine } from '../lines/phoneLine.js';
import type { UsageContext } from '../lines/context.js';
import { phoneDigits } from '../sip/telNumber.js';
import { TelephonyReturnValue as T } from './returnCodes.js';
import { LineMode, LineState, SIP_AUDIO_DEVICE_NOT_USED } from './types.js';

/** The start parameters the policy follows. */
export interface LinePolicyParams {
  /** Phone line or switch line behaviour. */
  lineMode: LineMode;
  /** Local capture device (SIP_AUDIO_DEVICE_NOT_USED: none). */
  zeroBasedAudioInDeviceId: number;
  /** Local playback device (SIP_AUDIO_DEVICE_NOT_USED: none). */
  zeroBasedAudioOutDeviceId: number;
}

/** Line selection and the rules between lines. */
export class LinePolicy {
  /** Spread incoming calls over free lines at random (when names do not select a line). */
  randomAssign = false;

  /**
   * @param ctx the usage context
   * @param params the start parameters the policy follows (its one extra)
   */
  constructor(
    private readonly ctx: UsageContext,
    private readonly params: () => LinePolicyParams | undefined,
  ) {}

  /**
   * The line an incoming call for `user` rings: the free line registered with that name (for a
   * number, with the same digits: `+1-555-0100` and `15550100` match), else any free line (random when enabled); undefined when every candidate is busy.
   */
  selectLineForIncoming(user: string | undefined): PhoneLine | undefined {
    // one pass per candidate pool and no arrays unless spreading at random: this runs for every
    // incoming INVITE over every line (bench:calls f: 3 % of a set-up's CPU with 1 000 lines as filters)
    const lines = this.ctx.lines();
    if (user) {
      const named = this.freeAmong(lines, (l) => l.registrationName === user);
      if (named !== null) return named;
      // a number (from tel: or user=phone) routes by its digits: +1-555-0100 rings line 15550100
      const digits = phoneDigits(user);
      if (digits !== undefined) {
        const byDigits = this.freeAmong(lines, (l) => l.registrationDigits === digits);
        if (byDigits !== null) return byDigits;
      }
    }
    return this.freeAmong(lines, undefined) ?? undefined;
  }

  /**
   * The free line among the lines `match` accepts (all without it): the first, or one at random
   * with {@link randomAssign}; undefined when every one of them is busy, null when none matched.
   */
  private freeAmong(lines: readonly PhoneLine[], match: ((l: PhoneLine) => boolean) | undefined): PhoneLine | undefined | null {
    let matched = false;
    let free: PhoneLine[] | undefined;
    for (const l of lines) {
      if (match !== undefined && !match(l)) continue;
      matched = true;
      if (!l.availableForIncoming) continue;
      if (!this.randomAssign) return l;
      (free ??= []).push(l);
    }
    if (!matched) return null;
    return free === undefined ? undefined : free[Math.floor(Math.random() * free.length)];
  }

  /** The line an outgoing call takes: the first free one for -1, else `line` when it can place a call. */
  lineForOutgoing(line: PhoneLine | -1): PhoneLine | T {
    if (line === -1) return this.ctx.lines().find((x) => x.availableForOutgoing) ?? T.SipLineCapacityReached;
    if (line.state === LineState.BusyOut) return T.SipLineBusyOut;
    if (!line.availableForOutgoing) return T.SipCallAlreadyInProgress;
    return line;
  }

  /**
   * Busies an idle line out (it takes no calls) or returns it to service, raising SipBusyOutOn /
   * SipBusyOutOff on a change. A line with a call cannot be busied out (SipCallFailure).
   */
  busyOut(line: PhoneLine, on: boolean): T {
    if (on) {
      if (line.state === LineState.BusyOut) return T.SipSuccess;
      if (line.state !== LineState.OnHook) return T.SipCallFailure;
      line.setState(LineState.BusyOut);
      this.ctx.notify(line.index, T.SipBusyOutOn);
    } else if (line.state === LineState.BusyOut) {
      line.setState(LineState.OnHook);
      this.ctx.notify(line.index, T.SipBusyOutOff);
    }
    return T.SipSuccess;
  }

  /**
   * LanScape's inter-line logic in LineMode.PhoneLine: the operator at the local audio device
   * talks on one line at a time, so taking a line off hook holds the connected call on every
   * other line. LineMode.SwitchLine, and engines without a local audio device (servers), keep
   * every line independent.
   */
  holdOtherLines(active: PhoneLine): void {
    const p = this.params();
    if (!p || p.lineMode !== LineMode.PhoneLine) return;
    if (p.zeroBasedAudioInDeviceId === SIP_AUDIO_DEVICE_NOT_USED && p.zeroBasedAudioOutDeviceId === SIP_AUDIO_DEVICE_NOT_USED) return;
    for (const l of this.ctx.lines()) {
      // conferenced lines stay in the conference: the operator hears them there
      if (l !== active && !l.conferenced && l.call?.isConnected && !l.call.localHold) void l.call.hold(true);
    }
  }
}
