/**
 * ffi/fdTable.ts: the descriptor table grown once, ahead of need. Linux grows it by doubling when
 * a new descriptor does not fit, and in a threaded process each growth blocks the opening thread
 * for an RCU grace period (5–20 ms measured); a media floor binding sockets mid-storm paid that in
 * every call's packet timing. The kernel reports the table's size as `FDSize` in
 * `/proc/self/status`.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { reserveFileDescriptors } from '../ffi/fdTable.js';
import { openFilesLimit } from '../ffi/processLimits.js';
import { RtpPortAllocator } from '../media/rtpSocket.js';
import { startEngine } from './helpers/engine.js';

const linux = process.platform === 'linux';

function tableSize(): number {
  return Number(/^FDSize:\s*(\d+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN);
}

function openCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

(linux ? test.serial : test.serial.skip)('the table grows to what is asked, and no descriptor stays open', (t) => {
  const before = tableSize();
  const open = openCount();
  const want = before * 4;
  const r = reserveFileDescriptors(want);
  t.deepEqual(r, { ok: true, descriptors: want });
  t.true(tableSize() >= want, `FDSize ${tableSize()} after asking for ${want}`);
  t.is(openCount(), open);
  // a second ask for less costs nothing and changes nothing
  t.deepEqual(reserveFileDescriptors(16), { ok: true, descriptors: 16 });
  t.true(tableSize() >= want);
});

(linux ? test.serial : test.serial.skip)('bad counts are refused with a reason, never thrown', (t) => {
  for (const n of [0, 1, -5, Number.NaN, Number.NEGATIVE_INFINITY]) {
    const r = reserveFileDescriptors(n);
    t.false(r.ok, String(n));
    if (!r.ok) t.regex(r.reason, /nothing to reserve/);
  }
});

(linux ? test : test.skip)('a count above the open-files limit stops at the limit', (t) => {
  // a child with a 512-descriptor limit (Node cannot raise a soft limit past the hard one)
  const mod = fileURLToPath(new URL('../ffi/fdTable.js', import.meta.url));
  const script = `import(${JSON.stringify(mod)}).then((m) => { const r = m.reserveFileDescriptors(1e9); const size = /FDSize:\\s*(\\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1]; console.log(JSON.stringify({ r, size: Number(size) })); })`;
  const out = execFileSync('/bin/sh', ['-c', 'ulimit -n 512 && exec "$0" "$@"', process.execPath, '-e', script], { encoding: 'utf8' });
  const { r, size } = JSON.parse(out) as { r: { ok: boolean; descriptors?: number }; size: number };
  t.deepEqual(r, { ok: true, descriptors: 512 });
  t.is(size, 512);
});

test('an allocator counts two descriptors per pair it may hold: in use or parked', (t) => {
  const a = new RtpPortAllocator({ host: '127.0.0.1', minPort: 30000, maxPort: 30999 });
  // 500 pairs; parking keeps at most half the range (or the open-files share, if smaller)
  const parked = Math.min(250, Math.floor((openFilesLimit() ?? Infinity) / 8));
  t.is(a.maxParked, parked);
  t.is(a.descriptorsFor(16), 2 * (16 + parked));
  t.is(a.descriptorsFor(10_000), 1000);
  t.is(a.descriptorsFor(-3), 2 * parked);
});

(linux ? test.serial : test.serial.skip)('an engine grows the table for its RTP range when it starts', async (t) => {
  // a range larger than anything asked above: 5 000 pairs, 4 lines (16 calls with media at most)
  const limit = openFilesLimit() ?? Infinity;
  const parked = Math.min(2500, Math.floor(limit / 8));
  const want = Math.min(limit, 2 * (16 + parked) + 256);
  t.true(tableSize() < want, `FDSize ${tableSize()} before the start`);
  await startEngine(t, { numPhoneLinesRequested: 4, minLocalRtpPort: 30000, maxLocalRtpPort: 39999 });
  t.true(tableSize() >= want, `FDSize ${tableSize()}, ${want} wanted`);
});
