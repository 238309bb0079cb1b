/**
 * SIP message parsing and serialization (RFC 3261 §7, §18.3, §25).
 *
 * The parser is strict where RFC 4475 calls a message invalid (bad start line, unusable
 * mandatory headers, bad Content-Length) and lenient where it calls one "valid but unusual"
 * (folding, odd whitespace, escapes, unknown schemes and headers). It is on the hot path: it finds
 * the header section with native `Buffer.indexOf`, decodes it once, recognizes header names
 * without allocating, and validates the mandatory headers with the non-allocating `check*`
 * scanners of the grammar module.
 * @module
 */
import {
  MULTI_VALUE_HEADERS,
  SipHeaders,
  SipParseError,
  canonicalHeaderName,
  type SipHeaderEntry,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from './message.js';
import { checkNameAddr, checkUri, checkVia, isToken, parseCSeq } from './grammar.js';

/** Options of {@link parseMessage}. */
export interface ParseOptions {
  /**
   * True for messages that came over a stream (TCP/TLS): Content-Length is then mandatory.
   * Over UDP a missing Content-Length means "the rest of the datagram".
   */
  stream?: boolean;
}

/** Largest header section (start line + headers) accepted before giving up on a message. */
export const MAX_HEADER_BYTES = 64 * 1024;

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const LFLF = Buffer.from('\n\n', 'latin1');
const EMPTY = Buffer.alloc(0);

// Results of findHeaderEnd, kept in module variables so the hot path allocates no tuple.
let foundHeaderEnd = -1;
let foundBodyStart = -1;

/**
 * Locates the empty line that ends the header section. CRLF CRLF is the rule; a bare LF LF is
 * tolerated (RFC 2616 §19.3 style leniency some SIP stacks rely on). Sets foundHeaderEnd /
 * foundBodyStart, or -1 when the section is not complete.
 */
function findHeaderEnd(data: Buffer, start: number): void {
  const p = data.indexOf(CRLFCRLF, start);
  let q: number;
  if (p >= 0) {
    // Only an LF LF *before* the CRLF CRLF can matter; don't scan the body for it.
    q = p > start ? data.subarray(start, p).indexOf(LFLF) : -1;
    if (q >= 0) q += start;
  } else {
    q = data.indexOf(LFLF, start);
  }
  if (q >= 0 && (p < 0 || q < p)) {
    foundHeaderEnd = q;
    foundBodyStart = q + 2;
  } else if (p >= 0) {
    foundHeaderEnd = p;
    foundBodyStart = p + 4;
  } else {
    foundHeaderEnd = -1;
    foundBodyStart = -1;
  }
}

// ---------------------------------------------------------------------------------------------
// Header names

// Ids of the headers the parser validates; 0 for every other header.
const H_OTHER = 0;
const H_VIA = 1;
const H_FROM = 2;
const H_TO = 3;
const H_CALL_ID = 4;
const H_CSEQ = 5;
const H_CONTENT_LENGTH = 6;
const H_MAX_FORWARDS = 7;
const H_EXPIRES = 8;
const H_CONTACT = 9;
const H_DATE = 10;

const HEADER_IDS: ReadonlyMap<string, number> = new Map([
  ['via', H_VIA], ['from', H_FROM], ['to', H_TO], ['call-id', H_CALL_ID], ['cseq', H_CSEQ],
  ['content-length', H_CONTENT_LENGTH], ['max-forwards', H_MAX_FORWARDS], ['expires', H_EXPIRES],
  ['contact', H_CONTACT], ['date', H_DATE],
]);

/** What the parser needs to know about one spelling of a header name. */
interface HeaderNameInfo {
  /** The exact spelling on the wire. */
  raw: string;
  name: string;
  key: string;
  id: number;
  multi: boolean;
}

function makeNameInfo(raw: string): HeaderNameInfo {
  const name = canonicalHeaderName(raw);
  const key = name.toLowerCase();
  return { raw, name, key, id: HEADER_IDS.get(key) ?? H_OTHER, multi: MULTI_VALUE_HEADERS.has(key) };
}

/**
 * Spellings seen so far, bucketed by first char code and length so a lookup compares in place
 * (`startsWith` at the line offset) instead of slicing and hashing a new string per line.
 */
const NAME_BUCKET_LEN = 32;
const nameBuckets: (HeaderNameInfo[] | undefined)[] = new Array<HeaderNameInfo[] | undefined>(128 * NAME_BUCKET_LEN);
/** Bounds, so a peer sending random header names cannot grow the cache without limit. */
const NAME_BUCKET_MAX = 8;
const NAME_CACHE_MAX = 4096;
let nameCacheSize = 0;

/** Info of the header name head[pos, end), or undefined when it is not a token. */
function headerNameAt(head: string, pos: number, end: number): HeaderNameInfo | undefined {
  const len = end - pos;
  const c = head.charCodeAt(pos);
  const slot = c < 128 && len < NAME_BUCKET_LEN ? c * NAME_BUCKET_LEN + len : -1;
  let bucket: HeaderNameInfo[] | undefined;
  if (slot >= 0) {
    bucket = nameBuckets[slot];
    if (bucket !== undefined) {
      for (let i = 0; i < bucket.length; i++) if (head.startsWith(bucket[i]!.raw, pos)) return bucket[i];
    }
  }
  const raw = head.slice(pos, end);
  if (!isToken(raw)) return undefined;
  const info = makeNameInfo(raw);
  if (slot >= 0 && nameCacheSize < NAME_CACHE_MAX) {
    if (bucket === undefined) nameBuckets[slot] = bucket = [];
    if (bucket.length < NAME_BUCKET_MAX) {
      bucket.push(info);
      nameCacheSize++;
    }
  }
  return info;
}

// ---------------------------------------------------------------------------------------------
// Values

function isWs(c: number): boolean {
  return c === 32 || c === 9;
}

/** `s.slice(start, end)` without leading/trailing SP/HTAB. */
function trimmed(s: string, start: number, end: number): string {
  while (start < end && isWs(s.charCodeAt(start))) start++;
  while (end > start && isWs(s.charCodeAt(end - 1))) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/**
 * Calls `emit` for each element of a comma-separated header value, ignoring commas inside quoted
 * strings and `<...>`. Empty elements are dropped; an entirely empty value gives one empty
 * element (e.g. `Supported:` with no option tags is meaningful). Returns the element count.
 */
function forEachListElement(value: string, emit: (part: string) => void): number {
  let count = 0;
  const n = value.length;
  let segStart = 0;
  if (value.indexOf('"') < 0 && value.indexOf('<') < 0) {
    // plain token lists (Allow, Supported, Accept ...): let indexOf find the commas
    let comma = value.indexOf(',');
    while (comma >= 0) {
      const part = trimmed(value, segStart, comma);
      if (part.length > 0) {
        emit(part);
        count++;
      }
      segStart = comma + 1;
      comma = value.indexOf(',', segStart);
    }
  } else {
    let inQuote = false;
    let inAngle = false;
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      if (inQuote) {
        if (c === 92) i++;
        else if (c === 34) inQuote = false;
      } else if (c === 34) inQuote = true;
      else if (c === 60) inAngle = true;
      else if (c === 62) inAngle = false;
      else if (c === 44 && !inAngle) {
        const part = trimmed(value, segStart, i);
        if (part.length > 0) {
          emit(part);
          count++;
        }
        segStart = i + 1;
      }
    }
  }
  const last = trimmed(value, segStart, n);
  if (last.length > 0 || count === 0) {
    emit(last);
    count++;
  }
  return count;
}

/**
 * Splits a comma-separated header value into its elements, ignoring commas inside quoted
 * strings and `<...>`. Empty elements are dropped; an entirely empty value stays one empty entry
 * (e.g. `Supported:` with no option tags is meaningful). This is what the parser does to the
 * headers of {@link MULTI_VALUE_HEADERS}.
 */
export function splitHeaderList(value: string): string[] {
  const out: string[] = [];
  forEachListElement(value, (p) => out.push(p));
  return out;
}

/** Parses a Content-Length value: digits only, at most 10 of them. -1 when invalid. */
function contentLengthValue(v: string): number {
  const n = v.length;
  if (n === 0 || n > 10) return -1;
  let x = 0;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    x = x * 10 + c;
  }
  return x;
}

