/**
 * Resubscription after the notifier ends a subscription (RFC 6665 §4.1.3), in the subscription
 * core (sip/subscription.ts): resubscribeDelayMs's table, and WatchedSubscription through the
 * real SubscriptionRouter and client path over the fake transaction layer, on a VirtualClock:
 * `terminated;reason=timeout` → a new SUBSCRIBE at once (new dialog), `probation;retry-after=N`
 * → after N s of virtual time, `noresource` → over; unsubscribing while waiting; a notifier that
 * ends every subscription at once is given up on. No sockets.
 */
import test from 'ava';
import { VirtualClock } from '../sip/clock.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import {
  MAX_QUICK_RESUBSCRIBES,
  RESUBSCRIBE_DEFAULT_WAIT_S,
  SubscriptionRouter,
  resubscribeDelayMs,
  type SubscriberTermination,
  type SubscriptionHost,
  type WatchedSubscription,
} from '../sip/subscription.js';
import { buildResponse } from '../sip/util.js';
import { fakeServerTx, fakeUac, parseRequest, settle, type FakeUac } from './helpers/fakeSip.js';

const US = '127.0.0.1';

interface Rig {
  clock: VirtualClock;
  uac: FakeUac;
  router: SubscriptionRouter;
  log: string[];
  ended: SubscriberTermination[];
  watch(): WatchedSubscription;
}

function rig(): Rig {
  const clock = new VirtualClock();
  const uac = fakeUac(clock);
  const host: SubscriptionHost = {
    clock,
    uac: uac.services,
    authUser: () => '100',
    createResponse: (req, status, reason, options) => buildResponse(req, status, reason, options),
    resolve: (h) => Promise.resolve(h),
    transport: () => 'UDP',
  };
  const router = new SubscriptionRouter(host, { newSubscribe: () => undefined, unsolicitedNotify: () => undefined }, { defaultExpires: 3600, maxExpires: 7200, minExpires: 0 }, {
    attach: () => undefined,
    detach: () => undefined,
  });
  const log: string[] = [];
  const ended: SubscriberTermination[] = [];
  const watch = (): WatchedSubscription =>
    router.watch(
      {
        event: { package: 'presence' },
        requestUri: `sip:bob@${US}:5099`,
        from: `<sip:100@${US}>`,
        to: `<sip:bob@${US}:5099>`,
        destination: { protocol: 'UDP', host: US, port: 5099 },
        localContact: `sip:100@${US}:5060`,
        expires: 600,
      },
      {
        onAccepted: (expires, refresh) => void log.push(`accepted ${expires}${refresh ? ' refresh' : ''}`),
        onNotify: (_req, state) => void log.push(`notify ${state.state}${state.reason ? ` ${state.reason}` : ''}`),
        onResubscribing: (info, delayMs) => void log.push(`resubscribing ${info.reason ?? ''} ${delayMs}`),
        onTerminated: (info) => void ended.push(info),
      },
    );
  return { clock, uac, router, log, ended, watch };
}

/** Answers the last SUBSCRIBE 200 (Expires 600) with far tag `tag`. */
function accept(r: Rig, tag: string): SipRequest {
  const s = r.uac.last('SUBSCRIBE');
  s.reply(200, { toTag: tag, headers: [['Expires', '600'], ['Contact', `<sip:bob@${US}:5099>`]] });
  return s.req;
}

let cseq = 100;
/** A NOTIFY from the notifier in the watch's current dialog. */
function notify(w: WatchedSubscription, sub: SipRequest, tag: string, state: string): SipResponse[] {
  cseq++;
  const from = sub.headers.get('From') ?? '';
  const req = parseRequest(`NOTIFY sip:100@${US}:5060 SIP/2.0`, [
    `Via: SIP/2.0/UDP ${US}:5099;branch=z9hG4bK-n${cseq}`,
    'Max-Forwards: 70',
    `From: <sip:bob@${US}:5099>;tag=${tag}`,
    `To: ${from}`,
    `Call-ID: ${sub.headers.get('Call-ID') ?? ''}`,
    `CSeq: ${cseq} NOTIFY`,
    'Event: presence',
    `Subscription-State: ${state}`,
    `Contact: <sip:bob@${US}:5099>`,
  ]);
  const { tx, answers } = fakeServerTx();
  w.current.handleNotify(req, tx);
  return answers;
}

test('resubscribeDelayMs: RFC 6665 §4.1.3 reason codes', (t) => {
  const n = (reason?: string, retryAfter?: number): SubscriberTermination => ({ cause: 'notified', reason, retryAfter, initial: false });
  t.is(resubscribeDelayMs(n('timeout')), 0);
  t.is(resubscribeDelayMs(n('deactivated')), 0);
  t.is(resubscribeDelayMs(n('timeout', 5)), 5000);
  t.is(resubscribeDelayMs(n('probation', 30)), 30_000);
  t.is(resubscribeDelayMs(n('giveup')), RESUBSCRIBE_DEFAULT_WAIT_S * 1000);
  for (const reason of ['rejected', 'noresource', 'invariant', 'something-new', undefined]) t.is(resubscribeDelayMs(n(reason)), undefined, String(reason));
  for (const cause of ['rejected', 'no-answer', 'auth', 'unsubscribed', 'expired'] as const) {
    t.is(resubscribeDelayMs({ cause, reason: 'timeout', initial: false }), undefined, cause);
  }
});

