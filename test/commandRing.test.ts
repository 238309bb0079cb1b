/**
 * The command ring and message batches between the main thread and a media floor
 * (media/mediaFloorProtocol.ts): what the main thread leaves in the ring comes out whole and in
 * order, also across the ring's end, whether it travels as JSON or as a structured clone; a record waits for the message batches posted before it;
 * a full ring says so (the caller then sends by message); and a batch posts once per task.
 * The two ends run in one thread here: each is a view of the same SharedArrayBuffer, as they
 * are in the engine, and a real worker reads the ring in the engine's own tests (mediaWorkers).
 */
import test from 'ava';
import fc from 'fast-check';
import { CommandRing, MessageBatch } from '../media/mediaFloorProtocol.js';

function pair(): { writer: CommandRing; reader: CommandRing } {
  const sab = CommandRing.create();
  return { writer: new CommandRing(sab), reader: new CommandRing(sab) };
}

function drain(r: CommandRing, handled: number): unknown[] {
  const out: unknown[] = [];
  r.read(handled, (m) => out.push(m));
  return out;
}

test('records come out as structured clones, in order', (t) => {
  const { writer, reader } = pair();
  const sent = [
    { t: 'open', id: 1, slot: 0, o: { cname: 'x@y', volume: { rx: 1, tx: 0.5 } } },
    { t: 'configure', id: 1, p: { remoteAddress: '127.0.0.1', remotePort: 4000, srtp: undefined, fmtp: 'a=b' } },
    { t: 'set', id: 1, m: 'setVolume', a: [0.25, 2] },
    { t: 'stop', id: 1 },
  ];
  for (const m of sent) t.true(writer.write(m, 0));
  t.deepEqual(drain(reader, 0), sent);
  t.deepEqual(drain(reader, 0), [], 'read once');
});

test('plain-data records travel as JSON and come out equal (keys left undefined are left out), in order with structured clones', (t) => {
  const { writer, reader } = pair();
  const open = { t: 'open', id: 7, slot: 2, o: { cname: 'agent-7@host', volume: { rx: 1, tx: 0.5 }, opus: { bitrate: 24000, fec: undefined } } };
  const configure = { t: 'configure', id: 7, p: { remoteAddress: '127.0.0.1', remotePort: 4000, remoteRtcpPort: undefined, remoteFmtp: 'maxplaybackrate=16000;ü', telephoneEvent: { payloadType: 101, receivePayloadType: 96, clockRate: 8000 } } };
  const set = { t: 'set', id: 7, m: 'setVolume', a: [0.25, 2, new Uint8Array([1, 2])] };
  t.true(writer.write(open, 0, true));
  t.true(writer.write(set, 0));
  t.true(writer.write(configure, 0, true));
  t.true(writer.write({ t: 'stop', id: 7 }, 0, true));
  t.deepEqual(drain(reader, 0), [
    { t: 'open', id: 7, slot: 2, o: { cname: 'agent-7@host', volume: { rx: 1, tx: 0.5 }, opus: { bitrate: 24000 } } },
    set,
    { t: 'configure', id: 7, p: { remoteAddress: '127.0.0.1', remotePort: 4000, remoteFmtp: 'maxplaybackrate=16000;ü', telephoneEvent: { payloadType: 101, receivePayloadType: 96, clockRate: 8000 } } },
    { t: 'stop', id: 7 },
  ]);
});

test('property: JSON and structured-clone records, mixed, across the end of the ring, come out whole and in order', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ text: fc.string({ unit: 'binary', maxLength: 20_000 }), json: fc.boolean(), readAfter: fc.boolean() }), { minLength: 1, maxLength: 150 }),
      (steps) => {
        const { writer, reader } = pair();
        const expected: Array<{ seq: number; text: string }> = [];
        const got: Array<{ seq: number; text: string }> = [];
        const take = (x: unknown): void => void got.push(x as { seq: number; text: string });
        for (const [seq, s] of steps.entries()) {
          const m = { seq, text: s.text };
          if (!writer.write(m, 0, s.json)) {
            reader.read(0, take);
            if (!writer.write(m, 0, s.json)) return false;
          }
          expected.push(m);
          if (s.readAfter) reader.read(0, take);
        }
        reader.read(0, take);
        return got.length === expected.length && got.every((g, i) => g.seq === expected[i]!.seq && g.text === expected[i]!.text);
      },
    ),
    { numRuns: 60 },
  );
  t.pass();
});

test('a record waits for the message batches posted before it', (t) => {
  const { writer, reader } = pair();
  writer.write({ n: 1 }, 0);
  writer.write({ n: 2 }, 1);
  writer.write({ n: 3 }, 1);
  writer.write({ n: 4 }, 2);
  t.deepEqual(drain(reader, 0), [{ n: 1 }], 'the second record follows batch 1, not yet handled');
  t.deepEqual(drain(reader, 1), [{ n: 2 }, { n: 3 }]);
  t.deepEqual(drain(reader, 2), [{ n: 4 }]);
});

test('a full ring refuses the record (nothing is overwritten), and takes it once read', (t) => {
  const { writer, reader } = pair();
  const big = { data: 'x'.repeat(10_000) };
  let written = 0;
  while (writer.write({ ...big, i: written }, 0)) written++;
  t.true(written > 10 && written < 30, `${written} records of 10 KB in 256 KB`);
  const got = drain(reader, 0) as Array<{ i: number }>;
  t.deepEqual(
    got.map((m) => m.i),
    Array.from({ length: written }, (_, i) => i),
  );
  t.true(writer.write({ ...big, i: written }, 0), 'room again');
});

test('property: any run of writes and reads keeps every record, whole and in order, across the end of the ring', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ size: fc.integer({ min: 0, max: 40_000 }), readAfter: fc.boolean() }), { minLength: 1, maxLength: 200 }),
      (steps) => {
        const { writer, reader } = pair();
        const expected: number[] = [];
        const got: number[] = [];
        let next = 0;
        for (const s of steps) {
          const m = { seq: next, pad: 'p'.repeat(s.size) };
          if (writer.write(m, 0)) expected.push(next++);
          else {
            // full: the reader catches up, then the same record fits
            reader.read(0, (x) => got.push((x as { seq: number }).seq));
            if (!writer.write(m, 0)) return false;
            expected.push(next++);
          }
          if (s.readAfter) reader.read(0, (x) => got.push((x as { seq: number }).seq));
        }
        reader.read(0, (x) => got.push((x as { seq: number }).seq));
        return got.length === expected.length && got.every((v, i) => v === expected[i]);
      },
    ),
    { numRuns: 60 },
  );
  t.pass();
});

test('a message batch posts what one task pushed as one array, in order, with its transfers', async (t) => {
  const posted: Array<{ batch: number[]; transfer: ArrayBuffer[] }> = [];
  const b = new MessageBatch<number>((batch, transfer) => posted.push({ batch, transfer }));
  const buf = new ArrayBuffer(8);
  b.push(1);
  b.push(2, [buf]);
  b.push(3);
  t.is(posted.length, 0, 'nothing before the task ends');
  await Promise.resolve();
  t.deepEqual(posted, [{ batch: [1, 2, 3], transfer: [buf] }]);
  b.push(4);
  b.flush();
  t.deepEqual(posted[1], { batch: [4], transfer: [] }, 'flush posts at once');
  await Promise.resolve();
  t.is(posted.length, 2, 'the queued microtask finds nothing left');
  t.true(b.empty());
});
