/**
 * SipStack end to end on loopback: two stacks talking over UDP and TCP, Via stamping and response
 * routing, stateless 400/505, §8.2 rejections, INVITE/ACK/CANCEL, a lossy relay, and a fuzz run.
 */
import test from 'ava';
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { SipStack, VIA_PLACEHOLDER, type ClientTransaction, type ServerTransaction } from '../sip/stack.js';
import { VirtualClock } from '../sip/clock.js';
import { SipHeaders, type SipMessage, type SipParseError, type SipRequest, type SipResponse } from '../sip/message.js';
import { parseMessage, serializeMessage } from '../sip/parser.js';
import { parseVia } from '../sip/grammar.js';
import type { Endpoint, RemoteEndpoint, TransportProtocol } from '../sip/transport.js';
import { newCallId, newTag } from '../sip/util.js';
import { seededRandom } from './helpers/prng.js';
import { UdpRelay } from './helpers/udpRelay.js';

const HOST = '127.0.0.1';

type Teardown = { teardown(fn: () => unknown): void };

async function makeStack(t: Teardown, opts: ConstructorParameters<typeof SipStack>[0] = {}): Promise<SipStack> {
  const s = new SipStack({ host: HOST, port: 0, ...opts });
  await s.start();
  t.teardown(() => s.stop());
  return s;
}

let cseq = 1;

function request(method: string, target: Endpoint, extra: Array<[string, string]> = []): SipRequest {
  const h = new SipHeaders();
  h.append('From', `<sip:alice@${HOST}>;tag=${newTag()}`);
  h.append('To', `<sip:bob@${HOST}:${target.port}>`);
  h.append('Call-ID', newCallId(HOST));
  h.append('CSeq', `${cseq++} ${method}`);
  for (const [n, v] of extra) h.append(n, v);
  return { type: 'request', method, uri: `sip:bob@${HOST}:${target.port}`, version: 'SIP/2.0', headers: h, body: Buffer.alloc(0) };
}

/** Runs one client transaction to its final response. */
function transact(stack: SipStack, req: SipRequest, dest: Endpoint, onProvisional?: (r: SipResponse) => void): Promise<SipResponse> & { tx?: ClientTransaction } {
  let tx: ClientTransaction | undefined;
  const p = new Promise<SipResponse>((resolve, reject) => {
    tx = stack.sendRequest(req, dest, {
      onProvisional,
      onFinal: resolve,
      onTimeout: () => reject(new Error('timeout')),
      onTransportError: reject,
    });
  }) as Promise<SipResponse> & { tx?: ClientTransaction };
  p.tx = tx;
  return p;
}

function answerAll(stack: SipStack, status = 200): Array<[SipRequest, RemoteEndpoint]> {
  const seen: Array<[SipRequest, RemoteEndpoint]> = [];
  stack.onRequest = (req, tx, from) => {
    seen.push([req, from]);
    tx.respond(stack.createResponse(req, status, undefined, { toTag: true }));
  };
  return seen;
}

async function udpSocket(t: Teardown): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  s.bind(0, HOST);
  await once(s, 'listening');
  t.teardown(() => new Promise<void>((r) => s.close(() => r())));
  return s;
}

/** Parses leniently: a 400 to a request without Call-ID has no Call-ID either. */
function lenientParse(buf: Buffer): SipMessage | undefined {
  try {
    return parseMessage(buf);
  } catch (err) {
    return (err as SipParseError).partial;
  }
}

/**
 * Sends raw bytes from `sock` and waits for the first SIP response coming back (with the same
 * Call-ID when the request has one, so late answers to earlier traffic are skipped).
 */
function rawExchange(sock: dgram.Socket, port: number, text: string | Buffer, timeoutMs = 3000): Promise<SipResponse | undefined> {
  const callId = /\r\nCall-ID: ([^\r]+)/.exec(text.toString())?.[1];
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      sock.off('message', on);
      resolve(undefined);
    }, timeoutMs);
    const on = (buf: Buffer): void => {
      const m = lenientParse(buf);
      if (m?.type !== 'response') return;
      if (callId !== undefined && m.headers.get('Call-ID') !== callId) return;
      clearTimeout(timer);
      sock.off('message', on);
      resolve(m);
    };
    sock.on('message', on);
    sock.send(text, port, HOST);
  });
}

