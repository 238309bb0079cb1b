/**
 * The one parser (and formatter) of each event and transfer header value the usages share:
 * Event and Subscription-State (RFC 6665 §8.2), Replaces (RFC 3891 §6.1) and Refer-To
 * (RFC 3515 §2.1, with an embedded Replaces). The subscription core, the transfer code and
 * the presence code all read these headers through here, so a quoted `id` or an upper-case
 * state means the same thing everywhere.
 * @module
 */
import { formatUri, parseNameAddr, type SipUri } from './grammar.js';

const TOKEN_RE = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
// RFC 3261 word characters, plus `@` once between two words (callid = word ["@" word]).
const CALLID_RE = /^[A-Za-z0-9\-.!%*_+`'~()<>:\\"/[\]?{}]+(@[A-Za-z0-9\-.!%*_+`'~()<>:\\"/[\]?{}]+)?$/;

/** Splits `value;p1=v1;p2` into its first part and `[name lower-cased, value | undefined]` pairs. */
function splitParams(value: string): { head: string; params: Array<[string, string | undefined]> } {
  const [head, ...rest] = value.split(';');
  const params: Array<[string, string | undefined]> = [];
  for (const raw of rest) {
    const eq = raw.indexOf('=');
    const name = (eq < 0 ? raw : raw.slice(0, eq)).trim().toLowerCase();
    params.push([name, eq < 0 ? undefined : raw.slice(eq + 1).trim()]);
  }
  return { head: (head ?? '').trim(), params };
}

/**
 * A parameter value that repeats its own name (`reason=reason=noresource`, written by some
 * transferees' stacks) means the value after the last repetition: the name cannot be a value
 * of its own parameter, so reading past it is unambiguous.
 */
function withoutRepeatedName(name: string, v: string): string {
  const prefix = `${name}=`;
  let out = v;
  while (out.length > prefix.length && out.slice(0, prefix.length).toLowerCase() === prefix) out = out.slice(prefix.length).trim();
  return out;
}

/** The reason codes RFC 6665 §8.2.3 and its registry define: the only bare parameters read as a reason. */
const KNOWN_REASONS = new Set(['deactivated', 'probation', 'rejected', 'timeout', 'giveup', 'noresource', 'invariant']);

/** A quoted-string parameter value loses its quotes (and escapes); a token stays as it is. */
function unquote(v: string): string {
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) return v.slice(1, -1).replace(/\\(.)/g, '$1');
  return v;
}

// ------------------------------------------------------------------------------- Event

/** An Event header value (RFC 6665 §8.2.1): package and optional id. */
export interface EventHeader {
  /** Event package, lower case (`presence`, `refer`, `message-summary`, `dialog`). */
  package: string;
  /** The `id` parameter (quotes removed), when present. */
  id?: string;
}

/**
 * Reads an Event header (`presence;id=7`, `Refer;ID="93"`): the package is a token compared
 * case-insensitively (lower-cased here), the `id` parameter name is case-insensitive and its
 * value may be quoted. Undefined when absent or when the package is not a token.
 */
export function parseEventHeader(value: string | undefined): EventHeader | undefined {
  if (typeof value !== 'string') return undefined;
  const { head, params } = splitParams(value);
  if (!TOKEN_RE.test(head)) return undefined;
  const out: EventHeader = { package: head.toLowerCase() };
  for (const [k, v] of params) {
    if (k === 'id' && v) out.id = unquote(withoutRepeatedName(k, v));
  }
  return out;
}

/** Formats an Event header value. */
export function formatEventHeader(e: EventHeader): string {
  return e.id ? `${e.package};id=${e.id}` : e.package;
}

// ------------------------------------------------------------------------------- Subscription-State

/** A Subscription-State header value (RFC 6665 §8.2.3). */
export interface SubscriptionStateHeader {
  /** `active`, `pending`, `terminated`, or an extension value; lower case. */
  state: string;
  /** Seconds left, when given. */
  expires?: number;
  /** Why it ended (`rejected`, `timeout`, `deactivated`, `noresource`, `probation`, `giveup`, ...); lower case. */
  reason?: string;
  /** Seconds to wait before subscribing again, when given. */
  retryAfter?: number;
}

/**
 * Reads a Subscription-State header (`Active ; expires=60`, `terminated;reason=Rejected`): state
 * and reason are tokens compared case-insensitively (lower-cased here); expires and retry-after
 * are delta-seconds. Undefined when absent or when the state is not a token.
 *
 * Lenient where the meaning is still clear (what refer NOTIFYs from deployed stacks carry): a
 * value repeating its parameter's name (`reason=reason=noresource`, `expires=expires=60`) is
 * read past the repetition, and a bare known reason code (`terminated;noresource`) is the
 * reason when no `reason` parameter names one. Anything else unreadable is left out, as before.
 */
export function parseSubscriptionState(value: string | undefined): SubscriptionStateHeader | undefined {
  if (typeof value !== 'string') return undefined;
  const { head, params } = splitParams(value);
  if (!TOKEN_RE.test(head)) return undefined;
  const out: SubscriptionStateHeader = { state: head.toLowerCase() };
  let bareReason: string | undefined;
  for (const [k, raw] of params) {
    if (raw === undefined) {
      if (KNOWN_REASONS.has(k)) bareReason ??= k;
      continue;
    }
    const v = unquote(withoutRepeatedName(k, raw));
    if (k === 'expires' && /^\d{1,10}$/.test(v)) out.expires = Number(v);
    else if (k === 'retry-after' && /^\d{1,10}$/.test(v)) out.retryAfter = Number(v);
    else if (k === 'reason' && TOKEN_RE.test(v)) out.reason = v.toLowerCase();
  }
  if (out.reason === undefined && bareReason !== undefined) out.reason = bareReason;
  return out;
}

