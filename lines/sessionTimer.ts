/**
 * Session timers (RFC 4028): a call whose refreshes stop is ended, so a lost BYE cannot keep a
 * line up for ever. One {@link SessionTimer} per call keeps the negotiated interval and who
 * refreshes, and one timer on the engine's clock: the refresher's refresh at half the interval,
 * or the other side's BYE at the interval minus min(32, interval / 3) seconds (§10).
 *
 * Every negotiation goes through two entries, whatever carried it:
 * - {@link SessionTimer.onRefreshRequest} for a request we answer (the initial INVITE, a
 *   re-INVITE, an UPDATE), then {@link SessionTimer.answerHeaders} for our 2xx to it;
 * - {@link SessionTimer.requestHeaders} for a request we send (the initial INVITE or a refresh),
 *   then {@link SessionTimer.onRefreshResponse} for its final answer (a 2xx starts the timers,
 *   a 422 asks for the retry with a larger interval).
 *
 * The refresh itself is sent by the call (`SessionTimerHost.sendRefresh`, one function), and a
 * refresh that fails or a session that expires ends the call there. Takes only its settings and
 * its host (the clock and the call's reactions).
 * @module
 */
import type { Capability } from '../sip/capabilities.js';
import type { Clock, TimerHandle } from '../sip/clock.js';
import type { SipHeaders, SipRequest, SipResponse } from '../sip/message.js';

/** RFC 4028 §4: no Session-Expires or Min-SE may be below 90 seconds. */
export const RFC_MIN_SE_SECONDS = 90;

/** The option tag of session timers, advertised in Supported when they are enabled. */
export const SESSION_TIMER_CAPABILITY: Capability = { optionTags: ['timer'] };

/**
 * Who should refresh the session: `uac` the caller (the default, as PJSIP and RFC 4028 §7.1
 * suggest), `uas` the callee, `local` this engine in either role, `remote` the far end in either
 * role. A preference only: a refresher named by the far end's request is honoured, and a far end
 * that does not support timers cannot refresh, so we do.
 */
export type SessionRefresherPreference = 'uac' | 'uas' | 'local' | 'remote';

/**
 * Session timers (RFC 4028), the `sessionTimer` start parameter; members left out take their
 * defaults. See the README's "Session timers".
 */
export interface SessionTimerOptions {
  /** Use session timers (advertise `timer`, offer Session-Expires, answer it). */
  enabled: boolean;
  /** The Session-Expires we ask for and the longest we accept (seconds). */
  intervalSeconds: number;
  /** Our Min-SE: shorter intervals offered to us get 422 (seconds). */
  minSeSeconds: number;
  /** Who we would like to refresh. */
  refresher: SessionRefresherPreference;
}

/** The session-timer settings a call runs with: the start parameter after defaults, and the floor. */
export interface SessionTimerSettings extends SessionTimerOptions {
  /**
   * The lowest interval accepted at all (default {@link RFC_MIN_SE_SECONDS}): RFC 4028 forbids
   * less, tests lower it to run whole sessions in seconds (`EngineOptions.sessionTimerFloorSeconds`).
   */
  floorSeconds?: number;
}

/** A parsed Session-Expires value. */
export interface SessionExpires {
  /** delta-seconds. */
  seconds: number;
  /** The refresher parameter, when present and valid. */
  refresher?: 'uac' | 'uas';
}

/** Session-Expires (or its compact form `x`): delta-seconds and the refresher; undefined when absent or malformed. */
export function parseSessionExpires(value: string | undefined): SessionExpires | undefined {
  if (value === undefined) return undefined;
  const [delta, ...params] = value.split(';');
  const seconds = Number((delta ?? '').trim());
  if (!Number.isInteger(seconds) || seconds <= 0 || !/^\s*\d+\s*$/.test(delta ?? '')) return undefined;
  let refresher: 'uac' | 'uas' | undefined;
  for (const p of params) {
    const [name, v] = p.split('=').map((s) => s.trim().toLowerCase());
    if (name === 'refresher' && (v === 'uac' || v === 'uas')) refresher = v;
  }
  return refresher ? { seconds, refresher } : { seconds };
}

/** Min-SE's delta-seconds (parameters ignored); undefined when absent or malformed. */
export function parseMinSe(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const delta = (value.split(';')[0] ?? '').trim();
  return /^\d+$/.test(delta) ? Number(delta) : undefined;
}

/** True when a Supported or Require header of `headers` lists `timer`. */
function lists(headers: SipHeaders, name: 'Supported' | 'Require'): boolean {
  return headers.getAll(name).some((v) => v.split(',').some((t) => t.trim().toLowerCase() === 'timer'));
}

/** The Session-Expires header of a message, under its full or compact name. */
function sessionExpiresOf(headers: SipHeaders): SessionExpires | undefined {
  return parseSessionExpires(headers.get('Session-Expires') ?? headers.get('x'));
}

