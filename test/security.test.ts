/**
 * Limits and access control (engine/securityLimits.ts, the registrar role's authentication):
 * - the registrar role challenges a REGISTER without credentials (401), refuses a wrong
 *   password (403), binds a right one, and binds without a password only where the application
 *   waives it for that request;
 * - 50 wrong passwords from one source in a second (SIPp) block that source and that user, with
 *   SipAuthenticationBlocked and counters, while a legitimate user from 127.0.0.2 still registers;
 * - an oversized message (UDP: 513; TCP: 513 and the connection closed) and a one-source flood
 *   (503 + Retry-After) are refused and counted while a call in progress keeps its audio;
 * - a non-allowed source's INVITE gets 403 while an allowed one connects;
 * - bad start parameters give SipBadParameter; the screen's rules in virtual time.
 */
import net from 'node:net';
import test, { type ExecutionContext } from 'ava';
import type { Registry } from 'prom-client';
import { TelephonyReturnValue as T, type StartSipTelephonyParams, VoipMediaEngine } from '../index.js';
import { addressBytes, parseCidr, SecurityLimits, type AuthenticationBlockedData, type RefusalReason, type SecurityLimitsConfig } from '../engine/securityLimits.js';
import { computeDigestResponse } from '../sip/digest.js';
import { parseAuthHeader } from '../sip/grammar.js';
import { VirtualClock } from '../sip/clock.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import { parseMessage } from '../sip/parser.js';
import { assertTone, listenFor, sendTone } from './helpers/audio.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { captureLog } from './helpers/log.js';
import { peerTest } from './helpers/env.js';
import { runSipp, sippScenario } from './helpers/peers.js';
import { freePort, freePorts } from './helpers/ports.js';
import { sipRequest, sipUdpClient, type SipUdpClient } from './helpers/sipUdp.js';

/** The users the registrar engines know. */
const USERS: Record<string, string> = { '150': 'secret-150', '151': 'secret-151' };

/** Refusals counted in the engine's metrics, by reason. */
async function refusals(e: EngineUnderTest): Promise<Partial<Record<RefusalReason, number>>> {
  const registry = e.engine.getMetricsRegistry().registry as Registry;
  const metric = registry.getSingleMetric('linescape_requests_refused_total');
  const out: Partial<Record<RefusalReason, number>> = {};
  for (const v of (await metric!.get()).values) out[v.labels['reason'] as RefusalReason] = v.value;
  return out;
}

/**
 * An engine in the registrar role with the default (authentication required), its metrics on,
 * whose application looks passwords up in USERS and waives the password for user 199 only.
 */
async function registrar(t: ExecutionContext, params: StartSipTelephonyParams = {}): Promise<EngineUnderTest> {
  const e = await startEngine(t, { phoneName: 'pbx', registrarRequireAuthentication: true, ...params });
  t.is((await e.engine.enableMetrics()).result, T.SipSuccess);
  t.teardown(() => e.engine.disableMetrics());
  e.engine.on('SipIncomingAuthentication', (n) => {
    const pw = USERS[n.data.userName];
    if (pw !== undefined) n.data.password = pw;
  });
  e.engine.on('SipRegisterReceived', (n) => {
    if (n.data.user === '199') n.data.requireAuthentication = false;
  });
  return e;
}

/** A REGISTER of `user` from the hand-driven client, numbered `n`. */
function register(c: SipUdpClient, e: EngineUnderTest, user: string, n: number, headers: string[] = []): Buffer {
  return sipRequest({
    method: 'REGISTER',
    user,
    enginePort: e.port,
    localPort: c.port,
    branch: `reg${user}x${n}x${Date.now()}`,
    callId: `reg-${user}`,
    cseq: n,
    headers: [`Contact: <sip:${user}@127.0.0.1:${c.port}>`, 'Expires: 60', ...headers],
  });
}

/** The Authorization answering the 401 `res` as `user` with `password`. */
function answer(res: SipResponse, e: EngineUnderTest, user: string, password: string): string {
  const ch = parseAuthHeader(res.headers.get('WWW-Authenticate')!).params;
  const uri = `sip:${user}@127.0.0.1:${e.port}`;
  const cnonce = 'abc123';
  const response = computeDigestResponse({ algorithm: 'MD5', username: user, realm: ch['realm']!, password, nonce: ch['nonce']!, cnonce, nc: '00000001', qop: 'auth', method: 'REGISTER', uri });
  return `Authorization: Digest username="${user}", realm="${ch['realm']}", nonce="${ch['nonce']}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="${cnonce}"`;
}

