/**
 * Media workers (`mediaWorkers`): calls whose media runs on worker threads (media floors) on
 * both engines. Each far line hears its own tone; DTMF, hold, recording, IVR and VU meters work
 * from any floor; a conference mixes members on different floors; a floor killed on purpose
 * ends its calls with SipMediaWorkerLost and the engine takes new calls. Serial: each test
 * starts four worker threads, and starting them all at once on a small machine starves the
 * engines' event loops (the overload guard then sheds the test's own calls).
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TelephonyReturnValue as T, MediaFormatAudio, type VoipMediaEngine } from '../index.js';
import type { MediaFloors } from '../engine/mediaWorkers.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { capture, listenFor, sendTone, tonePcm } from './helpers/audio.js';
import { dominantFrequency, toneLevelDb } from './helpers/analysis.js';
import { mediaWait } from './helpers/mediaTime.js';
import { until } from './helpers/observe.js';
import { native, peerTest } from './helpers/env.js';

/** The engine's floors (a test reaches into the run). */
function floors(e: VoipMediaEngine): MediaFloors {
  const f = e['run']?.mediaFloors;
  if (f === undefined) throw new Error('no media floors');
  return f;
}

/** Two engines with `lines` lines each and two media workers; B answers everything. */
async function pair(t: ExecutionContext, lines: number, extra: object = {}): Promise<[EngineUnderTest, EngineUnderTest]> {
  const a = await startEngine(t, { phoneName: 'alice', numPhoneLinesRequested: lines, mediaWorkers: 2, ...extra });
  const b = await startEngine(t, { phoneName: 'bob', numPhoneLinesRequested: lines, mediaWorkers: 2, ...extra });
  b.engine.on('SipOkToAnswerCall', (n) => b.engine.goOffHook(n.phoneLine));
  return [a, b];
}

/** A's line `i` calls B; resolves once B counts `i + 1` connected calls (B's lines fill in order). */
async function call(t: ExecutionContext, a: EngineUnderTest, b: EngineUnderTest, i: number): Promise<void> {
  t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, i, true, 10000), T.SipSuccess);
  await b.waitForCount(T.SipIncomingCallConnected, i + 1);
}

/** The frequency of the last half second a capture holds, once it holds that much. */
async function heard(c: ReturnType<typeof capture>): Promise<number> {
  await until(() => c.samples().length >= 8000, 20000);
  const s = c.samples();
  return dominantFrequency(s.subarray(Math.max(0, s.length - 4000)), 8000);
}

test('start parameter: mediaWorkers is an integer 0..64', async (t) => {
  const { VoipMediaEngine: Engine } = await import('../index.js');
  for (const bad of [-1, 1.5, 65, '2']) {
    const e = new Engine();
    t.is(await e.startSipTelephony({ ipAddressOfThisHost: '127.0.0.1', sipPort: 0, mediaWorkers: bad as number }), T.SipBadParameter, String(bad));
  }
});

