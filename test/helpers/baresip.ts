/**
 * A headless baresip softphone as a test peer, through the shared `peers/baresip` scripts
 * (`start.sh` / `stop.sh`): it answers or places one call on 127.0.0.1, plays a WAV as its
 * microphone and records what it receives to `RUNDIR/dump-*-dec.wav`.
 *
 * The handle keeps ONE ctrl_tcp connection open for its whole life (baresip 1.0.0 serves a
 * single control connection, and a new one replaces the old): commands go over it one at a
 * time, and every event baresip raises (`CALL_INCOMING`, `CALL_ESTABLISHED`, `CALL_CLOSED`, ...)
 * is recorded, so an event that arrives before anyone waits for it is not lost.
 *
 * `stop()` is idempotent and never throws, so it can go straight into `t.teardown`. A baresip
 * still running when the worker process exits is signalled by its PID from an exit hook.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { peerPath, peersDir } from './env.js';
import { freePorts } from './ports.js';

/** Keep baresip run directories after stop (`LINESCAPE_KEEP_PEER_DIRS=1`). */
const KEEP_DIRS = process.env.LINESCAPE_KEEP_PEER_DIRS === '1';

/** Folder of the shared baresip scripts. */
const BARESIP_DIR = path.join(peersDir, 'baresip');

/** PIDs of baresip processes started here and not yet stopped, signalled on exit. */
const livePids = new Set<number>();

/** Whether the exit hook is installed. */
let exitHookInstalled = false;

/**
 * Remembers a baresip PID so it is sent SIGTERM if this process exits while it still runs.
 *
 * @param pid - the baresip PID
 */
function track(pid: number): void {
  livePids.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const p of livePids) {
      try {
        process.kill(p, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  });
}

/**
 * Whether a process exists.
 *
 * @param pid - its PID
 * @returns true when it can be signalled
 */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Options of {@link startBaresip}. */
export interface BaresipOptions {
  /**
   * SIP port on 127.0.0.1 (UDP+TCP; baresip also binds SIP/TLS on TCP `port + 1`). Default: a
   * free block from {@link freePorts}, retried on another block if baresip cannot start.
   */
  readonly port?: number;
  /** ctrl_tcp port on 127.0.0.1. Default: `port + 2` when `port` is not given, else `port + 10000`. */
  readonly ctrlPort?: number;
  /** Account user (`USER_NAME`); callers must dial exactly this user. Default `a`. */
  readonly user?: string;
  /**
   * Microphone source: any WAV sox reads, looped to `micSeconds`. Default the shared
   * `peers/audio/tone1k.wav`.
   */
  readonly micWav?: string;
  /** Length of the looped microphone file in s (`MIC_SECONDS`); the call ends when it ends. Default 60. */
  readonly micSeconds?: number;
  /**
   * Codecs baresip offers and accepts (`CODECS`), e.g. `['PCMU']`, `'PCMA'` or
   * `['opus/48000/2']`. Default `PCMU,PCMA,opus/48000/2`.
   */
  readonly codecs?: string | readonly string[];
  /** `ANSWERMODE`: `auto` answers incoming calls at once (default), `manual` waits for `accept`. */
  readonly answerMode?: 'auto' | 'manual' | 'early';
  /** RTP port range (`RTP_PORTS`), e.g. `'10000-20000'` (the default). */
  readonly rtpPorts?: string;
  /** Media encryption (`MEDIAENC`): `srtp` best effort (RTP/AVP with a=crypto), `srtp-mand` RTP/SAVP only. Default plain RTP. */
  readonly mediaEnc?: 'srtp' | 'srtp-mand';
  /** Keep the run directory after `stop()` (also `LINESCAPE_KEEP_PEER_DIRS=1`). */
  readonly keepRundir?: boolean;
}

