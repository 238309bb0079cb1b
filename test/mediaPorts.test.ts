/**
 * The ports of a call's graph (media/mediaPorts.ts): order by slot whatever the order of
 * adding, the exclusive rule, ended ports leaving by themselves, changes during a walk; and the
 * real sources (tone, in-band DTMF) and sinks (IVR Rx, recorder) through the chains.
 */
import test from 'ava';
import { PortChain, SinkChain, slotIndex, SourceChain, type MediaSink, type MediaSource, type PortSlot } from '../media/mediaPorts.js';
import { ToneGenerator } from '../media/tones.js';
import { DtmfGenerator } from '../media/dtmf.js';
import { IvrRxStream } from '../media/ivr.js';
import { CallRecorder, type RecordFrame } from '../media/callRecorder.js';
import { RX_SINK_ORDER, TX_SINK_ORDER, TX_SOURCE_ORDER } from '../media/session.js';

const ORDER: readonly PortSlot[] = [{ name: 'solo', mix: 'exclusive' }, { name: 'a' }, { name: 'b' }];

/** A source adding a constant, logging its reads. */
class Const implements MediaSource {
  ended = false;
  reads = 0;
  constructor(
    readonly value: number,
    private readonly log: string[] = [],
    readonly label = String(value),
  ) {}
  read(out: Int16Array, n: number): boolean {
    this.reads++;
    this.log.push(this.label);
    for (let i = 0; i < n; i++) {
      const v = out[i]! + this.value;
      out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
    }
    return true;
  }
}

test('sources run in slot order, not in the order they were added; saturation makes the order audible', (t) => {
  const log: string[] = [];
  const chain = new SourceChain(ORDER);
  const big = new Const(30000, log, 'big');
  const neg = new Const(-30000, log, 'neg');
  const more = new Const(10000, log, 'more');
  chain.add(neg, slotIndex(ORDER, 'b'));
  chain.add(big, slotIndex(ORDER, 'a'));
  chain.add(more, slotIndex(ORDER, 'a'));
  const out = new Int16Array(4).fill(123);
  chain.read(out, 4, 8000);
  t.deepEqual(log, ['big', 'more', 'neg'], 'slot a (in the order added), then b');
  // 30000 + 10000 saturates to 32767 before −30000 comes: 2767, not 10000
  t.is(out[0], 2767);
  t.is(chain.length, 3);
  chain.add(big, 2);
  t.is(chain.length, 3, 'adding a port twice is a no-op');
});

test('an exclusive source that wrote ends the walk; the others hold their place', (t) => {
  const chain = new SourceChain(ORDER);
  const a = new Const(100);
  const solo = new Const(7);
  chain.add(a, 1);
  chain.read(new Int16Array(2), 2, 8000);
  chain.add(solo, 0);
  const out = new Int16Array(2);
  chain.read(out, 2, 8000);
  t.deepEqual([...out], [7, 7]);
  t.is(a.reads, 1, 'not read while the exclusive source writes');
  chain.remove(solo);
  chain.read(out, 2, 8000);
  t.deepEqual([...out], [100, 100], 'the frame starts from silence each tick');
  t.is(a.reads, 2);
});

test('an ended port is removed before it would be read, and its owner is told', (t) => {
  const ended: MediaSource[] = [];
  const chain = new SourceChain(ORDER, (s) => ended.push(s));
  const a = new Const(1);
  const b = new Const(2);
  chain.add(a, 1);
  chain.add(b, 2);
  a.ended = true;
  const out = new Int16Array(1);
  chain.read(out, 1, 8000);
  t.is(out[0], 2);
  t.is(a.reads, 0);
  t.deepEqual(ended, [a]);
  t.false(chain.has(a));
  t.true(chain.has(b));
});

test('ports added and removed during a walk: none is called twice or skipped', (t) => {
  const log: string[] = [];
  const chain = new SourceChain(ORDER);
  const late = new Const(0, log, 'late');
  const early = new Const(0, log, 'early');
  const b2 = new Const(0, log, 'b2');
  let b1Done = false;
  // b1, when read, removes a1 (behind the cursor) and adds a port before and one after it
  const b1: MediaSource = {
    ended: false,
    read: () => {
      log.push('b1');
      if (!b1Done) {
        b1Done = true;
        chain.remove(a1);
        chain.add(early, 1);
        chain.add(late, 2);
      }
      return false;
    },
  };
  const a1 = new Const(0, log, 'a1');
  chain.add(a1, 1);
  chain.add(b1, 2);
  chain.add(b2, 2);
  chain.read(new Int16Array(1), 1, 8000);
  t.deepEqual(log, ['a1', 'b1', 'b2'], 'the port added behind the cursor waits; the one after the walk waits');
  log.length = 0;
  chain.read(new Int16Array(1), 1, 8000);
  t.deepEqual(log, ['early', 'b1', 'b2', 'late']);
});

