/**
 * Handles on real SIP peers for tests and benchmarks: Kamailio (registrar + proxy, through the
 * shared `peers/kamailio` scripts) and SIPp (scripted UAC/UAS).
 *
 * Everything listens on 127.0.0.1 only. Every handle's `stop()`/`kill()` is idempotent, so
 * callers can register it with `t.teardown` and also call it early. Processes still running
 * when the worker process exits are signalled by their PID from an exit hook.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as dnsPromises } from 'node:dns';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findBinary, peerPath, peersDir, sippScenarioDir } from './env.js';
import { freePort, freePorts, freeUdpTcpPort } from './ports.js';

/** Keep peer run/log directories after stop (`LINESCAPE_KEEP_PEER_DIRS=1`). */
const KEEP_DIRS = process.env.LINESCAPE_KEEP_PEER_DIRS === '1';

/** PIDs of peer processes started here and not yet stopped, signalled on exit. */
const livePids = new Map<number, NodeJS.Signals>();

/** Log directories of SIPp runs that succeeded, removed on exit (failed runs keep theirs). */
const disposableDirs = new Set<string>();

/** Whether the exit hook is installed. */
let exitHookInstalled = false;

/**
 * Installs (once) the exit hook that signals peers still running and removes the log
 * directories of successful SIPp runs.
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const [p, sig] of livePids) {
      try {
        process.kill(p, sig);
      } catch {
        // already gone
      }
    }
    if (!KEEP_DIRS) {
      for (const dir of disposableDirs) fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

/**
 * Remembers a PID to signal if this process exits while it still runs.
 *
 * @param pid - the peer's PID
 * @param signal - signal to send on exit
 */
function track(pid: number, signal: NodeJS.Signals): void {
  livePids.set(pid, signal);
  installExitHook();
}

/**
 * Environment for peer processes: the current one with `PATH` set to {@link peerPath} (the sbin
 * directories added, or exactly `LINESCAPE_PEER_PATH`), so scripts find the same binaries the
 * tests checked for, and no hidden one.
 *
 * @param extra - variables to add or override
 * @returns the environment
 */
function peerEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, PATH: peerPath, ...extra };
}

/** Outcome of a finished child process. */
export interface ProcessResult {
  /** Exit code; -1 when it was ended by a signal. */
  readonly code: number;
  /** Signal that ended it, if any. */
  readonly signal: NodeJS.Signals | null;
  /** Whether it was ended because `timeoutMs` elapsed. */
  readonly timedOut: boolean;
  /** Everything it wrote to stdout. */
  readonly stdout: string;
  /** Everything it wrote to stderr. */
  readonly stderr: string;
}

/** A running child process and the promise of its {@link ProcessResult}. */
interface Running {
  /** The child. */
  readonly child: ChildProcess;
  /** Settles when it has exited and its output is closed. */
  readonly done: Promise<ProcessResult>;
  /** Sends SIGTERM, then SIGKILL after `graceMs` if it is still running; resolves on exit. */
  readonly terminate: (graceMs: number) => Promise<ProcessResult>;
}

/**
 * Spawns a process with captured output and an optional time limit.
 *
 * @param cmd - executable
 * @param args - arguments
 * @param opts - working directory, environment, time limit (SIGTERM, SIGKILL 2 s later)
 * @returns the running process
 */