/** An event baresip sent on the control connection, e.g. `{ type: 'CALL_CLOSED', param: 'Connection reset by user' }`. */
export interface BaresipEvent {
  /** Always true for events. */
  readonly event: true;
  /** Event type: `CALL_INCOMING`, `CALL_RINGING`, `CALL_ESTABLISHED`, `CALL_CLOSED`, `CALL_RTCP`, ... */
  readonly type: string;
  /** Event class, e.g. `call`. */
  readonly class?: string;
  /** The account, e.g. `sip:a@127.0.0.1:5071`. */
  readonly accountaor?: string;
  /** `incoming` or `outgoing`. */
  readonly direction?: string;
  /** The other party's URI. */
  readonly peeruri?: string;
  /** baresip's call id. */
  readonly id?: string;
  /** Extra text, e.g. the reason of `CALL_CLOSED`. */
  readonly param?: string;
  /** Anything else baresip added. */
  readonly [key: string]: unknown;
}

/** baresip's answer to a command. */
export interface BaresipResponse {
  /** Always true for responses. */
  readonly response: true;
  /** Whether the command was accepted. */
  readonly ok: boolean;
  /** The command's text output. */
  readonly data?: string;
  /** The token sent with the command. */
  readonly token?: string;
}

/** Result of {@link BaresipHandle.command}. */
export interface BaresipCommandResult {
  /** The response. */
  readonly response: BaresipResponse;
  /** The awaited event, when `waitEvent` was given. */
  readonly event?: BaresipEvent;
}

/** A decoded 16-bit PCM WAV file. */
export interface WavAudio {
  /** Sample rate in Hz. */
  readonly sampleRate: number;
  /** Channel count. */
  readonly channels: number;
  /** One array of samples per channel (de-interleaved). */
  readonly samples: readonly Int16Array[];
  /** Whether the RIFF and data sizes in the header agree with the file (the writer closed it). */
  readonly complete: boolean;
}

/** A running baresip started by {@link startBaresip}. */
export interface BaresipHandle {
  /** Its SIP port on 127.0.0.1. */
  readonly port: number;
  /** Its ctrl_tcp port on 127.0.0.1. */
  readonly ctrlPort: number;
  /** Its run directory (config, log, pid, mic.wav, dump-*.wav). */
  readonly rundir: string;
  /** Its account user. */
  readonly user: string;
  /** Its own SIP URI, `sip:<user>@127.0.0.1:<port>`: what to dial to reach it. */
  readonly uri: string;
  /** PID of the baresip process. */
  readonly pid: number;
  /** Every event received so far, in order. */
  readonly events: readonly BaresipEvent[];
  /**
   * Sends one ctrl_tcp command and resolves with baresip's response; with `waitEvent`, also
   * waits for the first event of that type that arrives after the command was sent.
   * Commands are queued, one at a time on the single control connection.
   *
   * @param cmd - `dial`, `hangup`, `accept`, `callstat`, `listcalls`, `quit`, `help`, ...
   * @param params - the command's argument text
   * @param waitEvent - event type to wait for, e.g. `CALL_ESTABLISHED`
   * @param timeoutS - limit for the response and the event, in s (default 10)
   * @throws Error when the response is not ok, or on time-out (with the events seen)
   */
  command(cmd: string, params?: string, waitEvent?: string, timeoutS?: number): Promise<BaresipCommandResult>;
  /**
   * Resolves with the first event of `type` (already received or future) that `match` accepts.
   *
   * @param type - event type
   * @param timeoutS - limit in s (default 10)
   * @param match - extra filter
   * @throws Error on time-out, listing the events seen
   */
  waitEvent(type: string, timeoutS?: number, match?: (e: BaresipEvent) => boolean): Promise<BaresipEvent>;
  /**
   * Dials a SIP URI and waits until the call is established.
   *
   * @param uri - e.g. `sip:alice@127.0.0.1:5060` (the user must be one the far end knows)
   * @param timeoutS - limit in s (default 10)
   * @returns the `CALL_ESTABLISHED` event
   * @throws Error when baresip refuses the command or the call closes or times out first
   */
  dial(uri: string, timeoutS?: number): Promise<BaresipEvent>;
  /**
   * Hangs up the current call and waits for its `CALL_CLOSED`.
   *
   * @param timeoutS - limit in s (default 10)
   * @returns the `CALL_CLOSED` event
   */
  hangup(timeoutS?: number): Promise<BaresipEvent>;
  /**
   * Paths of the received-audio recordings (`dump-*-dec.wav`), oldest first. A recording's
   * header is finished only when its call has ended, so this first waits (up to `timeoutMs`)
   * until every recording is complete; incomplete ones are left out.
   *
   * @param timeoutMs - how long to wait for unfinished recordings (default 5000)
   */
  recordings(timeoutMs?: number): Promise<string[]>;
  /** Its log so far (also available after `stop()`). */
  log(): string;
  /** Stops it (`stop.sh`: TERM, KILL after 3 s), closes the control connection and removes the run directory; idempotent, never throws. */
  stop(): Promise<void>;
}

