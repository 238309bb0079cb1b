/**
 * Pure parsers and formatters for the structured SIP header values: URIs, name-addr, Via,
 * CSeq, generic parameters and authentication headers.
 *
 * Everything here scans character codes instead of running regular expressions: these functions
 * sit on the per-message hot path (the parser validates From, To, Via and CSeq of every message).
 * @module
 */
import { SipParseError } from './message.js';

/** Generic `;name=value` parameters in order. A flag parameter (`;lr`) has value `null`. */
export type SipParams = Record<string, string | null>;

/** A parsed SIP/SIPS/tel URI (RFC 3261 §19.1, RFC 3966). */
export interface SipUri {
  /** `sip`, `sips`, `tel` (lower case). */
  scheme: string;
  /**
   * User part, percent-escapes kept as written. For tel URIs the number; for other (opaque)
   * schemes everything after the colon.
   */
  user?: string;
  /** Password part (deprecated but legal). */
  password?: string;
  /** Host: name, IPv4, or IPv6 reference with its brackets (`[::1]`). Empty for tel and opaque URIs. */
  host: string;
  /** Port when given. */
  port?: number;
  /** URI parameters (transport, lr, maddr, user, ...). Names lower-cased. */
  params: SipParams;
  /** URI headers (`?subject=x&priority=urgent`), values as written. */
  headers: Record<string, string>;
}

/** A name-addr or addr-spec with header parameters (From, To, Contact, Route, Refer-To ...). */
export interface NameAddr {
  /** Display name without quotes (unescaped), when present. */
  displayName?: string;
  /** The URI. */
  uri: SipUri;
  /** Header parameters after the URI (tag, expires, q ...). Names lower-cased. */
  params: SipParams;
  /** True when the URI was written in angle brackets (a `*` Contact is not a NameAddr). */
  bracketed: boolean;
}

/** One Via value. */
export interface Via {
  /** Protocol name and version, `SIP/2.0`. */
  protocol: string;
  /** Transport upper-cased: UDP, TCP, TLS, SCTP, WS, WSS. */
  transport: string;
  /** Sent-by host (IPv6 with brackets). */
  host: string;
  /** Sent-by port when given. */
  port?: number;
  /** Parameters: branch, received, rport (null when empty), maddr, ttl ... */
  params: SipParams;
}

/** CSeq value. */
export interface CSeq {
  /** Sequence number 0..2^31-1. */
  seq: number;
  /** Method. */
  method: string;
}

/** A WWW-/Proxy-Authenticate or (Proxy-)Authorization value. */
export interface AuthHeader {
  /** Scheme, e.g. `Digest`. */
  scheme: string;
  /** Parameters with quotes removed, names lower-cased (realm, nonce, qop, algorithm, opaque, stale ...). */
  params: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------
// Character classes (lookup tables indexed by char code; codes >= 128 are never in them).

const TOKEN = new Uint8Array(128);
const SCHEME = new Uint8Array(128);
const HOST = new Uint8Array(128);
const HEX = new Uint8Array(128);
{
  const mark = (table: Uint8Array, chars: string): void => {
    for (let i = 0; i < chars.length; i++) table[chars.charCodeAt(i)] = 1;
  };
  const alnum = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  mark(TOKEN, alnum + "-.!%*_+`'~");
  mark(SCHEME, alnum + '+-.');
  // `_` is not legal in host names but shows up in private networks; accepting it costs nothing.
  mark(HOST, alnum + '-._');
  mark(HEX, '0123456789abcdefABCDEF');
}

/** True when `c` (a char code) is a token character of RFC 3261 §25.1. */
export function isTokenChar(c: number): boolean {
  return c < 128 && TOKEN[c] === 1;
}

/** True when the whole string is a non-empty RFC 3261 token (methods, header names, param names). */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN[c] !== 1) return false;
  }
  return true;
}

function fail(reason: string): never {
  throw new SipParseError(reason);
}