test('sinks get the frame in slot order; a generic chain lists its ports in walk order', (t) => {
  const got: string[] = [];
  const sink = (name: string): MediaSink => ({ ended: false, write: (f, n, rate) => got.push(`${name}:${f[0]}:${n}:${rate}`) });
  const order: readonly PortSlot[] = [{ name: 'x' }, { name: 'y' }];
  const chain = new SinkChain(order);
  const y = sink('y');
  const x = sink('x');
  chain.add(y, 1);
  chain.add(x, 0);
  chain.write(Int16Array.of(5, 6), 2, 16000);
  t.deepEqual(got, ['x:5:2:16000', 'y:5:2:16000']);
  t.deepEqual(chain.list(), [x, y]);
  const generic = new PortChain<MediaSink>(order);
  t.throws(() => generic.add(x, 5), { instanceOf: RangeError });
  t.throws(() => slotIndex(order, 'z'), { instanceOf: RangeError });
});

test('the session\'s order is data: loopback exclusive first, the conference last; IVR Rx before the recorder', (t) => {
  t.deepEqual(
    TX_SOURCE_ORDER.map((s) => `${s.name}/${s.mix}`),
    ['loopback/exclusive', 'wav/additive', 'ivr-tx/additive', 'tone/additive', 'dtmf/additive', 'conference/additive'],
  );
  t.deepEqual(RX_SINK_ORDER.map((s) => s.name), ['ivr-rx', 'recorder']);
  t.deepEqual(TX_SINK_ORDER.map((s) => s.name), ['recorder']);
});

test('the tone and in-band DTMF are sources: they play, ramp down and leave by themselves', (t) => {
  const chain = new SourceChain(TX_SOURCE_ORDER);
  const tone = new ToneGenerator(8000);
  const dtmf = new DtmfGenerator({ sampleRate: 8000 });
  tone.start({ freqs: [1000], levelDbm0: -10 });
  dtmf.enqueue('5', 40);
  chain.add(dtmf, slotIndex(TX_SOURCE_ORDER, 'dtmf'));
  chain.add(tone, slotIndex(TX_SOURCE_ORDER, 'tone'));
  // the same audio as the generators make by hand, in the same order
  const refTone = new ToneGenerator(8000);
  const refDtmf = new DtmfGenerator({ sampleRate: 8000 });
  refTone.start({ freqs: [1000], levelDbm0: -10 });
  refDtmf.enqueue('5', 40);
  const out = new Int16Array(160);
  const ref = new Int16Array(160);
  for (let tick = 0; tick < 6; tick++) {
    chain.read(out, 160, 8000);
    ref.fill(0);
    refTone.generate(ref, 160, true);
    refDtmf.generate(ref, 160, true);
    t.deepEqual([...out], [...ref], `tick ${tick}`);
  }
  t.false(chain.has(dtmf), '40 ms of digit and 50 ms of gap were over after tick 4: DTMF left on tick 5');
  tone.stop();
  chain.read(out, 160, 8000);
  t.true(out.some((v) => v !== 0), 'one frame of ramp down after stop');
  t.true(chain.has(tone));
  chain.read(out, 160, 8000);
  t.false(chain.has(tone), 'then the tone leaves');
  t.true(out.every((v) => v === 0));
  t.false(tone.read(out, 160, 16000), 'nothing at a rate it was not made for');
});

test('IVR Rx and the recorder are sinks: the recorder sees the received frame, then the sent one', async (t) => {
  const rxChain = new SinkChain(RX_SINK_ORDER);
  const txChain = new SinkChain(TX_SINK_ORDER);
  const frames: { rx: number; tx: number; mixed: number; samples: number }[] = [];
  const rec = CallRecorder.open({
    phoneLine: 0,
    path: null,
    raw: true,
    sampleRate: 8000,
    callback: (f: RecordFrame) => frames.push({ rx: f.rx[0]!, tx: f.tx[0]!, mixed: f.mixed[0]!, samples: f.samples }),
  });
  if (!(rec instanceof CallRecorder)) return t.fail(rec.error);
  const ivr = new IvrRxStream({ sampleRate: 8000, sourceRate: 8000 });
  rxChain.add(rec.rx, slotIndex(RX_SINK_ORDER, 'recorder'));
  rxChain.add(ivr, slotIndex(RX_SINK_ORDER, 'ivr-rx'));
  txChain.add(rec.tx, slotIndex(TX_SINK_ORDER, 'recorder'));
  const rx = new Int16Array(960).fill(1000);
  const tx = new Int16Array(960).fill(-300);
  rxChain.write(rx, 160, 8000);
  rx.fill(0); // the session reuses its array: the recorder kept its own copy
  txChain.write(tx, 160, 8000);
  t.deepEqual(frames, [{ rx: 1000, tx: -300, mixed: 700, samples: 160 }]);
  t.is(ivr.drops, 1, 'not read yet: dropped and counted, as before');
  await rec.stop();
  t.true(rec.rx.ended && rec.tx.ended);
  rxChain.write(rx, 160, 8000);
  t.deepEqual(rxChain.list(), [ivr], 'a stopped recorder leaves by itself');
  ivr.destroy();
  rxChain.write(rx, 160, 8000);
  t.is(rxChain.length, 0, 'a destroyed stream too');
});
