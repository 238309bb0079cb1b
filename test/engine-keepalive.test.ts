/**
 * Keep-alive traffic (sendSipKeepAlive over UDP and TCP, enableKeepAliveTransmissions) and the
 * registration refresh schedule, run in virtual time where timers matter.
 */
import test from 'ava';
import { createSocket } from 'node:dgram';
import { createServer, type Socket as TcpSocket } from 'node:net';
import { once } from 'node:events';
import { TelephonyReturnValue as T, VirtualClock } from '../index.js';
import { startEngine, sleep } from './helpers/engine.js';
import { until } from './helpers/observe.js';

/** Generous limit for datagrams on loopback to arrive on a loaded machine (a wait, not a judgement). */
const ARRIVAL_LIMIT_MS = 15_000;

test('sendSipKeepAlive sends CRLF datagrams at the interval and stops when disabled', async (t) => {
  const clock = new VirtualClock();
  const { engine } = await startEngine(t, {}, { clock });
  const sink = createSocket('udp4');
  sink.bind(0, '127.0.0.1');
  await once(sink, 'listening');
  t.teardown(() => sink.close());
  const got: Buffer[] = [];
  sink.on('message', (m) => got.push(m));
  t.is(await engine.sendSipKeepAlive('localhost', sink.address().port, true, 15), T.SipSuccess);
  await until(() => got.length >= 1, ARRIVAL_LIMIT_MS);
  t.is(got.length, 1, 'one keep-alive at once');
  clock.advance(15_000);
  clock.advance(15_000);
  await until(() => got.length >= 3, ARRIVAL_LIMIT_MS);
  t.is(got.length, 3);
  for (const m of got) t.true(/^(\r\n)+$/.test(m.toString('latin1')), 'only CR/LF bytes');
  t.is(await engine.sendSipKeepAlive('localhost', sink.address().port, false, 15), T.SipSuccess);
  clock.advance(60_000);
  await sleep(50);
  t.is(got.length, 3, 'disabled');
  t.is(await engine.sendSipKeepAlive('nosuchhost.invalid', 5060, true, 15), T.SipUnknownHost);
  t.is(await engine.sendSipKeepAlive('127.0.0.1', 5060, true, 0), T.SipBadParameter);
  t.is(await engine.sendSipKeepAlive('127.0.0.1', 0, true, 10), T.SipBadParameter);
  t.is(await engine.sendSipKeepAlive('127.0.0.1', 5060, true, 10, 'SCTP' as never), T.SipBadParameter);
});

test('sendSipKeepAlive over TCP sends the RFC 5626 double CRLF', async (t) => {
  const { engine } = await startEngine(t, {});
  const chunks: Buffer[] = [];
  const conns: TcpSocket[] = [];
  const server = createServer((c) => {
    conns.push(c);
    c.on('data', (d) => chunks.push(d));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    for (const c of conns) c.destroy();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  t.is(await engine.sendSipKeepAlive('127.0.0.1', port, true, 30, 'TCP'), T.SipSuccess);
  for (let i = 0; i < 50 && Buffer.concat(chunks).length < 4; i++) await sleep(20);
  t.is(Buffer.concat(chunks).toString('latin1'), '\r\n\r\n');
  await engine.sendSipKeepAlive('127.0.0.1', port, false, 30, 'TCP');
});

test('enableKeepAliveTransmissions pings the proxy and the registrar every natSessionTimeMs', async (t) => {
  const clock = new VirtualClock();
  const { engine } = await startEngine(t, {}, { clock });
  const proxy = createSocket('udp4');
  proxy.bind(0, '127.0.0.1');
  await once(proxy, 'listening');
  t.teardown(() => proxy.close());
  const pings: string[] = [];
  proxy.on('message', (m) => pings.push(m.toString('latin1')));
  t.is(engine.enableKeepAliveTransmissions(true, false, 0), T.SipBadParameter);
  t.is(await engine.enableSipProxyServer('127.0.0.1', proxy.address().port), T.SipSuccess);
  t.is(engine.enableKeepAliveTransmissions(true, true, 20_000), T.SipSuccess);
  t.is(engine.rtpKeepAliveMs, 20_000);
  clock.advance(20_000);
  clock.advance(20_000);
  await until(() => pings.filter((p) => /^(\r\n)+$/.test(p)).length >= 2, ARRIVAL_LIMIT_MS);
  t.is(pings.filter((p) => /^(\r\n)+$/.test(p)).length, 2);
  t.is(engine.enableKeepAliveTransmissions(false, false, 0), T.SipSuccess);
  clock.advance(100_000);
  await sleep(50);
  t.is(pings.length, 2);
});

test('registration refreshes at the update interval when it is shorter than the expiry (virtual time)', async (t) => {
  const clock = new VirtualClock();
  const pbx = await startEngine(t, {});
  const desk = await startEngine(t, {}, { clock });
  t.is(await desk.engine.enableSipRegisterServer('500', false, false, '127.0.0.1', pbx.port, 30, 300, 4000, false), T.SipSuccess);
  await desk.waitForCount(T.SipRegisterSuccess, 1);
  t.like(desk.of(T.SipRegisterSuccess)[0]!.data, { expires: 300 });
  clock.advance(29_000);
  await sleep(100);
  t.is(desk.of(T.SipRegisterTrying).length, 1, 'not yet');
  clock.advance(1_000);
  await desk.waitForCount(T.SipRegisterSuccess, 2);
  clock.advance(30_000);
  await desk.waitForCount(T.SipRegisterSuccess, 3);
  t.is(desk.engine.triggerRegistration(), T.SipSuccess);
  await desk.waitForCount(T.SipRegisterSuccess, 4);
  t.is(desk.engine.triggerRegistration('500'), T.SipSuccess, 'one name');
  await desk.waitForCount(T.SipRegisterSuccess, 5);
  t.is(desk.engine.triggerRegistration('999'), T.SipBadParameter, 'not a registered name');
  t.is(pbx.engine.getRegistrarBindings().bindings.length, 1, 'refreshes update one binding');
});
