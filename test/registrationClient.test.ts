/**
 * RegistrationClient (engine/registration.ts) on its own: a fake usage context (test/helpers/fakeContext.ts), the real client path
 * (sip/uac.ts) over a fake transaction layer, and a VirtualClock, no sockets. Covers the 401
 * retry, the refresh schedule (update interval, or 80 % of a shorter grant), 423 with
 * Min-Expires, error answers and the retry interval, time-outs, unregistration (Expires: 0),
 * several names each on its own cycle, NAT detection, and the notifications of each step.
 */
import test from 'ava';
import { VirtualClock } from '../sip/clock.js';
import { CapabilityRegistry } from '../sip/capabilities.js';
import type { SipRequest } from '../sip/message.js';
import { RegistrationClient, grantedExpiry, type RegistrationConfig } from '../engine/registration.js';
import { TelephonyReturnValue as T } from '../engine/returnCodes.js';
import { DnsLocateError } from '../sip/dnsLocator.js';
import { fakeContext } from './helpers/fakeContext.js';
import { fakeUac, parseRequest, responseTo, settle, type FakeUac, type SentRequest } from './helpers/fakeSip.js';

/** One notification the client raised. */
interface Raised {
  event: T;
  data: Record<string, unknown>;
}

interface Harness {
  clock: VirtualClock;
  uac: FakeUac;
  client: RegistrationClient;
  config: RegistrationConfig;
  raised: Raised[];
  /** Names of the events raised, in order. */
  names(): string[];
  /** The data of every `event` raised. */
  of(event: T): Array<Record<string, unknown>>;
  /** Public addresses the client reported. */
  detected: Array<[string, number]>;
  /** Moves the advertised address (what a NAT discovery does). */
  advertise(host: string, port: number): void;
}

const RETRY_MS = 10_000;
const REGISTRAR = { protocol: 'UDP' as const, host: '127.0.0.2', port: 5060 };

function harness(config: Partial<RegistrationConfig> = {}, retryMs = RETRY_MS): Harness {
  const clock = new VirtualClock();
  const uac = fakeUac(clock, {
    credentials: [
      ['500', 'secret-500', 'example.com'],
      ['501', 'secret-501', 'example.com'],
    ],
  });
  const raised: Raised[] = [];
  const detected: Array<[string, number]> = [];
  let advertised = { host: '127.0.0.1', port: 5060, protocol: 'UDP' };
  const ctx = fakeContext({
    clock,
    uac: uac.services,
    capabilities: new CapabilityRegistry().register('calls', { methods: ['INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS'] }),
    contactUri: (name) => `sip:${name}@${advertised.host}:${advertised.port}`,
    advertisedAddress: () => advertised,
    displayName: () => 'Front "Desk"',
    userAgent: () => 'LineScape unit test',
    notifyGlobal: (event, data) => raised.push({ event, data: data as Record<string, unknown> }),
  });
  const own = { publicAddressDetected: (h: string, p: number) => void detected.push([h, p]) };
  const full: RegistrationConfig = {
    names: ['500'],
    linesByName: new Map([['500', [0]]]),
    destination: REGISTRAR,
    requestUri: 'sip:example.com',
    aorDomain: 'example.com',
    updateIntervalSeconds: 30,
    expireSeconds: 300,
    timeOutMs: 4000,
    natAutoDetect: false,
    ...config,
  };
  return {
    clock,
    uac,
    client: new RegistrationClient(ctx, own, full, retryMs),
    config: full,
    raised,
    names: () => raised.map((r) => T[r.event]),
    of: (event) => raised.filter((r) => r.event === event).map((r) => r.data),
    detected,
    advertise: (h, p) => {
      advertised = { host: h, port: p, protocol: 'UDP' };
    },
  };
}

/** The registrar's 200: our Contact back with `contactExpires` when given, and an Expires header when given. */
function ok(s: SentRequest, opts: { contactExpires?: number; expires?: number; via?: string } = {}): void {
  const headers: Array<[string, string]> = [];
  const contact = s.req.headers.get('Contact') ?? '';
  if (opts.contactExpires !== undefined) headers.push(['Contact', `${contact};expires=${opts.contactExpires}`]);
  if (opts.expires !== undefined) headers.push(['Expires', String(opts.expires)]);
  if (opts.via !== undefined) headers.push(['Via', opts.via]);
  s.reply(200, { headers });
}

