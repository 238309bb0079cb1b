/**
 * What the wire sees, for `bench:calls` part e: `tcpdump` captures the engine's RTP on the
 * loopback interface with kernel timestamps (taken when the datagram passes the interface, so
 * neither the sender's nor the receiver's event loop is in them), and this module reads the
 * capture file back (classic pcap, micro- or nanosecond timestamps, Ethernet or Linux cooked
 * link headers, written by hand: the format is 24 bytes of file header, then 16 bytes of record
 * header before each packet) into the spacing of each RTP stream.
 *
 * Capturing needs the `tcpdump` binary and the right to open a packet socket (root or
 * CAP_NET_RAW): `apt-get install -y tcpdump`. {@link findTcpdump} says when it is missing.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

/** A running capture. */
export interface PcapCapture {
  /** The pcap file being written. */
  readonly file: string;
  /** Stops tcpdump (SIGINT, so it flushes its file); resolves with the packets it says the kernel dropped. */
  stop(): Promise<{ dropped: number; captured: number; text: string }>;
}

/** The tcpdump binary, or undefined when none is installed. */
export function findTcpdump(): string | undefined {
  for (const p of ['/usr/bin/tcpdump', '/usr/sbin/tcpdump', '/sbin/tcpdump', '/usr/local/bin/tcpdump', '/usr/local/sbin/tcpdump']) {
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

/**
 * Starts `tcpdump` on `lo` with `filter` (BPF), nanosecond timestamps when the kernel gives them,
 * headers only (96 bytes: link, IP, UDP and RTP headers fit), a 32 MiB kernel buffer (a 5 s
 * window of 10 000 packets/s must not be dropped). Resolves once tcpdump listens.
 */
export async function startPcap(tcpdump: string, file: string, filter: string): Promise<PcapCapture> {
  const child: ChildProcess = spawn(tcpdump, ['-i', 'lo', '-n', '-s', '96', '-B', '32768', '--time-stamp-precision=nano', '-w', file, filter], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let text = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${text.trim()}`)), 5000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tcpdump exited (${code}): ${text.trim()}`));
    });
    child.stderr!.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return {
    file,
    stop: async () => {
      child.kill('SIGINT');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
      const num = (re: RegExp): number => Number(re.exec(text)?.[1] ?? NaN);
      return { dropped: num(/(\d+) packets? dropped by kernel/), captured: num(/(\d+) packets? captured/), text };
    },
  };
}

/** One RTP packet of a capture: its stream, sequence number and kernel time. */
export interface CapturedRtp {
  /** UDP source port. */
  src: number;
  /** UDP destination port. */
  dst: number;
  /** RTP sequence number. */
  seq: number;
  /** Kernel timestamp, ms since the Unix epoch (a double: sub-µs resolution near 2026 dates). */
  ms: number;
}

/**
 * The RTP packets of a pcap file (UDP over IPv4, RTP version 2, RTCP left out), in file order.
 * Throws on a file that is not classic pcap.
 */
export function readPcapRtp(file: string): CapturedRtp[] {
  const b = fs.readFileSync(file);
  if (b.length < 24) return [];
  const magicLe = b.readUInt32LE(0);
  let le: boolean;
  let nano: boolean;
  if (magicLe === 0xa1b2c3d4 || magicLe === 0xa1b23c4d) {
    le = true;
    nano = magicLe === 0xa1b23c4d;
  } else {
    const magicBe = b.readUInt32BE(0);
    if (magicBe !== 0xa1b2c3d4 && magicBe !== 0xa1b23c4d) throw new Error(`${file}: not a pcap file`);
    le = false;
    nano = magicBe === 0xa1b23c4d;
  }
  const u32 = (o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const link = u32(20) & 0x0fffffff;
  // DLT_EN10MB (1): 14-byte Ethernet header; DLT_LINUX_SLL (113): 16 bytes; DLT_RAW (101): none
  const linkBytes = link === 1 ? 14 : link === 113 ? 16 : link === 101 ? 0 : -1;
  if (linkBytes < 0) throw new Error(`${file}: link type ${link} not handled`);
  const out: CapturedRtp[] = [];
  for (let o = 24; o + 16 <= b.length; ) {
    const sec = u32(o);
    const frac = u32(o + 4);
    const incl = u32(o + 8);
    const p = o + 16;
    o = p + incl;
    if (o > b.length) break;
    const ip = p + linkBytes;
    if (incl < linkBytes + 20 + 8 + 12 || b[ip]! >> 4 !== 4 || b[ip + 9] !== 17) continue;
    const udp = ip + (b[ip]! & 0x0f) * 4;
    const rtp = udp + 8;
    if (rtp + 12 > p + incl) continue;
    const pt = b[rtp + 1]!;
    // RTP version 2; RTCP's packet types 200–204 share the first byte's version bits
    if (b[rtp]! >> 6 !== 2 || (pt >= 200 && pt <= 204)) continue;
    out.push({ src: b.readUInt16BE(udp), dst: b.readUInt16BE(udp + 2), seq: b.readUInt16BE(rtp + 2), ms: sec * 1000 + (nano ? frac / 1e6 : frac / 1e3) });
  }
  return out;
}

/** Spacing figures of the captured streams in one window. */
export interface SpacingFigures {
  /** Intervals measured (consecutive packets of one stream, the later one in the window). */
  samples: number;
  /** Streams seen in the window. */
  streams: number;
  /** 99th percentile of |interval − 20 ms|, ms. */
  p99: number;
  /** 99.9th percentile, ms. */
  p999: number;
  /** Largest, ms. */
  max: number;
  /** Intervals over 40 ms (|interval − 20| > 20). */
  gaps40: number;
  /** Packets missing by sequence number (lost, or sent out of order). */
  seqGaps: number;
}

/**
 * |interval − `periodMs`| between consecutive packets of each stream (source and destination
 * port), for the intervals whose later packet falls in each `[from, to)` window (epoch ms).
 */
export function spacingByWindow(packets: readonly CapturedRtp[], windows: ReadonlyArray<readonly [number, number]>, periodMs = 20): SpacingFigures[] {
  const devs: number[][] = windows.map(() => []);
  const streams = windows.map(() => new Set<number>());
  const seqGaps = windows.map(() => 0);
  const last = new Map<number, CapturedRtp>();
  for (const pk of packets) {
    const key = pk.src * 65536 + pk.dst;
    const prev = last.get(key);
    last.set(key, pk);
    if (prev === undefined) continue;
    const w = windows.findIndex(([a, z]) => pk.ms >= a && pk.ms < z);
    if (w < 0) continue;
    const steps = (pk.seq - prev.seq) & 0xffff;
    // a missing packet is a gap on the wire as well: the interval is judged as it is, the loss counted beside it
    if (steps > 1 && steps < 0x8000) seqGaps[w]! += steps - 1;
    devs[w]!.push(Math.abs(pk.ms - prev.ms - periodMs));
    streams[w]!.add(key);
  }
  return devs.map((d, i) => {
    d.sort((x, y) => x - y);
    const n = d.length;
    const q = (x: number): number => (n === 0 ? 0 : d[Math.min(n - 1, Math.ceil(n * x) - 1)]!);
    return { samples: n, streams: streams[i]!.size, p99: q(0.99), p999: q(0.999), max: n === 0 ? 0 : d[n - 1]!, gaps40: d.filter((x) => x > 20).length, seqGaps: seqGaps[i]! };
  });
}