/** SP or HTAB. */
function isWs(c: number): boolean {
  return c === 32 || c === 9;
}

function skipWs(s: string, i: number, end: number = s.length): number {
  while (i < end && isWs(s.charCodeAt(i))) i++;
  return i;
}

/** First index of `ch` in s[from, end), or `end`. */
function indexIn(s: string, ch: string, from: number, end: number): number {
  const i = s.indexOf(ch, from);
  return i < 0 || i > end ? end : i;
}

function parsePort(s: string, start: number, end: number): number {
  const len = end - start;
  if (len === 0 || len > 5) fail('invalid port');
  let v = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) fail('invalid port');
    v = v * 10 + c;
  }
  if (v > 65535) fail('invalid port');
  return v;
}

/**
 * Scans a host at `start` (name, IPv4, or `[IPv6]`) and returns the index just after it.
 * Throws when nothing host-like is there.
 */
function scanHost(s: string, start: number, end: number): number {
  if (start >= end) fail('missing host');
  if (s.charCodeAt(start) === 91 /* [ */) {
    const close = s.indexOf(']', start + 1);
    if (close < 0 || close >= end) fail('unterminated IPv6 reference');
    if (close === start + 1) fail('empty IPv6 reference');
    for (let i = start + 1; i < close; i++) {
      const c = s.charCodeAt(i);
      // hex digits, ':' and '.' (IPv4-mapped tail); nothing else belongs in an IPv6 literal
      if (!(c < 128 && HEX[c] === 1) && c !== 58 && c !== 46) fail('invalid IPv6 reference');
    }
    return close + 1;
  }
  let i = start;
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c < 128 && HOST[c] === 1) i++;
    else break;
  }
  if (i === start) fail('missing host');
  return i;
}

// ---------------------------------------------------------------------------------------------
// URIs. The scanners work on a range of a larger string and fill an output object only when one
// is given: the message parser validates From/To/Contact/Request-URI without allocating.

/**
 * Scans `;name[=value]` URI parameters in s[start, end) (s[start] is `;`), storing them in
 * `params` when given. Empty segments (`;;`) are skipped: URIs in the wild carry them.
 */
function scanUriParams(s: string, start: number, end: number, params: SipParams | null): void {
  let i = start;
  while (i < end) {
    const j = indexIn(s, ';', i + 1, end);
    if (j > i + 1) {
      const eq = indexIn(s, '=', i + 1, j);
      if (eq === i + 1) fail('URI parameter without a name');
      if (params !== null) {
        const name = s.slice(i + 1, eq).toLowerCase();
        if (!(name in params)) params[name] = eq < j ? s.slice(eq + 1, j) : null;
      }
    }
    i = j;
  }
}

/** Scans `name=value&...` URI headers in s[start, end), storing them in `headers` when given. */
function scanUriHeaders(s: string, start: number, end: number, headers: Record<string, string> | null): void {
  let i = start;
  while (i < end) {
    const j = indexIn(s, '&', i, end);
    if (j > i) {
      const eq = indexIn(s, '=', i, j);
      if (eq === i) fail('URI header without a name');
      if (headers !== null) headers[s.slice(i, eq)] = eq < j ? s.slice(eq + 1, j) : '';
    }
    i = j + 1;
  }
}

/** 1 = sip, 2 = sips, 3 = tel, 0 = any other scheme; compared without allocating. */
function schemeKind(s: string, start: number, colon: number): number {
  const len = colon - start;
  if (len !== 3 && len !== 4) return 0;
  const a = s.charCodeAt(start) | 0x20;
  const b = s.charCodeAt(start + 1) | 0x20;
  const c = s.charCodeAt(start + 2) | 0x20;
  if (a === 115 && b === 105 && c === 112) {
    if (len === 3) return 1;
    return (s.charCodeAt(start + 3) | 0x20) === 115 ? 2 : 0;
  }
  return len === 3 && a === 116 && b === 101 && c === 108 ? 3 : 0;
}