const cseqOf = (req: SipRequest): string => req.headers.get('CSeq') ?? '';

/** Registers name 500 (one 200 for a 300 s binding) and clears what it raised. */
async function registered(h: Harness): Promise<void> {
  h.client.start();
  await settle();
  ok(h.uac.last('REGISTER'), { contactExpires: 300 });
  h.raised.length = 0;
}

test('REGISTER → 401 → REGISTER with credentials → 200: one cycle and its notifications', async (t) => {
  const h = harness();
  h.client.start();
  await settle();
  t.is(h.uac.sent.length, 1);
  const first = h.uac.sent[0]!;
  t.deepEqual(first.dest, REGISTRAR);
  t.is(first.req.method, 'REGISTER');
  t.is(first.req.uri, 'sip:example.com');
  t.regex(first.req.headers.get('From') ?? '', /^"Front \\"Desk\\"" <sip:500@example\.com>;tag=\S+$/);
  t.is(first.req.headers.get('To'), '<sip:500@example.com>');
  t.is(cseqOf(first.req), '1 REGISTER');
  t.is(first.req.headers.get('Expires'), '300');
  t.deepEqual(first.req.headers.getAll('Contact'), ['<sip:500@127.0.0.1:5060>']);
  t.is(first.req.headers.get('Allow'), 'INVITE, ACK, CANCEL, BYE, OPTIONS');
  t.false(first.req.headers.has('Authorization'));
  t.deepEqual(h.client.status()[0], { name: '500', phoneLines: [0], state: 'registering', grantedExpires: 0, lastStatusCode: 0 });

  first.challenge(401);
  await settle();
  t.is(h.uac.sent.length, 2, 'the challenge is answered once');
  const retry = h.uac.sent[1]!.req;
  t.is(cseqOf(retry), '2 REGISTER', 'a new CSeq');
  t.is(retry.headers.get('Call-ID'), first.req.headers.get('Call-ID'));
  t.is(retry.headers.get('From'), first.req.headers.get('From'));
  t.is(retry.headers.get('Expires'), '300');
  t.regex(retry.headers.get('Authorization') ?? '', /^Digest .*username="500".*realm="example\.com"/);
  t.deepEqual(h.names(), ['SipRegisterTrying'], 'a challenge is no event of its own');

  ok(h.uac.sent[1]!, { contactExpires: 300 });
  t.deepEqual(h.names(), ['SipRegisterTrying', 'SipRegisterSuccess']);
  t.deepEqual(h.of(T.SipRegisterTrying)[0], { name: '500', phoneLines: [0] });
  t.deepEqual(h.of(T.SipRegisterSuccess)[0], { name: '500', phoneLines: [0], expires: 300, contact: 'sip:500@127.0.0.1:5060', statusCode: 200 });
  t.deepEqual(h.client.status()[0], { name: '500', phoneLines: [0], state: 'registered', grantedExpires: 300, lastStatusCode: 200 });
  t.is(h.clock.pending, 1, 'only the refresh timer is left: the time-out and both transactions are done');
});

test('refresh: at the update interval when it is shorter than the grant; a 200 without expiry grants what was asked', async (t) => {
  const h = harness({ updateIntervalSeconds: 30, expireSeconds: 300 });
  h.client.start();
  await settle();
  const first = h.uac.last('REGISTER');
  first.reply(200);
  t.is(h.of(T.SipRegisterSuccess)[0]?.['expires'], 300, 'neither Contact expires nor Expires: the requested 300');
  h.clock.advance(29_999);
  await settle();
  t.is(h.uac.sent.length, 1, 'not before the interval');
  h.clock.advance(1);
  await settle();
  t.is(h.uac.sent.length, 2, 'refreshed at 30 s');
  const refresh = h.uac.last('REGISTER').req;
  t.is(cseqOf(refresh), '2 REGISTER');
  t.is(refresh.headers.get('Call-ID'), first.req.headers.get('Call-ID'), 'the same registration dialog');
  t.is(refresh.headers.get('Expires'), '300');
  t.deepEqual(h.names(), ['SipRegisterTrying', 'SipRegisterSuccess', 'SipRegisterTrying']);
});

