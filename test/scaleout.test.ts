/**
 * Scale-out behind Kamailio's dispatcher (issue 12 item 4, `examples/scale-out/`), on loopback
 * with real processes: Kamailio runs the example's config (started like every Kamailio here,
 * by `startKamailio`, with the example's start script) in front of engine processes running
 * the example's engine runner (`examples/scale-out/engine.ts`); SIPp is the outside caller and
 * the trunk. Each engine counts the calls it answered itself and reports them on stdout.
 *
 * 1. 300 calls at 30/s are spread over 3 engines: every engine takes a share and all connect.
 *    One engine is killed mid-run: only the calls it carried at that moment may fail, calls it
 *    was offered meanwhile go on to the others; once the probe has taken it out, another 150
 *    calls all land on the other two with none failed. Restarted, its probe answers, it is back
 *    in the set and takes calls again.
 * 2. A per-line name registered by one engine (line 2 as `agent42`) is reachable through
 *    Kamailio from SIPp and from another engine; an engine's call to a name nobody registered
 *    goes out through Kamailio to the trunk.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { EngineProcess, writeDispatcherList, type EngineProcessOptions } from '../examples/scale-out/engines.js';
import { peerTest, projectRoot } from './helpers/env.js';
import { runSipp, startKamailio, startSipp, waitForUdpPort, type KamailioHandle, type SippResult } from './helpers/peers.js';
import { freePort, freePorts } from './helpers/ports.js';

const exampleDir = path.join(projectRoot, 'examples', 'scale-out');
const LINES = 64;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Kamailio with the example's config and a dispatcher list of `enginePorts` (set 1) and `trunkPorts` (set 2). */
async function startDispatcher(t: ExecutionContext, enginePorts: number[], trunkPorts: number[] = []): Promise<KamailioHandle> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'linescape-scaleout-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const list = path.join(dir, 'dispatcher.list');
  writeDispatcherList(list, enginePorts, trunkPorts);
  const k = await startKamailio({ startScript: path.join(exampleDir, 'kamailio-start.sh'), args: ['-A', `DS_LIST="${list}"`, '-A', 'DS_PING_INTERVAL=1', ...(process.env.SCALEOUT_DEBUG === '1' ? ['-A', 'WITH_DEBUG'] : [])] });
  t.teardown(() => k.stop());
  return k;
}

/** Options of an engine process on `port` with its own RTP block. */
async function engineOptions(name: string, port: number, proxyPort: number, agents?: Record<number, string>): Promise<EngineProcessOptions> {
  const rtp = await freePorts(LINES, { even: true });
  return { name, port, proxyPort, lines: LINES, rtp: [rtp[0]!, rtp[rtp.length - 1]! + 1], agents, toneHz: 440, drainSeconds: 5 };
}

/** Starts an engine process, killed when the test ends. */
async function startEngine(t: ExecutionContext, o: EngineProcessOptions): Promise<EngineProcess> {
  const e = await EngineProcess.start(o);
  t.teardown(() => e.kill('SIGKILL'));
  return e;
}

/** The dispatcher's state flags by destination port (`A`ctive / `I`nactive / `T`rying, `P`robing). */
async function dispatcherFlags(k: KamailioHandle): Promise<Map<number, string>> {
  const text = await k.kamcmd(['dispatcher.list']);
  const out = new Map<number, string>();
  const re = /URI: sip:127\.0\.0\.1:(\d+)\s+FLAGS: (\w+)/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) out.set(Number(m[1]), m[2]!);
  return out;
}

/** Polls the dispatcher until `ok(flags)` holds; false after `timeoutMs`. */
async function waitForDispatcher(k: KamailioHandle, ok: (flags: Map<number, string>) => boolean, timeoutMs = 20_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (ok(await dispatcherFlags(k))) return true;
    await sleep(200);
  }
  return false;
}

const isActive = (f: string | undefined): boolean => f !== undefined && f.startsWith('A');
const isInactive = (f: string | undefined): boolean => f !== undefined && f.startsWith('I');

/** SIPp arguments: `calls` calls to `user` through Kamailio at `rate`/s, each `callMs` long, following Record-Route. */
async function loadArgs(kamPort: number, user: string, calls: number, rate: number, callMs: number): Promise<string[]> {
  const [sipPort] = await freePorts(1);
  const [mediaPort] = await freePorts(2, { even: true });
  return [`127.0.0.1:${kamPort}`, '-sf', path.join(exampleDir, 'uac-call.xml'), '-s', user, '-p', String(sipPort), '-mp', String(mediaPort),
    '-r', String(rate), '-m', String(calls), '-l', '200', '-d', String(callMs), '-timeout', '150s', '-timeout_error', '-max_recv_loops', '1000',
    // a 180 relayed by another Kamailio process after the 200 is ignored, not a failed call (see uac-call.xml)
    '-default_behaviors', 'all,-abortunexp'];
}

