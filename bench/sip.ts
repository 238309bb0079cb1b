/**
 * `npm run bench:sip`: SIP stack throughput, printed beside a peer measured in the same run.
 *
 * 1. Parse and serialize a realistic INVITE with SDP (messages per second).
 * 2. REGISTER transactions per second the engine completes against a SIPp registrar
 *    (`test/sipp/uas-register-loop.xml`): one engine registers `NAMES` names and re-registers
 *    all of them as soon as the previous round is answered, for `SECONDS`; digest-free, UDP,
 *    127.0.0.1. Beside it: SIPp's REGISTER UAC driving the same SIPp registrar, at the same
 *    offered rate the engine achieved and at SIPp's own clean ceiling, so the ratio is
 *    engine / SIPp on this machine, now.
 *
 * Environment: `SECONDS` (default 8), `NAMES` (default 400).
 * @module
 */
import { pathToFileURL } from 'node:url';
import { VoipMediaEngine, TelephonyReturnValue as T } from '../index.js';
import { startSipp, sippScenario, waitForUdpPort } from '../test/helpers/peers.js';
import { freePort } from '../test/helpers/ports.js';
import { benchParse } from './sip-parse.js';
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
}

/** Measures REGISTER transactions per second of one engine against a SIPp registrar. */
export async function engineRegisterRate(seconds: number, names: number): Promise<EngineRegisterRate> {
  const port = await freePort();
  const sipp = startSipp(['-sf', sippScenario('uas-register-loop.xml'), '-p', String(port), '-max_recv_loops', '10000'], {
    timeoutMs: (seconds + 60) * 1000,
  });
  const engine = new VoipMediaEngine();
  try {
    if (!(await waitForUdpPort(port))) throw new Error('SIPp registrar did not start');
    const rc = await engine.startSipTelephony({ ipAddressOfThisHost: '127.0.0.1', sipPort: 0, numPhoneLinesRequested: 1 });
    if (rc !== T.SipSuccess) throw new Error(`startSipTelephony: ${T[rc]}`);
    let successes = 0;
    let failures = 0;
    let inRound = 0;
    let measuring = false;
    let done: (() => void) | undefined;
    engine.on('notification', (n) => {
      if (n.event === T.SipRegisterSuccess) {
        if (measuring) successes++;
        if (++inRound === names) {
          inRound = 0;
          if (done) done();
          else engine.triggerRegistration();
        }
      } else if (n.event === T.SipRegisterTimeOut || n.event === T.SipRegisterError) {
        failures++;
      }
    });
    const list = Array.from({ length: names }, (_, i) => `bench${i}`).join(',');
    // Interval = expiry = 3600: every refresh below is triggered by the benchmark, not by timers.
    const started = await engine.enableSipRegisterServer(list, false, false, '127.0.0.1', port, 3600, 3600, 8000, false);
    if (started !== T.SipSuccess) throw new Error(`enableSipRegisterServer: ${T[started]}`);
    // The first round warms up (JIT, socket buffers); measure from the second.
    await new Promise<void>((resolve) => {
      done = () => {
        done = undefined;
        resolve();
      };
    });
    measuring = true;
    const t0 = performance.now();
    engine.triggerRegistration();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    measuring = false;
    const elapsed = (performance.now() - t0) / 1000;
    // let the last round finish before stopping
    await new Promise<void>((resolve) => {
      done = () => resolve();
      setTimeout(resolve, 10_000);
    });
    return { perSec: successes / elapsed, successes, failures, seconds: elapsed };
  } finally {
    await engine.disableSipRegisterServer().catch(() => undefined);
    await engine.stopSipTelephony();
    await sipp.kill();
  }
}

async function main(): Promise<void> {
  const seconds = Number(process.env['SECONDS'] ?? 8);
  const names = Number(process.env['NAMES'] ?? 400);
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
  console.log(`   LineScape engine (${names} names, re-registered in rounds)  ${e.perSec.toFixed(0).padStart(6)} /s  failures ${e.failures}`);
  console.log(`   SIPp UAC offered the same rate (-r ${sameRate})          ${sippSame.achievedPerSec.toFixed(0).padStart(6)} /s  failures ${sippSame.failed}`);
  console.log(`   SIPp UAC at its clean ceiling (-r 3000)             ${sippCeiling.achievedPerSec.toFixed(0).padStart(6)} /s  failures ${sippCeiling.failed}`);
  console.log(`   ratio engine / SIPp ceiling: ${(e.perSec / sippCeiling.achievedPerSec).toFixed(2)}`);
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
