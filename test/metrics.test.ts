/**
 * Prometheus metrics: the /metrics endpoint scraped with fetch during and after a 4-line call,
 * the endpoint's life cycle (off unless enabled), bad input, per-engine registries, and
 * prom-client staying unloaded while metrics are off.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { VoipMediaEngine, TelephonyReturnValue as T } from '../index.js';
import { startEngine } from './helpers/engine.js';
import { sendTone } from './helpers/audio.js';
import { until } from './helpers/observe.js';
import { freePort } from './helpers/ports.js';

/** Parses the Prometheus text format into `name{labels}` → value. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

async function scrape(port: number): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (res.status !== 200) throw new Error(`status ${res.status}`);
  return parse(await res.text());
}

/** The error code a fresh connection to the port fails with (ECONNREFUSED when nothing listens). */
function refused(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    // a new connection each time (no keep-alive pool), so a closed server is seen as closed
    const req = http.get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      res.resume();
      resolve(undefined);
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? String(err)));
  });
}

const val = (m: Map<string, number>, key: string): number => m.get(key) ?? 0;

test('counters and gauges follow a 4-line call: lines, calls, SIP, RTP, MOS, media clock, event loop', async (t) => {
  const caller = await startEngine(t, { numPhoneLinesRequested: 4, phoneName: 'caller' });
  const desk = await startEngine(t, { numPhoneLinesRequested: 4, phoneName: 'desk' });
  desk.engine.on('SipOkToAnswerCall', (n) => desk.engine.goOffHook(n.phoneLine));
  const on = await desk.engine.enableMetrics({ port: 0 });
  t.is(on.result, T.SipSuccess);
  t.teardown(() => desk.engine.disableMetrics());
  const port = on.port!;
  t.true(port > 0);

  const idle = await scrape(port);
  t.is(val(idle, 'linescape_lines{state="OnHook"}'), 4);
  t.is(val(idle, 'linescape_lines{state="InCall"}'), 0);
  t.is(val(idle, 'linescape_rtp_packets_received_total'), 0);

  const rcs = await Promise.all([0, 1, 2, 3].map((l) => caller.engine.makeCall('desk', '127.0.0.1', desk.port, l, true, 10000)));
  t.deepEqual(rcs, [T.SipSuccess, T.SipSuccess, T.SipSuccess, T.SipSuccess]);
  await desk.waitForCount(T.SipIncomingCallConnected, 4);
  for (let l = 0; l < 4; l++) sendTone(caller.engine, l, 400 + 100 * l, 20);

  const during = await scrape(port);
  t.is(val(during, 'linescape_lines{state="InCall"}'), 4);
  t.is(val(during, 'linescape_lines{state="OnHook"}'), 0);
  t.is(val(during, 'linescape_calls_started_total{direction="incoming"}'), 4);
  // received counts include retransmissions a loaded machine may provoke; sent ones exclude them
  t.true(val(during, 'linescape_sip_requests_total{direction="in",method="INVITE"}') >= 4);
  t.is(val(during, 'linescape_sip_responses_total{direction="out",method="INVITE",code="200"}'), 4);
  t.true(val(during, 'linescape_media_clock_ticks') > 0);
  t.true(during.has('linescape_event_loop_lag_p99_seconds'));
  t.true(during.has('linescape_event_loop_lag_max_seconds'));
  // RTP counters move while the calls run (judged by progress, not by time)
  let later = during;
  let grew = false;
  for (let i = 0; i < 300 && !grew; i++) {
    await new Promise((r) => setTimeout(r, 100));
    later = await scrape(port);
    grew = val(later, 'linescape_rtp_packets_received_total') > val(during, 'linescape_rtp_packets_received_total') + 100;
  }
  t.true(grew, 'received RTP count grows during the calls');
  t.true(val(later, 'linescape_rtp_packets_sent_total') > 0);

  for (let l = 0; l < 4; l++) t.is(await caller.engine.terminateCall(l, true, 5000), T.SipSuccess);
  await desk.waitForCount(T.SipCallComplete, 4);
  t.true(await until(() => desk.engine.getNumActiveCalls().numActiveCalls === 0, 10000));

  const after = await scrape(port);
  t.is(val(after, 'linescape_lines{state="OnHook"}'), 4);
  t.is(val(after, 'linescape_lines{state="InCall"}'), 0);
  const ended = [...after].filter(([k]) => k.startsWith('linescape_calls_ended_total{')).reduce((s, [, v]) => s + v, 0);
  t.is(ended, 4, 'four calls ended');
  t.true(val(after, 'linescape_sip_requests_total{direction="in",method="BYE"}') >= 4);
  t.is(val(after, 'linescape_sip_responses_total{direction="out",method="BYE",code="200"}'), 4);
  t.is(val(after, 'linescape_call_mos_count'), 4, 'one MOS per call');
  // the histogram holds exactly the final figures SipCallComplete carried
  const finals = desk.of(T.SipCallComplete).map((n) => n.data.quality!.mos);
  t.is(finals.length, 4);
  t.true(Math.abs(val(after, 'linescape_call_mos_sum') - finals.reduce((a, b) => a + b, 0)) < 1e-6);
  t.is(val(after, 'linescape_call_mos_bucket{le="4.5"}'), 4);
  t.is(val(after, 'linescape_call_rtp_loss_ratio_count'), 4);
  t.is(val(after, 'linescape_call_rtp_jitter_seconds_count'), 4);
  // counters of ended calls keep counting: never below what was seen during the calls
  t.true(val(after, 'linescape_rtp_packets_received_total') >= val(later, 'linescape_rtp_packets_received_total'));
  t.true(val(after, 'linescape_rtp_packets_sent_total') >= val(later, 'linescape_rtp_packets_sent_total'));
  t.is(val(after, 'linescape_calls_started_total{direction="incoming"}'), 4);
});