/** Formats a Subscription-State header value. */
export function formatSubscriptionState(s: SubscriptionStateHeader): string {
  let out = s.state;
  if (s.reason) out += `;reason=${s.reason}`;
  if (s.expires !== undefined) out += `;expires=${s.expires}`;
  if (s.retryAfter !== undefined) out += `;retry-after=${s.retryAfter}`;
  return out;
}

// ------------------------------------------------------------------------------- Replaces

/** The dialog a Replaces header names (RFC 3891 §6.1), seen from the UA that receives it. */
export interface ReplacesInfo {
  /** Call-ID of the dialog to replace. */
  callId: string;
  /** The tag of the UA receiving the Replaces (its local tag). */
  toTag: string;
  /** The tag of the other party of that dialog (the receiver's remote tag). */
  fromTag: string;
  /** `early-only`: replace only a dialog that is not yet confirmed. */
  earlyOnly: boolean;
}

/** Formats a Replaces header value: `call-id;to-tag=x;from-tag=y[;early-only]`. */
export function formatReplaces(r: ReplacesInfo): string {
  return `${r.callId};to-tag=${r.toTag};from-tag=${r.fromTag}${r.earlyOnly ? ';early-only' : ''}`;
}

/**
 * Parses a Replaces header value (RFC 3891 §6.1). Both tags are required; parameter names are
 * case-insensitive; other parameters are ignored. Undefined when the value does not follow the
 * grammar.
 */
export function parseReplaces(value: string): ReplacesInfo | undefined {
  if (typeof value !== 'string') return undefined;
  const parts = value.split(';');
  const callId = parts[0]!.trim();
  if (!callId || !CALLID_RE.test(callId)) return undefined;
  let toTag: string | undefined;
  let fromTag: string | undefined;
  let earlyOnly = false;
  for (const raw of parts.slice(1)) {
    const p = raw.trim();
    if (!p) return undefined;
    const eq = p.indexOf('=');
    const name = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase();
    const v = eq < 0 ? undefined : p.slice(eq + 1).trim();
    if (!TOKEN_RE.test(name)) return undefined;
    if (name === 'to-tag' || name === 'from-tag') {
      if (v === undefined || !TOKEN_RE.test(v)) return undefined;
      if (name === 'to-tag') toTag = v;
      else fromTag = v;
    } else if (name === 'early-only') {
      if (v !== undefined) return undefined;
      earlyOnly = true;
    }
  }
  if (toTag === undefined || fromTag === undefined) return undefined;
  return { callId, toTag, fromTag, earlyOnly };
}

// ------------------------------------------------------------------------------- Refer-To

/** A Refer-To that parsed: where the transferee calls, and the dialog it replaces there, if any. */
export interface ReferTarget {
  /** Parse succeeded. */
  ok: true;
  /** The target URI without its `?headers` part (the Request-URI of the triggered INVITE). */
  uri: string;
  /** Display name of the Refer-To, if any. */
  displayName?: string;
  /** The embedded Replaces (attended transfer), when present. */
  replaces?: ReplacesInfo;
}

/** Why a Refer-To was refused. */
export interface ReferTargetError {
  /** Parse failed. */
  ok: false;
  /** A short reason, usable as a 400 reason phrase. */
  reason: string;
}

/** True for a sip/sips URI with a host: something a transferee can call. */
export function isDialableUri(uri: SipUri): boolean {
  return (uri.scheme === 'sip' || uri.scheme === 'sips') && uri.host.length > 0;
}

/** Reverses the %-escaping of a URI header value; undefined for a broken escape. */
export function unescapeHeaderValue(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/**
 * Parses a Refer-To value (RFC 3515 §2.1): name-addr or addr-spec, a sip/sips URI with a host,
 * and an optional escaped Replaces header in the URI (RFC 3891 §7.1; the header name is
 * case-insensitive). Other URI headers are dropped: only Replaces is honoured, so a REFER
 * cannot smuggle arbitrary headers into the INVITE it triggers.
 */
export function parseReferTo(value: string | undefined): ReferTarget | ReferTargetError {
  if (typeof value !== 'string' || !value.trim()) return { ok: false, reason: 'Missing Refer-To' };
  let na;
  try {
    na = parseNameAddr(value.trim());
  } catch {
    return { ok: false, reason: 'Malformed Refer-To' };
  }
  if (!isDialableUri(na.uri)) return { ok: false, reason: 'Refer-To is not a SIP URI' };
  let replaces: ReplacesInfo | undefined;
  for (const [k, v] of Object.entries(na.uri.headers)) {
    if (k.toLowerCase() !== 'replaces') continue;
    const text = unescapeHeaderValue(v);
    replaces = text === undefined ? undefined : parseReplaces(text);
    if (!replaces) return { ok: false, reason: 'Malformed Replaces in Refer-To' };
  }
  const uri = formatUri({ ...na.uri, headers: {} });
  const out: ReferTarget = { ok: true, uri };
  if (na.displayName) out.displayName = na.displayName;
  if (replaces) out.replaces = replaces;
  return out;
}

// ------------------------------------------------------------------------------- Warning

/**
 * A Warning value (RFC 3261 §20.43): `code agent "text"`. The text is made safe for a
 * quoted-string (quotes, backslashes and line ends become spaces) and kept short.
 * @param code the three-digit warn-code, e.g. 305 Incompatible media format
 * @param agent the warn-agent: our host (and port), as the peer can reach us
 * @param text what was wrong, in words
 */
export function formatWarning(code: number, agent: string, text: string): string {
  const safe = text.replace(/["\\\r\n]/g, ' ').slice(0, 200);
  return `${code} ${agent || '-'} "${safe}"`;
}