/** Value of a string of digits (leading zeros allowed), -1 when not all digits, Infinity when huge. */
function digitsValue(v: string): number {
  const n = v.length;
  if (n === 0) return -1;
  let x = 0;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    x = x * 10 + c;
  }
  return x > Number.MAX_SAFE_INTEGER ? Infinity : x;
}

// ---------------------------------------------------------------------------------------------
// Validation of the headers that make a message usable (RFC 3261 §8.1.1, §20). The state of the
// message being parsed lives in module variables: parsing is synchronous, and this way the hot
// path allocates no state object and no closure per message.

let vVias = 0;
let vFroms = 0;
let vTos = 0;
let vCallIds = 0;
let vCseqs = 0;
let vMaxForwards = 0;
let vExpires = 0;
let vContentLength = -1;
let vCseqValue = '';
/** First validation failure; reported after all headers are read so `partial` is complete. */
let vBad: string | undefined;

function resetValidation(): void {
  vVias = vFroms = vTos = vCallIds = vCseqs = vMaxForwards = vExpires = 0;
  vContentLength = -1;
  vCseqValue = '';
  vBad = undefined;
}

function checkGrammar(label: string, fn: (v: string) => unknown, v: string): void {
  try {
    fn(v);
  } catch (err) {
    if (!(err instanceof SipParseError)) throw err;
    vBad = `invalid ${label}: ${err.reason}`;
  }
}