/** Runs a SIPp load to its end. */
async function load(kamPort: number, user: string, calls: number, rate = 30, callMs = 500): Promise<SippResult> {
  return runSipp(await loadArgs(kamPort, user, calls, rate, callMs), { timeoutMs: 170_000 });
}

/** Answered counts of the engines. */
const counts = (engines: readonly EngineProcess[]): number[] => engines.map((e) => e.answered);

/** Waits until every call answered on the live engines has ended (their BYEs arrived). */
async function settled(engines: readonly EngineProcess[], timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (engines.every((e) => !e.running || e.active === 0)) return true;
    await sleep(100);
  }
  return false;
}

peerTest(
  'scale-out: Kamailio dispatcher spreads 300 SIPp calls over 3 engine processes (each a share, all connect); a killed engine is probed out and the other two take every later call; restarted, it rejoins',
  ['kamailio', 'sipp'],
  async (t) => {
    t.timeout(300_000);
    const ports = await freePorts(3);
    const k = await startDispatcher(t, ports);
    const opts = await Promise.all(ports.map((p, i) => engineOptions(`engine${i + 1}`, p, k.port)));
    const engines = await Promise.all(opts.map((o) => startEngine(t, o)));
    t.true(await waitForDispatcher(k, (f) => ports.every((p) => isActive(f.get(p)))), 'every engine answered its probe');

    // 1. 300 calls, 30/s: spread over all three, none failed
    const r1 = await load(k.port, 'sales', 300);
    const hangups = engines.flatMap((e) => e.reports.filter((r) => r.ev === 'ended' && r.reason !== 'SipByeReceived').map((r) => `${e.options.name}: ${JSON.stringify(r)}`));
    t.is(r1.code, 0, `${r1.summary}\nnot ended by the caller's BYE: ${hangups.join('\n')}`);
    t.like(r1.stats, { successful: 300, failed: 0 }, r1.summary);
    t.true(await settled(engines), 'every call ended on its engine');
    const share1 = counts(engines);
    t.log(`shares of 300 calls: ${share1.join(' / ')}`);
    t.is(share1.reduce((a, b) => a + b, 0), 300, 'each call answered exactly once');
    for (const [i, n] of share1.entries()) t.true(n > 0, `engine ${i + 1} took a share`);

    // 2. engine 3 dies mid-run (SIGKILL): only the calls up on it may fail
    const [e1, e2, e3] = engines as [EngineProcess, EngineProcess, EngineProcess];
    const before = counts(engines);
    const run2 = startSipp(await loadArgs(k.port, 'sales', 300, 30, 500), { timeoutMs: 170_000 });
    t.teardown(() => run2.kill());
    await e3.waitFor(() => e3.answered - before[2]! >= 30, 60_000);
    await e3.kill('SIGKILL');
    const upOnDead = e3.active;
    t.true(await waitForDispatcher(k, (f) => isInactive(f.get(ports[2]!))), 'the dead engine was taken out of the set');
    const r2 = await run2.wait();
    t.log(`run with the kill: ${r2.stats?.successful} ok, ${r2.stats?.failed} failed; ${upOnDead} calls were up on the engine when it died`);
    t.is((r2.stats?.successful ?? 0) + (r2.stats?.failed ?? 0), 300, r2.summary);
    t.true((r2.stats?.failed ?? 0) <= upOnDead, `only calls up on the dead engine failed\n${r2.summary}`);
    t.true(await settled(engines), 'every call ended on the live engines');

    // 3. after the probe took it out: every call lands on the other two, none fails
    const mid = counts(engines);
    const r3 = await load(k.port, 'sales', 150);
    t.is(r3.code, 0, r3.summary);
    t.like(r3.stats, { successful: 150, failed: 0 }, r3.summary);
    t.true(await settled(engines));
    const after = counts(engines);
    t.log(`after the kill, shares of 150 calls: ${after[0]! - mid[0]!} / ${after[1]! - mid[1]!}`);
    t.is(after[0]! - mid[0]! + (after[1]! - mid[1]!), 150, 'the two live engines answered all 150');
    t.true(after[0]! > mid[0]! && after[1]! > mid[1]!, 'both live engines took a share');

    // 4. restarted on the same port, its probe answers and it takes calls again
    const e3b = await startEngine(t, e3.options);
    t.true(await waitForDispatcher(k, (f) => isActive(f.get(ports[2]!))), 'the restarted engine is back in the set');
    const live = [e1, e2, e3b];
    const pre = counts(live);
    const r4 = await load(k.port, 'sales', 150);
    t.is(r4.code, 0, r4.summary);
    t.like(r4.stats, { successful: 150, failed: 0 }, r4.summary);
    t.true(await settled(live));
    const post = counts(live);
    const share4 = post.map((n, i) => n - pre[i]!);
    t.log(`after the restart, shares of 150 calls: ${share4.join(' / ')}`);
    t.is(share4.reduce((a, b) => a + b, 0), 150);
    for (const [i, n] of share4.entries()) t.true(n > 0, `engine ${i + 1} took a share after the restart`);
  },
);

