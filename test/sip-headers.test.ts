/**
 * The one parser each of Event, Subscription-State, Replaces and Refer-To (sip/headers.ts):
 * examples from the RFCs, the quoting and case rules both old copies disagreed on, and
 * fast-check round trips.
 */
import test from 'ava';
import fc from 'fast-check';
import {
  formatEventHeader,
  formatReplaces,
  formatSubscriptionState,
  parseEventHeader,
  parseReferTo,
  parseReplaces,
  parseSubscriptionState,
} from '../sip/headers.js';
import { buildReferTo } from '../sip/refer.js';

test('Event: package lower-cased, id parameter case-insensitive, quoted id unquoted', (t) => {
  t.deepEqual(parseEventHeader('Presence;id=7'), { package: 'presence', id: '7' });
  t.deepEqual(parseEventHeader('refer;ID="93809824"'), { package: 'refer', id: '93809824' });
  t.deepEqual(parseEventHeader(' refer ; id = 12 '), { package: 'refer', id: '12' });
  t.deepEqual(parseEventHeader('dialog;foo'), { package: 'dialog' });
  t.is(parseEventHeader('bad event'), undefined);
  t.is(parseEventHeader(''), undefined);
  t.is(parseEventHeader(undefined), undefined);
});

test('Subscription-State: state and reason lower-cased, numbers read, bad states refused', (t) => {
  t.deepEqual(parseSubscriptionState('Active ; expires=60'), { state: 'active', expires: 60 });
  t.deepEqual(parseSubscriptionState('terminated;reason=Rejected;retry-after=30'), { state: 'terminated', reason: 'rejected', retryAfter: 30 });
  t.deepEqual(parseSubscriptionState('terminated;reason="noresource"'), { state: 'terminated', reason: 'noresource' });
  t.deepEqual(parseSubscriptionState('pending;expires=abc'), { state: 'pending' });
  t.is(parseSubscriptionState('bad state'), undefined);
  t.is(parseSubscriptionState(';expires=3'), undefined);
  t.is(parseSubscriptionState(undefined), undefined);
});

test('Replaces: the RFC 3891 example, tags required, parameter names case-insensitive', (t) => {
  t.deepEqual(parseReplaces('98732@sip.example.com;from-tag=r33th4x0r;to-tag=ff87ff'), {
    callId: '98732@sip.example.com',
    toTag: 'ff87ff',
    fromTag: 'r33th4x0r',
    earlyOnly: false,
  });
  t.deepEqual(parseReplaces('a;To-Tag=1;FROM-TAG=2;early-only'), { callId: 'a', toTag: '1', fromTag: '2', earlyOnly: true });
  t.is(parseReplaces('a;to-tag=1'), undefined);
  t.is(parseReplaces('a b;to-tag=1;from-tag=2'), undefined);
  t.is(parseReplaces('a;to-tag=1;from-tag=2;early-only=yes'), undefined);
});

test('Refer-To: name-addr or addr-spec, only sip/sips, the Replaces header name in any case', (t) => {
  const r = parseReferTo('"Bob" <sip:bob@example.com?REPLACES=abc%3Bto-tag%3D1%3Bfrom-tag%3D2&Subject=x>');
  t.true(r.ok);
  if (!r.ok) return;
  t.is(r.uri, 'sip:bob@example.com');
  t.is(r.displayName, 'Bob');
  t.deepEqual(r.replaces, { callId: 'abc', toTag: '1', fromTag: '2', earlyOnly: false });
  t.deepEqual(parseReferTo('sip:carol@example.com'), { ok: true, uri: 'sip:carol@example.com' });
  t.false(parseReferTo('<tel:+123>').ok);
  t.false(parseReferTo(undefined).ok);
  t.false(parseReferTo('<sip:bob@example.com?Replaces=broken>').ok);
});

