/**
 * A corpus of ordinary SIP messages (test/fixtures/sip/*.txt, stored with LF line ends and sent
 * as CRLF): parse → serialize → parse must give the same structure, and stream framing must find
 * message boundaries however the bytes are chunked.
 */
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SipParseError, type SipMessage } from '../sip/message.js';
import { frameStreamMessage, parseMessage, serializeMessage, skipKeepAlive } from '../sip/parser.js';
import { parseAuthHeader, parseCSeq, parseNameAddr, parseVia } from '../sip/grammar.js';

// dist/test/x.js → <repo>/test/fixtures/sip
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures', 'sip');

function load(name: string): Buffer {
  return Buffer.from(readFileSync(join(FIXTURES, name), 'utf8').replace(/\r?\n/g, '\r\n'), 'utf8');
}

const names = readdirSync(FIXTURES).filter((f) => f.endsWith('.txt')).sort();

/** Structure compared across a round trip: start line, header entries (minus Content-Length), body. */
function shape(m: SipMessage): unknown {
  return {
    start: m.type === 'request' ? [m.method, m.uri, m.version] : [m.status, m.reason, m.version],
    headers: m.headers.entries.filter((e) => e.key !== 'content-length').map((e) => [e.name, e.key, e.value]),
    body: m.body.toString('hex'),
  };
}

test('the corpus is all there', (t) => {
  t.deepEqual(names, [
    'compact.txt', 'folded.txt', 'invite-sdp.txt', 'message.txt', 'notify-sipfrag.txt', 'ok-sdp-record-route.txt',
    'options.txt', 'refer-replaces.txt', 'register-401.txt', 'register-auth.txt', 'register.txt', 'subscribe-presence.txt',
  ]);
});

for (const name of names) {
  test(`round trip: ${name}`, (t) => {
    const wire = load(name);
    const a = parseMessage(wire);
    const b = parseMessage(wire, { stream: true });
    t.deepEqual(shape(b), shape(a));
    const out = serializeMessage(a);
    const c = parseMessage(out, { stream: true });
    t.deepEqual(shape(c), shape(a));
    // serialization is a fixed point after one round
    t.true(serializeMessage(c).equals(out));
    t.is(c.headers.get('Content-Length'), String(a.body.length));
    t.is(frameStreamMessage(out, 0), out.length);
    t.is(frameStreamMessage(wire, 0), wire.length);
  });
}

test('REGISTER: Contact with quoted +sip.instance, split Allow and Supported', (t) => {
  const m = parseMessage(load('register.txt'));
  const c = parseNameAddr(m.headers.get('Contact')!);
  t.is(c.params['+sip.instance'], '"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"');
  t.is(c.params.expires, '3600');
  t.is(m.headers.getAll('Allow').length, 10);
  t.deepEqual(m.headers.getAll('Supported'), ['path', 'gruu', 'outbound']);
});

test('401: WWW-Authenticate stays one value and parses', (t) => {
  const m = parseMessage(load('register-401.txt'));
  t.is(m.type, 'response');
  t.is(m.headers.getAll('WWW-Authenticate').length, 1);
  const ch = parseAuthHeader(m.headers.get('WWW-Authenticate')!);
  t.is(ch.params.qop, 'auth,auth-int');
  t.is(ch.params.opaque, '');
  t.is(ch.params.stale, 'FALSE');
  const via = parseVia(m.headers.get('Via')!);
  t.is(via.params.rport, '5060');
  t.is(via.params.received, '192.0.2.101');
});

test('REGISTER with Authorization', (t) => {
  const m = parseMessage(load('register-auth.txt'));
  const a = parseAuthHeader(m.headers.get('Authorization')!);
  t.is(a.params.username, 'bob');
  t.is(a.params.qop, 'auth');
  t.is(a.params.nc, '00000001');
  t.is(a.params.uri, 'sip:registrar.biloxi.example.com');
});

test('INVITE with SDP: escaped display name, body intact', (t) => {
  const m = parseMessage(load('invite-sdp.txt'));
  t.is(parseNameAddr(m.headers.get('From')!).displayName, 'Alice "The Caller" Liddell');
  t.true(m.body.toString().startsWith('v=0\r\no=alice'));
  t.is(m.body.length, Number(parseMessage(load('invite-sdp.txt')).body.length));
  t.deepEqual(parseCSeq(m.headers.get('CSeq')!), { seq: 314159, method: 'INVITE' });
});