peerTest(
  'scale-out: line 2 of engine B registered as "agent42" is reached through Kamailio from SIPp and from engine A; an engine calling an unregistered number goes out through Kamailio to the trunk',
  ['kamailio', 'sipp'],
  async (t) => {
    t.timeout(120_000);
    const [portA, portB] = await freePorts(2);
    const trunkPort = await freePort();
    const [trunkMedia] = await freePorts(2, { even: true });
    const trunk = startSipp(['-sn', 'uas', '-p', String(trunkPort), '-mp', String(trunkMedia!), '-m', '1'], { timeoutMs: 100_000 });
    t.teardown(() => trunk.kill());
    t.true(await waitForUdpPort(trunkPort), 'trunk (SIPp UAS) up');
    const k = await startDispatcher(t, [portA!, portB!], [trunkPort]);
    const a = await startEngine(t, await engineOptions('engineA', portA!, k.port));
    const b = await startEngine(t, await engineOptions('engineB', portB!, k.port, { 2: 'agent42' }));
    await b.waitFor((r) => r.ev === 'registered' && r.name === 'agent42', 20_000, true);
    const regs = await k.registrations();
    t.true(regs.some((r) => r.aor === 'agent42' && r.contact.includes(`:${portB}`)), `agent42 bound to engine B: ${JSON.stringify(regs)}`);

    // SIPp (outside caller) -> Kamailio -> usrloc -> engine B line 2
    const ring1 = b.waitFor((r) => r.ev === 'answered', 30_000);
    const r1 = await load(k.port, 'agent42', 1, 1, 300);
    t.is(r1.code, 0, r1.summary);
    t.like(await ring1, { line: 2, user: 'agent42' });
    t.true(await settled([b]), 'the first call to agent42 ended');

    // engine A -> its proxy Kamailio -> engine B line 2
    const ring2 = b.waitFor((r) => r.ev === 'answered', 30_000);
    a.command({ cmd: 'call', uri: `sip:agent42@127.0.0.1:${k.port}` });
    t.like(await a.waitFor((r) => r.ev === 'callResult', 30_000), { rc: 'SipSuccess' });
    t.like(await ring2, { line: 2, user: 'agent42' });
    t.is(a.answered, 0, 'engine A answered nothing');

    // engine A -> Kamailio -> trunk, not to an engine
    a.command({ cmd: 'call', uri: `sip:5551234@127.0.0.1:${k.port}` });
    t.like(await a.waitFor((r) => r.ev === 'callResult' && r.uri === `sip:5551234@127.0.0.1:${k.port}`, 30_000), { rc: 'SipSuccess' });
    t.is(a.answered, 0);
    t.is(b.answered, 2, 'engine B answered only the two agent42 calls');
  },
);

peerTest(
  'scale-out: an engine told to stop (SIGTERM) drains: its probe answers 503 and new calls are refused with 503, Kamailio moves them to the other engine, its calls in progress finish, no call fails',
  ['kamailio', 'sipp'],
  async (t) => {
    t.timeout(180_000);
    const ports = await freePorts(2);
    const k = await startDispatcher(t, ports);
    const [e1, e2] = await Promise.all(ports.map(async (p, i) => startEngine(t, await engineOptions(`engine${i + 1}`, p, k.port))));
    t.true(await waitForDispatcher(k, (f) => ports.every((p) => isActive(f.get(p)))), 'both engines answered their probes');
    const run = startSipp(await loadArgs(k.port, 'sales', 240, 30, 1000), { timeoutMs: 170_000 });
    t.teardown(() => run.kill());
    await e2!.waitFor(() => e2!.answered >= 30, 60_000);
    const draining = e2!.waitFor((r) => r.ev === 'draining', 10_000);
    const code = e2!.kill('SIGTERM');
    t.true(((await draining).active as number) > 0, 'it had calls in progress when told to stop');
    t.true(await waitForDispatcher(k, (f) => !isActive(f.get(ports[1]!))), 'its 503 to the probe took it out of the set');
    t.is(await code, 0, 'it stopped cleanly after its calls ended');
    t.like(e2!.reports.at(-1), { ev: 'stopped' });
    const r = await run.wait();
    t.is(r.code, 0, r.summary);
    t.like(r.stats, { successful: 240, failed: 0 }, r.summary);
    t.true(await settled([e1!]));
    t.log(`shares of 240 calls: ${e1!.answered} / ${e2!.answered} (engine 2 drained after its 30th)`);
    t.is(e1!.answered + e2!.answered, 240);
  },
);