test.serial('4 lines call 4 lines: balanced over two floors, each far line hears its own tone; DTMF, hold, recording, VU', async (t) => {
  const [a, b] = await pair(t, 4);
  for (let i = 0; i < 4; i++) await call(t, a, b, i);
  t.deepEqual(floors(a.engine).load(), [2, 2], 'A: the fewest-calls floor takes each call');
  t.deepEqual(floors(b.engine).load(), [2, 2], 'B: likewise');
  const freqs = [400, 700, 1000, 1300];
  const caps = freqs.map((_, i) => capture(b.engine, i));
  freqs.forEach((f, i) => sendTone(a.engine, i, f, 20));
  for (let i = 0; i < 4; i++) {
    const f = await heard(caps[i]!);
    t.true(Math.abs(f - freqs[i]!) < 25, `B line ${i} hears ${f} Hz, wants ${freqs[i]} Hz`);
  }
  for (const c of caps) c.close();

  // DTMF both ways, RFC 4733 on line 2 (floor 0) and line 1 (floor 1)
  t.is(a.engine.sendDtmf(2, '159#'), T.SipSuccess);
  t.is(b.engine.sendDtmf(1, '*0'), T.SipSuccess);
  const digitsB = await b.waitForCount(T.SipDtmfDigitEvent, 4, (n) => n.phoneLine === 2, 20000);
  t.is(digitsB.map((n) => n.data.digit).join(''), '159#');
  const digitsA = await a.waitForCount(T.SipDtmfDigitEvent, 2, (n) => n.phoneLine === 1, 20000);
  t.is(digitsA.map((n) => n.data.digit).join(''), '*0');

  // VU meter of a floor call: levels through the shared slot
  const vu: number[] = [];
  t.is(b.engine.setPhoneLineVuMeterCallback(3, (d) => vu.push(d.rxPeak), 100), T.SipSuccess);
  await until(() => vu.length >= 5, 20000);
  t.true(vu.some((p) => p > 1000), `VU rx peaks ${vu.slice(0, 8).join(',')}`);
  t.is(b.engine.setPhoneLineVuMeterCallback(3, null), T.SipSuccess);

  // recording on the floor: a WAV file with the far end's tone
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'linescape-wrec-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  t.is(b.engine.startPhoneLineRecording(0, true, false, dir), T.SipSuccess);
  await mediaWait(b.engine, 0, 1500);
  t.is(b.engine.stopPhoneLineRecording(0), T.SipSuccess);
  const done = await b.waitFor(T.SipCallRecordComplete);
  t.true(done.data.samples >= 8000, `${done.data.samples} samples recorded`);
  const file = fs.readFileSync(done.data.path!);
  const pcm = new Int16Array(file.buffer, file.byteOffset + 44, Math.floor((file.length - 44) / 2));
  t.true(toneLevelDb(pcm.subarray(2000), 8000, 400) > -12, 'the recording holds the 400 Hz the far end sent');

  // hold and resume re-direct the media of a floor call: an on-hold channel plays only while held
  const onHold = a.engine.openTxIvrChannel(3, { sampleRate: 8000, onHold: true });
  t.is(onHold.result, T.SipSuccess);
  onHold.channel!.write(tonePcm(500, 20, 8000, 6000));
  t.is(await a.engine.holdLine(3, true), T.SipSuccess);
  await mediaWait(a.engine, 3, 300);
  const held = await listenFor(b.engine.openRxIvrChannel(3, { sampleRate: 8000 }).channel!, 800);
  t.true(toneLevelDb(held, 8000, 500) > toneLevelDb(held, 8000, 1300), 'held: the on-hold data');
  t.is(await a.engine.holdLine(3, false), T.SipSuccess);
  await mediaWait(a.engine, 3, 300);
  const resumed = await listenFor(b.engine.openRxIvrChannel(3, { sampleRate: 8000 }).channel!, 800);
  t.true(toneLevelDb(resumed, 8000, 1300) > toneLevelDb(resumed, 8000, 500), 'resumed: the in-call tone again');

  // statistics come from the floor
  const stats = b.engine.getActiveCallInfo(0).statistics as { rx: { packetsIn: number } } | undefined;
  t.true((stats?.rx.packetsIn ?? 0) > 0, 'call statistics from the floor');
});

// SRTP needs libsrtp2: on a machine without it the test skips, naming its apt package
peerTest.serial('SRTP calls on floors carry their tones', [native('srtp2')], async (t) => {
  const [a, b] = await pair(t, 2, { srtpPolicy: 'mandatory' });
  for (let i = 0; i < 2; i++) await call(t, a, b, i);
  t.deepEqual(floors(b.engine).load(), [1, 1]);
  const caps = [capture(b.engine, 0), capture(b.engine, 1)];
  sendTone(a.engine, 0, 600, 20);
  sendTone(a.engine, 1, 1100, 20);
  t.true(Math.abs((await heard(caps[0]!)) - 600) < 25);
  t.true(Math.abs((await heard(caps[1]!)) - 1100) < 25);
});

