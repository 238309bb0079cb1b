/**
 * The session timer (lines/sessionTimer.ts) in virtual time, with a fake call, at RFC 4028's
 * real intervals (1800 s, Min-SE 90 s): negotiation as UAS (422, refresher named or not, a UAC
 * without timers), as UAC (422 then retry once, a 2xx with or without Session-Expires), the
 * refresh at half the interval, the BYE at expiry minus min(32, SE/3), a rejected refresh left
 * to expire, and the header parsers.
 */
import test from 'ava';
import { VirtualClock } from '../sip/clock.js';
import { parseMessage } from '../sip/parser.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import {
  SessionTimer,
  expiryMarginSeconds,
  parseMinSe,
  parseSessionExpires,
  type SessionTimerSettings,
} from '../lines/sessionTimer.js';

const DEFAULTS: SessionTimerSettings = { enabled: true, intervalSeconds: 1800, minSeSeconds: 90, refresher: 'uac' };

function request(headers: string[]): SipRequest {
  const text = ['INVITE sip:st@127.0.0.1 SIP/2.0', 'Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK1', 'From: <sip:a@127.0.0.1>;tag=1', 'To: <sip:st@127.0.0.1>', 'Call-ID: c1', 'CSeq: 1 INVITE', 'Max-Forwards: 70', ...headers, 'Content-Length: 0', '', ''].join('\r\n');
  return parseMessage(Buffer.from(text)) as SipRequest;
}

function response(status: number, headers: string[]): SipResponse {
  const text = [`SIP/2.0 ${status} X`, 'Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK1', 'From: <sip:a@127.0.0.1>;tag=1', 'To: <sip:st@127.0.0.1>;tag=2', 'Call-ID: c1', 'CSeq: 1 INVITE', ...headers, 'Content-Length: 0', '', ''].join('\r\n');
  return parseMessage(Buffer.from(text)) as SipResponse;
}

function rig(settings: Partial<SessionTimerSettings> = {}) {
  const clock = new VirtualClock();
  const events: string[] = [];
  const timer = new SessionTimer({ ...DEFAULTS, ...settings }, {
    clock: () => clock,
    sendRefresh: () => events.push(`refresh@${clock.now() / 1000}`),
    expired: (s) => events.push(`expired(${s})@${clock.now() / 1000}`),
  });
  return { clock, events, timer };
}

test('the parsers: Session-Expires with and without refresher, compact form, malformed values; Min-SE', (t) => {
  t.deepEqual(parseSessionExpires('1800;refresher=uac'), { seconds: 1800, refresher: 'uac' });
  t.deepEqual(parseSessionExpires(' 90 ; refresher = UAS'), { seconds: 90, refresher: 'uas' });
  t.deepEqual(parseSessionExpires('600;foo=bar;refresher=me'), { seconds: 600 });
  for (const bad of [undefined, '', 'abc', '-5', '0', '1.5;refresher=uac']) t.is(parseSessionExpires(bad), undefined, String(bad));
  t.is(parseMinSe('90'), 90);
  t.is(parseMinSe('120;x=y'), 120);
  t.is(parseMinSe('lots'), undefined);
  t.is(expiryMarginSeconds(1800), 32);
  t.is(expiryMarginSeconds(90), 30);
  // the compact form `x` of Session-Expires (RFC 4028 §4)
  const { timer } = rig();
  t.is(timer.onRefreshRequest(request(['Supported: timer', 'x: 1200;refresher=uas'])), undefined);
  t.deepEqual(timer.answerHeaders(), [['Session-Expires', '1200;refresher=uas']]);
});

test('UAS: an interval below our Min-SE gets 422 with our Min-SE; at the minimum it is taken', (t) => {
  const { timer } = rig({ minSeSeconds: 120 });
  t.deepEqual(timer.onRefreshRequest(request(['Supported: timer', 'Session-Expires: 90'])), { status: 422, minSe: 120 });
  t.deepEqual(timer.answerHeaders(), [], 'nothing pending after a 422');
  t.is(timer.onRefreshRequest(request(['Supported: timer', 'Session-Expires: 120'])), undefined);
  t.deepEqual(timer.answerHeaders(), [['Session-Expires', '120;refresher=uac'], ['Require', 'timer']]);
});

test('UAS, refresher=uac named: 200 keeps it with Require: timer; no refresh means BYE at SE - 32 s, and a refresh restarts the wait', (t) => {
  const { clock, events, timer } = rig();
  timer.onRefreshRequest(request(['Supported: timer', 'Session-Expires: 1800;refresher=uac', 'Min-SE: 90']));
  t.deepEqual(timer.answerHeaders(), [['Session-Expires', '1800;refresher=uac'], ['Require', 'timer']]);
  clock.advance(1000_000);
  // the far end refreshes (a re-INVITE, or an UPDATE: the same entry)
  timer.onRefreshRequest(request(['Supported: timer', 'Session-Expires: 1800;refresher=uac']));
  timer.answerHeaders();
  clock.advance(1767_000);
  t.deepEqual(events, []);
  clock.advance(1000);
  t.deepEqual(events, ['expired(1800)@2768']);
});

