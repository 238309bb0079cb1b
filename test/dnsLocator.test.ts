/**
 * The RFC 3263 locator against a real DNS server: dnsmasq on a loopback port serving NAPTR,
 * SRV and A records for `test.example`. Priorities, weights over many resolutions, NAPTR's
 * transport choice, `sips:`, explicit ports, the TTL cache (on a virtual clock) and names
 * that resolve to nothing.
 */
import { DnsLocateError, DnsLocator, DEFAULT_RECORD_TTL_S, nodeDnsBackend, orderSrv, queryOfUri, type DnsBackend } from '../sip/dnsLocator.js';
import { VirtualClock } from '../sip/clock.js';
import { peerTest } from './helpers/env.js';
import { startDnsmasq } from './helpers/peers.js';
import { seededRandom } from './helpers/prng.js';
import test from 'ava';
import { resolveStartParams } from '../engine/startParams.js';
import { TelephonyReturnValue as T } from '../engine/returnCodes.js';

/** A backend that counts the questions it passes on. */
function counting(inner: DnsBackend): DnsBackend & { asked: Record<string, number> } {
  const asked: Record<string, number> = { naptr: 0, srv: 0, a: 0, aaaa: 0 };
  return {
    asked,
    resolveNaptr: (n) => (asked.naptr!++, inner.resolveNaptr(n)),
    resolveSrv: (n) => (asked.srv!++, inner.resolveSrv(n)),
    resolve4: (n) => (asked.a!++, inner.resolve4(n)),
    resolve6: (n) => (asked.aaaa!++, inner.resolve6(n)),
  };
}

const HOSTS = ['--host-record=reg1.test.example,127.0.0.1,5', '--host-record=reg2.test.example,127.0.0.2,600', '--host-record=reg3.test.example,127.0.0.3,600'];

peerTest('SRV: the highest priority (lowest number) first, the next one after it, no NAPTR needed', ['dnsmasq'], async (t) => {
  const dns = await startDnsmasq(t, [
    ...HOSTS,
    '--srv-host=_sip._udp.test.example,reg2.test.example,5071,20,100',
    '--srv-host=_sip._udp.test.example,reg1.test.example,5070,10,100',
  ], 'reg1.test.example');
  const loc = new DnsLocator({ backend: nodeDnsBackend([dns.server]), transports: () => ['UDP'] });
  const targets = await loc.locate({ host: 'test.example' });
  t.deepEqual(targets.map(({ protocol, host, port }) => ({ protocol, host, port })), [
    { protocol: 'UDP', host: '127.0.0.1', port: 5070 },
    { protocol: 'UDP', host: '127.0.0.2', port: 5071 },
  ]);
  t.is(targets[0]!.name, 'reg1.test.example', 'the SRV target name is kept (TLS checks certificates against it)');
});

peerTest('SRV weights 10/90: over 1000 resolutions against dnsmasq the light target comes first about 100 times', ['dnsmasq'], async (t) => {
  const dns = await startDnsmasq(t, [
    ...HOSTS,
    '--srv-host=_sip._udp.test.example,reg1.test.example,5070,10,10',
    '--srv-host=_sip._udp.test.example,reg2.test.example,5071,10,90',
  ], 'reg1.test.example');
  // Every resolution asks dnsmasq again: the clock jumps past every TTL between them.
  let now = 0;
  const backend = counting(nodeDnsBackend([dns.server]));
  const loc = new DnsLocator({ backend, transports: () => ['UDP'], now: () => (now += 700_000), random: seededRandom(11) });
  const n = 1000;
  let light = 0;
  for (let i = 0; i < n; i++) {
    const [first, second] = await loc.locate({ host: 'test.example' });
    t.truthy(first && second, 'both targets, every time');
    if (first!.port === 5070) light++;
  }
  t.is(backend.asked.srv, n, 'each resolution asked for the SRV records');
  // Binomial(n, 0.1): mean 100, standard deviation 9.5; five of them either side.
  const sd = Math.sqrt(n * 0.1 * 0.9);
  t.log(`light target first ${light} of ${n} (expected ${n * 0.1} ± ${(5 * sd).toFixed(0)})`);
  t.true(Math.abs(light - n * 0.1) <= 5 * sd, `${light} of ${n}`);
});