test('200 OK: Record-Route list split in order, IPv6 route', (t) => {
  const m = parseMessage(load('ok-sdp-record-route.txt'));
  const rr = m.headers.getAll('Record-Route').map((v) => parseNameAddr(v).uri.host);
  t.deepEqual(rr, ['server10.biloxi.example.com', 'bigbox3.site3.atlanta.example.com', '[2001:db8::10]']);
  t.is(m.headers.getAll('Via').length, 3);
});

test('NOTIFY with sipfrag body and Subscription-State', (t) => {
  const m = parseMessage(load('notify-sipfrag.txt'));
  t.is(m.headers.get('Subscription-State'), 'terminated;reason=noresource');
  t.is(m.headers.get('Event'), 'refer;id=93809824');
  t.is(m.body.toString(), 'SIP/2.0 200 OK\r\n');
});

test('REFER: Refer-To with an escaped Replaces header', (t) => {
  const m = parseMessage(load('refer-replaces.txt'));
  const r = parseNameAddr(m.headers.get('Refer-To')!);
  t.is(decodeURIComponent(r.uri.headers.Replaces!), 'a84b4c76e66710@pc33.atlanta.example.com;to-tag=a6c85cf;from-tag=1928301774');
  t.is(parseNameAddr(m.headers.get('Referred-By')!).uri.user, 'alice');
});

test('compact forms map to canonical names', (t) => {
  const m = parseMessage(load('compact.txt'));
  const names = m.headers.entries.map((e) => e.name);
  for (const n of ['Via', 'From', 'To', 'Call-ID', 'Contact', 'Supported', 'Subject', 'Event', 'Allow-Events', 'Session-Expires', 'Content-Type', 'Content-Length']) {
    t.true(names.includes(n), n);
  }
  t.deepEqual(m.headers.getAll('k'), ['timer', 'replaces']);
  t.true(serializeMessage(m).toString().includes('\r\nSession-Expires: 1800\r\n'));
});

test('folded headers are joined with one space', (t) => {
  const m = parseMessage(load('folded.txt'));
  t.is(m.headers.get('Via'), 'SIP/2.0/UDP 192.0.2.101:5060 ;branch=z9hG4bK74bf9');
  t.is(parseVia(m.headers.get('Via')!).params.branch, 'z9hG4bK74bf9');
  t.is(m.headers.get('From'), 'Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl');
  t.is(m.headers.get('CSeq'), '2 INVITE');
  t.is(m.headers.get('Subject'), "I know you're there, pick up the phone and talk to me!");
  t.deepEqual(m.headers.getAll('Allow'), ['INVITE', 'ACK', 'BYE']);
  // serialized unfolded, one line per entry
  t.false(/\r\n[ \t]/.test(serializeMessage(m).toString('latin1').split('\r\n\r\n')[0]!));
});

// ---- stream framing

const streamParts = ['register-401.txt', 'invite-sdp.txt', 'notify-sipfrag.txt'].map(load);
// a CRLF CRLF keep-alive between the first two messages, as RFC 5626 clients send
const stream = Buffer.concat([streamParts[0]!, Buffer.from('\r\n\r\n'), streamParts[1]!, streamParts[2]!]);

/** Feeds chunks to a receiver loop the way a TCP transport would; returns the framed messages. */
function receive(chunks: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  let buf: Buffer = Buffer.alloc(0);
  for (const chunk of chunks) {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    for (;;) {
      buf = buf.subarray(skipKeepAlive(buf, 0));
      const n = frameStreamMessage(buf, 0);
      if (n === 0) break;
      out.push(buf.subarray(0, n));
      buf = buf.subarray(n);
    }
  }
  if (buf.length !== 0) throw new Error(`${buf.length} bytes left over`);
  return out;
}

test('frameStreamMessage finds the three boundaries', (t) => {
  const first = frameStreamMessage(stream, 0);
  t.is(first, streamParts[0]!.length);
  const skip = skipKeepAlive(stream, first);
  t.is(skip, 4);
  const second = frameStreamMessage(stream, first + skip);
  t.is(second, streamParts[1]!.length);
  t.is(frameStreamMessage(stream, first + skip + second), streamParts[2]!.length);
  // a caller that forgets the keep-alive still frames correctly: the CRLFs count in the length
  t.is(frameStreamMessage(stream, first), skip + second);
  t.is(parseMessage(stream.subarray(first, first + skip + second), { stream: true }).headers.get('CSeq'), '314159 INVITE');
});