test('refresh: a grant shorter than the update interval is refreshed at 80 % of it (Contact expires over the Expires header)', async (t) => {
  const h = harness({ updateIntervalSeconds: 3600, expireSeconds: 3600 });
  h.client.start();
  await settle();
  ok(h.uac.last('REGISTER'), { contactExpires: 100, expires: 3600 });
  t.is(h.of(T.SipRegisterSuccess)[0]?.['expires'], 100, "our Contact's expires wins");
  t.is(h.client.status()[0]?.grantedExpires, 100);
  h.clock.advance(79_999);
  await settle();
  t.is(h.uac.sent.length, 1);
  h.clock.advance(1);
  await settle();
  t.is(h.uac.sent.length, 2, 'refreshed at 80 s, before the 100 s binding expires');

  // Only an Expires header this time: 120 s granted, refreshed at 96 s.
  ok(h.uac.last('REGISTER'), { expires: 120 });
  t.is(h.of(T.SipRegisterSuccess)[1]?.['expires'], 120);
  h.clock.advance(95_999);
  await settle();
  t.is(h.uac.sent.length, 2);
  h.clock.advance(1);
  await settle();
  t.is(h.uac.sent.length, 3);

  // A grant of 0 (the registrar keeps nothing): try again after the retry interval.
  ok(h.uac.last('REGISTER'), { contactExpires: 0 });
  h.clock.advance(RETRY_MS - 1);
  await settle();
  t.is(h.uac.sent.length, 3);
  h.clock.advance(1);
  await settle();
  t.is(h.uac.sent.length, 4);
});

test('grantedExpiry reads our Contact (whatever the case and transport=udp), else Expires, else the request', (t) => {
  const req = parseRequest('REGISTER sip:example.com SIP/2.0', [
    'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKreg1',
    'From: <sip:500@example.com>;tag=a',
    'To: <sip:500@example.com>',
    'Call-ID: reg-1',
    'CSeq: 1 REGISTER',
  ]);
  const ours = 'sip:500@127.0.0.1:5060';
  const answer = (headers: Array<[string, string]>) => responseTo(req, 200, { headers });
  t.is(grantedExpiry(answer([['Contact', '<sip:other@127.0.0.9>;expires=10'], ['Contact', '<SIP:500@127.0.0.1:5060;transport=UDP>;expires=55']]), ours, 300), 55);
  t.is(grantedExpiry(answer([['Contact', '<sip:other@127.0.0.9>;expires=10'], ['Expires', '77']]), ours, 300), 77);
  t.is(grantedExpiry(answer([['Expires', 'soon']]), ours, 300), 300);
});

test('423 with a higher Min-Expires: SipRegisterIntervalError, an immediate retry with it, kept for later cycles', async (t) => {
  const h = harness({ expireSeconds: 60 });
  h.client.start();
  await settle();
  h.uac.last('REGISTER').reply(423, { reason: 'Interval Too Brief', headers: [['Min-Expires', '600']] });
  await settle();
  t.deepEqual(h.of(T.SipRegisterIntervalError)[0], { name: '500', phoneLines: [0], statusCode: 423, reasonPhrase: 'Interval Too Brief', minExpires: 600, retrying: true });
  t.is(h.uac.sent.length, 2, 'retried at once, no retry interval');
  const retry = h.uac.last('REGISTER').req;
  t.is(retry.headers.get('Expires'), '600');
  t.is(cseqOf(retry), '2 REGISTER');
  ok(h.uac.last('REGISTER'));
  t.is(h.of(T.SipRegisterSuccess)[0]?.['expires'], 600);
  h.clock.advance(30_000);
  await settle();
  t.is(h.uac.last('REGISTER').req.headers.get('Expires'), '600', 'the next cycle asks for Min-Expires again');
  t.deepEqual(h.names(), ['SipRegisterTrying', 'SipRegisterIntervalError', 'SipRegisterSuccess', 'SipRegisterTrying']);
});