function launch(
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Running {
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? peerEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let killTimer: NodeJS.Timeout | undefined;
  const hardKill = (graceMs: number): void => {
    if (killTimer !== undefined) return;
    killTimer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  };
  const limit =
    opts.timeoutMs !== undefined
      ? setTimeout(() => {
          timedOut = true;
          child.kill('SIGTERM');
          hardKill(2000);
        }, opts.timeoutMs)
      : undefined;
  const done = new Promise<ProcessResult>((resolve) => {
    let spawnError: Error | undefined;
    child.once('error', (err) => {
      spawnError = err;
    });
    child.once('close', (code, signal) => {
      if (limit !== undefined) clearTimeout(limit);
      if (killTimer !== undefined) clearTimeout(killTimer);
      if (child.pid !== undefined) livePids.delete(child.pid);
      if (spawnError !== undefined) stderr += `\n${cmd}: ${spawnError.message}\n`;
      resolve({ code: code ?? -1, signal, timedOut, stdout, stderr });
    });
  });
  if (child.pid !== undefined) track(child.pid, 'SIGKILL');
  const terminate = (graceMs: number): Promise<ProcessResult> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      hardKill(graceMs);
    }
    return done;
  };
  return { child, done, terminate };
}

/**
 * Runs a command to completion.
 *
 * @param cmd - executable
 * @param args - arguments
 * @param opts - working directory, environment, time limit
 * @returns its result
 */
