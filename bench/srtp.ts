/**
 * `npm run bench:srtp`: what SRTP costs per packet, for each libsrtp2 this machine has, beside
 * the floor of the plain packet path. One G.711 call both ways is 50 packets protected and 50
 * unprotected per second, so one protect + unprotect pair per packet is one call's 20 ms of SRTP.
 *
 * Each library runs in its own child process (libsrtp2 is loaded once per process): the default
 * choice (the package's OpenSSL build when `npm run build:libsrtp2` made it, else the system
 * library) and `LINESCAPE_LIBSRTP2=system` (Debian's `libsrtp2-1`, NSS). Per suite: a 172-byte
 * RTP packet (12 + 160 bytes of PCMU) is protected and then unprotected in place, with a new
 * sequence number each time, through the engine's own {@link SrtpSession}; with one session,
 * and with 50 sessions used in turn (as an engine with 50 calls does, so each packet meets state
 * other sessions pushed out of the caches). Beside them, in the
 * same child: the plain path's floor (writing a packet's header and copying it, what any RTP
 * send does) and one koffi call of a trivial C function with a buffer argument (`memset` of 0
 * bytes), the FFI's own cost, paid twice per pair.
 *
 * `node dist/bench/srtp.js [seconds per figure, default 2]`. Figures only: CPU time per operation.
 * @module
 */
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describeSrtpLibrary, packagedSrtpLibraryPath, SRTP_LIBRARY_ENV, SRTP_SUITE_INFO, srtpStatus, type SrtpSuite } from '../ffi/srtp.js';
import { SrtpSession } from '../media/srtp.js';

const SUITES: readonly SrtpSuite[] = ['AES_CM_128_HMAC_SHA1_80', 'AEAD_AES_128_GCM'];

/** One measured figure: nanoseconds per operation. */
interface Figure {
  /** What was measured. */
  label: string;
  /** Nanoseconds per operation (one protect + unprotect pair, or one floor step). */
  ns: number;
}

/** What a child reports. */
interface ChildReport {
  /** describeSrtpLibrary(), or the reason it failed to load. */
  library: string;
  /** Per suite and the floors. */
  figures: Figure[];
}

/**
 * Runs `step` in batches for about `seconds`; nanoseconds of this process's CPU time (user +
 * system, so other processes on a busy machine count less) per call. `step` gets a number that
 * grows across the warm-up and the run, so every packet has a new sequence number (a repeated
 * one would be a replay, refused early and cheaply).
 */
function timeIt(seconds: number, step: (i: number) => void): number {
  let i = 1;
  for (; i <= 20_000; i++) step(i); // warm-up: let the JIT settle
  const batch = 10_000;
  const first = i;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(Math.round(seconds * 1e9));
  let now = t0;
  while (now < end) {
    for (let k = 0; k < batch; k++) step(i++);
    now = process.hrtime.bigint();
  }
  const cpu = process.cpuUsage(cpu0);
  return ((cpu.user + cpu.system) * 1000) / (i - first);
}

function keyOf(suite: SrtpSuite): string {
  const info = SRTP_SUITE_INFO[suite];
  return randomBytes(info.keyBytes + info.saltBytes).toString('base64');
}

