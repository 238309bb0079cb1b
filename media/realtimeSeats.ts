/**
 * Real-time seats: how many media threads may run in SCHED_FIFO on this machine at once. A
 * real-time floor runs before every normal thread, so real-time floors that together fill every
 * core starve what stays at normal priority: the engines' main threads (signalling, the IVR data
 * an application writes) and V8's garbage-collector helpers, which a floor's own collection
 * waits for. Measured (docs/architecture.md, "Real time within seats"): forty real-time floors
 * of one test process on 2 cores kept its main thread waiting for a core 0.3–0.6 s at a time, so
 * the tones a test wrote reached the floors 1–2 s late. With at most cores − 1 of them, one core
 * is always left to the rest, and a floor that fills its own core is the
 * {@link RealtimeGuard}'s case (media/realtimeGuard.ts).
 *
 * A seat is a file named `seat-K` in a directory every LineScape process of the machine shares
 * (`/dev/shm/linescape-realtime-seats` where `/dev/shm` exists), created exclusively and holding
 * the owner's process id: the kernel's exclusive create makes taking one atomic across processes,
 * and a seat whose process has gone (killed before it could give it back) is taken over.
 * @module
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A seat held by this process: give it back when its thread is no longer real-time. */
export interface RealtimeSeat {
  /** The seat's number (0 .. count − 1). */
  readonly index: number;
  /** Gives the seat back (once; later calls do nothing). */
  release(): void;
}

/** What {@link RealtimeSeats.take} got: a seat, or why none. */
export type RealtimeSeatResult = { seat: RealtimeSeat; reason?: undefined } | { seat?: undefined; reason: string };

/** Seat files this process holds, removed as it exits (a normal exit skips the engine's stop). */
const held = new Set<string>();
let exitHook = false;

function removeHeld(): void {
  for (const f of held) fs.rmSync(f, { force: true });
  held.clear();
}

/** True when `pid` names a live process (one this process may not signal counts as live). */
function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The machine's real-time seats (see the module comment). */
export class RealtimeSeats {
  /** Where the seats of this machine live. */
  static defaultDir(): string {
    const shm = '/dev/shm';
    return path.join(fs.existsSync(shm) ? shm : os.tmpdir(), 'linescape-realtime-seats');
  }

  /** Seats on this machine: one per core but one, which signalling and V8's helpers keep. */
  static defaultCount(): number {
    return Math.max(0, os.availableParallelism() - 1);
  }

  /** The seats the engine uses: {@link RealtimeSeats.defaultDir}, {@link RealtimeSeats.defaultCount}. */
  static machine(): RealtimeSeats {
    return new RealtimeSeats(RealtimeSeats.defaultDir(), RealtimeSeats.defaultCount());
  }

  /** `count` seats as files in `dir` (tests give their own). */
  constructor(
    readonly dir: string,
    readonly count: number,
  ) {}

  /** Takes a free seat (or one whose process has gone), or says why there is none. */
  take(): RealtimeSeatResult {
    if (this.count === 0) return { reason: 'this machine has one core: a real-time media thread would starve signalling' };
    try {
      if (!fs.existsSync(this.dir)) {
        fs.mkdirSync(this.dir, { recursive: true });
        // every user's engines share the seats, as /tmp is shared (the umask narrowed mkdir's mode)
        fs.chmodSync(this.dir, 0o1777);
      }
    } catch (err) {
      return { reason: `no real-time seat: ${this.dir}: ${(err as Error).message}` };
    }
    for (let k = 0; k < this.count; k++) {
      const file = path.join(this.dir, `seat-${k}`);
      const claimed = this.claim(file);
      if (claimed === true) return { seat: this.seatOf(k, file) };
      if (claimed !== false) return { reason: `no real-time seat: ${file}: ${claimed}` };
    }
    return { reason: `all ${this.count} real-time seats of this machine are taken (one per core but one: signalling and V8's helpers keep a core)` };
  }

  /**
   * Creates `file` for this process, over a seat whose owner has gone once: true when taken,
   * false when another live process (or this one) holds it, the error's text when the seat
   * cannot be made at all (the directory is not writable, say).
   */
  private claim(file: string): boolean | string {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return (err as Error).message;
      }
      let owner: number;
      try {
        owner = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
      } catch (err) {
        // given back meanwhile: try again; anything else is no seat file at all
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        return (err as Error).message;
      }
      // this process's own seats are held by its other floors; a live owner keeps its seat
      if (owner === process.pid || alive(owner)) return false;
      // two processes that find the same dead owner at the same moment could both take the seat
      // (one removes the file the other has just made): a seat one over, once, for a seat left
      // by a killed process; cheaper than a lock, and the guard still watches each floor
      fs.rmSync(file, { force: true });
    }
    return false;
  }

  private seatOf(index: number, file: string): RealtimeSeat {
    held.add(file);
    if (!exitHook) {
      exitHook = true;
      process.once('exit', removeHeld);
    }
    let released = false;
    return {
      index,
      release: () => {
        if (released) return;
        released = true;
        held.delete(file);
        fs.rmSync(file, { force: true });
      },
    };
  }
}
