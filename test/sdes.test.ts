/**
 * SDES (sip/sdes.ts): reading `a=crypto` lines (suites in any case, key lengths per suite,
 * lifetime and MKI, session parameters), choosing the line to answer, our offers, redaction, and
 * fast-check properties: no input makes it throw, and our own lines read back unchanged.
 * @module
 */
import test from 'ava';
import fc from 'fast-check';
import { SRTP_SUITES } from '../ffi/srtp.js';
import { chooseOfferedCrypto, formatCrypto, makeCryptoOffer, newSdesKey, parseCrypto, redactSdesKeys, type SdesProblem } from '../sip/sdes.js';

const K80 = newSdesKey('AES_CM_128_HMAC_SHA1_80');
const K256 = newSdesKey('AEAD_AES_256_GCM');

test('a plain line reads back', (t) => {
  const r = parseCrypto(`1 AES_CM_128_HMAC_SHA1_80 inline:${K80}`);
  t.deepEqual(r, { ok: true, crypto: { tag: 1, suite: 'AES_CM_128_HMAC_SHA1_80', key: K80 } });
  t.true(parseCrypto(`a=crypto:7 AEAD_AES_256_GCM inline:${K256}`).ok);
  t.true(parseCrypto(`crypto:7 AEAD_AES_256_GCM inline:${K256}`).ok);
});

test('suite names are case-insensitive and come back canonical', (t) => {
  const r = parseCrypto(`3 aes_cm_128_hmac_sha1_32 INLINE:${K80}`);
  t.true(r.ok);
  if (r.ok) t.is(r.crypto.suite, 'AES_CM_128_HMAC_SHA1_32');
});

test('lifetime as 2^n or decimal, and MKI', (t) => {
  const a = parseCrypto(`1 AES_CM_128_HMAC_SHA1_80 inline:${K80}|2^20|1:4`);
  t.true(a.ok);
  if (a.ok) {
    t.is(a.crypto.lifetime, 2 ** 20);
    t.deepEqual(a.crypto.mki, { value: 1, bytes: 4 });
  }
  const b = parseCrypto(`1 AES_CM_128_HMAC_SHA1_80 inline:${K80}|1048576`);
  t.true(b.ok && b.crypto.lifetime === 1048576);
  const c = parseCrypto(`1 AES_CM_128_HMAC_SHA1_80 inline:${K80}|255:1`);
  t.true(c.ok && c.crypto.mki?.value === 255);
  // MKI value too big for its length, bad lifetime, MKI before lifetime, MKI with _32
  t.is((parseCrypto(`1 AES_CM_128_HMAC_SHA1_80 inline:${K80}|256:1`) as { problem?: string }).problem, 'bad-mki');
  t.is((parseCrypto(`1 AES_CM_128_HMAC_SHA1_80 inline:${K80}|2^x`) as { problem?: string }).problem, 'bad-lifetime');
  t.is((parseCrypto(`1 AES_CM_128_HMAC_SHA1_80 inline:${K80}|1:4|2^20`) as { problem?: string }).problem, 'bad-lifetime');
  t.is((parseCrypto(`1 AES_CM_128_HMAC_SHA1_32 inline:${K80}|1:4`) as { problem?: string }).problem, 'bad-mki');
});

test('unusable lines say why, with the tag, and never echo the key', (t) => {
  const cases: [string, SdesProblem][] = [
    [`1 F8_128_HMAC_SHA1_80 inline:${K80}`, 'unknown-suite'],
    ['1 AES_CM_128_HMAC_SHA1_80', 'missing-key'],
    ['1 AES_CM_128_HMAC_SHA1_80 inline:', 'missing-key'],
    [`1 AES_CM_128_HMAC_SHA1_80 uri:${K80}`, 'missing-key'],
    [`1 AES_CM_128_HMAC_SHA1_80 inline:${K256}`, 'bad-key'],
    ['1 AES_CM_128_HMAC_SHA1_80 inline:!!!!', 'bad-key'],
    [`1 AES_CM_128_HMAC_SHA1_80 inline:${K80};inline:${K80}`, 'several-keys'],
    [`1 AES_CM_128_HMAC_SHA1_80 inline:${K80} UNENCRYPTED_SRTP`, 'session-parameter'],
    [`1 AES_CM_128_HMAC_SHA1_80 inline:${K80} KDR=3`, 'session-parameter'],
  ];
  for (const [line, problem] of cases) {
    const r = parseCrypto(line);
    t.false(r.ok, line);
    if (!r.ok) {
      t.is(r.problem, problem, line);
      t.is(r.tag, 1);
      t.false(r.detail.includes(K80), 'no key in the reason');
    }
  }
  t.true(parseCrypto(`1 AES_CM_128_HMAC_SHA1_80 inline:${K80} WSH=64 KDR=0`).ok);
  t.is((parseCrypto('x AES_CM_128_HMAC_SHA1_80') as { problem?: string }).problem, 'syntax');
});