function run(
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ProcessResult> {
  return launch(cmd, args, opts).done;
}

/**
 * Last `n` lines of a text, for error messages.
 *
 * @param text - the text
 * @param n - line count
 * @returns the tail
 */
function tail(text: string, n = 30): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

/**
 * Absolute path of one of the project's SIPp scenarios in `test/sipp/`.
 *
 * @param name - file name, e.g. `"uas-register-423.xml"`
 * @returns the absolute path
 */
export function sippScenario(name: string): string {
  return path.join(sippScenarioDir, name);
}

/**
 * Absolute path of a file in a shared peer folder, e.g. `peerFile('kamailio', 'register-auth.xml')`.
 *
 * @param peer - `"kamailio"`, `"sipp"`, `"baresip"` or `"audio"`
 * @param name - file name
 * @returns the absolute path
 */
export function peerFile(peer: string, name: string): string {
  return path.join(peersDir, peer, name);
}

// ---------------------------------------------------------------------------------------
// Kamailio

/** Options of {@link startKamailio}. */
export interface KamailioOptions {
  /** UDP+TCP port on 127.0.0.1; default: a free one from {@link freeUdpTcpPort}. */
  readonly port?: number;
  /** Extra kamailio arguments, e.g. `['-A', 'NO_PROXY_AUTH', '-A', 'WITH_DEBUG']`. */
  readonly args?: readonly string[];
  /** Keep the run directory after `stop()` (also `LINESCAPE_KEEP_PEER_DIRS=1`). */
  readonly keepRundir?: boolean;
  /**
   * A start script with the same contract as `peers/kamailio/start.sh` (`PORT RUNDIR [args]`,
   * prints the PID once up) that runs another config, e.g. `examples/scale-out/kamailio-start.sh`.
   * Default: the shared peer's `start.sh`.
   */
  readonly startScript?: string;
}

/** One contact binding in Kamailio's location table. */
export interface KamailioRegistration {
  /** Address of record: the user part only (the config uses `use_domain=0`). */
  readonly aor: string;
  /** The bound contact URI, e.g. `sip:150@127.0.0.1:5060;transport=UDP`. */
  readonly contact: string;
  /** Seconds until the binding expires. */
  readonly expires: number;
  /** The `received` address saved for a NATed or TCP client, else `undefined`. */
  readonly received: string | undefined;
  /** The Kamailio socket it arrived on, e.g. `udp:127.0.0.1:5090`. */
  readonly socket: string;
}

/** A running Kamailio started by {@link startKamailio}. */
export interface KamailioHandle {
  /** Its UDP+TCP port on 127.0.0.1. */
  readonly port: number;
  /** Its run directory (pid file, control socket, `kamailio.log`). */
  readonly rundir: string;
  /** PID of the main kamailio process. */
  readonly pid: number;
  /** Stops it (TERM, KILL after 5 s) and removes the run directory; idempotent. */
  stop(): Promise<void>;
  /** Current location table, one entry per contact. */
  registrations(): Promise<KamailioRegistration[]>;
  /** Runs `kamcmd` against its control socket, e.g. `kamcmd(['htable.sets', 'users', 'dave', 'secret-dave'])`. */
  kamcmd(args: readonly string[]): Promise<string>;
  /** Its log so far (also available after `stop()`). */
  log(): string;
}

/**
 * Parses `dump-registrations.sh` output
 * (`AOR CONTACT expires=N received=R socket=S`, one line per contact).
 *
 * @param text - the script's stdout
 * @returns the bindings
 */
export function parseRegistrations(text: string): KamailioRegistration[] {
  const out: KamailioRegistration[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(\S+)\s+expires=(-?\d+)\s+received=(\S+)\s+socket=(\S+)\s*$/.exec(line);
    if (m === null) continue;
    out.push({
      aor: m[1] as string,
      contact: m[2] as string,
      expires: Number(m[3]),
      received: m[4] === '-' ? undefined : m[4],
      socket: m[5] as string,
    });
  }
  return out;
}

/**
 * Starts Kamailio (shared `peers/kamailio/start.sh`) on 127.0.0.1 UDP+TCP with a fresh run
 * directory in the OS temp dir, and waits until it answers OPTIONS (about 2 s).
 * Users `100`..`199`, `alice`, `bob`, `carol`, password `secret-<user>`, realm `127.0.0.1`.
 * When no port is given and the chosen one turns out busy, it retries on another.
 *
 * @param opts - see {@link KamailioOptions}
 * @returns the handle; register `t.teardown(() => k.stop())`
 * @throws Error with the start script's output and the log tail when it does not come up
 */
export async function startKamailio(opts: KamailioOptions = {}): Promise<KamailioHandle> {
  const dir = path.join(peersDir, 'kamailio');
  const attempts = opts.port === undefined ? 3 : 1;
  let lastError = '';
  for (let attempt = 0; attempt < attempts; attempt++) {
    const port = opts.port ?? (await freeUdpTcpPort());
    const rundir = fs.mkdtempSync(path.join(os.tmpdir(), 'linescape-kam-'));
    const res = await run(
      'sh',
      [opts.startScript ?? path.join(dir, 'start.sh'), String(port), rundir, ...(opts.args ?? [])],
      { cwd: dir, timeoutMs: 90_000 },
    );
    const pid = Number.parseInt(res.stdout.trim().split('\n').pop() ?? '', 10);
    if (res.code === 0 && Number.isInteger(pid) && pid > 0) {
      track(pid, 'SIGTERM');
      return kamailioHandle(dir, port, rundir, pid, opts.keepRundir ?? KEEP_DIRS);
    }
    const logFile = path.join(rundir, 'kamailio.log');
    const logText = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
    lastError =
      `start.sh ${port} exited ${res.code}${res.timedOut ? ' (timed out)' : ''}\n` +
      `${res.stdout}${res.stderr}\n--- kamailio.log (tail)\n${tail(logText)}`;
    // it may have come up after all (timeout): stop it by its pid file
    await run('sh', [path.join(dir, 'stop.sh'), rundir], { cwd: dir, timeoutMs: 15_000 });
    fs.rmSync(rundir, { recursive: true, force: true });
  }
  throw new Error(`Kamailio did not start: ${lastError}`);
}

/**
 * Builds the handle of a started Kamailio.
 *
 * @param dir - shared kamailio peer folder
 * @param port - its port
 * @param rundir - its run directory
 * @param pid - its main PID
 * @param keep - keep the run directory after stop
 * @returns the handle
 */
function kamailioHandle(
  dir: string,
  port: number,
  rundir: string,
  pid: number,
  keep: boolean,
): KamailioHandle {
  const logFile = path.join(rundir, 'kamailio.log');
  let finalLog: string | undefined;
  let stopping: Promise<void> | undefined;
  const readLog = (): string => {
    if (finalLog !== undefined) return finalLog;
    try {
      return fs.readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  return {
    port,
    rundir,
    pid,
    stop(): Promise<void> {
      stopping ??= (async () => {
        const res = await run('sh', [path.join(dir, 'stop.sh'), rundir], {
          cwd: dir,
          timeoutMs: 20_000,
        });
        livePids.delete(pid);
        finalLog = readLog();
        if (!keep) fs.rmSync(rundir, { recursive: true, force: true });
        if (res.code !== 0 && !/no .*kamailio\.pid/.test(res.stderr)) {
          throw new Error(`kamailio stop.sh exited ${res.code}: ${res.stderr}`);
        }
      })();
      return stopping;
    },
    async registrations(): Promise<KamailioRegistration[]> {
      const res = await run('sh', [path.join(dir, 'dump-registrations.sh'), rundir], {
        cwd: dir,
        timeoutMs: 15_000,
      });
      if (res.code !== 0) {
        throw new Error(`dump-registrations.sh exited ${res.code}: ${res.stderr}`);
      }
      return parseRegistrations(res.stdout);
    },
    async kamcmd(args: readonly string[]): Promise<string> {
      const res = await run('kamcmd', ['-s', `unix:${path.join(rundir, 'kamailio_ctl')}`, ...args], {
        timeoutMs: 15_000,
      });
      if (res.code !== 0) throw new Error(`kamcmd ${args.join(' ')} exited ${res.code}: ${res.stderr}`);
      return res.stdout;
    },
    log: readLog,
  };
}

// ---------------------------------------------------------------------------------------
// SIPp

/** Options of {@link runSipp} and {@link startSipp}. */
export interface SippOptions {
  /**
   * Working directory: relative files (scenarios, `-inf` CSVs, `rtp_stream` media) resolve
   * against it. Default: the run's log directory.
   */
  readonly cwd?: string;
  /** Kill SIPp (TERM, KILL 2 s later) after this long. Default 60 s; 0 = no limit. */
  readonly timeoutMs?: number;
  /** Also log every SIP message (`-trace_msg`) into the log directory. Default false. */
  readonly traceMessages?: boolean;
  /** Extra environment variables. */
  readonly env?: NodeJS.ProcessEnv;
}

/** Counters from the final statistics screen SIPp prints on exit. */
export interface SippStats {
  /** Cumulative "Successful call". */
  readonly successful: number;
  /** Cumulative "Failed call". */
  readonly failed: number;
  /** "Total-time" of the run in seconds, if printed. */
  readonly totalTimeSec: number | undefined;
  /** Sum of the "Retrans" column over the scenario's messages. */
  readonly retransmissions: number;
  /** Sum of the "Timeout" column over the scenario's messages. */
  readonly timeouts: number;
}

/** Outcome of a SIPp run. */
export interface SippResult extends ProcessResult {
  /** The full argument list SIPp ran with (defaults added). */
  readonly args: readonly string[];
  /**
   * Directory with SIPp's logs: `errors.log` (`-trace_err`), `messages.log` if traced.
   * Removed when the process exits if SIPp exited 0 (kept with `LINESCAPE_KEEP_PEER_DIRS=1`).
   */
  readonly logDir: string;
  /** Contents of `errors.log` ('' when SIPp reported nothing). */
  readonly errorLog: string;
  /** Final statistics, when SIPp got as far as printing them. */
  readonly stats: SippStats | undefined;
  /** One-paragraph description for assertion messages: code, errors, stderr, logDir. */
  readonly summary: string;
}

/** A SIPp process running in the background, from {@link startSipp}. */
export interface SippHandle {
  /** Its PID. */
  readonly pid: number | undefined;
  /** The full argument list (defaults added). */
  readonly args: readonly string[];
  /** Directory with its logs. */
  readonly logDir: string;
  /** Resolves when it exits on its own (e.g. after `-m` calls or `-timeout`). */
  wait(): Promise<SippResult>;
  /** Ends it (TERM, then KILL after 3 s) unless already exited; idempotent. */
  kill(): Promise<SippResult>;
}

/**
 * Parses the final statistics of SIPp's screen output (stdout, or a `-trace_screen` file).
 *
 * @param text - SIPp's stdout
 * @returns the counters, or `undefined` when no statistics screen is present
 */
export function parseSippStats(text: string): SippStats | undefined {
  const cumulative = (label: string): number | undefined => {
    const re = new RegExp(`^\\s*${label}\\s*\\|[^|]*\\|\\s*(\\d+)`, 'gm');
    let last: number | undefined;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) last = Number(m[1]);
    return last;
  };
  const successful = cumulative('Successful call');
  const failed = cumulative('Failed call');
  if (successful === undefined || failed === undefined) return undefined;

  let totalTimeSec: number | undefined;
  const lines = text.split('\n');
  for (let i = lines.length - 2; i >= 0; i--) {
    if ((lines[i] as string).includes('Total-time')) {
      const m = /(\d+(?:\.\d+)?) s(?:\s|$)/.exec(lines[i + 1] as string);
      if (m !== null) totalTimeSec = Number(m[1]);
      break;
    }
  }

  // message rows of the last scenario screen: "REGISTER ---------->  N  R  T ..." (UAC) or
  // "----------> REGISTER  N  R  T U" (UAS): Messages, Retrans, then Timeout where it applies
  let retransmissions = 0;
  let timeouts = 0;
  const screenStart = text.lastIndexOf('Scenario Screen');
  const screen = screenStart >= 0 ? text.slice(screenStart) : '';
  const screenEnd = screen.indexOf('Statistics Screen');
  const rows = (screenEnd >= 0 ? screen.slice(0, screenEnd) : screen).split('\n');
  for (const row of rows) {
    const m = /^\s*(?:\S+\s+(-{3,}>|<-{3,})|(-{3,}>|<-{3,})\s+\S+)\s+(\d+)\s+(\d+)(?:\s+(\d+))?/.exec(row);
    if (m === null) continue;
    retransmissions += Number(m[4]);
    if (m[5] !== undefined) timeouts += Number(m[5]);
  }
  return { successful, failed, totalTimeSec, retransmissions, timeouts };
}

/**
 * Adds the defaults every SIPp run here needs unless the caller already gave them:
 * `-i 127.0.0.1 -mi 127.0.0.1 -ci 127.0.0.1 -nostdin`, `-trace_err` into `logDir/errors.log`, and with
 * `traceMessages` `-trace_msg` into `logDir/messages.log`.
 *
 * @param args - caller's arguments
 * @param logDir - log directory
 * @param traceMessages - add `-trace_msg`
 * @returns the full argument list
 */
function sippArgs(args: readonly string[], logDir: string, traceMessages: boolean): string[] {
  const has = (flag: string): boolean => args.includes(flag);
  const out = [...args];
  if (!has('-i')) out.push('-i', '127.0.0.1');
  if (!has('-mi')) out.push('-mi', '127.0.0.1');
  // SIPp's UDP remote-control socket (port 8888 and up) binds 0.0.0.0 unless told otherwise
  if (!has('-ci')) out.push('-ci', '127.0.0.1');
  if (!has('-nostdin')) out.push('-nostdin');
  if (!has('-trace_err')) out.push('-trace_err', '-error_file', path.join(logDir, 'errors.log'));
  if (traceMessages && !has('-trace_msg')) {
    out.push('-trace_msg', '-message_file', path.join(logDir, 'messages.log'));
  }
  return out;
}

/**
 * Starts SIPp and returns handles on the process and its result.
 *
 * @param args - SIPp arguments
 * @param opts - see {@link SippOptions}
 * @returns the running process, its arguments and log directory
 */
function launchSipp(
  args: readonly string[],
  opts: SippOptions,
): { running: Running; fullArgs: string[]; logDir: string; result: Promise<SippResult> } {
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'linescape-sipp-'));
  const fullArgs = sippArgs(args, logDir, opts.traceMessages ?? false);
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const running = launch('sipp', fullArgs, {
    cwd: opts.cwd ?? logDir,
    env: peerEnv(opts.env),
    timeoutMs: timeoutMs > 0 ? timeoutMs : undefined,
  });
  const result = running.done.then((res): SippResult => {
    if (res.code === 0) {
      disposableDirs.add(logDir);
      installExitHook();
    }
    const errFile = path.join(logDir, 'errors.log');
    const errorLog = fs.existsSync(errFile) ? fs.readFileSync(errFile, 'utf8') : '';
    const summary =
      `sipp ${fullArgs.join(' ')}\n` +
      `exit ${res.code}${res.signal !== null ? ` (${res.signal})` : ''}` +
      `${res.timedOut ? ' (timed out)' : ''}; logs in ${logDir}\n` +
      (errorLog !== '' ? `--- errors.log (tail)\n${tail(errorLog, 15)}\n` : '') +
      (res.stderr.trim() !== '' ? `--- stderr (tail)\n${tail(res.stderr, 15)}\n` : '');
    return { ...res, args: fullArgs, logDir, errorLog, stats: parseSippStats(res.stdout), summary };
  });
  return { running, fullArgs, logDir, result };
}

