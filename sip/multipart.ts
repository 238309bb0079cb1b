/**
 * Message bodies of sessions: MIME multipart bodies (RFC 2046 §5.1, as SIP uses them per RFC
 * 5621) and the one question the INVITE session asks of a body — which part, if any, is the
 * session description? Carriers and SBCs send `multipart/mixed` INVITEs (SDP plus ISUP, a
 * location object, or plain text) and `multipart/alternative` ones; a UA negotiates from the
 * `application/sdp` part and ignores the rest, unless a part it cannot handle says
 * `handling=required` (RFC 3261 §20.11), which is a 415.
 *
 * Everything here is pure and total: garbage gives `undefined` or a `malformed` verdict, never
 * a throw (the property tests feed it random bytes).
 * @module
 */

/** A media type with its parameters: `type/subtype` lower-cased, parameter names lower-cased. */
export interface MediaType {
  /** `type/subtype`, lower case, e.g. `multipart/mixed`. */
  type: string;
  /** Parameters by lower-case name, values unquoted (the boundary keeps its case). */
  params: Readonly<Record<string, string>>;
}

/** A Content-Disposition value (RFC 3261 §20.11): the disposition type and its handling. */
export interface ContentDisposition {
  /** Disposition type, lower case (`session`, `render`, `icon`, `alert`, ...). */
  type: string;
  /** The `handling` parameter, lower case; undefined when absent. */
  handling?: string;
}

/** One part of a multipart body. */
export interface BodyPart {
  /** The part's MIME headers by lower-case name (the first of each). */
  headers: ReadonlyMap<string, string>;
  /** Its Content-Type; RFC 2046 §5.1 makes a part without one `text/plain`. */
  contentType: MediaType;
  /** Its Content-Disposition, when it has one. */
  disposition?: ContentDisposition;
  /** The part's content, bytes as received. */
  body: Buffer;
}

/** Where the session description of a request's body is, if anywhere. */
export type SessionBody =
  /** No body at all (a late offer). */
  | { kind: 'none' }
  /** The SDP to negotiate from (the whole body, or the chosen part of a multipart one). */
  | { kind: 'sdp'; sdp: string }
  /** A body we cannot take: answer 415 with Accept; `detail` says why. */
  | { kind: 'unsupported'; detail: string }
  /** A multipart body that cannot be read (no boundary, no parts): answer 400. */
  | { kind: 'malformed'; detail: string };

/** Body types an INVITE session accepts (the Accept of its 415). */
export const SESSION_BODY_TYPES: readonly string[] = ['application/sdp', 'multipart/mixed', 'multipart/alternative'];

