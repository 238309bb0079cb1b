/**
 * SDES in offer/answer (sip/sdp.ts with sip/sdes.ts), without sockets: what each policy offers,
 * which offers it answers and how, which answers it takes, and that an encrypted call refuses a
 * downgrade to plain RTP.
 * @module
 */
import test from 'ava';
import { createOffer, defaultFormat, negotiateAnswer, negotiateOffer, type LocalMedia } from '../sip/sdp.js';
import { makeCryptoOffer, type LocalSrtp } from '../sip/sdes.js';
import { SRTP_SUITES } from '../ffi/srtp.js';

function local(address: string, sessionId: string, srtp?: LocalSrtp): LocalMedia {
  return {
    address,
    port: 40000,
    formats: [defaultFormat('PCMU')],
    telephoneEvent: true,
    direction: 'sendrecv',
    sessionId,
    sessionVersion: 1,
    ...(srtp !== undefined ? { srtp } : {}),
  };
}

const optional = (): LocalSrtp => ({ policy: 'optional', crypto: makeCryptoOffer(SRTP_SUITES) });
const mandatory = (): LocalSrtp => ({ policy: 'mandatory', crypto: makeCryptoOffer(SRTP_SUITES) });
const alice = (srtp?: LocalSrtp): LocalMedia => local('192.0.2.10', '111', srtp);
const bob = (srtp?: LocalSrtp): LocalMedia => local('198.51.100.20', '222', srtp);

test('offers: optional is RTP/AVP with a crypto line per suite, mandatory RTP/SAVP, none plain', (t) => {
  const o = createOffer(alice(optional()));
  t.regex(o, /m=audio 40000 RTP\/AVP /);
  t.is(o.match(/a=crypto:/g)?.length, 4);
  t.regex(o, /a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\S{40}\r\na=crypto:2 AES_CM_128_HMAC_SHA1_32 /);
  t.regex(createOffer(alice(mandatory())), /m=audio 40000 RTP\/SAVP /);
  t.notRegex(createOffer(alice()), /crypto/);
});

test('optional to optional: SRTP with the first suite, each side keyed with the other key', (t) => {
  const a = alice(optional());
  const b = bob(optional());
  const r = negotiateOffer(createOffer(a), b);
  if (!r.ok) return t.fail(r.detail);
  t.regex(r.answer, /m=audio 40000 RTP\/AVP /);
  t.regex(r.answer, /a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:/);
  t.is(r.answer.match(/a=crypto:/g)?.length, 1);
  const back = negotiateAnswer(r.answer, a);
  if (!back.ok) return t.fail(back.detail);
  t.is(back.media.srtp?.suite, 'AES_CM_128_HMAC_SHA1_80');
  t.is(back.media.srtp?.remoteKey, r.media.srtp?.localKey);
  t.is(back.media.srtp?.localKey, r.media.srtp?.remoteKey);
  t.is(r.media.srtp?.localKey, b.srtp!.crypto[0]!.key);
});

test('a plain answer: fine for optional, refused for mandatory', (t) => {
  const plainAnswer = negotiateOffer(createOffer(alice(optional())), bob());
  if (!plainAnswer.ok) return t.fail(plainAnswer.detail);
  t.notRegex(plainAnswer.answer, /crypto/);
  const asOptional = negotiateAnswer(plainAnswer.answer, alice(optional()));
  t.true(asOptional.ok && asOptional.media.srtp === undefined);
  t.like(negotiateAnswer(plainAnswer.answer, alice(mandatory())), { ok: false, status: 488, warning: 302 });
});

test('answers with a tag or suite we did not offer, or a bad key, are refused', (t) => {
  const a = alice(optional());
  const r = negotiateOffer(createOffer(a), bob(optional()));
  if (!r.ok) return t.fail(r.detail);
  t.like(negotiateAnswer(r.answer.replace('a=crypto:1 ', 'a=crypto:9 '), a), { ok: false, status: 488 });
  t.like(negotiateAnswer(r.answer.replace('AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'), a), { ok: false, status: 488 });
  t.like(negotiateAnswer(r.answer.replace(/inline:\S+/, 'inline:AAAA'), a), { ok: false, status: 488 });
});

test('mandatory refuses plain offers with 488 and Warning 302; none refuses RTP/SAVP with 305', (t) => {
  t.like(negotiateOffer(createOffer(alice()), bob(mandatory())), { ok: false, status: 488, warning: 302 });
  t.like(negotiateOffer(createOffer(alice(mandatory())), bob()), { ok: false, status: 488, warning: 305 });
});

test('an encrypted call refuses a plain re-offer, and a plain answer to its re-offer', (t) => {
  const encrypted: LocalSrtp = { ...optional(), required: true };
  t.like(negotiateOffer(createOffer(alice()), bob(encrypted)), { ok: false, status: 488, warning: 302 });
  const plainAnswer = negotiateOffer(createOffer(alice(encrypted)), bob());
  if (!plainAnswer.ok) return t.fail(plainAnswer.detail);
  t.like(negotiateAnswer(plainAnswer.answer, alice(encrypted)), { ok: false, status: 488 });
  // the re-offer keeps its profile: RTP/AVP for an optional call
  t.regex(createOffer(alice(encrypted)), /RTP\/AVP /);
});

test('the answer chooses among our enabled suites only', (t) => {
  const only32: LocalSrtp = { policy: 'optional', crypto: makeCryptoOffer(['AES_CM_128_HMAC_SHA1_32']) };
  const r = negotiateOffer(createOffer(alice(optional())), bob(only32));
  if (!r.ok) return t.fail(r.detail);
  t.regex(r.answer, /a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:/);
});
