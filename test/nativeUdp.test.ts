/**
 * The native RTP transport (media/nativeUdp.ts) on 127.0.0.1: packets both ways through
 * `RtpSocket` with the source address and the kernel's arrival time, SRTP-free RTCP, busy ports
 * skipped, bad datagrams and bad destinations answered with counts (never a throw), and the
 * fallback to dgram when the transport is switched off. The engine-level call tests run on this
 * transport in CI's native matrix (`LINESCAPE_TEST_RTP_TRANSPORT=native`).
 */
import test from 'ava';
import fc from 'fast-check';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { setNativeLibraryDisabled } from '../ffi/loader.js';
import { libcUdp } from '../ffi/udp.js';
import { parseIpv4, pollNativeUdp } from '../media/nativeUdp.js';
import { RTP_MAX_PARKED_PAIRS, RtpPortAllocator, RtpSocket } from '../media/rtpSocket.js';
import { openFilesLimit } from '../ffi/processLimits.js';
import { createRtpHeader, parseRtp, RtpParseResult, writeRtpHeader } from '../media/rtp.js';
import { packetArrivalMs } from '../media/udpEndpoint.js';
import { peerTest, type ProbedRequirement } from './helpers/env.js';
import { freePorts, udpFree } from './helpers/ports.js';

const HOST = '127.0.0.1';
const probe = libcUdp();
const NATIVE: ProbedRequirement = {
  probed: 'native UDP transport (libc through koffi)',
  missing: typeof probe === 'string' ? probe : undefined,
  aptPackages: ['libc6'],
  then: 'npm rebuild koffi',
};

