/**
 * Who may talk to the engine, and how much: the early screen in front of every new request.
 *
 * What it does, each check before any transaction, notification or parse of a body is made:
 * - allowed source networks: a list of CIDRs (IPv4 and IPv6); a request from elsewhere gets 403
 *   (new calls only, or every request, as configured). An empty list admits everyone;
 * - too many headers: 513 (the size of the whole message is the transport's, sip/transport.ts,
 *   which refuses it before it is even parsed);
 * - per-source request rate: a token bucket per source address; over it, 503 with Retry-After
 *   (or silence, as configured). A request of a dialog alive here is charged but never refused:
 *   refusing a BYE would only keep a call up longer. This is fairness between peers, distinct
 *   from engine/overload.ts, which sheds by the engine's own load whoever sends;
 * - failed authentication: failures are counted per source address and per digest user name in
 *   a window; at the limit that source (or user) is blocked for a back-off period: every request
 *   it sends that would be authenticated gets 403 (or is dropped), and SipAuthenticationBlocked
 *   is raised once per block.
 *
 * Refusals here are stateless (no server transaction is made, so a flood cannot grow the
 * table); a retransmission is refused again. Every refusal is counted by reason.
 * The tables are bounded: a flood from spoofed addresses cannot grow them without limit.
 * @module
 */
import { isIP } from 'node:net';
import type { Clock } from '../sip/clock.js';
import { parseAuthHeader } from '../sip/grammar.js';
import type { SipRequest } from '../sip/message.js';
import type { Endpoint } from '../sip/transport.js';

/** Why the screen refused a request (the label of the refusal counter). */
export type RefusalReason = 'messageTooLarge' | 'tooManyHeaders' | 'rateLimited' | 'sourceNotAllowed' | 'authBlocked' | 'authFailed';

/** Every {@link RefusalReason}. */
export const REFUSAL_REASONS: readonly RefusalReason[] = ['messageTooLarge', 'tooManyHeaders', 'rateLimited', 'sourceNotAllowed', 'authBlocked', 'authFailed'];

/** What a refused request gets: a stateless response, or nothing at all. */
export type ScreenVerdict = { drop: true } | { drop: false; status: number; reason: string; retryAfterSeconds?: number };

/** The limits in force (start parameters, see StartSipTelephonyParams). */
export interface SecurityLimitsConfig {
  /** Headers beyond which a request is refused 513 (0 = no limit). */
  readonly maxSipHeaders: number;
  /** Requests per second each source address may send on average (0 = no limit). */
  readonly requestRatePerSource: number;
  /** Requests a source may send in one burst above the average rate. */
  readonly requestBurstPerSource: number;
  /** Over the rate: `reject` (503 + Retry-After) or `drop`. */
  readonly rateLimitAction: 'reject' | 'drop';
  /** Seconds in Retry-After of a rate-limit 503. */
  readonly retryAfterSeconds: number;
  /** CIDRs allowed to send (empty: everyone). */
  readonly allowedSourceNetworks: readonly string[];
  /** What the allowed networks restrict: new calls (INVITE) or every request. */
  readonly allowedSourceScope: 'calls' | 'all';
  /** Failed authentications from one source address in the window that block it (0 = never). */
  readonly authFailureLimit: number;
  /** Failed authentications for one user name in the window that block it (0 = never). */
  readonly authFailureLimitPerUser: number;
  /** The window in which failures are counted (s). */
  readonly authFailureWindowSeconds: number;
  /** How long a block lasts (s). */
  readonly authBlockSeconds: number;
  /** A blocked source's or user's requests: `reject` (403) or `drop`. */
  readonly authBlockAction: 'reject' | 'drop';
}

/** Data of the global SipAuthenticationBlocked notification. */
export interface AuthenticationBlockedData {
  /** What is blocked: a source address, or a user name. */
  kind: 'source' | 'user';
  /** The source address of the failure that reached the limit. */
  source: string;
  /** The digest user name of that failure ('' when none was given). */
  user: string;
  /** Failures counted in the window. */
  failures: number;
  /** How long the block lasts (s); requests that would be authenticated are refused until then. */
  blockedSeconds: number;
}

/** What the screen reports. */
export interface SecurityEvents {
  /** A source or user was blocked after too many failed authentications. */
  blocked(data: AuthenticationBlockedData): void;
  /** One request was refused (for the counters). */
  refused(reason: RefusalReason): void;
}

/** Counts of refusals since the run started, by reason. */
export type SecurityCounters = Readonly<Record<RefusalReason, number>>;

/** Entries kept per table at most; beyond, idle ones go first, then the oldest. */
export const MAX_TRACKED_SOURCES = 10_000;

/** A parsed CIDR: address bytes and prefix length. */
interface Network {
  bytes: Uint8Array;
  prefix: number;
}

interface Bucket {
  tokens: number;
  last: number;
}

interface Failures {
  windowStart: number;
  count: number;
  blockedUntil: number;
}

