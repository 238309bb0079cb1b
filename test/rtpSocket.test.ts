/**
 * RTP sockets on 127.0.0.1: packet exchange both ways, symmetric RTP, rtcp-mux, the port
 * allocator (even ports in range, busy ports skipped, exhaustion as a result, release).
 */
import test from 'ava';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { RtpPortAllocator, RtpSocket, type RtpPortPair } from '../media/rtpSocket.js';
import { createRtpHeader, parseRtp, RtpParseResult, writeRtpHeader } from '../media/rtp.js';
import { parseRtcp, writeRtcpCompound } from '../media/rtcp.js';
import { freePorts } from './helpers/ports.js';

const HOST = '127.0.0.1';

/** A fresh block of 8 ports reserved for this test: [base, base + 7]. */
async function range(): Promise<{ minPort: number; maxPort: number }> {
  const ports = await freePorts(4, { even: true });
  return { minPort: ports[0]!, maxPort: ports[3]! + 1 };
}

function next(handler: 'onRtp' | 'onRtcp', s: RtpSocket): Promise<{ buf: Buffer; len: number; address: string; port: number }> {
  return new Promise((resolve) => {
    s[handler] = (buf, len, address, port) => resolve({ buf, len, address, port });
  });
}

async function openPair(t: { teardown(fn: () => unknown): void }, mux = false): Promise<[RtpSocket, RtpSocket, RtpPortAllocator]> {
  const alloc = new RtpPortAllocator({ host: HOST, ...(await range()) });
  const ra = await RtpSocket.open(alloc, { rtcpMux: mux });
  const rb = await RtpSocket.open(alloc, { rtcpMux: mux });
  if (!ra.ok || !rb.ok) throw new Error('allocation failed');
  t.teardown(() => ra.socket.close());
  t.teardown(() => rb.socket.close());
  return [ra.socket, rb.socket, alloc];
}

test('two sockets exchange RTP and RTCP; symmetric RTP answers to the source', async (t) => {
  const [a, b] = await openPair(t);
  t.is(a.rtpPort % 2, 0);
  t.is(a.rtcpPort, a.rtpPort + 1);
  t.is(a.host, HOST);

  const pkt = Buffer.alloc(1500);
  const n = writeRtpHeader(pkt, { marker: true, payloadType: 0, sequence: 7, timestamp: 160, ssrc: 99 });
  pkt.fill(0xd5, n, n + 160);

  t.false(a.sendRtp(pkt, n + 160), 'no destination yet');
  a.setRemote(HOST, b.rtpPort);
  const got = next('onRtp', b);
  t.true(a.sendRtp(pkt, n + 160));
  const rx = await got;
  t.is(rx.len, 172);
  t.is(rx.address, HOST);
  t.is(rx.port, a.rtpPort);
  const h = createRtpHeader();
  t.is(parseRtp(rx.buf, rx.len, h), RtpParseResult.Ok);
  t.is(h.sequence, 7);

  // b never got a remote from "SDP": it answers to where a's packets came from
  t.deepEqual(b.rtpDestination, { address: HOST, port: a.rtpPort });
  const back = next('onRtp', a);
  t.true(b.sendRtp(pkt, 12));
  t.is((await back).len, 12);

  // RTCP goes RTCP port to RTCP port
  const rtcp = Buffer.alloc(200);
  const len = writeRtcpCompound(rtcp, 0, { ssrc: 99, cname: 'a@test' });
  const gotRtcp = next('onRtcp', b);
  t.true(a.sendRtcp(rtcp, len));
  const rr = await gotRtcp;
  t.is(rr.port, a.rtcpPort);
  const parsed = parseRtcp(rr.buf, rr.len);
  t.true(parsed.ok);

  const sa = a.stats();
  t.is(sa.rtpOut, 1);
  t.is(sa.rtcpOut, 1);
  t.is(sa.noDestination, 1);
  t.is(sa.rtpIn, 1);
});

test('rtcp-mux: RTCP travels on the RTP port and is demultiplexed', async (t) => {
  const [a, b] = await openPair(t, true);
  a.setRemote(HOST, b.rtpPort);
  const rtp = Buffer.alloc(20);
  writeRtpHeader(rtp, { marker: false, payloadType: 8, sequence: 1, timestamp: 0, ssrc: 1 });
  const rtcp = Buffer.alloc(200);
  const len = writeRtcpCompound(rtcp, 0, { ssrc: 1, cname: 'mux' });
  const gotRtp = next('onRtp', b);
  const gotRtcp = next('onRtcp', b);
  a.sendRtp(rtp, 20);
  a.sendRtcp(rtcp, len);
  const [r1, r2] = await Promise.all([gotRtp, gotRtcp]);
  t.is(r1.len, 20);
  t.is(r2.len, len);
  t.is(r2.port, a.rtpPort, 'sent from the RTP port');
  t.is(b.stats().rtcpIn, 1);
  t.is(b.stats().rtpIn, 1);
});

