/**
 * Jitter buffer: in-order playout, reordering, duplicates, loss reported where it happened,
 * sequence/timestamp wrap, late packets, silence gaps, restarts, adaptation under jitter, and
 * pass-through mode.
 */
import test from 'ava';
import fc from 'fast-check';
import { JitterBuffer, JitterPushResult, type JitterPop, type JitterPopStatus } from '../media/jitterBuffer.js';
import { seededRandom } from './helpers/prng.js';

const SPF = 160;

/** A payload that names its frame so playout can be checked byte for byte. */
function payload(i: number): Buffer {
  const b = Buffer.alloc(SPF);
  b.writeUInt32BE(i >>> 0, 0);
  b.fill(i & 0xff, 4);
  return b;
}

function frameIndexOf(p: JitterPop): number {
  return p.buffer.readUInt32BE(p.offset);
}

interface Packet {
  i: number;
  seq: number;
  ts: number;
  arrival: number;
}

function stream(n: number, seq0 = 1000, ts0 = 5000): Packet[] {
  return Array.from({ length: n }, (_, i) => ({ i, seq: (seq0 + i) & 0xffff, ts: (ts0 + i * SPF) >>> 0, arrival: i * 20 }));
}

interface Out {
  status: JitterPopStatus;
  i: number;
  seq: number;
}

/**
 * Runs the buffer against packets with arbitrary arrival times: at every 20 ms tick the
 * packets that arrived are pushed (in arrival order), then one pop.
 */
function simulate(jb: JitterBuffer, packets: Packet[], ticks: number, tickOffsetMs = 10): Out[] {
  const sorted = [...packets].sort((a, b) => a.arrival - b.arrival);
  const out: Out[] = [];
  let p = 0;
  for (let k = 0; k < ticks; k++) {
    const now = k * 20 + tickOffsetMs;
    while (p < sorted.length && sorted[p]!.arrival <= now) {
      const pk = sorted[p++]!;
      const pl = payload(pk.i);
      jb.push(pk.seq, pk.ts, pl, 0, pl.length, pk.arrival);
    }
    const r = jb.pop();
    out.push({ status: r.status, i: r.status === 'frame' ? frameIndexOf(r) : -1, seq: r.seq });
    if (r.status === 'frame') {
      if (r.length !== SPF) throw new Error('bad length');
    }
  }
  return out;
}

function played(out: Out[]): number[] {
  return out.filter((o) => o.status === 'frame').map((o) => o.i);
}

test('in order: buffers to the initial delay, then plays every frame once, in order', (t) => {
  const jb = new JitterBuffer({ samplesPerFrame: SPF, initialDelayMs: 60 });
  const out = simulate(jb, stream(200), 200);
  t.deepEqual(
    out.slice(0, 3).map((o) => o.status),
    ['buffering', 'buffering', 'frame'],
  );
  t.deepEqual(played(out), Array.from({ length: 198 }, (_, i) => i));
  t.true(out.slice(2).every((o) => o.status === 'frame'));
  const s = jb.stats();
  t.is(s.lost, 0);
  t.is(s.late, 0);
  t.is(s.duplicate, 0);
  t.is(s.played, 198);
  t.is(s.targetDelayMs, 40, 'a calm stream steps the target down to the minimum');
});

test('pop before any packet is empty; 48 kHz frames work the same', (t) => {
  const jb = new JitterBuffer({ samplesPerFrame: 960, initialDelayMs: 40 });
  t.is(jb.pop().status, 'empty');
  const pkts = Array.from({ length: 20 }, (_, i) => ({ i, seq: i, ts: i * 960, arrival: i * 20 }));
  t.deepEqual(played(simulate(jb, pkts, 20)), Array.from({ length: 19 }, (_, i) => i));
});