/**
 * Validates the URI in s[start, end) and, when `out` is given, fills it. Returns true when the
 * URI carries `?headers`. Throws {@link SipParseError}.
 */
function scanUri(s: string, start: number, end: number, out: SipUri | null): boolean {
  const colon = s.indexOf(':', start);
  if (colon < 0 || colon >= end || colon === start) fail('URI without a scheme');
  const c0 = s.charCodeAt(start) | 0x20;
  if (c0 < 97 || c0 > 122) fail('invalid URI scheme');
  for (let i = start + 1; i < colon; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || SCHEME[c] !== 1) fail('invalid URI scheme');
  }
  for (let i = colon + 1; i < end; i++) {
    // never unescaped in a URI: controls, space, `"`, `<`, `>`, DEL
    const c = s.charCodeAt(i);
    if (c <= 32 || c === 127 || c === 34 || c === 60 || c === 62) fail('invalid character in URI');
  }
  const kind = schemeKind(s, start, colon);
  if (out !== null) out.scheme = kind === 1 ? 'sip' : kind === 2 ? 'sips' : kind === 3 ? 'tel' : s.slice(start, colon).toLowerCase();

  if (kind === 0 || kind === 3) {
    if (colon + 1 >= end) fail('empty URI');
    if (kind === 3) {
      const semi = indexIn(s, ';', colon + 1, end);
      if (semi === colon + 1) fail('tel URI without a number');
      scanUriParams(s, semi, end, out === null ? null : out.params);
      if (out !== null) out.user = s.slice(colon + 1, semi);
    } else if (out !== null) {
      out.user = s.slice(colon + 1, end);
    }
    return false;
  }

  // sip / sips (RFC 3261 §19.1.1): the first `@` ends the userinfo (user and password can hold
  // `;`, `?` and `:`, never an unescaped `@`).
  let i = colon + 1;
  const at = indexIn(s, '@', i, end);
  if (at < end) {
    const pw = indexIn(s, ':', i, at);
    if (pw === i) fail('empty user part in URI');
    if (out !== null) {
      out.user = s.slice(i, pw);
      if (pw < at) out.password = s.slice(pw + 1, at);
    }
    i = at + 1;
  }
  const hostEnd = scanHost(s, i, end);
  if (out !== null) out.host = s.slice(i, hostEnd);
  i = hostEnd;
  if (i < end && s.charCodeAt(i) === 58 /* : */) {
    let j = i + 1;
    while (j < end) {
      const c = s.charCodeAt(j);
      if (c === 59 || c === 63) break;
      j++;
    }
    const port = parsePort(s, i + 1, j);
    if (out !== null) out.port = port;
    i = j;
  }
  const q = indexIn(s, '?', i, end);
  if (i < q) {
    if (s.charCodeAt(i) !== 59 /* ; */) fail('invalid character after URI host');
    scanUriParams(s, i, q, out === null ? null : out.params);
  }
  if (q < end) {
    scanUriHeaders(s, q + 1, end, out === null ? null : out.headers);
    return true;
  }
  return false;
}

/**
 * Parses a URI. Throws {@link SipParseError}.
 *
 * `sip:`/`sips:` URIs are parsed fully (RFC 3261 §19.1.1). `tel:` URIs keep the number in
 * `user` and parse the parameters. Any other scheme (`http:`, `urn:`, `isbn:` ...) is opaque: the
 * whole text after the colon lands in `user`, `host` is empty, so it formats back unchanged.
 * The text is not trimmed: whitespace inside a URI is an error (RFC 4475 `badaspec`).
 */
export function parseUri(text: string): SipUri {
  const uri: SipUri = { scheme: '', host: '', params: {}, headers: {} };
  scanUri(text, 0, text.length, uri);
  return uri;
}

/**
 * Validates a URI exactly as {@link parseUri} does, without building it (the parser's hot path).
 * Returns true when the URI has `?headers`. Throws {@link SipParseError}.
 */
export function checkUri(text: string): boolean {
  return scanUri(text, 0, text.length, null);
}

