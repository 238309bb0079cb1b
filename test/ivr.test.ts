/**
 * IVR streams through real sessions on 127.0.0.1: a Tx prompt the far end hears and decodes,
 * Rx at every rate with exact frame sizes, closed channels, a consumer that never reads, and
 * Tx backpressure.
 */
import test, { type ExecutionContext } from 'ava';
import { dominantFrequency, rms } from './helpers/analysis.js';
import type { CodecName } from '../media/codecs.js';
import { DtmfGenerator } from '../media/dtmf.js';
import { fillSine } from '../media/tones.js';
import { Capture, near, NO_TELEPHONE_EVENT, pair as sessionPair, sleep, steppedPair, type PairOptions } from './helpers/sessionPair.js';

/** Two sessions without telephone-event, as these tests send plain audio. */
const pair = (t: ExecutionContext, codec: CodecName, opts: PairOptions = {}) =>
  sessionPair(t, codec, { ...opts, pa: NO_TELEPHONE_EVENT, pb: NO_TELEPHONE_EVENT });

/**
 * The same on a manual clock stepped in lockstep with delivery, for tests about content: on a
 * real clock a stalled event loop makes the receiver conceal frames that had no chance to arrive.
 */
const stepped = (t: ExecutionContext, codec: CodecName, opts: PairOptions = {}) =>
  steppedPair(t, codec, { ...opts, pa: NO_TELEPHONE_EVENT, pb: NO_TELEPHONE_EVENT });

/** PCM as 16-bit LE bytes. */
function toBytes(pcm: Int16Array): Buffer {
  const b = Buffer.alloc(pcm.length * 2);
  for (let i = 0; i < pcm.length; i++) b.writeInt16LE(pcm[i]!, i * 2);
  return b;
}

function sine(rate: number, freq: number, ms: number, amp = 8000): Int16Array {
  const pcm = new Int16Array((rate * ms) / 1000);
  fillSine(pcm, rate, freq, amp);
  return pcm;
}


test.serial('Tx stream: a 16 kHz prompt written in odd-sized pieces is heard at B', async (t) => {
  const { a, b, step } = await stepped(t, 'PCMU');
  const cap = new Capture(b.openRx(8000));
  const tx = a.openTx(16000);
  const bytes = toBytes(sine(16000, 800, 1500));
  for (let off = 0; off < bytes.length; off += 999) tx.write(bytes.subarray(off, Math.min(bytes.length, off + 999)));
  await step(60);
  const pcm = cap.pcm();
  t.true(rms(pcm) > 1000);
  near(t, dominantFrequency(pcm, 8000), 800, 'prompt');
});

test.serial('Tx stream: DTMF written as PCM is detected in-band by the far end', async (t) => {
  const digits: string[] = [];
  const { a, step } = await stepped(t, 'opus', { b: { dtmfDetect: true, onDtmf: (d) => digits.push(d) } });
  const gen = new DtmfGenerator({ sampleRate: 48000, durationMs: 100, gapMs: 80 });
  gen.enqueue('147#');
  const pcm = new Int16Array(48000);
  gen.generate(pcm);
  const tx = a.openTx(48000);
  await step(5);
  tx.write(toBytes(pcm));
  await step(200, () => digits.length >= 4);
  await step(15); // nothing more may follow
  t.is(digits.join(''), '147#');
});

for (const rate of [8000, 16000, 48000] as const) {
  for (const codec of ['PCMU', 'opus'] as const) {
    test.serial(`Rx stream at ${rate} Hz (${codec}): the far end's tone, ${rate / 50} samples per 20 ms chunk`, async (t) => {
      const { a, b, step } = await stepped(t, codec);
      const rx = a.openRx(rate);
      const cap = new Capture(rx);
      b.playTone([1200]);
      await step(40);
      await new Promise((r) => setImmediate(r)); // the last tick's chunk is emitted asynchronously
      t.is(cap.chunks.length, 40, 'one chunk per tick');
      t.true(cap.chunks.every((c) => c.length === (rate / 50) * 2));
      const pcm = cap.pcm(15);
      t.true(rms(pcm) > 1000);
      near(t, dominantFrequency(pcm, rate), 1200, `${rate} Hz`);
      t.is(rx.sampleRate, rate);
      t.is(rx.drops, 0);
    });
  }
}