test.serial('a conference whose members sit on different floors mixes', async (t) => {
  const [a, b] = await pair(t, 2);
  for (let i = 0; i < 2; i++) await call(t, a, b, i);
  t.deepEqual(floors(b.engine).load(), [1, 1], 'the two members are on different floors');
  t.is(b.engine.conferenceLine(0, true), T.SipSuccess);
  t.is(b.engine.conferenceLine(1, true), T.SipSuccess);
  // A's line 0 talks into B's conference; A's line 1 hears it through B's bridge
  const cap = capture(a.engine, 1);
  sendTone(a.engine, 0, 750, 20);
  const f = await heard(cap);
  t.true(Math.abs(f - 750) < 25, `the other member hears ${f} Hz through the bridge`);
});

test.serial('a floor killed on purpose ends its calls with SipMediaWorkerLost; the engine takes new calls', async (t) => {
  const [a, b] = await pair(t, 3);
  for (let i = 0; i < 2; i++) await call(t, a, b, i);
  const f = floors(b.engine);
  t.deepEqual(f.load(), [1, 1]);
  t.true(f.killFloor(0));
  const lost = await b.waitFor(T.SipMediaWorkerLost);
  t.is(lost.data.worker, 0);
  t.is(lost.phoneLine, 0, 'line 0 was on floor 0');
  await b.waitFor(T.SipCallComplete, (n) => n.phoneLine === 0);
  await a.waitFor(T.SipCallComplete, (n) => n.phoneLine === 0);
  t.is(b.of(T.SipMediaWorkerLost).length, 1, 'only the dead floor\'s call');
  // a new call: on the fresh floor 0 (the fewest calls), and it carries audio
  t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, 2, true, 10000), T.SipSuccess);
  await b.waitForCount(T.SipIncomingCallConnected, 3);
  t.deepEqual(f.load(), [1, 1]);
  const line = b.of(T.SipIncomingCallConnected).at(-1)!.phoneLine;
  const cap = capture(b.engine, line);
  sendTone(a.engine, 2, 900, 20);
  t.true(Math.abs((await heard(cap)) - 900) < 25, 'the new call carries its tone');
});

test.serial('startSipTelephony resolves with every floor ready: a call placed at once connects, carries audio and is not shed', async (t) => {
  const [a, b] = await pair(t, 1);
  t.deepEqual(floors(a.engine).readiness(), [true, true], 'A: both floors ready when the start resolved');
  t.deepEqual(floors(b.engine).readiness(), [true, true], 'B: likewise');
  // no pause: the first call goes out the moment both starts resolved
  await call(t, a, b, 0);
  const cap = capture(b.engine, 0);
  sendTone(a.engine, 0, 850, 20);
  t.true(Math.abs((await heard(cap)) - 850) < 25, 'the first call carries its tone');
  t.is(b.of(T.SipOverloadShedding).length, 0, 'B shed nothing');
  t.is(a.of(T.SipOverloadShedding).length, 0, 'A shed nothing');
});

test.serial('a replacement floor is given no call before it is ready: a call placed as the floor dies waits for it', async (t) => {
  const [a, b] = await pair(t, 2);
  await call(t, a, b, 0);
  const f = floors(b.engine);
  t.deepEqual(f.load(), [1, 0]);
  t.true(f.killFloor(0));
  await b.waitFor(T.SipMediaWorkerLost);
  // the replacement exists now (made before the loss is reported); record whether it was
  // ready each time a call's media was opened on it
  const replacement = (f as unknown as { floors: { isReady: boolean; post: (m: { t: string }) => void }[] }).floors[0]!;
  const readyAtOpen: boolean[] = [];
  const post = replacement.post.bind(replacement);
  replacement.post = (m) => {
    if (m.t === 'open') readyAtOpen.push(replacement.isReady);
    post(m);
  };
  t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, 1, true, 10000), T.SipSuccess);
  await b.waitForCount(T.SipIncomingCallConnected, 2);
  t.deepEqual(readyAtOpen, [true], 'the new call went to the replacement (fewest calls), once it was ready');
  t.deepEqual(f.readiness(), [true, true]);
  const line = b.of(T.SipIncomingCallConnected).at(-1)!.phoneLine;
  const cap = capture(b.engine, line);
  sendTone(a.engine, 1, 650, 20);
  t.true(Math.abs((await heard(cap)) - 650) < 25, 'the new call carries its tone');
});

