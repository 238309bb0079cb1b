/**
 * The pure REFER helpers (sip/refer.ts): Refer-To with an escaped Replaces, Replaces, Referred-By,
 * message/sipfrag bodies, Event and Subscription-State headers; a fast-check round trip of
 * Refer-To/Replaces over the whole Call-ID and tag alphabets.
 */
import test from 'ava';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseMessage } from '../sip/parser.js';
import {
  buildReferTo,
  buildSipfrag,
  escapeHeaderValue,
  formatReferredBy,
  formatReplaces,
  parseEventHeader,
  parseReferTo,
  parseReferredBy,
  parseReplaces,
  parseSipfrag,
  parseSubscriptionState,
  referNotifyHeaders,
  SIPFRAG_CONTENT_TYPE,
  type ReplacesInfo,
} from '../sip/refer.js';
import { projectRoot } from './helpers/env.js';

const fixture = (name: string): Buffer =>
  Buffer.from(readFileSync(path.join(projectRoot, 'test', 'fixtures', 'sip', name), 'latin1').replace(/\r?\n/g, '\r\n'), 'latin1');

test('the RFC 3891 example REFER: Refer-To carries an escaped Replaces naming the dialog', (t) => {
  const msg = parseMessage(fixture('refer-replaces.txt'));
  const r = parseReferTo(msg.headers.get('Refer-To'));
  t.true(r.ok);
  if (!r.ok) return;
  t.is(r.uri, 'sip:bob@biloxi.example.com');
  t.deepEqual(r.replaces, { callId: 'a84b4c76e66710@pc33.atlanta.example.com', toTag: 'a6c85cf', fromTag: '1928301774', earlyOnly: false });
  t.is(parseReferredBy(msg.headers.get('Referred-By')), '<sip:alice@atlanta.example.com>');
});

test('buildReferTo escapes ; = @ and keeps a plain target plain', (t) => {
  t.is(buildReferTo('sip:carol@127.0.0.1:5070'), '<sip:carol@127.0.0.1:5070>');
  const r: ReplacesInfo = { callId: 'abc@10.0.0.1', toTag: 't1', fromTag: 'f2', earlyOnly: true };
  const v = buildReferTo('sip:carol@127.0.0.1:5070;transport=tcp', r, 'Carol C');
  t.is(v, '"Carol C" <sip:carol@127.0.0.1:5070;transport=tcp?Replaces=abc%4010.0.0.1%3Bto-tag%3Dt1%3Bfrom-tag%3Df2%3Bearly-only>');
  const back = parseReferTo(v);
  t.like(back, { ok: true, uri: 'sip:carol@127.0.0.1:5070;transport=tcp', displayName: 'Carol C', replaces: r });
  t.throws(() => buildReferTo('tel:+123'));
  t.is(escapeHeaderValue('a b%'), 'a%20b%25');
});

test('parseReferTo refuses what a transferee cannot call', (t) => {
  t.like(parseReferTo(undefined), { ok: false, reason: 'Missing Refer-To' });
  t.like(parseReferTo('   '), { ok: false, reason: 'Missing Refer-To' });
  t.like(parseReferTo('<sip:bad uri@host>'), { ok: false, reason: 'Malformed Refer-To' });
  t.like(parseReferTo('<sip:carol@>'), { ok: false });
  t.like(parseReferTo('<http://example.com/>'), { ok: false, reason: 'Refer-To is not a SIP URI' });
  t.like(parseReferTo('<tel:+15551234>'), { ok: false });
  t.like(parseReferTo('<sip:carol@h?Replaces=only-a-call-id>'), { ok: false, reason: 'Malformed Replaces in Refer-To' });
  t.like(parseReferTo('<sip:carol@h?Replaces=%E0%A4%A>'), { ok: false });
  // other URI headers are dropped; a bare addr-spec is fine (its ;params are header params, §20)
  t.like(parseReferTo('<sip:carol@h?Subject=hi&Priority=urgent>'), { ok: true, uri: 'sip:carol@h' });
  t.like(parseReferTo('sip:carol@h;user=phone'), { ok: true, uri: 'sip:carol@h' });
  t.like(parseReferTo('<sip:carol@h;user=phone>'), { ok: true, uri: 'sip:carol@h;user=phone' });
});

test('Replaces: grammar, parameter order and case, early-only', (t) => {
  t.deepEqual(parseReplaces('x@y;from-tag=b;to-tag=a'), { callId: 'x@y', toTag: 'a', fromTag: 'b', earlyOnly: false });
  t.deepEqual(parseReplaces(' x ; TO-TAG = a ; From-Tag=b ; early-only ; foo=bar'), { callId: 'x', toTag: 'a', fromTag: 'b', earlyOnly: true });
  t.is(parseReplaces('x;to-tag=a'), undefined, 'from-tag is required');
  t.is(parseReplaces(';to-tag=a;from-tag=b'), undefined, 'call-id is required');
  t.is(parseReplaces('x y;to-tag=a;from-tag=b'), undefined);
  t.is(parseReplaces('x;to-tag=a;from-tag=b;;'), undefined);
  t.is(parseReplaces('x;to-tag=;from-tag=b'), undefined);
  t.is(parseReplaces('x;to-tag=a;from-tag=b;early-only=1'), undefined);
  t.is(formatReplaces({ callId: 'c', toTag: 't', fromTag: 'f', earlyOnly: false }), 'c;to-tag=t;from-tag=f');
});