test('reordering within the window is undone', (t) => {
  const jb = new JitterBuffer({ samplesPerFrame: SPF, initialDelayMs: 60 });
  const pkts = stream(100);
  // swap neighbours: 1,0,3,2,...; the later one of each pair arrives first
  for (let i = 0; i + 1 < pkts.length; i += 2) {
    pkts[i]!.arrival = pkts[i + 1]!.arrival + 1;
  }
  const out = simulate(jb, pkts, 100);
  t.deepEqual(played(out), Array.from({ length: played(out).length }, (_, i) => i));
  t.true(played(out).length >= 96);
  t.is(jb.stats().lost, 0);
  t.is(jb.stats().late, 0);
});

test('reordered first packets move the play point back before playout starts', (t) => {
  const jb = new JitterBuffer({ samplesPerFrame: SPF, initialDelayMs: 60 });
  const p2 = payload(2);
  const p1 = payload(1);
  const p0 = payload(0);
  t.is(jb.push(12, 2 * SPF, p2, 0, SPF, 0), JitterPushResult.Stored);
  t.is(jb.push(11, 1 * SPF, p1, 0, SPF, 1), JitterPushResult.Stored);
  t.is(jb.push(10, 0, p0, 0, SPF, 2), JitterPushResult.Stored);
  const a = jb.pop();
  t.is(a.status, 'frame');
  t.is(a.seq, 10);
  t.is(jb.pop().seq, 11);
  t.is(jb.pop().seq, 12);
});

test('duplicates are dropped and counted, before and after playout', (t) => {
  const jb = new JitterBuffer({ samplesPerFrame: SPF, initialDelayMs: 60 });
  const pkts = stream(50);
  const doubled = [...pkts, ...pkts.map((p) => ({ ...p, arrival: p.arrival + 5 }))];
  const out = simulate(jb, doubled, 50);
  t.deepEqual(played(out), Array.from({ length: 48 }, (_, i) => i));
  t.is(jb.stats().duplicate, 50);
  // a copy of a frame that was already played
  const p = payload(3);
  t.is(jb.push(pkts[3]!.seq, pkts[3]!.ts, p, 0, p.length, 5000), JitterPushResult.Duplicate);
  t.is(jb.stats().duplicate, 51);
});

test('30 % seeded loss (fixed delay): lost exactly where frames are missing, then continues', (t) => {
  for (const seed of [3, 4, 5]) {
    const rand = seededRandom(seed);
    const jb = new JitterBuffer({ samplesPerFrame: SPF, initialDelayMs: 60, adaptive: false });
    const all = stream(1000);
    const delivered = new Set<number>();
    const pkts = all.filter((p) => {
      const keep = p.i === 0 || rand() >= 0.3;
      if (keep) delivered.add(p.i);
      return keep;
    });
    const out = simulate(jb, pkts, 1000);
    // with a 3-frame delay, tick k plays frame k - 2
    let lost = 0;
    for (let k = 2; k < 1000; k++) {
      const o = out[k]!;
      if (delivered.has(k - 2)) {
        t.is(o.status, 'frame', `seed ${seed} tick ${k}`);
        t.is(o.i, k - 2);
      } else {
        t.not(o.status, 'frame');
        if (o.status === 'lost') lost++;
      }
    }
    t.true(lost > 150, `lost ${lost}`);
    t.is(jb.stats().late, 0);
    t.is(jb.stats().played, delivered.size - [...delivered].filter((i) => i > 997).length);
  }
});

test('30 % loss with adaptation on: every frame that arrived is played, in order, none late', (t) => {
  const rand = seededRandom(11);
  const jb = new JitterBuffer({ samplesPerFrame: SPF });
  const pkts = stream(3000).filter((p) => p.i === 0 || rand() >= 0.3);
  const out = simulate(jb, pkts, 3000);
  const got = played(out);
  for (let j = 1; j < got.length; j++) t.true(got[j]! > got[j - 1]!);
  const s = jb.stats();
  t.is(s.late, 0);
  t.is(s.holds, 0, 'plain loss never adds delay');
  t.true(got.length + s.dropped >= pkts.length - 5);
});