test('the first usable line in the offer order is chosen', (t) => {
  const offer = [`1 FOO_SUITE inline:${K80}`, '2 AES_CM_128_HMAC_SHA1_80 inline:short', `3 AES_CM_128_HMAC_SHA1_32 inline:${K80}`, `4 AES_CM_128_HMAC_SHA1_80 inline:${K80}`];
  const r = chooseOfferedCrypto(offer, SRTP_SUITES);
  t.true(r.ok);
  if (r.ok) t.is(r.crypto.tag, 3);
  // our enabled suites limit the choice
  const only80 = chooseOfferedCrypto(offer, ['AES_CM_128_HMAC_SHA1_80']);
  t.true(only80.ok && only80.crypto.tag === 4);
});

test('duplicated tags are skipped; nothing usable says why', (t) => {
  const dup = [`1 AES_CM_128_HMAC_SHA1_80 inline:${K80}`, `1 AES_CM_128_HMAC_SHA1_32 inline:${K80}`, `2 AES_CM_128_HMAC_SHA1_32 inline:${K80}`];
  const r = chooseOfferedCrypto(dup, SRTP_SUITES);
  t.true(r.ok && r.crypto.tag === 2);
  const none = chooseOfferedCrypto([`1 FOO inline:${K80}`], SRTP_SUITES);
  t.false(none.ok);
  if (!none.ok) t.regex(none.detail, /unknown crypto suite FOO/);
  t.false(chooseOfferedCrypto([], SRTP_SUITES).ok);
});

test('offers have tags 1..n, fresh keys, and read back', (t) => {
  const a = makeCryptoOffer(SRTP_SUITES);
  const b = makeCryptoOffer(SRTP_SUITES);
  t.deepEqual(
    a.map((c) => c.tag),
    [1, 2, 3, 4],
  );
  for (const [i, c] of a.entries()) {
    t.not(c.key, b[i]!.key, 'fresh key per offer');
    t.deepEqual(parseCrypto(formatCrypto(c)), { ok: true, crypto: c });
  }
});

test('redaction hides every key, keeps lifetime and MKI', (t) => {
  const sdp = `v=0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${K80}|2^31|1:1\r\na=crypto:2 AEAD_AES_256_GCM INLINE:${K256}\r\n`;
  const red = redactSdesKeys(sdp);
  t.false(red.includes(K80));
  t.false(red.includes(K256));
  t.true(red.includes('inline:<redacted>|2^31|1:1'));
});

test('property: parseCrypto never throws on garbage', (t) => {
  const token = fc.oneof(
    fc.string(),
    fc.constantFrom('inline:', '|', ':', ';', ' ', '2^', 'AES_CM_128_HMAC_SHA1_80', 'aead_aes_256_gcm', K80, K256, 'WSH=', 'KDR=0', '1:4', '=='),
  );
  fc.assert(
    fc.property(fc.array(token, { maxLength: 12 }), fc.anything(), (parts, junk) => {
      parseCrypto(parts.join(''));
      parseCrypto(junk);
      chooseOfferedCrypto([parts.join(' '), junk], SRTP_SUITES);
      redactSdesKeys(parts.join(''));
    }),
  );
  t.pass();
});

test('property: any line we write reads back to the same crypto', (t) => {
  fc.assert(
    fc.property(
      fc.constantFrom(...SRTP_SUITES),
      fc.integer({ min: 1, max: 999999999 }),
      fc.option(fc.integer({ min: 1, max: 48 }), { nil: undefined }),
      fc.option(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.nat()), { nil: undefined }),
      (suite, tag, lifeExp, mki) => {
        const c = { tag, suite, key: newSdesKey(suite), ...(lifeExp !== undefined ? { lifetime: 2 ** lifeExp } : {}) } as Parameters<typeof formatCrypto>[0];
        if (mki !== undefined && suite !== 'AES_CM_128_HMAC_SHA1_32') c.mki = { value: mki[1] % 2 ** (8 * mki[0]), bytes: mki[0] };
        const r = parseCrypto(formatCrypto(c));
        return r.ok && JSON.stringify(r.crypto) === JSON.stringify(c);
      },
    ),
  );
  t.pass();
});