test('a throwing handler is counted, the socket keeps working', async (t) => {
  const [a, b] = await openPair(t);
  a.setRemote(HOST, b.rtpPort);
  let calls = 0;
  const twice = new Promise<void>((resolve) => {
    b.onRtp = () => {
      calls++;
      if (calls === 2) resolve();
      throw new Error('bad handler');
    };
  });
  const pkt = Buffer.alloc(12);
  a.sendRtp(pkt, 12);
  a.sendRtp(pkt, 12);
  await twice;
  t.is(b.stats().handlerErrors, 2);
});

test('allocator: even ports within the range, busy pairs skipped, exhaustion is a result', async (t) => {
  const { minPort, maxPort } = await range(); // 4 pairs
  // someone else holds the first RTP port and the second pair's RTCP port
  const squatters = [dgram.createSocket('udp4'), dgram.createSocket('udp4')];
  squatters[0]!.bind(minPort, HOST);
  squatters[1]!.bind(minPort + 3, HOST);
  await Promise.all(squatters.map((s) => once(s, 'listening')));
  t.teardown(() => squatters.forEach((s) => s.close()));

  const alloc = new RtpPortAllocator({ host: HOST, minPort, maxPort });
  t.is(alloc.pairs, 4);
  const p1 = await alloc.allocate();
  const p2 = await alloc.allocate();
  const p3 = await alloc.allocate();
  t.true(p1.ok && p2.ok);
  t.false(p3.ok);
  if (!p1.ok || !p2.ok || p3.ok) return;
  t.is(p1.rtpPort, minPort + 4);
  t.is(p2.rtpPort, minPort + 6);
  t.is(p3.error, 'exhausted');
  t.is(alloc.inUse, 2);
  for (const p of [p1, p2]) {
    t.is(p.rtpPort % 2, 0);
    t.true(p.rtpPort >= minPort && p.rtcpPort <= maxPort);
  }
  // give one back: it can be had again
  const s1 = new RtpSocket(p1, alloc);
  await s1.close();
  t.is(alloc.inUse, 1);
  const p4 = await alloc.allocate();
  t.true(p4.ok);
  if (p4.ok) t.is(p4.rtpPort, minPort + 4);
  const s2 = new RtpSocket(p2, alloc);
  await s2.close();
  if (p4.ok) await new RtpSocket(p4, alloc).close();
  t.is(alloc.inUse, 0);
});

test('allocator: random strategy, odd bounds, concurrent allocations never share a pair', async (t) => {
  const { minPort, maxPort } = await range();
  const alloc = new RtpPortAllocator({ host: HOST, minPort: minPort - 1 + 2, maxPort, strategy: 'random' });
  // minPort + 1 is odd: the range starts at the next even port
  t.is(alloc.firstPort, minPort + 2);
  t.is(alloc.pairs, 3);
  const all = await Promise.all([alloc.allocate(), alloc.allocate(), alloc.allocate(), alloc.allocate()]);
  const ok = all.filter((p): p is RtpPortPair => p.ok);
  t.is(ok.length, 3);
  t.is(all.filter((p) => !p.ok).length, 1);
  const ports = ok.map((p) => p.rtpPort).sort((x, y) => x - y);
  t.deepEqual(ports, [minPort + 2, minPort + 4, minPort + 6]);
  await Promise.all(ok.map((p) => new RtpSocket(p, alloc).close()));
  t.is(alloc.inUse, 0);
});

test('allocator: an empty range and an unbindable host are errors, not exceptions', async (t) => {
  const empty = new RtpPortAllocator({ host: HOST, minPort: 40001, maxPort: 40001 });
  const e = await empty.allocate();
  t.false(e.ok);
  if (!e.ok) t.is(e.error, 'exhausted');
  const { minPort, maxPort } = await range();
  // 192.0.2.1 (TEST-NET-1) is not an address of this machine: bind fails locally, nothing is sent
  const bad = new RtpPortAllocator({ host: '192.0.2.1', minPort, maxPort });
  const r = await bad.allocate();
  t.false(r.ok);
  if (!r.ok) t.is(r.error, 'bind-failed');
  t.is(bad.inUse, 0);
});

test('closing twice is harmless and sends after close are ignored', async (t) => {
  const [a, b] = await openPair(t);
  a.setRemote(HOST, b.rtpPort);
  await a.close();
  await a.close();
  t.false(a.sendRtp(Buffer.alloc(12), 12));
  a.send(Buffer.alloc(12), 12, b.rtpPort, HOST);
  t.pass();
});