test('sequence and timestamp wrap', (t) => {
  const jb = new JitterBuffer({ samplesPerFrame: SPF, initialDelayMs: 40 });
  const pkts = stream(100, 65500, 0xffffff00 - 40 * SPF);
  const out = simulate(jb, pkts, 100);
  t.deepEqual(played(out), Array.from({ length: 99 }, (_, i) => i));
  const seqs = out.filter((o) => o.status === 'frame').map((o) => o.seq);
  t.is(seqs[35], 65535);
  t.is(seqs[36], 0);
});

test('a packet after its playout time is dropped as late and raises the target', (t) => {
  const jb = new JitterBuffer({ samplesPerFrame: SPF, initialDelayMs: 60 });
  const pkts = stream(40);
  const late = pkts[10]!;
  late.arrival = 400; // 200 ms later than its neighbours
  const out = simulate(jb, pkts, 40);
  t.true(out.some((o) => o.status === 'lost'));
  t.false(played(out).includes(10));
  const s = jb.stats();
  t.is(s.late, 1);
  t.true(s.targetDelayMs > 60, String(s.targetDelayMs));
  const p = payload(0);
  t.is(jb.push(pkts[0]!.seq, pkts[0]!.ts, p, 0, p.length, 800), JitterPushResult.Duplicate);
  t.is(jb.push(pkts[5]!.seq - 100, pkts[0]!.ts - 30 * SPF, p, 0, p.length, 800), JitterPushResult.Late);
});

test('adaptation: the target grows under heavy jitter and late losses become rare, then shrinks when calm', (t) => {
  const rand = seededRandom(42);
  const jb = new JitterBuffer({ samplesPerFrame: SPF, initialDelayMs: 40, minDelayMs: 40, maxDelayMs: 400 });
  const n = 3000; // 60 s
  const pkts = stream(n).map((p) => ({ ...p, arrival: p.i * 20 + (p.i < 1500 ? rand() * 120 : rand() * 2) }));
  const sorted = [...pkts].sort((a, b) => a.arrival - b.arrival);
  let q = 0;
  let lateFirst = 0;
  let lateLater = 0;
  let targetAfterJitter = 0;
  for (let k = 0; k < n + 20; k++) {
    const now = k * 20 + 10;
    while (q < sorted.length && sorted[q]!.arrival <= now) {
      const pk = sorted[q++]!;
      const pl = payload(pk.i);
      const r = jb.push(pk.seq, pk.ts, pl, 0, pl.length, pk.arrival);
      if (r === JitterPushResult.Late) {
        if (pk.i < 300) lateFirst++;
        else if (pk.i >= 1200 && pk.i < 1500) lateLater++;
      }
    }
    jb.pop();
    if (k === 1500) targetAfterJitter = jb.stats().targetDelayMs;
  }
  t.true(targetAfterJitter >= 60, `target under jitter ${targetAfterJitter}`);
  t.true(lateLater < lateFirst, `late first 6 s ${lateFirst}, late 24..30 s ${lateLater}`);
  const s = jb.stats();
  t.is(s.targetDelayMs, 40, 'back to the minimum once calm');
  t.true(s.dropped > 0, 'excess delay was trimmed');
  t.true(s.currentDelayMs <= s.targetDelayMs + 40, `buffered ${s.currentDelayMs}`);
  t.true(s.jitterMs < 5);
});

