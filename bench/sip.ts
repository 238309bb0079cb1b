/**
 * `npm run bench:sip`: SIP stack throughput, printed beside a peer measured in the same run.
 *
 * 1. Parse and serialize a realistic INVITE with SDP (messages per second).
 * 2. REGISTER transactions per second the engine completes against a SIPp registrar
 *    (`test/sipp/uas-register-loop.xml`): one engine registers `NAMES` names and re-registers
 *    each name as soon as its previous REGISTER is answered (so `NAMES` transactions are in
 *    flight at all times), for `SECONDS`; digest-free, UDP, 127.0.0.1. Beside it: SIPp's REGISTER UAC driving the same SIPp registrar, at the same
 *    offered rate the engine achieved and at SIPp's own clean ceiling, so the ratio is
 *    engine / SIPp on this machine, now.
 *
 * 3. Choosing the line of an incoming INVITE (`LinePolicy.selectLineForIncoming`) among `LINES`
 *    lines named like extensions (1000, 1001, …), every line free: a call for a line's name,
 *    for a number no line has, and for a line's number written with visual separators; beside
 *    it the ceiling, a `Map` from name to line, in the same run (µs per INVITE).
 *
 * Environment: `SECONDS` (default 8), `NAMES` (default 64), `LINES` (default 1000).
 * @module
 */
import { pathToFileURL } from 'node:url';
import { VoipMediaEngine, TelephonyReturnValue as T } from '../index.js';
import { startSipp, sippScenario, waitForUdpPort } from '../test/helpers/peers.js';
import { freePort } from '../test/helpers/ports.js';
import { benchParse } from './sip-parse.js';
import { framesPerSecond } from './measure.js';
import { LinePolicy } from '../engine/linePolicy.js';
import { PhoneLine } from '../lines/phoneLine.js';
import type { UsageContext } from '../lines/context.js';
import { sippRegisterBaseline } from './sipp-baseline.js';

/** Result of {@link engineRegisterRate}. */
export interface EngineRegisterRate {
  /** Successful REGISTER transactions per second. */
  perSec: number;
  /** Successful transactions in the run. */
  successes: number;
  /** Time-outs and errors. */
  failures: number;
  /** Run length in seconds. */
  seconds: number;
  /** Engine process CPU time per transaction (µs), user + system. */
  cpuPerTransactionUs: number;
}

/** Measures REGISTER transactions per second of one engine against a SIPp registrar. */
export async function engineRegisterRate(seconds: number, names: number): Promise<EngineRegisterRate> {
  const port = await freePort();
  const sipp = startSipp(['-sf', sippScenario('uas-register-loop.xml'), '-p', String(port), '-max_recv_loops', '10000', '-deadcall_wait', '0'], {
    timeoutMs: (seconds + 60) * 1000,
  });
  const engine = new VoipMediaEngine();
  try {
    if (!(await waitForUdpPort(port))) throw new Error('SIPp registrar did not start');
    const rc = await engine.startSipTelephony({ ipAddressOfThisHost: '127.0.0.1', sipPort: 0, numPhoneLinesRequested: 1 });
    if (rc !== T.SipSuccess) throw new Error(`startSipTelephony: ${T[rc]}`);
    let successes = 0;
    let failures = 0;
    let firstRound = 0;
    let measuring = false;
    let running = false;
    let warmedUp: (() => void) | undefined;
    engine.on('notification', (n) => {
      if (n.event === T.SipRegisterSuccess) {
        const name = (n.data as { name: string }).name;
        if (measuring) successes++;
        if (!running) {
          if (++firstRound === names) warmedUp?.();
          return;
        }
        engine.triggerRegistration(name);
      } else if (n.event === T.SipRegisterTimeOut || n.event === T.SipRegisterError) {
        failures++;
      }
    });
    const list = Array.from({ length: names }, (_, i) => `bench${i}`).join(',');
    // Interval = expiry = 3600: every refresh below is triggered by the benchmark, not by timers.
    const started = await engine.enableSipRegisterServer(list, false, false, '127.0.0.1', port, 3600, 3600, 8000, false);
    if (started !== T.SipSuccess) throw new Error(`enableSipRegisterServer: ${T[started]}`);
    // The first registration of every name warms up (JIT, socket buffers); then each answer
    // triggers that name's next REGISTER, and the measurement starts after one more second.
    await new Promise<void>((resolve) => (warmedUp = resolve));
    running = true;
    engine.triggerRegistration();
    await new Promise((r) => setTimeout(r, 1000));
    const cpu0 = process.cpuUsage();
    measuring = true;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    measuring = false;
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    running = false;
    await new Promise((r) => setTimeout(r, 500));
    return { perSec: successes / elapsed, successes, failures, seconds: elapsed, cpuPerTransactionUs: ((cpu.user + cpu.system) / successes) || 0 };
  } finally {
    await engine.disableSipRegisterServer().catch(() => undefined);
    await engine.stopSipTelephony();
    await sipp.kill();
  }
}

