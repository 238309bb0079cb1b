/**
 * Free port allocation for tests and benchmarks that never collides across parallel ava
 * worker processes.
 *
 * A candidate port is handed out only when
 * 1. this process has not handed it out before,
 * 2. no other live process holds a reservation for it: reservations are files created
 *    exclusively (`O_EXCL`) in `<tmpdir>/linescape-ports/`, holding the owner's PID; files of
 *    dead processes are reclaimed, and a process removes its own files when it exits, and
 * 3. the OS confirms it is free: it binds UDP and TCP on 127.0.0.1 at that port, then
 *    releases both.
 *
 * Candidates are drawn at random from 21000–32767, below Linux's ephemeral range
 * (`ip_local_port_range`, 32768–60999 by default), so a socket that some other process binds
 * to "port 0" or a client connection cannot take a port between the check and the peer's own
 * bind. If the ephemeral range starts too low for that, candidates come from the OS (bind to
 * port 0) instead.
 *
 * @module
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Host every port is checked on; tests use loopback only. */
const HOST = '127.0.0.1';

/** Directory of cross-process reservation files. */
const RESERVATION_DIR = path.join(os.tmpdir(), 'linescape-ports');

/** Reservations older than this are stale even if their PID is alive (PID reuse). */
const STALE_MS = 6 * 60 * 60 * 1000;

/** Lowest candidate port of the random range. */
const RANGE_LOW = 21000;

/** Ports handed out (reserved) by this process. */
const handedOut = new Set<number>();

/** Whether the exit hook that removes this process's reservation files is installed. */
let exitHookInstalled = false;

/**
 * Upper bound (exclusive) of the random candidate range: the start of the OS's ephemeral
 * range, at most 32768. `undefined` when that leaves too few ports (then the OS picks).
 *
 * @returns the bound, or `undefined`
 */
function rangeHigh(): number | undefined {
  let low = 32768;
  try {
    const text = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
    const first = Number.parseInt(text.trim().split(/\s+/)[0] ?? '', 10);
    if (Number.isInteger(first)) low = Math.min(first, 32768);
  } catch {
    // not Linux: keep the default
  }
  return low - RANGE_LOW >= 1000 ? low : undefined;
}

/** Cached {@link rangeHigh}. */
const HIGH = rangeHigh();

/**
 * Removes this process's reservation files; runs on process exit.
 */
function removeOwnReservations(): void {
  for (const port of handedOut) {
    try {
      const file = path.join(RESERVATION_DIR, String(port));
      if (fs.readFileSync(file, 'utf8').trim() === String(process.pid)) fs.unlinkSync(file);
    } catch {
      // already gone
    }
  }
}

/**
 * Whether a process with this PID exists.
 *
 * @param pid - process id
 * @returns true if it is alive (or exists but belongs to another user)
 */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the cross-process reservation of one port.
 *
 * @param port - the port
 * @returns true when this process now holds it
 */
function reserve(port: number): boolean {
  if (handedOut.has(port)) return false;
  fs.mkdirSync(RESERVATION_DIR, { recursive: true });
  if (!exitHookInstalled) {
    process.once('exit', removeOwnReservations);
    exitHookInstalled = true;
  }
  const file = path.join(RESERVATION_DIR, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      handedOut.add(port);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    // held: reclaim it only if its owner is gone or it is very old
    try {
      const owner = Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10);
      const age = Date.now() - fs.statSync(file).mtimeMs;
      if (Number.isInteger(owner) && pidAlive(owner) && age < STALE_MS) return false;
      fs.unlinkSync(file);
    } catch {
      // raced with its owner or another reclaimer: try once more
    }
  }
  return false;
}

/**
 * Gives back reservations taken during a failed attempt.
 *
 * @param ports - ports this process reserved
 */
function unreserve(ports: readonly number[]): void {
  for (const port of ports) {
    handedOut.delete(port);
    try {
      fs.unlinkSync(path.join(RESERVATION_DIR, String(port)));
    } catch {
      // already gone
    }
  }
}

/**
 * Whether UDP `127.0.0.1:port` can be bound exclusively right now.
 *
 * @param port - the port
 * @returns true if the bind succeeded (the socket is closed again)
 */