/** The seconds before expiry at which the side that does not refresh sends BYE (§10): min(32, SE/3). */
export function expiryMarginSeconds(seconds: number): number {
  return Math.min(32, seconds / 3);
}

/** What the call does for its session timer. */
export interface SessionTimerHost {
  /** The engine's clock. */
  clock(): Clock;
  /** Sends one session refresh (the call's one refresh function); its final answer comes back through `onRefreshResponse`. */
  sendRefresh(): void;
  /** No refresh arrived in time: the call ends with BYE and SipSessionExpired. */
  expired(seconds: number): void;
}

/** Our answer to a request that offers a session interval below our minimum: 422 with this Min-SE. */
export interface IntervalTooSmall {
  /** Always 422 (Session Interval Too Small). */
  status: 422;
  /** The Min-SE header value to send. */
  minSe: number;
}

/**
 * RFC 4028 §9: a request whose Session-Expires is below our Min-SE (never below the floor) gets
 * 422 with our Min-SE; undefined when it may go on (no Session-Expires, or timers off).
 */
export function intervalTooSmall(req: SipRequest, settings: SessionTimerSettings): IntervalTooSmall | undefined {
  if (!settings.enabled) return undefined;
  const se = sessionExpiresOf(req.headers);
  const minSe = Math.max(settings.minSeSeconds, settings.floorSeconds ?? RFC_MIN_SE_SECONDS);
  return se && se.seconds < minSe ? { status: 422, minSe } : undefined;
}

/** The terms agreed for the session: its interval and whether we refresh. */
export interface SessionTerms {
  /** Session interval, seconds. */
  seconds: number;
  /** We send the refreshes (else we watch for the far end's). */
  weRefresh: boolean;
  /** The refresher as named in the transaction that agreed it (uac / uas of that transaction). */
  refresher: 'uac' | 'uas';
}

/** The session timer of one call (RFC 4028). */
export class SessionTimer {
  private timer?: TimerHandle;
  /** What the request we are answering asked for, until our 2xx goes out. */
  private pending?: SessionTerms & { peerSupports: boolean };
  /** The interval and Min-SE we ask for in requests we send (a 422 raises both). */
  private askSeconds: number;
  private askMinSe: number;
  /** Retries after 422 for the request in flight (one per request is enough; a loop would never end). */
  private retries = 0;
  private readonly floorSeconds: number;
  /** The terms in force, once a 2xx agreed them. */
  terms?: SessionTerms;
  /** When (engine clock, ms) the session expires without a refresh. */
  expiresAt?: number;

  /**
   * @param settings the run's session-timer settings
   * @param host the call's side
   */
  constructor(
    private readonly settings: SessionTimerSettings,
    private readonly host: SessionTimerHost,
  ) {
    this.floorSeconds = settings.floorSeconds ?? RFC_MIN_SE_SECONDS;
    this.askMinSe = Math.max(settings.minSeSeconds, this.floorSeconds);
    this.askSeconds = Math.max(settings.intervalSeconds, this.askMinSe);
  }

  /** True while a timer is armed (for tests). */
  get armed(): boolean {
    return this.timer !== undefined;
  }

  // ---------------------------------------------------------------- a request we answer

  /**
   * A request that may negotiate or refresh the session (the initial INVITE, a re-INVITE, an
   * UPDATE), before we answer it 2xx: a 422 when its Session-Expires is below our Min-SE
   * (RFC 4028 §9), else undefined and its terms are kept for {@link answerHeaders}.
   */
  onRefreshRequest(req: SipRequest): IntervalTooSmall | undefined {
    this.pending = undefined;
    if (!this.settings.enabled) return undefined;
    const tooSmall = intervalTooSmall(req, this.settings);
    if (tooSmall) return tooSmall;
    const se = sessionExpiresOf(req.headers);
    const peerSupports = lists(req.headers, 'Supported') || lists(req.headers, 'Require');
    const minSe = Math.max(this.settings.minSeSeconds, this.floorSeconds);
    // No Session-Expires from a UAC that does not know timers: it cannot refresh and expects
    // none; keep the terms in force (a refresh without the header), else run none (PJSIP's
    // "optional").
    if (!se && !peerSupports) {
      if (this.terms) this.pending = { ...this.terms, weRefresh: true, refresher: 'uas', peerSupports };
      return undefined;
    }
    // §9: the UAS may lower the interval, never below the request's Min-SE (or 90 s), never raise it
    const theirMin = parseMinSe(req.headers.get('Min-SE')) ?? 0;
    const seconds = se ? Math.max(Math.min(se.seconds, this.settings.intervalSeconds), theirMin, minSe) : Math.max(this.settings.intervalSeconds, theirMin, minSe);
    const refresher = se?.refresher ?? (peerSupports ? this.preferredRefresher('uas') : 'uas');
    this.pending = { seconds, refresher, weRefresh: refresher === 'uas', peerSupports };
    return undefined;
  }