test('423 that does not raise the expiry is not retried at once: failed, then the retry interval', async (t) => {
  const h = harness({ expireSeconds: 60 });
  h.client.start();
  await settle();
  h.uac.last('REGISTER').reply(423, { headers: [['Min-Expires', '600']] });
  await settle();
  // The same Min-Expires again: nothing higher to try.
  h.uac.last('REGISTER').reply(423, { headers: [['Min-Expires', '600']] });
  await settle();
  t.is(h.uac.sent.length, 2);
  t.deepEqual(
    h.of(T.SipRegisterIntervalError).map((d) => d['retrying']),
    [true, false],
  );
  t.is(h.client.status()[0]?.state, 'failed');
  t.is(h.client.status()[0]?.lastStatusCode, 423);
  h.clock.advance(RETRY_MS - 1);
  await settle();
  t.is(h.uac.sent.length, 2, 'no time-out and no retry before the interval');
  t.is(h.of(T.SipRegisterTimeOut).length, 0);
  h.clock.advance(1);
  await settle();
  t.is(h.uac.sent.length, 3);

  // Without Min-Expires at all the 423 says nothing usable.
  h.uac.last('REGISTER').reply(423);
  await settle();
  const last = h.of(T.SipRegisterIntervalError)[2];
  t.is(last?.['minExpires'], undefined);
  t.is(last?.['retrying'], false);
  t.is(h.uac.sent.length, 3);
});

test('an error answer: SipRegisterError, then a new cycle after registrationRetryMs (setRetryTime changes it)', async (t) => {
  const h = harness();
  h.client.start();
  await settle();
  h.uac.last('REGISTER').reply(503);
  t.deepEqual(h.of(T.SipRegisterError)[0], { name: '500', phoneLines: [0], statusCode: 503, reasonPhrase: 'Service Unavailable' });
  t.deepEqual(h.client.status()[0], { name: '500', phoneLines: [0], state: 'failed', grantedExpires: 0, lastStatusCode: 503 });
  h.clock.advance(RETRY_MS - 1);
  await settle();
  t.is(h.uac.sent.length, 1);
  h.clock.advance(1);
  await settle();
  t.is(h.uac.sent.length, 2, 'retried after the interval');
  t.is(h.of(T.SipRegisterTrying).length, 2, 'a whole new cycle');

  h.client.setRetryTime(2000);
  h.uac.last('REGISTER').reply(500);
  h.clock.advance(1999);
  await settle();
  t.is(h.uac.sent.length, 2);
  h.clock.advance(1);
  await settle();
  t.is(h.uac.sent.length, 3, 'the new interval');
  ok(h.uac.last('REGISTER'));
  t.is(h.client.status()[0]?.state, 'registered');
});

test('403, a 401 without credentials for its realm, and a repeated nonce are authorization errors', async (t) => {
  const h = harness();
  h.client.start();
  await settle();
  h.uac.last('REGISTER').reply(403);
  t.deepEqual(h.of(T.SipRegisterAuthorizationError)[0], { name: '500', phoneLines: [0], statusCode: 403, reasonPhrase: 'Forbidden' });

  h.clock.advance(RETRY_MS);
  await settle();
  h.uac.last('REGISTER').challenge(401, { realm: 'elsewhere.org' });
  await settle();
  t.is(h.uac.sent.length, 2, 'no credentials for the realm: not retried');
  t.is(h.of(T.SipRegisterAuthorizationError)[1]?.['statusCode'], 401);

  h.clock.advance(RETRY_MS);
  await settle();
  h.uac.last('REGISTER').challenge(401, { nonce: 'n-1' });
  await settle();
  t.is(h.uac.sent.length, 4, 'answered once');
  h.uac.last('REGISTER').challenge(401, { nonce: 'n-1' });
  await settle();
  t.is(h.uac.sent.length, 4, 'the same nonce again means wrong credentials');
  t.is(h.of(T.SipRegisterAuthorizationError).length, 3);
  t.is(h.of(T.SipRegisterSuccess).length, 0);
  t.is(h.client.status()[0]?.state, 'failed');
});

test('no answer: SipRegisterTimeOut after timeOutMs, a late answer is ignored, the retry interval follows', async (t) => {
  const h = harness({ timeOutMs: 4000 });
  h.client.start();
  await settle();
  const first = h.uac.last('REGISTER');
  h.clock.advance(3999);
  t.is(h.of(T.SipRegisterTimeOut).length, 0);
  h.clock.advance(1);
  t.deepEqual(h.of(T.SipRegisterTimeOut)[0], { name: '500', phoneLines: [0], timeOutMs: 4000 });
  t.is(h.client.status()[0]?.state, 'failed');
  ok(first);
  t.is(h.of(T.SipRegisterSuccess).length, 0, 'the answer came too late');
  h.clock.advance(RETRY_MS - 1);
  await settle();
  t.is(h.uac.sent.length, 1);
  h.clock.advance(1);
  await settle();
  t.is(h.uac.sent.length, 2);
  ok(h.uac.last('REGISTER'));
  t.deepEqual(h.names(), ['SipRegisterTrying', 'SipRegisterTimeOut', 'SipRegisterTrying', 'SipRegisterSuccess']);
});