/**
 * Runs a command to completion with captured output and a time limit.
 *
 * @param cmd - executable
 * @param args - arguments
 * @param env - extra environment
 * @param timeoutMs - limit (SIGTERM)
 * @returns exit code (-1 on a signal or spawn failure) and output
 */
function run(
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd: BARESIP_DIR, env: { ...process.env, PATH: peerPath, ...env }, timeout: timeoutMs, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr: err !== null && code === -1 ? `${stderr}\n${err.message}` : stderr });
      },
    );
  });
}

/**
 * Reads a file, or returns '' when it cannot be read.
 *
 * @param file - path
 * @returns its text
 */
function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Parses a 16-bit PCM WAV file. Tolerates a header that was never finished (a recording whose
 * call is still up): the data then runs to the end of the file and `complete` is false.
 *
 * @param file - path of the WAV
 * @returns rate, channels, de-interleaved samples, completeness
 * @throws Error when it is not a RIFF/WAVE file of 16-bit PCM
 */
export function readWav(file: string): WavAudio {
  const b = fs.readFileSync(file);
  if (b.length < 12 || b.toString('ascii', 0, 4) !== 'RIFF' || b.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error(`${file}: not a RIFF/WAVE file`);
  }
  let off = 12;
  let sampleRate = 0;
  let channels = 0;
  let bits = 0;
  let data: Buffer | undefined;
  let complete = b.readUInt32LE(4) === b.length - 8;
  while (off + 8 <= b.length) {
    const id = b.toString('ascii', off, off + 4);
    const size = b.readUInt32LE(off + 4);
    if (id === 'fmt ') {
      channels = b.readUInt16LE(off + 10);
      sampleRate = b.readUInt32LE(off + 12);
      bits = b.readUInt16LE(off + 22);
    } else if (id === 'data') {
      const end = off + 8 + size;
      if (size === 0 || end > b.length) complete = false;
      data = b.subarray(off + 8, size === 0 || end > b.length ? b.length : end);
      break;
    }
    off += 8 + size + (size & 1);
  }
  if (data === undefined || bits !== 16 || channels < 1 || sampleRate < 1) {
    throw new Error(`${file}: need 16-bit PCM with a data chunk (bits=${bits} channels=${channels})`);
  }
  const frames = Math.floor(data.length / (2 * channels));
  const samples = Array.from({ length: channels }, () => new Int16Array(frames));
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channels; c++) samples[c]![i] = data.readInt16LE(2 * (i * channels + c));
  }
  return { sampleRate, channels, samples, complete };
}

/**
 * The single ctrl_tcp connection of one baresip: netstring-framed JSON
 * (`LEN:{"command":..,"params":..,"token":..},`), one command at a time, every event kept.
 */
class CtrlConnection {
  /** Events received, in order. */
  readonly events: BaresipEvent[] = [];
  /** Callbacks run on every event and on close. */
  private readonly listeners = new Set<() => void>();
  /** Pending responses by token. */
  private readonly pending = new Map<string, (r: BaresipResponse | Error) => void>();
  /** Unparsed input. */
  private buf = Buffer.alloc(0);
  /** Tail of the command queue. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Token counter. */
  private seq = 0;
  /** Set once the socket closed. */
  closed: Error | undefined;

