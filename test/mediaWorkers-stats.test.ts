/**
 * What the engine reports with media workers: `getMediaClockStatistics()` merges the floors'
 * clocks (they send the RTP), with each floor's own figures beside it and the main thread's
 * clock apart; Prometheus shows the same figures, per floor too; the overload guard's RTP-port
 * check counts the floors' shares of the port range. Serial: each test starts worker threads.
 */
import test from 'ava';
import { TelephonyReturnValue as T, type MediaClockStats, type MediaFloorClockStats } from '../index.js';
import type { MediaFloors } from '../engine/mediaWorkers.js';
import type { VoipMediaEngine } from '../index.js';
import { sleep, startEngine } from './helpers/engine.js';
import { capture, sendTone } from './helpers/audio.js';
import { dominantFrequency } from './helpers/analysis.js';
import { until } from './helpers/observe.js';
import { freePorts } from './helpers/ports.js';

function floors(e: VoipMediaEngine): MediaFloors {
  const f = e['run']?.mediaFloors;
  if (f === undefined) throw new Error('no media floors');
  return f;
}

/** Prometheus text → `name{labels}` → value, and the set of names with HELP and TYPE lines. */
function parse(text: string): { values: Map<string, number>; help: Set<string>; type: Map<string, string> } {
  const values = new Map<string, number>();
  const help = new Set<string>();
  const type = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# HELP ')) help.add(line.split(' ')[2]!);
    else if (line.startsWith('# TYPE ')) type.set(line.split(' ')[2]!, line.split(' ')[3]!);
    else if (line !== '') {
      const i = line.lastIndexOf(' ');
      values.set(line.slice(0, i), Number(line.slice(i + 1)));
    }
  }
  return { values, help, type };
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