test('UAS, no refresher named: the preference decides (uac by default, local makes us refresh at half the interval); a larger interval is lowered to ours', (t) => {
  const a = rig();
  a.timer.onRefreshRequest(request(['Supported: timer', 'Session-Expires: 7200']));
  t.deepEqual(a.timer.answerHeaders(), [['Session-Expires', '1800;refresher=uac'], ['Require', 'timer']]);
  const b = rig({ refresher: 'local' });
  b.timer.onRefreshRequest(request(['Supported: timer', 'Session-Expires: 600']));
  t.deepEqual(b.timer.answerHeaders(), [['Session-Expires', '600;refresher=uas']]);
  b.clock.advance(300_000);
  t.deepEqual(b.events, ['refresh@300']);
  const c = rig({ refresher: 'remote' });
  c.timer.onRefreshRequest(request(['Supported: timer', 'Session-Expires: 600']));
  t.deepEqual(c.timer.answerHeaders(), [['Session-Expires', '600;refresher=uac'], ['Require', 'timer']]);
});

test('UAS: a UAC that supports timers but sends no Session-Expires gets ours; one without timers gets none (PJSIP optional); the far end\'s Min-SE is respected', (t) => {
  const a = rig({ refresher: 'uas' });
  a.timer.onRefreshRequest(request(['Supported: timer, 100rel', 'Min-SE: 2000']));
  t.deepEqual(a.timer.answerHeaders(), [['Session-Expires', '2000;refresher=uas']]);
  const b = rig();
  b.timer.onRefreshRequest(request(['Supported: 100rel']));
  t.deepEqual(b.timer.answerHeaders(), []);
  t.false(b.timer.armed);
  // Session-Expires without Supported: timer (a proxy added it): the UAC cannot refresh, we do
  const c = rig();
  c.timer.onRefreshRequest(request(['Session-Expires: 900']));
  t.deepEqual(c.timer.answerHeaders(), [['Session-Expires', '900;refresher=uas']]);
});

test('UAC: our INVITE asks for our interval and Min-SE; a 422 raises both to its Min-SE once; the 2xx refresher=uac makes us refresh at half', (t) => {
  const { clock, events, timer } = rig();
  t.deepEqual(timer.requestHeaders(), [['Session-Expires', '1800;refresher=uac'], ['Min-SE', '90']]);
  t.is(timer.onRefreshResponse(response(422, ['Min-SE: 3600'])), 'retry');
  t.deepEqual(timer.requestHeaders(), [['Session-Expires', '3600;refresher=uac'], ['Min-SE', '3600']]);
  t.is(timer.onRefreshResponse(response(422, ['Min-SE: 7200'])), undefined, 'one retry per request');
  t.is(timer.onRefreshResponse(response(422, [])), undefined, 'a 422 without Min-SE is not retried');
  timer.onRefreshResponse(response(200, ['Supported: timer', 'Require: timer', 'Session-Expires: 3600;refresher=uac']));
  clock.advance(1800_000);
  t.deepEqual(events, ['refresh@1800']);
  // the refresh keeps us the refresher and the agreed interval
  t.deepEqual(timer.requestHeaders(true), [['Session-Expires', '3600;refresher=uac'], ['Min-SE', '3600']]);
  timer.onRefreshResponse(response(200, ['Session-Expires: 3600;refresher=uac']));
  clock.advance(1800_000);
  t.deepEqual(events, ['refresh@1800', 'refresh@3600']);
});

test('UAC: refresher=uas in the 2xx makes us the watcher; no Session-Expires from a UAS without timers leaves us refreshing; with timers, none runs', (t) => {
  const a = rig();
  a.timer.onRefreshResponse(response(200, ['Session-Expires: 900;refresher=uas']));
  a.clock.advance(900_000);
  t.deepEqual(a.events, ['expired(900)@868']);
  const b = rig();
  b.timer.onRefreshResponse(response(200, []));
  b.clock.advance(900_000);
  t.deepEqual(b.events, ['refresh@900']);
  const c = rig();
  c.timer.onRefreshResponse(response(200, ['Supported: timer']));
  t.false(c.timer.armed);
  t.is(c.clock.pending, 0);
});

test('a refresh refused otherwise than 408/481 leaves the session to expire at its time; stop leaves no timer', (t) => {
  const { clock, events, timer } = rig();
  timer.onRefreshResponse(response(200, ['Session-Expires: 1800;refresher=uac']));
  clock.advance(900_000);
  t.deepEqual(events, ['refresh@900']);
  timer.refreshRejected();
  clock.advance(868_000);
  t.deepEqual(events, ['refresh@900', 'expired(1800)@1768']);
  timer.onRefreshResponse(response(200, ['Session-Expires: 1800;refresher=uac']));
  timer.stop();
  t.is(clock.pending, 0);
});

test('disabled: no headers, no 422, no timers', (t) => {
  const { clock, timer } = rig({ enabled: false });
  t.deepEqual(timer.requestHeaders(), []);
  t.is(timer.onRefreshRequest(request(['Supported: timer', 'Session-Expires: 10'])), undefined);
  t.deepEqual(timer.answerHeaders(), []);
  t.is(timer.onRefreshResponse(response(422, ['Min-SE: 3600'])), undefined);
  timer.onRefreshResponse(response(200, ['Session-Expires: 900;refresher=uac']));
  t.is(clock.pending, 0);
});
