/**
 * The media clock is injectable (`EngineOptions.mediaClock`): two engines on loopback run their
 * media in virtual time, driven tick by tick by the test. A conferences its two lines' calls to
 * B; B conferences both. A frame that A's line 0 sends is received by B, mixed by B's bridge and
 * sent on to A's line 1 in the same B tick, and A's line 1 hears it on its next tick: the test
 * counts the ticks. Signalling runs on real time; the media waits only for the datagrams to
 * cross the loopback (event-loop turns), never for a timer.
 */
import test from 'ava';
import { TelephonyReturnValue as T, MediaFormatAudio as F, virtualMediaClock, type DriftCorrectedMediaClock } from '../index.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { mediaStats } from './helpers/mediaTime.js';
import { toneLevelDb, rms } from './helpers/analysis.js';
import { tonePcm } from './helpers/audio.js';

const RATE = 8000;
const SPF = 160;

/** Event-loop turns (no timer) until `done`, e.g. until a datagram has arrived; false if never. */
async function turnsUntil(done: () => boolean, maxTurns = 200_000): Promise<boolean> {
  for (let i = 0; i < maxTurns; i++) {
    if (done()) return true;
    await new Promise<void>((r) => setImmediate(r));
  }
  return done();
}

const packetsIn = (e: EngineUnderTest, line: number): number => mediaStats(e.engine, line)?.rx.packetsIn ?? 0;

test('two engines in virtual media time: a frame A sends is mixed by B and heard back by A, tick by tick', async (t) => {
  let clockA: DriftCorrectedMediaClock | undefined;
  let clockB: DriftCorrectedMediaClock | undefined;
  const made: string[] = [];
  const mediaClockA = (): DriftCorrectedMediaClock => {
    made.push('a');
    return (clockA = virtualMediaClock());
  };
  const mediaClockB = (): DriftCorrectedMediaClock => {
    made.push('b');
    return (clockB = virtualMediaClock());
  };
  const a = await startEngine(t, { phoneName: 'a', numPhoneLinesRequested: 2 }, { mediaClock: mediaClockA });
  const b = await startEngine(t, { phoneName: 'b', numPhoneLinesRequested: 2 }, { mediaClock: mediaClockB });
  t.deepEqual(made, ['a', 'b'], 'one clock per run, from the factory');
  if (clockA === undefined || clockB === undefined) return t.fail('no clocks');
  const ca = clockA;
  const cb = clockB;
  t.true(ca.manual && ca.running, 'the engine started the injected clock');
  t.is(a.engine.getMediaClockStatistics().ticks, 0, 'and nothing ticks it but the test');

  b.engine.on('SipOkToAnswerCall', (n) => b.engine.goOffHook(n.phoneLine));
  for (const line of [0, 1]) {
    t.is(a.engine.setAudioMediaFormats(line, [F.ULaw8k]), T.SipSuccess);
    t.is(await a.engine.makeCall('b', '127.0.0.1', b.port, line, true, 5000), T.SipSuccess, `A line ${line} connects`);
    await b.waitForCount(T.SipIncomingCallConnected, line + 1);
  }
  for (const line of [0, 1]) {
    t.is(b.engine.conferenceLine(line, true), T.SipSuccess);
    // jitter buffers off: each tick plays the newest frame, so the count of ticks is exact
    t.is(a.engine.setEnableJitter(line, false), T.SipSuccess);
    t.is(b.engine.setEnableJitter(line, false), T.SipSuccess);
  }

  // what A's line 1 hears, one frame per A tick
  const rx = a.engine.openRxIvrChannel(1, { sampleRate: RATE });
  if (rx.result !== T.SipSuccess || !rx.channel) return t.fail(`openRxIvrChannel: ${T[rx.result]}`);
  const heard: Int16Array[] = [];
  rx.channel.on('data', (chunk: Buffer) => {
    heard.push(new Int16Array(chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.length)));
  });

  /** One A tick; waits for the packet it sent on `line` to reach B. */
  const tickA = async (): Promise<void> => {
    const before = packetsIn(b, 0);
    ca.tickOnce();
    t.true(await turnsUntil(() => packetsIn(b, 0) > before), 'A line 0 → B line 0 arrives');
  };
  /** One B tick; waits for what B sent on line 1 to reach A's line 1. */
  const tickB = async (): Promise<void> => {
    const before = packetsIn(a, 1);
    cb.tickOnce();
    t.true(await turnsUntil(() => packetsIn(a, 1) > before), 'B line 1 → A line 1 arrives');
  };

  // a few ticks of silence both ways settle the latches
  for (let i = 0; i < 3; i++) {
    await tickA();
    await tickB();
  }
  heard.length = 0;
  const silentTicks = 2;
  for (let i = 0; i < silentTicks; i++) {
    await tickA();
    await tickB();
  }
  t.true(heard.length === silentTicks && heard.every((f) => rms(f) < 50), 'silence so far');

  // A's line 0 speaks from its next tick on: 1 kHz
  const tx = a.engine.openTxIvrChannel(0, { sampleRate: RATE });
  if (tx.result !== T.SipSuccess || !tx.channel) return t.fail(`openTxIvrChannel: ${T[tx.result]}`);
  tx.channel.write(tonePcm(1000, 0.2, RATE, 8000));
  await new Promise<void>((r) => setImmediate(r));

  // tick 1: A sends the first tone frame; B receives, mixes and sends it on in its tick 1;
  // A's line 1 decodes it on A's tick 2. Same-tick mixing in B: one A tick, not two.
  const ticks = 6;
  for (let i = 0; i < ticks; i++) {
    await tickA();
    await tickB();
  }
  await tickA();
  t.is(heard.length, silentTicks + ticks + 1, 'one frame per A tick, nothing more');
  const after = heard.slice(silentTicks);
  t.true(rms(after[0]!) < 50, 'A tick 1: the tone was only sent, not heard yet');
  const first = after.findIndex((f) => rms(f) > 500);
  t.is(first, 1, 'A tick 2 hears what it sent on tick 1: B mixed it in the tick it arrived');
  for (let i = 2; i < after.length; i++) {
    t.true(toneLevelDb(after[i]!, RATE, 1000) > -3, `A tick ${i + 1}: the 1 kHz tone, through B's conference`);
  }
  t.is(after[0]!.length, SPF);
  t.is(b.engine.getMediaClockStatistics().ticks, 3 + silentTicks + ticks, 'B ticked only when the test said so');
});