/** Formats a URI back to text. A host containing `:` without brackets gets them (IPv6). */
export function formatUri(uri: SipUri): string {
  let out = uri.scheme + ':';
  const sipLike = uri.scheme === 'sip' || uri.scheme === 'sips';
  if (sipLike) {
    if (uri.user !== undefined) {
      out += uri.user;
      if (uri.password !== undefined) out += ':' + uri.password;
      out += '@';
    }
    const h = uri.host;
    out += h.indexOf(':') >= 0 && h.charCodeAt(0) !== 91 ? '[' + h + ']' : h;
    if (uri.port !== undefined) out += ':' + uri.port;
  } else {
    out += uri.user ?? uri.host;
  }
  for (const k in uri.params) {
    const v = uri.params[k];
    out += v === null || v === undefined ? ';' + k : ';' + k + '=' + v;
  }
  let first = true;
  for (const k in uri.headers) {
    out += (first ? '?' : '&') + k + '=' + uri.headers[k];
    first = false;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Quoted strings and header parameters

/** Index after the closing quote of the last {@link readQuoted} call (avoids a tuple per call). */
let lastEnd = 0;

/**
 * Reads a quoted-string starting at `start` (which holds `"`). Returns the unescaped content and
 * sets {@link lastEnd} to the index after the closing quote. Throws when unterminated.
 */
function readQuoted(s: string, start: number): string {
  let out = '';
  let runStart = start + 1;
  for (let i = start + 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 92 /* \ */) {
      if (i + 1 >= s.length) break;
      out += s.slice(runStart, i);
      runStart = i + 1; // the escaped char starts the next run
      i++;
    } else if (c === 34 /* " */) {
      lastEnd = i + 1;
      return out + s.slice(runStart, i);
    }
  }
  return fail('unterminated quoted string');
}

/** Index just after the quoted-string at `start`, escapes skipped. Throws when unterminated. */
function skipQuoted(s: string, start: number): number {
  for (let i = start + 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 92) i++;
    else if (c === 34) return i + 1;
  }
  return fail('unterminated quoted string');
}

/**
 * Scans header parameters `*( SEMI generic-param )` from `start` to the end of `s`, storing them
 * in `params` when given. Whitespace around `;` and `=` is tolerated (RFC 3261 SEMI and EQUAL
 * allow LWS). Values are kept as written, including the quotes of a quoted-string value, so they
 * format back unchanged.
 */
function scanHeaderParams(s: string, start: number, params: SipParams | null): void {
  const n = s.length;
  let i = skipWs(s, start, n);
  while (i < n) {
    if (s.charCodeAt(i) !== 59 /* ; */) fail('unexpected character before parameter');
    i = skipWs(s, i + 1, n);
    const nameStart = i;
    while (i < n && isTokenChar(s.charCodeAt(i))) i++;
    if (i === nameStart) fail('empty parameter');
    const nameEnd = i;
    i = skipWs(s, i, n);
    let vStart = -1;
    let vEnd = -1;
    if (i < n && s.charCodeAt(i) === 61 /* = */) {
      i = skipWs(s, i + 1, n);
      vStart = i;
      if (i < n && s.charCodeAt(i) === 34) {
        i = skipQuoted(s, i);
      } else {
        while (i < n) {
          const c = s.charCodeAt(i);
          if (c === 59 || isWs(c)) break;
          // Lenient beyond token/host characters (real stacks put `/` and `@` here), but never
          // controls or the characters that delimit addresses, lists and quoted strings.
          if (c < 32 || c === 127 || c === 34 || c === 60 || c === 62 || c === 44) fail('invalid parameter value');
          i++;
        }
        if (i === vStart) fail('empty parameter value');
      }
      vEnd = i;
      i = skipWs(s, i, n);
    }
    if (params !== null) {
      const name = s.slice(nameStart, nameEnd).toLowerCase();
      if (!(name in params)) params[name] = vStart < 0 ? null : s.slice(vStart, vEnd);
    }
  }
}

