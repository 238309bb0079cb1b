/**
 * RFC 3261 §17 / RFC 6026 transaction state machines in virtual time, over a fake transport that
 * records what would have been sent and when.
 */
import test from 'ava';
import { VirtualClock } from '../sip/clock.js';
import { SipHeaders, type SipMessage, type SipRequest, type SipResponse } from '../sip/message.js';
import { parseVia } from '../sip/grammar.js';
import { parseMessage, serializeMessage } from '../sip/parser.js';
import {
  TransactionManager,
  serverKey,
  type ClientTransactionUser,
  type ServerTransaction,
  type TransactionTransport,
} from '../sip/transaction.js';
import type { RemoteEndpoint } from '../sip/transport.js';
import { buildResponse, cseqMethod, newBranch } from '../sip/util.js';

interface Sent {
  at: number;
  msg: SipMessage;
  dest: RemoteEndpoint;
}

/**
 * Records sends; `encode` hands out one numbered token per message so sends map back to messages
 * by their bytes (a lingering transaction resends a copy of its bytes, not the same Buffer).
 */
class FakeTransport implements TransactionTransport {
  readonly sent: Sent[] = [];
  failSends = false;
  private readonly byWire = new Map<string, SipMessage>();
  constructor(private readonly clock: VirtualClock) {}
  encode(msg: SipMessage): Buffer {
    const token = `#${this.byWire.size}`;
    this.byWire.set(token, msg);
    return Buffer.from(token, 'latin1');
  }
  send(data: Buffer, dest: RemoteEndpoint, onError?: (err: Error) => void): void {
    this.sent.push({ at: this.clock.now(), msg: this.byWire.get(data.toString('latin1'))!, dest });
    if (this.failSends && onError) queueMicrotask(() => onError(new Error('ECONNREFUSED')));
  }
  times(filter: (m: SipMessage) => boolean = () => true): number[] {
    return this.sent.filter((s) => filter(s.msg)).map((s) => s.at);
  }
}

const UDP: RemoteEndpoint = { protocol: 'UDP', host: '127.0.0.1', port: 5060 };
const TCP: RemoteEndpoint = { protocol: 'TCP', host: '127.0.0.1', port: 5060 };

function setup(opts: { trying100DelayMs?: number; retransmit2xxUntilAck?: boolean } = {}) {
  const clock = new VirtualClock();
  const transport = new FakeTransport(clock);
  const mgr = new TransactionManager({ transport, clock, ...opts });
  const userErrors: unknown[] = [];
  mgr.onUserError = (e) => userErrors.push(e);
  return { clock, transport, mgr, userErrors };
}

function request(method: string, opts: { branch?: string; proto?: string; cseq?: number; route?: boolean } = {}): SipRequest {
  const h = new SipHeaders();
  h.append('Via', `SIP/2.0/${opts.proto ?? 'UDP'} 127.0.0.1:5070;branch=${opts.branch ?? newBranch()};rport`);
  h.append('Max-Forwards', '70');
  if (opts.route) h.append('Route', '<sip:proxy.example;lr>');
  h.append('From', '<sip:alice@example.com>;tag=ftag');
  h.append('To', '<sip:bob@example.com>');
  h.append('Call-ID', 'call-1@example.com');
  h.append('CSeq', `${opts.cseq ?? 1} ${method}`);
  h.append('Contact', '<sip:alice@127.0.0.1:5070>');
  return { type: 'request', method, uri: 'sip:bob@example.com', version: 'SIP/2.0', headers: h, body: Buffer.alloc(0) };
}

function response(req: SipRequest, status: number, toTag = 'ttag'): SipResponse {
  return buildResponse(req, status, undefined, { toTag: status > 100 ? toTag : undefined });
}

interface Recorder extends ClientTransactionUser {
  provisional: number[];
  finals: number[];
  timeouts: number;
  transportErrors: number;
  extra2xx: number;
}

