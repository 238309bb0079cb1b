/**
 * `node dist/bench/udp.js [seconds]`: CPU per RTP packet sent and per packet received, through
 * `RtpSocket` on each transport (`node:dgram` and the native one), side by side in one run.
 * A sender process sends 172-byte packets (20 ms of G.711) round robin over 64 sockets to 64
 * sockets of a receiver process, 100 every 2 ms; each process measures its own CPU time
 * (`process.cpuUsage`) over the window and divides by the packets it sent or received. The
 * native receiver is read every 5 ms, as a media clock with 4 phase groups reads it.
 * @module
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RtpPortAllocator, RtpSocket } from '../media/rtpSocket.js';
import { pollNativeUdp } from '../media/nativeUdp.js';
import { table } from './measure.js';

type Transport = 'dgram' | 'native';
const SOCKETS = 64;
const HOST = '127.0.0.1';

/** Opens `n` sockets of one transport. */
async function openSockets(transport: Transport, n: number, base: number): Promise<{ sockets: RtpSocket[]; alloc: RtpPortAllocator }> {
  const alloc = new RtpPortAllocator({ host: HOST, minPort: base, maxPort: base + 2 * n + 200, transport });
  const sockets: RtpSocket[] = [];
  for (let i = 0; i < n; i++) {
    const r = await RtpSocket.open(alloc);
    if (!r.ok) throw new Error(r.message);
    sockets.push(r.socket);
  }
  return { sockets, alloc };
}

/** The receiver process: counts packets, reports CPU per packet between 'start' and 'stop'. */
async function receiver(transport: Transport, base: number): Promise<void> {
  const { sockets, alloc } = await openSockets(transport, SOCKETS, base);
  let n = 0;
  for (const s of sockets) s.onRtp = () => void n++;
  const poll = transport === 'native' ? setInterval(pollNativeUdp, 5) : undefined;
  let c0 = process.cpuUsage();
  process.on('message', (m: string) => {
    if (m === 'start') {
      n = 0;
      c0 = process.cpuUsage();
      return;
    }
    const u = process.cpuUsage(c0);
    process.send?.({ n, us: (u.user + u.system) / Math.max(1, n), transport: alloc.transport });
    if (poll) clearInterval(poll);
    void Promise.all(sockets.map((s) => s.close())).then(() => process.exit(0));
  });
  process.send?.({ ports: sockets.map((s) => s.rtpPort) });
}

/** One transport both ways: CPU µs per packet sent and received. */
async function run(transport: Transport, seconds: number, base: number): Promise<{ send: number; recv: number; sent: number; received: number; actual: string }> {
  const child = fork(fileURLToPath(import.meta.url), ['rx', transport, String(base + 1000)]);
  const ports = await new Promise<number[]>((r) => child.once('message', (m: { ports: number[] }) => r(m.ports)));
  const { sockets } = await openSockets(transport, SOCKETS, base);
  sockets.forEach((s, i) => s.setRemote(HOST, ports[i]!));
  const pkt = Buffer.alloc(172);
  pkt[0] = 0x80;
  child.send('start');
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let sent = 0;
  while (performance.now() - t0 < seconds * 1000) {
    for (let k = 0; k < 100; k++) sockets[sent++ % SOCKETS]!.sendRtp(pkt, 172);
    await new Promise((r) => setTimeout(r, 2));
  }
  const u = process.cpuUsage(c0);
  await new Promise((r) => setTimeout(r, 50));
  const done = new Promise<{ n: number; us: number; transport: string }>((r) => child.once('message', r));
  child.send('stop');
  const rx = await done;
  await Promise.all(sockets.map((s) => s.close()));
  return { send: (u.user + u.system) / sent, recv: rx.us, sent, received: rx.n, actual: rx.transport };
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 3);
  console.log(`=== udp: CPU per RTP packet through RtpSocket, ${SOCKETS} sockets each side, 100 packets every 2 ms, ${seconds} s per transport`);
  const rows: string[][] = [];
  const out: Record<string, { send: number; recv: number }> = {};
  // alternated twice, so a machine that changes load mid-run shows as a spread, not a verdict
  for (const round of [0, 1]) {
    for (const t of ['dgram', 'native'] as const) {
      const r = await run(t, seconds, 42000 + round * 4000 + (t === 'native' ? 2000 : 0));
      out[t] = r;
      rows.push([`${t}${r.actual !== t ? ` (fell back to ${r.actual})` : ''}`, String(round + 1), r.send.toFixed(2), r.recv.toFixed(2), String(r.sent), String(r.received)]);
    }
    rows.push(['native / dgram', String(round + 1), (out.native!.send / out.dgram!.send).toFixed(2), (out.native!.recv / out.dgram!.recv).toFixed(2), '', '']);
  }
  table(['transport', 'round', 'send CPU µs/packet', 'receive CPU µs/packet', 'sent', 'received'], rows);
}

if (process.argv[2] === 'rx') await receiver(process.argv[3] as Transport, Number(process.argv[4]));
else await main();