export function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket({ type: 'udp4', reuseAddr: false });
    sock.once('error', () => {
      sock.close();
      resolve(false);
    });
    sock.bind({ port, address: HOST, exclusive: true }, () => {
      sock.close(() => resolve(true));
    });
  });
}

/**
 * Whether TCP `127.0.0.1:port` can be listened on right now.
 *
 * @param port - the port
 * @returns true if listening succeeded (the server is closed again)
 */
function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host: HOST, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

/**
 * Asks the OS for a port: binds UDP to port 0 on 127.0.0.1 and returns what it got.
 *
 * @returns an ephemeral port that was free a moment ago
 */
function osPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    sock.once('error', reject);
    sock.bind({ port: 0, address: HOST, exclusive: true }, () => {
      const { port } = sock.address();
      sock.close(() => resolve(port));
    });
  });
}

/**
 * Picks a candidate base port.
 *
 * @param blockSize - ports the block will span
 * @returns a candidate in the random range, or from the OS when the range is unusable
 */
async function candidate(blockSize: number): Promise<number> {
  if (HIGH !== undefined && HIGH - RANGE_LOW > blockSize) {
    return RANGE_LOW + Math.floor(Math.random() * (HIGH - RANGE_LOW - blockSize));
  }
  return osPort();
}

/** Options of {@link freePorts}. */
export interface FreePortsOptions {
  /** Every returned port is even (RTP). Needs an even `spacing`. Default false. */
  readonly even?: boolean;
  /**
   * Distance between consecutive returned ports. Default 2 when `even`, else 1. All ports of
   * the block `[first, first + n * spacing)` are checked free and reserved, including those
   * between the returned ones (RTCP on RTP+1, baresip's SIP/TLS on PORT+1).
   */
  readonly spacing?: number;
}

/**
 * Allocates `n` ports `first, first + spacing, ...` free on both UDP and TCP on 127.0.0.1,
 * never handed out before by this process nor reserved by another live process.
 *
 * @param n - how many ports (at least 1)
 * @param options - see {@link FreePortsOptions}
 * @returns the ports in ascending order
 * @throws RangeError on bad arguments; Error when no free block is found after many attempts
 */
export async function freePorts(n: number, options: FreePortsOptions = {}): Promise<number[]> {
  const even = options.even ?? false;
  const spacing = options.spacing ?? (even ? 2 : 1);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`freePorts: bad count ${n}`);
  if (!Number.isInteger(spacing) || spacing < 1) {
    throw new RangeError(`freePorts: bad spacing ${spacing}`);
  }
  if (even && spacing % 2 !== 0) {
    throw new RangeError('freePorts: even ports need an even spacing');
  }
  const blockSize = n * spacing;
  for (let attempt = 0; attempt < 200; attempt++) {
    let base = await candidate(blockSize);
    if (even && base % 2 !== 0) base += 1;
    if (base < 1024 || base + blockSize - 1 > 65535) continue;
    const block = Array.from({ length: blockSize }, (_, i) => base + i);
    const taken: number[] = [];
    let ok = true;
    for (const port of block) {
      if (!reserve(port)) {
        ok = false;
        break;
      }
      taken.push(port);
    }
    if (ok) {
      for (const port of block) {
        if (!(await udpFree(port)) || !(await tcpFree(port))) {
          ok = false;
          break;
        }
      }
    }
    if (ok) return Array.from({ length: n }, (_, i) => base + i * spacing);
    unreserve(taken);
  }
  throw new Error(`freePorts: no free block of ${blockSize} port(s) found on ${HOST}`);
}

/**
 * Allocates one port free on both UDP and TCP on 127.0.0.1 (see {@link freePorts}).
 *
 * @returns the port
 */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port as number;
}

/**
 * Allocates one port free on both UDP and TCP, for peers that listen on both with one port
 * number (Kamailio, SIPp with `-t t1`). Same as {@link freePort}, named for intent.
 *
 * @returns the port
 */
export async function freeUdpTcpPort(): Promise<number> {
  return freePort();
}
