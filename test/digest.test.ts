import test from 'ava';
import { createHash } from 'node:crypto';
import type { AuthHeader } from '../sip/grammar.js';
import {
  ANY_REALM,
  checkDigest,
  computeDigestResponse,
  computeHA1,
  createChallenge,
  createNonce,
  formatDigestHeader,
  CredentialStore,
  DigestClient,
  type DigestAnswer,
  normalizeAlgorithm,
  nonceAge,
  parseQopOptions,
  verifyDigest,
} from '../sip/digest.js';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

// RFC 2617 §3.5
const RFC2617 = {
  username: 'Mufasa',
  realm: 'testrealm@host.com',
  password: 'Circle Of Life',
  nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
  cnonce: '0a4f113b',
  nc: '00000001',
  qop: 'auth',
  method: 'GET',
  uri: '/dir/index.html',
  opaque: '5ccc069c403ebaf9f0171e9517f40e41',
};

// RFC 7616 §3.9.1
const RFC7616 = {
  username: 'Mufasa',
  realm: 'http-auth@example.org',
  password: 'Circle of Life',
  nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
  cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
  nc: '00000001',
  qop: 'auth',
  method: 'GET',
  uri: '/dir/index.html',
  opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS',
};

function challenge(params: Record<string, string>): AuthHeader {
  return { scheme: 'Digest', params };
}

function ok(t: { true(v: boolean, m?: string): void }, r: { ok: boolean }): asserts r is DigestAnswer {
  t.true(r.ok, JSON.stringify(r));
  if (!r.ok) throw new Error('expected ok');
}

test('RFC 2617 §3.5 MD5 qop=auth vector', (t) => {
  t.is(computeDigestResponse(RFC2617), '6629fae49393a05397450978507c4ef1');
  t.is(computeDigestResponse({ ...RFC2617, algorithm: 'md5' }), '6629fae49393a05397450978507c4ef1');
});

test('RFC 7616 §3.9.1 MD5 and SHA-256 vectors', (t) => {
  t.is(computeDigestResponse({ ...RFC7616, algorithm: 'MD5' }), '8ca523f5e9506fed4657c9700eebdbec');
  t.is(
    computeDigestResponse({ ...RFC7616, algorithm: 'SHA-256' }),
    '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
  );
});

test('HA1 may replace the password', (t) => {
  const ha1 = computeHA1('MD5', RFC2617.username, RFC2617.realm, RFC2617.password);
  const { password: _, ...rest } = RFC2617;
  t.is(computeDigestResponse({ ...rest, ha1 }), '6629fae49393a05397450978507c4ef1');
  t.throws(() => computeDigestResponse(rest), { instanceOf: RangeError });
  t.throws(() => computeDigestResponse({ ...RFC2617, algorithm: 'SHA-1' }), { instanceOf: RangeError });
});

test('no qop (RFC 2069) computation', (t) => {
  const ha1 = md5(`${RFC2617.username}:${RFC2617.realm}:${RFC2617.password}`);
  const ha2 = md5(`${RFC2617.method}:${RFC2617.uri}`);
  t.is(computeDigestResponse({ ...RFC2617, qop: undefined }), md5(`${ha1}:${RFC2617.nonce}:${ha2}`));
});

test('MD5-sess derives the session key from nonce and cnonce', (t) => {
  const base = md5(`${RFC2617.username}:${RFC2617.realm}:${RFC2617.password}`);
  const ha1 = md5(`${base}:${RFC2617.nonce}:${RFC2617.cnonce}`);
  const ha2 = md5(`${RFC2617.method}:${RFC2617.uri}`);
  const expected = md5(`${ha1}:${RFC2617.nonce}:${RFC2617.nc}:${RFC2617.cnonce}:auth:${ha2}`);
  t.is(computeDigestResponse({ ...RFC2617, algorithm: 'MD5-sess' }), expected);
  t.not(expected, '6629fae49393a05397450978507c4ef1');
});

test('auth-int hashes the body into HA2', (t) => {
  const body = 'v=0\r\n';
  const ha1 = md5(`${RFC2617.username}:${RFC2617.realm}:${RFC2617.password}`);
  const ha2 = md5(`${RFC2617.method}:${RFC2617.uri}:${md5(body)}`);
  const expected = md5(`${ha1}:${RFC2617.nonce}:${RFC2617.nc}:${RFC2617.cnonce}:auth-int:${ha2}`);
  t.is(computeDigestResponse({ ...RFC2617, qop: 'auth-int', body }), expected);
  t.is(computeDigestResponse({ ...RFC2617, qop: 'auth-int', bodyHash: md5(body) }), expected);
});