test('RFC 2782 order: priorities ascending; inside one, a weight-0 record comes after those with weight; all weights 0 keep the list', (t) => {
  const recs = [
    { name: 'a', port: 1, priority: 20, weight: 5 },
    { name: 'b', port: 2, priority: 10, weight: 0 },
    { name: 'c', port: 3, priority: 10, weight: 50 },
  ];
  for (const r of [0, 0.3, 0.999]) t.deepEqual(orderSrv(recs, () => r).map((x) => x.name), ['c', 'b', 'a']);
  t.deepEqual(orderSrv([{ ...recs[1]!, name: 'x' }, recs[1]!], () => 0.5).map((x) => x.name), ['x', 'b']);
});

peerTest('NAPTR picks the transport: SIP+D2T before SIP+D2U by order; a transport we lack is skipped', ['dnsmasq'], async (t) => {
  const dns = await startDnsmasq(t, [
    ...HOSTS,
    '--naptr-record=test.example,20,10,s,SIP+D2U,,_sip._udp.test.example',
    '--naptr-record=test.example,10,10,s,SIP+D2T,,_sip._tcp.test.example',
    '--srv-host=_sip._tcp.test.example,reg1.test.example,5080,10,10',
    '--srv-host=_sip._udp.test.example,reg2.test.example,5081,10,10',
  ], 'reg1.test.example');
  const both = new DnsLocator({ backend: nodeDnsBackend([dns.server]), transports: () => ['UDP', 'TCP'], preferred: () => 'UDP' });
  const targets = await both.locate({ host: 'test.example' });
  t.deepEqual(targets.map((x) => `${x.protocol} ${x.host}:${x.port}`), ['TCP 127.0.0.1:5080', 'UDP 127.0.0.2:5081']);
  const udpOnly = new DnsLocator({ backend: nodeDnsBackend([dns.server]), transports: () => ['UDP'] });
  t.deepEqual((await udpOnly.locate({ host: 'test.example' })).map((x) => `${x.protocol} ${x.host}:${x.port}`), ['UDP 127.0.0.2:5081']);
  // transport=udp in the URI: no NAPTR, straight to its SRV
  t.deepEqual((await both.locate(queryOfUri('sip:agent@test.example;transport=udp'))).map((x) => x.protocol), ['UDP']);
});

peerTest('sips: looks up _sips._tcp and gives TLS targets (5061 when only A records exist)', ['dnsmasq'], async (t) => {
  const dns = await startDnsmasq(t, [
    ...HOSTS,
    '--srv-host=_sips._tcp.test.example,reg3.test.example,5091,10,10',
    '--srv-host=_sip._udp.test.example,reg1.test.example,5070,10,10',
  ], 'reg1.test.example');
  const loc = new DnsLocator({ backend: nodeDnsBackend([dns.server]), transports: () => ['UDP', 'TCP', 'TLS'] });
  t.deepEqual((await loc.locate(queryOfUri('sips:agent@test.example'))).map((x) => `${x.protocol} ${x.host}:${x.port}`), ['TLS 127.0.0.3:5091']);
  t.deepEqual((await loc.locate(queryOfUri('sips:agent@reg2.test.example'))).map((x) => `${x.protocol} ${x.host}:${x.port}`), ['TLS 127.0.0.2:5061']);
});