/**
 * Validates a name-addr / addr-spec with header parameters and fills `out` when given.
 * Throws {@link SipParseError}.
 */
function scanNameAddr(s: string, out: NameAddr | null): void {
  const n = s.length;
  let i = skipWs(s, 0, n);
  if (i >= n) fail('empty address');
  let c = s.charCodeAt(i);
  if (c === 34 /* " */) {
    if (out !== null) {
      out.displayName = readQuoted(s, i);
      i = lastEnd;
    } else {
      i = skipQuoted(s, i);
    }
    i = skipWs(s, i, n);
    if (i >= n || s.charCodeAt(i) !== 60) fail('display name not followed by <');
  } else if (c !== 60 /* < */) {
    // Either `token *(LWS token) <` or a bare addr-spec: look for `<` after tokens only.
    let j = i;
    while (j < n) {
      c = s.charCodeAt(j);
      if (isTokenChar(c) || isWs(c)) j++;
      else break;
    }
    if (j < n && s.charCodeAt(j) === 60) {
      if (out !== null) {
        let end = j;
        while (end > i && isWs(s.charCodeAt(end - 1))) end--;
        if (end > i) out.displayName = s.slice(i, end);
      }
      i = j;
    } else {
      // bare addr-spec (RFC 3261 §20.10): runs to the first `;` or whitespace, and what follows
      // are header parameters; a URI with `?headers` or `,` must have been bracketed
      let e = i;
      while (e < n) {
        c = s.charCodeAt(e);
        if (c === 59 || isWs(c)) break;
        if (c === 63 /* ? */ || c === 44 /* , */) fail('URI with headers or commas must be in <>');
        e++;
      }
      scanUri(s, i, e, out === null ? null : out.uri);
      scanHeaderParams(s, e, out === null ? null : out.params);
      return;
    }
  }
  // s[i] === '<'
  const gt = s.indexOf('>', i + 1);
  if (gt < 0) fail('unterminated <');
  scanUri(s, i + 1, gt, out === null ? null : out.uri);
  if (out !== null) out.bracketed = true;
  scanHeaderParams(s, gt + 1, out === null ? null : out.params);
}

/**
 * Parses a name-addr or addr-spec with header parameters. Throws {@link SipParseError}.
 *
 * Accepts `"Quoted \"Name\"" <sip:a@b>;tag=x`, `Token Name <sip:..>`, `<sip:...>;p` and a bare
 * addr-spec `sip:a@b;tag=x`: for the bare form the parameters after the URI are header
 * parameters (RFC 3261 §20.10), and a URI with `?headers` or `,` must have been bracketed.
 * Header parameter values are kept as written (a quoted value keeps its quotes).
 */
export function parseNameAddr(text: string): NameAddr {
  const na: NameAddr = { uri: { scheme: '', host: '', params: {}, headers: {} }, params: {}, bracketed: false };
  scanNameAddr(text, na);
  return na;
}

/** Validates a name-addr exactly as {@link parseNameAddr} does, without building it. */
export function checkNameAddr(text: string): void {
  scanNameAddr(text, null);
}

/** Quotes a string as an RFC 3261 quoted-string (escaping `"` and `\`). */
export function quoteString(s: string): string {
  let out = '"';
  let run = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 34 || c === 92) {
      out += s.slice(run, i) + '\\';
      run = i;
    }
  }
  return out + s.slice(run) + '"';
}

function formatParams(params: SipParams): string {
  let out = '';
  for (const k in params) {
    const v = params[k];
    out += v === null || v === undefined ? ';' + k : ';' + k + '=' + v;
  }
  return out;
}

/**
 * Formats a name-addr (always bracketed, which is never wrong and keeps URI parameters apart
 * from header parameters). The display name is written as a token sequence when it is one,
 * otherwise quoted.
 */