test('the endpoint is off unless enabled, and off again after disableMetrics; other paths are 404', async (t) => {
  const e = await startEngine(t, { numPhoneLinesRequested: 1 });
  const port = await freePort();
  t.is(await refused(port), 'ECONNREFUSED');
  t.is(e.engine.getMetricsRegistry().result, T.SipNotEnabled);
  t.is(await e.engine.disableMetrics(), T.SipNotEnabled);

  const on = await e.engine.enableMetrics({ port, host: '127.0.0.1' });
  t.deepEqual(on, { result: T.SipSuccess, port });
  t.is((await scrape(port)).get('linescape_lines{state="OnHook"}'), 1);
  t.is((await fetch(`http://127.0.0.1:${port}/other`)).status, 404);
  const reg = e.engine.getMetricsRegistry();
  t.is(reg.result, T.SipSuccess);
  t.true((await reg.registry!.metrics()).includes('linescape_registrations{state="registered"} 0'));

  t.is(await e.engine.disableMetrics(), T.SipSuccess);
  t.is(await refused(port), 'ECONNREFUSED');
  t.is(e.engine.getMetricsRegistry().result, T.SipNotEnabled);

  // registry only: no port, nothing listens, the application serves the registry itself
  t.deepEqual(await e.engine.enableMetrics(), { result: T.SipSuccess });
  t.true((await e.engine.getMetricsRegistry().registry!.metrics()).includes('linescape_media_clock_ticks'));
  t.is(await e.engine.disableMetrics(), T.SipSuccess);
});

test('bad input to enableMetrics gives a clear code: bad port or host, called twice, address in use, detached', async (t) => {
  const e = await startEngine(t, { numPhoneLinesRequested: 1 });
  for (const port of [-1, 65536, 1.5, NaN, '8080', null]) {
    t.is((await e.engine.enableMetrics({ port: port as number })).result, T.SipBadParameter, `port ${String(port)}`);
  }
  for (const host of ['not-an-ip', '', 42, 'localhost']) {
    t.is((await e.engine.enableMetrics({ port: 0, host: host as string })).result, T.SipBadParameter, `host ${String(host)}`);
  }
  t.is((await e.engine.enableMetrics(null as unknown as object)).result, T.SipBadParameter);
  const first = await e.engine.enableMetrics({ port: 0 });
  t.is(first.result, T.SipSuccess);
  t.teardown(() => e.engine.disableMetrics());
  t.is((await e.engine.enableMetrics({ port: 0 })).result, T.SipAlreadyEnabled);

  // the port is taken (by the first engine's endpoint): a second engine gets SipSocketBindError
  const other = new VoipMediaEngine();
  t.is((await other.enableMetrics({ port: first.port! })).result, T.SipSocketBindError);
  t.is(other.getMetricsRegistry().result, T.SipNotEnabled);

  const { enableMetrics, disableMetrics, getMetricsRegistry } = e.engine;
  t.is((await enableMetrics.call(undefined, { port: 0 })).result, T.SipInvalidHandle);
  t.is(await disableMetrics.call({}), T.SipInvalidHandle);
  t.is(getMetricsRegistry.call(undefined).result, T.SipInvalidHandle);
});

