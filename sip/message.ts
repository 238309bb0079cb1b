/**
 * The in-memory shape of a SIP message: start line, ordered headers, raw body.
 *
 * Headers keep their order and their repetitions because SIP gives meaning to both (Via and
 * Route order). Comma-separated lists of the headers in {@link MULTI_VALUE_HEADERS} are split
 * into one entry per value when parsed, so code never has to split them again.
 * @module
 */

/** Error thrown by the pure parse functions; `reason` is a short human explanation. */
export class SipParseError extends Error {
  /** Why the input was rejected, e.g. `missing Call-ID`. */
  readonly reason: string;
  /**
   * What could be read before the error (start line and the headers that parsed), so a server
   * can still answer a broken request with a stateless 400 when Via, From, To, Call-ID and CSeq
   * are usable.
   */
  readonly partial?: SipMessage;
  /**
   * @param reason why the input was rejected
   * @param partial what was readable, if anything
   */
  constructor(reason: string, partial?: SipMessage) {
    super(`SIP parse error: ${reason}`);
    this.name = 'SipParseError';
    this.reason = reason;
    this.partial = partial;
  }
}

/** Compact (single-letter) header forms of RFC 3261 §7.3.3 and later RFCs, mapped to full names. */
export const COMPACT_HEADER_FORMS: Readonly<Record<string, string>> = {
  i: 'Call-ID', m: 'Contact', e: 'Content-Encoding', l: 'Content-Length', c: 'Content-Type',
  f: 'From', s: 'Subject', k: 'Supported', t: 'To', v: 'Via', o: 'Event', u: 'Allow-Events',
  r: 'Refer-To', b: 'Referred-By', x: 'Session-Expires', a: 'Accept-Contact', j: 'Reject-Contact', d: 'Request-Disposition',
  y: 'Identity', n: 'Identity-Info',
};

const CANONICAL_NAMES: ReadonlyMap<string, string> = new Map(
  [
    'Accept', 'Accept-Encoding', 'Accept-Language', 'Alert-Info', 'Allow', 'Allow-Events', 'Authentication-Info',
    'Authorization', 'Call-ID', 'Call-Info', 'Contact', 'Content-Disposition', 'Content-Encoding',
    'Content-Language', 'Content-Length', 'Content-Type', 'CSeq', 'Date', 'Error-Info', 'Event', 'Expires',
    'From', 'In-Reply-To', 'Max-Forwards', 'Min-Expires', 'MIME-Version', 'Organization', 'Path', 'Priority',
    'Proxy-Authenticate', 'Proxy-Authorization', 'Proxy-Require', 'RAck', 'Reason', 'Record-Route', 'Refer-To',
    'Referred-By', 'Replaces', 'Reply-To', 'Require', 'Retry-After', 'Route', 'RSeq', 'Server', 'Service-Route',
    'SIP-ETag', 'SIP-If-Match', 'Subject', 'Subscription-State', 'Supported', 'Timestamp', 'To', 'Unsupported',
    'User-Agent', 'Via', 'Warning', 'WWW-Authenticate', 'Session-Expires', 'Min-SE', 'P-Asserted-Identity',
    'Refer-Sub', 'Target-Dialog', 'Accept-Contact', 'Reject-Contact', 'Request-Disposition', 'Identity', 'Identity-Info',
  ].map((n) => [n.toLowerCase(), n]),
);

/**
 * Headers whose value is a comma-separated list (RFC 3261 §7.3.1): the parser splits them into
 * one entry per element (outside quotes and angle brackets). Lower-case canonical names.
 */
export const MULTI_VALUE_HEADERS: ReadonlySet<string> = new Set([
  'via', 'contact', 'route', 'record-route', 'allow', 'supported', 'require', 'proxy-require', 'unsupported',
  'accept', 'accept-encoding', 'accept-language', 'allow-events', 'content-encoding', 'content-language',
  'in-reply-to', 'path', 'service-route', 'call-info', 'alert-info', 'error-info', 'reason', 'warning',
  'p-asserted-identity', 'accept-contact', 'reject-contact', 'request-disposition',
]);

/** Each canonical name and compact form as spelled, to its canonical name (the common case of {@link canonicalHeaderName}). */
const CANONICAL_BY_SPELLING: ReadonlyMap<string, string> = new Map([
  ...[...CANONICAL_NAMES.values()].map((n): [string, string] => [n, n]),
  ...Object.entries(COMPACT_HEADER_FORMS).map(([c, n]): [string, string] => [c, n]),
]);

/**
 * Maps any spelling of a header name (any case, compact form) to its canonical form, so
 * `v`, `VIA` and `Via` are one header. Unknown names keep their spelling.
 */
export function canonicalHeaderName(name: string): string {
  // the usual spellings (`Via`, `v`, `CSeq` ...) in one lookup, without a lower-cased copy
  const known = CANONICAL_BY_SPELLING.get(name);
  if (known !== undefined) return known;
  const lower = name.toLowerCase();
  if (lower.length === 1) {
    const full = COMPACT_HEADER_FORMS[lower];
    if (full) return full;
  }
  return CANONICAL_NAMES.get(lower) ?? name;
}

/** One header line: canonical `name`, lower-case `key` for lookups, and the raw value text. */
export interface SipHeaderEntry {
  /** Canonical spelling used when serializing. */
  name: string;
  /** Lower-case canonical name used for matching. */
  key: string;
  /** The value, whitespace-trimmed, line folding removed. */
  value: string;
}

/** An ordered, case-insensitive multimap of headers. */
export class SipHeaders {
  /** The entries in wire order. Exposed for serializers; prefer the methods. */
  readonly entries: SipHeaderEntry[] = [];