test('Referred-By: formatted bracketed, unusable values dropped', (t) => {
  t.is(formatReferredBy('sip:alice@h', 'Alice'), '"Alice" <sip:alice@h>');
  t.is(parseReferredBy('Alice <sip:alice@h>;cid="x@y"'), '"Alice" <sip:alice@h>');
  t.is(parseReferredBy('<mailto:a@b>'), undefined);
  t.is(parseReferredBy('garbage <'), undefined);
  t.is(parseReferredBy(undefined), undefined);
});

test('message/sipfrag bodies and the refer NOTIFY headers', (t) => {
  t.is(buildSipfrag(180, 'Ringing'), 'SIP/2.0 180 Ringing\r\n');
  t.is(buildSipfrag(603, 'Bad\r\nInjected: x'), 'SIP/2.0 603 Bad Injected: x\r\n');
  t.deepEqual(parseSipfrag('SIP/2.0 200 OK\r\n'), { status: 200, reason: 'OK' });
  t.deepEqual(parseSipfrag(Buffer.from('SIP/2.0 100 Trying\r\nContent-Length: 0\r\n\r\n')), { status: 100, reason: 'Trying' });
  t.deepEqual(parseSipfrag('SIP/2.0 486'), { status: 486, reason: '' });
  t.is(parseSipfrag('INVITE sip:x SIP/2.0'), undefined);
  t.is(parseSipfrag('SIP/2.0 99 Low'), undefined);
  t.is(parseSipfrag(''), undefined);
  const notify = parseMessage(fixture('notify-sipfrag.txt'));
  t.deepEqual(parseSipfrag(notify.body), { status: 200, reason: 'OK' });
  t.deepEqual(parseEventHeader(notify.headers.get('Event')), { package: 'refer', id: '93809824' });
  t.deepEqual(parseSubscriptionState(notify.headers.get('Subscription-State')), { state: 'terminated', reason: 'noresource' });
  t.deepEqual(parseSubscriptionState('Active ; expires=60'), { state: 'active', expires: 60 });
  t.is(parseSubscriptionState('bad state'), undefined);
  t.deepEqual(parseEventHeader('refer'), { package: 'refer' });
  t.is(parseEventHeader(undefined), undefined);
  t.deepEqual(referNotifyHeaders(7, false), [['Event', 'refer;id=7'], ['Subscription-State', 'active;expires=60']]);
  t.deepEqual(referNotifyHeaders(7, true), [['Event', 'refer;id=7'], ['Subscription-State', 'terminated;reason=noresource']]);
  t.is(SIPFRAG_CONTENT_TYPE, 'message/sipfrag;version=2.0');
});

// RFC 3261 `word` characters (Call-ID) and `token` characters (tags)
const WORD = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`\'~()<>:\\"/[]?{}';
const TOKEN = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`\'~';
const word = fc.string({ unit: fc.constantFrom(...WORD.split('')), minLength: 1, maxLength: 24 });
const tag = fc.string({ unit: fc.constantFrom(...TOKEN.split('')), minLength: 1, maxLength: 16 });
const replaces = fc.record({
  callId: fc.tuple(word, fc.option(word, { nil: undefined })).map(([a, b]) => (b ? `${a}@${b}` : a)),
  toTag: tag,
  fromTag: tag,
  earlyOnly: fc.boolean(),
});
const target = fc
  .tuple(
    fc.stringMatching(/^[a-z0-9]{1,10}$/),
    fc.constantFrom('127.0.0.1', 'example.com', '[::1]', 'pbx.example.org'),
    fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
    fc.constantFrom('', ';transport=tcp', ';user=phone'),
  )
  .map(([u, h, p, params]) => `sip:${u}@${h}${p ? `:${p}` : ''}${params}`);

test('property: parseReferTo(buildReferTo(uri, replaces)) gives back the URI and the Replaces', (t) => {
  fc.assert(
    fc.property(target, fc.option(replaces, { nil: undefined }), (uri, r) => {
      const parsed = parseReferTo(buildReferTo(uri, r));
      if (!parsed.ok) return false;
      if (parsed.uri !== uri) return false;
      if (r === undefined) return parsed.replaces === undefined;
      return JSON.stringify(parsed.replaces) === JSON.stringify(r);
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(replaces, (r) => JSON.stringify(parseReplaces(formatReplaces(r))) === JSON.stringify(r)),
    { numRuns: 3000 },
  );
  t.pass();
});
