/**
 * Overload against a real SIPp storm on 127.0.0.1 (engine/overload.ts):
 * - SIPp calls an engine of four lines at several times the rate it can carry (calls of
 *   a few hundred ms, answered by the application after a short delay, at most one call
 *   waiting for its answer): every INVITE gets a final answer (SIPp counts no failed call, no
 *   time-out, no unexpected message), each 200, 486 or 503; every 503 carries Retry-After (the
 *   scenario checks it); the engine says it sheds load and then that it recovered; all lines
 *   are back on hook afterwards, and a normal call with media connects right after;
 * - no free RTP port while a line is free: 503 with Retry-After at once, counted in the
 *   metrics, then a call connects again once the port is back.
 * No assertion depends on timing: a loaded machine changes the mix of answers, not the checks.
 */
import type { ExecutionContext } from 'ava';
import { TelephonyReturnValue as T, LineState } from '../index.js';
import { startEngine, sleep, type EngineUnderTest } from './helpers/engine.js';
import { peerTest } from './helpers/env.js';
import { peerFile, runSipp, sippScenario } from './helpers/peers.js';
import { freePorts } from './helpers/ports.js';

const PHONE_NAME = 'storm';

/**
 * How many times SIPp received each response of the scenario, from its final scenario screen
 * (rows like `       503 <----------  12  0  0  0`; the first row of a status counts it).
 */
function responsesSeen(stdout: string): Map<number, number> {
  const start = stdout.lastIndexOf('Scenario Screen');
  const screen = start >= 0 ? stdout.slice(start) : stdout;
  const end = screen.indexOf('Statistics Screen');
  const seen = new Map<number, number>();
  for (const row of (end >= 0 ? screen.slice(0, end) : screen).split('\n')) {
    const m = /^\s*(\d{3})\s+<-{3,}\s+(?:E-RTD\d\s+)?(\d+)/.exec(row);
    if (m && !seen.has(Number(m[1]))) seen.set(Number(m[1]), Number(m[2]));
  }
  return seen;
}

/** An engine of `lines` lines and `rtpPairs` RTP port pairs whose application answers after `answerDelayMs`. */
async function stormEngine(t: ExecutionContext, lines: number, rtpPairs: number, extra: Record<string, number>, answerDelayMs: number): Promise<EngineUnderTest> {
  const rtp = await freePorts(rtpPairs, { even: true });
  const e = await startEngine(t, {
    numPhoneLinesRequested: lines,
    phoneName: PHONE_NAME,
    minLocalRtpPort: rtp[0]!,
    // a contiguous range of exactly rtpPairs pairs, when the free ports happen to be contiguous
    maxLocalRtpPort: rtp[0]! + 2 * rtpPairs - 1,
    mediaTimeoutSeconds: 3,
    overloadRetryAfterSeconds: 4,
    ...extra,
  });
  e.engine.on('SipOkToAnswerCall', (n) => {
    setTimeout(() => e.engine.goOffHook(n.phoneLine), answerDelayMs);
  });
  return e;
}

/** Waits until every line of `e` is on hook (the test's own time-out bounds it). */
async function allOnHook(e: EngineUnderTest, lines: number): Promise<void> {
  for (;;) {
    const busy = Array.from({ length: lines }, (_, i) => e.engine.getLineStatus(i).state).filter((s) => s !== LineState.OnHook);
    if (busy.length === 0) return;
    await sleep(200);
  }
}

/** A normal call with RTP (the shared streaming UAC) that must be answered 200 and end with SIPp's BYE. */
async function normalCall(t: ExecutionContext, e: EngineUnderTest): Promise<void> {
  const [sipPort] = await freePorts(1);
  const [mediaPort] = await freePorts(2, { even: true });
  const res = await runSipp(
    [
      `127.0.0.1:${e.port}`, '-sf', peerFile('sipp', 'uac-pcmu-stream.xml'), '-key', 'rtp_stream', 'tone1k.ul,-1,0',
      '-s', PHONE_NAME, '-p', String(sipPort), '-mp', String(mediaPort), '-d', '1000', '-m', '1', '-timeout', '30s', '-timeout_error',
    ],
    { cwd: peerFile('sipp', ''), timeoutMs: 40_000 },
  );
  t.is(res.code, 0, `the normal call after the storm: ${res.summary}`);
}