/**
 * Runs SIPp to completion. Adds `-i 127.0.0.1 -mi 127.0.0.1 -ci 127.0.0.1 -nostdin` and
 * `-trace_err` unless given. SIPp's media sockets start at `-mp` (default 6000) and move up
 * past busy ports; pass `-mp` from `freePorts()` (ports.ts) when a test inspects media.
 * Pass absolute scenario paths ({@link sippScenario}, {@link peerFile}) or set `cwd`.
 * SIPp exits 0 only when every call succeeded.
 *
 * @param args - SIPp arguments, e.g. `['127.0.0.1:5090', '-sf', file, '-m', '1']`
 * @param opts - see {@link SippOptions}
 * @returns the result; `summary` is handy as an assertion message
 */
export function runSipp(args: readonly string[], opts: SippOptions = {}): Promise<SippResult> {
  return launchSipp(args, opts).result;
}

/**
 * Starts SIPp in the background (typically a UAS role). Same defaults as {@link runSipp}.
 * It does not wait for SIPp to bind its port; a UAC started right after is covered by its
 * own retransmissions, or wait briefly (SIPp binds within ~50 ms).
 *
 * @param args - SIPp arguments
 * @param opts - see {@link SippOptions}
 * @returns the handle; register `t.teardown(() => h.kill())`
 */