test('the registrar role challenges a REGISTER without credentials, refuses a wrong password with 403, binds the right one', async (t) => {
  const pbx = await registrar(t);
  const c = await sipUdpClient(t, pbx.port);
  const first = await c.request(register(c, pbx, '150', 1));
  t.is(first.status, 401, 'no credentials: challenged');
  t.truthy(first.headers.get('WWW-Authenticate'));
  t.is(pbx.engine.getRegistrarBindings().bindings.length, 0);
  const wrong = await c.request(register(c, pbx, '150', 2, [answer(first, pbx, '150', 'guess')]));
  t.is(wrong.status, 403, 'wrong password: refused');
  t.is(pbx.engine.getRegistrarBindings().bindings.length, 0);
  const again = await c.request(register(c, pbx, '150', 3));
  const right = await c.request(register(c, pbx, '150', 4, [answer(again, pbx, '150', 'secret-150')]));
  t.is(right.status, 200, 'right password: bound');
  t.deepEqual(pbx.engine.getRegistrarBindings().bindings.map((b) => b.user), ['150']);
  // the application saw the authenticated REGISTER as such, and the password went nowhere
  const received = pbx.of(T.SipRegisterReceived);
  t.deepEqual(received.map((n) => n.data.authenticated), [false, false, true]);
  for (const n of pbx.of(T.SipIncomingAuthentication)) t.is(n.data.password, undefined, 'the password is removed once checked');
  // an unknown user is refused like a wrong password
  const unknown = await c.request(register(c, pbx, '777', 1));
  t.is(unknown.status, 401);
  t.is((await c.request(register(c, pbx, '777', 2, [answer(unknown, pbx, '777', 'anything')]))).status, 403);
  // the application's explicit waiver for one request: 199 binds without a password
  t.is((await c.request(register(c, pbx, '199', 1))).status, 200);
  t.deepEqual(pbx.engine.getRegistrarBindings().bindings.map((b) => b.user).sort(), ['150', '199']);
  t.like(await refusals(pbx), { authFailed: 2 });
});

test('registrarRequireAuthentication: false binds without a password (trusted labs), still refused by the application', async (t) => {
  const pbx = await startEngine(t, { phoneName: 'pbx', registrarRequireAuthentication: false });
  pbx.engine.on('SipRegisterReceived', (n) => {
    n.data.acceptRegistration = n.data.user !== '666';
  });
  const c = await sipUdpClient(t, pbx.port);
  t.is((await c.request(register(c, pbx, '150', 1))).status, 200);
  t.is((await c.request(register(c, pbx, '666', 1))).status, 403);
  t.like(pbx.of(T.SipRegisterReceived)[0]!.data, { authenticated: false, requireAuthentication: false });
});

peerTest('SIPp REGISTER to the default registrar role: 401, then the right password binds; a wrong one gets 403', ['sipp'], async (t) => {
  const pbx = await registrar(t);
  const port = await freePort();
  const ok = await runSipp([`127.0.0.1:${pbx.port}`, '-sf', sippScenario('uac-auth-register.xml'), '-s', '150', '-ap', 'secret-150', '-p', String(port), '-m', '1', '-timeout', '15s', '-timeout_error']);
  t.is(ok.code, 0, ok.summary);
  t.deepEqual(pbx.engine.getRegistrarBindings().bindings.map((b) => [b.user, b.contact]), [['150', `sip:150@127.0.0.1:${port}`]]);
  const bad = await runSipp([`127.0.0.1:${pbx.port}`, '-sf', sippScenario('uac-register-wrong-burst.xml'), '-s', '151', '-ap', 'wrong', '-p', String(await freePort()), '-m', '1', '-timeout', '15s', '-timeout_error']);
  t.is(bad.code, 0, bad.summary);
  t.deepEqual(pbx.engine.getRegistrarBindings().bindings.map((b) => b.user), ['150']);
});

