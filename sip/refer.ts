/**
 * REFER building blocks (RFC 3515, 3891, 3892, 3420), pure functions with no engine knowledge:
 * the Refer-To header with an escaped embedded Replaces, Referred-By, and the message/sipfrag
 * bodies and Event / Subscription-State headers of the implicit subscription's NOTIFYs.
 * @module
 */
import { formatUri, parseNameAddr, parseUri, quoteString } from './grammar.js';
import { formatReplaces, isDialableUri, type ReplacesInfo } from './headers.js';

// The parsers of Refer-To, Replaces, Event and Subscription-State live in headers.ts (one each);
// they are re-exported here for the callers that think of them as REFER helpers.
export {
  formatReplaces,
  parseEventHeader,
  parseReferTo,
  parseReplaces,
  parseSubscriptionState,
  unescapeHeaderValue,
  type EventHeader,
  type ReferTarget,
  type ReferTargetError,
  type ReplacesInfo,
  type SubscriptionStateHeader,
} from './headers.js';

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

/**
 * Builds a Refer-To value `<target?Replaces=escaped>` (always bracketed: a URI with headers must
 * be). `targetUri` must be a sip/sips URI; any `?headers` it has are kept and Replaces is added.
 * Throws on a URI that does not parse (the callers validate application input first).
 */
export function buildReferTo(targetUri: string, replaces?: ReplacesInfo, displayName?: string): string {
  const uri = parseUri(targetUri);
  if (!isDialableUri(uri)) throw new Error(`not a sip/sips URI: ${targetUri}`);
  let text = formatUri({ ...uri, headers: {} });
  const headers = Object.entries(uri.headers).filter(([k]) => k.toLowerCase() !== 'replaces');
  if (replaces) headers.push(['Replaces', escapeHeaderValue(formatReplaces(replaces))]);
  headers.forEach(([k, v], i) => {
    text += `${i === 0 ? '?' : '&'}${k}=${v}`;
  });
  return `${displayName ? quoteString(displayName) + ' ' : ''}<${text}>`;
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
    if (!isDialableUri(na.uri)) return undefined;
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
