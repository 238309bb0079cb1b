/**
 * The overload guard and SIP that waits in the UDP ingress (sip/udpIngress.ts): when signalling
 * gives way to media, a storm shows as datagrams waiting in the ingress queue, not as event-loop
 * lag (the lag timer runs between the batches). The guard judges the age of the oldest waiting
 * datagram beside its lag: in virtual time with fake probes and a fake gate, then on a real
 * socket, where a slow application hook makes SIP queue for long and the engine answers 503.
 */
import test from 'ava';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import type dgram from 'node:dgram';
import { VirtualClock } from '../sip/clock.js';
import { UdpIngress } from '../sip/udpIngress.js';
import { parseMessage } from '../sip/parser.js';
import { LAG_SAMPLE_MS, OverloadGuard, SIGNALLING_BACKLOG_MIN, type OverloadSheddingData } from '../engine/overload.js';
import { TelephonyReturnValue as T } from '../index.js';
import { startEngine } from './helpers/engine.js';
import { sipRequest } from './helpers/sipUdp.js';
import { freePort } from './helpers/ports.js';
import { until } from './helpers/observe.js';

const FROM: dgram.RemoteInfo = { address: '127.0.0.1', family: 'IPv4', port: 5060, size: 1 };
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

test('the ingress reports how long its oldest waiting datagram has waited (the one in hand no longer waits)', async (t) => {
  let now = 1000;
  let yieldNow = false;
  const ages: number[] = [];
  const ingress = new UdpIngress(
    { shouldYield: () => yieldNow },
    () => {
      now += 5; // each datagram takes 5 ms to handle
      ages.push(ingress.oldestQueuedAgeMs());
    },
    () => now,
  );
  t.is(ingress.oldestQueuedAgeMs(), 0, 'nothing waits');
  ingress.receive(Buffer.from('a'), FROM);
  t.deepEqual(ages, [0], 'handled inline: nothing waits behind it');
  yieldNow = true;
  ingress.receive(Buffer.from('b'), FROM);
  now += 10;
  ingress.receive(Buffer.from('c'), FROM);
  now += 30;
  t.is(ingress.oldestQueuedAgeMs(), 40, 'b arrived 40 ms ago');
  t.is(ingress.waiting, 2);
  await turn(); // one datagram per batch (the gate says stop)
  t.is(ages[1], 35, 'while b is handled, c waits behind it: it arrived 10 ms after b, 5 ms of handling ago');
  t.is(ingress.oldestQueuedAgeMs(), 35);
  await turn();
  t.is(ages[2], 0, 'c, the last: nothing behind it');
  t.is(ingress.oldestQueuedAgeMs(), 0, 'drained');
  ingress.close();
});

test('a clock that is always due cannot starve signalling: a queue waiting 20 ms gets 2 ms of handling per turn', async (t) => {
  let now = 1000;
  let handled = 0;
  // the media clock is always due (a loaded machine): the gate says stop at every datagram
  const ingress = new UdpIngress(
    { shouldYield: () => true },
    () => {
      now += 0.5;
      handled++;
    },
    () => now,
  );
  ingress.receive(Buffer.from('first'), FROM); // handled inline; the batch that follows must stop
  for (let i = 0; i < 20; i++) ingress.receive(Buffer.from(String(i)), FROM);
  t.is(ingress.waiting, 20);
  await turn();
  t.is(handled, 2, 'fresh queue: one datagram per turn, media first');
  now += 25; // the oldest now waited over 20 ms
  await turn();
  t.is(handled, 6, 'starved: 2 ms of handling in this turn (4 datagrams of 0.5 ms)');
  ingress.close();
});

/** A guard on a virtual clock whose only pressure is the probe's queue age. */
function queueRig(maxEventLoopLagMs = 200) {
  const clock = new VirtualClock();
  const probe = { queueAge: 0, queueLength: 0 };
  const shedding: OverloadSheddingData[] = [];
  const guard = new OverloadGuard(
    clock,
    () => ({ maxPendingIncomingCalls: 0, retryAfterSeconds: 5, maxEventLoopLagMs }),
    { pendingIncomingCalls: () => 0, notificationBacklog: () => 0, rtpPortsExhausted: () => false, signallingQueueAgeMs: () => probe.queueAge, signallingQueueLength: () => probe.queueLength },
    { shedding: (d) => shedding.push(d), recovered: () => undefined, shed: () => undefined },
  );
  guard.start();
  return { clock, probe, guard, shedding };
}