test.serial('with media workers carrying calls, getMediaClockStatistics reports the floors: send samples, spacing, per floor and merged; Prometheus too', async (t) => {
  const a = await startEngine(t, { phoneName: 'alice', numPhoneLinesRequested: 2, mediaWorkers: 2 });
  const b = await startEngine(t, { phoneName: 'bob', numPhoneLinesRequested: 2, mediaWorkers: 2 });
  b.engine.on('SipOkToAnswerCall', (n) => b.engine.goOffHook(n.phoneLine));
  for (let i = 0; i < 2; i++) {
    t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, i, true, 10000), T.SipSuccess);
    await b.waitForCount(T.SipIncomingCallConnected, i + 1);
  }
  t.deepEqual(floors(b.engine).load(), [1, 1], 'one call on each floor');
  sendTone(b.engine, 0, 500, 20);
  sendTone(b.engine, 1, 900, 20);

  // the floors publish every 250 ms: wait until both have timed sends and spacings of their call
  let s = b.engine.getMediaClockStatistics() as MediaClockStats & { result: T };
  await until(() => {
    s = b.engine.getMediaClockStatistics() as MediaClockStats & { result: T };
    return (s.floors ?? []).length === 2 && s.floors!.every((f) => f.calls === 1 && (f.sendSpacingSamples ?? 0) > 10);
  }, 30_000);
  t.is(s.result, T.SipSuccess);
  const fl = s.floors!;
  t.deepEqual(fl.map((f) => f.floor), [0, 1]);
  t.true((s.sendSamples ?? 0) > 0, 'send samples');
  t.true((s.sendSpacingSamples ?? 0) > 0, 'spacing samples');
  t.true((s.sendSpacingMaxMs ?? 0) > 0 && (s.sendSpacingP99Ms ?? 0) > 0, `spacing p99 ${s.sendSpacingP99Ms} ms, max ${s.sendSpacingMaxMs} ms`);
  t.true((s.sendLatenessMaxMs ?? -1) >= 0);
  // one snapshot: the merged counts are the floors' sums, maxima the floors' largest
  t.is(s.sendSamples, sum(fl.map((f) => f.sendSamples ?? 0)));
  t.is(s.sendSpacingSamples, sum(fl.map((f) => f.sendSpacingSamples ?? 0)));
  t.is(s.sendGaps, sum(fl.map((f) => f.sendGaps ?? 0)));
  t.is(s.ticks, sum(fl.map((f) => f.ticks)));
  t.is(s.lateTicks, sum(fl.map((f) => f.lateTicks)));
  t.is(s.sendSpacingMaxMs, Math.max(...fl.map((f) => f.sendSpacingMaxMs ?? 0)));
  // the p99 of all packets lies between the floors' own p99s (their histograms are summed)
  t.true((s.sendSpacingP99Ms ?? 0) <= Math.max(...fl.map((f) => f.sendSpacingP99Ms ?? 0)));
  t.true((s.sendSpacingP99Ms ?? 0) >= Math.min(...fl.map((f) => f.sendSpacingP99Ms ?? 0)));
  t.true(fl.every((f) => f.running && f.ageMs >= 0));
  // the main thread's clock runs (the bridge) but sends no RTP
  t.truthy(s.mainThread);
  t.is(s.mainThread!.sendSamples ?? 0, 0);
  t.true(s.mainThread!.ticks > 0);

  // the same figures in Prometheus, with HELP and TYPE lines, per floor too
  const on = await b.engine.enableMetrics({ port: 0 });
  t.is(on.result, T.SipSuccess);
  t.teardown(() => b.engine.disableMetrics());
  const text = await (await fetch(`http://127.0.0.1:${on.port!}/metrics`)).text();
  const m = parse(text);
  for (const [name, type] of [
    ['linescape_media_send_samples', 'gauge'],
    ['linescape_media_send_lateness_p99_seconds', 'gauge'],
    ['linescape_media_send_lateness_max_seconds', 'gauge'],
    ['linescape_media_send_spacing_p99_seconds', 'gauge'],
    ['linescape_media_send_spacing_max_seconds', 'gauge'],
    ['linescape_media_send_gaps', 'gauge'],
    ['linescape_media_send_gaps_total', 'counter'],
    ['linescape_media_clock_slice_p99_seconds', 'gauge'],
    ['linescape_media_clock_slice_max_seconds', 'gauge'],
    ['linescape_media_floor_calls', 'gauge'],
    ['linescape_media_floor_send_spacing_p99_seconds', 'gauge'],
    ['linescape_media_floor_send_gaps', 'gauge'],
    ['linescape_media_floor_figures_age_seconds', 'gauge'],
    ['linescape_media_floor_phase_group_calls', 'gauge'],
  ] as const) {
    t.true(m.help.has(name), `HELP ${name}`);
    t.is(m.type.get(name), type, `TYPE ${name}`);
  }
  t.true((m.values.get('linescape_media_send_samples') ?? 0) > 0);
  t.true((m.values.get('linescape_media_send_spacing_max_seconds') ?? 0) > 0);
  t.is(m.values.get('linescape_media_floor_calls{floor="0"}'), 1);
  t.is(m.values.get('linescape_media_floor_calls{floor="1"}'), 1);
  t.true(m.values.has('linescape_media_floor_send_spacing_p99_seconds{floor="1"}'));
  // each floor's calls, group by group, add up to its calls
  for (const floor of ['0', '1']) {
    const groups = [...m.values].filter(([k]) => k.startsWith(`linescape_media_floor_phase_group_calls{floor="${floor}",`));
    t.true(groups.length >= 1, `floor ${floor} has its groups`);
    t.is(groups.reduce((sum, [, v]) => sum + v, 0), 1, `floor ${floor}'s groups hold its one call`);
  }
  t.true((m.values.get('linescape_media_clock_ticks') ?? 0) > 0, 'the tick count is the floors\' too');
});