function rawRequest(port: number, opts: { version?: string; omit?: string; via?: boolean; uri?: string; maxForwards?: number; method?: string } = {}): string {
  const method = opts.method ?? 'OPTIONS';
  const lines = [`${method} ${opts.uri ?? `sip:bob@${HOST}:${port}`} ${opts.version ?? 'SIP/2.0'}`];
  if (opts.via !== false) lines.push(`Via: SIP/2.0/UDP ${HOST}:9;branch=z9hG4bK${newTag()};rport`);
  const hs: Array<[string, string]> = [
    ['Max-Forwards', String(opts.maxForwards ?? 70)],
    ['From', `<sip:alice@${HOST}>;tag=${newTag()}`],
    ['To', `<sip:bob@${HOST}>`],
    ['Call-ID', newCallId()],
    ['CSeq', `1 ${method}`],
    ['Content-Length', '0'],
  ];
  for (const [n, v] of hs) if (n !== opts.omit) lines.push(`${n}: ${v}`);
  return lines.join('\r\n') + '\r\n\r\n';
}

// ------------------------------------------------------------------ end to end

for (const protocol of ['UDP', 'TCP'] as TransportProtocol[]) {
  test(`OPTIONS request/response end to end over ${protocol}, with received/rport stamped`, async (t) => {
    const a = await makeStack(t, { userAgent: 'LineScape-test' });
    const b = await makeStack(t);
    const seen = answerAll(b);
    const dest = { ...b.localEndpoint(protocol) };
    const res = await transact(a, request('OPTIONS', dest), dest);
    t.is(res.status, 200);
    t.true(res.headers.get('To')!.includes('tag='));
    const [req, from] = seen[0]!;
    t.is(from.protocol, protocol);
    t.is(req.headers.get('User-Agent'), 'LineScape-test');
    t.is(req.headers.get('Max-Forwards'), '70');
    const via = parseVia(req.headers.get('Via')!);
    t.is(via.transport, protocol);
    t.is(via.host, HOST);
    t.is(via.port, a.transport.localPort);
    t.true(via.params['branch']!.startsWith('z9hG4bK'));
    t.is(via.params['received'], HOST, 'received is added when rport was asked for');
    t.is(via.params['rport'], String(from.port));
    // The response carries the stamped Via back to A.
    t.is(parseVia(res.headers.get('Via')!).params['rport'], String(from.port));
    if (protocol === 'TCP') {
      t.is(typeof from.connectionId, 'number');
      t.is(a.transport.connectionCount, 1, 'the response came back over the connection A opened');
    }
    t.is(a.transactions.clientCount, protocol === 'TCP' ? 0 : 1, 'UDP keeps Timer K running');
  });
}

test('a request over TCP from a NATed client is answered over the same connection', async (t) => {
  const b = await makeStack(t);
  answerAll(b);
  const s = net.connect({ host: HOST, port: b.transport.localPort });
  await once(s, 'connect');
  t.teardown(() => s.destroy());
  // The Via names an address nobody listens on: only the connection can carry the answer.
  const text = rawRequest(b.transport.localPort).replace(`SIP/2.0/UDP ${HOST}:9`, 'SIP/2.0/TCP 10.9.9.9:5060');
  const reply = once(s, 'data');
  s.write(text);
  const res = parseMessage((await reply)[0] as Buffer, { stream: true }) as SipResponse;
  t.is(res.status, 200);
  const via = parseVia(res.headers.get('Via')!);
  t.is(via.params['received'], HOST);
  t.is(via.params['rport'], String(s.localPort));
});