  /**
   * The headers of our 2xx to the request given to {@link onRefreshRequest} (Session-Expires,
   * and Require: timer when the far end is to refresh), and the timers start: this answer
   * refreshes the session. Empty when no timer runs.
   */
  answerHeaders(): Array<[string, string]> {
    const p = this.pending;
    this.pending = undefined;
    if (!p) return [];
    this.start({ seconds: p.seconds, weRefresh: p.weRefresh, refresher: p.refresher });
    const out: Array<[string, string]> = [['Session-Expires', `${p.seconds};refresher=${p.refresher}`]];
    // §9: a UAC told to refresh must know it has to (it supports timer, or it would be uas)
    if (p.refresher === 'uac') out.push(['Require', 'timer']);
    return out;
  }

  // ---------------------------------------------------------------- a request we send

  /**
   * The headers of a request we send that negotiates or refreshes the session (the initial
   * INVITE or its retry after 422, a refresh): Session-Expires with the refresher we want, and
   * Min-SE. Empty when session timers are off.
   * @param refresh true for a refresh of an established session (we stay the refresher)
   */
  requestHeaders(refresh = false): Array<[string, string]> {
    if (!this.settings.enabled) return [];
    // A refresh keeps the refresher (us: the refresher sends refreshes), and the agreed interval.
    const seconds = refresh && this.terms ? Math.max(this.terms.seconds, this.askMinSe) : this.askSeconds;
    const refresher = refresh ? 'uac' : this.preferredRefresher('uac');
    return [
      ['Session-Expires', `${seconds};refresher=${refresher}`],
      ['Min-SE', String(this.askMinSe)],
    ];
  }

  /**
   * The final answer to a request we sent with {@link requestHeaders}. A 2xx starts (or restarts)
   * the timers from its Session-Expires; a 2xx without one from a far end that does not do
   * timers leaves us refreshing at the interval we asked for, as PJSIP does, so a vanished peer
   * is still noticed. A 422 raises our interval to its Min-SE: `retry` says to send the request
   * again with new {@link requestHeaders} (once per request).
   */
  onRefreshResponse(res: SipResponse): 'retry' | undefined {
    if (!this.settings.enabled) return undefined;
    if (res.status === 422) {
      const minSe = parseMinSe(res.headers.get('Min-SE'));
      if (minSe === undefined || this.retries >= 1) return undefined;
      this.retries++;
      this.askMinSe = Math.max(this.askMinSe, minSe);
      this.askSeconds = Math.max(this.askSeconds, minSe);
      if (this.terms) this.terms = { ...this.terms, seconds: Math.max(this.terms.seconds, minSe) };
      return 'retry';
    }
    if (res.status < 200 || res.status >= 300) return undefined;
    this.retries = 0;
    const se = sessionExpiresOf(res.headers);
    if (!se) {
      if (lists(res.headers, 'Supported') || lists(res.headers, 'Require')) {
        // §7.2: a UAS that knows timers and answers without Session-Expires wants none
        this.stop();
        this.terms = undefined;
        return undefined;
      }
      this.start({ seconds: this.terms?.seconds ?? this.askSeconds, weRefresh: true, refresher: 'uac' });
      return undefined;
    }
    const refresher = se.refresher ?? 'uac';
    this.start({ seconds: se.seconds, weRefresh: refresher === 'uac', refresher });
    return undefined;
  }

  // ---------------------------------------------------------------- the timers

  /** Arms the timers for `terms`, from now: the refresh at half, or the BYE before expiry. */
  start(terms: SessionTerms): void {
    this.stop();
    this.terms = terms;
    const now = this.host.clock().now();
    this.expiresAt = now + terms.seconds * 1000;
    if (terms.weRefresh) this.arm((terms.seconds * 1000) / 2, () => this.host.sendRefresh());
    else this.armExpiry();
  }

  /**
   * A refresh of ours got an answer other than 2xx, 408 or 481 (those end the call): the session
   * goes on until it expires, unless a refresh succeeds by then (§10).
   */
  refreshRejected(): void {
    if (this.terms) this.armExpiry();
  }

  /** Clears the timer (the call ended). */
  stop(): void {
    this.host.clock().clearTimer(this.timer);
    this.timer = undefined;
  }

  private armExpiry(): void {
    const terms = this.terms;
    if (!terms || this.expiresAt === undefined) return;
    const at = this.expiresAt - expiryMarginSeconds(terms.seconds) * 1000;
    this.arm(Math.max(0, at - this.host.clock().now()), () => this.host.expired(terms.seconds));
  }

  private arm(ms: number, fn: () => void): void {
    this.stop();
    this.timer = this.host.clock().setTimer(ms, () => {
      this.timer = undefined;
      fn();
    });
  }

  /** The refresher our preference names, as a role of the transaction where we are `us`. */
  private preferredRefresher(us: 'uac' | 'uas'): 'uac' | 'uas' {
    const pref = this.settings.refresher;
    if (pref === 'uac' || pref === 'uas') return pref;
    const them = us === 'uac' ? 'uas' : 'uac';
    return pref === 'local' ? us : them;
  }
}