const token = fc.stringMatching(/^[A-Za-z0-9\-.!%*_+`'~]{1,12}$/);

test('property: Event and Subscription-State survive format then parse', (t) => {
  fc.assert(
    fc.property(token, fc.option(token, { nil: undefined }), (pkg, id) => {
      const e = { package: pkg.toLowerCase(), ...(id === undefined ? {} : { id }) };
      t.deepEqual(parseEventHeader(formatEventHeader(e)), e);
    }),
  );
  fc.assert(
    fc.property(
      token,
      fc.option(token, { nil: undefined }),
      fc.option(fc.nat(1_000_000), { nil: undefined }),
      fc.option(fc.nat(1_000_000), { nil: undefined }),
      (state, reason, expires, retryAfter) => {
        const s = {
          state: state.toLowerCase(),
          ...(reason === undefined ? {} : { reason: reason.toLowerCase() }),
          ...(expires === undefined ? {} : { expires }),
          ...(retryAfter === undefined ? {} : { retryAfter }),
        };
        t.deepEqual(parseSubscriptionState(formatSubscriptionState(s)), s);
      },
    ),
  );
});

test('property: Replaces survives format then parse, and inside a Refer-To', (t) => {
  const word = fc.stringMatching(/^[A-Za-z0-9\-.!%*_+`'~()<>:\\"/[\]?{}]{1,16}$/);
  fc.assert(
    fc.property(word, fc.option(word, { nil: undefined }), token, token, fc.boolean(), (a, b, toTag, fromTag, earlyOnly) => {
      const r = { callId: b === undefined ? a : `${a}@${b}`, toTag, fromTag, earlyOnly };
      t.deepEqual(parseReplaces(formatReplaces(r)), r);
      const referTo = parseReferTo(buildReferTo('sip:x@example.com', r));
      t.true(referTo.ok);
      if (referTo.ok) t.deepEqual(referTo.replaces, r);
    }),
  );
});

test('Subscription-State, lenient where unambiguous: a repeated parameter name, a bare reason code, stray separators', (t) => {
  t.deepEqual(parseSubscriptionState('terminated;reason=reason=noresource'), { state: 'terminated', reason: 'noresource' });
  t.deepEqual(parseSubscriptionState('terminated; Reason = REASON=NoResource'), { state: 'terminated', reason: 'noresource' });
  t.deepEqual(parseSubscriptionState('active;expires=expires=60;'), { state: 'active', expires: 60 });
  t.deepEqual(parseSubscriptionState('terminated;reason=probation;retry-after=retry-after=30'), { state: 'terminated', reason: 'probation', retryAfter: 30 });
  t.deepEqual(parseSubscriptionState('terminated;noresource'), { state: 'terminated', reason: 'noresource' });
  t.deepEqual(parseSubscriptionState('terminated;timeout;reason=giveup'), { state: 'terminated', reason: 'giveup' }, 'an explicit reason wins');
  t.deepEqual(parseSubscriptionState('terminated;;reason=rejected;;'), { state: 'terminated', reason: 'rejected' });
  t.deepEqual(parseSubscriptionState('terminated;something'), { state: 'terminated' }, 'an unknown bare parameter is no reason');
  t.deepEqual(parseSubscriptionState('terminated;reason=no resource'), { state: 'terminated' }, 'a reason that is no token is left out');
  t.deepEqual(parseSubscriptionState('terminated;reason=reason'), { state: 'terminated', reason: 'reason' }, 'the name alone is a value');
  t.deepEqual(parseEventHeader('refer;id=id=7'), { package: 'refer', id: '7' });
  t.is(parseSubscriptionState('bad state;reason=reason=noresource'), undefined, 'a broken state is still refused');
});

test('property: repeated parameter names, spaces and empty parameters read as the clean header', (t) => {
  fc.assert(
    fc.property(
      token,
      fc.option(token, { nil: undefined }),
      fc.option(fc.nat(1_000_000), { nil: undefined }),
      fc.array(fc.nat(3), { minLength: 3, maxLength: 3 }),
      fc.boolean(),
      (state, reason, expires, repeats, trailing) => {
        const clean = {
          state: state.toLowerCase(),
          ...(reason === undefined ? {} : { reason: reason.toLowerCase() }),
          ...(expires === undefined ? {} : { expires }),
        };
        const param = (name: string, value: string, n: number): string => `;${name}=${`${name}=`.repeat(n)}${value}`;
        let text = clean.state;
        if (reason !== undefined) text += param('reason', reason, repeats[0]!);
        if (expires !== undefined) text += ` ${param('expires', String(expires), repeats[1]!)} `;
        if (trailing) text += ';';
        t.deepEqual(parseSubscriptionState(text), clean);
      },
    ),
  );
});