  /**
   * @param sock - a connected socket
   */
  private constructor(private readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => this.onData(d));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      this.closed ??= new Error('baresip control connection closed');
      for (const cb of this.pending.values()) cb(this.closed);
      this.pending.clear();
      for (const l of [...this.listeners]) l();
    });
  }

  /**
   * Connects to a ctrl_tcp port on 127.0.0.1.
   *
   * @param port - the port
   * @param timeoutMs - connect limit
   * @returns the connection
   */
  static connect(port: number, timeoutMs = 5000): Promise<CtrlConnection> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ port, host: '127.0.0.1' });
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`baresip ctrl_tcp 127.0.0.1:${port}: connect timed out`));
      }, timeoutMs);
      sock.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`baresip ctrl_tcp 127.0.0.1:${port}: ${err.message}`));
      });
      sock.once('connect', () => {
        clearTimeout(timer);
        sock.removeAllListeners('error');
        resolve(new CtrlConnection(sock));
      });
    });
  }

  /**
   * Splits netstrings off the input and dispatches them.
   *
   * @param d - new bytes
   */
  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      const colon = this.buf.indexOf(0x3a);
      if (colon < 0) return;
      const len = Number(this.buf.subarray(0, colon).toString('ascii'));
      if (!Number.isInteger(len) || len < 0) {
        this.closed = new Error(`baresip ctrl_tcp: bad netstring length ${this.buf.subarray(0, colon).toString('latin1')}`);
        this.sock.destroy();
        return;
      }
      if (this.buf.length < colon + 1 + len + 1) return;
      const text = this.buf.subarray(colon + 1, colon + 1 + len).toString('utf8');
      this.buf = this.buf.subarray(colon + 1 + len + 1);
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(text) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (msg.response === true) {
        const token = typeof msg.token === 'string' ? msg.token : '';
        const cb = this.pending.get(token);
        this.pending.delete(token);
        cb?.(msg as unknown as BaresipResponse);
      } else if (msg.event === true) {
        this.events.push(msg as unknown as BaresipEvent);
        for (const l of [...this.listeners]) l();
      }
    }
  }

  /**
   * Waits for the first event of `type` at index `from` or later that `match` accepts.
   *
   * @param type - event type
   * @param from - first index of {@link events} to consider
   * @param timeoutMs - limit
   * @param match - extra filter
   * @returns the event
   */
  waitEvent(type: string, from: number, timeoutMs: number, match: (e: BaresipEvent) => boolean = () => true): Promise<BaresipEvent> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = this.events.slice(from).find((e) => e.type === type && match(e));
        if (hit !== undefined) {
          done();
          resolve(hit);
        } else if (this.closed !== undefined) {
          done();
          reject(new Error(`waiting for baresip ${type}: ${this.closed.message}; saw: ${this.describe()}`));
        }
      };
      const done = (): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for baresip ${type}; saw: ${this.describe()}`));
      }, timeoutMs);
      this.listeners.add(check);
      check();
    });
  }

  /**
   * The events so far, short, for error messages.
   *
   * @returns e.g. `CALL_RINGING, CALL_CLOSED(Connection reset by user)`
   */
  describe(): string {
    return this.events.map((e) => (e.param ? `${e.type}(${e.param})` : e.type)).join(', ') || '(no events)';
  }

  /**
   * Queues one command (see {@link BaresipHandle.command}).
   *
   * @param cmd - command
   * @param params - its argument text
   * @param waitEvent - event type to wait for after sending
   * @param timeoutMs - limit for the response and the event
   * @returns response and event
   */
  command(cmd: string, params: string, waitEvent: string | undefined, timeoutMs: number): Promise<BaresipCommandResult> {
    const next = this.queue.then(() => this.send(cmd, params, waitEvent, timeoutMs));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Sends one command now and waits for its response (and event).
   *
   * @param cmd - command
   * @param params - its argument text
   * @param waitEvent - event type to wait for after sending
   * @param timeoutMs - limit for the response and the event
   * @returns response and event
   */
  private async send(cmd: string, params: string, waitEvent: string | undefined, timeoutMs: number): Promise<BaresipCommandResult> {
    if (this.closed !== undefined) throw this.closed;
    const token = `ls${++this.seq}`;
    const from = this.events.length;
    const eventP = waitEvent === undefined ? undefined : this.waitEvent(waitEvent, from, timeoutMs);
    eventP?.catch(() => undefined);
    const responseP = new Promise<BaresipResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(token);
        reject(new Error(`baresip ${cmd} ${params}: no response in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(token, (r) => {
        clearTimeout(timer);
        if (r instanceof Error) reject(r);
        else resolve(r);
      });
    });
    const body = Buffer.from(JSON.stringify({ command: cmd, params, token }), 'utf8');
    this.sock.write(Buffer.concat([Buffer.from(`${body.length}:`, 'ascii'), body, Buffer.from(',', 'ascii')]));
    const response = await responseP;
    if (!response.ok) throw new Error(`baresip ${cmd} ${params}: refused: ${response.data ?? ''}`);
    if (eventP === undefined) return { response };
    return { response, event: await eventP };
  }

  /** Closes the connection. */
  close(): void {
    this.closed ??= new Error('baresip control connection closed by the test');
    this.sock.destroy();
  }
}