export function formatNameAddr(na: NameAddr): string {
  let out = '';
  const dn = na.displayName;
  if (dn !== undefined && dn.length > 0) {
    let plain = true;
    for (let i = 0; i < dn.length; i++) {
      const c = dn.charCodeAt(i);
      if (!(isTokenChar(c) || (c === 32 && i > 0 && i < dn.length - 1 && dn.charCodeAt(i - 1) !== 32))) {
        plain = false;
        break;
      }
    }
    out = (plain ? dn : quoteString(dn)) + ' ';
  }
  return out + '<' + formatUri(na.uri) + '>' + formatParams(na.params);
}

// ---------------------------------------------------------------------------------------------
// Via, CSeq

function readToken(s: string, i: number, end: number = s.length): number {
  while (i < end && isTokenChar(s.charCodeAt(i))) i++;
  return i;
}

/** Validates one Via value and fills `out` when given. Throws {@link SipParseError}. */
function scanVia(s: string, out: Via | null): void {
  const n = s.length;
  let i = skipWs(s, 0, n);
  let e = readToken(s, i, n);
  if (e === i) fail('invalid Via protocol');
  const nameStart = i;
  const nameEnd = e;
  i = skipWs(s, e, n);
  if (s.charCodeAt(i) !== 47 /* / */) fail('invalid Via protocol');
  i = skipWs(s, i + 1, n);
  e = readToken(s, i, n);
  if (e === i) fail('invalid Via protocol version');
  if (out !== null) out.protocol = s.slice(nameStart, nameEnd).toUpperCase() + '/' + s.slice(i, e);
  i = skipWs(s, e, n);
  if (s.charCodeAt(i) !== 47) fail('invalid Via transport');
  i = skipWs(s, i + 1, n);
  e = readToken(s, i, n);
  if (e === i) fail('invalid Via transport');
  if (out !== null) out.transport = s.slice(i, e).toUpperCase();
  i = e;
  const ws = skipWs(s, i, n);
  if (ws === i) fail('missing space before Via sent-by');
  i = ws;
  const hostEnd = scanHost(s, i, n);
  if (out !== null) out.host = s.slice(i, hostEnd);
  i = skipWs(s, hostEnd, n);
  if (i < n && s.charCodeAt(i) === 58 /* : */) {
    i = skipWs(s, i + 1, n);
    let j = i;
    while (j < n) {
      const c = s.charCodeAt(j);
      if (c < 48 || c > 57) break;
      j++;
    }
    const port = parsePort(s, i, j);
    if (out !== null) out.port = port;
    i = j;
  }
  scanHeaderParams(s, i, out === null ? null : out.params);
}

/**
 * Parses one Via value. Throws {@link SipParseError}.
 * Whitespace around `/`, `:`, `;` and `=` is tolerated (RFC 3261 SLASH, COLON, SEMI, EQUAL).
 */
export function parseVia(text: string): Via {
  const via: Via = { protocol: '', transport: '', host: '', params: {} };
  scanVia(text, via);
  return via;
}

/** Validates one Via value exactly as {@link parseVia} does, without building it. */
export function checkVia(text: string): void {
  scanVia(text, null);
}

/** Formats one Via value. */
export function formatVia(via: Via): string {
  const h = via.host;
  let out = via.protocol + '/' + via.transport + ' ' + (h.indexOf(':') >= 0 && h.charCodeAt(0) !== 91 ? '[' + h + ']' : h);
  if (via.port !== undefined) out += ':' + via.port;
  return out + formatParams(via.params);
}

/** Largest CSeq number (RFC 3261 §8.1.1.5: less than 2**31). */
const CSEQ_MAX = 0x7fffffff;

/** Parses a CSeq value. Throws {@link SipParseError}. */
export function parseCSeq(text: string): CSeq {
  const s = text;
  let i = skipWs(s, 0);
  const start = i;
  let seq = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    seq = seq * 10 + c;
    if (seq > CSEQ_MAX) fail('CSeq number too large');
    i++;
  }
  if (i === start) fail('invalid CSeq number');
  const ws = skipWs(s, i);
  if (ws === i) fail('invalid CSeq');
  const e = readToken(s, ws);
  if (e === ws) fail('invalid CSeq method');
  if (skipWs(s, e) !== s.length) fail('invalid CSeq');
  return { seq, method: s.slice(ws, e) };
}