peerTest('50 wrong passwords from one source in a second: the source and the user are blocked and reported; a legitimate user from 127.0.0.2 still registers', ['sipp'], async (t) => {
  const log = captureLog();
  const pbx = await registrar(t, { logger: log.logger, logSipMessages: true });
  const res = await runSipp([`127.0.0.1:${pbx.port}`, '-sf', sippScenario('uac-register-wrong-burst.xml'), '-s', '150', '-ap', 'guess', '-p', String(await freePort()), '-m', '50', '-r', '50', '-rp', '1000', '-timeout', '30s', '-timeout_error']);
  t.is(res.code, 0, `every attempt refused: ${res.summary}`);
  const blocked = await pbx.waitForCount(T.SipAuthenticationBlocked, 2);
  const byKind = Object.fromEntries(blocked.map((n) => [n.data.kind, n.data])) as Record<string, AuthenticationBlockedData>;
  t.like(byKind['source'], { source: '127.0.0.1', user: '150', failures: 10, blockedSeconds: 300 });
  t.like(byKind['user'], { source: '127.0.0.1', user: '150', failures: 10, blockedSeconds: 300 });
  const counted = await refusals(pbx);
  t.is(counted.authFailed, 10, 'ten wrong passwords were checked, then the block answered');
  t.true((counted.authBlocked ?? 0) >= 40, `the other attempts were refused by the block (${counted.authBlocked})`);
  t.is(pbx.engine.getRegistrarBindings().bindings.length, 0);

  // another user from another source address registers
  const port = await freePort();
  const ok = await runSipp([`127.0.0.1:${pbx.port}`, '-sf', sippScenario('uac-auth-register.xml'), '-i', '127.0.0.2', '-s', '151', '-ap', 'secret-151', '-p', String(port), '-m', '1', '-timeout', '15s', '-timeout_error']);
  t.is(ok.code, 0, ok.summary);
  t.deepEqual(pbx.engine.getRegistrarBindings().bindings.map((b) => [b.user, b.source.host]), [['151', '127.0.0.2']]);
  // the blocked source gets 403 even for a user it never guessed, without a challenge
  const c = await sipUdpClient(t, pbx.port);
  t.is((await c.request(register(c, pbx, '151', 1))).status, 403);
  // the guessed user is blocked from everywhere, even with the right password
  const c2 = await sipUdpClient(t, pbx.port, '127.0.0.2');
  const ch = await c2.request(register(c2, pbx, '150', 1));
  t.is(ch.status, 401);
  t.is((await c2.request(register(c2, pbx, '150', 2, [answer(ch, pbx, '150', 'secret-150')]))).status, 403);
  // the blocks were logged (who, how often), the SIP log has every message; no password anywhere
  t.true(log.records.some((r) => r.msg === 'authentication: blocked after repeated failures' && r['source'] === '127.0.0.1'));
  t.true(log.records.some((r) => typeof r['sip'] === 'string' && /Authorization: Digest/.test(r['sip'])), 'the SIP log saw the digests');
  const everything = JSON.stringify(log.records);
  for (const pw of ['guess', 'secret-150', 'secret-151']) t.false(everything.includes(pw), `${pw} never logged`);
});

/** Sends `text` over a fresh TCP connection and resolves with what came back and whether the engine closed it. */
function tcpExchange(port: number, data: Buffer): Promise<{ reply: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ reply: Buffer.concat(chunks).toString('latin1'), closed: false });
    }, 10_000);
    sock.on('data', (b) => chunks.push(b));
    sock.on('error', reject);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ reply: Buffer.concat(chunks).toString('latin1'), closed: true });
    });
    sock.on('connect', () => sock.write(data));
  });
}