/** The early screen: allowed networks, header count, per-source rate, authentication back-off. */
export class SecurityLimits {
  private readonly networks: Network[];
  private readonly buckets = new Map<string, Bucket>();
  private readonly failures = new Map<string, Failures>();
  private readonly totals: Record<RefusalReason, number> = { messageTooLarge: 0, tooManyHeaders: 0, rateLimited: 0, sourceNotAllowed: 0, authBlocked: 0, authFailed: 0 };

  /**
   * @param clock the engine's clock (buckets refill and blocks end on it)
   * @param config the limits, already validated ({@link validSecurityConfig})
   * @param events where blocks and refusals are reported
   */
  constructor(
    private readonly clock: Clock,
    private readonly config: SecurityLimitsConfig,
    private readonly events: SecurityEvents,
  ) {
    this.networks = config.allowedSourceNetworks.map((c) => parseCidr(c)!);
  }

  /** Refusals of the run so far, by reason. */
  counters(): SecurityCounters {
    return { ...this.totals };
  }

  /** Counts a refusal made elsewhere (the transport's size limit, a wrong password). */
  note(reason: RefusalReason): void {
    this.totals[reason]++;
    this.events.refused(reason);
  }

  /**
   * Screens a new request (not a retransmission, not the ACK of a 2xx). Returns how to refuse
   * it, or `undefined` to let it through.
   * @param authenticated whether the request would be challenged or checked (the block applies)
   * @param inLiveDialog whether the request belongs to a dialog alive here, asked only when its
   *   source is over its rate (a dialog lookup per request is not needed otherwise): such a
   *   request is charged to the rate but never refused for it (a BYE refused 503 would keep the
   *   call, its line and its media up; the same reasoning as engine/overload.ts, which never
   *   sheds in-dialog requests)
   */
  screen(req: SipRequest, from: Endpoint, authenticated: boolean, inLiveDialog?: () => boolean): ScreenVerdict | undefined {
    const c = this.config;
    if (this.networks.length && (c.allowedSourceScope === 'all' || isNewCall(req)) && !this.allowed(from.host)) {
      return this.refuse('sourceNotAllowed', { drop: false, status: 403, reason: 'Forbidden' });
    }
    if (c.maxSipHeaders > 0 && req.headers.entries.length > c.maxSipHeaders) {
      return this.refuse('tooManyHeaders', { drop: false, status: 513, reason: 'Too Many Headers' });
    }
    if (c.requestRatePerSource > 0 && !this.take(from.host) && inLiveDialog?.() !== true) {
      return this.refuse('rateLimited', c.rateLimitAction === 'drop' ? { drop: true } : { drop: false, status: 503, reason: 'Service Unavailable', retryAfterSeconds: c.retryAfterSeconds });
    }
    if (authenticated && (this.isBlocked(`s:${from.host}`) || this.isBlocked(`u:${digestUser(req)}`))) {
      return this.refuse('authBlocked', c.authBlockAction === 'drop' ? { drop: true } : { drop: false, status: 403, reason: 'Forbidden' });
    }
    return undefined;
  }

  /**
   * A request failed authentication (wrong password, unknown user): counted for its source
   * address and its user name; at a limit that source or user is blocked and reported.
   */
  authFailed(sourceHost: string, user: string): void {
    this.note('authFailed');
    const c = this.config;
    this.countFailure('source', `s:${sourceHost}`, c.authFailureLimit, sourceHost, user);
    if (user) this.countFailure('user', `u:${user}`, c.authFailureLimitPerUser, sourceHost, user);
  }

  /** Forgets every bucket and failure (the run ends). */
  clear(): void {
    this.buckets.clear();
    this.failures.clear();
  }

  private refuse(reason: RefusalReason, verdict: ScreenVerdict): ScreenVerdict {
    this.note(reason);
    return verdict;
  }

  private allowed(host: string): boolean {
    const bytes = addressBytes(host);
    return bytes !== undefined && this.networks.some((n) => inNetwork(bytes, n));
  }