/**
 * Normalises the `codecs` option to the `CODECS` env value.
 *
 * @param codecs - list or comma-separated text
 * @returns e.g. `PCMU,PCMA`
 */
function codecList(codecs: string | readonly string[] | undefined): string | undefined {
  if (codecs === undefined) return undefined;
  return typeof codecs === 'string' ? codecs : codecs.join(',');
}

/**
 * Starts a headless baresip (shared `peers/baresip/start.sh`) on 127.0.0.1 with a fresh run
 * directory in the OS temp dir, waits for its control port and connects to it (about 1 s).
 * When no port is given and baresip does not come up (port taken meanwhile), it retries on
 * another free block.
 *
 * @param opts - see {@link BaresipOptions}
 * @returns the handle; register `t.teardown(() => b.stop())`
 * @throws Error with the start script's output and the log tail when it does not come up
 */
export async function startBaresip(opts: BaresipOptions = {}): Promise<BaresipHandle> {
  const user = opts.user ?? 'a';
  const attempts = opts.port === undefined ? 3 : 1;
  let lastError = '';
  for (let attempt = 0; attempt < attempts; attempt++) {
    let port: number;
    let ctrlPort: number;
    if (opts.port !== undefined) {
      port = opts.port;
      ctrlPort = opts.ctrlPort ?? port + 10000;
    } else {
      // block [p, p+3]: SIP, SIP/TLS (p+1), ctrl_tcp (p+2), spare
      const [sip, ctrl] = await freePorts(2, { spacing: 2 });
      port = sip as number;
      ctrlPort = opts.ctrlPort ?? (ctrl as number);
    }
    const rundir = fs.mkdtempSync(path.join(os.tmpdir(), 'linescape-baresip-'));
    const env: NodeJS.ProcessEnv = { USER_NAME: user };
    const codecs = codecList(opts.codecs);
    if (codecs !== undefined) env.CODECS = codecs;
    if (opts.answerMode !== undefined) env.ANSWERMODE = opts.answerMode;
    if (opts.micSeconds !== undefined) env.MIC_SECONDS = String(opts.micSeconds);
    if (opts.rtpPorts !== undefined) env.RTP_PORTS = opts.rtpPorts;
    if (opts.mediaEnc !== undefined) env.MEDIAENC = opts.mediaEnc;
    const args = [path.join(BARESIP_DIR, 'start.sh'), String(port), rundir];
    args.push(opts.micWav ?? path.join(peersDir, 'audio', 'tone1k.wav'), String(ctrlPort));
    const res = await run('bash', args, env, 30_000);
    const pid = Number.parseInt(readText(path.join(rundir, 'baresip.pid')).trim(), 10);
    if (Number.isInteger(pid) && pid > 0) track(pid);
    let ctrl: CtrlConnection | undefined;
    if (res.code === 0) {
      try {
        ctrl = await CtrlConnection.connect(ctrlPort);
      } catch (err) {
        res.stderr += `\n${(err as Error).message}`;
      }
    }
    // start.sh polls the port with bash /dev/tcp; make sure baresip itself is alive
    if (ctrl !== undefined && Number.isInteger(pid) && pid > 0 && pidAlive(pid)) {
      return baresipHandle({ port, ctrlPort, rundir, user, pid, ctrl, keep: opts.keepRundir ?? KEEP_DIRS });
    }
    lastError =
      `start.sh ${port} exited ${res.code}\n${res.stdout}${res.stderr}\n` +
      `--- baresip.log (tail)\n${readText(path.join(rundir, 'baresip.log')).trimEnd().split('\n').slice(-30).join('\n')}`;
    ctrl?.close();
    await run('bash', [path.join(BARESIP_DIR, 'stop.sh'), rundir], {}, 15_000);
    if (Number.isInteger(pid)) livePids.delete(pid);
    fs.rmSync(rundir, { recursive: true, force: true });
  }
  throw new Error(`baresip did not start: ${lastError}`);
}