test('algorithm names and qop options', (t) => {
  t.is(normalizeAlgorithm(undefined), 'MD5');
  t.is(normalizeAlgorithm('sha-256-SESS'), 'SHA-256-sess');
  t.is(normalizeAlgorithm('SHA-512-256'), 'SHA-512-256');
  t.is(normalizeAlgorithm('SHA-1'), undefined);
  t.deepEqual(parseQopOptions('auth, Auth-Int'), ['auth', 'auth-int']);
  t.deepEqual(parseQopOptions(undefined), []);
});

test('CredentialStore realm matching, wildcard and preferred user', (t) => {
  const s = new CredentialStore();
  t.true(s.add('alice', 'a1', 'example.com'));
  t.true(s.add('any', 'w', '*'));
  t.true(s.add('bob', 'b1', 'example.com'));
  t.true(s.add('anon', 'x', ''));
  t.false(s.add('', 'p', 'r'));
  t.is(s.find('example.com')?.username, 'alice');
  t.is(s.find('example.com', 'bob')?.username, 'bob');
  t.is(s.find('example.com', 'anon')?.username, 'anon'); // wildcard with the preferred user
  t.is(s.find('other.org')?.username, 'any'); // wildcard, first added
  t.is(s.find('other.org')?.realm, ANY_REALM);
  t.true(s.add('alice', 'a2', 'example.com')); // replace, not duplicate
  t.is(s.find('example.com')?.password, 'a2');
  t.is(s.size, 4);
  t.true(s.delete('alice', 'example.com'));
  t.false(s.delete('alice', 'example.com'));
  t.is(s.find('example.com')?.username, 'bob');
  t.true(s.delete('any'));
  t.true(s.delete('anon', '*'));
  t.is(s.find('other.org'), undefined);
  t.deepEqual(s.list(), [{ username: 'bob', password: 'b1', realm: 'example.com' }]);
});

test('client answers the RFC 2617 challenge exactly', (t) => {
  const store = new CredentialStore();
  store.add('Mufasa', 'Circle Of Life', 'testrealm@host.com');
  const c = new DigestClient(store, { cnonce: () => '0a4f113b' });
  const r = c.authorize(
    [challenge({ realm: RFC2617.realm, qop: 'auth,auth-int', nonce: RFC2617.nonce, opaque: RFC2617.opaque })],
    { method: 'GET', uri: '/dir/index.html' },
  );
  ok(t, r);
  t.is(r.headerName, 'Authorization');
  t.deepEqual(r.header, {
    scheme: 'Digest',
    params: {
      username: 'Mufasa',
      realm: 'testrealm@host.com',
      nonce: RFC2617.nonce,
      uri: '/dir/index.html',
      response: '6629fae49393a05397450978507c4ef1',
      cnonce: '0a4f113b',
      opaque: RFC2617.opaque,
      qop: 'auth',
      nc: '00000001',
    },
  });
  t.false(r.stale);
});

test('407 gives Proxy-Authorization; no qop omits cnonce and nc', (t) => {
  const store = new CredentialStore();
  store.add('u', 'p', '*');
  const c = new DigestClient(store);
  const r = c.authorize(challenge({ realm: 'proxy.example', nonce: 'n1', algorithm: 'MD5' }), { method: 'INVITE', uri: 'sip:b@x' }, { proxy: true });
  ok(t, r);
  t.is(r.headerName, 'Proxy-Authorization');
  t.is(r.header.params['algorithm'], 'MD5');
  t.false('qop' in r.header.params);
  t.false('nc' in r.header.params);
  t.false('cnonce' in r.header.params);
  t.is(r.header.params['realm'], 'proxy.example'); // wildcard answers with the challenge realm
  const ha1 = md5('u:proxy.example:p');
  t.is(r.header.params['response'], md5(`${ha1}:n1:${md5('INVITE:sip:b@x')}`));
});