/** Validates one (already split) value of a header the parser cares about. */
function validateValue(id: number, v: string): void {
  if (vBad !== undefined) return;
  switch (id) {
    case H_VIA:
      vVias++;
      checkGrammar('Via', checkVia, v);
      break;
    case H_FROM:
      if (++vFroms > 1) vBad = 'multiple From headers';
      else checkGrammar('From', checkNameAddr, v);
      break;
    case H_TO:
      if (++vTos > 1) vBad = 'multiple To headers';
      else checkGrammar('To', checkNameAddr, v);
      break;
    case H_CALL_ID:
      if (++vCallIds > 1) vBad = 'multiple Call-ID headers';
      else if (v.length === 0) vBad = 'empty Call-ID';
      else for (let i = 0; i < v.length; i++) if (v.charCodeAt(i) <= 32) vBad = 'invalid Call-ID';
      break;
    case H_CSEQ:
      if (++vCseqs > 1) vBad = 'multiple CSeq headers';
      vCseqValue = v;
      break;
    case H_CONTENT_LENGTH: {
      const n = contentLengthValue(v);
      if (n < 0) vBad = 'invalid Content-Length';
      else if (vContentLength >= 0 && vContentLength !== n) vBad = 'multiple Content-Length values';
      else vContentLength = n;
      break;
    }
    case H_MAX_FORWARDS: {
      // RFC 3261 §20.22: an integer 0..255 (RFC 4475 scalar02 sends 300)
      const n = digitsValue(v);
      if (++vMaxForwards > 1) vBad = 'multiple Max-Forwards headers';
      else if (n < 0 || n > 255) vBad = 'invalid Max-Forwards';
      break;
    }
    case H_EXPIRES: {
      // RFC 3261 §20.19: delta-seconds up to 2**32-1
      const n = digitsValue(v);
      if (++vExpires > 1) vBad = 'multiple Expires headers';
      else if (n < 0 || n > 0xffffffff) vBad = 'invalid Expires';
      break;
    }
    case H_CONTACT:
      if (v !== '*') checkGrammar('Contact', checkNameAddr, v);
      break;
    case H_DATE:
      // RFC 3261 §20.17: the only time zone allowed is GMT (RFC 4475 baddate)
      if (!v.endsWith(' GMT')) vBad = 'invalid Date (must be GMT)';
      break;
    default:
      break;
  }
}

/** Checks what can only be checked once every header is read. Returns an error reason or undefined. */
function finishValidation(msg: SipMessage): string | undefined {
  if (vBad !== undefined) return vBad;
  if (vVias === 0) return 'missing Via';
  if (vFroms === 0) return 'missing From';
  if (vTos === 0) return 'missing To';
  if (vCallIds === 0) return 'missing Call-ID';
  if (vCseqs === 0) return 'missing CSeq';
  let method: string;
  try {
    method = parseCSeq(vCseqValue).method;
  } catch (err) {
    if (err instanceof SipParseError) return `invalid CSeq: ${err.reason}`;
    throw err;
  }
  // RFC 4475 mismatch01/02: a request whose CSeq method differs from its own is invalid
  if (msg.type === 'request' && method !== msg.method) return 'CSeq method does not match request method';
  return undefined;
}

// The entries array addHeader appends to, and the info of the header being added; module
// variables so the list splitter's callback is one function allocated once.
let curEntries: SipHeaderEntry[] = [];
let curInfo: HeaderNameInfo | undefined;
function emitElement(part: string): void {
  const info = curInfo!;
  curEntries.push({ name: info.name, key: info.key, value: part });
  if (info.id !== H_OTHER) validateValue(info.id, part);
}

