/**
 * The body of a NOTIFY as its event package reads it. Notifiers (Asterisk, FreeSWITCH, resource
 * list servers) may send `multipart/mixed` or `multipart/alternative` bodies (RFC 5621, RFC 4662)
 * holding the package's document beside parts a subscriber does not know. RFC 6665 §4.1.3 asks
 * a subscriber to take what it understands: the part of a type it listed in Accept is handed to
 * the package as if it were the whole body; a 415 (with Accept) only when no part is understood.
 *
 * Pure, and total like sip/multipart.ts: garbage gives `none`, never a throw.
 * @module
 */
import type { SipRequest } from './message.js';
import { parseMediaType, parseMultipart, type MediaType } from './multipart.js';

/** What a subscriber does with a NOTIFY's body, given the types it accepts. */
export type NotifyBody =
  /** The body as it came: no body, a single-part body, or no Accept list to judge it by. */
  | { kind: 'whole' }
  /** The understood part of a multipart body: its Content-Type and bytes. */
  | { kind: 'part'; contentType: string; body: Buffer }
  /** A multipart body of which no part is understood (or that cannot be read): answer 415. */
  | { kind: 'none' };

const MAX_DEPTH = 3;

/** True when `type` (lower case `type/subtype`) matches one of `accept` (`*` wildcards allowed). */
function accepted(type: string, accept: readonly string[]): boolean {
  const [main] = type.split('/');
  return accept.some((a) => {
    const t = (a.split(';')[0] ?? '').trim().toLowerCase();
    return t === type || t === '*/*' || t === `${main}/*`;
  });
}

function pick(type: MediaType, body: Buffer, accept: readonly string[], depth: number): { contentType: string; body: Buffer } | undefined {
  const parts = parseMultipart(type, body);
  if (!parts) return undefined;
  // RFC 2046 §5.1.4: alternatives come in increasing order of preference, so the last usable one wins.
  const order = type.type === 'multipart/alternative' ? [...parts].reverse() : parts;
  for (const part of order) {
    const t = part.contentType.type;
    if (accepted(t, accept)) return { contentType: part.headers.get('content-type') ?? t, body: part.body };
    if (t.startsWith('multipart/') && depth + 1 < MAX_DEPTH) {
      const inner = pick(part.contentType, part.body, accept, depth + 1);
      if (inner) return inner;
    }
  }
  return undefined;
}

/**
 * Chooses what of a NOTIFY's body its package gets.
 * @param contentType the NOTIFY's Content-Type
 * @param body the NOTIFY's body
 * @param accept the body types the subscriber understands (its Accept); empty or undefined: all
 */
export function notifyBodyOf(contentType: string | undefined, body: Buffer, accept: readonly string[] | undefined): NotifyBody {
  if (!body.length || !accept?.length) return { kind: 'whole' };
  const type = parseMediaType(contentType);
  if (!type?.type.startsWith('multipart/') || accepted(type.type, accept)) return { kind: 'whole' };
  const part = pick(type, body, accept, 0);
  return part ? { kind: 'part', ...part } : { kind: 'none' };
}

/**
 * The NOTIFY as its package sees it: the same request with the chosen part as its body and that
 * part's Content-Type (the original is not changed).
 */
export function withNotifyPart(req: SipRequest, part: { contentType: string; body: Buffer }): SipRequest {
  const headers = req.headers.clone();
  headers.set('Content-Type', part.contentType);
  return { ...req, headers, body: part.body };
}