test('periodic delay spikes: the delay grows (holds) until spiked packets stop being late', (t) => {
  const jb = new JitterBuffer({ samplesPerFrame: SPF, initialDelayMs: 40, minDelayMs: 40 });
  // every 25th packet is 110 ms late, the rest are on time
  const pkts = stream(1500).map((p) => ({ ...p, arrival: p.i * 20 + (p.i % 25 === 12 ? 110 : 0) }));
  const sorted = [...pkts].sort((a, b) => a.arrival - b.arrival);
  const lateAt: number[] = [];
  let q = 0;
  for (let k = 0; k < 1500; k++) {
    const now = k * 20 + 10;
    while (q < sorted.length && sorted[q]!.arrival <= now) {
      const pk = sorted[q++]!;
      const pl = payload(pk.i);
      if (jb.push(pk.seq, pk.ts, pl, 0, pl.length, pk.arrival) === JitterPushResult.Late) lateAt.push(pk.i);
    }
    jb.pop();
  }
  const s = jb.stats();
  t.true(lateAt.length >= 1, 'the first spike is late');
  t.true(lateAt.every((i) => i < 300), `late packets: ${lateAt.join(',')}`);
  t.true(s.holds > 0 || s.underruns > 0, 'the delay grew by waiting');
  t.true(s.targetDelayMs >= 120, String(s.targetDelayMs));
});

test('silence suppression: a timestamp gap plays as empty and the next talkspurt starts cleanly', (t) => {
  const jb = new JitterBuffer({ samplesPerFrame: SPF, initialDelayMs: 60 });
  const pkts: Packet[] = [];
  for (let i = 0; i < 20; i++) pkts.push({ i, seq: i, ts: i * SPF, arrival: i * 20 });
  // 2 s of silence: timestamps jump by 100 frames, sequence numbers continue
  for (let i = 20; i < 40; i++) pkts.push({ i, seq: i, ts: (i + 100) * SPF, arrival: (i + 100) * 20 });
  const out = simulate(jb, pkts, 142);
  t.deepEqual(played(out), Array.from({ length: 40 }, (_, i) => i));
  const s = jb.stats();
  t.is(s.late, 0);
  t.is(s.lost, 0);
  t.is(s.underruns, 1);
});

test('a confirmed big jump restarts the buffer; a lone one is dropped', (t) => {
  const jb = new JitterBuffer({ samplesPerFrame: SPF, initialDelayMs: 40 });
  const p = payload(0);
  for (let i = 0; i < 5; i++) jb.push(i, i * SPF, p, 0, p.length, i * 20);
  jb.pop();
  jb.pop();
  t.is(jb.push(5, 5 * SPF + 1e6, p, 0, p.length, 100), JitterPushResult.Overflow);
  t.is(jb.push(5, 5 * SPF, p, 0, p.length, 100), JitterPushResult.Stored);
  t.is(jb.push(700, 2e9, p, 0, p.length, 120), JitterPushResult.Overflow);
  t.is(jb.push(701, 2e9 + SPF, p, 0, p.length, 140), JitterPushResult.Resync);
  t.is(jb.pop().status, 'buffering');
  t.is(jb.push(702, 2e9 + 2 * SPF, p, 0, p.length, 160), JitterPushResult.Stored);
  const r = jb.pop();
  t.is(r.status, 'frame');
  t.is(r.seq, 701);
  t.is(jb.stats().resyncs, 1);
});

test('reset forgets everything; oversized payloads are refused', (t) => {
  const jb = new JitterBuffer({ samplesPerFrame: SPF, maxPayload: 200 });
  const big = Buffer.alloc(201);
  t.is(jb.push(1, 0, big, 0, 201, 0), JitterPushResult.TooLarge);
  t.is(jb.push(1, 0, big, 100, 150, 0), JitterPushResult.TooLarge); // past the end of the source
  t.is(jb.push(1, 0, big, 1, 200, 0), JitterPushResult.Stored);
  jb.reset();
  t.is(jb.pop().status, 'empty');
  t.is(jb.push(9, 99999, big, 0, 10, 0), JitterPushResult.Stored);
  t.is(jb.stats().tooLarge, 2);
});