function addHeader(entries: SipHeaderEntry[], info: HeaderNameInfo, value: string): void {
  if (info.multi && value.indexOf(',') >= 0) {
    curEntries = entries;
    curInfo = info;
    forEachListElement(value, emitElement);
  } else {
    entries.push({ name: info.name, key: info.key, value });
    if (info.id !== H_OTHER) validateValue(info.id, value);
  }
}

// ---------------------------------------------------------------------------------------------
// Start line

/** 0 = SIP/2.0, 1 = well-formed other version, 2 = malformed. */
function checkVersion(v: string): number {
  const n = v.length;
  if (n < 7) return 2;
  if ((v.charCodeAt(0) | 0x20) !== 115 || (v.charCodeAt(1) | 0x20) !== 105 || (v.charCodeAt(2) | 0x20) !== 112 || v.charCodeAt(3) !== 47) return 2;
  let i = 4;
  const majStart = i;
  while (i < n && v.charCodeAt(i) >= 48 && v.charCodeAt(i) <= 57) i++;
  if (i === majStart || i >= n || v.charCodeAt(i) !== 46) return 2;
  const minStart = ++i;
  while (i < n && v.charCodeAt(i) >= 48 && v.charCodeAt(i) <= 57) i++;
  if (i === minStart || i !== n) return 2;
  return n === 7 && v.charCodeAt(4) === 50 && v.charCodeAt(6) === 48 ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------

/**
 * Parses one whole SIP message. Throws {@link SipParseError} with a clear reason; its `partial`
 * holds the start line and the headers that could be read (for a stateless 400 or 505).
 *
 * Leading CRLFs are skipped. The body is a copy of the bytes after the empty line, cut to
 * Content-Length (extra datagram bytes are ignored, RFC 3261 §18.3).
 */
export function parseMessage(data: Buffer, options: ParseOptions = {}): SipMessage {
  const stream = options.stream === true;
  const len = data.length;
  let start = 0;
  while (start < len && (data[start] === 13 || data[start] === 10)) start++;
  if (start >= len) throw new SipParseError('empty message');

  let deferred: string | undefined;
  findHeaderEnd(data, start);
  let headerEnd = foundHeaderEnd;
  let bodyStart = foundBodyStart;
  if (headerEnd < 0) {
    deferred = 'missing empty line after headers';
    headerEnd = len;
    bodyStart = len;
  }
  if (headerEnd - start > MAX_HEADER_BYTES) throw new SipParseError('header section too large');
  const head = data.toString('utf8', start, headerEnd);
  const hlen = head.length;

  // ---- start line
  let nl = head.indexOf('\n');
  if (nl < 0) nl = hlen;
  let lineEnd = nl;
  if (lineEnd > 0 && head.charCodeAt(lineEnd - 1) === 13) lineEnd--;
  const isResponse =
    lineEnd >= 4 && (head.charCodeAt(0) | 0x20) === 115 && (head.charCodeAt(1) | 0x20) === 105 &&
    (head.charCodeAt(2) | 0x20) === 112 && head.charCodeAt(3) === 47;
  for (let i = 0; i < lineEnd; i++) {
    // no controls in a start line (RFC 4475 asks for this strictness), HTAB only in a reason phrase
    const c = head.charCodeAt(i);
    if ((c < 32 && !(c === 9 && isResponse)) || c === 127) throw new SipParseError('invalid character in start line');
  }
  const headers = new SipHeaders();
  let msg: SipMessage;
  if (isResponse) {
    const sp = head.indexOf(' ');
    if (sp < 0 || sp > lineEnd) throw new SipParseError('malformed status line');
    const version = head.slice(0, sp);
    const vs = checkVersion(version);
    if (vs === 2) throw new SipParseError('malformed status line');
    if (vs === 1) deferred = 'unsupported SIP version';
    const codeEnd = sp + 4;
    if (codeEnd > lineEnd || (codeEnd < lineEnd && head.charCodeAt(codeEnd) !== 32)) {
      throw new SipParseError('invalid status code');
    }
    let status = 0;
    for (let i = sp + 1; i < codeEnd; i++) {
      const d = head.charCodeAt(i) - 48;
      if (d < 0 || d > 9) throw new SipParseError('invalid status code');
      status = status * 10 + d;
    }
    if (status < 100 || status > 699) throw new SipParseError('invalid status code');
    const reason = codeEnd < lineEnd ? head.slice(codeEnd + 1, lineEnd) : '';
    const res: SipResponse = { type: 'response', status, reason, version: vs === 0 ? 'SIP/2.0' : version, headers, body: EMPTY };
    msg = res;
  } else {
    const sp1 = head.indexOf(' ');
    if (sp1 <= 0 || sp1 > lineEnd) throw new SipParseError('malformed request line');
    const method = head.slice(0, sp1);
    if (!isToken(method)) throw new SipParseError('invalid method');
    const sp2 = head.indexOf(' ', sp1 + 1);
    if (sp2 < 0 || sp2 > lineEnd) throw new SipParseError('malformed request line');
    const uri = head.slice(sp1 + 1, sp2);
    const version = head.slice(sp2 + 1, lineEnd);
    const vs = checkVersion(version);
    // Errors below still let the headers be read, so the caller can answer (400, 505).
    if (deferred === undefined) {
      if (uri.length === 0 || version.indexOf(' ') >= 0) deferred = 'malformed request line';
      else if (vs === 2) deferred = 'malformed request line';
      else if (vs === 1) deferred = 'unsupported SIP version';
      else {
        try {
          // RFC 3261 §19.1.5 table: headers are not allowed in a Request-URI (RFC 4475 escruri).
          if (checkUri(uri)) deferred = 'headers not allowed in Request-URI';
        } catch (err) {
          if (!(err instanceof SipParseError)) throw err;
          deferred = 'invalid Request-URI: ' + err.reason;
        }
      }
    }
    const req: SipRequest = { type: 'request', method, uri, version: vs === 0 ? 'SIP/2.0' : version, headers, body: EMPTY };
    msg = req;
  }

  // ---- headers
  resetValidation();
  const entries = headers.entries;
  let pos = nl + 1;
  let cur: HeaderNameInfo | undefined;
  let curValue = '';
  // Next CR at or after pos, advanced lazily so LF-only input stays linear. A CR that does not
  // end a line is refused: it would make the header ambiguous (RFC 3261 allows CR only in CRLF).
  let nextCr = -1;
  while (pos < hlen) {
    let e = head.indexOf('\n', pos);
    if (e < 0) e = hlen;
    let le = e;
    if (le > pos && head.charCodeAt(le - 1) === 13) le--;
    if (nextCr !== hlen && nextCr < pos) {
      nextCr = head.indexOf('\r', pos);
      if (nextCr < 0) nextCr = hlen;
    }
    if (nextCr < le) throw new SipParseError('bare CR in header', msg);
    const c = head.charCodeAt(pos);
    if (c === 32 || c === 9) {
      // folded continuation (RFC 3261 §7.3.1): joined to the previous value with one space
      if (cur === undefined) throw new SipParseError('continuation line without a header', msg);
      const part = trimmed(head, pos, le);
      if (part.length > 0) curValue = curValue.length > 0 ? curValue + ' ' + part : part;
    } else {
      if (cur !== undefined) addHeader(entries, cur, curValue);
      const colon = head.indexOf(':', pos);
      if (colon < 0 || colon >= le) throw new SipParseError('malformed header line', msg);
      let nameEnd = colon;
      while (nameEnd > pos && isWs(head.charCodeAt(nameEnd - 1))) nameEnd--;
      cur = nameEnd > pos ? headerNameAt(head, pos, nameEnd) : undefined;
      if (cur === undefined) throw new SipParseError('invalid header name', msg);
      curValue = trimmed(head, colon + 1, le);
    }
    pos = e + 1;
  }
  if (cur !== undefined) addHeader(entries, cur, curValue);

  if (deferred !== undefined) throw new SipParseError(deferred, msg);
  const bad = finishValidation(msg);
  if (bad !== undefined) throw new SipParseError(bad, msg);

  // ---- body
  const cl = vContentLength;
  if (cl < 0) {
    if (stream) throw new SipParseError('missing Content-Length', msg);
    if (bodyStart < len) msg.body = Buffer.from(data.subarray(bodyStart, len));
  } else if (cl > 0) {
    if (bodyStart + cl > len) {
      throw new SipParseError(stream ? 'Content-Length exceeds available bytes' : 'Content-Length exceeds datagram', msg);
    }
    msg.body = Buffer.from(data.subarray(bodyStart, bodyStart + cl));
  }
  return msg;
}

/**
 * Serializes a message; Content-Length is always written from the body's byte length, at the
 * place of the first existing Content-Length entry (others dropped) or last when there is none,
 * so parse → serialize → parse keeps the header order. Header values must not contain CR or LF.
 */
export function serializeMessage(msg: SipMessage): Buffer {
  let s =
    msg.type === 'request'
      ? msg.method + ' ' + msg.uri + ' ' + msg.version + '\r\n'
      : msg.version + ' ' + msg.status + ' ' + msg.reason + '\r\n';
  const body = msg.body;
  const entries = msg.headers.entries;
  let clWritten = false;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (e.key === 'content-length') {
      if (!clWritten) {
        s += 'Content-Length: ' + body.length + '\r\n';
        clWritten = true;
      }
    } else {
      s += e.name + ': ' + e.value + '\r\n';
    }
  }
  if (!clWritten) s += 'Content-Length: ' + body.length + '\r\n';
  s += '\r\n';
  const hl = Buffer.byteLength(s, 'utf8');
  const out = Buffer.allocUnsafe(hl + body.length);
  out.write(s, 0, hl, 'utf8');
  if (body.length > 0) body.copy(out, hl);
  return out;
}