test('nonce reuse: nc increments, same cnonce, pre-authorization', (t) => {
  const store = new CredentialStore();
  store.add('Mufasa', 'Circle Of Life', 'testrealm@host.com');
  let n = 0;
  const c = new DigestClient(store, { cnonce: () => `cn${++n}` });
  const ch = challenge({ realm: RFC2617.realm, qop: 'auth', nonce: RFC2617.nonce });
  const first = c.authorize(ch, { method: 'REGISTER', uri: 'sip:host.com' });
  ok(t, first);
  t.is(first.header.params['nc'], '00000001');
  const second = c.preauthorize(RFC2617.realm, { method: 'REGISTER', uri: 'sip:host.com' });
  t.truthy(second);
  t.is(second!.header.params['nc'], '00000002');
  t.is(second!.header.params['cnonce'], 'cn1');
  const third = c.preauthorize(RFC2617.realm, { method: 'INVITE', uri: 'sip:x@host.com' })!;
  t.is(third.header.params['nc'], '00000003');
  t.is(
    third.header.params['response'],
    computeDigestResponse({ ...RFC2617, method: 'INVITE', uri: 'sip:x@host.com', cnonce: 'cn1', nc: '00000003' }),
  );
  t.is(c.preauthorize('unknown.realm', { method: 'INVITE', uri: 'sip:x' }), undefined);
  t.is(c.preauthorize(RFC2617.realm, { method: 'INVITE', uri: 'sip:x' }, { proxy: true }), undefined);
  t.deepEqual(c.knownRealms(), [RFC2617.realm]);
  c.forget(RFC2617.realm);
  t.is(c.preauthorize(RFC2617.realm, { method: 'INVITE', uri: 'sip:x' }), undefined);
});

test('the same challenge again means wrong credentials; stale=true does not', (t) => {
  const store = new CredentialStore();
  store.add('u', 'wrong', 'r');
  let n = 0;
  const c = new DigestClient(store, { cnonce: () => `c${++n}` });
  const ch = challenge({ realm: 'r', nonce: 'N1', qop: 'auth' });
  t.false(c.isRepeatedChallenge(ch));
  ok(t, c.authorize(ch, { method: 'REGISTER', uri: 'sip:r' }));
  t.true(c.isRepeatedChallenge(ch));
  const again = c.authorize(ch, { method: 'REGISTER', uri: 'sip:r' });
  t.deepEqual(again, { ok: false, reason: 'repeated', realm: 'r' });
  // The caller knows the request carried no credentials: allow it.
  const allowed = c.authorize(ch, { method: 'REGISTER', uri: 'sip:r' }, { allowRepeat: true });
  ok(t, allowed);
  t.is(allowed.header.params['nc'], '00000002');

  // Stale: a new nonce flagged stale is answered and reported as stale, nc restarts.
  const staleCh = challenge({ realm: 'r', nonce: 'N2', qop: 'auth', stale: 'TRUE' });
  t.false(c.isRepeatedChallenge(staleCh));
  const s = c.authorize(staleCh, { method: 'REGISTER', uri: 'sip:r' });
  ok(t, s);
  t.true(s.stale);
  t.is(s.header.params['nonce'], 'N2');
  t.is(s.header.params['nc'], '00000001');
  t.not(s.header.params['cnonce'], 'c1');
  // Even the same nonce with stale=true is not "repeated".
  t.false(c.isRepeatedChallenge(staleCh));
  ok(t, c.authorize(staleCh, { method: 'REGISTER', uri: 'sip:r' }));
});