/** µs per call of `fn` (see {@link framesPerSecond}: one call per frame). */
function usPerCall(fn: () => unknown): number {
  return 1e6 / framesPerSecond(() => void fn(), 300);
}

/** Part 3: line selection among `count` lines named 1000, 1001, … (see the module). */
function benchLineSelection(count: number): void {
  const lines = Array.from({ length: count }, (_, i) => {
    const l = new PhoneLine(i);
    l.registrationName = String(1000 + i);
    return l;
  });
  // the policy reads only the lines from its context to choose one
  const policy = new LinePolicy({ lines: () => lines } as unknown as UsageContext, () => undefined);
  const byName = new Map(lines.map((l) => [l.registrationName!, l]));
  const last = String(1000 + count - 1);
  const dashed = `${last.slice(0, 1)}-${last.slice(1)}`;
  console.log(`3. Choosing the line of an incoming INVITE among ${count} lines named ${lines[0]!.registrationName}…${last}, all free (µs per INVITE)`);
  const row = (label: string, user: string): void => {
    const us = usPerCall(() => policy.selectLineForIncoming(user));
    const ceiling = usPerCall(() => byName.get(user));
    console.log(`   ${label.padEnd(44)} ${us.toFixed(2).padStart(8)}   Map lookup ${ceiling.toFixed(3).padStart(7)}`);
  };
  row(`the last line's name (${last})`, last);
  row('a number no line has (5551234)', '5551234');
  row(`the last line's number with separators (${dashed})`, dashed);
  console.log('');
}

async function main(): Promise<void> {
  const seconds = Number(process.env['SECONDS'] ?? 8);
  const names = Number(process.env['NAMES'] ?? 64);
  console.log('LineScape SIP benchmark (2-core loopback; ratios matter, not absolute numbers)\n');

  const p = await benchParse(3000);
  console.log('1. Realistic INVITE with SDP');
  console.log(`   parse            ${Math.round(p.parsePerSec).toLocaleString('en-US').padStart(10)} msg/s`);
  console.log(`   serialize        ${Math.round(p.serializePerSec).toLocaleString('en-US').padStart(10)} msg/s`);
  console.log(`   parse+serialize  ${Math.round(p.roundTripPerSec).toLocaleString('en-US').padStart(10)} msg/s\n`);

  const e = await engineRegisterRate(seconds, names);
  const sameRate = Math.max(100, Math.round(e.perSec));
  const sippSame = await sippRegisterBaseline(sameRate, Math.round(sameRate * seconds));
  const sippCeiling = await sippRegisterBaseline(3000, 3000 * seconds);
  console.log('2. REGISTER transactions per second against a SIPp registrar (UDP, no auth)');
  console.log(`   LineScape engine (${names} in flight)                   ${e.perSec.toFixed(0).padStart(6)} /s  failures ${e.failures}  (${e.cpuPerTransactionUs.toFixed(0)} µs CPU each)`);
  console.log(`   SIPp UAC offered the same rate (-r ${sameRate})          ${sippSame.achievedPerSec.toFixed(0).padStart(6)} /s  failures ${sippSame.failed}`);
  console.log(`   SIPp UAC at its clean ceiling (-r 3000)             ${sippCeiling.achievedPerSec.toFixed(0).padStart(6)} /s  failures ${sippCeiling.failed}`);
  console.log(`   ratio engine / SIPp ceiling: ${(e.perSec / sippCeiling.achievedPerSec).toFixed(2)}`);
  console.log('');
  benchLineSelection(Number(process.env['LINES'] ?? 1000));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
