/**
 * Challenging incoming requests (setChallengeAuthenticationState) on loopback:
 * - a SIPp UAC answering our 401 with the right password gets its MESSAGE (and, in the
 *   registrar role, its REGISTER) through; with a wrong password it gets 403;
 * - SIPp's Authorization, replayed by a third party in a new transaction, gets a new 401;
 * - a hand-driven client: nonce counts must grow, a nonce we never issued is re-challenged, an
 *   expired one gets stale=true, OPTIONS/ACK/CANCEL are never challenged;
 * - an engine calling an engine with challenges on connects with the right password, and a
 *   MESSAGE with the wrong one fails with 403 at the sender.
 */
import test, { type ExecutionContext } from 'ava';
import { TelephonyReturnValue as T, type IncomingAuthenticationData, VoipMediaEngine } from '../index.js';
import { computeDigestResponse } from '../sip/digest.js';
import { parseAuthHeader } from '../sip/grammar.js';
import type { SipResponse } from '../sip/message.js';
import { sleep, startEngine, type EngineUnderTest } from './helpers/engine.js';
import { peerTest } from './helpers/env.js';
import { runSipp, sippScenario } from './helpers/peers.js';
import { freePort, freePorts } from './helpers/ports.js';
import { sipRequest, sipUdpClient, type SipUdpClient } from './helpers/sipUdp.js';

/** The users the challenging engines know. */
const USERS: Record<string, string> = { alice: 'secret-alice', '150': 'secret-150' };

/**
 * An engine with challenges on whose application looks passwords up in USERS (by setting
 * `data.password`, the engine then checks the digest).
 */
async function challenger(t: ExecutionContext, phoneName = 'bob'): Promise<EngineUnderTest> {
  const rtp = await freePorts(8, { even: true });
  const e = await startEngine(t, { phoneName, minLocalRtpPort: rtp[0]!, maxLocalRtpPort: rtp[rtp.length - 1]! + 1 });
  e.engine.on('SipIncomingAuthentication', (n) => {
    const d = n.data;
    const pw = USERS[d.userName];
    if (pw !== undefined) d.password = pw;
  });
  t.is(e.engine.setChallengeAuthenticationState(true), T.SipSuccess);
  return e;
}

/** The Digest parameters of a 401. */
function challengeOf(res: SipResponse): Record<string, string> {
  const h = res.headers.get('WWW-Authenticate');
  if (!h) throw new Error(`no WWW-Authenticate in ${res.status}`);
  return parseAuthHeader(h).params;
}

/** An Authorization value for `method`/`uri` answering `ch` as alice. */
function authorization(ch: Record<string, string>, method: string, uri: string, nc: number, password = USERS['alice']!): string {
  const ncHex = nc.toString(16).padStart(8, '0');
  const cnonce = 'c0ffee';
  const response = computeDigestResponse({ algorithm: 'MD5', username: 'alice', realm: ch['realm']!, password, nonce: ch['nonce']!, cnonce, nc: ncHex, qop: 'auth', method, uri });
  return `Authorization: Digest username="alice", realm="${ch['realm']}", nonce="${ch['nonce']}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=${ncHex}, cnonce="${cnonce}"`;
}

/** A MESSAGE from the hand-driven client, numbered `n`. */
function message(c: SipUdpClient, e: EngineUnderTest, n: number, headers: string[] = []): Buffer {
  return sipRequest({ method: 'MESSAGE', user: 'bob', enginePort: e.port, localPort: c.port, branch: `auth${n}x${Date.now()}`, callId: 'auth-call', cseq: n, headers: ['Content-Type: text/plain', ...headers], body: `msg ${n}` });
}

