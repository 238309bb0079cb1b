/**
 * REFER building blocks (RFC 3515, 3891, 3892, 3420), pure functions with no engine knowledge:
 * the Refer-To header with an escaped embedded Replaces, the Replaces header itself, Referred-By,
 * and the message/sipfrag bodies and Event / Subscription-State headers of the implicit
 * subscription's NOTIFYs.
 * @module
 */
import { formatUri, parseNameAddr, parseUri, quoteString, type SipUri } from './grammar.js';

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

/** The Content-Type of the NOTIFY bodies of a refer subscription (RFC 3515 §2.4.5). */
export const SIPFRAG_CONTENT_TYPE = 'message/sipfrag;version=2.0';

/** Expiry written in `Subscription-State: active` of refer NOTIFYs (seconds). */
export const REFER_SUBSCRIPTION_EXPIRES = 60;

// hvalue characters that stay as they are (RFC 3261 §25.1: unreserved / hnv-unreserved); all
// others are %-escaped, so `;`, `=`, `@` of the Replaces value never end the URI header.
const HVALUE_PLAIN = /[A-Za-z0-9\-_.!~*'()[\]/?:+$]/;

/** %-escapes a URI header value (UTF-8 bytes of every character outside the plain set). */
export function escapeHeaderValue(value: string): string {
  let out = '';
  for (const ch of value) {
    if (HVALUE_PLAIN.test(ch)) {
      out += ch;
      continue;
    }
    for (const b of Buffer.from(ch, 'utf8')) out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Reverses {@link escapeHeaderValue}; undefined for a broken escape. */
export function unescapeHeaderValue(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

const TOKEN_RE = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
// RFC 3261 word characters, plus `@` once between two words (callid = word ["@" word]).
const CALLID_RE = /^[A-Za-z0-9\-.!%*_+`'~()<>:\\"/[\]?{}]+(@[A-Za-z0-9\-.!%*_+`'~()<>:\\"/[\]?{}]+)?$/;

/** Formats a Replaces header value: `call-id;to-tag=x;from-tag=y[;early-only]`. */
export function formatReplaces(r: ReplacesInfo): string {
  return `${r.callId};to-tag=${r.toTag};from-tag=${r.fromTag}${r.earlyOnly ? ';early-only' : ''}`;
}

/**
 * Parses a Replaces header value (RFC 3891 §6.1). Both tags are required; other parameters are
 * ignored. Returns undefined when the value does not follow the grammar.
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

function isDialable(uri: SipUri): boolean {
  return (uri.scheme === 'sip' || uri.scheme === 'sips') && uri.host.length > 0;
}

/**
 * Builds a Refer-To value `<target?Replaces=escaped>` (always bracketed: a URI with headers must
 * be). `targetUri` must be a sip/sips URI; any `?headers` it has are kept and Replaces is added.
 * Throws on a URI that does not parse (the callers validate application input first).
 */
export function buildReferTo(targetUri: string, replaces?: ReplacesInfo, displayName?: string): string {
  const uri = parseUri(targetUri);
  if (!isDialable(uri)) throw new Error(`not a sip/sips URI: ${targetUri}`);
  let text = formatUri({ ...uri, headers: {} });
  const headers = Object.entries(uri.headers).filter(([k]) => k.toLowerCase() !== 'replaces');
  if (replaces) headers.push(['Replaces', escapeHeaderValue(formatReplaces(replaces))]);
  headers.forEach(([k, v], i) => {
    text += `${i === 0 ? '?' : '&'}${k}=${v}`;
  });
  return `${displayName ? quoteString(displayName) + ' ' : ''}<${text}>`;
}

/**
 * Parses a Refer-To value (RFC 3515 §2.1): name-addr or addr-spec, a sip/sips URI with a host,
 * and an optional escaped Replaces header in the URI (RFC 3891 §7.1). Other URI headers are
 * dropped: only Replaces is honoured, so a REFER cannot smuggle arbitrary headers into the
 * INVITE it triggers.
 */
export function parseReferTo(value: string | undefined): ReferTarget | ReferTargetError {
  if (typeof value !== 'string' || !value.trim()) return { ok: false, reason: 'Missing Refer-To' };
  let na;
  try {
    na = parseNameAddr(value.trim());
  } catch {
    return { ok: false, reason: 'Malformed Refer-To' };
  }
  if (!isDialable(na.uri)) return { ok: false, reason: 'Refer-To is not a SIP URI' };
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

/** Formats a Referred-By value (RFC 3892): `<uri>`, with a display name when given. */
export function formatReferredBy(uri: string, displayName?: string): string {
  return `${displayName ? quoteString(displayName) + ' ' : ''}<${uri}>`;
}

/**
 * Validates a Referred-By value and returns it normalised (bracketed), or undefined when it is
 * not a name-addr with a SIP URI: an unusable one is dropped rather than copied into an INVITE.
 */
export function parseReferredBy(value: string | undefined): string | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const na = parseNameAddr(value.trim());
    if (!isDialable(na.uri)) return undefined;
    return formatReferredBy(formatUri(na.uri), na.displayName);
  } catch {
    return undefined;
  }
}

/** A status line carried in a message/sipfrag body. */
export interface SipfragStatus {
  /** SIP status code, 100..699. */
  status: number;
  /** Reason phrase ('' when absent). */
  reason: string;
}

/** The body of a refer NOTIFY: the status line of the triggered request's answer, e.g. `SIP/2.0 180 Ringing`. */
export function buildSipfrag(status: number, reason: string): string {
  const clean = reason.replace(/[\r\n]+/g, ' ').trim();
  return `SIP/2.0 ${status}${clean ? ' ' + clean : ''}\r\n`;
}

/** Reads the status line of a message/sipfrag body; undefined when it holds none. */
export function parseSipfrag(body: Buffer | string): SipfragStatus | undefined {
  const text = (typeof body === 'string' ? body : body.toString('latin1')).replace(/^\s+/, '');
  const line = text.split(/\r?\n/, 1)[0] ?? '';
  const m = /^SIP\/2\.0[ \t]+([1-6]\d\d)(?:[ \t]+(.*))?$/i.exec(line.trimEnd());
  if (!m) return undefined;
  return { status: Number(m[1]), reason: (m[2] ?? '').trim() };
}

/** An Event header (RFC 6665 §8.2.1). */
export interface EventHeader {
  /** Package name, lower-cased (`refer`). */
  package: string;
  /** The `id` parameter, if any. */
  id?: string;
}

/** Parses an Event header value; undefined when unreadable. */
export function parseEventHeader(value: string | undefined): EventHeader | undefined {
  if (typeof value !== 'string') return undefined;
  const [pkg, ...params] = value.split(';');
  const name = pkg!.trim().toLowerCase();
  if (!TOKEN_RE.test(name)) return undefined;
  const out: EventHeader = { package: name };
  for (const p of params) {
    const eq = p.indexOf('=');
    if (eq > 0 && p.slice(0, eq).trim().toLowerCase() === 'id') out.id = p.slice(eq + 1).trim();
  }
  return out;
}

/** A Subscription-State header (RFC 6665 §8.2.3). */
export interface SubscriptionState {
  /** `active`, `pending`, `terminated` (lower-cased), or another value as sent. */
  state: string;
  /** The `reason` parameter, if any. */
  reason?: string;
  /** The `expires` parameter, if any. */
  expires?: number;
}

/** Parses a Subscription-State value; undefined when unreadable. */
export function parseSubscriptionState(value: string | undefined): SubscriptionState | undefined {
  if (typeof value !== 'string') return undefined;
  const [st, ...params] = value.split(';');
  const state = st!.trim().toLowerCase();
  if (!TOKEN_RE.test(state)) return undefined;
  const out: SubscriptionState = { state };
  for (const p of params) {
    const eq = p.indexOf('=');
    if (eq <= 0) continue;
    const k = p.slice(0, eq).trim().toLowerCase();
    const v = p.slice(eq + 1).trim();
    if (k === 'reason') out.reason = v;
    else if (k === 'expires' && /^\d+$/.test(v)) out.expires = Number(v);
  }
  return out;
}

/**
 * The Event and Subscription-State headers of a refer NOTIFY (RFC 3515 §2.4.4-2.4.7): `id` is
 * the REFER's CSeq number; the final one terminates with `reason=noresource`.
 */
export function referNotifyHeaders(referCSeq: number, final: boolean): Array<[string, string]> {
  return [
    ['Event', `refer;id=${referCSeq}`],
    ['Subscription-State', final ? 'terminated;reason=noresource' : `active;expires=${REFER_SUBSCRIPTION_EXPIRES}`],
  ];
}