test('terminated;reason=timeout: a new SUBSCRIBE goes out at once, in a new dialog; the owner sees one subscription', async (t) => {
  const r = rig();
  const w = r.watch();
  await settle();
  const first = accept(r, 'far1');
  t.is(notify(w, first, 'far1', 'active;expires=600')[0]?.status, 200);
  t.is(w.state, 'active');
  t.is(notify(w, first, 'far1', 'terminated;reason=timeout')[0]?.status, 200);
  t.false(w.terminated);
  r.clock.advance(0); // "at once": on the next turn of the engine's clock
  await settle();
  const subs = r.uac.of('SUBSCRIBE');
  t.is(subs.length, 2, 'subscribed again');
  const second = subs[1]!.req;
  t.not(second.headers.get('Call-ID'), first.headers.get('Call-ID'), 'a new subscription, not a refresh');
  t.false(/;tag=/.test(second.headers.get('To') ?? ''), 'outside any dialog');
  t.is(second.headers.get('Event'), 'presence');
  accept(r, 'far2');
  t.is(notify(w, second, 'far2', 'active;expires=600')[0]?.status, 200);
  t.is(w.state, 'active');
  t.deepEqual(r.log, ['accepted 600', 'notify active', 'notify terminated timeout', 'resubscribing timeout 0', 'accepted 600', 'notify active']);
  t.deepEqual(r.ended, [], 'onTerminated not called');
  const gone = w.unsubscribe(1000);
  await settle();
  r.clock.advance(1000); // no final NOTIFY: the guard ends it
  await gone;
  t.is(r.ended.length, 1);
  t.is(r.ended[0]?.cause, 'unsubscribed');
  t.is(r.uac.of('SUBSCRIBE').length, 3, 'the unsubscribe');
});

test('terminated;reason=probation;retry-after=30: waits 30 s of virtual time, then subscribes again', async (t) => {
  const r = rig();
  const w = r.watch();
  await settle();
  const first = accept(r, 'far1');
  notify(w, first, 'far1', 'active;expires=600');
  notify(w, first, 'far1', 'terminated;reason=probation;retry-after=30');
  await settle();
  t.is(w.state, 'trying');
  t.true(w.waiting);
  r.clock.advance(30_000 - 1);
  await settle();
  t.is(r.uac.of('SUBSCRIBE').length, 1, 'not before retry-after');
  r.clock.advance(1);
  await settle();
  t.is(r.uac.of('SUBSCRIBE').length, 2);
  t.false(w.waiting);
  t.deepEqual(r.ended, []);
  t.true(r.log.includes('resubscribing probation 30000'));
});

test('a malformed `terminated;reason=reason=timeout` is read as timeout', async (t) => {
  const r = rig();
  const w = r.watch();
  await settle();
  const first = accept(r, 'far1');
  notify(w, first, 'far1', 'terminated;reason=reason=timeout');
  r.clock.advance(0);
  await settle();
  t.is(r.uac.of('SUBSCRIBE').length, 2);
});

test('noresource and rejected end the watch; unsubscribing while waiting ends it without a SUBSCRIBE', async (t) => {
  for (const reason of ['noresource', 'rejected']) {
    const r = rig();
    const w = r.watch();
    await settle();
    const first = accept(r, 'far1');
    notify(w, first, 'far1', `terminated;reason=${reason}`);
    r.clock.advance(RESUBSCRIBE_DEFAULT_WAIT_S * 1000);
    await settle();
    t.true(w.terminated);
    t.is(r.uac.of('SUBSCRIBE').length, 1, reason);
    t.is(r.ended[0]?.reason, reason);
  }
  const r = rig();
  const w = r.watch();
  await settle();
  const first = accept(r, 'far1');
  notify(w, first, 'far1', 'terminated;reason=giveup;retry-after=10');
  await w.unsubscribe();
  t.deepEqual(r.ended.map((e) => e.cause), ['unsubscribed']);
  r.clock.advance(10_000);
  await settle();
  t.is(r.uac.of('SUBSCRIBE').length, 1, 'no new subscription');
  t.is(r.clock.pending, 0, 'no timer left');
});

test('a notifier ending every new subscription at once is given up on after a few tries; stopAll ends a waiting watch', async (t) => {
  const r = rig();
  const w = r.watch();
  for (let i = 0; i <= MAX_QUICK_RESUBSCRIBES; i++) {
    await settle();
    const sub = accept(r, `far${i}`);
    notify(w, sub, `far${i}`, 'terminated;reason=deactivated');
    r.clock.advance(0);
  }
  await settle();
  t.true(w.terminated);
  t.is(r.uac.of('SUBSCRIBE').length, MAX_QUICK_RESUBSCRIBES + 1);
  t.is(r.ended.length, 1);
  t.is(r.ended[0]?.reason, 'deactivated');

  const r2 = rig();
  const w2 = r2.watch();
  await settle();
  const sub = accept(r2, 'far');
  notify(w2, sub, 'far', 'terminated;reason=probation;retry-after=100');
  await r2.router.stopAll(10);
  t.true(w2.terminated);
  t.deepEqual(r2.ended.map((e) => e.cause), ['unsubscribed']);
  t.is(r2.clock.pending, 0);
});
