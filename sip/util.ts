/**
 * Small helpers shared by the transport, transaction and stack layers: identifier generation
 * (branch, tag, Call-ID), cheap header probes that avoid a full grammar parse on the hot path,
 * and the pure response builder of RFC 3261 §8.2.6.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { REASON_PHRASES, SipHeaders, type SipRequest, type SipResponse } from './message.js';

/** The RFC 3261 §8.1.1.7 branch prefix that marks a branch as globally unique. */
export const MAGIC_COOKIE = 'z9hG4bK';

// Random identifiers are cut from one pooled buffer: one syscall per ~500 ids instead of one per id.
const POOL_SIZE = 4096;
let pool = randomBytes(POOL_SIZE);
let poolOffset = 0;

/** `bytes` fresh random bytes as lower-case hex, taken from the pool. */
export function randomHex(bytes: number): string {
  if (poolOffset + bytes > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    poolOffset = 0;
  }
  const s = pool.toString('hex', poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return s;
}

/** A new RFC 3261 branch: magic cookie plus 64 random bits (unique in space and time). */
export function newBranch(): string {
  return MAGIC_COOKIE + randomHex(8);
}

/** A new From/To tag; §19.3 asks for at least 32 random bits, we use 64. */
export function newTag(): string {
  return randomHex(8);
}

/** A new Call-ID: 96 random bits, `@host` appended when a host is given (§8.1.1.4). */
export function newCallId(host?: string): string {
  const id = randomHex(12);
  return host ? `${id}@${host}` : id;
}

/**
 * Start of the header parameters of a From/To/Contact value: after the closing `>` when the
 * URI is bracketed, otherwise the whole value (an addr-spec's `;` params belong to the header).
 */
function paramsTail(value: string): string {
  const gt = value.lastIndexOf('>');
  return gt >= 0 ? value.slice(gt + 1) : value;
}

const TAG_RE = /;\s*tag\s*=\s*([^;\s,]+)/i;

/**
 * `s` with characters of its own. A string cut from a received message (a tag, a URI, a branch)
 * is a view of that message's whole text in V8 and keeps it alive; something kept long after the
 * message (a dialog, a transaction key) stores a copy instead.
 */
export function ownCopy(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}

/** The `tag` parameter of a From/To value, or undefined. Cheap: no full name-addr parse. */
export function tagOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const m = TAG_RE.exec(paramsTail(value));
  return m ? m[1] : undefined;
}

/** The sequence number of a CSeq value (`42 INVITE` → 42), NaN when unreadable. */
export function cseqNumber(value: string | undefined): number {
  if (value === undefined) return NaN;
  const m = /^\s*(\d+)/.exec(value);
  return m ? Number(m[1]) : NaN;
}

/** The method of a CSeq value (`42 INVITE` → `INVITE`), empty when unreadable. */
export function cseqMethod(value: string | undefined): string {
  if (value === undefined) return '';
  const m = /^\s*\d+\s+(\S+)/.exec(value);
  return m ? m[1]! : '';
}

/** Strips IPv6 brackets so Via hosts compare equal to socket addresses. */
export function bareHost(host: string): string {
  return host.length > 1 && host.charCodeAt(0) === 91 /* [ */ && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** Adds IPv6 brackets when needed so a socket address can be written into a Via or URI. */
export function uriHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** Options of {@link buildResponse}. */
export interface ResponseOptions {
  /**
   * To tag to add when the request's To has none (a UAS must tag every non-100 response,
   * §8.2.6.2); `true` generates a fresh one with {@link newTag}.
   */
  toTag?: string | true;
  /** Extra headers, appended after the copied ones. */
  headers?: Iterable<readonly [string, string | number]> | Readonly<Record<string, string | number>>;
  /** Body; Content-Length is written by the serializer. */
  body?: Buffer | string;
  /** Content-Type of the body. */
  contentType?: string;
}

/**
 * Builds a response to `req` as RFC 3261 §8.2.6.2 asks: every Via in order (including the
 * `received`/`rport` the stack added to the top one), From, To (tagged when `toTag` is given and
 * the To has none), Call-ID and CSeq; Timestamp for 100 (§8.2.6.1); Record-Route for 101-299 so
 * dialog-forming responses carry the route set back (§12.1.1; harmless on other responses).
 */
export function buildResponse(req: SipRequest, status: number, reason?: string, options: ResponseOptions = {}): SipResponse {
  const headers = new SipHeaders();
  const out = headers.entries;
  for (const e of req.headers.entries) {
    switch (e.key) {
      case 'via':
      case 'from':
      case 'call-id':
      case 'cseq':
        out.push({ name: e.name, key: e.key, value: e.value });
        break;
      case 'to': {
        let value = e.value;
        if (options.toTag && status > 100 && tagOf(value) === undefined) {
          value = `${value};tag=${options.toTag === true ? newTag() : options.toTag}`;
        }
        out.push({ name: e.name, key: e.key, value });
        break;
      }
      case 'timestamp':
        if (status === 100) out.push({ name: e.name, key: e.key, value: e.value });
        break;
      case 'record-route':
        if (status > 100 && status < 300) out.push({ name: e.name, key: e.key, value: e.value });
        break;
      default:
        break;
    }
  }
  const extra = options.headers;
  if (extra) {
    const pairs: Iterable<readonly [string, string | number]> =
      Symbol.iterator in extra ? (extra) : Object.entries(extra);
    for (const [n, v] of pairs) headers.append(n, String(v));
  }
  let body: Buffer;
  if (options.body === undefined) body = EMPTY;
  else body = typeof options.body === 'string' ? Buffer.from(options.body) : options.body;
  if (options.contentType !== undefined && body.length > 0) headers.set('Content-Type', options.contentType);
  return {
    type: 'response',
    status,
    reason: reason ?? REASON_PHRASES[status] ?? '',
    version: 'SIP/2.0',
    headers,
    body,
  };
}

/** A shared empty body: responses without one need no allocation. */
export const EMPTY: Buffer = Buffer.alloc(0);

/**
 * A reason phrase safe to put on a status line: printable ASCII only (control characters would
 * break the message), first letter capitalised, at most 100 characters.
 */
export function sanitizeReason(text: string): string {
   
  let s = text.replace(/[^\x20-\x7e]+/g, ' ').trim();
  if (s.length > 100) s = s.slice(0, 100).trimEnd();
  if (s.length === 0) return 'Bad Request';
  return s.charAt(0).toUpperCase() + s.slice(1);
}

const BRANCH_RE = /;\s*branch\s*=\s*([^;,\s]+)/i;

/**
 * The `branch` parameter of a Via value, or undefined. A regular expression instead of a full
 * Via parse because response matching (§17.1.3) needs only this one parameter.
 */
export function branchOf(via: string | undefined): string | undefined {
  if (via === undefined) return undefined;
  const m = BRANCH_RE.exec(via);
  return m ? m[1] : undefined;
}
