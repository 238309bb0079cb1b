/**
 * The overload guard's shedding decision (engine/overload.ts) in virtual time, with fake probes:
 * each cause sheds what it should (the call limits only INVITEs), the event-loop lag is measured
 * by a timer that fires late and has hysteresis, an episode is reported once when it starts and
 * once when it has been quiet long enough, and stop leaves no timer behind. Plus the start
 * options' validation.
 */
import test from 'ava';
import { VirtualClock, type Clock, type TimerHandle } from '../sip/clock.js';
import {
  LAG_SAMPLE_MS,
  NOTIFICATION_BACKLOG_LIMIT,
  OverloadGuard,
  RECOVERY_QUIET_MS,
  type OverloadLimits,
  type OverloadRecoveredData,
  type OverloadSheddingData,
  type ShedCause,
} from '../engine/overload.js';
import { VoipMediaEngine, TelephonyReturnValue as T } from '../index.js';
import { startEngine } from './helpers/engine.js';
import { sipRequest, sipUdpClient } from './helpers/sipUdp.js';

/** A virtual clock whose next `lateTimers` timers fire `late` ms after they are due: a busy event loop. */
class BusyLoopClock implements Clock {
  readonly inner = new VirtualClock();
  late = 0;
  lateTimers = Infinity;
  now(): number {
    return this.inner.now();
  }
  setTimer(ms: number, fn: () => void): TimerHandle {
    const late = this.lateTimers > 0 ? this.late : 0;
    if (late > 0) this.lateTimers--;
    return this.inner.setTimer(ms + late, fn);
  }
  clearTimer(h: TimerHandle | undefined): void {
    this.inner.clearTimer(h);
  }
}

function rig(limits: Partial<OverloadLimits> = {}) {
  const clock = new BusyLoopClock();
  const l: OverloadLimits = { maxPendingIncomingCalls: 2, retryAfterSeconds: 7, maxEventLoopLagMs: 500, ...limits };
  const probe = { pending: 0, backlog: 0, freeRtp: 4, freeLines: 1 };
  const shedding: OverloadSheddingData[] = [];
  const recovered: OverloadRecoveredData[] = [];
  const shed: ShedCause[] = [];
  const guard = new OverloadGuard(
    clock,
    () => l,
    {
      pendingIncomingCalls: () => probe.pending,
      notificationBacklog: () => probe.backlog,
      rtpPortsExhausted: () => probe.freeRtp <= 0 && probe.freeLines > 0,
    },
    { shedding: (d) => shedding.push(d), recovered: (d) => recovered.push(d), shed: (c) => shed.push(c) },
  );
  guard.start();
  return { clock, probe, guard, shedding, recovered, shed };
}

test('an idle engine takes everything', (t) => {
  const { guard, clock, shedding } = rig();
  clock.inner.advance(10 * LAG_SAMPLE_MS);
  t.is(guard.screen(true), undefined);
  t.is(guard.screen(false), undefined);
  t.deepEqual(shedding, []);
  t.false(guard.counters().active);
});

test('too many calls awaiting an answer, or no free RTP port while a line is free, shed new calls only', (t) => {
  const { guard, probe } = rig();
  probe.pending = 2;
  t.deepEqual(guard.screen(true), { cause: 'pendingCalls', retryAfterSeconds: 7 });
  t.is(guard.screen(false), undefined, 'a MESSAGE or REGISTER is not a call');
  probe.pending = 1;
  t.is(guard.screen(true), undefined);
  probe.freeRtp = 0;
  t.deepEqual(guard.screen(true), { cause: 'rtpPorts', retryAfterSeconds: 7 });
  t.is(guard.screen(false), undefined);
  probe.freeLines = 0;
  t.is(guard.screen(true), undefined, 'every line busy too: the call manager answers 486');
  t.deepEqual(guard.counters().shed, { eventLoopLag: 0, transactions: 0, notificationBacklog: 0, pendingCalls: 1, rtpPorts: 1 });
});

test('maxPendingIncomingCalls 0 leaves the pending calls to the lines', (t) => {
  const { guard, probe } = rig({ maxPendingIncomingCalls: 0 });
  probe.pending = 500;
  t.is(guard.screen(true), undefined);
});

test('a full notification queue sheds every new request; a shed elsewhere (the transaction limit) counts in the episode', (t) => {
  const { guard, probe, shedding } = rig();
  probe.backlog = NOTIFICATION_BACKLOG_LIMIT - 1;
  t.is(guard.screen(false), undefined);
  probe.backlog = NOTIFICATION_BACKLOG_LIMIT;
  t.is(guard.screen(false)?.cause, 'notificationBacklog');
  t.is(guard.screen(true)?.cause, 'notificationBacklog');
  guard.noteShed('transactions');
  t.is(shedding.length, 1, 'one episode');
  t.is(guard.counters().shed.transactions, 1);
});

test('event-loop lag: one stall is not saturation', (t) => {
  const { guard, clock } = rig();
  clock.late = 900;
  clock.lateTimers = 1;
  clock.inner.advance(2 * LAG_SAMPLE_MS + 900); // a sample on time, then one 900 ms late
  t.is(guard.counters().eventLoopLagMs, 900);
  t.is(guard.screen(false), undefined);
  clock.inner.advance(5 * LAG_SAMPLE_MS);
  t.is(guard.counters().eventLoopLagMs, 0);
  t.is(guard.screen(false), undefined);
});