  /** Builds headers from `[name, value]` pairs (names in any spelling). */
  static from(pairs: Iterable<readonly [string, string | number]>): SipHeaders {
    const h = new SipHeaders();
    for (const [n, v] of pairs) h.append(n, String(v));
    return h;
  }

  /** First value of the header, or undefined. */
  get(name: string): string | undefined {
    const key = canonicalHeaderName(name).toLowerCase();
    for (const e of this.entries) if (e.key === key) return e.value;
    return undefined;
  }

  /** Every value of the header in order (already split for {@link MULTI_VALUE_HEADERS}). */
  getAll(name: string): string[] {
    const key = canonicalHeaderName(name).toLowerCase();
    const out: string[] = [];
    for (const e of this.entries) if (e.key === key) out.push(e.value);
    return out;
  }

  /** True when at least one entry of the header exists. */
  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Adds a value after the existing ones. */
  append(name: string, value: string): this {
    const canon = canonicalHeaderName(name);
    this.entries.push({ name: canon, key: canon.toLowerCase(), value });
    return this;
  }

  /** Adds a value before the first existing entry of that header (or at the top). Used for Via. */
  prepend(name: string, value: string): this {
    const canon = canonicalHeaderName(name);
    const key = canon.toLowerCase();
    const idx = this.entries.findIndex((e) => e.key === key);
    const entry = { name: canon, key, value };
    if (idx < 0) this.entries.unshift(entry);
    else this.entries.splice(idx, 0, entry);
    return this;
  }

  /** Replaces every value of the header with one value (kept at the first entry's position). */
  set(name: string, value: string | number): this {
    const canon = canonicalHeaderName(name);
    const key = canon.toLowerCase();
    const idx = this.entries.findIndex((e) => e.key === key);
    this.delete(name);
    const entry = { name: canon, key, value: String(value) };
    if (idx < 0) this.entries.push(entry);
    else this.entries.splice(Math.min(idx, this.entries.length), 0, entry);
    return this;
  }

  /** Removes the first entry of the header (e.g. the top Via). Returns its value. */
  removeFirst(name: string): string | undefined {
    const key = canonicalHeaderName(name).toLowerCase();
    const idx = this.entries.findIndex((e) => e.key === key);
    if (idx < 0) return undefined;
    return this.entries.splice(idx, 1)[0]!.value;
  }

  /** Removes every entry of the header. */
  delete(name: string): this {
    const key = canonicalHeaderName(name).toLowerCase();
    for (let i = this.entries.length - 1; i >= 0; i--) if (this.entries[i]!.key === key) this.entries.splice(i, 1);
    return this;
  }

  /** A deep copy. */
  clone(): SipHeaders {
    const h = new SipHeaders();
    for (const e of this.entries) h.entries.push({ ...e });
    return h;
  }
}

/** A SIP request. `uri` is the Request-URI text as sent. */
export interface SipRequest {
  /** Discriminant. */
  type: 'request';
  /** Method token, case-sensitive (`INVITE`, `REGISTER`, extension methods as written). */
  method: string;
  /** Request-URI text. */
  uri: string;
  /** Protocol version, `SIP/2.0`. */
  version: string;
  /** Ordered headers. */
  headers: SipHeaders;
  /** Body bytes (possibly empty); binary-safe. */
  body: Buffer;
}

/** A SIP response. */
export interface SipResponse {
  /** Discriminant. */
  type: 'response';
  /** Status code 100..699. */
  status: number;
  /** Reason phrase (may be empty). */
  reason: string;
  /** Protocol version, `SIP/2.0`. */
  version: string;
  /** Ordered headers. */
  headers: SipHeaders;
  /** Body bytes (possibly empty); binary-safe. */
  body: Buffer;
}

/** Either kind of SIP message. */
export type SipMessage = SipRequest | SipResponse;

/** Deep copy of a message (headers and body). */
export function cloneMessage<M extends SipMessage>(m: M): M {
  return { ...m, headers: m.headers.clone(), body: Buffer.from(m.body) };
}

/** Default reason phrases of RFC 3261 §21 and later RFCs. */
export const REASON_PHRASES: Readonly<Record<number, string>> = {
  100: 'Trying', 180: 'Ringing', 181: 'Call Is Being Forwarded', 182: 'Queued', 183: 'Session Progress',
  200: 'OK', 202: 'Accepted', 204: 'No Notification',
  300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Moved Temporarily', 305: 'Use Proxy', 380: 'Alternative Service',
  400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 406: 'Not Acceptable', 407: 'Proxy Authentication Required', 408: 'Request Timeout',
  410: 'Gone', 412: 'Conditional Request Failed', 413: 'Request Entity Too Large', 414: 'Request-URI Too Long',
  415: 'Unsupported Media Type', 416: 'Unsupported URI Scheme', 420: 'Bad Extension', 421: 'Extension Required',
  422: 'Session Interval Too Small', 423: 'Interval Too Brief', 480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist', 482: 'Loop Detected', 483: 'Too Many Hops', 484: 'Address Incomplete',
  485: 'Ambiguous', 486: 'Busy Here', 487: 'Request Terminated', 488: 'Not Acceptable Here', 489: 'Bad Event',
  491: 'Request Pending', 493: 'Undecipherable',
  500: 'Server Internal Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable',
  504: 'Server Time-out', 505: 'Version Not Supported', 513: 'Message Too Large',
  600: 'Busy Everywhere', 603: 'Decline', 604: 'Does Not Exist Anywhere', 606: 'Not Acceptable',
};
