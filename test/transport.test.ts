/**
 * SipTransport on real loopback sockets: UDP datagrams, TCP stream framing (split, coalesced,
 * keep-alive ping/pong, garbage), answers over the same connection, outgoing connections.
 */
import test from 'ava';
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { SipTransport, type RemoteEndpoint } from '../sip/transport.js';
import type { SipMessage, SipParseError, SipRequest } from '../sip/message.js';
import { parseMessage } from '../sip/parser.js';
import { buildResponse } from '../sip/util.js';
import { VirtualClock } from '../sip/clock.js';

const HOST = '127.0.0.1';

function options(n: number, body = ''): string {
  return (
    `OPTIONS sip:bob@${HOST} SIP/2.0\r\n` +
    `Via: SIP/2.0/TCP ${HOST}:5999;branch=z9hG4bKtest${n}\r\n` +
    'Max-Forwards: 70\r\n' +
    `From: <sip:alice@${HOST}>;tag=a${n}\r\n` +
    `To: <sip:bob@${HOST}>\r\n` +
    `Call-ID: call-${n}@test\r\n` +
    `CSeq: ${n} OPTIONS\r\n` +
    (body ? 'Content-Type: text/plain\r\n' : '') +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

async function transport(t: { teardown(fn: () => unknown): void }): Promise<SipTransport> {
  const tr = new SipTransport({ host: HOST, port: 0 });
  await tr.listen();
  t.teardown(() => tr.close());
  return tr;
}

/** Collects `'message'` events and resolves when `count` arrived. */
function collect(tr: SipTransport, count: number): Promise<Array<[SipMessage, RemoteEndpoint]>> {
  const got: Array<[SipMessage, RemoteEndpoint]> = [];
  return new Promise((resolve) => {
    const on = (m: SipMessage, from: RemoteEndpoint): void => {
      got.push([m, from]);
      if (got.length === count) {
        tr.off('message', on);
        resolve(got);
      }
    };
    tr.on('message', on);
  });
}

async function connect(port: number): Promise<net.Socket> {
  const s = net.connect({ host: HOST, port });
  await once(s, 'connect');
  s.setNoDelay(true);
  return s;
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('binds UDP and TCP on the same free port', async (t) => {
  const tr = await transport(t);
  t.true(tr.localPort > 0);
  t.is(tr.localHost, HOST);
  // Both protocols really are bound there: a second transport on that port must fail.
  const clash = new SipTransport({ host: HOST, port: tr.localPort });
  await t.throwsAsync(clash.listen());
  await clash.close();
  const srv = net.createServer();
  await t.throwsAsync(new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(tr.localPort, HOST, () => resolve());
  }));
  srv.close();
});

test('UDP: a request datagram becomes a message event; CRLF keep-alives are ignored', async (t) => {
  const tr = await transport(t);
  const errors: unknown[] = [];
  tr.on('parseError', (e) => errors.push(e));
  const got = collect(tr, 1);
  const sock = dgram.createSocket('udp4');
  sock.bind(0, HOST);
  await once(sock, 'listening');
  t.teardown(() => sock.close());
  sock.send(Buffer.from('\r\n\r\n'), tr.localPort, HOST);
  sock.send(Buffer.from('\r\n'), tr.localPort, HOST);
  sock.send(Buffer.from(options(1).replace('TCP', 'UDP')), tr.localPort, HOST);
  const [[msg, from]] = (await got) as [[SipRequest, RemoteEndpoint]];
  t.is(msg.type, 'request');
  t.is(msg.method, 'OPTIONS');
  t.deepEqual(from, { protocol: 'UDP', host: HOST, port: sock.address().port });
  t.deepEqual(errors, []);
});

test('UDP: an unparsable datagram emits parseError with the raw bytes', async (t) => {
  const tr = await transport(t);
  const sock = dgram.createSocket('udp4');
  sock.bind(0, HOST);
  await once(sock, 'listening');
  t.teardown(() => sock.close());
  const pe = once(tr, 'parseError') as Promise<[SipParseError, Buffer, RemoteEndpoint]>;
  sock.send(Buffer.from('NONSENSE\r\n\r\n'), tr.localPort, HOST);
  const [err, raw, from] = await pe;
  t.is(err.name, 'SipParseError');
  t.is(raw.toString(), 'NONSENSE\r\n\r\n');
  t.is(from.protocol, 'UDP');
});

test('TCP: one message split across several writes', async (t) => {
  const tr = await transport(t);
  const got = collect(tr, 1);
  const s = await connect(tr.localPort);
  t.teardown(() => s.destroy());
  const text = options(2, 'hello body');
  const cuts = [5, 40, 120, text.length - 3];
  let prev = 0;
  for (const c of cuts) {
    s.write(text.slice(prev, c));
    prev = c;
    await pause(15);
  }
  s.write(text.slice(prev));
  const [[msg, from]] = (await got) as [[SipMessage, RemoteEndpoint]];
  t.is(msg.body.toString(), 'hello body');
  t.is(from.protocol, 'TCP');
  t.is(typeof from.connectionId, 'number');
});

test('TCP: three messages coalesced in one write, after leading CRLFs', async (t) => {
  const tr = await transport(t);
  const got = collect(tr, 3);
  const s = await connect(tr.localPort);
  t.teardown(() => s.destroy());
  s.write('\r\n' + options(1) + options(2, 'x') + options(3));
  const msgs = await got;
  t.deepEqual(msgs.map(([m]) => m.headers.get('CSeq')), ['1 OPTIONS', '2 OPTIONS', '3 OPTIONS']);
  const ids = new Set(msgs.map(([, f]) => f.connectionId));
  t.is(ids.size, 1);
});

test('TCP: a CRLFCRLF ping gets a CRLF pong (RFC 5626), also when split', async (t) => {
  const tr = await transport(t);
  const s = await connect(tr.localPort);
  t.teardown(() => s.destroy());
  const pong = once(s, 'data');
  s.write('\r\n\r\n');
  t.is(String((await pong)[0]), '\r\n');
  const pong2 = once(s, 'data');
  s.write('\r\n');
  await pause(20);
  s.write('\r\n');
  t.is(String((await pong2)[0]), '\r\n');
});

test('TCP: garbage emits parseError and closes that connection only', async (t) => {
  const tr = await transport(t);
  const good = await connect(tr.localPort);
  const bad = await connect(tr.localPort);
  t.teardown(() => {
    good.destroy();
    bad.destroy();
  });
  const pe = once(tr, 'parseError');
  const closed = once(bad, 'close');
  bad.on('error', () => undefined);
  bad.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await pe;
  await closed;
  const got = collect(tr, 1);
  good.write(options(9));
  const [[m]] = (await got) as [[SipMessage, RemoteEndpoint]];
  t.is(m.headers.get('CSeq'), '9 OPTIONS');
});

test('TCP: the response goes back over the connection the request came on', async (t) => {
  const tr = await transport(t);
  tr.on('message', (m, from) => {
    if (m.type === 'request') tr.send(buildResponse(m, 200, undefined, { toTag: 'x' }), from);
  });
  const s = await connect(tr.localPort);
  t.teardown(() => s.destroy());
  const reply = once(s, 'data');
  s.write(options(4));
  const res = parseMessage((await reply)[0] as Buffer, { stream: true });
  t.is(res.type, 'response');
  t.is(res.type === 'response' ? res.status : 0, 200);
  t.is(res.headers.get('CSeq'), '4 OPTIONS');
});

test('TCP: outgoing connection is opened, reused both ways, and reported on failure', async (t) => {
  const a = await transport(t);
  const b = await transport(t);
  b.on('message', (m, from) => {
    if (m.type === 'request') b.send(buildResponse(m, 200, undefined, { toTag: 'y' }), from);
  });
  const replies = collect(a, 2);
  const dest = { protocol: 'TCP' as const, host: HOST, port: b.localPort };
  a.send(parseMessage(Buffer.from(options(1))), dest);
  a.send(parseMessage(Buffer.from(options(2))), dest);
  const got = await replies;
  t.deepEqual(got.map(([m]) => m.headers.get('CSeq')), ['1 OPTIONS', '2 OPTIONS']);
  t.is(a.connectionCount, 1);
  t.is(b.connectionCount, 1);
  // Keep-alive over the existing connection, answered by a pong.
  const pong = once(a, 'pong');
  t.true(a.sendKeepAlive(dest));
  await pong;
  // A port nobody listens on: the connect failure comes back through onError.
  const dead = await transport(t);
  const deadPort = dead.localPort;
  await dead.close();
  const err = await new Promise<Error>((resolve) => a.send(parseMessage(Buffer.from(options(3))), { protocol: 'TCP', host: HOST, port: deadPort }, resolve));
  t.regex(err.message, /ECONNREFUSED|closed/);
  t.false(a.sendKeepAlive({ protocol: 'TLS', host: HOST, port: deadPort }));
});

test('TCP: idle outgoing connections are closed by the sweep, pinned ones kept', async (t) => {
  const b = await transport(t);
  const c = await transport(t);
  const clock = new VirtualClock();
  const a = new SipTransport({ host: HOST, port: 0, idleTimeoutMs: 1000, clock });
  await a.listen();
  t.teardown(() => a.close());
  const got = Promise.all([collect(b, 1), collect(c, 1)]);
  const toB = { protocol: 'TCP' as const, host: HOST, port: b.localPort };
  const toC = { protocol: 'TCP' as const, host: HOST, port: c.localPort };
  a.send(parseMessage(Buffer.from(options(1))), toB);
  a.send(parseMessage(Buffer.from(options(2))), toC);
  await got;
  t.is(a.connectionCount, 2);
  t.true(a.pinConnection(toC));
  const closed: RemoteEndpoint[] = [];
  a.on('connectionClosed', (e) => closed.push(e));
  clock.advance(600);
  t.is(a.connectionCount, 2, 'not idle long enough yet');
  clock.advance(1000);
  t.is(a.connectionCount, 1);
  t.is(closed[0]?.port, b.localPort);
  clock.advance(10_000);
  t.is(a.connectionCount, 1, 'the pinned connection stays');
  t.is(clock.pending, 0, 'no sweep runs while only pinned connections remain');
});

test('close() frees the port and sending afterwards fails cleanly', async (t) => {
  const tr = new SipTransport({ host: HOST, port: 0 });
  await tr.listen();
  const port = tr.localPort;
  await tr.close();
  const again = new SipTransport({ host: HOST, port });
  await again.listen();
  await again.close();
  const err = await new Promise<Error>((resolve) => tr.send(Buffer.from('x'), { protocol: 'UDP', host: HOST, port }, resolve));
  t.regex(err.message, /not listening/);
});