test('stream split at every byte boundary frames the same three messages', (t) => {
  const expected = streamParts.map((p) => p.toString('latin1'));
  for (let k = 0; k <= stream.length; k++) {
    const got = receive([stream.subarray(0, k), stream.subarray(k)]).map((b) => b.toString('latin1'));
    if (JSON.stringify(got) !== JSON.stringify(expected)) {
      t.fail(`split at ${k}`);
      return;
    }
  }
  t.pass();
});

test('stream fed one byte at a time frames the same three messages', (t) => {
  const chunks: Buffer[] = [];
  for (let i = 0; i < stream.length; i++) chunks.push(stream.subarray(i, i + 1));
  const got = receive(chunks);
  t.is(got.length, 3);
  got.forEach((b, i) => t.true(b.equals(streamParts[i]!)));
  t.deepEqual(got.map((b) => shape(parseMessage(b, { stream: true }))), streamParts.map((p) => shape(parseMessage(p))));
});

test('frameStreamMessage: compact l:, odd case and spacing, folded value', (t) => {
  const body = 'hello';
  for (const cl of ['l: 5', 'L:5', 'content-LENGTH   :  5', 'Content-Length:\r\n 5']) {
    const msg = Buffer.from(`MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n${cl}\r\n\r\n${body}EXTRA`);
    t.is(frameStreamMessage(msg, 0), msg.length - 5, cl);
  }
});