/**
 * Finds the Content-Length in a decoded header section (any case, compact `l`, whitespace before
 * the colon, folded values). Returns -1 when absent; throws when invalid or contradictory.
 */
function streamContentLength(head: string): number {
  const n = head.length;
  let pos = head.indexOf('\n') + 1; // skip the start line
  if (pos === 0) return -1;
  let cl = -1;
  while (pos < n) {
    let e = head.indexOf('\n', pos);
    if (e < 0) e = n;
    const c = head.charCodeAt(pos);
    if (!isWs(c)) {
      const colon = head.indexOf(':', pos);
      if (colon >= 0 && colon < e) {
        let nameEnd = colon;
        while (nameEnd > pos && isWs(head.charCodeAt(nameEnd - 1))) nameEnd--;
        const nlen = nameEnd - pos;
        let isCl = false;
        if (nlen === 1) isCl = (c | 0x20) === 108; /* l */
        else if (nlen === 14) isCl = head.slice(pos, nameEnd).toLowerCase() === 'content-length';
        if (isCl) {
          // collect folded continuation lines too
          let value = head.slice(colon + 1, e);
          let next = e + 1;
          while (next < n && isWs(head.charCodeAt(next))) {
            let e2 = head.indexOf('\n', next);
            if (e2 < 0) e2 = n;
            value += ' ' + head.slice(next, e2);
            next = e2 + 1;
          }
          let a = 0;
          let b = value.length;
          while (a < b && (isWs(value.charCodeAt(a)) || value.charCodeAt(a) === 13)) a++;
          while (b > a && (isWs(value.charCodeAt(b - 1)) || value.charCodeAt(b - 1) === 13)) b--;
          const v = contentLengthValue(value.slice(a, b));
          if (v < 0) throw new SipParseError('invalid Content-Length');
          if (cl >= 0 && cl !== v) throw new SipParseError('multiple Content-Length values');
          cl = v;
        }
      }
    }
    pos = e + 1;
  }
  return cl;
}

