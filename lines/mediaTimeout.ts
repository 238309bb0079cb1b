/**
 * The media time-out: a connected call that receives neither RTP nor RTCP for a set time is
 * ended with BYE (`Call.mediaTimedOut`, which raises SipMediaTimeout). It closes the leak of
 * calls whose far end vanished or whose BYE was lost: without it such a line stays InCall
 * forever.
 *
 * One sweep timer on the engine's clock serves every line (no timer per call, nothing on the
 * packet path): each sweep reads each call's received-packet counter (`CallMedia.mediaActivity`,
 * a plain number the media session bumps per packet) and remembers when it last changed. A call
 * on hold is excepted, as RFC 3264 §5.1 lets a held stream send nothing: we hold the far end,
 * the far end holds us (sendonly or inactive toward us), or the negotiated direction says the far
 * end does not send to us at all. Its silence clock restarts when the hold ends. RTCP alone keeps
 * a call alive (RFC 3550 §6: a held or muted sender still reports). A sweep that runs late (the
 * event loop stalled) restarts every call's silence instead of judging it. A call with early
 * media (lines/earlyMedia.ts: Proceeding at the caller, Ringing at the callee) is not judged:
 * an announcement may fall silent before the answer, and the INVITE's own time-outs bound that
 * phase; its silence clock starts when the call is answered (Confirmed).
 *
 * Takes only its host: the engine's clock, the lines and the time-out in force (0 = off),
 * read at every sweep so `setMediaTimeout` applies to calls already up.
 * @module
 */
import type { Clock, TimerHandle } from '../sip/clock.js';
import { CallState } from './callState.js';

/** How often the sweep runs: a silent call ends between T and T + 1 s after its last packet. */
export const MEDIA_TIMEOUT_SWEEP_MS = 1000;

/** What the watch reads of a call (lines/call.ts `Call` has it). */
export interface MediaWatchedCall {
  /** The INVITE session's state: only Confirmed calls are watched. */
  readonly state: CallState;
  /** We hold the far end. */
  readonly localHold: boolean;
  /** The far end holds us. */
  readonly farEndHold: boolean;
  /** The last offer/answer's outcome: `receiving` false means the far end sends nothing to us. */
  readonly negotiated?: { readonly receiving: boolean };
  /** The call's media, whose counter of received RTP and RTCP packets is watched. */
  readonly media?: { mediaActivity?(): number };
  /** Ends the call for silence (BYE, SipMediaTimeout). */
  mediaTimedOut(seconds: number): void;
}

/** What the watch takes from the running engine. */
export interface MediaTimeoutHost {
  /** The engine's clock (the sweep timer and the silence measure). */
  clock(): Clock;
  /** The calls to watch, e.g. each line's current call. */
  calls(): Iterable<MediaWatchedCall | undefined>;
  /** The time-out in force, in seconds; 0 turns the check off. */
  timeoutSeconds(): number;
}

/** A call's last seen counter and when (on the engine clock) it last changed. */
interface Seen {
  packets: number;
  at: number;
}

/** The one sweep over every call's received-media counter. */
export class MediaTimeoutWatch {
  private timer?: TimerHandle;
  private readonly seen = new Map<MediaWatchedCall, Seen>();
  private running = false;
  /** When the last sweep ran (engine clock), to notice a stalled event loop. */
  private lastSweepAt?: number;

  constructor(private readonly host: MediaTimeoutHost) {}

  /** Arms the sweep timer (idempotent). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.arm();
  }

  /** Stops the sweep and forgets every call. */
  stop(): void {
    this.running = false;
    this.host.clock().clearTimer(this.timer);
    this.timer = undefined;
    this.lastSweepAt = undefined;
    this.seen.clear();
  }

  /** Calls being watched now (for tests). */
  get watched(): number {
    return this.seen.size;
  }

  private arm(): void {
    this.timer = this.host.clock().setTimer(MEDIA_TIMEOUT_SWEEP_MS, () => {
      this.timer = undefined;
      if (!this.running) return;
      this.sweep();
      if (this.running) this.arm();
    });
  }

  /** One pass over the calls; exposed for tests that drive it without the timer. */
  sweep(): void {
    const seconds = this.host.timeoutSeconds();
    if (!(seconds > 0)) {
      this.seen.clear();
      this.lastSweepAt = undefined;
      return;
    }
    const now = this.host.clock().now();
    // A sweep far behind its schedule means the event loop stalled: timers run before the
    // sockets' queued datagrams are read, so the silence it would see is ours, not the far end's.
    const stalled = this.lastSweepAt !== undefined && now - this.lastSweepAt > 2 * MEDIA_TIMEOUT_SWEEP_MS;
    this.lastSweepAt = now;
    const limitMs = seconds * 1000;
    const live = new Set<MediaWatchedCall>();
    const expired: MediaWatchedCall[] = [];
    for (const call of this.host.calls()) {
      if (call === undefined || call.state !== CallState.Confirmed) continue;
      const packets = call.media?.mediaActivity?.();
      if (packets === undefined) continue;
      live.add(call);
      const s = this.seen.get(call);
      const held = call.localHold || call.farEndHold || call.negotiated?.receiving === false;
      if (s === undefined || held || stalled || s.packets !== packets) {
        // a held call's silence is allowed: its clock starts again when the hold ends
        if (s === undefined) this.seen.set(call, { packets, at: now });
        else {
          s.packets = packets;
          s.at = now;
        }
        continue;
      }
      if (now - s.at >= limitMs) expired.push(call);
    }
    for (const call of this.seen.keys()) if (!live.has(call)) this.seen.delete(call);
    // ended after the walk: ending a call changes the lines being walked
    for (const call of expired) {
      this.seen.delete(call);
      call.mediaTimedOut(seconds);
    }
  }
}