test('sendRequest replaces a placeholder Via, keeps a real one, and uses the public address', async (t) => {
  const a = await makeStack(t);
  const b = await makeStack(t);
  const seen = answerAll(b);
  const dest = b.localEndpoint('UDP');
  const r1 = request('OPTIONS', dest, [['Via', VIA_PLACEHOLDER]]);
  await transact(a, r1, dest);
  t.true(seen[0]![0].headers.get('Via')!.startsWith(`SIP/2.0/UDP ${HOST}:${a.transport.localPort};branch=z9hG4bK`));
  t.is(seen[0]![0].headers.getAll('Via').length, 1);
  a.setPublicAddress('203.0.113.7', 40000);
  t.is(a.viaHost, '203.0.113.7');
  t.is(a.viaPort, 40000);
  const r2 = request('OPTIONS', dest);
  // Responses follow received/rport, so the fake public address does not stop the answer.
  await transact(a, r2, dest);
  const via = parseVia(seen[1]![0].headers.get('Via')!);
  t.is(via.host, '203.0.113.7');
  t.is(via.port, 40000);
  t.is(via.params['received'], HOST);
  a.setPublicAddress(undefined);
  t.is(a.viaHost, HOST);
  const r3 = request('OPTIONS', dest, [['Via', `SIP/2.0/UDP ${HOST}:${a.transport.localPort};branch=z9hG4bKmine1;rport`]]);
  await transact(a, r3, dest);
  t.is(parseVia(seen[2]![0].headers.get('Via')!).params['branch'], 'z9hG4bKmine1');
});

test('responses matching no transaction go to onStrayResponse', async (t) => {
  const a = await makeStack(t);
  const sock = await udpSocket(t);
  const stray = new Promise<SipResponse>((resolve) => {
    a.onStrayResponse = (res) => resolve(res);
  });
  const text =
    'SIP/2.0 200 OK\r\n' +
    `Via: SIP/2.0/UDP ${HOST}:${a.transport.localPort};branch=z9hG4bKgone;rport=1;received=${HOST}\r\n` +
    `From: <sip:a@${HOST}>;tag=1\r\nTo: <sip:b@${HOST}>;tag=2\r\nCall-ID: stray@x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n`;
  sock.send(text, a.transport.localPort, HOST);
  t.is((await stray).headers.get('Call-ID'), 'stray@x');
});

// ------------------------------------------------------------------ bad input

test('garbage with a usable Via gets a stateless 400 naming the problem; the stack keeps serving', async (t) => {
  const b = await makeStack(t);
  answerAll(b);
  const parseErrors: unknown[] = [];
  b.on('parseError', (err) => parseErrors.push(err));
  const sock = await udpSocket(t);
  const port = b.transport.localPort;
  const res = await rawExchange(sock, port, rawRequest(port, { omit: 'Call-ID' }));
  t.truthy(res);
  t.is(res!.status, 400);
  t.regex(res!.reason, /Call-ID/i);
  t.truthy(res!.headers.get('Call-ID'), 'the answer itself is well formed');
  t.is(res!.headers.get('CSeq'), '1 OPTIONS');
  t.true(res!.headers.get('To')!.includes('tag='));
  const via = parseVia(res!.headers.get('Via')!);
  t.is(via.params['received'], HOST);
  t.is(via.params['rport'], String(sock.address().port));
  t.is(parseErrors.length, 1);
  // No Via: nothing can be answered, but the event still fires.
  const none = await rawExchange(sock, port, rawRequest(port, { via: false }), 300);
  t.is(none, undefined);
  t.is(parseErrors.length, 2);
  const ok = await rawExchange(sock, port, rawRequest(port));
  t.is(ok?.status, 200);
});