test('each request of a cycle gets the whole time-out: a challenge retry starts it again', async (t) => {
  const h = harness({ timeOutMs: 4000 });
  h.client.start();
  await settle();
  h.clock.advance(3000);
  h.uac.last('REGISTER').challenge(401);
  await settle();
  t.is(h.uac.sent.length, 2);
  h.clock.advance(3999);
  t.is(h.of(T.SipRegisterTimeOut).length, 0, '7 s after the first request, 4 s after the retry');
  h.clock.advance(1);
  t.is(h.of(T.SipRegisterTimeOut).length, 1);
});

test('a time-out longer than timer F ends with the transaction: SipRegisterTimeOut at 32 s', async (t) => {
  const h = harness({ timeOutMs: 60_000 });
  h.client.start();
  await settle();
  h.clock.advance(31_999);
  t.is(h.of(T.SipRegisterTimeOut).length, 0);
  h.clock.advance(1);
  t.is(h.of(T.SipRegisterTimeOut).length, 1);
  t.is(h.client.status()[0]?.state, 'failed');
});

test('stop(): REGISTER with Expires: 0 for the registered Contact; resolves SipSuccess on the 200; no timer left', async (t) => {
  const h = harness();
  await registered(h);
  const registeredCseq = cseqOf(h.uac.last('REGISTER').req);
  const stopping = h.client.stop();
  await settle();
  t.deepEqual(h.names(), ['SipUnRegisterTrying']);
  const un = h.uac.last('REGISTER');
  t.is(un.req.headers.get('Expires'), '0');
  t.deepEqual(un.req.headers.getAll('Contact'), ['<sip:500@127.0.0.1:5060>']);
  t.not(cseqOf(un.req), registeredCseq);
  t.is(un.req.headers.get('Call-ID'), h.uac.sent[0]!.req.headers.get('Call-ID'));
  un.challenge(401);
  await settle();
  const unRetry = h.uac.last('REGISTER');
  t.not(unRetry, un, 'the unregistration answers its challenge too');
  t.is(unRetry.req.headers.get('Expires'), '0');
  t.true(unRetry.req.headers.has('Authorization'));
  unRetry.reply(200);
  t.is(await stopping, T.SipSuccess);
  t.deepEqual(h.names(), ['SipUnRegisterTrying', 'SipUnRegisterSuccess']);
  t.deepEqual(h.of(T.SipUnRegisterSuccess)[0], { name: '500', phoneLines: [0], statusCode: 200 });
  t.is(h.client.status()[0]?.state, 'unregistered');
  t.is(h.clock.pending, 0, 'refresh and time-out timers are gone');
  t.true(h.client.trigger(), 'trigger after stop is a no-op');
  await settle();
  t.is(h.uac.of('REGISTER').length, 3, 'register, unregister, its challenge retry: nothing after');
});

test('stop(): unregistration time-out and error answers resolve with their codes', async (t) => {
  {
    const h = harness({ timeOutMs: 4000 });
    await registered(h);
    const stopping = h.client.stop();
    await settle();
    h.clock.advance(4000);
    t.is(await stopping, T.SipRegisterTimeOut);
    t.deepEqual(h.names(), ['SipUnRegisterTrying', 'SipUnRegistrationTimeOut']);
    t.deepEqual(h.of(T.SipUnRegistrationTimeOut)[0], { name: '500', phoneLines: [0], timeOutMs: 4000 });
  }
  {
    const h = harness();
    await registered(h);
    const stopping = h.client.stop();
    await settle();
    h.uac.last('REGISTER').reply(500);
    t.is(await stopping, T.SipRegisterError);
    t.deepEqual(h.of(T.SipUnRegisterError)[0], { name: '500', phoneLines: [0], statusCode: 500, reasonPhrase: 'Server Internal Error' });
  }
  {
    const h = harness();
    await registered(h);
    const stopping = h.client.stop();
    await settle();
    h.uac.last('REGISTER').reply(403);
    t.is(await stopping, T.SipRegisterAuthorizationError);
    t.is(h.of(T.SipUnRegisterAuthorizationError).length, 1);
  }
});