test.serial('a floor runs the engine\'s mediaPhaseGroups: it reports them and spreads its calls over the groups, conference members too', async (t) => {
  const a = await startEngine(t, { phoneName: 'alice', numPhoneLinesRequested: 3, mediaWorkers: 0 });
  const b = await startEngine(t, { phoneName: 'bob', numPhoneLinesRequested: 3, mediaWorkers: 1, mediaPhaseGroups: 3 });
  b.engine.on('SipOkToAnswerCall', (n) => b.engine.goOffHook(n.phoneLine));
  for (let i = 0; i < 3; i++) {
    t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, i, true, 10000), T.SipSuccess);
    await b.waitForCount(T.SipIncomingCallConnected, i + 1);
  }
  const wallMs = (): number => performance.timeOrigin + performance.now();
  /** The floor's figures once a publication satisfies `ok` (given when it was published, wall ms). */
  const floor = async (ok: (f: MediaFloorClockStats, publishedAt: number) => boolean): Promise<MediaFloorClockStats> => {
    let f: MediaFloorClockStats | undefined;
    await until(() => {
      f = b.engine.getMediaClockStatistics().floors?.[0];
      return f !== undefined && ok(f, wallMs() - f.ageMs);
    }, 30_000);
    return f!;
  };
  // the floor publishes every 250 ms: wait until it shows the three calls' media in its pump
  let f = await floor((x) => x.calls === 3 && sum(x.phaseGroupCalls) === 3);
  t.is(f.phases, 3, 'the floor\'s clock has the engine\'s phase groups');
  t.deepEqual(f.phaseGroupCalls, [1, 1, 1], 'one call in each group');
  t.is(b.engine.getMediaClockStatistics().phases, 3, 'merged: the floors\' phases');

  // B's three lines in a conference: the bridge mixes on the main thread and the members reach it
  // through their rings, so they keep their groups (no pull into group 0 around a mix on the floor)
  for (let i = 0; i < 3; i++) t.is(b.engine.conferenceLine(i, true), T.SipSuccess);
  const cap = capture(a.engine, 1);
  sendTone(a.engine, 0, 750, 20);
  await until(() => cap.samples().length >= 8000, 20_000);
  const s = cap.samples();
  const heard = dominantFrequency(s.subarray(Math.max(0, s.length - 4000)), 8000);
  t.true(Math.abs(heard - 750) < 25, `a member hears ${heard} Hz through the bridge`);
  // a publication from after the mix was heard: the floor took the rings (and regrouped the
  // members, at the next tick's start) before their frames could reach A
  const heardAt = wallMs();
  f = await floor((x, publishedAt) => publishedAt > heardAt);
  t.is(f.calls, 3);
  t.is(f.phases, 3);
  t.deepEqual(f.phaseGroupCalls, [1, 1, 1], 'conference members stay spread');
});

test.serial('with media workers the overload guard counts the floors\' free RTP ports: a call beyond them is shed with 503', async (t) => {
  // exactly two RTP pairs, shared out one per floor; three lines, so a line stays free
  const rtp = await freePorts(2, { even: true });
  const desk = await startEngine(t, { phoneName: 'desk', numPhoneLinesRequested: 3, mediaWorkers: 2, minLocalRtpPort: rtp[0]!, maxLocalRtpPort: rtp[0]! + 3, overloadRetryAfterSeconds: 3 });
  const caller = await startEngine(t, { phoneName: 'caller', numPhoneLinesRequested: 3, mediaWorkers: 0 });
  desk.engine.on('SipOkToAnswerCall', (n) => desk.engine.goOffHook(n.phoneLine));
  for (let i = 0; i < 2; i++) {
    t.is(await caller.engine.makeCall('desk', '127.0.0.1', desk.port, i, true, 10000), T.SipSuccess);
    await desk.waitForCount(T.SipIncomingCallConnected, i + 1);
  }
  t.deepEqual(floors(desk.engine).load(), [1, 1]);
  t.is(floors(desk.engine).freeRtpPairs(), 0, 'both floors\' shares are in use');
  // the third call finds a free line but no free pair on either floor: 503 (the far end's error to the caller)
  t.is(await caller.engine.makeCall('desk', '127.0.0.1', desk.port, 2, true, 10000), T.SipFarEndError);
  const shed = await desk.waitFor(T.SipOverloadShedding);
  t.is(shed.data.cause, 'rtpPorts');
  t.is(shed.data.retryAfterSeconds, 3);
  // one call ends: its floor's pair is free again, and a new call connects on that floor
  t.is(await caller.engine.terminateCall(0, true, 10000), T.SipSuccess);
  await until(() => floors(desk.engine).freeRtpPairs() === 1, 20_000);
  t.is(await caller.engine.makeCall('desk', '127.0.0.1', desk.port, 2, true, 10000), T.SipSuccess);
  await desk.waitForCount(T.SipIncomingCallConnected, 3);
  t.deepEqual(floors(desk.engine).load(), [1, 1]);
});