test('over TCP a broken request gets its 400 on the same connection, which stays open', async (t) => {
  const b = await makeStack(t);
  answerAll(b);
  const s = net.connect({ host: HOST, port: b.transport.localPort });
  await once(s, 'connect');
  t.teardown(() => s.destroy());
  const port = b.transport.localPort;
  const tcp = (text: string): string => text.replace(`SIP/2.0/UDP ${HOST}:9`, `SIP/2.0/TCP ${HOST}:9`);
  let reply = once(s, 'data');
  s.write(tcp(rawRequest(port, { omit: 'CSeq' })));
  const bad = parseMessage((await reply)[0] as Buffer, { stream: true }) as SipResponse;
  t.is(bad.status, 400);
  t.regex(bad.reason, /CSeq/);
  reply = once(s, 'data');
  s.write(tcp(rawRequest(port)));
  const good = parseMessage((await reply)[0] as Buffer, { stream: true }) as SipResponse;
  t.is(good.status, 200);
});

test('an unsupported SIP version gets 505', async (t) => {
  const b = await makeStack(t);
  answerAll(b);
  const sock = await udpSocket(t);
  const port = b.transport.localPort;
  const res = await rawExchange(sock, port, rawRequest(port, { version: 'SIP/3.0' }));
  t.is(res?.status, 505);
});

test('§8.2 checks: unsupported URI scheme → 416, Max-Forwards 0 → 483 (OPTIONS still answered)', async (t) => {
  const b = await makeStack(t);
  const seen = answerAll(b);
  const sock = await udpSocket(t);
  const port = b.transport.localPort;
  t.is((await rawExchange(sock, port, rawRequest(port, { uri: 'mailto:bob@example.com' })))?.status, 416);
  t.is((await rawExchange(sock, port, rawRequest(port, { method: 'MESSAGE', maxForwards: 0 })))?.status, 483);
  t.is((await rawExchange(sock, port, rawRequest(port, { maxForwards: 0 })))?.status, 200);
  t.is(seen.length, 1, 'only the OPTIONS reached the TU');
});

test('a TU that throws gets its request answered 500 and the error reported', async (t) => {
  const b = await makeStack(t);
  const errors: Error[] = [];
  b.on('error', (e) => errors.push(e));
  b.onRequest = () => {
    throw new Error('TU bug');
  };
  const sock = await udpSocket(t);
  const port = b.transport.localPort;
  t.is((await rawExchange(sock, port, rawRequest(port)))?.status, 500);
  t.is(errors[0]?.message, 'TU bug');
});

// ------------------------------------------------------------------ INVITE, ACK, CANCEL

test('INVITE rejected 486: the client transaction ACKs, the server transaction absorbs the ACK', async (t) => {
  const a = await makeStack(t);
  const b = await makeStack(t);
  let serverTx: ServerTransaction | undefined;
  const acksToTu: SipRequest[] = [];
  b.onAck = (req) => acksToTu.push(req);
  b.onRequest = (req, tx) => {
    serverTx = tx;
    tx.respond(b.createResponse(req, 180, undefined, { toTag: 'bt' }));
    tx.respond(b.createResponse(req, 486, undefined, { toTag: 'bt' }));
  };
  const dest = b.localEndpoint('UDP');
  const provisional: number[] = [];
  const res = await transact(a, request('INVITE', dest), dest, (r) => provisional.push(r.status));
  t.is(res.status, 486);
  t.deepEqual(provisional, [180]);
  for (let i = 0; i < 50 && serverTx!.state !== 'confirmed'; i++) await new Promise((r) => setTimeout(r, 10));
  t.is(serverTx!.state, 'confirmed');
  t.is(acksToTu.length, 0);
});