/** The child: measures the library this process loaded. */
function child(seconds: number): ChildReport {
  const status = srtpStatus();
  if (!status.ok) return { library: `not loaded: ${status.reason}`, figures: [] };
  const figures: Figure[] = [];
  const pkt = Buffer.alloc(12 + 160 + 64);
  pkt[0] = 0x80;
  pkt.writeUInt32BE(0x11223344, 8);
  pkt.fill(0xff, 12, 172);
  for (const suite of SUITES) {
    for (const count of [1, 50]) {
      // `count` calls' sessions used in turn, as a busy engine does: each packet meets cold state
      const pairs: { a: SrtpSession; b: SrtpSession }[] = [];
      for (let k = 0; k < count; k++) {
        const ka = keyOf(suite);
        const kb = keyOf(suite);
        const a = SrtpSession.create({ suite, sendKey: ka, receiveKey: kb });
        const b = SrtpSession.create({ suite, sendKey: kb, receiveKey: ka });
        if (!a.ok || !b.ok) {
          figures.push({ label: `${suite}: ${a.ok ? '' : a.reason} ${b.ok ? '' : b.reason}`, ns: NaN });
          break;
        }
        pairs.push({ a: a.value, b: b.value });
      }
      if (pairs.length < count) continue;
      let bad = 0;
      const ns = timeIt(seconds, (i) => {
        const p = pairs[i % count]!;
        const seq = Math.floor(i / count);
        pkt.writeUInt16BE(seq & 0xffff, 2);
        pkt.writeUInt32BE((seq * 160) >>> 0, 4);
        const len = p.a.protectRtp(pkt, 172);
        if (p.b.unprotectRtp(pkt, len) !== 172) bad++;
      });
      figures.push({ label: `${suite} protect + unprotect, ${count} session${count > 1 ? 's in turn' : ''}${bad > 0 ? ` (${bad} failed)` : ''}`, ns });
      for (const p of pairs) {
        p.a.close();
        p.b.close();
      }
    }
  }
  const out = Buffer.alloc(172);
  figures.push({
    label: 'plain floor: write header + copy packet',
    ns: timeIt(seconds, (i) => {
      pkt.writeUInt16BE(i & 0xffff, 2);
      pkt.copy(out, 0, 0, 172);
    }),
  });
  const koffi = createRequire(import.meta.url)('koffi') as { load(p: string): { func(p: string): (...a: unknown[]) => unknown } };
  const memset = koffi.load('libc.so.6').func('void *memset(uint8_t *s, int c, size_t n)');
  figures.push({ label: 'koffi floor: one trivial C call with a buffer (memset 0 bytes)', ns: timeIt(seconds, () => memset(out, 0, 0)) });
  return { library: describeSrtpLibrary(status), figures };
}

/** Runs the child with `env` added and returns its report. */
function runChild(env: Record<string, string | undefined>, seconds: number): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    const c = fork(fileURLToPath(import.meta.url), ['--child', String(seconds)], { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    c.once('message', (m) => resolve(m as ChildReport));
    c.once('error', reject);
    c.once('exit', (code) => {
      if (code !== 0) reject(new Error(`bench child exited with ${code}`));
    });
  });
}

/**
 * Which libsrtp2 a process with `LINESCAPE_LIBSRTP2=choice` loads (a path, or `system`): its
 * one-line description and backend, or why it does not load. For bench:calls part srtp.
 */
export async function srtpLibraryIn(choice: string): Promise<{ ok: boolean; text: string; backend: string }> {
  return new Promise((resolve, reject) => {
    const c = fork(fileURLToPath(import.meta.url), ['--describe'], { env: { ...process.env, [SRTP_LIBRARY_ENV]: choice }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    c.once('message', (m) => resolve(m as { ok: boolean; text: string; backend: string }));
    c.once('error', reject);
    c.once('exit', (code) => {
      if (code !== 0) reject(new Error(`describe child exited with ${code}`));
    });
  });
}

/** Measures each library in its own process and prints the table. */
export async function benchSrtp(seconds: number): Promise<void> {
  const runs: { name: string; env: Record<string, string | undefined> }[] = [];
  if (existsSync(packagedSrtpLibraryPath())) runs.push({ name: 'package (OpenSSL build)', env: { [SRTP_LIBRARY_ENV]: packagedSrtpLibraryPath() } });
  else console.log(`no ${packagedSrtpLibraryPath()}: run npm run build:libsrtp2 to measure the OpenSSL build`);
  runs.push({ name: 'system', env: { [SRTP_LIBRARY_ENV]: 'system' } });
  console.log(`SRTP per packet, 172-byte G.711 RTP packets, ${seconds} s per figure; one call = 50 pairs/s`);
  for (const r of runs) {
    const rep = await runChild(r.env, seconds);
    console.log(`\n${r.name}: ${rep.library}`);
    for (const f of rep.figures) {
      // µs of CPU per second of one call: 50 pairs (or 50 packets for the floors) per second
      const perCall = (f.ns * 50) / 1000;
      console.log(`  ${f.label.padEnd(64)} ${f.ns.toFixed(0).padStart(6)} ns  ${(1e9 / f.ns / 1000).toFixed(0).padStart(6)} k/s per core  ${perCall.toFixed(1).padStart(7)} µs CPU per call-second (${(perCall / 1e4).toFixed(3)} % of a core)`);
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] === '--describe') {
    const st = srtpStatus();
    const about = st.ok ? { ok: true, text: describeSrtpLibrary(st), backend: st.backend } : { ok: false, text: st.reason, backend: 'none' };
    process.send?.(about, () => process.exit(0));
  } else if (process.argv[2] === '--child') {
    const report = child(Number(process.argv[3]) || 2);
    process.send?.(report, () => process.exit(0));
  } else {
    await benchSrtp(Number(process.argv[2]) || 2);
  }
}