test('stop(): a name that is not registered sends nothing; one still registering is unregistered and its answer ignored', async (t) => {
  {
    const h = harness();
    h.client.start();
    await settle();
    h.uac.last('REGISTER').reply(503);
    h.raised.length = 0;
    t.is(await h.client.stop(), T.SipSuccess);
    t.is(h.uac.sent.length, 1, 'a failed name has no binding to remove');
    t.deepEqual(h.names(), []);
    t.is(h.clock.pending, 0, 'the retry timer is gone');
  }
  {
    const h = harness();
    h.client.start();
    await settle();
    const inFlight = h.uac.last('REGISTER');
    const stopping = h.client.stop();
    await settle();
    t.is(h.uac.sent.length, 2);
    ok(inFlight);
    t.is(h.of(T.SipRegisterSuccess).length, 0, 'the answer to the abandoned REGISTER is ignored');
    h.uac.last('REGISTER').reply(200);
    t.is(await stopping, T.SipSuccess);
    t.is(h.uac.last('REGISTER').req.headers.get('Expires'), '0');
  }
});

test('several names: each its own Call-ID, tag, CSeq and cycle; trigger() by name', async (t) => {
  const h = harness({ names: ['500', '501'], linesByName: new Map([['500', [0]], ['501', [1, 2]]]) });
  h.client.start();
  await settle();
  t.is(h.uac.sent.length, 2);
  const [a, b] = [h.uac.sent[0]!, h.uac.sent[1]!];
  t.is(a.req.headers.get('To'), '<sip:500@example.com>');
  t.is(b.req.headers.get('To'), '<sip:501@example.com>');
  t.not(a.req.headers.get('Call-ID'), b.req.headers.get('Call-ID'));
  t.not(a.req.headers.get('From'), b.req.headers.get('From'));
  t.deepEqual(b.req.headers.getAll('Contact'), ['<sip:501@127.0.0.1:5060>']);

  b.challenge(401);
  await settle();
  t.regex(h.uac.last('REGISTER').req.headers.get('Authorization') ?? '', /username="501"/, "each name answers with its own credentials");
  ok(a);
  h.uac.last('REGISTER').reply(503);
  t.deepEqual(
    h.client.status().map((s) => [s.name, s.state, s.phoneLines]),
    [
      ['500', 'registered', [0]],
      ['501', 'failed', [1, 2]],
    ],
  );
  t.deepEqual(h.of(T.SipRegisterError)[0], { name: '501', phoneLines: [1, 2], statusCode: 503, reasonPhrase: 'Service Unavailable' });

  // 501 retries after 10 s on its own; 500 waits for its 30 s refresh.
  h.clock.advance(RETRY_MS);
  await settle();
  t.deepEqual(h.uac.sent.slice(3).map((s) => s.req.headers.get('To')), ['<sip:501@example.com>']);
  t.is(cseqOf(h.uac.last('REGISTER').req), '3 REGISTER', "501's own sequence");
  ok(h.uac.last('REGISTER'));
  h.clock.advance(20_000);
  await settle();
  t.deepEqual(h.uac.sent.slice(4).map((s) => s.req.headers.get('To')), ['<sip:500@example.com>']);
  t.is(cseqOf(h.uac.last('REGISTER').req), '2 REGISTER', "500's own sequence");
  ok(h.uac.last('REGISTER'));

  const before = h.uac.sent.length;
  t.true(h.client.trigger('501'));
  await settle();
  t.deepEqual(h.uac.sent.slice(before).map((s) => s.req.headers.get('To')), ['<sip:501@example.com>']);
  t.true(h.client.trigger(), 'every name; 501 is already registering');
  await settle();
  t.deepEqual(h.uac.sent.slice(before + 1).map((s) => s.req.headers.get('To')), ['<sip:500@example.com>']);
  t.false(h.client.trigger('502'), 'not one of the names');
});