test('pass-through mode plays the newest frame at once and drops older ones', (t) => {
  const jb = new JitterBuffer({ samplesPerFrame: SPF, initialDelayMs: 200 });
  jb.setEnabled(false);
  t.false(jb.isEnabled);
  const p = (i: number): Buffer => payload(i);
  jb.push(0, 0, p(0), 0, SPF, 0);
  let r = jb.pop();
  t.is(r.status, 'frame');
  t.is(frameIndexOf(r), 0);
  t.is(jb.pop().status, 'empty');
  jb.push(1, SPF, p(1), 0, SPF, 20);
  jb.push(3, 3 * SPF, p(3), 0, SPF, 21);
  jb.push(2, 2 * SPF, p(2), 0, SPF, 22);
  r = jb.pop();
  t.is(frameIndexOf(r), 3);
  t.is(jb.stats().dropped, 2);
  t.is(jb.push(2, 2 * SPF, p(2), 0, SPF, 30), JitterPushResult.Duplicate);
  jb.push(4, 4 * SPF, p(4), 0, SPF, 40);
  t.is(frameIndexOf(jb.pop()), 4);
  // a 3 s silence gap: the next talkspurt plays at once
  t.is(jb.pop().status, 'empty');
  t.is(jb.push(5, 155 * SPF, p(155), 0, SPF, 3100), JitterPushResult.Stored);
  t.is(frameIndexOf(jb.pop()), 155);
  // back on: buffering rules apply again
  jb.setEnabled(true);
  jb.push(6, 156 * SPF, p(156), 0, SPF, 3120);
  t.is(frameIndexOf(jb.pop()), 156);
});

test('setJitterTimeMs changes the start-up delay within the bounds', (t) => {
  const jb = new JitterBuffer({ samplesPerFrame: SPF, minDelayMs: 40, maxDelayMs: 200 });
  jb.setJitterTimeMs(100);
  t.is(jb.targetDelayMs, 100);
  jb.setJitterTimeMs(10);
  t.is(jb.targetDelayMs, 40);
  jb.setJitterTimeMs(5000);
  t.is(jb.targetDelayMs, 200);
  jb.setJitterTimeMs(100);
  const out = simulate(jb, stream(20), 20);
  t.is(out.findIndex((o) => o.status === 'frame'), 4);
});

test('property: any arrival order, loss, duplication and garbage never throws; playout is strictly in timestamp order', (t) => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          i: fc.integer({ min: 0, max: 300 }),
          jitter: fc.integer({ min: 0, max: 300 }),
          garbage: fc.boolean(),
          len: fc.integer({ min: -5, max: 400 }),
        }),
        { maxLength: 300 },
      ),
      fc.boolean(),
      fc.boolean(),
      (items, adaptive, enabled) => {
        const jb = new JitterBuffer({ samplesPerFrame: SPF, adaptive, capacity: 20, maxPayload: 200 });
        jb.setEnabled(enabled);
        const pkts = items.map((it) => ({
          i: it.i,
          seq: it.garbage ? (it.i * 7919) & 0xffff : (40000 + it.i) & 0xffff,
          ts: it.garbage ? (it.i * 2654435761) >>> 0 : (0xfffff000 + it.i * SPF) >>> 0,
          arrival: it.i * 20 + it.jitter,
          len: it.len,
        }));
        pkts.sort((a, b) => a.arrival - b.arrival);
        let q = 0;
        let lastTs: number | undefined;
        const seen = new Set<string>();
        for (let k = 0; k < 400; k++) {
          const now = k * 20;
          while (q < pkts.length && pkts[q]!.arrival <= now) {
            const pk = pkts[q++]!;
            const pl = payload(pk.i);
            jb.push(pk.seq, pk.ts, pl, 0, pk.len, pk.arrival);
          }
          const r = jb.pop();
          if (r.status === 'frame') {
            if (r.length < 0 || r.offset + r.length > r.buffer.length) return false;
            const key = `${r.seq}/${r.timestamp}`;
            if (seen.has(key)) return false;
            seen.add(key);
            if (lastTs !== undefined && jb.stats().resyncs === 0 && ((r.timestamp - lastTs) | 0) <= 0) return false;
            lastTs = r.timestamp;
          }
        }
        return true;
      },
    ),
    { numRuns: 300 },
  );
  t.pass();
});