async function nativeAllocator(): Promise<RtpPortAllocator> {
  const ports = await freePorts(4, { even: true });
  return new RtpPortAllocator({ host: HOST, minPort: ports[0]!, maxPort: ports[3]! + 1, transport: 'native' });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

peerTest.serial('two native sockets exchange RTP; the handler sees the source and the arrival time, not the poll time', [NATIVE], async (t) => {
  const alloc = await nativeAllocator();
  const a = await RtpSocket.open(alloc);
  const b = await RtpSocket.open(alloc);
  if (!a.ok || !b.ok) return t.fail('allocation failed');
  t.teardown(() => Promise.all([a.socket.close(), b.socket.close()]));
  t.is(alloc.transport, 'native');
  t.is(a.socket.transport, 'native');
  t.is(a.socket.host, HOST);
  const seen: Array<{ seq: number; address: string; port: number; arrival: number; delivered: number }> = [];
  const h = createRtpHeader();
  b.socket.onRtp = (buf, len, address, port) => {
    t.is(parseRtp(buf, len, h), RtpParseResult.Ok);
    seen.push({ seq: h.sequence, address, port, arrival: packetArrivalMs(), delivered: performance.now() });
  };
  a.socket.setRemote(HOST, b.socket.rtpPort);
  // Linux turns receive timestamps on for the machine in a deferred work item when the first
  // socket asks (net_enable_timestamp): a datagram before it runs is stamped when read, so the
  // poll's time. Sockets of a process that just started can be the first; give the work a moment.
  await sleep(20);
  const pkt = Buffer.alloc(200);
  const sentFrom = performance.now();
  for (let seq = 1; seq <= 5; seq++) {
    const n = writeRtpHeader(pkt, { marker: false, payloadType: 0, sequence: seq, timestamp: seq * 160, ssrc: 7 });
    t.true(a.socket.sendRtp(pkt, n + 160));
  }
  // a socket's send leaves when it stages the next, its last one when the task ends
  await Promise.resolve();
  const sentTo = performance.now();
  // nothing is delivered until the thread polls (a clock phase, the fallback timer, or by hand):
  // 8 ms without yielding, so no timer polls before this test does
  let spins = 0;
  while (performance.now() - sentTo < 8) spins++;
  t.true(spins > 0);
  t.is(seen.length, 0);
  pollNativeUdp();
  t.deepEqual(
    seen.map((s) => s.seq),
    [1, 2, 3, 4, 5],
  );
  for (const p of seen) {
    t.is(p.address, HOST);
    t.is(p.port, a.socket.rtpPort);
    // the kernel's receive time (loopback delivers inside sendto), not the poll's: read at least
    // 8 ms after the sends, each packet still says it arrived while they were being sent
    t.true(p.arrival >= sentFrom - 1 && p.arrival <= sentTo + 1, `packet ${p.seq}: arrival ${(p.arrival - sentFrom).toFixed(2)} ms after the first send, sends ended at ${(sentTo - sentFrom).toFixed(2)}, delivered at ${(p.delivered - sentFrom).toFixed(2)}`);
    t.true(p.delivered - p.arrival >= 7, `delivered ${(p.delivered - p.arrival).toFixed(2)} ms after its arrival`);
  }
  // symmetric RTP answers to the source, RTCP goes to RTP + 1
  t.deepEqual(b.socket.rtpDestination, { address: HOST, port: a.socket.rtpPort });
  const rtcp = new Promise<number>((resolve) => (a.socket.onRtcp = (_buf, len) => resolve(len)));
  const sr = Buffer.from([0x80, 201, 0, 1, 0, 0, 0, 9]);
  b.socket.setRemote(HOST, a.socket.rtpPort);
  t.true(b.socket.sendRtcp(sr, sr.length));
  t.is(await rtcp, 8, 'delivered by the fallback timer without a clock');
  t.is(b.socket.stats().rtpIn, 5);
  // what a task sends leaves when it ends, all sockets' packets back to back (a far end on this
  // machine is woken once for them); a close sends what it still holds
  const more = writeRtpHeader(pkt, { marker: false, payloadType: 0, sequence: 6, timestamp: 960, ssrc: 7 });
  t.true(a.socket.sendRtp(pkt, more + 160));
  t.true(b.socket.sendRtp(pkt, more + 160));
  t.is(pollNativeUdp(), 0, 'nothing left before the task ended');
  await Promise.resolve();
  t.is(pollNativeUdp(), 2);
  t.true(a.socket.sendRtp(pkt, more + 160));
  await a.socket.close();
  t.is(pollNativeUdp(), 1);
  t.is(b.socket.stats().rtpIn, 7);
  await b.socket.close();
  t.is(alloc.inUse, 0);
});

peerTest.serial('what is sent arrives byte for byte: a stream of one length (copied through a view once it holds), lengths that vary, and one larger than the stage, never read past its buffer', [NATIVE], async (t) => {
  const alloc = await nativeAllocator();
  const a = await RtpSocket.open(alloc);
  const b = await RtpSocket.open(alloc);
  if (!a.ok || !b.ok) return t.fail('allocation failed');
  t.teardown(() => Promise.all([a.socket.close(), b.socket.close()]));
  const got: Buffer[] = [];
  b.socket.onRtp = (buf, len) => got.push(Buffer.from(buf.subarray(0, len)));
  a.socket.setRemote(HOST, b.socket.rtpPort);
  const pkt = Buffer.alloc(1700);
  const sent: Buffer[] = [];
  const lengths = [...Array.from({ length: 20 }, () => 172), 60, 61, 60, 1200, 172, 172];
  for (let i = 0; i < lengths.length; i++) {
    const len = lengths[i]!;
    const n = writeRtpHeader(pkt, { marker: false, payloadType: 0, sequence: i, timestamp: i * 160, ssrc: 9 });
    for (let k = n; k < len; k++) pkt[k] = (i * 31 + k) & 255;
    t.true(a.socket.sendRtp(pkt, len));
    sent.push(Buffer.from(pkt.subarray(0, len)));
    // one packet per task, as a clock phase sends them
    await Promise.resolve();
    await sleep(1);
    pollNativeUdp();
  }
  // larger than the stage: sent from the caller's buffer, and a length past its end is cut to it
  const big = Buffer.alloc(1600, 0x5a);
  writeRtpHeader(big, { marker: false, payloadType: 0, sequence: 99, timestamp: 0, ssrc: 9 });
  t.true(a.socket.sendRtp(big, 2000));
  await sleep(5);
  pollNativeUdp();
  t.is(got.length, lengths.length + 1);
  for (let i = 0; i < lengths.length; i++) t.true(got[i]!.equals(sent[i]!), `packet ${i} (${lengths[i]} bytes) arrived as sent`);
  t.true(got[lengths.length]!.equals(big), 'the large packet is its buffer, no more');
});

peerTest.serial('a busy port is skipped; garbage, an oversized datagram and a bad destination are counted, never thrown', [NATIVE], async (t) => {
  const ports = await freePorts(4, { even: true });
  const squatter = dgram.createSocket('udp4');
  squatter.bind(ports[0], HOST);
  await once(squatter, 'listening');
  t.teardown(() => squatter.close());
  const alloc = new RtpPortAllocator({ host: HOST, minPort: ports[0]!, maxPort: ports[3]! + 1, transport: 'native' });
  const r = await RtpSocket.open(alloc);
  if (!r.ok) return t.fail(r.message);
  const s = r.socket;
  t.teardown(() => s.close());
  t.not(s.rtpPort, ports[0]);
  t.is(alloc.transport, 'native');
  const got: number[] = [];
  s.onRtp = (_buf, len) => {
    got.push(len);
    if (len === 3) throw new Error('a handler that throws');
  };
  const raw = dgram.createSocket('udp4');
  t.teardown(() => raw.close());
  raw.send(Buffer.from([1, 2, 3]), s.rtpPort, HOST);
  raw.send(Buffer.alloc(4000, 0x80), s.rtpPort, HOST);
  raw.send(Buffer.alloc(172, 0x80), s.rtpPort, HOST);
  await sleep(30);
  pollNativeUdp();
  t.deepEqual(got, [3, 2048, 172], 'an oversized datagram arrives cut to the receive buffer');
  t.is(s.stats().handlerErrors, 1);
  // a destination that is no address at all: an error count, no exception
  const errors: string[] = [];
  s.onError = (err) => errors.push(err.message);
  s.setRemote('not an address', 4000);
  t.true(s.sendRtp(Buffer.alloc(172), 172));
  t.is(s.stats().errors, 1);
  t.regex(errors[0] ?? '', /not an IPv4 address/);
  // a host name (SDP may give one) is resolved once; what is sent before the answer is dropped
  const named = new Promise<number>((resolve) => {
    raw.on('message', (m) => resolve(m.length));
  });
  const rawPort = (raw.address() as { port: number }).port;
  s.setRemote('localhost', rawPort);
  s.sendRtp(Buffer.alloc(172, 0x80), 172);
  await sleep(100);
  s.sendRtp(Buffer.alloc(172, 0x80), 172);
  t.is(await named, 172);
  t.is(s.stats().errors, 1, 'the name cost no error');
  await s.close();
  // sends after close are ignored
  t.false(s.sendRtp(Buffer.alloc(172), 172));
});

peerTest.serial('switched off (LINESCAPE_DISABLE_NATIVE=udp), an allocator asking for native binds dgram and says why', [NATIVE], async (t) => {
  setNativeLibraryDisabled('udp', true);
  t.teardown(() => setNativeLibraryDisabled('udp', false));
  const alloc = await nativeAllocator();
  const r = await RtpSocket.open(alloc);
  if (!r.ok) return t.fail(r.message);
  t.is(r.socket.transport, 'dgram');
  t.is(alloc.transport, 'dgram');
  t.regex(alloc.transportNote, /disabled/);
  await r.socket.close();
});

peerTest.serial('a pair given back is parked: what reaches it is dropped, the next call takes it after the quarantine with nothing stale, close() frees it', [NATIVE], async (t) => {
  let now = 0;
  const ports = await freePorts(3, { even: true });
  const alloc = new RtpPortAllocator({ host: HOST, minPort: ports[0]!, maxPort: ports[2]! + 1, transport: 'native', parkQuarantineMs: 1000, now: () => now });
  t.teardown(() => alloc.close());
  const peer = dgram.createSocket('udp4');
  await new Promise<void>((r) => peer.bind(0, HOST, () => r()));
  t.teardown(() => peer.close());
  const heard: number[] = [];
  peer.on('message', (m) => heard.push(m.length));
  const send = async (port: number, count: number): Promise<void> => {
    for (let i = 0; i < count; i++) peer.send(Buffer.alloc(60 + i, 0x80), port, HOST);
    await sleep(50);
  };

  const a = await RtpSocket.open(alloc);
  if (!a.ok) return t.fail(a.message);
  const parkedPort = a.socket.rtpPort;
  await a.socket.close();
  t.is(alloc.parkedCount, 1, 'parked, not closed');
  t.is(alloc.inUse, 0, 'a parked pair is not in use');
  t.false(await udpFree(parkedPort), 'still bound');
  // packets of the former call reaching the parked pair are read and dropped
  await send(parkedPort, 3);
  while (pollNativeUdp() > 0);

  const b = await RtpSocket.open(alloc);
  if (!b.ok) return t.fail(b.message);
  t.teardown(() => b.socket.close());
  t.not(b.socket.rtpPort, parkedPort, 'in quarantine: a fresh pair is bound');

  // two more, still queued when the pair is handed out: loopback queues them inside the
  // sender's sendto, and no timer (the poller's fallback) runs before the poll below
  const otherPorts = await freePorts(1, { even: true });
  const senderAlloc = new RtpPortAllocator({ host: HOST, minPort: otherPorts[0]!, maxPort: otherPorts[0]! + 1, transport: 'native' });
  t.teardown(() => senderAlloc.close());
  const sender = await RtpSocket.open(senderAlloc);
  if (!sender.ok) return t.fail(sender.message);
  t.teardown(() => sender.socket.close());
  sender.socket.setRemote(HOST, parkedPort);
  sender.socket.sendRtp(Buffer.alloc(100, 0x80), 100);
  sender.socket.sendRtp(Buffer.alloc(101, 0x80), 101);
  await Promise.resolve(); // the staged packet's flush

  now = 1000;
  const c = await RtpSocket.open(alloc);
  if (!c.ok) return t.fail(c.message);
  t.teardown(() => c.socket.close());
  t.is(c.socket.rtpPort, parkedPort, 'after the quarantine the parked pair is handed out');
  t.is(alloc.parkedCount, 0);
  const got: { len: number; port: number }[] = [];
  c.socket.onRtp = (_buf, len, _address, port) => got.push({ len, port });
  while (pollNativeUdp() > 0);
  t.deepEqual(got, [], 'nothing of the former call reaches the new one');
  await send(parkedPort, 1);
  while (pollNativeUdp() > 0);
  t.deepEqual(got, [{ len: 60, port: peer.address().port }], "the new call's packets do");
  c.socket.setRemote(HOST, peer.address().port);
  c.socket.sendRtp(Buffer.alloc(172, 0x80), 172);
  await sleep(50);
  t.deepEqual(heard, [172], 'and it sends to its own far end');

  await c.socket.close();
  t.is(alloc.parkedCount, 1);
  alloc.close();
  t.is(alloc.parkedCount, 0);
  t.true(await udpFree(parkedPort), 'close() closed the parked pair');
  t.true(await udpFree(parkedPort + 1));
});

peerTest.serial('parking: a full range hands out a pair still in quarantine; at most half the range is parked; parkQuarantineMs 0 closes every pair given back', [NATIVE], async (t) => {
  const ports = await freePorts(2, { even: true });
  const two = new RtpPortAllocator({ host: HOST, minPort: ports[0]!, maxPort: ports[1]! + 1, transport: 'native', now: () => 0 });
  t.teardown(() => two.close());
  const x = await RtpSocket.open(two);
  if (!x.ok) return t.fail(x.message);
  t.teardown(() => x.socket.close());
  const a = await RtpSocket.open(two);
  if (!a.ok) return t.fail(a.message);
  await a.socket.close();
  t.is(two.parkedCount, 1);
  const b = await RtpSocket.open(two);
  if (!b.ok) return t.fail(b.message);
  t.is(b.socket.rtpPort, a.socket.rtpPort, 'the only pair left, parked a moment ago');
  await b.socket.close();
  t.is(two.parkedCount, 1, 'half the range (one pair) may be parked');
  await x.socket.close();
  t.is(two.parkedCount, 1, 'no more than half: the second pair given back is closed');
  t.true(await udpFree(x.socket.rtpPort));

  const [other] = await freePorts(1, { even: true });
  const off = new RtpPortAllocator({ host: HOST, minPort: other!, maxPort: other! + 1, transport: 'native', parkQuarantineMs: 0 });
  const d = await RtpSocket.open(off);
  if (!d.ok) return t.fail(d.message);
  await d.socket.close();
  t.is(off.parkedCount, 0);
  t.true(await udpFree(d.socket.rtpPort), 'closed at once');
});

test('parking cap: the default is 4 096 pairs within an eighth of the open-files limit and half the range; an explicit cap only within half the range', (t) => {
  const files = openFilesLimit();
  if (process.platform === 'linux') t.true(files !== null && Number.isInteger(files) && files > 0, `open-files limit read: ${files}`);
  const bound = files === null ? Infinity : Math.floor(files / 8);
  // constructing binds nothing: these ports are never opened
  const wide = new RtpPortAllocator({ host: HOST, minPort: 2000, maxPort: 65535, transport: 'native' });
  t.is(wide.maxParked, Math.min(RTP_MAX_PARKED_PAIRS, bound, Math.floor(wide.pairs / 2)));
  const dflt = new RtpPortAllocator({ host: HOST, minPort: 20000, maxPort: 29999, transport: 'native' });
  t.is(dflt.maxParked, Math.min(2500, RTP_MAX_PARKED_PAIRS, bound), 'the default range parks up to half its 5 000 pairs');
  t.is(new RtpPortAllocator({ host: HOST, minPort: 20000, maxPort: 29999, transport: 'native', maxParkedPairs: 3000 }).maxParked, 2500, 'an explicit cap stays within half the range');
  t.is(new RtpPortAllocator({ host: HOST, minPort: 20000, maxPort: 29999, transport: 'native', maxParkedPairs: 10 }).maxParked, 10);
  t.is(new RtpPortAllocator({ host: HOST, minPort: 20000, maxPort: 29999, transport: 'native', parkQuarantineMs: 0 }).maxParked, 0, 'parking off');
});

test('destination addresses: every dotted quad parses to its number, anything else to -1', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), (a, b, c, d) => {
      return parseIpv4(`${a}.${b}.${c}.${d}`) === ((a << 24) >>> 0) + (b << 16) + (c << 8) + d;
    }),
  );
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', '.1.2.3', '1.2.3.', 'a.b.c.d', '1.2.3.4 ', '1234.1.1.1', '::1', 'localhost', '-1.2.3.4']) {
    t.is(parseIpv4(bad), -1, JSON.stringify(bad));
  }
  t.is(parseIpv4('127.0.0.1'), 0x7f000001);
  t.is(parseIpv4('0.0.0.0'), 0);
});