test('an oversized message and a one-source flood are refused and counted while a call in progress keeps its audio', async (t) => {
  const rtp = await freePorts(8, { even: true });
  const a = await startEngine(t, { phoneName: 'alice', minLocalRtpPort: rtp[0]!, maxLocalRtpPort: rtp[3]! + 1 });
  const b = await startEngine(t, { phoneName: 'bob', minLocalRtpPort: rtp[4]!, maxLocalRtpPort: rtp[7]! + 1, maxSipMessageBytes: 4096, requestRatePerSource: 20, requestBurstPerSource: 20 });
  t.is((await b.engine.enableMetrics()).result, T.SipSuccess);
  t.teardown(() => b.engine.disableMetrics());
  b.engine.on('SipOkToAnswerCall', (n) => b.engine.goOffHook(n.phoneLine));
  t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, 0, true, 5000), T.SipSuccess);
  await b.waitFor(T.SipIncomingCallConnected);
  sendTone(a.engine, 0, 1000, 6);
  const rx = b.engine.openRxIvrChannel(0, { sampleRate: 8000 });
  t.is(rx.result, T.SipSuccess);

  // from another source: the call's own SIP (from 127.0.0.1) must not share the flood's bucket
  const c = await sipUdpClient(t, b.port, '127.0.0.2');
  const big = sipRequest({ method: 'MESSAGE', user: 'bob', enginePort: b.port, localPort: c.port, branch: `big${Date.now()}`, callId: 'big@test', cseq: 1, headers: ['Content-Type: text/plain'], body: 'x'.repeat(6000) });
  const tooLarge = await c.request(big);
  t.is(tooLarge.status, 513, 'UDP: 513 Message Too Large');
  const bigTcp = sipRequest({ method: 'MESSAGE', user: 'bob', enginePort: b.port, localPort: 5060, branch: `bigtcp${Date.now()}`, callId: 'bigtcp@test', cseq: 1, headers: ['Content-Type: text/plain'], body: 'y'.repeat(6000) });
  const overTcp = await tcpExchange(b.port, Buffer.from(bigTcp.toString('latin1').replace('SIP/2.0/UDP', 'SIP/2.0/TCP'), 'latin1'));
  t.regex(overTcp.reply, /^SIP\/2\.0 513 /, 'TCP: 513 Message Too Large');
  t.true(overTcp.closed, 'TCP: then the connection is closed');
  t.is(b.of(T.SipRecvOutOfDialogMessage).length, 0);

  // the flood: 100 OPTIONS at once from one source, 20 allowed in a burst
  const answers: SipResponse[] = [];
  for (let batch = 0; batch < 10; batch++) {
    answers.push(
      ...(await Promise.all(
        Array.from({ length: 10 }, (_, j) =>
          c.request(sipRequest({ method: 'OPTIONS', user: 'bob', enginePort: b.port, localPort: c.port, branch: `flood${batch}x${j}x${Date.now()}`, callId: `flood${batch}x${j}@test`, cseq: 1 })),
        ),
      )),
    );
  }
  const refused = answers.filter((r) => r.status === 503);
  t.true(refused.length >= 50, `most of the flood refused (${refused.length} of 100)`);
  t.true(answers.some((r) => r.status === 200), 'the first of the burst served');
  t.true(refused.every((r) => r.headers.get('Retry-After') === '10'), '503 with Retry-After');
  const counted = await refusals(b);
  t.is(counted.rateLimited, refused.length);
  t.is(counted.messageTooLarge, 2);
  t.is(b.engine.getNumActiveCalls().numActiveCalls, 1);

  // the call's audio went on through all of it
  assertTone(t, await listenFor(rx.channel!, 1000), 1000, 'bob hears alice after the flood');
  b.engine.closeRxIvrChannel(rx.channel!);
  t.is(await a.engine.terminateCall(0, true, 5000), T.SipSuccess);
  await b.waitFor(T.SipOnHook);
});

test('allowed source networks: an INVITE from elsewhere gets 403, one from an allowed network connects', async (t) => {
  const b = await startEngine(t, { phoneName: 'bob', allowedSourceNetworks: ['127.0.0.2/32', '::1/128'] });
  t.is((await b.engine.enableMetrics()).result, T.SipSuccess);
  t.teardown(() => b.engine.disableMetrics());
  b.engine.on('SipOkToAnswerCall', (n) => b.engine.goOffHook(n.phoneLine));
  const outsider = await startEngine(t, { phoneName: 'eve' });
  t.is(await outsider.engine.makeCall('bob', '127.0.0.1', b.port, 0, true, 5000), T.SipFarEndError);
  t.like(outsider.engine.getOutgoingCallErrorInfo(0), { responseCode: 403 });
  t.is(b.of(T.SipIncomingCallStart).length, 0);
  // requests other than new calls still pass from anywhere (allowedSourceScope 'calls')
  const c = await sipUdpClient(t, b.port);
  t.is((await c.request(sipRequest({ method: 'OPTIONS', user: 'bob', enginePort: b.port, localPort: c.port, branch: `opt${Date.now()}`, callId: 'opt@test', cseq: 1 }))).status, 200);

  const trusted = await startEngine(t, { phoneName: 'alice', ipAddressOfThisHost: '127.0.0.2' });
  t.is(await trusted.engine.makeCall('bob', '127.0.0.1', b.port, 0, true, 5000), T.SipSuccess);
  await b.waitFor(T.SipIncomingCallConnected);
  t.true(((await refusals(b)).sourceNotAllowed ?? 0) >= 1);
  t.is(await trusted.engine.terminateCall(0, true, 5000), T.SipSuccess);
  await b.waitFor(T.SipOnHook);

  // scope 'all': every request from elsewhere is refused
  const all = await startEngine(t, { phoneName: 'carol', allowedSourceNetworks: ['10.0.0.0/8'], allowedSourceScope: 'all' });
  const c2 = await sipUdpClient(t, all.port);
  t.is((await c2.request(sipRequest({ method: 'OPTIONS', user: 'carol', enginePort: all.port, localPort: c2.port, branch: `opt2${Date.now()}`, callId: 'opt2@test', cseq: 1 }))).status, 403);
});

