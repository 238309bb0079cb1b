/**
 * Handles on the engine processes of the scale-out example (`engine.ts` run as child
 * processes) and the dispatcher list that points Kamailio at them. Used by the scale-out test
 * and `npm run bench:dispatcher`; an operator's own supervisor (systemd, a container
 * orchestrator) does the same job in production.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The compiled engine runner beside this module. */
const RUNNER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'engine.js');

/** Options of {@link EngineProcess.start}; see `engine.ts` for what each does. */
export interface EngineProcessOptions {
  /** The engine's name (registered for its lines without an agent). */
  readonly name: string;
  /** SIP port on 127.0.0.1. */
  readonly port: number;
  /** Kamailio's port on 127.0.0.1. */
  readonly proxyPort: number;
  /** Phone lines. */
  readonly lines: number;
  /** RTP port range, `[min, max]`. */
  readonly rtp: readonly [number, number];
  /** Per-line agent names, e.g. `{ 2: 'agent42' }`. */
  readonly agents?: Readonly<Record<number, string>>;
  /** Registration expiry in seconds (default 60). */
  readonly expires?: number;
  /** Tone played on answered calls in Hz; 0 = none (default 440). */
  readonly toneHz?: number;
  /** Longest drain on SIGTERM, in seconds (default 30). */
  readonly drainSeconds?: number;
}

/** One report line of an engine process. */
export interface EngineReport {
  /** What happened: `ready`, `registered`, `answered`, `ended`, `callResult`, `draining`, `stopped`, `error`. */
  readonly ev: string;
  /** The event's fields. */
  readonly [field: string]: unknown;
}

/** An engine runner child process and what it has reported. */
export class EngineProcess {
  /** Every report so far, in order. */
  readonly reports: EngineReport[] = [];
  /** Calls it answered (its own count). */
  answered = 0;
  /** Calls that ended on it. */
  ended = 0;
  /** Resolves when the process has exited. */
  readonly exited: Promise<number | null>;
  private readonly waiters = new Set<{ match: (r: EngineReport) => boolean; resolve: (r: EngineReport) => void }>();
  private stderr = '';

  private constructor(
    /** The options it was started with (to restart it alike). */
    readonly options: EngineProcessOptions,
    private readonly child: ChildProcess,
  ) {
    // 'close': the process has exited and its stdout is read to the end, so every report is in
    this.exited = new Promise((resolve) => child.once('close', (code) => resolve(code)));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (this.stderr = (this.stderr + d).slice(-4000)));
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      let r: EngineReport;
      try {
        r = JSON.parse(line) as EngineReport;
      } catch {
        return;
      }
      this.reports.push(r);
      if (r.ev === 'answered') this.answered++;
      if (r.ev === 'ended') this.ended++;
      for (const w of this.waiters) {
        if (w.match(r)) {
          this.waiters.delete(w);
          w.resolve(r);
        }
      }
    });
  }

  /** Its PID. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Whether it still runs. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Calls up on it now, by its own reports. */
  get active(): number {
    return this.answered - this.ended;
  }

  /** The tail of what it wrote to stderr (for failure messages). */
  get stderrTail(): string {
    return this.stderr;
  }

  /**
   * Starts an engine process and waits for its `ready` report (it has bound its port and sent
   * its registrations).
   *
   * @param o - see {@link EngineProcessOptions}
   * @param timeoutMs - longest wait for `ready`
   * @returns the handle
   * @throws Error when it exits or reports an error first
   */
  static async start(o: EngineProcessOptions, timeoutMs = 20_000): Promise<EngineProcess> {
    const agents = Object.entries(o.agents ?? {}).map(([line, name]) => `${line}=${name}`).join(',');
    const args = [RUNNER, '--name', o.name, '--port', String(o.port), '--proxy', `127.0.0.1:${o.proxyPort}`,
      '--lines', String(o.lines), '--rtp', `${o.rtp[0]}-${o.rtp[1]}`, '--expires', String(o.expires ?? 60),
      '--tone', String(o.toneHz ?? 440), '--drain-seconds', String(o.drainSeconds ?? 30)];
    if (agents !== '') args.push('--agents', agents);
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const e = new EngineProcess(o, child);
    const ready = e.waitFor((r) => r.ev === 'ready' || r.ev === 'error', timeoutMs);
    const first = await Promise.race([ready, e.exited.then((code) => ({ ev: 'exit', code }))]);
    if (first.ev !== 'ready') {
      e.child.kill('SIGKILL');
      throw new Error(`engine ${o.name} did not start: ${JSON.stringify(first)}\n${e.stderr}`);
    }
    return e;
  }

  /**
   * Resolves with the next report that matches (or one already received when `past` is set).
   *
   * @param match - the test
   * @param timeoutMs - rejects after this long
   * @param past - also look at reports already received
   * @returns the report
   */
  waitFor(match: (r: EngineReport) => boolean, timeoutMs = 20_000, past = false): Promise<EngineReport> {
    if (past) {
      const seen = this.reports.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
    }
    return new Promise((resolve, reject) => {
      const w = {
        match,
        resolve: (r: EngineReport) => {
          clearTimeout(timer);
          resolve(r);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`engine ${this.options.name}: no matching report in ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  /**
   * Sends a command line (see `engine.ts`), e.g. `{ cmd: 'call', uri: 'sip:agent42@127.0.0.1:5060' }`.
   *
   * @param cmd - the command object
   */
  command(cmd: Record<string, unknown>): void {
    this.child.stdin?.write(`${JSON.stringify(cmd)}\n`);
  }

  /**
   * Sends a signal and waits for the exit: `SIGKILL` is an engine that dies, `SIGTERM` one
   * that drains (refuses new calls with 503, lets the calls in progress end, stops).
   *
   * @param signal - the signal
   * @returns the exit code (null when ended by the signal)
   */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (this.running) this.child.kill(signal);
    return this.exited;
  }
}

/**
 * Writes Kamailio's dispatcher list: set 1 = the engines, set 2 = trunks (the engines'
 * outbound calls to names nobody registered).
 *
 * @param file - where
 * @param enginePorts - the engines' SIP ports on 127.0.0.1
 * @param trunkPorts - trunk ports on 127.0.0.1 (may be empty)
 */
export function writeDispatcherList(file: string, enginePorts: readonly number[], trunkPorts: readonly number[] = []): void {
  const lines = [
    '# setid destination flags priority attrs',
    // flag 8: probed with OPTIONS (ds_probing_mode 3 probes only these)
    ...enginePorts.map((p, i) => `1 sip:127.0.0.1:${p} 8 0 engine=${i + 1}`),
    ...trunkPorts.map((p) => `2 sip:127.0.0.1:${p} 0 0 trunk=1`),
  ];
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
}