test('INVITE accepted 200: the TU ACKs with sendAck, onAck fires on the server, 2xx retransmission stops', async (t) => {
  const clock = new VirtualClock();
  const a = await makeStack(t, { clock });
  const b = await makeStack(t, { clock });
  let serverTx: ServerTransaction | undefined;
  const gotAck = new Promise<SipRequest>((resolve) => {
    b.onAck = (req) => resolve(req);
  });
  b.onRequest = (req, tx) => {
    serverTx = tx;
    tx.respond(b.createResponse(req, 200, undefined, { toTag: 'b2', body: 'v=0\r\n', contentType: 'application/sdp' }));
  };
  const dest = b.localEndpoint('UDP');
  const invite = request('INVITE', dest);
  const res = await transact(a, invite, dest);
  t.is(res.status, 200);
  t.is(res.headers.get('Content-Type'), 'application/sdp');
  const ack: SipRequest = {
    type: 'request',
    method: 'ACK',
    uri: invite.uri,
    version: 'SIP/2.0',
    headers: SipHeaders.from([
      ['From', invite.headers.get('From')!],
      ['To', res.headers.get('To')!],
      ['Call-ID', invite.headers.get('Call-ID')!],
      ['CSeq', `${/^\d+/.exec(invite.headers.get('CSeq')!)![0]} ACK`],
    ]),
    body: Buffer.alloc(0),
  };
  a.sendAck(ack, dest);
  const got = await gotAck;
  t.not(branchOf(got), branchOf(invite), 'the ACK of a 2xx is a new transaction');
  t.true((serverTx as unknown as { ackReceived: boolean }).ackReceived);
  t.is(serverTx!.state, 'accepted');
  clock.advance(64 * 500);
  t.is(serverTx!.state, 'terminated');
  t.is(b.transactions.serverCount, 0);
});

function branchOf(req: SipMessage): string | undefined {
  return parseVia(req.headers.get('Via')!).params['branch'] ?? undefined;
}

test('CANCEL: built from the INVITE, matched to it by the server, INVITE ends 487', async (t) => {
  const a = await makeStack(t);
  const b = await makeStack(t);
  let cancelSeen: SipRequest | undefined;
  b.onRequest = (req, tx) => {
    if (req.method === 'INVITE') {
      tx.respond(b.createResponse(req, 180, undefined, { toTag: 'c1' }));
      return;
    }
    if (req.method === 'CANCEL') {
      cancelSeen = req;
      const inv = b.findInviteServerTransaction(req);
      if (!inv) {
        tx.respond(b.createResponse(req, 481, undefined, { toTag: true }));
        return;
      }
      tx.respond(b.createResponse(req, 200, undefined, { toTag: 'c1' }));
      inv.respond(b.createResponse(inv.request!, 487, undefined, { toTag: 'c1' }));
    }
  };
  const dest = b.localEndpoint('UDP');
  const invite = request('INVITE', dest, [['Route', `<sip:${HOST}:${dest.port};lr>`]]);
  let inviteTx: ClientTransaction | undefined;
  const final = new Promise<SipResponse>((resolve, reject) => {
    inviteTx = a.sendRequest(invite, dest, {
      onProvisional: () => {
        const cancelTx = a.sendCancel(inviteTx!, {
          onFinal: (r) => t.is(r.status, 200),
          onTimeout: () => reject(new Error('cancel timeout')),
          onTransportError: reject,
        });
        t.is(cancelTx.method, 'CANCEL');
      },
      onFinal: resolve,
      onTimeout: () => reject(new Error('timeout')),
      onTransportError: reject,
    });
  });
  const res = await final;
  t.is(res.status, 487);
  t.truthy(cancelSeen);
  t.is(branchOf(cancelSeen!), branchOf(invite));
  t.is(cancelSeen!.headers.get('Call-ID'), invite.headers.get('Call-ID'));
  t.is(cancelSeen!.headers.get('From'), invite.headers.get('From'));
  t.is(cancelSeen!.headers.get('To'), invite.headers.get('To'));
  t.is(cancelSeen!.headers.get('CSeq'), invite.headers.get('CSeq')!.replace('INVITE', 'CANCEL'));
  t.deepEqual(cancelSeen!.headers.getAll('Route'), invite.headers.getAll('Route'));
  t.is(cancelSeen!.uri, invite.uri);
});