function recorder(withAdditional = false): Recorder {
  const r: Recorder = {
    provisional: [],
    finals: [],
    timeouts: 0,
    transportErrors: 0,
    extra2xx: 0,
    onProvisional: (res) => r.provisional.push(res.status),
    onFinal: (res) => r.finals.push(res.status),
    onTimeout: () => r.timeouts++,
    onTransportError: () => r.transportErrors++,
  };
  if (withAdditional) r.onAdditional2xx = () => r.extra2xx++;
  return r;
}

/** Feeds a request to the manager the way the stack does; returns the new server tx if any. */
function incoming(mgr: TransactionManager, req: SipRequest, from: RemoteEndpoint = UDP): { result: string; tx?: ServerTransaction } {
  const key = serverKey(req, parseVia(req.headers.get('Via')!));
  const result = mgr.dispatchRequest(req, key);
  if (result !== 'new') return { result };
  return { result, tx: mgr.createServer(req, key, from, from) };
}

// ------------------------------------------------------------------ non-INVITE client

test('non-INVITE client over UDP: Timer E doubles to T2, Timer F at 64*T1, one timeout, nothing left', (t) => {
  const { clock, transport, mgr } = setup();
  const user = recorder();
  const tx = mgr.createClient(request('REGISTER'), UDP, user);
  clock.advance(40_000);
  t.deepEqual(transport.times(), [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
  t.is(user.timeouts, 1);
  t.deepEqual(user.finals, []);
  t.is(tx.state, 'terminated');
  t.is(clock.pending, 0);
  t.is(mgr.clientCount, 0);
});

test('non-INVITE client over TCP: no retransmission, Timer F still fires at 32 s', (t) => {
  const { clock, transport, mgr } = setup();
  const user = recorder();
  mgr.createClient(request('OPTIONS', { proto: 'TCP' }), TCP, user);
  clock.advance(31_999);
  t.is(user.timeouts, 0);
  clock.advance(1);
  t.is(user.timeouts, 1);
  t.deepEqual(transport.times(), [0]);
  t.is(clock.pending, 0);
});

test('non-INVITE client: a provisional moves Timer E to T2', (t) => {
  const { clock, transport, mgr } = setup();
  const user = recorder();
  const req = request('REGISTER');
  mgr.createClient(req, UDP, user);
  clock.advance(1600);
  t.true(mgr.receiveResponse(response(req, 100)));
  t.deepEqual(user.provisional, [100]);
  clock.advance(10_000); // to 11 600
  t.deepEqual(transport.times(), [0, 500, 1500, 3500, 7500, 11500]);
  // Once in Proceeding every interval is T2, even before the doubling would have reached it.
  const t2 = setup();
  const req2 = request('REGISTER');
  t2.mgr.createClient(req2, UDP, recorder());
  t2.clock.advance(600);
  t2.mgr.receiveResponse(response(req2, 100));
  t2.clock.advance(10_000);
  t.deepEqual(t2.transport.times(), [0, 500, 1500, 5500, 9500]);
});

test('non-INVITE client: final response completes, retransmitted finals absorbed, Timer K = T4', (t) => {
  const { clock, transport, mgr } = setup();
  const user = recorder();
  const req = request('REGISTER');
  const tx = mgr.createClient(req, UDP, user);
  clock.advance(700);
  t.true(mgr.receiveResponse(response(req, 200)));
  t.true(mgr.receiveResponse(response(req, 200)));
  t.deepEqual(user.finals, [200]);
  t.is(tx.state, 'completed');
  clock.advance(4999);
  t.is(tx.state, 'completed');
  clock.advance(1);
  t.is(tx.state, 'terminated');
  t.false(mgr.receiveResponse(response(req, 200)), 'after Timer K a response is a stray');
  t.deepEqual(transport.times(), [0, 500]);
  t.is(clock.pending, 0);
  t.is(user.timeouts, 0);
});

test('non-INVITE client over TCP terminates at once on the final response', (t) => {
  const { clock, mgr } = setup();
  const req = request('OPTIONS', { proto: 'TCP' });
  const tx = mgr.createClient(req, TCP, recorder());
  mgr.receiveResponse(response(req, 200));
  t.is(tx.state, 'terminated');
  t.is(clock.pending, 0);
});

test('transport error terminates the client transaction and tells the TU once', async (t) => {
  const { clock, transport, mgr } = setup();
  transport.failSends = true;
  const user = recorder();
  const tx = mgr.createClient(request('OPTIONS', { proto: 'TCP' }), TCP, user);
  await Promise.resolve();
  await Promise.resolve();
  t.is(user.transportErrors, 1);
  t.is(tx.state, 'terminated');
  t.is(clock.pending, 0);
  clock.advance(40_000);
  t.is(user.timeouts, 0);
});

// ------------------------------------------------------------------ INVITE client

test('INVITE client over UDP: Timer A doubles without cap, Timer B at 64*T1', (t) => {
  const { clock, transport, mgr } = setup();
  const user = recorder();
  mgr.createClient(request('INVITE'), UDP, user);
  clock.advance(40_000);
  t.deepEqual(transport.times(), [0, 500, 1500, 3500, 7500, 15500, 31500]);
  t.is(user.timeouts, 1);
  t.is(clock.pending, 0);
  t.is(mgr.clientCount, 0);
});

test('INVITE client: a provisional stops Timer A and Timer B', (t) => {
  const { clock, transport, mgr } = setup();
  const user = recorder();
  const req = request('INVITE');
  const tx = mgr.createClient(req, UDP, user);
  clock.advance(600);
  mgr.receiveResponse(response(req, 180));
  clock.advance(60_000);
  t.deepEqual(transport.times(), [0, 500]);
  t.is(tx.state, 'proceeding');
  t.is(user.timeouts, 0);
  t.deepEqual(user.provisional, [180]);
  tx.terminate();
  t.is(clock.pending, 0);
});

test('INVITE client ACKs a 486 itself, re-ACKs its retransmission, Timer D ends it', (t) => {
  const { clock, transport, mgr } = setup();
  const user = recorder();
  const req = request('INVITE', { route: true, cseq: 7 });
  const branch = /branch=([^;]+)/.exec(req.headers.get('Via')!)![1];
  const tx = mgr.createClient(req, UDP, user);
  clock.advance(100);
  mgr.receiveResponse(response(req, 180));
  const busy = response(req, 486, 'busytag');
  t.true(mgr.receiveResponse(busy));
  t.deepEqual(user.finals, [486]);
  const acks = transport.sent.filter((s) => s.msg.type === 'request' && s.msg.method === 'ACK');
  t.is(acks.length, 1);
  const ack = acks[0]!.msg as SipRequest;
  t.is(ack.uri, req.uri);
  t.deepEqual(ack.headers.getAll('Via'), [req.headers.get('Via')!]);
  t.true(ack.headers.get('Via')!.includes(branch!), 'same branch as the INVITE');
  t.is(ack.headers.get('To'), busy.headers.get('To'));
  t.true(ack.headers.get('To')!.includes('tag=busytag'));
  t.is(ack.headers.get('CSeq'), '7 ACK');
  t.is(ack.headers.get('From'), req.headers.get('From'));
  t.is(ack.headers.get('Call-ID'), req.headers.get('Call-ID'));
  t.deepEqual(ack.headers.getAll('Route'), req.headers.getAll('Route'));
  t.false(ack.headers.has('Contact'));
  t.is(ack.body.length, 0);
  // The server missed our ACK and retransmits the 486.
  clock.advance(500);
  t.true(mgr.receiveResponse(response(req, 486, 'busytag')));
  t.is(transport.sent.filter((s) => s.msg.type === 'request' && s.msg.method === 'ACK').length, 2);
  t.deepEqual(user.finals, [486], 'the retransmission is not passed up');
  t.is(tx.state, 'completed');
  clock.advance(32_000);
  t.is(tx.state, 'terminated');
  t.is(clock.pending, 0);
});

test('INVITE client over TCP: non-2xx ACKed and terminated at once (Timer D = 0)', (t) => {
  const { clock, transport, mgr } = setup();
  const req = request('INVITE', { proto: 'TCP' });
  const tx = mgr.createClient(req, TCP, recorder());
  mgr.receiveResponse(response(req, 603));
  t.is(tx.state, 'terminated');
  t.is(transport.sent.length, 2);
  t.is(clock.pending, 0);
});

test('INVITE client: 2xx → Accepted (RFC 6026), later 2xx to the TU, Timer M ends it', (t) => {
  const { clock, mgr } = setup();
  const user = recorder(true);
  const req = request('INVITE');
  const tx = mgr.createClient(req, UDP, user);
  mgr.receiveResponse(response(req, 200));
  t.is(tx.state, 'accepted');
  t.deepEqual(user.finals, [200]);
  t.true(mgr.receiveResponse(response(req, 200)));
  t.true(mgr.receiveResponse(response(req, 200, 'otherfork')));
  t.is(user.extra2xx, 2);
  t.deepEqual(user.finals, [200], 'onFinal exactly once');
  // a proxy with several workers may forward a 180 after the 200: absorbed, not given to the TU
  const provisionals = user.provisional.length;
  t.true(mgr.receiveResponse(response(req, 180)));
  t.is(user.provisional.length, provisionals, 'a late 180 does not reach the TU');
  t.is(tx.state, 'accepted');
  clock.advance(31_999);
  t.is(tx.state, 'accepted');
  clock.advance(1);
  t.is(tx.state, 'terminated');
  t.is(clock.pending, 0);

  // Without onAdditional2xx, the extra 2xx is reported as not absorbed (the stack's stray path).
  const s = setup();
  const req2 = request('INVITE');
  s.mgr.createClient(req2, UDP, recorder());
  s.mgr.receiveResponse(response(req2, 200));
  t.false(s.mgr.receiveResponse(response(req2, 200)));
});

test('matching uses branch and CSeq method: a 200 for CANCEL does not complete the INVITE', (t) => {
  const { clock, transport, mgr } = setup();
  const inviteUser = recorder();
  const cancelUser = recorder();
  const invite = request('INVITE', { cseq: 3 });
  const branch = /branch=([^;]+)/.exec(invite.headers.get('Via')!)![1]!;
  const itx = mgr.createClient(invite, UDP, inviteUser);
  mgr.receiveResponse(response(invite, 180));
  const cancel = request('CANCEL', { branch, cseq: 3 });
  const ctx = mgr.createCancel(itx as never, cancel, cancelUser);
  t.is(transport.sent.filter((s) => s.msg.type === 'request' && s.msg.method === 'CANCEL').length, 1);
  t.true(mgr.receiveResponse(response(cancel, 200)));
  t.deepEqual(cancelUser.finals, [200]);
  t.deepEqual(inviteUser.finals, []);
  t.is(itx.state, 'proceeding');
  t.is(ctx.state, 'completed');
  // The INVITE gets its 487 and is ACKed by its own transaction.
  mgr.receiveResponse(response(invite, 487));
  t.deepEqual(inviteUser.finals, [487]);
  t.is(cseqMethod(transport.sent.at(-1)!.msg.headers.get('CSeq')), 'ACK');
  clock.advance(40_000);
  t.is(clock.pending, 0);
  t.is(mgr.clientCount, 0);
});

test('CANCEL is held until the first provisional (§9.1) and dropped if the INVITE fails first', (t) => {
  const { clock, transport, mgr } = setup();
  const invite = request('INVITE');
  const branch = /branch=([^;]+)/.exec(invite.headers.get('Via')!)![1]!;
  const itx = mgr.createClient(invite, UDP, recorder());
  const ctx = mgr.createCancel(itx as never, request('CANCEL', { branch }), recorder());
  const cancels = (): number => transport.sent.filter((s) => s.msg.type === 'request' && s.msg.method === 'CANCEL').length;
  t.is(cancels(), 0);
  clock.advance(200);
  mgr.receiveResponse(response(invite, 100));
  t.is(cancels(), 1);
  t.is(ctx.state, 'trying');
  itx.terminate();
  ctx.terminate();
  t.is(clock.pending, 0);

  const s = setup();
  const invite2 = request('INVITE');
  const b2 = /branch=([^;]+)/.exec(invite2.headers.get('Via')!)![1]!;
  const itx2 = s.mgr.createClient(invite2, UDP, recorder());
  const ctx2 = s.mgr.createCancel(itx2 as never, request('CANCEL', { branch: b2 }), recorder());
  s.mgr.receiveResponse(response(invite2, 486));
  t.is(ctx2.state, 'terminated');
  s.clock.advance(40_000);
  t.is(s.transport.sent.filter((x) => x.msg.type === 'request' && x.msg.method === 'CANCEL').length, 0);
  t.is(s.clock.pending, 0);
});

test('after CANCEL an INVITE that is never answered gives up after 64*T1', (t) => {
  const { clock, mgr } = setup();
  const user = recorder();
  const invite = request('INVITE');
  const branch = /branch=([^;]+)/.exec(invite.headers.get('Via')!)![1]!;
  const itx = mgr.createClient(invite, UDP, user);
  mgr.receiveResponse(response(invite, 180));
  mgr.createCancel(itx as never, request('CANCEL', { branch }), recorder());
  clock.advance(32_000);
  t.is(user.timeouts, 1);
  t.is(itx.state, 'terminated');
  t.is(clock.pending, 0);
});

// ------------------------------------------------------------------ non-INVITE server

test('non-INVITE server absorbs retransmissions, resending the last response; Timer J', (t) => {
  const { clock, transport, mgr } = setup();
  const req = request('OPTIONS');
  const first = incoming(mgr, req);
  t.is(first.result, 'new');
  const tx = first.tx!;
  t.is(incoming(mgr, req).result, 'absorbed', 'Trying: absorbed silently');
  t.is(transport.sent.length, 0);
  tx.respond(response(req, 200));
  t.is(tx.state, 'completed');
  clock.advance(1000);
  t.is(incoming(mgr, req).result, 'absorbed');
  t.is(transport.sent.length, 2);
  t.is((transport.sent[1]!.msg as SipResponse).status, 200);
  t.false(tx.respond(response(req, 500)), 'no second final');
  clock.advance(30_999);
  t.is(tx.state, 'completed');
  clock.advance(1);
  t.is(tx.state, 'terminated');
  t.is(incoming(mgr, req).result, 'new', 'after Timer J the request is new again');
  t.is(mgr.serverCount, 1);
  mgr.terminateAll();
  t.is(clock.pending, 0);
});

test('Timers L and J share one timer: each transaction ends 64*T1 after its own final, one ended early is skipped', (t) => {
  const { clock, mgr } = setup();
  const byes: ServerTransaction[] = [];
  const invites: ServerTransaction[] = [];
  // a BYE answered every 250 ms and an INVITE accepted between them: a queue of both timers
  for (let i = 0; i < 8; i++) {
    const bye = request('BYE', { cseq: 2 + i });
    const b = incoming(mgr, bye).tx!;
    b.respond(response(bye, 200));
    byes.push(b);
    const inv = request('INVITE', { cseq: 100 + i });
    const v = incoming(mgr, inv).tx!;
    v.respond(response(inv, 200));
    invites.push(v);
    clock.advance(250);
  }
  t.is(mgr.lingeringCount, 16);
  // Timer 2xx of each INVITE (not acknowledged here) plus one timer for all sixteen lingerers
  t.is(clock.pending, 8 + 1);
  byes[3]!.terminate();
  t.is(mgr.lingeringCount, 15);
  // the first pair began at 0: at 31 999 ms nothing has ended, at 32 000 the first pair ends
  clock.advance(32_000 - 8 * 250 - 1);
  t.true([...byes, ...invites].every((tx) => tx === byes[3] || tx.state !== 'terminated'));
  clock.advance(1);
  t.is(byes[0]!.state, 'terminated');
  t.is(invites[0]!.state, 'terminated');
  t.is(byes[1]!.state, 'completed');
  // then one pair per 250 ms, the one ended early among them without a second ending
  clock.advance(3 * 250);
  t.deepEqual(byes.map((b) => b.state), ['terminated', 'terminated', 'terminated', 'terminated', 'completed', 'completed', 'completed', 'completed']);
  clock.advance(4 * 250);
  t.true([...byes, ...invites].every((tx) => tx.state === 'terminated'));
  t.is(mgr.lingeringCount, 0);
  t.is(mgr.serverCount, 0);
  t.is(clock.pending, 0, 'the shared timer is gone with the last lingerer');
});

test('a lingering non-INVITE server resends the very bytes of its final from its kept copy', (t) => {
  const clock = new VirtualClock();
  const wires: Buffer[] = [];
  const mgr = new TransactionManager({
    clock,
    transport: {
      encode: (msg) => serializeMessage(msg),
      send: (data) => void wires.push(data),
    },
  });
  const bye = request('BYE');
  const tx = incoming(mgr, bye).tx!;
  const ok = response(bye, 200);
  ok.headers.append('Server', 'Linie \u00e9 \u6f22');
  tx.respond(ok);
  clock.advance(10_000);
  t.is(incoming(mgr, bye).result, 'absorbed');
  t.is(wires.length, 2);
  t.true(wires[1]!.equals(wires[0]!), 'the resent final is byte for byte the first (UTF-8 header included)');
  t.is(parseMessage(wires[1]!).type, 'response');
  mgr.terminateAll();
  t.is(clock.pending, 0);
});

test('non-INVITE server: a provisional is resent for retransmissions in Proceeding; TCP has no Timer J', (t) => {
  const { clock, transport, mgr } = setup();
  const req = request('SUBSCRIBE');
  const tx = incoming(mgr, req).tx!;
  tx.respond(response(req, 100));
  incoming(mgr, req);
  t.deepEqual(transport.sent.map((s) => (s.msg as SipResponse).status), [100, 100]);
  tx.respond(response(req, 202));
  clock.advance(64 * 500);
  t.is(clock.pending, 0);

  const s = setup();
  const r2 = request('OPTIONS', { proto: 'TCP' });
  const tx2 = incoming(s.mgr, r2, TCP).tx!;
  tx2.respond(response(r2, 200));
  t.is(tx2.state, 'terminated');
  t.is(s.clock.pending, 0);
});

// ------------------------------------------------------------------ INVITE server

test('INVITE server retransmits a 486 with Timer G until the ACK, then Timer I', (t) => {
  const { clock, transport, mgr } = setup({ trying100DelayMs: -1 });
  const req = request('INVITE');
  const tx = incoming(mgr, req).tx!;
  let terminated = 0;
  tx.onTerminated = () => terminated++;
  tx.respond(response(req, 486));
  clock.advance(8000);
  t.deepEqual(transport.times(), [0, 500, 1500, 3500, 7500]);
  clock.advance(8000); // capped at T2
  t.deepEqual(transport.times(), [0, 500, 1500, 3500, 7500, 11500, 15500]);
  // The INVITE retransmitted: the 486 goes again.
  t.is(incoming(mgr, req).result, 'absorbed');
  t.is(transport.sent.length, 8);
  const ack = request('ACK', { branch: /branch=([^;]+)/.exec(req.headers.get('Via')!)![1]! });
  t.is(incoming(mgr, ack).result, 'absorbed', 'the ACK of a non-2xx belongs to the transaction');
  t.is(tx.state, 'confirmed');
  t.is(incoming(mgr, ack).result, 'absorbed');
  clock.advance(4999);
  t.is(tx.state, 'confirmed');
  clock.advance(1);
  t.is(tx.state, 'terminated');
  t.is(terminated, 1);
  t.is(transport.sent.length, 8, 'no retransmission after the ACK');
  t.is(clock.pending, 0);
});

test('INVITE server without ACK: Timer H at 64*T1 tells the TU', (t) => {
  const { clock, transport, mgr } = setup({ trying100DelayMs: -1 });
  const req = request('INVITE');
  const tx = incoming(mgr, req).tx!;
  let ackTimeouts = 0;
  tx.onAckTimeout = () => ackTimeouts++;
  tx.respond(response(req, 486));
  clock.advance(31_999);
  t.is(ackTimeouts, 0);
  clock.advance(1);
  t.is(ackTimeouts, 1);
  t.is(tx.state, 'terminated');
  t.is(transport.times().at(-1), 31500);
  t.is(clock.pending, 0);
});

test('INVITE server sends 100 Trying after 200 ms only if the TU has not answered', (t) => {
  const { clock, transport, mgr } = setup();
  const req = request('INVITE');
  const tx = incoming(mgr, req).tx!;
  clock.advance(199);
  t.is(transport.sent.length, 0);
  clock.advance(1);
  t.deepEqual(transport.sent.map((s) => (s.msg as SipResponse).status), [100]);
  const trying = transport.sent[0]!.msg as SipResponse;
  t.false(trying.headers.get('To')!.includes('tag='));
  t.is(incoming(mgr, req).result, 'absorbed');
  t.deepEqual(transport.sent.map((s) => (s.msg as SipResponse).status), [100, 100]);
  tx.terminate();

  const s = setup();
  const r2 = request('INVITE');
  const tx2 = incoming(s.mgr, r2).tx!;
  s.clock.advance(50);
  tx2.respond(response(r2, 180));
  s.clock.advance(500);
  t.deepEqual(s.transport.sent.map((x) => (x.msg as SipResponse).status), [180]);
  tx2.terminate();
  t.is(s.clock.pending, 0);

  const i = setup({ trying100DelayMs: 0 });
  const r3 = request('INVITE');
  incoming(i.mgr, r3);
  t.deepEqual(i.transport.sent.map((x) => (x.msg as SipResponse).status), [100]);
});

test('INVITE server 2xx: Accepted, retransmitted until the ACK (new branch), INVITE retransmissions absorbed, Timer L', (t) => {
  const { clock, transport, mgr } = setup({ trying100DelayMs: -1 });
  const req = request('INVITE', { cseq: 5 });
  const tx = incoming(mgr, req).tx!;
  tx.respond(response(req, 200));
  t.is(tx.state, 'accepted');
  clock.advance(4000);
  t.deepEqual(transport.times(), [0, 500, 1500, 3500]);
  t.is(incoming(mgr, req).result, 'absorbed', 'RFC 6026: no new transaction for the retransmitted INVITE');
  t.is(transport.sent.length, 4, 'and no response to it');
  t.is(tx.request, req, 'the INVITE is held while the 2xx is unacknowledged');
  const ack = request('ACK', { cseq: 5 });
  t.is(incoming(mgr, ack).result, 'ack', 'the ACK of a 2xx goes to the TU');
  t.is(tx.request, undefined, 'acknowledged: the lingering transaction lets go of the INVITE');
  clock.advance(10_000);
  t.is(transport.sent.length, 4, 'retransmission stopped by the ACK');
  t.true(tx.respond(response(req, 200)), 'the TU may still send 2xx in Accepted');
  t.false(tx.respond(response(req, 500)));
  clock.advance(32_000);
  t.is(tx.state, 'terminated');
  t.is(clock.pending, 0);
});

test('INVITE server 2xx never ACKed: onAckTimeout at Timer L; retransmission can be turned off', (t) => {
  const { clock, transport, mgr } = setup({ trying100DelayMs: -1 });
  const req = request('INVITE');
  const tx = incoming(mgr, req).tx!;
  let ackTimeouts = 0;
  tx.onAckTimeout = () => ackTimeouts++;
  tx.respond(response(req, 200));
  clock.advance(32_000);
  t.is(ackTimeouts, 1);
  t.deepEqual(transport.times(), [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
  t.is(clock.pending, 0);

  const s = setup({ trying100DelayMs: -1, retransmit2xxUntilAck: false });
  const r2 = request('INVITE');
  const tx2 = incoming(s.mgr, r2).tx!;
  let n = 0;
  tx2.onAckTimeout = () => n++;
  tx2.respond(response(r2, 200));
  s.clock.advance(40_000);
  t.is(s.transport.sent.length, 1);
  t.is(n, 0);
  t.is(s.clock.pending, 0);
});

test('CANCEL gets its own server transaction, distinct from the INVITE it names', (t) => {
  const { mgr } = setup({ trying100DelayMs: -1 });
  const invite = request('INVITE');
  const branch = /branch=([^;]+)/.exec(invite.headers.get('Via')!)![1]!;
  const itx = incoming(mgr, invite).tx!;
  const cancel = request('CANCEL', { branch });
  const c = incoming(mgr, cancel);
  t.is(c.result, 'new');
  t.not(c.tx, itx);
  const inviteKey = serverKey({ ...cancel, method: 'INVITE' }, parseVia(cancel.headers.get('Via')!));
  t.is(mgr.findServer(inviteKey), itx);
  mgr.terminateAll();
});

test('a throwing TU callback does not break the state machine', (t) => {
  const { clock, mgr, userErrors } = setup();
  const req = request('OPTIONS');
  const tx = mgr.createClient(req, UDP, {
    onFinal: () => {
      throw new Error('TU bug');
    },
    onTimeout: () => undefined,
    onTransportError: () => undefined,
  });
  t.true(mgr.receiveResponse(response(req, 200)));
  t.is(userErrors.length, 1);
  t.is(tx.state, 'completed');
  clock.advance(5000);
  t.is(clock.pending, 0);
});

test('a duplicate branch for a new client transaction is refused', (t) => {
  const { mgr } = setup();
  const req = request('OPTIONS', { branch: 'z9hG4bKsame' });
  mgr.createClient(req, UDP, recorder());
  t.throws(() => mgr.createClient(request('OPTIONS', { branch: 'z9hG4bKsame' }), UDP, recorder()));
  mgr.terminateAll();
});

test('INVITE server: the ACK of a non-2xx with a new branch is matched by Call-ID, CSeq and tags; retransmission stops', (t) => {
  const { clock, transport, mgr } = setup({ trying100DelayMs: -1 });
  const req = request('INVITE', { cseq: 3 });
  const tx = incoming(mgr, req).tx!;
  tx.respond(response(req, 488, 'ttag'));
  clock.advance(600);
  t.is(transport.sent.length, 2, 'the 488 and its first retransmission');
  // wrong To tag: not this transaction's ACK (the TU sees it as an ACK of a 2xx)
  const stranger = request('ACK', { cseq: 3 });
  stranger.headers.set('To', '<sip:bob@example.com>;tag=other');
  t.is(incoming(mgr, stranger).result, 'ack');
  t.is(tx.state, 'completed');
  const ack = request('ACK', { cseq: 3 });
  ack.headers.set('To', '<sip:bob@example.com>;tag=ttag');
  t.is(incoming(mgr, ack).result, 'absorbed', 'matched by dialog identifiers despite the new branch');
  t.is(tx.state, 'confirmed');
  clock.advance(40_000);
  t.is(transport.sent.length, 2, 'no retransmission after the ACK');
  t.is(tx.state, 'terminated');
  t.is(clock.pending, 0);
});