peerTest('SIPp UAC with the right password gets its MESSAGE through; the application saw user, realm, method and uri', ['sipp'], async (t) => {
  const bob = await challenger(t);
  const res = await runSipp([`127.0.0.1:${bob.port}`, '-sf', sippScenario('uac-auth-message.xml'), '-s', 'bob', '-au', 'alice', '-ap', 'secret-alice', '-p', String(await freePort()), '-m', '1', '-timeout', '15s', '-timeout_error']);
  t.is(res.code, 0, res.summary);
  const auth = bob.of(T.SipIncomingAuthentication);
  t.is(auth.length, 1);
  // SIPp writes the remote address as the digest uri (its -auth_uri default), not the Request-URI.
  t.like(auth[0]!.data, { method: 'MESSAGE', requestUri: `sip:bob@127.0.0.1:${bob.port}`, userName: 'alice', realm: '127.0.0.1', uri: `sip:127.0.0.1:${bob.port}`, authorizationGranted: true });
  const got = await bob.waitFor(T.SipRecvOutOfDialogMessage);
  t.is(got.data.messageData.toString().trimEnd(), 'hello from sipp');
});

peerTest('SIPp UAC with a wrong password gets 403 and nothing is delivered', ['sipp'], async (t) => {
  const bob = await challenger(t);
  const res = await runSipp([`127.0.0.1:${bob.port}`, '-sf', sippScenario('uac-auth-message-wrong.xml'), '-s', 'bob', '-au', 'alice', '-ap', 'not-the-password', '-p', String(await freePort()), '-m', '1', '-timeout', '15s', '-timeout_error']);
  t.is(res.code, 0, res.summary);
  t.is(bob.of(T.SipRecvOutOfDialogMessage).length, 0);
});

peerTest('SIPp REGISTER to the engine as registrar: challenged, answered, bound', ['sipp'], async (t) => {
  const pbx = await challenger(t, 'pbx');
  const port = await freePort();
  const res = await runSipp([`127.0.0.1:${pbx.port}`, '-sf', sippScenario('uac-auth-register.xml'), '-s', '150', '-ap', 'secret-150', '-p', String(port), '-m', '1', '-timeout', '15s', '-timeout_error']);
  t.is(res.code, 0, res.summary);
  const { bindings } = pbx.engine.getRegistrarBindings();
  t.deepEqual(bindings.map((b) => [b.user, b.contact]), [['150', `sip:150@127.0.0.1:${port}`]]);
});

peerTest("SIPp's Authorization replayed by a third party in a new transaction gets a fresh 401, not a 200", ['sipp'], async (t) => {
  const bob = await challenger(t);
  // The application's message hook shows the MESSAGE SIPp authenticated: capture its header.
  let captured: string | undefined;
  bob.engine.on('SipModifySipMessage', (n) => {
    const d = n.data;
    const m = /\r\nAuthorization: ([^\r]*)/i.exec(d.message);
    if (d.direction === 'received' && m) captured = m[1];
  });
  t.is(bob.engine.enableSipMessageHook(true), T.SipSuccess);
  const res = await runSipp([`127.0.0.1:${bob.port}`, '-sf', sippScenario('uac-auth-message.xml'), '-s', 'bob', '-au', 'alice', '-ap', 'secret-alice', '-p', String(await freePort()), '-m', '1', '-timeout', '15s', '-timeout_error']);
  t.is(res.code, 0, res.summary);
  t.truthy(captured);
  t.regex(captured!, /nc=00000001/);
  const c = await sipUdpClient(t, bob.port);
  const replay = await c.request(message(c, bob, 7, [`Authorization: ${captured}`]));
  t.is(replay.status, 401);
  t.is(bob.of(T.SipIncomingAuthentication).length, 1, 'the replay never reached the application');
  t.is(bob.of(T.SipRecvOutOfDialogMessage).length, 1);
});