test('stop() ends every transaction and leaves no timer behind', async (t) => {
  const clock = new VirtualClock();
  const a = new SipStack({ host: HOST, port: 0, clock });
  await a.start();
  const b = await makeStack(t, { clock });
  b.onRequest = () => undefined; // never answers
  const dest = b.localEndpoint('UDP');
  a.sendRequest(request('INVITE', dest), dest, { onFinal: () => undefined, onTimeout: () => undefined, onTransportError: () => undefined });
  a.sendRequest(request('OPTIONS', dest), dest, { onFinal: () => undefined, onTimeout: () => undefined, onTransportError: () => undefined });
  await new Promise((r) => setTimeout(r, 50));
  t.true(clock.pending > 0);
  await a.stop();
  await b.stop();
  t.is(clock.pending, 0);
  t.is(a.transactions.clientCount, 0);
});

// ------------------------------------------------------------------ faults

test('20 REGISTER transactions all complete through a relay losing 30 % each way', async (t) => {
  t.timeout(60_000);
  const server = await makeStack(t, { t1: 100, t2: 400 });
  let registers = 0;
  server.onRequest = (req, tx) => {
    registers++;
    const res = server.createResponse(req, 200, undefined, { toTag: true });
    res.headers.append('Contact', req.headers.get('Contact') ?? `<sip:alice@${HOST}>`);
    res.headers.append('Expires', '3600');
    tx.respond(res);
  };
  const relay = await UdpRelay.create({
    target: { host: HOST, port: server.transport.localPort },
    seed: 20240611,
    toTarget: { loss: 0.3 },
    fromTarget: { loss: 0.3 },
  });
  t.teardown(() => relay.close());
  const client = await makeStack(t, { t1: 100, t2: 400 });
  const dest: Endpoint = { protocol: 'UDP', host: HOST, port: relay.port };
  const results = await Promise.allSettled(
    Array.from({ length: 20 }, () => transact(client, request('REGISTER', dest, [['Contact', `<sip:alice@${HOST}:${client.transport.localPort}>`], ['Expires', '3600']]), dest)),
  );
  const ok = results.filter((r) => r.status === 'fulfilled' && r.value.status === 200).length;
  t.is(ok, 20);
  t.true(relay.stats.toTarget.dropped > 0 && relay.stats.fromTarget.dropped > 0, 'the relay really dropped packets');
  t.is(registers, 20, 'retransmissions were absorbed by the server transactions');
});

test('the relay can duplicate and reorder: duplicates are absorbed', async (t) => {
  const server = await makeStack(t);
  const seen = answerAll(server);
  const relay = await UdpRelay.create({
    target: { host: HOST, port: server.transport.localPort },
    seed: 7,
    toTarget: { duplicate: 1, reorder: 0.5, reorderDelayMs: 10, jitterMs: 5 },
    fromTarget: { duplicate: 1 },
  });
  t.teardown(() => relay.close());
  const client = await makeStack(t);
  const dest: Endpoint = { protocol: 'UDP', host: HOST, port: relay.port };
  const results = await Promise.all(Array.from({ length: 5 }, () => transact(client, request('OPTIONS', dest), dest)));
  t.true(results.every((r) => r.status === 200));
  t.is(seen.length, 5);
  t.true(relay.stats.toTarget.duplicated >= 5);
});

// ------------------------------------------------------------------ fuzz

const SEEDS: string[] = [
  rawRequest(5060),
  rawRequest(5060, { method: 'INVITE' }).replace('Content-Length: 0', 'Content-Type: application/sdp\r\nContent-Length: 24') + 'v=0\r\no=- 1 1 IN IP4 1.2\r\n',
  rawRequest(5060, { method: 'REGISTER' }),
  rawRequest(5060, { method: 'ACK' }),
  rawRequest(5060, { method: 'CANCEL' }),
  'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>;tag=2\r\nCall-ID: q\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n',
];

const JUNK = ['\r\n', ';', ':', '<', '>', '"', ',', '\\', '=', ' ', '\t', '\x00', '\xff', '%', '@', 'SIP/2.0', 'z9hG4bK', ';rport', ';received=', 'Content-Length: 99999\r\n', 'Via: \r\n', 'CSeq: -1 X\r\n', '\r\n\r\n'];