test('bad values of each limit give SipBadParameter from startSipTelephony', async (t) => {
  const bad: Array<[keyof StartSipTelephonyParams, unknown]> = [
    ['registrarRequireAuthentication', 'yes'],
    ['maxSipMessageBytes', 100],
    ['maxSipMessageBytes', 1.5e9],
    ['maxSipMessageBytes', 2048.5],
    ['maxSipHeaders', -1],
    ['requestRatePerSource', -5],
    ['requestRatePerSource', '100'],
    ['requestBurstPerSource', 0],
    ['rateLimitAction', 'ignore'],
    ['allowedSourceNetworks', '127.0.0.1/8'],
    ['allowedSourceNetworks', ['127.0.0.1/33']],
    ['allowedSourceNetworks', ['::1/129']],
    ['allowedSourceNetworks', ['example.com/24']],
    ['allowedSourceNetworks', [42]],
    ['allowedSourceScope', 'invites'],
    ['authFailureLimit', -1],
    ['authFailureLimitPerUser', 0.5],
    ['authFailureWindowSeconds', 0],
    ['authBlockSeconds', 0],
    ['authBlockSeconds', 8 * 86_400],
    ['authBlockAction', 'tarpit'],
  ];
  const engine = new VoipMediaEngine();
  for (const [name, value] of bad) {
    t.is(await engine.startSipTelephony({ ipAddressOfThisHost: '127.0.0.1', sipPort: 0, [name]: value }), T.SipBadParameter, `${name} = ${JSON.stringify(value)}`);
  }
  // every limit set to a good value starts
  const good: StartSipTelephonyParams = {
    ipAddressOfThisHost: '127.0.0.1', sipPort: 0, registrarRequireAuthentication: false, maxSipMessageBytes: 1024, maxSipHeaders: 0, requestRatePerSource: 0,
    requestBurstPerSource: 1, rateLimitAction: 'drop', allowedSourceNetworks: ['127.0.0.0/8', '::ffff:10.0.0.0/104', '2001:db8::/32', '::1'], allowedSourceScope: 'all',
    authFailureLimit: 0, authFailureLimitPerUser: 0, authFailureWindowSeconds: 1, authBlockSeconds: 1, authBlockAction: 'drop',
  };
  t.is(await engine.startSipTelephony(good), T.SipSuccess);
  t.is(await engine.stopSipTelephony(), T.SipSuccess);
});

test('a source over its rate still ends its calls: the BYE passes while its OPTIONS get 503', async (t) => {
  const rtp = await freePorts(8, { even: true });
  const a = await startEngine(t, { phoneName: 'alice', minLocalRtpPort: rtp[0]!, maxLocalRtpPort: rtp[3]! + 1 });
  const b = await startEngine(t, { phoneName: 'bob', minLocalRtpPort: rtp[4]!, maxLocalRtpPort: rtp[7]! + 1, requestRatePerSource: 1, requestBurstPerSource: 3 });
  t.is((await b.engine.enableMetrics()).result, T.SipSuccess);
  t.teardown(() => b.engine.disableMetrics());
  b.engine.on('SipOkToAnswerCall', (n) => b.engine.goOffHook(n.phoneLine));
  t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, 0, true, 5000), T.SipSuccess);
  await b.waitFor(T.SipIncomingCallConnected);
  // the same source address as alice's engine: one bucket, emptied
  const c = await sipUdpClient(t, b.port, '127.0.0.1');
  const answers = await Promise.all(
    Array.from({ length: 6 }, (_, j) => c.request(sipRequest({ method: 'OPTIONS', user: 'bob', enginePort: b.port, localPort: c.port, branch: `drain${j}x${Date.now()}`, callId: `drain${j}@test`, cseq: 1 }))),
  );
  t.true(answers.some((r) => r.status === 503), `the source is over its rate (${answers.map((r) => r.status).join(' ')})`);
  const before = (await refusals(b)).rateLimited ?? 0;
  t.is(await a.engine.terminateCall(0, true, 5000), T.SipSuccess);
  await b.waitFor(T.SipOnHook);
  await a.waitFor(T.SipReceivedByeAck);
  t.is(a.of(T.SipReceivedByeErrorAck).length, 0, "alice's BYE answered 200, not 503");
  t.is(b.engine.getNumActiveCalls().numActiveCalls, 0, "bob's line is free again");
  t.is((await refusals(b)).rateLimited ?? 0, before, 'the BYE was not refused');
});