test('hand-driven client: nonce counts must grow, forged nonces are re-challenged, expired ones get stale=true', async (t) => {
  const bob = await challenger(t);
  const c = await sipUdpClient(t, bob.port);
  const uri = `sip:bob@127.0.0.1:${bob.port}`;
  const first = await c.request(message(c, bob, 1));
  t.is(first.status, 401);
  const ch = challengeOf(first);
  t.is(ch['realm'], '127.0.0.1');
  t.is(ch['qop'], 'auth');
  t.false('stale' in ch);
  t.is((await c.request(message(c, bob, 2, [authorization(ch, 'MESSAGE', uri, 1)]))).status, 200);
  t.is((await c.request(message(c, bob, 3, [authorization(ch, 'MESSAGE', uri, 1)]))).status, 401, 'same nonce and nc again: replay');
  t.is((await c.request(message(c, bob, 4, [authorization(ch, 'MESSAGE', uri, 2)]))).status, 200, 'next nc: fine');
  t.is((await c.request(message(c, bob, 5, [authorization(ch, 'MESSAGE', uri, 2)]))).status, 401, 'nc must grow');
  t.is((await c.request(message(c, bob, 6, [authorization(ch, 'MESSAGE', uri, 3, 'wrong')]))).status, 403, 'wrong password: 403');
  t.is((await c.request(message(c, bob, 7, [authorization(ch, 'MESSAGE', uri, 3)]))).status, 200, 'a failed attempt does not burn the count');
  const forged = { ...ch, nonce: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' };
  const f = await c.request(message(c, bob, 8, [authorization(forged, 'MESSAGE', uri, 1)]));
  t.is(f.status, 401);
  t.false('stale' in challengeOf(f));
  const other = { ...ch, realm: 'elsewhere' };
  t.is((await c.request(message(c, bob, 9, [authorization(other, 'MESSAGE', uri, 4)]))).status, 401, 'another realm is no answer');
  t.is((await c.request(message(c, bob, 10, ['Authorization: Digest garbage"']))).status, 401);
  t.is(bob.of(T.SipRecvOutOfDialogMessage).length, 3);

  // Nonces live 1 s now: the same (right) answer later is stale.
  t.is(bob.engine.setAuthCredentialExpireTime(1), T.SipSuccess);
  await sleep(1200);
  const stale = await c.request(message(c, bob, 11, [authorization(ch, 'MESSAGE', uri, 10)]));
  t.is(stale.status, 401);
  const fresh = challengeOf(stale);
  t.is(fresh['stale'], 'true');
  t.not(fresh['nonce'], ch['nonce']);
  t.is((await c.request(message(c, bob, 12, [authorization(fresh, 'MESSAGE', uri, 1)]))).status, 200);

  t.is(bob.engine.setAuthCredentialExpireTime(0), T.SipBadParameter);
  t.is(bob.engine.setChallengeAuthenticationState('yes' as unknown as boolean), T.SipBadParameter);
});

test('OPTIONS, ACK and CANCEL are never challenged; turning challenges off lets requests through', async (t) => {
  const bob = await challenger(t);
  const c = await sipUdpClient(t, bob.port);
  const base = { enginePort: bob.port, localPort: c.port, cseq: 1 };
  t.is((await c.request(sipRequest({ ...base, method: 'OPTIONS', branch: 'o1', callId: 'o1' }))).status, 200);
  t.is((await c.request(sipRequest({ ...base, method: 'CANCEL', branch: 'c1', callId: 'c1' }))).status, 481, 'CANCEL reaches dispatch (no INVITE to cancel)');
  c.send(sipRequest({ ...base, method: 'ACK', branch: 'a1', callId: 'a1' }));
  t.is((await c.request(sipRequest({ ...base, method: 'BYE', branch: 'b1', callId: 'b1' }))).status, 401, 'BYE is challenged');
  t.is(bob.engine.setChallengeAuthenticationState(false), T.SipSuccess);
  t.is((await c.request(sipRequest({ ...base, method: 'MESSAGE', branch: 'm1', callId: 'm1', headers: ['Content-Type: text/plain'], body: 'x' }))).status, 200);
  t.is(bob.of(T.SipIncomingAuthentication).length, 0);
  const stopped = new VoipMediaEngine();
  t.is(stopped.setChallengeAuthenticationState(true), T.SipMediaEngineNotInitialized);
  t.is(stopped.setAuthCredentialExpireTime(10), T.SipMediaEngineNotInitialized);
});

test('an application that neither grants nor gives a password refuses with 403; verifyChallengeResponse grants', async (t) => {
  const rtp = await freePorts(8, { even: true });
  const bob = await startEngine(t, { phoneName: 'bob', minLocalRtpPort: rtp[0]!, maxLocalRtpPort: rtp[rtp.length - 1]! + 1 });
  t.is(bob.engine.setChallengeAuthenticationState(true, 'linescape.test'), T.SipSuccess);
  const verdicts: T[] = [];
  bob.engine.on('SipIncomingAuthentication', (n) => {
    const d = n.data;
    if (d.userName === 'alice') verdicts.push(bob.engine.verifyChallengeResponse(d, 'secret-alice'));
    // anyone else: leave it alone (refused)
  });
  const c = await sipUdpClient(t, bob.port);
  const uri = `sip:bob@127.0.0.1:${bob.port}`;
  const ch = challengeOf(await c.request(message(c, bob, 1)));
  t.is(ch['realm'], 'linescape.test');
  t.is((await c.request(message(c, bob, 2, [authorization(ch, 'MESSAGE', uri, 1)]))).status, 200);
  t.is((await c.request(message(c, bob, 3, [authorization(ch, 'MESSAGE', uri, 2, 'guess')]))).status, 403);
  t.deepEqual(verdicts, [T.SipSuccess, T.SipCallFailure]);
  t.is(bob.engine.verifyChallengeResponse({} as IncomingAuthenticationData, 'x'), T.SipInvalidHandle);
  t.is(bob.engine.verifyChallengeResponse(null as unknown as IncomingAuthenticationData, 'x'), T.SipInvalidHandle);
});

test('an engine calls an engine with challenges on: the INVITE is challenged and connects with the right password', async (t) => {
  const bob = await challenger(t);
  bob.engine.on('SipOkToAnswerCall', (n) => bob.engine.goOffHook(n.phoneLine));
  const rtp = await freePorts(8, { even: true });
  const alice = await startEngine(t, { phoneName: 'alice', minLocalRtpPort: rtp[0]!, maxLocalRtpPort: rtp[rtp.length - 1]! + 1 });
  t.is(alice.engine.addAuthorizationCredentials('alice', 'secret-alice', '127.0.0.1'), T.SipSuccess);
  t.is(await alice.engine.makeCall('bob', '127.0.0.1', bob.port, 0, true, 8000), T.SipSuccess);
  await bob.waitFor(T.SipIncomingCallConnected);
  t.like(bob.of(T.SipIncomingAuthentication)[0]?.data, { method: 'INVITE', userName: 'alice', authorizationGranted: true });
  // bob hangs up (his BYE goes to alice, who does not challenge)
  t.is(await bob.engine.terminateCall(0, true, 5000), T.SipSuccess);
  await alice.waitFor(T.SipByeReceived);

  // a MESSAGE with the wrong password: 403 reaches alice as a failure event
  t.is(alice.engine.deleteAuthorizationCredentials('alice', '127.0.0.1'), T.SipSuccess);
  t.is(alice.engine.addAuthorizationCredentials('alice', 'wrong', '127.0.0.1'), T.SipSuccess);
  alice.engine.sendOutOfDialogMessage(`sip:bob@127.0.0.1:${bob.port}`, 'text', 'plain', 'let me in');
  const f = await alice.waitFor(T.SipSendOutOfDialogMessageFailure);
  t.like(f.data, { code: 403 });
  t.is(bob.of(T.SipRecvOutOfDialogMessage).length, 0);
});