peerTest('a SIPp storm at several times the call rate: every INVITE answered (200/486/503), 503s carry Retry-After, shedding then recovery, lines back on hook, a normal call connects after', ['sipp'], async (t) => {
  t.timeout(180_000);
  const lines = 4;
  const e = await stormEngine(t, lines, lines, { maxPendingIncomingCalls: 1 }, 50);
  const [sipPort] = await freePorts(1);
  const [mediaPort] = await freePorts(2, { even: true });
  // 200 calls/s for 10 s against 4 lines whose calls last ~0.4 s: about 10 calls/s fit
  const calls = 2000;
  const res = await runSipp(
    [
      `127.0.0.1:${e.port}`, '-sf', sippScenario('uac-call-storm.xml'), '-s', PHONE_NAME,
      '-p', String(sipPort), '-mp', String(mediaPort), '-r', '200', '-l', '5000', '-m', String(calls), '-d', '300',
      '-timeout', '150s', '-max_recv_loops', '10000',
    ],
    { timeoutMs: 170_000 },
  );
  const seen = responsesSeen(res.stdout);
  t.log(`answers: ${[...seen].map(([code, n]) => `${code}×${n}`).join(', ')}; engine: ${JSON.stringify(e.of(T.SipOverloadRecovered).map((n) => n.data))}`);
  t.is(res.code, 0, res.summary);
  t.truthy(res.stats, res.summary);
  t.is(res.stats!.failed, 0, 'no call failed: no Timer B, no unexpected message, no 503 without Retry-After');
  t.is(res.stats!.successful, calls);
  t.is(res.stats!.timeouts, 0);
  const ok = seen.get(200) ?? 0;
  const busy = seen.get(486) ?? 0;
  const shed = seen.get(503) ?? 0;
  // the first 200 row is the INVITE's (the BYE's 200 comes later in the screen)
  t.is(ok + busy + shed, calls, 'each INVITE got exactly one final answer');
  t.true(ok > 0, 'calls were taken');
  t.true(shed > 0, 'load was shed');
  const shedding = await e.waitFor(T.SipOverloadShedding);
  t.is(shedding.phoneLine, -1);
  t.is(shedding.data.retryAfterSeconds, 4);
  const recovered = await e.waitFor(T.SipOverloadRecovered, undefined, 60_000);
  t.true(recovered.data.total > 0);
  await allOnHook(e, lines);
  await normalCall(t, e);
  await e.waitFor(T.SipIncomingCallConnected, (n) => e.seen.indexOf(n) > e.seen.indexOf(recovered));
});

peerTest('no free RTP port while a line is free: 503 with Retry-After at once, and calls connect again once a port is back', ['sipp'], async (t) => {
  // two lines, one RTP pair: the second of two overlapping calls finds a line but no port
  const e = await stormEngine(t, 2, 1, {}, 0);
  t.is((await e.engine.enableMetrics()).result, T.SipSuccess);
  t.teardown(() => e.engine.disableMetrics());
  const [sipPort] = await freePorts(1);
  const [mediaPort] = await freePorts(2, { even: true });
  const res = await runSipp(
    [
      `127.0.0.1:${e.port}`, '-sf', sippScenario('uac-call-storm.xml'), '-s', PHONE_NAME,
      '-p', String(sipPort), '-mp', String(mediaPort), '-r', '10', '-l', '2', '-m', '2', '-d', '3000', '-timeout', '30s',
    ],
    { timeoutMs: 40_000 },
  );
  t.is(res.code, 0, res.summary);
  const seen = responsesSeen(res.stdout);
  t.is(seen.get(200), 1, [...seen].join(' '));
  t.is(seen.get(503), 1, [...seen].join(' '));
  const shedding = await e.waitFor(T.SipOverloadShedding);
  t.is(shedding.data.cause, 'rtpPorts');
  const reg = e.engine.getMetricsRegistry();
  const text = reg.registry ? await reg.registry.metrics() : '';
  t.regex(text, /linescape_requests_shed_total\{cause="rtpPorts"\} 1\b/);
  t.regex(text, /linescape_sip_responses_total\{direction="out",method="INVITE",code="503"\} 1\b/);
  await allOnHook(e, 2);
  await normalCall(t, e);
});