peerTest('an explicit port or an IP address: A/AAAA only, no NAPTR or SRV question', ['dnsmasq'], async (t) => {
  const dns = await startDnsmasq(t, [...HOSTS, '--srv-host=_sip._udp.reg1.test.example,reg2.test.example,5071,10,10'], 'reg1.test.example');
  const backend = counting(nodeDnsBackend([dns.server]));
  const loc = new DnsLocator({ backend, preferred: () => 'TCP' });
  t.deepEqual((await loc.locate({ host: 'reg1.test.example', port: 5099 })).map((x) => `${x.protocol} ${x.host}:${x.port}`), ['TCP 127.0.0.1:5099']);
  t.deepEqual((await loc.locate({ host: '127.0.0.9' })).map((x) => `${x.protocol} ${x.host}:${x.port}`), ['TCP 127.0.0.9:5060']);
  t.deepEqual((await loc.locate(queryOfUri('sip:x@[::1]:5062;transport=udp'))).map((x) => `${x.protocol} ${x.host}:${x.port}`), ['UDP ::1:5062']);
  t.is(backend.asked.naptr! + backend.asked.srv!, 0);
});

peerTest('the cache keeps answers for their TTL: A for its own (5 s), SRV and NAPTR for the default', ['dnsmasq'], async (t) => {
  const dns = await startDnsmasq(t, [...HOSTS, '--srv-host=_sip._udp.test.example,reg1.test.example,5070,10,10'], 'reg1.test.example');
  const clock = new VirtualClock();
  const backend = counting(nodeDnsBackend([dns.server]));
  const loc = new DnsLocator({ backend, now: () => clock.now(), transports: () => ['UDP'] });
  await loc.locate({ host: 'test.example' });
  t.like(backend.asked, { naptr: 1, srv: 1, a: 1 });
  clock.advance(4900);
  await loc.locate({ host: 'test.example' });
  t.like(backend.asked, { naptr: 1, srv: 1, a: 1 }, 'all cached within 5 s');
  clock.advance(200);
  await loc.locate({ host: 'test.example' });
  t.like(backend.asked, { naptr: 1, srv: 1, a: 2 }, 'the A record (TTL 5 s) asked again');
  clock.advance(DEFAULT_RECORD_TTL_S * 1000);
  await loc.locate({ host: 'test.example' });
  t.like(backend.asked, { naptr: 2, srv: 2, a: 3 }, 'NAPTR and SRV asked again after the default TTL');
});

peerTest('a name with no records rejects with "DNS: no records for …"; so does an SRV whose targets have no address', ['dnsmasq'], async (t) => {
  const dns = await startDnsmasq(t, [...HOSTS, '--srv-host=_sip._udp.dead.test.example,nowhere.test.example,5070,10,10'], 'reg1.test.example');
  const loc = new DnsLocator({ backend: nodeDnsBackend([dns.server]), transports: () => ['UDP'] });
  const err = await t.throwsAsync(loc.locate({ host: 'nothing.test.example' }), { instanceOf: DnsLocateError });
  t.is(err?.message, 'DNS: no records for nothing.test.example');
  await t.throwsAsync(loc.locate({ host: 'dead.test.example' }), { message: 'DNS: no records for dead.test.example' });
  await t.throwsAsync(loc.locate({ host: 'bad name!' }), { instanceOf: DnsLocateError });
  t.is(await loc.resolveHost('nothing.test.example'), undefined);
  t.is(await loc.resolveHost('reg2.test.example'), '127.0.0.2');
});

test('dnsServers start parameter: IPs with optional ports, at most 8; anything else is SipBadParameter', (t) => {
  for (const good of [[], ['127.0.0.1'], ['127.0.0.1:5353', '[::1]:53', '::1']]) t.not(typeof resolveStartParams({ dnsServers: good }), 'number', JSON.stringify(good));
  for (const bad of [['dns.example'], ['127.0.0.1:0'], ['127.0.0.1:70000'], 'x', [5353], Array(9).fill('127.0.0.1')]) {
    t.is(resolveStartParams({ dnsServers: bad }), T.SipBadParameter, JSON.stringify(bad));
  }
});