test('strongest supported algorithm is chosen among several challenges', (t) => {
  const store = new CredentialStore();
  store.add('Mufasa', 'Circle of Life', 'http-auth@example.org');
  const c = new DigestClient(store, { cnonce: () => RFC7616.cnonce });
  const base = { realm: RFC7616.realm, qop: 'auth', nonce: RFC7616.nonce, opaque: RFC7616.opaque };
  const r = c.authorize(
    [
      challenge({ ...base, algorithm: 'MD5' }),
      { scheme: 'Basic', params: { realm: 'x' } },
      challenge({ ...base, algorithm: 'SHA-1' }),
      challenge({ ...base, algorithm: 'SHA-256' }),
    ],
    { method: 'GET', uri: '/dir/index.html' },
  );
  ok(t, r);
  t.is(r.algorithm, 'SHA-256');
  t.is(r.header.params['algorithm'], 'SHA-256');
  t.is(r.header.params['response'], '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
  t.is(DigestClient.selectChallenge([challenge({ ...base }), challenge({ ...base, algorithm: 'SHA-512-256' })])?.params['algorithm'], 'SHA-512-256');
});

test('failures are reported, never thrown', (t) => {
  const store = new CredentialStore();
  const c = new DigestClient(store);
  const req = { method: 'INVITE', uri: 'sip:b@x' };
  t.deepEqual(c.authorize({ scheme: 'Basic', params: { realm: 'r' } }, req), { ok: false, reason: 'unsupported-scheme' });
  t.deepEqual(c.authorize(challenge({ realm: 'r', nonce: 'n', algorithm: 'SHA-1' }), req), {
    ok: false, reason: 'unsupported-algorithm', realm: 'r',
  });
  t.deepEqual(c.authorize(challenge({ realm: 'r', nonce: 'n' }), req), { ok: false, reason: 'no-credentials', realm: 'r' });
  t.deepEqual(c.authorize(challenge({ nonce: 'n' }), req), { ok: false, reason: 'malformed' });
  store.add('u', 'p', 'r');
  t.deepEqual(c.authorize(challenge({ realm: 'r', nonce: 'n', qop: 'auth-conf' }), req), {
    ok: false, reason: 'unsupported-qop', realm: 'r',
  });
  // auth-int only: answered with the body hashed in.
  const r = c.authorize(challenge({ realm: 'r', nonce: 'n2', qop: 'auth-int' }), { ...req, body: 'x' });
  ok(t, r);
  t.is(r.header.params['qop'], 'auth-int');
});

test('preferred user picks per-line credentials', (t) => {
  const store = new CredentialStore();
  store.add('101', 'p101', 'pbx');
  store.add('102', 'p102', 'pbx');
  const c = new DigestClient(store);
  const r = c.authorize(challenge({ realm: 'pbx', nonce: 'n', qop: 'auth' }), { method: 'REGISTER', uri: 'sip:pbx' }, { preferredUser: '102' });
  ok(t, r);
  t.is(r.username, '102');
});

test('userhash=true sends H(user:realm)', (t) => {
  const store = new CredentialStore();
  store.add('Mufasa', 'pw', 'r');
  const c = new DigestClient(store);
  const r = c.authorize(challenge({ realm: 'r', nonce: 'n', qop: 'auth', algorithm: 'SHA-256', userhash: 'true' }), { method: 'GET', uri: '/' });
  ok(t, r);
  t.is(r.header.params['username'], createHash('sha256').update('Mufasa:r').digest('hex'));
  t.is(r.header.params['userhash'], 'true');
});

test('server: verifyDigest round trip with the client, all algorithms', (t) => {
  for (const algorithm of ['MD5', 'MD5-sess', 'SHA-256', 'SHA-256-sess', 'SHA-512-256'] as const) {
    const ch = createChallenge('linescape', { algorithm, opaque: 'op' });
    t.is(ch.params['algorithm'], algorithm);
    t.is(ch.params['qop'], 'auth');
    const store = new CredentialStore();
    store.add('alice', 'secret', 'linescape');
    const r = new DigestClient(store).authorize(ch, { method: 'REGISTER', uri: 'sip:linescape' });
    ok(t, r);
    t.true(verifyDigest(r.header, 'REGISTER', 'secret', 'linescape', { maxNonceAgeMs: 60_000 }), algorithm);
    t.true(verifyDigest(r.header, 'REGISTER', { ha1: computeHA1(algorithm, 'alice', 'linescape', 'secret') }, 'linescape'), algorithm);
    t.false(verifyDigest(r.header, 'REGISTER', 'wrong', 'linescape'), algorithm);
    t.false(verifyDigest(r.header, 'INVITE', 'secret', 'linescape'), algorithm);
    t.false(verifyDigest(r.header, 'REGISTER', 'secret', 'other-realm'), algorithm);
  }
});

test('server: no-qop challenge, auth-int and RFC vector verification', (t) => {
  const ch = createChallenge('r', { qop: 'none' });
  t.false('qop' in ch.params);
  const store = new CredentialStore();
  store.add('u', 'p', 'r');
  const r = new DigestClient(store).authorize(ch, { method: 'BYE', uri: 'sip:x' });
  ok(t, r);
  t.true(verifyDigest(r.header, 'BYE', 'p', 'r'));

  const chi = createChallenge('r', { qop: 'auth-int' });
  const ri = new DigestClient(store).authorize(chi, { method: 'INVITE', uri: 'sip:x', body: 'sdp' });
  ok(t, ri);
  t.true(verifyDigest(ri.header, 'INVITE', 'p', 'r', { body: 'sdp' }));
  t.false(verifyDigest(ri.header, 'INVITE', 'p', 'r', { body: 'tampered' }));

  const rfc = challenge({
    username: 'Mufasa', realm: RFC2617.realm, nonce: RFC2617.nonce, uri: RFC2617.uri, qop: 'auth', nc: '00000001',
    cnonce: '0a4f113b', response: '6629FAE49393A05397450978507C4EF1', opaque: RFC2617.opaque,
  });
  t.true(verifyDigest(rfc, 'GET', 'Circle Of Life', RFC2617.realm));
  t.false(verifyDigest(rfc, 'GET', 'Circle Of Life', RFC2617.realm, { maxNonceAgeMs: 1000 })); // not our nonce
  t.false(verifyDigest(rfc, 'GET', 'Circle Of Life', RFC2617.realm, { expectedUri: '/other' }));
  t.false(verifyDigest(rfc, 'GET', 'Circle Of Life', RFC2617.realm, { expectedUsername: 'Simba' }));
  t.false(verifyDigest({ ...rfc, params: { ...rfc.params, response: 'abc' } }, 'GET', 'Circle Of Life', RFC2617.realm));
  t.false(verifyDigest({ ...rfc, params: { ...rfc.params, nc: 'zz' } }, 'GET', 'Circle Of Life', RFC2617.realm));
  t.false(verifyDigest({ scheme: 'Basic', params: {} }, 'GET', 'x', 'r'));
  t.false(verifyDigest(null as unknown as AuthHeader, 'GET', 'x', 'r'));
});

test('server: stateless nonce expiry and forgery detection', (t) => {
  const secret = Buffer.alloc(32, 7);
  const t0 = 1_700_000_000_000;
  const nonce = createNonce({ secret, now: t0 });
  t.is(nonceAge(nonce, { secret, now: t0 + 1234 }), 1234);
  t.is(nonceAge(nonce, { now: t0 }), undefined); // other key
  t.is(nonceAge('not-a-nonce', { secret }), undefined);
  t.is(nonceAge('', { secret }), undefined);
  // Flip one character: the HMAC no longer matches.
  const forged = (nonce[0] === 'A' ? 'B' : 'A') + nonce.slice(1);
  t.is(nonceAge(forged, { secret, now: t0 }), undefined);
  t.is(typeof nonceAge(createNonce()), 'number');

  const ch = createChallenge('r', { secret, now: t0 });
  const store = new CredentialStore();
  store.add('u', 'p', 'r');
  const r = new DigestClient(store).authorize(ch, { method: 'REGISTER', uri: 'sip:r' });
  ok(t, r);
  const fresh = checkDigest(r.header, 'REGISTER', 'p', 'r', { nonceSecret: secret, maxNonceAgeMs: 30_000, now: t0 + 10_000 });
  t.deepEqual(fresh, { ok: true, stale: false });
  const old = checkDigest(r.header, 'REGISTER', 'p', 'r', { nonceSecret: secret, maxNonceAgeMs: 30_000, now: t0 + 60_000 });
  t.false(old.ok);
  t.true(old.stale);
  // A wrong password on an old nonce is not "stale": it must not invite a silent retry.
  const wrong = checkDigest(r.header, 'REGISTER', 'bad', 'r', { nonceSecret: secret, maxNonceAgeMs: 30_000, now: t0 + 60_000 });
  t.false(wrong.stale);
  t.false(verifyDigest(r.header, 'REGISTER', 'p', 'r', { nonceSecret: secret, maxNonceAgeMs: 30_000, now: t0 + 60_000 }));

  const staleCh = createChallenge('r', { stale: true });
  t.is(staleCh.params['stale'], 'true');
});

test('formatDigestHeader quotes per RFC 3261 §25.1', (t) => {
  const cred = formatDigestHeader({
    scheme: 'Digest',
    params: { username: 'a', realm: 'r', nonce: 'n', uri: 'sip:x', response: 'ab', algorithm: 'MD5', qop: 'auth', nc: '00000001', cnonce: 'c' },
  });
  t.regex(cred, /qop=auth\b/);
  t.regex(cred, /nc=00000001/);
  t.regex(cred, /algorithm=MD5/);
  t.regex(cred, /username="a"/);
  t.regex(cred, /cnonce="c"/);
  const ch = formatDigestHeader(createChallenge('r', { stale: true }), true);
  t.regex(ch, /qop="auth"/);
  t.regex(ch, /stale=true/);
});