  /** Takes one token from the source's bucket; false when it is empty. */
  private take(host: string): boolean {
    const now = this.clock.now();
    const { requestRatePerSource: rate, requestBurstPerSource: burst } = this.config;
    let b = this.buckets.get(host);
    if (!b) {
      this.makeRoom(this.buckets, (x) => x.tokens + ((now - x.last) * rate) / 1000 >= burst);
      b = { tokens: burst, last: now };
      this.buckets.set(host, b);
    } else {
      b.tokens = Math.min(burst, b.tokens + ((now - b.last) * rate) / 1000);
      b.last = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private isBlocked(key: string): boolean {
    const f = this.failures.get(key);
    return f !== undefined && f.blockedUntil > this.clock.now();
  }

  private countFailure(kind: 'source' | 'user', key: string, limit: number, source: string, user: string): void {
    if (limit <= 0) return;
    const now = this.clock.now();
    const c = this.config;
    const windowMs = c.authFailureWindowSeconds * 1000;
    let f = this.failures.get(key);
    if (!f) {
      this.makeRoom(this.failures, (x) => x.blockedUntil <= now && now - x.windowStart > windowMs);
      f = { windowStart: now, count: 0, blockedUntil: 0 };
      this.failures.set(key, f);
    }
    if (f.blockedUntil > now) return;
    if (now - f.windowStart > windowMs) {
      f.windowStart = now;
      f.count = 0;
    }
    f.count++;
    if (f.count < limit) return;
    f.blockedUntil = now + c.authBlockSeconds * 1000;
    const failures = f.count;
    f.count = 0;
    f.windowStart = f.blockedUntil;
    this.events.blocked({ kind, source, user, failures, blockedSeconds: c.authBlockSeconds });
  }

  /** Keeps a table under {@link MAX_TRACKED_SOURCES}: idle entries go first, then the oldest. */
  private makeRoom<V>(table: Map<string, V>, idle: (v: V) => boolean): void {
    if (table.size < MAX_TRACKED_SOURCES) return;
    for (const [k, v] of table) if (idle(v)) table.delete(k);
    for (const k of table.keys()) {
      if (table.size < MAX_TRACKED_SOURCES) break;
      table.delete(k);
    }
  }
}

/** An INVITE that starts a call (no To tag). */
function isNewCall(req: SipRequest): boolean {
  return req.method === 'INVITE' && !/;\s*tag\s*=/i.test(req.headers.get('To') ?? '');
}

/** The digest user name of the request's first Authorization header, '' when none. */
function digestUser(req: SipRequest): string {
  const value = req.headers.get('Authorization');
  if (value === undefined) return '';
  try {
    return parseAuthHeader(value).params['username'] ?? '';
  } catch {
    return '';
  }
}

/** The 4 or 16 bytes of an IP address (an IPv4-mapped IPv6 address gives its 4), or undefined. */
export function addressBytes(text: string): Uint8Array | undefined {
  let host = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const pct = host.indexOf('%');
  if (pct >= 0) host = host.slice(0, pct);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  if (mapped) host = mapped[1]!;
  const family = isIP(host);
  if (family === 4) return Uint8Array.from(host.split('.').map(Number));
  if (family !== 6) return undefined;
  // An embedded IPv4 tail becomes two groups, then `::` expands to the missing zero groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(host);
  if (v4) {
    const b = v4[1]!.split('.').map(Number);
    host = `${host.slice(0, -v4[1]!.length)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = host.includes('::') ? host.split('::') : [host, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = Number.parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

/** Parses `address/prefix` (or a bare address: the host alone); undefined when it is not one. */
export function parseCidr(text: unknown): Network | undefined {
  if (typeof text !== 'string') return undefined;
  const slash = text.indexOf('/');
  const bytes = addressBytes(slash < 0 ? text : text.slice(0, slash));
  if (!bytes) return undefined;
  // An IPv4-mapped IPv6 network (::ffff:a.b.c.d/n) is the IPv4 network of its last 32 bits.
  const mapped = bytes.length === 4 && text.includes(':');
  const bits = mapped ? 128 : bytes.length * 8;
  const prefixText = slash < 0 ? String(bits) : text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > bits || (mapped && prefix < 96)) return undefined;
  return { bytes, prefix: mapped ? prefix - 96 : prefix };
}

function inNetwork(addr: Uint8Array, n: Network): boolean {
  if (addr.length !== n.bytes.length) return false;
  let bits = n.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((addr[i]! & mask) !== (n.bytes[i]! & mask)) return false;
  }
  return true;
}

/** Whether the start parameters of the limits hold acceptable values. */
export function validSecurityConfig(p: SecurityLimitsConfig & { maxSipMessageBytes: number; registrarRequireAuthentication: boolean }): boolean {
  const int = (n: unknown, lo: number, hi: number) => typeof n === 'number' && Number.isInteger(n) && n >= lo && n <= hi;
  return (
    int(p.maxSipMessageBytes, 1024, 16 * 1024 * 1024) &&
    int(p.maxSipHeaders, 0, 100_000) &&
    int(p.requestRatePerSource, 0, 1_000_000) &&
    int(p.requestBurstPerSource, 1, 10_000_000) &&
    (p.rateLimitAction === 'reject' || p.rateLimitAction === 'drop') &&
    Array.isArray(p.allowedSourceNetworks) &&
    p.allowedSourceNetworks.length <= 1024 &&
    p.allowedSourceNetworks.every((c) => parseCidr(c) !== undefined) &&
    (p.allowedSourceScope === 'calls' || p.allowedSourceScope === 'all') &&
    int(p.authFailureLimit, 0, 1_000_000) &&
    int(p.authFailureLimitPerUser, 0, 1_000_000) &&
    int(p.authFailureWindowSeconds, 1, 86_400) &&
    int(p.authBlockSeconds, 1, 7 * 86_400) &&
    (p.authBlockAction === 'reject' || p.authBlockAction === 'drop') &&
    typeof p.registrarRequireAuthentication === 'boolean'
  );
}
