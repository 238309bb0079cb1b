/**
 * Property tests of the parser: generated valid messages (random spellings, whitespace, folding,
 * binary bodies) must parse and round-trip; mutated and random inputs may be rejected, but only
 * ever with SipParseError. 100 000 cases in all.
 */
import test from 'ava';
import fc from 'fast-check';
import { SipParseError, type SipMessage } from '../sip/message.js';
import { frameStreamMessage, parseMessage, serializeMessage } from '../sip/parser.js';

const VALID_RUNS = 20_000;
const MUTATED_RUNS = 70_000;
const RANDOM_RUNS = 10_000;
/** Valid messages the mutation test starts from (generating a message costs far more than mutating one). */
const POOL_SIZE = 4_000;

// ---- building blocks

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const tokenChar = fc.constantFrom(...(ALNUM + "-.!%*_+`'~").split(''));
const token = fc.string({ unit: tokenChar, minLength: 1, maxLength: 10 });
const alnumStr = fc.string({ unit: fc.constantFrom(...ALNUM.split('')), minLength: 1, maxLength: 10 });
const userChar = fc.constantFrom(...(ALNUM + "-_.!~*'()&=+$").split(''));
const user = fc.string({ unit: userChar, minLength: 1, maxLength: 12 });
// hosts are built from small parts: fc.domain()/fc.ipV6() are far slower to generate
const label = fc.string({ unit: fc.constantFrom(...(ALNUM + '-').split('')), minLength: 1, maxLength: 8 }).map((l) => `a${l}z`);
const byte = fc.integer({ min: 0, max: 255 });
const hex16 = fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16));
const host = fc.oneof(
  fc.tuple(label, label).map(([a, b]) => `${a}.${b}`),
  fc.tuple(byte, byte, byte, byte).map((b) => b.join('.')),
  fc.array(hex16, { minLength: 8, maxLength: 8 }).map((h) => `[${h.join(':')}]`),
  fc.tuple(hex16, hex16).map(([a, b]) => `[${a}::${b}]`),
  fc.tuple(hex16, byte, byte).map(([a, b, c]) => `[::${a}:${b}.${c}.0.1]`),
);
const port = fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined });
/** True when `s` has no lone surrogate (it survives UTF-8 encoding unchanged). */
const wellFormed = (s: string): boolean => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
/** Text without CR/LF, well-formed UTF-16 (any code point otherwise, controls included). */
const lineText = (maxLength: number) =>
  fc.string({ unit: 'binary', maxLength }).map((s) => s.replace(/[\r\n]/g, '')).filter(wellFormed);
/** Text a start line may carry: no controls (RFC 3261 Reason-Phrase). */
const phrase = fc.string({ unit: 'binary', maxLength: 20 }).map((s) => [...s].filter((c) => c.charCodeAt(0) >= 0x20 && c.charCodeAt(0) !== 0x7f).join('')).filter(wellFormed);

const uriParams = fc.array(fc.tuple(alnumStr, fc.option(token, { nil: undefined })), { maxLength: 3 }).map((ps) =>
  ps.map(([k, v]) => (v === undefined ? `;${k}` : `;${k}=${v}`)).join(''),
);
const sipUri = fc
  .record({ scheme: fc.constantFrom('sip', 'sips', 'SIP'), user: fc.option(user, { nil: undefined }), host, port, params: uriParams })
  .map((u) => `${u.scheme}:${u.user === undefined ? '' : u.user + '@'}${u.host}${u.port === undefined ? '' : ':' + u.port}${u.params}`);