/**
 * Stream framing: given bytes received on a stream starting at `offset`, returns the byte length of
 * the first complete message there, 0 if more bytes are needed. Leading CRLFs (keep-alives) are
 * not part of a message: see {@link skipKeepAlive}. Throws {@link SipParseError} when the bytes can
 * never become a message (no Content-Length, oversized header section).
 *
 * CR/LF bytes that still precede the message at `offset` are counted in the returned length
 * (and skipped by {@link parseMessage}), so a caller that forgets to skip them still frames right.
 */
export function frameStreamMessage(data: Buffer, offset: number): number {
  const len = data.length;
  let start = offset;
  while (start < len && (data[start] === 13 || data[start] === 10)) start++;
  if (start >= len) return 0;
  findHeaderEnd(data, start);
  const headerEnd = foundHeaderEnd;
  if (headerEnd < 0) {
    if (len - start > MAX_HEADER_BYTES) throw new SipParseError('header section too large');
    return 0;
  }
  if (headerEnd - start > MAX_HEADER_BYTES) throw new SipParseError('header section too large');
  const bodyStart = foundBodyStart;
  const cl = streamContentLength(data.toString('latin1', start, headerEnd));
  if (cl < 0) throw new SipParseError('missing Content-Length');
  const end = bodyStart + cl;
  return end > len ? 0 : end - offset;
}

/** Number of leading CR/LF bytes at `offset` (RFC 5626 keep-alive pings are CRLFCRLF). */
export function skipKeepAlive(data: Buffer, offset: number): number {
  let i = offset;
  while (i < data.length && (data[i] === 13 || data[i] === 10)) i++;
  return i - offset;
}