export function startSipp(args: readonly string[], opts: SippOptions = {}): SippHandle {
  const { running, fullArgs, logDir, result } = launchSipp(args, opts);
  return {
    pid: running.child.pid,
    args: fullArgs,
    logDir,
    wait: () => result,
    kill: () => running.terminate(3000).then(() => result),
  };
}

/**
 * Waits until something listens on UDP `127.0.0.1:port` (probing with `ss`), e.g. a SIPp
 * UAS started with {@link startSipp}. Falls back to a fixed delay when `ss` is missing.
 *
 * @param port - the UDP port
 * @param timeoutMs - give up after this long (default 5 s)
 * @returns true if it came up in time
 */
export async function waitForUdpPort(port: number, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const res = await run('ss', ['-Hlnu', `sport = :${port}`], { timeoutMs: 5000 });
    if (res.code !== 0) {
      await new Promise((r) => setTimeout(r, 300));
      return true;
    }
    if (res.stdout.trim() !== '') return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** Options of {@link startSippUas} and {@link runSippUac}: a one-call scenario. */
export interface OneCallSippOptions {
  /** More SIPp arguments. */
  extra?: readonly string[];
  /** SIPp's own `-timeout` (s; default 20); the run's limit is 10 s more. */
  timeoutSeconds?: number;
  /** Keep SIPp's message log (default true). */
  traceMessages?: boolean;
}

/** What a test needs of ava's context here: a teardown and an assertion. */
interface SippTestContext {
  teardown(fn: () => unknown): void;
  true(value: boolean, message?: string): unknown;
}

/** SIPp's arguments for one call of `scenario` with SIP on `sipPort` and RTP on `mediaPort`. */
function oneCallArgs(scenario: string, sipPort: number, mediaPort: number, o: OneCallSippOptions): string[] {
  return ['-sf', sippScenario(scenario), '-p', String(sipPort), '-mp', String(mediaPort), '-m', '1', '-timeout', `${o.timeoutSeconds ?? 20}s`, '-timeout_error', ...(o.extra ?? [])];
}

/**
 * Starts a SIPp UAS for one call of `scenario` on a free port, killed when the test ends, and
 * waits until it has bound its port.
 */
export async function startSippUas(t: SippTestContext, scenario: string, o: OneCallSippOptions = {}): Promise<{ sipp: SippHandle; port: number }> {
  const port = await freePort();
  const [mediaPort] = await freePorts(2, { even: true });
  const sipp = startSipp(oneCallArgs(scenario, port, mediaPort!, o), { timeoutMs: ((o.timeoutSeconds ?? 20) + 10) * 1000, traceMessages: o.traceMessages ?? true });
  t.teardown(() => sipp.kill());
  t.true(await waitForUdpPort(port), 'SIPp UAS bound its port');
  return { sipp, port };
}

/** Runs a SIPp UAC for one call of `scenario` to `service` at the engine on `enginePort`, to its end. */
export async function runSippUac(enginePort: number, scenario: string, service: string, o: OneCallSippOptions = {}): Promise<SippResult & { mediaPort: number }> {
  const [sipPort] = await freePorts(1);
  const [mediaPort] = await freePorts(2, { even: true });
  const args = [`127.0.0.1:${enginePort}`, '-s', service, ...oneCallArgs(scenario, sipPort!, mediaPort!, o)];
  const r = await runSipp(args, { timeoutMs: ((o.timeoutSeconds ?? 20) + 10) * 1000, traceMessages: o.traceMessages ?? true });
  return { ...r, mediaPort: mediaPort! };
}

/** A dnsmasq serving test records on a loopback port (see {@link startDnsmasq}). */
export interface DnsmasqHandle {
  /** Its UDP/TCP port on 127.0.0.1. */
  readonly port: number;
  /** `127.0.0.1:port`, for the engine's `dnsServers` start parameter. */
  readonly server: string;
  /** Stops it. */
  stop(): Promise<ProcessResult>;
}

/**
 * Starts dnsmasq as a tiny authoritative-only DNS server on a free loopback port, answering
 * only the given records (`--srv-host=…`, `--host-record=…`, `--naptr-record=…` options),
 * stopped when the test ends; waits until it answers `probeName` (an A record among them).
 */
export async function startDnsmasq(
  t: { teardown(fn: () => unknown): void },
  records: readonly string[],
  probeName: string,
): Promise<DnsmasqHandle> {
  const port = await freeUdpTcpPort();
  const args = ['--no-daemon', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--no-resolv', '--no-hosts', '--conf-file=/dev/null', '--pid-file', ...records];
  const running = launch(findBinary('dnsmasq') ?? 'dnsmasq', args, { timeoutMs: 10 * 60_000 });
  t.teardown(() => running.terminate(2000));
  const resolver = new dnsPromises.Resolver({ timeout: 300, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  for (let i = 0; i < 100; i++) {
    if (running.child.exitCode !== null) break;
    if ((await resolver.resolve4(probeName).catch(() => [])).length) {
      return { port, server: `127.0.0.1:${port}`, stop: () => running.terminate(2000) };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const r = await running.terminate(500);
  throw new Error(`dnsmasq did not answer on port ${port}: ${r.stderr}`);
}