const quoted = lineText(16).map((s) => '"' + s.replace(/["\\]/g, (c) => '\\' + c) + '"');
const tokenWords = fc.array(token, { minLength: 1, maxLength: 3 }).map((w) => w.join(' '));
const headerParams = fc
  .array(fc.tuple(token, fc.option(fc.oneof(token, quoted), { nil: undefined })), { maxLength: 3 })
  .map((ps) => ps.map(([k, v]) => (v === undefined ? `;${k}` : `;${k}=${v}`)).join(''));

/** A name-addr: quoted/token/no display name and bracketed URI, or a bare addr-spec. */
const nameAddr = fc.oneof(
  fc.tuple(fc.option(fc.oneof(quoted, tokenWords), { nil: undefined }), sipUri, headerParams, fc.constantFrom('', ' ', '  ')).map(
    ([dn, uri, params, sp]) => `${dn === undefined ? '' : dn + sp}<${uri}>${params}`,
  ),
  fc.tuple(user, host, headerParams).map(([u, h, params]) => `sip:${u}@${h}${params}`),
);

const via = fc
  .record({
    proto: fc.constantFrom('SIP/2.0', 'sip/2.0', 'SIP / 2.0'),
    transport: fc.constantFrom('UDP', 'TCP', 'TLS', 'WS', 'wss', 'SCTP'),
    host,
    port,
    branch: token,
    rport: fc.boolean(),
  })
  .map((v) => `${v.proto}/${v.transport} ${v.host}${v.port === undefined ? '' : ':' + v.port};branch=z9hG4bK${v.branch}${v.rport ? ';rport' : ''}`);

const methods = fc.oneof(fc.constantFrom('INVITE', 'ACK', 'BYE', 'CANCEL', 'REGISTER', 'OPTIONS', 'MESSAGE', 'NOTIFY', 'REFER', 'SUBSCRIBE'), token);

/** Writes a header name in one of its spellings, with optional whitespace before the colon. */
function spelling(canonical: string, compact: string | undefined, mode: number, ws: string): string {
  const name = mode === 1 ? canonical.toLowerCase() : mode === 2 ? canonical.toUpperCase() : mode === 3 && compact ? compact : canonical;
  return name + ws + ':';
}

/** A header's spelling and spacing, packed in one small integer (cheap to generate). */
const headerStyle = fc.nat({ max: 0x3ff }).map((n) => ({
  mode: n & 3,
  before: ['', '', ' ', '\t'][(n >> 2) & 3]!,
  after: [' ', ' ', '', '   ', '\t', ' ', ' ', ' '][(n >> 4) & 7]!,
  fold: ((n >> 7) & 7) === 0,
}));

type Style = { mode: number; before: string; after: string; fold: boolean };

function line(canonical: string, compact: string | undefined, value: string, st: Style): string {
  let v = value;
  // fold at the first single space (joined back as one space by the parser)
  if (st.fold) {
    const i = v.indexOf(' ');
    if (i > 0 && v[i + 1] !== ' ' && v[i - 1] !== ' ') v = v.slice(0, i) + '\r\n ' + v.slice(i + 1);
  }
  return spelling(canonical, compact, st.mode, st.before) + st.after + v + '\r\n';
}

interface Generated {
  bytes: Buffer;
  stream: boolean;
  callId: string;
  body: Buffer;
}

const message: fc.Arbitrary<Generated> = fc
  .record({
    request: fc.boolean(),
    method: methods,
    ruri: sipUri,
    status: fc.integer({ min: 100, max: 699 }),
    reason: phrase,
    vias: fc.array(via, { minLength: 1, maxLength: 3 }),
    viaJoined: fc.boolean(),
    from: nameAddr,
    to: nameAddr,
    callId: fc.tuple(token, fc.option(host, { nil: undefined })).map(([a, h]) => (h === undefined ? a : `${a}@${h}`)),
    cseq: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    maxForwards: fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }),
    contacts: fc.array(nameAddr, { maxLength: 2 }),
    supported: fc.array(token, { maxLength: 4 }),
    extra: fc.array(fc.tuple(token, lineText(30)), { maxLength: 4 }),
    body: fc.uint8Array({ maxLength: 200 }),
    stream: fc.boolean(),
    omitCl: fc.boolean(),
    leadingCrlf: fc.boolean(),
    styles: fc.array(headerStyle, { minLength: 16, maxLength: 16 }),
    order: fc.integer({ min: 0, max: 1000 }),
  })
  .map((g) => {
    const st = (i: number): Style => g.styles[i % g.styles.length]!;
    const lines: string[] = [];
    if (g.viaJoined) lines.push(line('Via', 'v', g.vias.join(', '), st(0)));
    else g.vias.forEach((v, i) => lines.push(line('Via', 'v', v, st(i))));
    const rest: string[] = [
      line('From', 'f', g.from, st(3)),
      line('To', 't', g.to, st(4)),
      line('Call-ID', 'i', g.callId, st(5)),
      line('CSeq', undefined, `${g.cseq} ${g.request ? g.method : 'INVITE'}`, st(6)),
    ];
    if (g.maxForwards !== undefined) rest.push(line('Max-Forwards', undefined, String(g.maxForwards), st(7)));
    g.contacts.forEach((c, i) => rest.push(line('Contact', 'm', c, st(8 + i))));
    if (g.supported.length > 0) rest.push(line('Supported', 'k', g.supported.join(', '), st(10)));
    g.extra.forEach(([n, v]) => rest.push(`X-${n}:${v}\r\n`));
    const omitCl = g.omitCl && !g.stream;
    if (!omitCl) rest.push(line('Content-Length', 'l', String(g.body.length), st(11)));
    // a deterministic shuffle of the non-Via headers (order must not matter to validity)
    for (let i = rest.length - 1; i > 0; i--) {
      const j = (g.order * (i + 7)) % (i + 1);
      [rest[i], rest[j]] = [rest[j]!, rest[i]!];
    }
    const startLine = g.request ? `${g.method} ${g.ruri} SIP/2.0\r\n` : `SIP/2.0 ${g.status} ${g.reason}\r\n`;
    const head = (g.leadingCrlf ? '\r\n' : '') + startLine + lines.join('') + rest.join('') + '\r\n';
    const body = Buffer.from(g.body);
    return { bytes: Buffer.concat([Buffer.from(head, 'utf8'), body]), stream: g.stream, callId: g.callId, body };
  });

/** What must survive serialize → parse. */
function shape(m: SipMessage): string {
  return JSON.stringify({
    start: m.type === 'request' ? [m.method, m.uri, m.version] : [m.status, m.reason, m.version],
    headers: m.headers.entries.filter((e) => e.key !== 'content-length').map((e) => [e.name, e.key, e.value]),
    body: m.body.toString('hex'),
  });
}

/** Runs `fn`; anything thrown other than SipParseError fails the property. Returns the result or undefined. */
function onlyParseErrors<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (err instanceof SipParseError) {
      if (typeof err.reason !== 'string' || err.reason.length === 0) throw new Error('SipParseError without a reason', { cause: err });
      return undefined;
    }
    throw err;
  }
}