test('NAT detection: a Via received/rport unlike the advertised address is reported; the next REGISTER removes the old Contact', async (t) => {
  const h = harness({ natAutoDetect: true });
  h.client.start();
  await settle();
  ok(h.uac.last('REGISTER'), { via: 'SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKnat;received=127.0.0.5;rport=40000' });
  t.deepEqual(h.detected, [['127.0.0.5', 40000]]);
  t.is(h.of(T.SipRegisterSuccess).length, 1, 'the success is raised first');
  t.is(h.clock.pending, 0, 'no refresh timer: the host re-registers with the new address');

  h.advertise('127.0.0.5', 40000);
  h.client.trigger();
  await settle();
  t.deepEqual(h.uac.last('REGISTER').req.headers.getAll('Contact'), ['<sip:500@127.0.0.5:40000>', '<sip:500@127.0.0.1:5060>;expires=0']);
  ok(h.uac.last('REGISTER'), { via: 'SIP/2.0/UDP 127.0.0.5:40000;branch=z9hG4bKnat2;received=127.0.0.5;rport=40000' });
  t.is(h.detected.length, 1, 'the same address again is no change');
  t.is(h.clock.pending, 1, 'refresh armed');

  // Over the same address without NAT the Via says nothing new either.
  const plain = harness({ natAutoDetect: true });
  plain.client.start();
  await settle();
  ok(plain.uac.last('REGISTER'), { via: 'SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx;rport=5060' });
  t.deepEqual(plain.detected, []);
});

test('stop(): a name whose refresh failed is unregistered too (its old binding may live on); one never registered is not', async (t) => {
  // A retry interval longer than the update interval: 501 still waits for its retry when 500 refreshes.
  const h = harness({ names: ['500', '501'], linesByName: new Map([['500', [0]], ['501', [1]]]) }, 60_000);
  h.client.start();
  await settle();
  const [first500, first501] = h.uac.of('REGISTER');
  ok(first500!, { contactExpires: 300 });
  first501!.reply(503);
  // 500's refresh at the update interval fails: the registrar keeps the binding it granted.
  h.clock.advance(30_000);
  await settle();
  const refresh = h.uac.of('REGISTER').find((s) => s.req.headers.get('From')?.includes('sip:500@') && s !== first500);
  t.truthy(refresh);
  refresh!.reply(500);
  t.deepEqual(h.client.status().map((s) => s.state), ['failed', 'failed']);
  h.raised.length = 0;
  const before = h.uac.sent.length;
  const stopping = h.client.stop();
  await settle();
  const sent = h.uac.sent.slice(before);
  t.is(sent.length, 1, 'only the name that was registered');
  const un = sent[0]!;
  t.true(un.req.headers.get('From')?.includes('sip:500@'));
  t.is(un.req.headers.get('Expires'), '0');
  t.deepEqual(un.req.headers.getAll('Contact'), ['<sip:500@127.0.0.1:5060>'], 'the Contact it had registered');
  t.deepEqual(h.names(), ['SipUnRegisterTrying']);
  un.reply(200);
  t.is(await stopping, T.SipSuccess);
  t.deepEqual(h.of(T.SipUnRegisterSuccess), [{ name: '500', phoneLines: [0], statusCode: 200 }]);
  t.deepEqual(h.client.status().map((s) => s.state), ['unregistered', 'unregistered']);
  t.is(h.clock.pending, 0, 'the retry timers are gone');
});

test('the registrar name stops resolving: SipRegisterError with status 0 and the DNS reason, then the usual retry', async (t) => {
  let dnsUp = false;
  const h = harness({ targets: () => (dnsUp ? Promise.resolve([REGISTRAR]) : Promise.reject(new DnsLocateError('test.example'))) });
  h.client.start();
  await settle();
  t.is(h.uac.sent.length, 0, 'nothing to send to');
  t.deepEqual(h.of(T.SipRegisterError)[0], { name: '500', phoneLines: [0], statusCode: 0, reasonPhrase: 'DNS: no records for test.example' });
  t.is(h.of(T.SipRegisterTimeOut).length, 0);
  dnsUp = true;
  h.clock.advance(RETRY_MS);
  await settle();
  ok(h.uac.last('REGISTER'));
  t.is(h.of(T.SipRegisterSuccess).length, 1, 'registered once the name resolves again');
});