test.serial('raw RTP on a floor: a drop decided per payload type holds for the following packets of that kind', async (t) => {
  const [a, b] = await pair(t, 1);
  t.is(a.engine.setAudioMediaFormats(0, [MediaFormatAudio.ULaw8k]), T.SipSuccess);
  await call(t, a, b, 0);
  let dropped = 0;
  // the handler drops A's sent audio (PCMU, payload type 0) and lets everything else through
  t.is(a.engine.enableRawRtpPacketAccess(0, true, (d) => {
    if (d.transmittingPacket && d.payloadType === 0) {
      d.processRtpPacket = false;
      dropped++;
    }
  }), T.SipSuccess);
  await until(() => dropped >= 3, 10000);
  const cap = capture(b.engine, 0);
  sendTone(a.engine, 0, 1000, 20);
  t.is(a.engine.sendDtmf(0, '47'), T.SipSuccess);
  const digits = await b.waitForCount(T.SipDtmfDigitEvent, 2, undefined, 20000);
  t.is(digits.map((n) => n.data.digit).join(''), '47', 'DTMF events (another payload type) pass');
  await until(() => cap.samples().length >= 8000, 20000);
  const s = cap.samples();
  t.true(toneLevelDb(s.subarray(s.length - 4000), 8000, 1000) < -30, 'the dropped audio never reaches B');
  const stats = a.engine.getActiveCallInfo(0).statistics as { tx: { rawDropped: number } } | undefined;
  t.true((stats?.tx.rawDropped ?? 0) > 0, 'the floor counts what it dropped');
});

test.serial('a repeated DTMF digit crosses from the floor as two events, in order', async (t) => {
  const [a, b] = await pair(t, 1);
  await call(t, a, b, 0);
  t.is(a.engine.sendDtmf(0, '1155##'), T.SipSuccess);
  const digits = await b.waitForCount(T.SipDtmfDigitEvent, 6, (n) => n.phoneLine === 0, 20000);
  t.is(digits.map((n) => n.data.digit).join(''), '1155##', 'each press is one event: nothing merged, nothing doubled');
});

test.serial('a hang-up does not wait on the floor: SipCallComplete carries the quality from the shared counters, with no synchronous statistics read', async (t) => {
  const [a, b] = await pair(t, 1);
  await call(t, a, b, 0);
  const cap = capture(b.engine, 0);
  sendTone(a.engine, 0, 700, 20);
  t.true(Math.abs((await heard(cap)) - 700) < 25, 'the call carries its tone');
  // count every synchronous statistics read the floors are asked for from here on
  let reads = 0;
  for (const engine of [a.engine, b.engine]) {
    for (const f of floors(engine)['floors']) {
      const read = f.readStats.bind(f);
      f.readStats = (id: number, timeoutMs?: number) => {
        reads++;
        return read(id, timeoutMs);
      };
    }
  }
  t.is(await a.engine.terminateCall(0, true, 5000), T.SipSuccess);
  const [doneA] = await a.waitForCount(T.SipCallComplete, 1);
  const [doneB] = await b.waitForCount(T.SipCallComplete, 1);
  for (const [who, n] of [['A', doneA], ['B', doneB]] as const) {
    const q = n?.data.quality;
    t.truthy(q, `${who}: SipCallComplete has data.quality`);
    t.is(q?.codec, 'PCMU', `${who}: the call's codec`);
    t.true((q?.mos ?? 0) > 4, `${who}: a clean loopback call scores above MOS 4 (${q?.mos})`);
  }
  t.is(reads, 0, 'no synchronous statistics read at the hang-up');
});