test.serial('writing to a closed Tx channel emits an error and the call goes on', async (t) => {
  const { a, b } = await pair(t, 'PCMA');
  const cap = new Capture(b.openRx(8000));
  const tx = a.openTx(8000);
  tx.write(toBytes(sine(8000, 600, 100)));
  t.true(a.closeTx(tx));
  t.false(a.closeTx(tx), 'already closed');
  const err = await new Promise<Error>((resolve) => {
    tx.once('error', resolve);
    tx.write(Buffer.alloc(320));
  });
  t.regex(err.message, /IVR Tx channel .* is closed/);
  // the session did not notice
  a.playTone([1000]);
  await sleep(300);
  const m = cap.chunks.length;
  await sleep(400);
  near(t, dominantFrequency(cap.pcm(m), 8000), 1000, 'after the error');

  // channels of a stopped session refuse writes the same way
  const tx2 = a.openTx(8000);
  const rx2 = a.openRx(8000);
  await a.stop();
  const err2 = await new Promise<Error>((resolve) => {
    tx2.once('error', resolve);
    tx2.write(Buffer.alloc(320), () => undefined);
  });
  t.regex(err2.message, /closed/);
  rx2.resume();
  await new Promise<void>((resolve) => rx2.once('end', () => resolve()));
  t.pass('Rx ended with the session');
});

test.serial('a consumer that never reads costs bounded memory; drops are counted', async (t) => {
  const { a, b } = await pair(t, 'opus');
  const rx = b.openRx(48000);
  a.playTone([1000]);
  await sleep(1500);
  const frameBytes = 960 * 2;
  t.true(rx.readableLength <= rx.readableHighWaterMark + frameBytes, `${rx.readableLength} bytes held`);
  t.is(rx.readableLength, 0, 'nothing is buffered before the first read');
  t.true(rx.drops > 50, `${rx.drops} drops`);
  t.true(b.stats().ivrRxDrops > 50);

  // a reader that stops after a while: the buffer fills to its mark, then drops resume
  const rx2 = b.openRx(8000);
  rx2.on('data', () => undefined);
  await sleep(300);
  rx2.pause();
  const d0 = rx2.drops;
  await sleep(1500);
  t.true(rx2.readableLength <= rx2.readableHighWaterMark + 320);
  t.true(rx2.drops > d0 + 10, `drops ${d0} -> ${rx2.drops}`);
  t.true(b.closeRx(rx2));
});

test.serial('Tx backpressure: a long write completes only as it plays; underruns are counted', async (t) => {
  const { a } = await pair(t, 'PCMU');
  const tx = a.openTx(8000);
  const start = Date.now();
  let doneAt = 0;
  tx.write(toBytes(sine(8000, 500, 3000)), () => {
    doneAt = Date.now();
  });
  await sleep(300);
  t.is(doneAt, 0, 'the ring (2 s) cannot take 3 s at once');
  t.true(tx.bufferedSamples <= 16000);
  await new Promise<void>((resolve) => {
    const iv = setInterval(() => {
      if (doneAt !== 0) {
        clearInterval(iv);
        resolve();
      }
    }, 20);
  });
  t.true(doneAt - start >= 800, `completed after ${doneAt - start} ms`);
  t.is(tx.underruns, 0);
  // let it run dry without end(): underruns
  await sleep(2500);
  t.true(tx.underruns > 10, `${tx.underruns} underruns`);
  const u = tx.underruns;
  const finished = new Promise<void>((resolve) => tx.once('finish', () => resolve()));
  tx.end(toBytes(sine(8000, 500, 200)));
  await finished;
  await sleep(200);
  t.is(tx.underruns, u, 'no underruns after end()');
  t.true(a.stats().ivrTxUnderruns >= u);
});