test('SIP waiting in the ingress for long sheds new requests like a lagging loop, while the backlog lasts', (t) => {
  const { clock, probe, guard, shedding } = queueRig(200);
  probe.queueAge = 150;
  probe.queueLength = 500;
  clock.advance(5 * LAG_SAMPLE_MS);
  t.is(guard.screen(false), undefined, 'below the limit');
  probe.queueAge = 400;
  probe.queueLength = SIGNALLING_BACKLOG_MIN - 1;
  t.is(guard.screen(false), undefined, 'a few old datagrams (retransmissions) are no backlog');
  probe.queueLength = SIGNALLING_BACKLOG_MIN;
  t.deepEqual(guard.screen(true), { cause: 'eventLoopLag', retryAfterSeconds: 5 }, 'judged live: SIP is 400 ms behind now');
  t.is(shedding.length, 1);
  t.is(shedding[0]!.signallingQueueAgeMs, 400, 'the episode says how long SIP waited');
  t.is(shedding[0]!.eventLoopLagMs, 0, 'while the lag timer itself was on time');
  t.is(guard.counters().signallingQueueAgeMs, 400);
  t.is(guard.screen(false)?.cause, 'eventLoopLag');
  probe.queueAge = 0; // the backlog is gone
  probe.queueLength = 0;
  t.is(guard.screen(false), undefined, 'the next request is taken');
  t.is(guard.counters().shed.eventLoopLag, 2);
  guard.stop();
});

test('the queue age is not watched when maxEventLoopLagMs is 0', (t) => {
  const { clock, probe, guard } = queueRig(0);
  probe.queueAge = 10_000;
  probe.queueLength = 10_000;
  clock.advance(20 * LAG_SAMPLE_MS);
  t.is(guard.screen(true), undefined);
  guard.stop();
});

test('real socket: a storm of OPTIONS that queues behind a slow application hook is answered 503 with Retry-After, not silently delayed', async (t) => {
  const e = await startEngine(t, { maxEventLoopLagMs: 100, overloadRetryAfterSeconds: 2, mediaWorkers: 0 });
  t.is(e.engine.enableSipMessageHook(true), T.SipSuccess);
  // the application's hook runs for every received message, inside the datagram's handling
  e.engine.on('SipModifySipMessage', (n) => {
    if (n.data.direction !== 'received') return;
    const end = performance.now() + 4;
    while (performance.now() < end) {
      /* a slow handler */
    }
  });
  const sock = createSocket('udp4');
  sock.bind(await freePort(), '127.0.0.1');
  await once(sock, 'listening');
  t.teardown(() => sock.close());
  const local = sock.address().port;
  const answers = new Map<string, { status: number; retryAfter: string | undefined }>();
  sock.on('message', (buf) => {
    try {
      const m = parseMessage(buf);
      if (m.type === 'response' && m.status >= 200) answers.set(m.headers.get('Call-ID') ?? '', { status: m.status, retryAfter: m.headers.get('Retry-After') });
    } catch {
      /* not SIP */
    }
  });
  const N = 300;
  for (let i = 0; i < N; i++) {
    sock.send(sipRequest({ method: 'OPTIONS', enginePort: e.port, localPort: local, branch: `q${i}`, callId: `queue-${i}`, cseq: 1 }), e.port, '127.0.0.1');
  }
  // every request gets a final answer (UDP retransmissions are the stack's, none here)
  await until(() => answers.size >= N, 60_000);
  const statuses = [...answers.values()];
  const shed = statuses.filter((a) => a.status === 503);
  t.true(shed.length > 0, `answers: ${statuses.filter((a) => a.status === 200).length} x 200, ${shed.length} x 503`);
  t.true(shed.every((a) => a.retryAfter === '2'), 'every 503 carries Retry-After');
  t.true(statuses.every((a) => a.status === 200 || a.status === 503));
  const episode = await e.waitFor(T.SipOverloadShedding);
  t.is(episode.data.cause, 'eventLoopLag');
  t.true((episode.data.signallingQueueAgeMs ?? 0) > 0, `the episode saw SIP waiting: ${JSON.stringify(episode.data)}`);
});