test.serial('a floor killed and replaced: the merged counts, each floor\'s and the Prometheus counters never go back', async (t) => {
  const a = await startEngine(t, { phoneName: 'alice', numPhoneLinesRequested: 2, mediaWorkers: 0 });
  const b = await startEngine(t, { phoneName: 'bob', numPhoneLinesRequested: 2, mediaWorkers: 2 });
  b.engine.on('SipOkToAnswerCall', (n) => b.engine.goOffHook(n.phoneLine));
  for (let i = 0; i < 2; i++) {
    t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, i, true, 10000), T.SipSuccess);
    await b.waitForCount(T.SipIncomingCallConnected, i + 1);
  }
  const f = floors(b.engine);
  t.deepEqual(f.load(), [1, 1]);
  const on = await b.engine.enableMetrics({ port: 0 });
  t.is(on.result, T.SipSuccess);
  t.teardown(() => b.engine.disableMetrics());
  const url = `http://127.0.0.1:${on.port!}/metrics`;
  const names = ['linescape_media_clock_ticks', 'linescape_media_clock_late_ticks', 'linescape_media_clock_skipped_ticks', 'linescape_media_send_gaps_total'];
  /** One look: the merged counts, floor 0's (when listed), and the same counts as Prometheus exports them. */
  const look = async (): Promise<{ merged: number[]; floor0: number[] | undefined; prom: number[] }> => {
    const s = b.engine.getMediaClockStatistics() as MediaClockStats & { result: T };
    const f0 = s.floors?.find((x) => x.floor === 0);
    const m = parse(await (await fetch(url)).text());
    return {
      merged: [s.ticks, s.lateTicks, s.skippedTicks, s.listenerErrors, s.sendGapsTotal ?? 0],
      floor0: f0 && [f0.ticks, f0.lateTicks, f0.skippedTicks, f0.listenerErrors, f0.sendGapsTotal ?? 0],
      prom: names.map((n) => m.values.get(n) ?? -1),
    };
  };
  // both floors have published and floor 0 has counted a while
  await until(() => (b.engine.getMediaClockStatistics().floors?.find((x) => x.floor === 0)?.ticks ?? 0) > 25, 30_000);
  const looks = [await look()];
  const killedAt = looks[0]!.floor0![0]!;
  t.true(f.killFloor(0));
  // look again and again until the replacement has published and counted on past its predecessor
  const deadline = Date.now() + 60_000;
  for (;;) {
    const l = await look();
    looks.push(l);
    if (f.readiness()[0] === true && l.floor0 !== undefined && l.floor0[0]! > killedAt + 25) break;
    if (Date.now() > deadline) break;
    await sleep(20);
  }
  const last = looks.at(-1)!;
  t.true(last.floor0 !== undefined && last.floor0[0]! > killedAt + 25, `the replacement published and counted on: floor 0 at ${String(last.floor0)} ticks, ${killedAt} when killed`);
  t.is((await b.waitFor(T.SipMediaWorkerLost)).data.worker, 0);
  t.true(looks.length > 2, 'looks while the replacement started');
  const goesBack = (get: (l: (typeof looks)[number]) => readonly number[] | undefined, what: string): void => {
    let prev: readonly number[] | undefined;
    for (const l of looks) {
      const v = get(l);
      if (v === undefined) continue;
      if (prev !== undefined) {
        const p = prev;
        t.true(v.every((x, i) => x >= p[i]!), `${what} went back: ${p.join(',')} -> ${v.join(',')}`);
      }
      prev = v;
    }
  };
  goesBack((l) => l.merged, 'the merged counts');
  goesBack((l) => l.floor0, 'floor 0\'s counts');
  goesBack((l) => l.prom, 'the Prometheus counts');
  t.true(last.prom.every((x) => x >= 0), 'every count is exported');
});

test('without media workers the send figures are the main clock\'s; the per-floor metrics have HELP and TYPE but no samples', async (t) => {
  const e = await startEngine(t, { mediaWorkers: 0 });
  const s = e.engine.getMediaClockStatistics();
  t.is(s.floors, undefined);
  t.is(s.mainThread, undefined);
  t.is(s.sendGapsTotal, 0);
  const on = await e.engine.enableMetrics({ port: 0 });
  t.is(on.result, T.SipSuccess);
  t.teardown(() => e.engine.disableMetrics());
  const m = parse(await (await fetch(`http://127.0.0.1:${on.port!}/metrics`)).text());
  t.is(m.values.get('linescape_media_send_samples'), 0, 'no call, no send');
  t.is(m.values.get('linescape_media_send_gaps_total'), 0);
  t.true(m.values.has('linescape_media_send_spacing_p99_seconds'));
  t.true(m.values.has('linescape_media_clock_slice_max_seconds'));
  t.is(m.type.get('linescape_media_floor_send_spacing_p99_seconds'), 'gauge');
  t.false([...m.values.keys()].some((k) => k.startsWith('linescape_media_floor_')), 'no floor, no per-floor sample');
});