peerTest.serial('sending allocates nothing per packet, and reading a datagram nothing in Node\'s Buffer code: a sampling heap profile of 300 000 datagrams', [NATIVE], async (t) => {
  const { Session } = await import('node:inspector/promises');
  // as a phase group sends: 50 calls' sockets, one packet each per task, to one receiver
  const ports = await freePorts(60, { even: true });
  const alloc = new RtpPortAllocator({ host: HOST, minPort: Math.min(...ports), maxPort: Math.max(...ports) + 1, transport: 'native' });
  const rx = await RtpSocket.open(alloc);
  if (!rx.ok) return t.fail('allocation failed');
  t.teardown(() => rx.socket.close());
  const senders: RtpSocket[] = [];
  for (let k = 0; k < 50; k++) {
    const r = await RtpSocket.open(alloc);
    if (!r.ok) return t.fail('allocation failed');
    t.teardown(() => r.socket.close());
    r.socket.setRemote(HOST, rx.socket.rtpPort);
    senders.push(r.socket);
  }
  let received = 0;
  rx.socket.onRtp = () => received++;
  // each call's packet buffer: larger than any packet, the packet is its first bytes
  const pkts = senders.map(() => Buffer.alloc(1500));
  const hdr = { marker: false, payloadType: 0, sequence: 0, timestamp: 0, ssrc: 7 };
  const tasks = async (count: number): Promise<void> => {
    for (let i = 0; i < count; i++) {
      hdr.sequence = i & 0xffff;
      hdr.timestamp = i * 160;
      for (let k = 0; k < senders.length; k++) {
        const n = writeRtpHeader(pkts[k]!, hdr);
        senders[k]!.sendRtp(pkts[k]!, n + 160);
      }
      await new Promise((r) => setImmediate(r));
      while (pollNativeUdp() > 0); // the receiver's reads, as a media clock's phase does them
    }
  };
  await tasks(40); // warm: compiled code, each socket's stage made once
  const session = new Session();
  session.connect();
  t.teardown(() => session.disconnect());
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', { samplingInterval: 32, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  const rounds = 6000;
  const packets = rounds * senders.length;
  await tasks(rounds);
  const { profile } = await session.post('HeapProfiler.stopSampling');
  type Node = { callFrame: { functionName: string; url: string }; selfSize: number; children: Node[] };
  // what the send path (under sendRtp) allocates itself: the media modules, and Node's Buffer
  // code, where a partial Buffer#copy made a view per packet. The receive path (under
  // pollNativeUdp) is held to Node's Buffer code, where a 64-bit write through writeBigUInt64LE
  // made BigInts per datagram read; its own frames still box a few numbers per datagram (the
  // arrival times handed on), logged here. The task's one queued flush is scheduling, one per
  // task whatever the packets, and V8's builtins are charged a few KB at random.
  const isBuffer = (url: string): boolean => url === 'node:buffer' || url === 'node:internal/buffer';
  const sites = { send: new Map<string, number>(), receive: new Map<string, number>(), receiveMedia: new Map<string, number>() };
  const walk = (n: Node, under: 'send' | 'receive' | null): void => {
    const fn = n.callFrame.functionName;
    const here = under ?? (fn === 'sendRtp' ? 'send' : fn === 'pollNativeUdp' ? 'receive' : null);
    const url = n.callFrame.url;
    if (here !== null && n.selfSize > 0) {
      const site = `${fn} ${url.split('/').slice(-2).join('/')}`;
      const into = isBuffer(url) || (here === 'send' && url.includes('/media/')) ? sites[here] : here === 'receive' && url.includes('/media/') ? sites.receiveMedia : null;
      into?.set(site, (into.get(site) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c, here);
  };
  walk(profile.head, null);
  const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, v) => a + v, 0);
  t.log(`sampled bytes: send path ${sum(sites.send)}, receive path in Node's Buffer code ${sum(sites.receive)}, in the media modules ${sum(sites.receiveMedia)}, for ${packets} packets`, [...sites.send], [...sites.receive]);
  for (const path of ['send', 'receive'] as const) {
    const bytes = sum(sites[path]);
    // (charges that come and go from run to run, not with the packets, reached ~30 KB in 20 runs;
    // a per-packet allocation, the view or the BigInts, is charged 178 KB or more)
    t.true(bytes < packets / 4, `${path}: less than a quarter byte per packet (got ${bytes}: ${JSON.stringify([...sites[path]])})`);
  }
  await sleep(20);
  while (pollNativeUdp() > 0);
  t.true(received >= packets, `the packets went out (${received} of ${40 * senders.length + packets} received)`);
});