const MAX_PARTS = 32;
const MAX_DEPTH = 3;
const TOKEN_RE = /^[A-Za-z0-9!#$%&'*+\-.^_`{|}~]+$/;

/** Splits `a; b="x;y"; c` at semicolons outside double quotes. */
function splitOutsideQuotes(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (quoted && c === '\\' && i + 1 < value.length) {
      cur += c + value[i + 1]!;
      i++;
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ';' && !quoted) {
      out.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  out.push(cur);
  return out;
}

function unquote(v: string): string {
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) return v.slice(1, -1).replace(/\\(.)/g, '$1');
  return v;
}

function parseParams(items: readonly string[]): Record<string, string> {
  const params: Record<string, string> = {};
  for (const raw of items) {
    const eq = raw.indexOf('=');
    const name = (eq < 0 ? raw : raw.slice(0, eq)).trim().toLowerCase();
    if (!name || name in params) continue;
    params[name] = eq < 0 ? '' : unquote(raw.slice(eq + 1).trim());
  }
  return params;
}

/**
 * Reads a Content-Type value (`type/subtype;param=value`); undefined when it is not one.
 * @param value the header value
 */
export function parseMediaType(value: string | undefined): MediaType | undefined {
  if (value === undefined) return undefined;
  const [head, ...rest] = splitOutsideQuotes(value);
  const type = (head ?? '').trim().toLowerCase();
  const slash = type.indexOf('/');
  if (slash <= 0 || !TOKEN_RE.test(type.slice(0, slash)) || !TOKEN_RE.test(type.slice(slash + 1))) return undefined;
  return { type, params: parseParams(rest) };
}

/**
 * Reads a Content-Disposition value; undefined when it has no disposition type.
 * @param value the header value
 */
export function parseContentDisposition(value: string | undefined): ContentDisposition | undefined {
  if (value === undefined) return undefined;
  const [head, ...rest] = splitOutsideQuotes(value);
  const type = (head ?? '').trim().toLowerCase();
  if (!TOKEN_RE.test(type)) return undefined;
  const handling = parseParams(rest).handling;
  return handling === undefined ? { type } : { type, handling: handling.toLowerCase() };
}

/** The end of the line starting at or after `from` (index after its LF), or -1. */
function lineEnd(text: string, from: number): number {
  const lf = text.indexOf('\n', from);
  return lf < 0 ? -1 : lf + 1;
}

/** Index of the next delimiter line `--boundary` at a line start at or after `from`, or -1. */
function findDelimiter(text: string, delimiter: string, from: number): number {
  let at = from;
  for (;;) {
    const i = text.indexOf(delimiter, at);
    if (i < 0) return -1;
    if (i === 0 || text[i - 1] === '\n') return i;
    at = i + 1;
  }
}

/** Reads a part's header block and content (RFC 2046 §5.1.1; bare LF line ends tolerated). */
function parsePart(raw: string): BodyPart {
  const headers = new Map<string, string>();
  let pos = 0;
  let lastName: string | undefined;
  for (;;) {
    const end = lineEnd(raw, pos);
    const line = (end < 0 ? raw.slice(pos) : raw.slice(pos, end)).replace(/\r?\n$/, '');
    if (line === '' || end < 0) {
      // a blank line ends the headers; a part with no blank line at all is all headers
      pos = end < 0 ? raw.length : end;
      if (line !== '' && end < 0) addHeader(line);
      break;
    }
    addHeader(line);
    pos = end;
  }
  const contentType = parseMediaType(headers.get('content-type')) ?? { type: 'text/plain', params: {} };
  const disposition = parseContentDisposition(headers.get('content-disposition'));
  return { headers, contentType, ...(disposition ? { disposition } : {}), body: Buffer.from(raw.slice(pos), 'latin1') };

  function addHeader(line: string): void {
    if ((line.startsWith(' ') || line.startsWith('\t')) && lastName !== undefined) {
      // folded continuation of the previous header
      headers.set(lastName, `${headers.get(lastName) ?? ''} ${line.trim()}`);
      return;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) return;
    const name = line.slice(0, colon).trim().toLowerCase();
    lastName = name;
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
}

/**
 * Splits a multipart body into its parts (RFC 2046 §5.1.1): the boundary comes from the
 * Content-Type, the preamble and epilogue are dropped, each part's headers are read. A missing
 * close delimiter is tolerated (the last part runs to the end). Undefined when the type is not
 * multipart, has no usable boundary, or no part is found.
 * @param contentType the Content-Type of the whole body
 * @param body the body's bytes
 */
export function parseMultipart(contentType: string | MediaType | undefined, body: Buffer): BodyPart[] | undefined {
  const type = typeof contentType === 'string' || contentType === undefined ? parseMediaType(contentType) : contentType;
  if (!type?.type.startsWith('multipart/')) return undefined;
  const boundary = type.params.boundary;
  // RFC 2046 §5.1.1: 1 to 70 characters, not ending in a space
  if (!boundary || boundary.length > 70 || boundary.endsWith(' ')) return undefined;
  const text = body.toString('latin1');
  const delimiter = `--${boundary}`;
  let at = findDelimiter(text, delimiter, 0);
  const parts: BodyPart[] = [];
  while (at >= 0 && parts.length < MAX_PARTS) {
    const after = at + delimiter.length;
    if (text.startsWith('--', after)) break; // close delimiter
    const start = lineEnd(text, after);
    if (start < 0) break;
    const next = findDelimiter(text, delimiter, start);
    // the CRLF before a delimiter belongs to the delimiter
    const raw = (next < 0 ? text.slice(start) : text.slice(start, next)).replace(/\r?\n$/, '');
    parts.push(parsePart(raw));
    at = next;
  }
  return parts.length ? parts : undefined;
}

/**
 * Finds the session description in a request's body: the whole body when it is
 * `application/sdp` (or untyped), else the `application/sdp` part of a `multipart/mixed` or
 * `multipart/alternative` body (nested ones too), whose disposition is `session` or absent.
 * Other parts are ignored unless they say `handling=required` (in a mixed body; in an
 * alternative one, one understood alternative is enough), which makes the body unsupported.
 * @param contentType the request's Content-Type
 * @param body the request's body
 */
export function sessionBodyOf(contentType: string | undefined, body: Buffer): SessionBody {
  if (!body.length) return { kind: 'none' };
  if (contentType === undefined) return { kind: 'sdp', sdp: body.toString('latin1') };
  const type = parseMediaType(contentType);
  if (!type) return { kind: 'unsupported', detail: `unreadable Content-Type ${contentType.slice(0, 60)}` };
  return fromTyped(type, body, 0);
}

function fromTyped(type: MediaType, body: Buffer, depth: number): SessionBody {
  if (type.type === 'application/sdp') return { kind: 'sdp', sdp: body.toString('latin1') };
  if (type.type !== 'multipart/mixed' && type.type !== 'multipart/alternative') {
    return { kind: 'unsupported', detail: `body type ${type.type} not supported` };
  }
  if (depth >= MAX_DEPTH) return { kind: 'unsupported', detail: 'multipart bodies nested too deep' };
  const parts = parseMultipart(type, body);
  if (!parts) return { kind: 'malformed', detail: `unreadable ${type.type} body` };
  const alternative = type.type === 'multipart/alternative';
  let found: SessionBody | undefined;
  let required: string | undefined;
  // RFC 2046 §5.1.4: alternatives come in increasing order of preference, so the last usable one wins
  const order = alternative ? [...parts].reverse() : parts;
  for (const part of order) {
    const t = part.contentType.type;
    const forSession = !part.disposition || part.disposition.type === 'session';
    let usable: SessionBody | undefined;
    if (forSession && (t === 'application/sdp' || t === 'multipart/mixed' || t === 'multipart/alternative')) {
      const inner = fromTyped(part.contentType, part.body, depth + 1);
      if (inner.kind === 'sdp') usable = inner;
      else if (inner.kind !== 'none' && !alternative) return inner;
    }
    if (usable && !found) found = usable;
    else if (!usable && part.disposition?.handling === 'required' && required === undefined) required = t;
  }
  if (!found) return { kind: 'unsupported', detail: `no application/sdp part in ${type.type} body` };
  if (required !== undefined && !alternative) return { kind: 'unsupported', detail: `required body part ${required} not supported` };
  return found;
}