test('event-loop lag: a lag timer that fires late again and again sheds from the limit on and stops below half of it', (t) => {
  const { guard, clock } = rig();
  clock.late = 600;
  clock.inner.advance(2000); // the timer armed before the lag fires on time; the next ones late
  t.is(guard.counters().eventLoopLagMs, 600);
  t.is(guard.screen(false)?.cause, 'eventLoopLag');
  clock.late = 300; // below the limit, above half: still lagging
  clock.inner.advance(2000);
  t.is(guard.counters().eventLoopLagMs, 300);
  t.is(guard.screen(false)?.cause, 'eventLoopLag');
  clock.late = 100;
  clock.inner.advance(2000);
  t.is(guard.screen(false), undefined);
  const { guard: off, clock: c2 } = rig({ maxEventLoopLagMs: 0 });
  c2.late = 5000;
  c2.inner.advance(20_000);
  t.is(off.screen(false), undefined, '0 = lag not watched');
});

test('an episode is reported once when it starts and once after a quiet period, with what it shed', (t) => {
  const { guard, clock, probe, shedding, recovered, shed } = rig();
  probe.pending = 5;
  for (let i = 0; i < 3; i++) guard.screen(true);
  probe.freeRtp = 0;
  probe.pending = 0;
  guard.screen(true);
  t.deepEqual(shedding, [{ cause: 'pendingCalls', retryAfterSeconds: 7, eventLoopLagMs: 0 }]);
  t.deepEqual(shed, ['pendingCalls', 'pendingCalls', 'pendingCalls', 'rtpPorts']);
  t.true(guard.counters().active);
  // still shedding 1.5 s later: no recovery yet
  clock.inner.advance(1500);
  guard.screen(true);
  clock.inner.advance(RECOVERY_QUIET_MS - 100);
  t.deepEqual(recovered, [], 'not quiet long enough');
  probe.freeRtp = 3;
  t.is(guard.screen(true), undefined);
  clock.inner.advance(RECOVERY_QUIET_MS);
  t.is(recovered.length, 1);
  t.deepEqual(recovered[0]!.shed, { pendingCalls: 3, rtpPorts: 2 });
  t.is(recovered[0]!.total, 5);
  t.true(recovered[0]!.durationMs >= 1500 + RECOVERY_QUIET_MS, String(recovered[0]!.durationMs));
  t.false(guard.counters().active);
  // a second storm is a second episode
  probe.freeRtp = 0;
  guard.screen(true);
  t.is(shedding.length, 2);
  t.is(guard.counters().episodes, 2);
});

test('no recovery while the loop still lags, even without requests', (t) => {
  const { guard, clock, recovered } = rig();
  clock.late = 800;
  clock.inner.advance(2000); // two samples 800 ms late
  t.is(guard.screen(false)?.cause, 'eventLoopLag');
  clock.inner.advance(10_000);
  t.deepEqual(recovered, []);
  clock.late = 0;
  clock.inner.advance(10_000);
  t.is(recovered.length, 1);
  t.deepEqual(recovered[0]!.shed, { eventLoopLag: 1 });
});

test('stop leaves no timer behind', (t) => {
  const { guard, clock, probe } = rig();
  probe.pending = 9;
  guard.screen(true);
  t.true(clock.inner.pending >= 2);
  guard.stop();
  t.is(clock.inner.pending, 0);
});

test('the overload start options refuse bad values', async (t) => {
  const bad: Record<string, unknown>[] = [
    { maxPendingIncomingCalls: -1 },
    { maxPendingIncomingCalls: 1.5 },
    { overloadRetryAfterSeconds: 0 },
    { overloadRetryAfterSeconds: 86_401 },
    { overloadRetryAfterSeconds: '10' },
    { maxEventLoopLagMs: -5 },
    { maxEventLoopLagMs: 60_001 },
    { maxServerTransactions: Number.NaN },
  ];
  for (const b of bad) {
    const engine = new VoipMediaEngine();
    t.is(await engine.startSipTelephony({ ipAddressOfThisHost: '127.0.0.1', sipPort: 0, ...b }), T.SipBadParameter, JSON.stringify(b));
  }
  const engine = new VoipMediaEngine();
  t.is(
    await engine.startSipTelephony({ ipAddressOfThisHost: '127.0.0.1', sipPort: 0, maxPendingIncomingCalls: 3, overloadRetryAfterSeconds: 1, maxEventLoopLagMs: 0, maxServerTransactions: 0 }),
    T.SipSuccess,
  );
  await engine.stopSipTelephony();
});

test('at maxServerTransactions the stack answers new requests 503 with Retry-After without a transaction; requests in dialogs still pass', async (t) => {
  const e = await startEngine(t, { maxServerTransactions: 3, overloadRetryAfterSeconds: 3 });
  const c = await sipUdpClient(t, e.port);
  // an answered OPTIONS keeps its transaction for 64 x T1 (32 s) over UDP
  const options = (i: number, toTag?: string) =>
    c.request(sipRequest({ method: 'OPTIONS', enginePort: e.port, localPort: c.port, branch: `ovl${i}`, callId: `ovl-${i}`, cseq: 1, ...(toTag ? { toTag } : {}) }));
  for (let i = 0; i < 3; i++) t.is((await options(i)).status, 200);
  const refused = await options(3);
  t.is(refused.status, 503);
  t.is(refused.headers.get('Retry-After'), '3');
  const inDialog = await options(4, 'nosuchdialog');
  t.is(inDialog.status, 481, 'an in-dialog request reaches the router');
  const shedding = await e.waitFor(T.SipOverloadShedding);
  t.is(shedding.data.cause, 'transactions');
  t.is(shedding.data.retryAfterSeconds, 3);
});