function mutate(rand: () => number, seed: string): Buffer {
  let s = seed;
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const n = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < n; i++) {
    const pos = Math.floor(rand() * (s.length + 1));
    switch (Math.floor(rand() * 7)) {
      case 0: // flip a character
        s = s.slice(0, pos) + String.fromCharCode(Math.floor(rand() * 256)) + s.slice(pos + 1);
        break;
      case 1: // truncate
        s = s.slice(0, pos);
        break;
      case 2: // insert junk
        s = s.slice(0, pos) + pick(JUNK) + s.slice(pos);
        break;
      case 3: { // drop a line
        const lines = s.split('\r\n');
        lines.splice(Math.floor(rand() * lines.length), 1);
        s = lines.join('\r\n');
        break;
      }
      case 4: { // duplicate a line
        const lines = s.split('\r\n');
        const k = Math.floor(rand() * lines.length);
        lines.splice(k, 0, lines[k] ?? '');
        s = lines.join('\r\n');
        break;
      }
      case 5: // delete a span
        s = s.slice(0, pos) + s.slice(pos + Math.floor(rand() * 20));
        break;
      default: // pure random bytes
        return Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 300) }, () => Math.floor(rand() * 256)));
    }
  }
  return Buffer.from(s, 'latin1');
}

test('2 000 random and mutated datagrams: no crash, and a valid OPTIONS is still answered', async (t) => {
  t.timeout(60_000);
  const clock = new VirtualClock();
  const b = await makeStack(t, { clock });
  const errors: Error[] = [];
  b.on('error', (e) => errors.push(e));
  let parseErrors = 0;
  b.on('parseError', () => parseErrors++);
  let requests = 0;
  b.onRequest = (req, tx) => {
    requests++;
    tx.respond(b.createResponse(req, req.method === 'INVITE' ? 486 : 200, undefined, { toTag: true }));
  };
  b.onAck = () => undefined;
  b.onStrayResponse = () => undefined;
  const sock = await udpSocket(t);
  const statuses = new Map<number, number>();
  sock.on('message', (buf) => {
    try {
      const m = parseMessage(buf);
      if (m.type === 'response') statuses.set(m.status, (statuses.get(m.status) ?? 0) + 1);
    } catch {
      /* ignore */
    }
  });
  const rand = seededRandom(0xc0ffee);
  const port = b.transport.localPort;
  for (let i = 0; i < 2000; i++) {
    const seed = SEEDS[Math.floor(rand() * SEEDS.length)]!;
    // Point every Via at our socket so the answers come back here (all loopback).
    const text = seed.replace(/127\.0\.0\.1:9/g, `${HOST}:${sock.address().port}`);
    sock.send(mutate(rand, text), port, HOST);
    if (i % 50 === 49) await new Promise((r) => setTimeout(r, 5));
  }
  await new Promise((r) => setTimeout(r, 200));
  clock.advance(60_000); // run every timer the garbage created
  const ok = await rawExchange(sock, port, rawRequest(port));
  t.is(ok?.status, 200);
  t.deepEqual(errors.map((e) => e.message), []);
  t.true(parseErrors > 100, `parse errors seen: ${parseErrors}`);
  t.true((statuses.get(400) ?? 0) > 10, 'malformed requests got stateless 400s');
  t.true(requests > 10, 'mutations that still parse reached the TU');
  clock.advance(60_000);
  t.is(b.transactions.serverCount, 0, 'every transaction ended');
  t.is(clock.pending, 0, 'and left no timer');
  t.log(`parse errors ${parseErrors}, TU requests ${requests}, responses ${JSON.stringify([...statuses])}`);
});

test('serializer round trip of what the stack sends (sanity for the wire format)', async (t) => {
  const b = await makeStack(t);
  const sent: SipMessage[] = [];
  b.on('sent', (m) => sent.push(m));
  answerAll(b);
  const sock = await udpSocket(t);
  await rawExchange(sock, b.transport.localPort, rawRequest(b.transport.localPort));
  t.is(sent.length, 1);
  const again = parseMessage(serializeMessage(sent[0]!));
  t.is(again.type, 'response');
});
