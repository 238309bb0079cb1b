/**
 * `npm run bench:dispatcher` (issue 12 benchmark d): calls per second and concurrent calls
 * through Kamailio's dispatcher (`examples/scale-out/kamailio.cfg`) to 1, 2 and 3 engine
 * processes (`examples/scale-out/engine.ts`: auto-answer, a 440 Hz tone on every call), and
 * beside them SIPp's own UAS (`-sn uas`) behind the same Kamailio, in one run, so the figures
 * share one machine state. SIPp (`examples/scale-out/uac-call.xml`, following Record-Route) is
 * the caller; Kamailio is started once and its dispatcher list is rewritten and reloaded
 * (`kamcmd dispatcher.reload`) for each back end.
 *
 * For each back end:
 * - **calls/s**: SIPp offers each rate of `CPS_RATES` for `CPS_SECONDS`, calls of `CALL_MS`;
 *   the ramp stops at the first rate that is not clean (a call failed or SIPp did not finish);
 *   achieved = successful calls / SIPp's total time. CPU % of one core of Kamailio (all its
 *   processes) and of the back end (all engine processes, or the SIPp UAS) over the run;
 * - **concurrent calls**: for each N of `CONC_STEPS`, SIPp places N calls at `CONC_RATE`/s,
 *   each lasting until all N are up (N / rate + 2 s), so N calls are up at once; clean = all N
 *   connected and ended, none failed.
 * Every engine has `ENGINE_LINES` lines (default 512). The machine is shared: read the ratios
 * between columns of one run, not the absolute figures.
 *
 * Environment: `CPS_RATES` (100,200,400,800), `CPS_SECONDS` (4), `CALL_MS` (200), `CONC_STEPS`
 * (200,400), `CONC_RATE` (100), `ENGINE_LINES` (512), `BACKENDS` (1,2,3,sipp).
 * @module
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { EngineProcess, writeDispatcherList } from '../examples/scale-out/engines.js';
import { projectRoot } from '../test/helpers/env.js';
import { runSipp, startKamailio, startSipp, waitForUdpPort, type KamailioHandle, type SippHandle, type SippResult } from '../test/helpers/peers.js';
import { freePorts } from '../test/helpers/ports.js';
import { table } from './measure.js';

const exampleDir = path.join(projectRoot, 'examples', 'scale-out');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Number list from an environment variable. */
function envList(name: string, dflt: string): number[] {
  return (process.env[name] ?? dflt).split(',').map((s) => Number(s.trim())).filter((n) => Number.isFinite(n) && n > 0);
}