/** Whatever parses must survive serialize → parse (as a stream message) unchanged, and frame whole. */
function checkRoundTrip(m: SipMessage): void {
  const out = serializeMessage(m);
  const again = parseMessage(out, { stream: true });
  if (shape(again) !== shape(m)) throw new Error(`round trip changed the message:\n${shape(m)}\n${shape(again)}`);
  if (!serializeMessage(again).equals(out)) throw new Error('serialization is not a fixed point');
  if (frameStreamMessage(out, 0) !== out.length) throw new Error('framing disagrees with serialization');
}

test('generated valid messages parse and round-trip', (t) => {
  fc.assert(
    fc.property(message, (g) => {
      const m = parseMessage(g.bytes, { stream: g.stream });
      if (m.headers.get('Call-ID') !== g.callId) throw new Error('Call-ID lost');
      if (!m.body.equals(g.body)) throw new Error('body changed');
      checkRoundTrip(m);
      if (g.stream) {
        // framing the generated bytes finds exactly this message, even with more bytes after it
        const n = frameStreamMessage(Buffer.concat([g.bytes, g.bytes]), 0);
        if (n !== g.bytes.length) throw new Error(`framed ${n} of ${g.bytes.length}`);
      }
    }),
    { numRuns: VALID_RUNS },
  );
  t.pass();
});

// ---- mutations