// ---------------------------------------------------------------- the screen's rules in virtual time

const CONFIG: SecurityLimitsConfig = {
  maxSipHeaders: 0,
  requestRatePerSource: 2,
  requestBurstPerSource: 3,
  rateLimitAction: 'reject',
  retryAfterSeconds: 7,
  allowedSourceNetworks: [],
  allowedSourceScope: 'calls',
  authFailureLimit: 3,
  authFailureLimitPerUser: 5,
  authFailureWindowSeconds: 60,
  authBlockSeconds: 300,
  authBlockAction: 'reject',
};

function screenUnderTest(config: Partial<SecurityLimitsConfig> = {}) {
  const clock = new VirtualClock();
  const blocked: AuthenticationBlockedData[] = [];
  const refused: RefusalReason[] = [];
  const limits = new SecurityLimits(clock, { ...CONFIG, ...config }, { blocked: (d) => blocked.push(d), refused: (r) => refused.push(r) });
  return { clock, limits, blocked, refused };
}

function req(method: string, extra = ''): SipRequest {
  return parseMessage(Buffer.from(`${method} sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: 1\r\nCSeq: 1 ${method}\r\n${extra}Content-Length: 0\r\n\r\n`)) as SipRequest;
}

const from = (host: string) => ({ protocol: 'UDP' as const, host, port: 5070 });

test('token bucket per source: a burst, then the average rate; other sources unaffected; drop when configured', (t) => {
  const { clock, limits, refused } = screenUnderTest();
  const r = req('OPTIONS');
  for (let i = 0; i < 3; i++) t.is(limits.screen(r, from('10.0.0.1'), false), undefined);
  t.deepEqual(limits.screen(r, from('10.0.0.1'), false), { drop: false, status: 503, reason: 'Service Unavailable', retryAfterSeconds: 7 });
  t.is(limits.screen(r, from('10.0.0.2'), false), undefined, 'another source has its own bucket');
  clock.advance(500);
  t.is(limits.screen(r, from('10.0.0.1'), false), undefined, 'one token back after 0.5 s at 2/s');
  t.truthy(limits.screen(r, from('10.0.0.1'), false));
  t.deepEqual(refused, ['rateLimited', 'rateLimited']);
  const dropper = screenUnderTest({ requestBurstPerSource: 1, rateLimitAction: 'drop' });
  t.is(dropper.limits.screen(r, from('10.0.0.1'), false), undefined);
  t.deepEqual(dropper.limits.screen(r, from('10.0.0.1'), false), { drop: true });
});

test('a request of a live dialog is charged to its source but never refused for its rate', (t) => {
  const { limits, refused } = screenUnderTest({ requestBurstPerSource: 1 });
  const r = req('OPTIONS');
  t.is(limits.screen(r, from('10.0.0.1'), false), undefined);
  t.truthy(limits.screen(r, from('10.0.0.1'), false), 'the bucket is empty');
  t.is(limits.screen(req('BYE'), from('10.0.0.1'), false, () => true), undefined, 'a BYE of a live dialog passes');
  t.truthy(limits.screen(req('BYE'), from('10.0.0.1'), false, () => false), 'one of no dialog here does not');
  let asked = 0;
  const full = screenUnderTest({ requestBurstPerSource: 5 });
  full.limits.screen(r, from('10.0.0.1'), false, () => ++asked > 0);
  t.is(asked, 0, 'a source within its rate is not looked up');
  t.deepEqual(refused, ['rateLimited', 'rateLimited']);
});