/** Number from an environment variable. */
function envNum(name: string, dflt: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

/** CPU seconds (user + system) of a process, from `/proc/PID/stat`; NaN when unknown. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

/** The PIDs of a process and its direct children (Kamailio's workers are forked from the main process). */
function withChildren(pid: number): number[] {
  const out = [pid];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** CPU seconds of a set of processes. */
const cpuOf = (pids: readonly number[]): number => pids.reduce((s, p) => s + (cpuSeconds(p) || 0), 0);

/** A back end behind Kamailio: some engine processes, or one SIPp UAS. */
interface Backend {
  /** Its label in the tables. */
  readonly label: string;
  /** The PIDs whose CPU is the back end's. */
  readonly pids: number[];
  /** Stops it. */
  stop(): Promise<void>;
}

/** Points the dispatcher at `ports` (set 1; `probe`: flag 8) and waits until they are all active. */
async function dispatchTo(k: KamailioHandle, list: string, ports: number[], probe: boolean): Promise<void> {
  writeDispatcherList(list, ports);
  if (!probe) fs.writeFileSync(list, fs.readFileSync(list, 'utf8').replace(/^(1 \S+) 8 /gm, '$1 0 '));
  await k.kamcmd(['dispatcher.reload']);
  for (let i = 0; i < 100; i++) {
    const text = await k.kamcmd(['dispatcher.list']);
    const flags = [...text.matchAll(/URI: sip:127\.0\.0\.1:(\d+)\s+FLAGS: (\w+)/g)];
    if (flags.length === ports.length && flags.every((m) => m[2]!.startsWith('A'))) return;
    await sleep(200);
  }
  throw new Error(`dispatcher destinations not active: ${ports.join(',')}`);
}

/** Starts `n` engine processes with `lines` lines each, engine i on SIP port `sipPorts[i]` and RTP block `rtpBlocks[i]`. */
async function startEngines(n: number, lines: number, kamPort: number, sipPorts: readonly number[], rtpBlocks: readonly (readonly [number, number])[]): Promise<{ backend: Backend; ports: number[] }> {
  const ports = sipPorts.slice(0, n);
  const engines: EngineProcess[] = [];
  for (let i = 0; i < n; i++) {
    engines.push(await EngineProcess.start({ name: `engine${i + 1}`, port: ports[i]!, proxyPort: kamPort, lines, rtp: rtpBlocks[i]!, toneHz: 440, drainSeconds: 1 }));
  }
  return {
    ports,
    backend: {
      label: `${n} engine${n > 1 ? 's' : ''}`,
      pids: engines.map((e) => e.pid!),
      stop: async () => {
        await Promise.all(engines.map((e) => e.kill('SIGKILL')));
      },
    },
  };
}

/** Starts SIPp's UAS. */
async function startSippUas(): Promise<{ backend: Backend; ports: number[] }> {
  const [port] = await freePorts(1);
  const [mp] = await freePorts(2, { even: true });
  const uas: SippHandle = startSipp(['-sn', 'uas', '-p', String(port), '-mp', String(mp), '-max_recv_loops', '10000'], { timeoutMs: 0 });
  if (!(await waitForUdpPort(port!))) throw new Error('SIPp UAS did not start');
  return { ports: [port!], backend: { label: 'SIPp UAS', pids: [uas.pid!], stop: async () => void (await uas.kill()) } };
}

/** Runs SIPp's caller through Kamailio. */
async function caller(kamPort: number, rate: number, calls: number, callMs: number): Promise<SippResult> {
  const [sipPort] = await freePorts(1);
  const [mp] = await freePorts(2, { even: true });
  const secs = Math.ceil(calls / rate + callMs / 1000) + 60;
  return runSipp(
    [`127.0.0.1:${kamPort}`, '-sf', path.join(exampleDir, 'uac-call.xml'), '-s', 'sales', '-p', String(sipPort), '-mp', String(mp),
      '-r', String(rate), '-m', String(calls), '-l', String(Math.max(calls, 100)), '-d', String(callMs), '-max_recv_loops', '10000',
      '-default_behaviors', 'all,-abortunexp', '-timeout', `${secs}s`, '-timeout_error'],
    { timeoutMs: (secs + 10) * 1000 },
  );
}

/** One measured SIPp run with the CPU of Kamailio and of the back end over it. */
interface Measured {
  r: SippResult;
  clean: boolean;
  cps: number;
  kamCpuPct: number;
  backCpuPct: number;
}

/** Runs the caller and measures CPU around it. */
async function measure(k: KamailioHandle, back: Backend, rate: number, calls: number, callMs: number): Promise<Measured> {
  const kamPids = withChildren(k.pid);
  const k0 = cpuOf(kamPids);
  const b0 = cpuOf(back.pids);
  const t0 = performance.now();
  const r = await caller(k.port, rate, calls, callMs);
  const secs = (performance.now() - t0) / 1000;
  const s = r.stats;
  const clean = r.code === 0 && s !== undefined && s.failed === 0 && s.successful === calls;
  return {
    r,
    clean,
    cps: s?.totalTimeSec ? s.successful / s.totalTimeSec : 0,
    kamCpuPct: ((cpuOf(kamPids) - k0) / secs) * 100,
    backCpuPct: ((cpuOf(back.pids) - b0) / secs) * 100,
  };
}

/** The benchmark. */
export async function main(): Promise<void> {
  const rates = envList('CPS_RATES', '100,200,400,800');
  const seconds = envNum('CPS_SECONDS', 4);
  const callMs = envNum('CALL_MS', 200);
  const concSteps = envList('CONC_STEPS', '200,400');
  const concRate = envNum('CONC_RATE', 100);
  const lines = Math.min(1024, envNum('ENGINE_LINES', 512));
  const backends = (process.env.BACKENDS ?? '1,2,3,sipp').split(',').map((s) => s.trim());
  const l = os.loadavg();
  console.log(`=== d: through Kamailio's dispatcher (round robin), SIPp caller, ${callMs} ms calls, ${seconds} s per rate`);
  console.log(`${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load average ${l.map((x) => x.toFixed(2)).join(' ')}, Node ${process.version}`);

  // ports reserved once and reused by every back end (the port allocator never hands a port out twice)
  const most = Math.max(1, ...backends.map(Number).filter((n) => Number.isInteger(n)));
  const sipPorts = await freePorts(most);
  const rtpBlocks: (readonly [number, number])[] = [];
  for (let i = 0; i < most; i++) {
    const rtp = await freePorts(lines, { even: true });
    rtpBlocks.push([rtp[0]!, rtp[rtp.length - 1]! + 1]);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'linescape-bench-ds-'));
  const list = path.join(dir, 'dispatcher.list');
  writeDispatcherList(list, []);
  const k = await startKamailio({ startScript: path.join(exampleDir, 'kamailio-start.sh'), args: ['-A', `DS_LIST="${list}"`, '-A', 'DS_PING_INTERVAL=1'] });
  const cpsRows: string[][] = [];
  const concRows: string[][] = [];
  const summary: string[][] = [];
  try {
    // a fresh back end for each part, so calls left over by a failed step do not weigh on the next part
    const fresh = async (which: string): Promise<{ backend: Backend; ports: number[] }> => {
      const b = which === 'sipp' ? await startSippUas() : await startEngines(Number(which), lines, k.port, sipPorts, rtpBlocks);
      await dispatchTo(k, list, b.ports, which !== 'sipp');
      return b;
    };
    for (const which of backends) {
      let { backend } = await fresh(which);
      try {
        let best = 0;
        for (const rate of rates) {
          const m = await measure(k, backend, rate, rate * seconds, callMs);
          const s = m.r.stats;
          cpsRows.push([backend.label, String(rate), m.cps.toFixed(0), String(s?.successful ?? '?'), String(s?.failed ?? '?'), m.kamCpuPct.toFixed(0), m.backCpuPct.toFixed(0), m.clean ? 'clean' : 'FAIL']);
          process.stderr.write(`  ${backend.label} ${rate} cps: ${m.clean ? 'clean' : 'failures'}\n`);
          if (!m.clean) break;
          best = Math.max(best, m.cps);
          await sleep(1000);
        }
        await backend.stop();
        ({ backend } = await fresh(which));
        let bestConc = 0;
        for (const n of concSteps) {
          const holdMs = Math.round((n / concRate) * 1000) + 2000;
          const m = await measure(k, backend, concRate, n, holdMs);
          const s = m.r.stats;
          concRows.push([backend.label, String(n), String(s?.successful ?? '?'), String(s?.failed ?? '?'), m.kamCpuPct.toFixed(0), m.backCpuPct.toFixed(0), m.clean ? 'clean' : 'FAIL']);
          process.stderr.write(`  ${backend.label} ${n} concurrent: ${m.clean ? 'clean' : 'failures'}\n`);
          if (!m.clean) break;
          bestConc = n;
          await sleep(1000);
        }
        summary.push([backend.label, best.toFixed(0), String(bestConc)]);
      } finally {
        await backend.stop();
      }
    }
  } finally {
    await k.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    // what was measured, also when a step threw
    report(cpsRows, concRows, summary, concRate);
  }
}

/** Prints the three tables. */
function report(cpsRows: string[][], concRows: string[][], summary: string[][], concRate: number): void {
  console.log('\ncalls per second (SIPp caller -> Kamailio -> back end)');
  table(['back end', 'offered cps', 'achieved cps', 'ok', 'failed', 'Kamailio CPU%', 'back end CPU%', ''], cpsRows);
  console.log(`\nconcurrent calls (N calls placed at ${concRate}/s, each held until all N are up)`);
  table(['back end', 'N', 'ok', 'failed', 'Kamailio CPU%', 'back end CPU%', ''], concRows);
  console.log('\nsummary d (CPU % = of one core, all processes of that part; back end = all engine processes, or the SIPp UAS)');
  table(['back end', 'highest clean achieved cps', 'highest clean concurrent N'], summary);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