test('two engines in one process keep separate registries', async (t) => {
  const a = new VoipMediaEngine();
  const b = new VoipMediaEngine();
  const ra = await a.enableMetrics({ port: 0 });
  const rb = await b.enableMetrics({ port: 0 });
  t.teardown(() => a.disableMetrics());
  t.teardown(() => b.disableMetrics());
  t.is(ra.result, T.SipSuccess);
  t.is(rb.result, T.SipSuccess);
  t.not(a.getMetricsRegistry().registry, b.getMetricsRegistry().registry);
  // neither engine is started: no lines, but both endpoints answer
  t.is((await scrape(ra.port!)).get('linescape_lines{state="OnHook"}'), 0);
  t.is((await scrape(rb.port!)).get('linescape_lines{state="OnHook"}'), 0);
});

test('prom-client is not loaded while metrics are off, and is once they are enabled', async (t) => {
  const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const script = `
    import { createRequire } from 'node:module';
    const { VoipMediaEngine } = await import(${JSON.stringify(path.join(dist, 'index.js'))});
    const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/prom-client/'));
    const e = new VoipMediaEngine();
    await e.startSipTelephony({ ipAddressOfThisHost: '127.0.0.1', sipPort: 0, numPhoneLinesRequested: 1 });
    const before = loaded();
    await e.enableMetrics();
    const after = loaded();
    await e.disableMetrics();
    await e.stopSipTelephony();
    console.log(JSON.stringify({ before, after }));
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: dist });
  t.deepEqual(JSON.parse(stdout.trim().split('\n').pop()!), { before: false, after: true });
});

test('metrics enabled before start follow the engine through start, a call and stop', async (t) => {
  const engine = new VoipMediaEngine();
  const on = await engine.enableMetrics({ port: 0 });
  t.is(on.result, T.SipSuccess);
  t.teardown(() => engine.disableMetrics());
  t.is(await engine.startSipTelephony({ ipAddressOfThisHost: '127.0.0.1', sipPort: 0, numPhoneLinesRequested: 2 }), T.SipSuccess);
  const far = await startEngine(t, { numPhoneLinesRequested: 1, phoneName: 'far' });
  far.engine.on('SipOkToAnswerCall', (n) => far.engine.goOffHook(n.phoneLine));
  t.is(await engine.makeCall('far', '127.0.0.1', far.port, 0, true, 10000), T.SipSuccess);
  t.true(await until(() => engine.getCallQuality(0).result === T.SipSuccess, 20000), 'RTP arrives');
  const up = await scrape(on.port!);
  t.is(val(up, 'linescape_lines{state="InCall"}'), 1, 'one line in a call');
  t.is(val(up, 'linescape_lines{state="OnHook"}'), 1, 'one line on hook');
  t.is(val(up, 'linescape_calls_started_total{direction="outgoing"}'), 1, 'one call started');
  t.is(val(up, 'linescape_sip_requests_total{direction="out",method="INVITE"}'), 1, 'one INVITE sent');
  t.true(val(up, 'linescape_sip_responses_total{direction="in",method="INVITE",code="200"}') >= 1);
  t.is(await engine.stopSipTelephony(), T.SipSuccess);
  // stopped: no lines, the call counted as ended, the endpoint still answers
  const down = await scrape(on.port!);
  t.is(val(down, 'linescape_lines{state="OnHook"}'), 0, 'no lines once stopped');
  t.is([...down].filter(([k]) => k.startsWith('linescape_calls_ended_total{')).reduce((s, [, v]) => s + v, 0), 1, 'the call counted as ended');
  t.is(val(down, 'linescape_call_mos_count'), 1, "the call's MOS observed");
});