/**
 * Builds the handle of a started baresip.
 *
 * @param s - its ports, run directory, user, PID, control connection and whether to keep the run directory
 * @returns the handle
 */
function baresipHandle(s: {
  port: number;
  ctrlPort: number;
  rundir: string;
  user: string;
  pid: number;
  ctrl: CtrlConnection;
  keep: boolean;
}): BaresipHandle {
  const { port, ctrlPort, rundir, user, pid, ctrl, keep } = s;
  const logFile = path.join(rundir, 'baresip.log');
  let finalLog: string | undefined;
  let stopping: Promise<void> | undefined;
  const log = (): string => finalLog ?? readText(logFile);
  const dumps = (): string[] => {
    try {
      return fs
        .readdirSync(rundir)
        .filter((f) => /^dump-.*-dec\.wav$/.test(f))
        .sort()
        .map((f) => path.join(rundir, f));
    } catch {
      return [];
    }
  };
  const isComplete = (file: string): boolean => {
    try {
      return readWav(file).complete;
    } catch {
      return false;
    }
  };
  const handle: BaresipHandle = {
    port,
    ctrlPort,
    rundir,
    user,
    uri: `sip:${user}@127.0.0.1:${port}`,
    pid,
    events: ctrl.events,
    command: (cmd, params = '', waitEvent, timeoutS = 10) => ctrl.command(cmd, params, waitEvent, timeoutS * 1000),
    waitEvent: (type, timeoutS = 10, match) => ctrl.waitEvent(type, 0, timeoutS * 1000, match),
    async dial(uri: string, timeoutS = 10): Promise<BaresipEvent> {
      const from = ctrl.events.length;
      await ctrl.command('dial', uri, undefined, timeoutS * 1000);
      const established = ctrl.waitEvent('CALL_ESTABLISHED', from, timeoutS * 1000);
      const closed = ctrl.waitEvent('CALL_CLOSED', from, timeoutS * 1000);
      established.catch(() => undefined);
      closed.catch(() => undefined);
      return Promise.race([
        established,
        closed.then(
          (c) => Promise.reject(new Error(`baresip dial ${uri}: call closed: ${c.param ?? ''}; saw: ${ctrl.describe()}`)),
          () => established,
        ),
      ]);
    },
    async hangup(timeoutS = 10): Promise<BaresipEvent> {
      const { event } = await ctrl.command('hangup', '', 'CALL_CLOSED', timeoutS * 1000);
      return event!;
    },
    async recordings(timeoutMs = 5000): Promise<string[]> {
      const deadline = Date.now() + timeoutMs;
      while (dumps().some((f) => !isComplete(f)) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      return dumps().filter(isComplete);
    },
    log,
    stop(): Promise<void> {
      stopping ??= (async () => {
        ctrl.close();
        await run('bash', [path.join(BARESIP_DIR, 'stop.sh'), rundir], {}, 20_000);
        livePids.delete(pid);
        finalLog = readText(logFile);
        if (!keep) fs.rmSync(rundir, { recursive: true, force: true });
      })().catch(() => undefined);
      return stopping;
    },
  };
  return handle;
}