test('slots start small and widen once for a larger frame, keeping what is buffered byte for byte', (t) => {
  const jb = new JitterBuffer({ samplesPerFrame: SPF, initialDelayMs: 200, maxPayload: 1280, initialPayload: 160 });
  // whole datagrams with a 12-byte header, as the session pushes them
  const datagram = (i: number, size: number): Buffer => {
    const b = Buffer.alloc(12 + size);
    b.writeUInt32BE(i, 12);
    b.fill(i & 0xff, 16);
    return b;
  };
  const sizes = [160, 160, 160, 1000, 160, 1275, 20];
  sizes.forEach((size, i) => t.is(jb.push(100 + i, i * SPF, datagram(i, size), 12, size, i * 20), JitterPushResult.Stored));
  const got: Array<{ i: number; length: number; fill: boolean }> = [];
  for (let k = 0; k < 40 && got.length < sizes.length; k++) {
    const p = jb.pop();
    if (p.status !== 'frame') continue;
    const i = p.buffer.readUInt32BE(p.offset);
    let fill = true;
    for (let b = 4; b < p.length; b++) if (p.buffer[p.offset + b] !== (i & 0xff)) fill = false;
    got.push({ i, length: p.length, fill });
  }
  t.deepEqual(got, sizes.map((length, i) => ({ i, length, fill: true })));
  t.is(jb.push(200, 50 * SPF, datagram(50, 1281), 12, 1281, 1000), JitterPushResult.TooLarge, 'maxPayload still bounds a frame');
});

/** Every field of a buffer, typed arrays and the pop record as plain values: what renew must restore. */
function snapshot(jb: JitterBuffer): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(jb)) {
    if (k === 'data') continue; // storage: kept (and may have widened), its bytes never read before written
    if (ArrayBuffer.isView(v)) out[k] = Array.from(v as unknown as ArrayLike<number>);
    else if (k === 'out') out[k] = { ...(v as JitterPop), buffer: undefined };
    else out[k] = v;
  }
  return out;
}

test('renew makes a used buffer equal to a new one in every field, and it plays a new stream from the start', (t) => {
  const options = { samplesPerFrame: 160, initialDelayMs: 60, maxPayload: 1280, initialPayload: 160 };
  const rand = seededRandom(7);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 20, maxLength: 400 }), fc.integer({ min: 20, max: 300 }), (ops, delay) => {
      const used = new JitterBuffer(options);
      let seq = 1000;
      let ts = 5000;
      let at = 0;
      for (const op of ops) {
        at += 20;
        if (op <= 4) used.push(seq++, (ts += 160), payload(seq), 0, 160, at + rand() * 60);
        else if (op === 5) used.push(seq - 5, ts - 800, payload(seq), 0, 160, at); // late or duplicate
        else if (op === 6) used.push((seq += 3000), (ts += 480_000), payload(seq), 0, 1000, at); // a jump, a wide payload
        else if (op === 7) used.setJitterTimeMs(40 + op * 20);
        else if (op === 8) used.setEnabled(!used.isEnabled);
        else used.setDelayBounds(20, 200);
        used.pop();
      }
      used.renew(delay);
      const fresh = new JitterBuffer({ ...options, initialDelayMs: delay });
      t.deepEqual(snapshot(used), snapshot(fresh));
      // and it behaves as new: the same pops for the same stream
      for (let i = 0; i < 30; i++) {
        used.push(i, i * 160, payload(i), 0, 160, i * 20);
        fresh.push(i, i * 160, payload(i), 0, 160, i * 20);
        const a = used.pop();
        const aState = [a.status, a.seq, a.timestamp, a.length];
        const b = fresh.pop();
        t.deepEqual(aState, [b.status, b.seq, b.timestamp, b.length]);
      }
      return true;
    }),
    { numRuns: 150 },
  );
});