// ---------------------------------------------------------------------------------------------
// Authentication headers

/**
 * Parses an authentication header value (`scheme auth-param *(COMMA auth-param)`, RFC 3261 §25.1,
 * RFC 2617). Throws {@link SipParseError}. Quoted values are unquoted and unescaped; names are
 * lower-cased. A scheme with no parameters gives `params` `{}`.
 */
export function parseAuthHeader(text: string): AuthHeader {
  const s = text;
  const n = s.length;
  let i = skipWs(s, 0);
  let e = readToken(s, i);
  if (e === i) fail('missing authentication scheme');
  const scheme = s.slice(i, e);
  const params: Record<string, string> = {};
  i = skipWs(s, e);
  if (i < n && e === i) fail('invalid authentication scheme');
  while (i < n) {
    e = readToken(s, i);
    if (e === i) fail('invalid authentication parameter');
    const name = s.slice(i, e).toLowerCase();
    i = skipWs(s, e);
    if (s.charCodeAt(i) !== 61 /* = */) fail('authentication parameter without value');
    i = skipWs(s, i + 1);
    let value: string;
    if (s.charCodeAt(i) === 34) {
      value = readQuoted(s, i);
      i = lastEnd;
    } else {
      const vs = i;
      while (i < n) {
        const c = s.charCodeAt(i);
        if (c === 44 || isWs(c)) break;
        i++;
      }
      if (i === vs) fail('empty authentication parameter');
      value = s.slice(vs, i);
    }
    if (!(name in params)) params[name] = value;
    i = skipWs(s, i);
    if (i < n) {
      if (s.charCodeAt(i) !== 44 /* , */) fail('expected , between authentication parameters');
      i = skipWs(s, i + 1);
      if (i >= n) fail('trailing , in authentication header');
    }
  }
  return { scheme, params };
}

/**
 * Parameters written without quotes in a challenge (WWW-/Proxy-Authenticate): RFC 2617 §3.2.1
 * has `algorithm` and `stale` as tokens (RFC 7616 adds `userhash`), while `qop` (the qop-options
 * list) is quoted.
 */
export const AUTH_UNQUOTED_CHALLENGE: ReadonlySet<string> = new Set(['algorithm', 'stale', 'userhash']);

/**
 * Parameters written without quotes in credentials ((Proxy-)Authorization): RFC 2617 §3.2.2 has
 * `algorithm`, `qop` (a single token here) and `nc` unquoted (RFC 7616 adds `userhash`).
 */
export const AUTH_UNQUOTED_CREDENTIALS: ReadonlySet<string> = new Set(['algorithm', 'qop', 'nc', 'userhash']);

/**
 * Formats an authentication header value: `Scheme k="v", k2=v2`. Every parameter is quoted
 * except those named in `unquoted`.
 *
 * Without `unquoted` the choice follows what the value is: when it carries a `response`
 * parameter it is credentials and {@link AUTH_UNQUOTED_CREDENTIALS} applies (qop unquoted),
 * otherwise it is a challenge and {@link AUTH_UNQUOTED_CHALLENGE} applies (qop quoted). Pass one
 * of those sets, or your own, to force a style.
 */
export function formatAuthHeader(h: AuthHeader, unquoted?: ReadonlySet<string>): string {
  const set = unquoted ?? ('response' in h.params ? AUTH_UNQUOTED_CREDENTIALS : AUTH_UNQUOTED_CHALLENGE);
  let out = h.scheme;
  let first = true;
  for (const k in h.params) {
    const v = h.params[k]!;
    out += (first ? ' ' : ', ') + k + '=' + (set.has(k) ? v : quoteString(v));
    first = false;
  }
  return out;
}