test('frameStreamMessage: waits for more bytes, then errors on what can never frame', (t) => {
  t.is(frameStreamMessage(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 10\r\n\r\nabc'), 0), 0);
  t.is(frameStreamMessage(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nVia: x'), 0), 0);
  t.is(frameStreamMessage(Buffer.from('\r\n\r\n'), 0), 0);
  t.is(frameStreamMessage(Buffer.alloc(0), 0), 0);
  const noCl = Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n');
  t.throws(() => frameStreamMessage(noCl, 0), { instanceOf: SipParseError, message: /Content-Length/ });
  const badCl = Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n');
  t.throws(() => frameStreamMessage(badCl, 0), { instanceOf: SipParseError });
  const twoCl = Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\nab');
  t.throws(() => frameStreamMessage(twoCl, 0), { instanceOf: SipParseError });
  const huge = Buffer.concat([Buffer.from('OPTIONS sip:a@b SIP/2.0\r\n'), Buffer.alloc(70 * 1024, 0x61)]);
  t.throws(() => frameStreamMessage(huge, 0), { instanceOf: SipParseError, message: /too large/ });
});

test('parseMessage: stream mode requires Content-Length, datagram mode takes the rest', (t) => {
  const m = 'MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 MESSAGE\r\n\r\nrest of datagram';
  t.is(parseMessage(Buffer.from(m)).body.toString(), 'rest of datagram');
  const e = t.throws(() => parseMessage(Buffer.from(m), { stream: true }), { instanceOf: SipParseError });
  t.is(e?.reason, 'missing Content-Length');
  t.is((e).partial?.headers.get('Call-ID'), 'c');
});

test('parseMessage: leading CRLFs and LF-only line ends are tolerated', (t) => {
  const m = '\r\n\r\nOPTIONS sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:x@y>;tag=1\nTo: <sip:a@b>\nCall-ID: c\nCSeq: 1 OPTIONS\nContent-Length: 2\n\nok';
  const p = parseMessage(Buffer.from(m));
  t.is(p.type, 'request');
  t.is(p.body.toString(), 'ok');
});

test('serializeMessage: Content-Length always from the body, replacing stale values', (t) => {
  const m = parseMessage(load('message.txt'));
  m.body = Buffer.from('shorter');
  m.headers.append('Content-Length', '999');
  const out = serializeMessage(m).toString();
  t.is(out.match(/Content-Length/g)?.length, 1);
  t.true(out.includes('Content-Length: 7\r\n'));
  t.true(out.endsWith('\r\n\r\nshorter'));
});

// ---- parse-level details

const BASE =
  'Via: SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\n';

function reason(text: string, stream = false): string {
  try {
    parseMessage(Buffer.from(text, 'latin1'), { stream });
  } catch (err) {
    if (err instanceof SipParseError) return err.reason;
    throw err;
  }
  return 'parsed';
}

test('parseMessage: Contact * stays one value, IPv6 Request-URI and Via', (t) => {
  const m = parseMessage(Buffer.from(`REGISTER sip:[2001:db8::5]:5070;transport=udp SIP/2.0\r\n${BASE}CSeq: 2 REGISTER\r\nContact: *\r\nExpires: 0\r\nContent-Length: 0\r\n\r\n`));
  t.deepEqual(m.headers.getAll('Contact'), ['*']);
  t.is(m.type === 'request' ? m.uri : '', 'sip:[2001:db8::5]:5070;transport=udp');
  t.is(parseVia(m.headers.get('Via')!).host, '[2001:db8::1]');
});

test('parseMessage: start-line and header errors have clear reasons', (t) => {
  const req = (start: string, extra = 'CSeq: 1 OPTIONS\r\n') => `${start}\r\n${BASE}${extra}Content-Length: 0\r\n\r\n`;
  t.is(reason(req('OPTIONS sip:a@b SIP/2.0')), 'parsed');
  t.is(reason(req('OPTIONS sip:a@b SIP/3.0')), 'unsupported SIP version');
  t.is(reason(req('OPTIONS sip:a@b HTTP/1.1')), 'malformed request line');
  t.is(reason(req('OPTIONS sip:a@b')), 'malformed request line');
  t.is(reason(req('OPTIONS sip:a\x00@b SIP/2.0')), 'invalid character in start line');
  t.is(reason(req('OPT:IONS sip:a@b SIP/2.0')), 'invalid method');
  t.is(reason(req('OPTIONS a@b SIP/2.0')), 'invalid Request-URI: URI without a scheme');
  t.is(reason(req('SIP/2.0 99 Odd', '')), 'invalid status code');
  t.is(reason(req('SIP/2.0 700 Odd', '')), 'invalid status code');
  t.is(reason(req('SIP/2.0 2000 Odd', '')), 'invalid status code');
  t.is(reason(req('SIP/2.0 200', 'CSeq: 1 OPTIONS\r\n')), 'parsed');
  t.is(reason(req('OPTIONS sip:a@b SIP/2.0', 'CSeq: 1 OPTIONS\r\nBad Header: x\r\n')), 'invalid header name');
  t.is(reason(req('OPTIONS sip:a@b SIP/2.0', 'CSeq: 1 OPTIONS\r\nNoColon\r\n')), 'malformed header line');
  t.is(reason(req('OPTIONS sip:a@b SIP/2.0', 'CSeq: 1 OPTIONS\r\nX: a\rb\r\n')), 'bare CR in header');
  t.is(reason(req('OPTIONS sip:a@b SIP/2.0', 'CSeq: 1 OPTIONS\r\nMax-Forwards: 256\r\n')), 'invalid Max-Forwards');
  t.is(reason(req('OPTIONS sip:a@b SIP/2.0', 'CSeq: 1 OPTIONS\r\nContent-Length: 1\r\n')), 'multiple Content-Length values');
  t.is(reason(req('OPTIONS sip:a@b SIP/2.0', 'CSeq: 1 INVITE\r\n')), 'CSeq method does not match request method');
  t.is(reason(req('OPTIONS sip:a@b SIP/2.0', 'CSeq: 1 OPTIONS\r\nVia: SIP/2.0/UDP\r\n')), 'invalid Via: missing space before Via sent-by');
  t.is(reason(`OPTIONS sip:a@b SIP/2.0\r\n${BASE}CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n`), 'missing empty line after headers');
  t.is(reason(`OPTIONS sip:a@b SIP/2.0\r\n ${BASE}CSeq: 1 OPTIONS\r\n\r\n`), 'continuation line without a header');
  t.is(reason(`OPTIONS sip:a@b SIP/2.0\r\n${BASE}CSeq: 1 OPTIONS\r\nContent-Length: 4\r\n\r\nab`), 'Content-Length exceeds datagram');
  t.is(reason(`OPTIONS sip:a@b SIP/2.0\r\n${BASE}CSeq: 1 OPTIONS\r\nContent-Length: 4\r\n\r\nab`, true), 'Content-Length exceeds available bytes');
  t.is(reason('\r\n\r\n'), 'empty message');
});

test('parseMessage: extra datagram bytes after Content-Length are ignored, body is a copy', (t) => {
  const buf = Buffer.from(`MESSAGE sip:a@b SIP/2.0\r\n${BASE}CSeq: 1 MESSAGE\r\nContent-Length: 2\r\n\r\nhi-and-more`);
  const m = parseMessage(buf);
  t.is(m.body.toString(), 'hi');
  buf.fill(0);
  t.is(m.body.toString(), 'hi');
});