test('too many headers get 513', (t) => {
  const { limits } = screenUnderTest({ maxSipHeaders: 6 });
  t.is(limits.screen(req('OPTIONS'), from('10.0.0.1'), false), undefined);
  t.like(limits.screen(req('OPTIONS', 'X-A: 1\r\nX-B: 2\r\n'), from('10.0.0.1'), false), { status: 513 });
  t.deepEqual(limits.counters().tooManyHeaders, 1);
});

test('failed authentication: the source is blocked at the limit within the window, for the block period, reported once', (t) => {
  const { clock, limits, blocked } = screenUnderTest();
  const withAuth = req('REGISTER', 'Authorization: Digest username="150", realm="r", nonce="n", uri="sip:r", response="0"\r\n');
  limits.authFailed('10.0.0.1', '150');
  limits.authFailed('10.0.0.1', '150');
  clock.advance(61_000);
  limits.authFailed('10.0.0.1', '150');
  limits.authFailed('10.0.0.1', '150');
  t.is(blocked.length, 0, 'the first two fell out of the window');
  t.is(limits.screen(req('REGISTER'), from('10.0.0.1'), true), undefined);
  limits.authFailed('10.0.0.1', '150');
  t.deepEqual(blocked, [{ kind: 'source', source: '10.0.0.1', user: '150', failures: 3, blockedSeconds: 300 }]);
  t.like(limits.screen(req('REGISTER'), from('10.0.0.1'), true), { status: 403 });
  t.is(limits.screen(req('OPTIONS'), from('10.0.0.1'), false), undefined, 'requests not authenticated pass');
  t.is(limits.screen(withAuth, from('10.0.0.9'), true), undefined, 'the user is not blocked yet (5 per user)');
  limits.authFailed('10.0.0.1', '150');
  t.is(blocked.length, 1, 'failures while blocked do not report again');
  limits.authFailed('10.0.0.7', '150');
  limits.authFailed('10.0.0.8', '150');
  t.is(blocked.length, 2);
  t.like(blocked[1], { kind: 'user', user: '150', failures: 5 });
  t.like(limits.screen(withAuth, from('10.0.0.9'), true), { status: 403 }, 'the user is blocked from any source');
  clock.advance(300_001);
  t.is(limits.screen(req('REGISTER'), from('10.0.0.1'), true), undefined, 'the block ends');
  t.is(limits.screen(withAuth, from('10.0.0.9'), true), undefined);
  const dropper = screenUnderTest({ authFailureLimit: 1, authBlockAction: 'drop' });
  dropper.limits.authFailed('10.0.0.1', '');
  t.deepEqual(dropper.limits.screen(req('INVITE'), from('10.0.0.1'), true), { drop: true });
});

test('allowed networks: CIDR matching for IPv4 and IPv6, new calls only or every request', (t) => {
  const { limits } = screenUnderTest({ allowedSourceNetworks: ['192.168.1.0/24', '2001:db8::/32', '::ffff:10.1.0.0/112'] });
  t.is(limits.screen(req('INVITE'), from('192.168.1.77'), false), undefined);
  t.is(limits.screen(req('INVITE'), from('2001:db8:1::5'), false), undefined);
  t.is(limits.screen(req('INVITE'), from('10.1.2.3'), false), undefined, 'an IPv4-mapped network matches the IPv4 address');
  t.like(limits.screen(req('INVITE'), from('192.168.2.1'), false), { status: 403 });
  t.like(limits.screen(req('INVITE'), from('2001:db9::1'), false), { status: 403 });
  t.is(limits.screen(req('OPTIONS'), from('192.168.2.1'), false), undefined, 'scope calls: other requests pass');
  const all = screenUnderTest({ allowedSourceNetworks: ['192.168.1.0/24'], allowedSourceScope: 'all' });
  t.like(all.limits.screen(req('OPTIONS'), from('192.168.2.1'), false), { status: 403 });
  t.deepEqual([...addressBytes('::1')!], [...Array<number>(15).fill(0), 1]);
  t.deepEqual([...addressBytes('::ffff:1.2.3.4')!], [1, 2, 3, 4]);
  t.deepEqual([...addressBytes('fe80::1:2')!].slice(0, 2), [0xfe, 0x80]);
  t.is(addressBytes('host.example'), undefined);
  t.is(parseCidr('10.0.0.0/33'), undefined);
  t.is(parseCidr('10.0.0.0/-1'), undefined);
  t.like(parseCidr('10.0.0.1'), { prefix: 32 });
  t.like(parseCidr('::/0'), { prefix: 0 });
});