const mutation = fc.record({
  kind: fc.integer({ min: 0, max: 8 }),
  at: fc.nat(),
  len: fc.integer({ min: 0, max: 40 }),
  bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }),
  text: fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }),
  cl: fc.oneof(
    fc.integer({ min: -1000, max: 100_000 }).map(String),
    fc.constantFrom('', '-1', '1e3', '0x10', '99999999999', ' 5', '5 5', '00000000000000000007', '+3', '3.0'),
  ),
});
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(buf: Buffer, m: Mutation): Buffer {
  const n = buf.length;
  const at = n === 0 ? 0 : m.at % (n + 1);
  switch (m.kind) {
    case 0: // delete a range
      return Buffer.concat([buf.subarray(0, at), buf.subarray(Math.min(n, at + Math.max(1, m.len)))]);
    case 1: // insert random bytes
      return Buffer.concat([buf.subarray(0, at), Buffer.from(m.bytes), buf.subarray(at)]);
    case 2: {
      // flip bits of one byte
      const b = Buffer.from(buf);
      if (n > 0) b[at % n] = b[at % n]! ^ (m.bytes[0]! || 0x20);
      return b;
    }
    case 3: // truncate
      return buf.subarray(0, at);
    case 4: {
      // duplicate the line that starts after `at`
      const s = buf.indexOf(10, at);
      if (s < 0) return buf;
      const e = buf.indexOf(10, s + 1);
      if (e < 0) return buf;
      return Buffer.concat([buf.subarray(0, e + 1), buf.subarray(s + 1, e + 1), buf.subarray(e + 1)]);
    }
    case 5: {
      // random Content-Length value (long or compact form)
      const s = buf.toString('latin1');
      const r = s.replace(/(\r\n(?:Content-Length|content-length|CONTENT-LENGTH|l)[ \t]*:[ \t]*)[^\r\n]*/, `$1${m.cl}`);
      return Buffer.from(r === s ? s.replace('\r\n', `\r\nContent-Length: ${m.cl}\r\n`) : r, 'latin1');
    }
    case 6: // random unicode text
      return Buffer.concat([buf.subarray(0, at), Buffer.from(m.text, 'utf8'), buf.subarray(at)]);
    case 7: {
      // insert a line break (CRLF, bare LF, bare CR or a fold)
      const brk = ['\r\n', '\n', '\r', '\r\n ', '\r\n\r\n'][m.len % 5]!;
      return Buffer.concat([buf.subarray(0, at), Buffer.from(brk), buf.subarray(at)]);
    }
    default: {
      // insert a separator that matters to the grammar
      const sep = [',', ';', ':', '"', '<', '>', '\\', '@', '?', '=', ' ', '\t', '%', '[', ']', '/'][m.len % 16]!;
      return Buffer.concat([buf.subarray(0, at), Buffer.from(sep), buf.subarray(at)]);
    }
  }
}

function exercise(buf: Buffer, stream: boolean, offsetSeed: number): void {
  const m = onlyParseErrors(() => parseMessage(buf, { stream }));
  if (m !== undefined) checkRoundTrip(m);
  const offset = buf.length === 0 ? 0 : offsetSeed % (buf.length + 1);
  for (const off of [0, offset]) {
    const n = onlyParseErrors(() => frameStreamMessage(buf, off));
    if (n !== undefined && (n < 0 || n > buf.length - off || !Number.isInteger(n))) throw new Error(`bad frame length ${n}`);
    if (n !== undefined && n > 0) onlyParseErrors(() => parseMessage(buf.subarray(off, off + n), { stream: true }));
  }
}

test('mutated messages throw nothing but SipParseError', (t) => {
  const pool = fc.sample(message, { numRuns: POOL_SIZE, seed: 4475 });
  fc.assert(
    fc.property(fc.nat({ max: POOL_SIZE - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.nat(), (k, muts, seed) => {
      const g = pool[k]!;
      let buf = g.bytes;
      for (const mu of muts) buf = mutate(buf, mu);
      exercise(buf, g.stream, seed);
    }),
    { numRuns: MUTATED_RUNS },
  );
  t.pass();
});

test('random bytes and text throw nothing but SipParseError', (t) => {
  const junk = fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    fc.string({ unit: 'binary', maxLength: 200 }).map((s) => Buffer.from(s, 'utf8')),
    // random text behind a plausible start line, so the header code gets exercised too
    fc
      .tuple(fc.constantFrom('INVITE sip:a@b SIP/2.0\r\n', 'SIP/2.0 200 OK\r\n', 'X sip:a@b SIP/2.0\n'), fc.string({ unit: 'binary', maxLength: 200 }))
      .map(([a, b]) => Buffer.from(a + b, 'utf8')),
  );
  fc.assert(
    fc.property(junk, fc.boolean(), fc.nat(), (buf, stream, seed) => exercise(buf, stream, seed)),
    { numRuns: RANDOM_RUNS },
  );
  t.pass();
});
