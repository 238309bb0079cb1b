/**
 * Conferences between engines on loopback: a hub engine conferences the calls of several
 * participant engines (PCMU, PCMA and Opus in one conference; G.722, PCMU, G.729 and Opus in another); each participant plays its own
 * tone and must hear every other participant's tone and not its own (mix-minus). Also two
 * groups at once, hold/resume and leave/join mid-conference without gaps for the others, and
 * the procedures' answers to bad input.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import wavefilePkg from 'wavefile';
import { VoipMediaEngine, TelephonyReturnValue as T, MediaFormatAudio as F } from '../index.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { capture, tonePcm, wait } from './helpers/audio.js';
import { findGaps, goertzelPower, toneLevelDb } from './helpers/analysis.js';
import { createCodec, type CodecName } from '../media/codecs.js';
import type { ConferenceFramesLost } from '../media/session.js';
import { FrameRing } from '../media/mediaFloorProtocol.js';
import { blocksWithoutTone, captureMedia, mediaStats, mediaWait, pathChanges, pathFigures, playedPastSender, receiveTrouble } from './helpers/mediaTime.js';
import { native, peerTest } from './helpers/env.js';

const RATE = 8000;
/** Away from each other, their harmonics and the DTMF frequencies. */
const FREQS = [400, 600, 1050, 1800, 2500];

interface Party {
  p: EngineUnderTest;
  freq: number;
  hubLine: number;
  /** Codec of its call: both the hub's line from it and its own line decode this. */
  codec: CodecName;
}

/** A hub with `formats.length` lines; participant i calls it in formats[i] and lands on line i. */
async function conference(t: ExecutionContext, formats: F[], hubParams = {}): Promise<{ hub: EngineUnderTest; parties: Party[] }> {
  // (the test engines' overload guard does not watch the shared event loop: test/helpers/engine.ts)
  const hub = await startEngine(t, { phoneName: 'hub', numPhoneLinesRequested: formats.length, ...hubParams });
  hub.engine.on('SipOkToAnswerCall', (n) => hub.engine.goOffHook(n.phoneLine));
  const parties: Party[] = [];
  for (let i = 0; i < formats.length; i++) {
    const p = await startEngine(t, { phoneName: `p${i}` });
    t.is(p.engine.setAudioMediaFormats(0, [formats[i]!]), T.SipSuccess);
    // the file's tests run at once, each with five or six engines of two media threads: on two
    // cores a set-up can take seconds, and this test judges the mix, not how fast a call connects
    t.is(await p.engine.makeCall('hub', '127.0.0.1', hub.port, 0, true, 20_000), T.SipSuccess, `party ${i} connects`);
    await hub.waitForCount(T.SipIncomingCallConnected, i + 1);
    parties.push({ p, freq: FREQS[i]!, hubLine: i, codec: hub.engine.getActiveCallInfo(i).codec as CodecName });
  }
  return { hub, parties };
}

function play(e: EngineUnderTest, freq: number, amplitude = 5000): void {
  const rc = e.engine.playWaveFile(0, toneWav(freq, amplitude), true);
  if (rc !== T.SipSuccess) throw new Error(`playWaveFile: ${T[rc]}`);
}

/**
 * A WAV of one second of `freq` (a whole number of cycles, so it loops without a seam), made
 * once per tone. A party plays it in a loop on its own media thread: a tone written once to an
 * IVR channel ran out on a loaded machine (the test's steps took longer than the tone lasted,
 * and the speaker's IVR Tx underran every tick of the capture), and one refilled from the test
 * would depend on the test thread keeping up.
 */
function toneWav(freq: number, amplitude: number): string {
  const key = `${freq}/${amplitude}`;
  const known = toneFiles.get(key);
  if (known !== undefined) return known;
  const file = path.join(toneDir(), `tone-${freq}-${amplitude}.wav`);
  const wav = new WaveFile();
  const pcm = tonePcm(freq, 1, RATE, amplitude);
  wav.fromScratch(1, RATE, '16', new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length / 2));
  writeFileSync(file, wav.toBuffer());
  toneFiles.set(key, file);
  return file;
}
const { WaveFile } = wavefilePkg;
const toneFiles = new Map<string, string>();
let tonesMade: string | undefined;
function toneDir(): string {
  tonesMade ??= mkdtempSync(path.join(tmpdir(), 'linescape-conference-'));
  return tonesMade;
}
test.after.always(() => {
  if (tonesMade !== undefined) rmSync(tonesMade, { recursive: true, force: true });
});

/**
 * `ms` of what party `e` hears, in media time: a loaded machine runs fewer media ticks than wall
 * time passes, so listening by the wall would capture less (or nothing).
 */
function listen(e: EngineUnderTest, ms: number): Promise<Int16Array> {
  const r = e.engine.openRxIvrChannel(0, { sampleRate: RATE });
  if (r.result !== T.SipSuccess || !r.channel) throw new Error(`openRxIvrChannel: ${T[r.result]}`);
  return captureMedia(r.channel, ms, RATE).finally(() => e.engine.closeRxIvrChannel(r.channel!));
}

/**
 * Resolves once party `e` (on the hub's line `hubLine`) has played everything the hub sent it
 * until now, so what it hears from then on was mixed after this call (see {@link troubleBeforeListening}).
 * With media workers a mix frame reaches the line's floor through a frame ring that can hold
 * {@link FrameRing.FRAMES} frames when the floor lagged behind the bridge, plus the reader's
 * cushion: frames mixed before this call may still wait there, to be sent after the hub's last
 * packet of now. So the hub's line first sends that many packets; what it sends after them was
 * mixed after this call.
 */
async function hubAudioPlayedOut(t: ExecutionContext, hub: EngineUnderTest, hubLine: number, e: EngineUnderTest): Promise<void> {
  const ringFrames = FrameRing.FRAMES + FrameRing.MAX_CUSHION;
  t.true((await mediaWait(hub.engine, hubLine, ringFrames * 20)) >= ringFrames, `line ${hubLine} sent what its frame ring could hold`);
  t.true(await playedPastSender(hub.engine, hubLine, e.engine, 0), `line ${hubLine}'s party played what the hub had sent`);
}

/** Level of each frequency in a capture, in dB. */
function levels(pcm: Int16Array): Map<number, number> {
  const m = new Map<number, number>();
  for (const f of FREQS) m.set(f, toneLevelDb(pcm, RATE, f));
  return m;
}

/**
 * `pcm` has every tone of `hear` and none of `notHear` (at least 25 dB below the weakest heard).
 * `trouble(f)` is the receive trouble measured meanwhile on the path of tone `f` (the hub's line
 * from its speaker, and the listener), as the number of 20 ms blocks it can spoil: where it is not
 * zero, a stalled machine may have damaged that tone, and the tone is judged block by block
 * instead: every 20 ms block must carry it within 10 dB of its share of the mix, except the
 * blocks the trouble explains (see {@link pathTrouble}); and the tones not to be heard are judged
 * against the share a heard tone has, not against a damaged one.
 */
function assertHears(t: ExecutionContext, who: string, pcm: Int16Array, hear: number[], notHear: number[], trouble: (f: number) => number = () => 0, detail: (f: number) => string = () => ''): void {
  const lv = levels(pcm);
  const text = [...lv].map(([f, db]) => `${f} Hz ${db.toFixed(1)} dB`).join(', ');
  // under load the stream may deliver a little less than the wall time listened
  t.true(pcm.length >= RATE / 4, `${who} captured ${pcm.length} samples`);
  const share = hear.length > 0 ? -10 * Math.log10(hear.length) : -30;
  const troubled = hear.some((f) => trouble(f) > 0);
  for (const f of hear) {
    const n = trouble(f);
    if (n === 0) t.true(lv.get(f)! > -45, `${who} hears ${f} Hz (${text}; ${detail(f)})`);
    else {
      const bad = blocksWithoutTone(pcm, RATE, f, 20, share - 10);
      t.true(bad <= n, `${who} hears ${f} Hz: ${bad} blocks without it, trouble explaining ${n} (${text}; ${detail(f)})`);
    }
  }
  // with nothing to hear, "not heard" means far below any tone in these tests
  const weakest = hear.length > 0 && !troubled ? Math.min(...hear.map((f) => lv.get(f)!)) : share;
  for (const f of notHear) t.true(lv.get(f)! < weakest - 25, `${who} does not hear ${f} Hz (${text}; ${detail(f)})`);
  const blocks = hear.map((f) => `${f} Hz ${blocksWithoutTone(pcm, RATE, f, 20, share - 10)}`).join(', ');
  t.log(`${who}: ${text}${troubled ? ` (trouble: ${hear.map((f) => `${f} Hz ${trouble(f)}`).join(', ')})` : ''}; blocks without: ${blocks}`);
}

/** Receive trouble so far on the path from each party's line at the hub to each listener. */
function troubleSnapshot(hub: EngineUnderTest, parties: Party[]): { hubIn: number[]; toBridge: number[]; fromBridge: number[]; at: number[]; hubFigures: number[][]; partyFigures: number[][] } {
  // each hub line's crossing losses from one read (both ways of the same moment)
  const crossed = parties.map((x) => crossing(hub.engine, x.hubLine));
  return {
    hubIn: parties.map((x) => receiveTrouble(hub.engine, x.hubLine)),
    toBridge: crossed.map((c) => c.toBridge),
    fromBridge: crossed.map((c) => c.fromBridge),
    at: parties.map((x) => receiveTrouble(x.p.engine, 0)),
    hubFigures: parties.map((x) => pathFigures(hub.engine, x.hubLine)),
    partyFigures: parties.map((x) => pathFigures(x.p.engine, 0)),
  };
}

/** The figures that changed on the path of tone `freq` to listener `i` between two snapshots, for a failure message. */
function pathDetail(parties: Party[], a: Snapshot, b: Snapshot, i: number, freq: number): string {
  const k = parties.findIndex((x) => x.freq === freq);
  const early = a.early !== undefined ? `, since ${oneLoss(parties[k]!.codec, freq).span} frames before: ${pathChanges(a.early.hubFigures[k]!, b.hubFigures[k]!)}` : '';
  return `speaker ${k} sent: ${pathChanges(a.partyFigures[k]!, b.partyFigures[k]!)}; hub line ${parties[k]!.hubLine} received: ${pathChanges(a.hubFigures[k]!, b.hubFigures[k]!)}${early}; listener ${i}: ${pathChanges(a.partyFigures[i]!, b.partyFigures[i]!)}`;
}

/**
 * With media workers: the conference frames a hub line lost crossing threads, each way (its
 * received audio on the way to the bridge, the bridge's mix on the way back); zeros without.
 */
function crossing(engine: VoipMediaEngine, line: number): ConferenceFramesLost {
  return mediaStats(engine, line)?.conferenceFramesLost ?? { toBridge: 0, fromBridge: 0 };
}

/** Frames of a's voice lost crossing threads at the hub on the way to b: a's line to the bridge, the bridge to b's line. */
function crossingLoss(hub: VoipMediaEngine, aLine: number, bLine: number): number {
  return crossing(hub, aLine).toBridge + crossing(hub, bLine).fromBridge;
}

/**
 * The snapshot to take before listening. Trouble at the hub reaches a listener only after the
 * path's delay (the listener's jitter buffer, packets not yet read), which a loaded machine
 * stretches: frames the hub concealed just before a plain snapshot would still be played during
 * the capture, uncounted. So the hub's figures are read first, then every party plays out what
 * the hub had sent by then, and only then are the listeners' figures read and the capture
 * started: every frame captured was mixed after the hub's figures were read.
 */
async function troubleBeforeListening(t: ExecutionContext, hub: EngineUnderTest, parties: Party[]): Promise<Snapshot> {
  // the hub's figures as of the longest span one loss spoils in any speaker's codec before now
  const spanMs = 20 * Math.max(...parties.map((x) => oneLoss(x.codec, x.freq).span));
  const early = troubleSnapshot(hub, parties);
  t.true((await mediaWait(hub.engine, parties[0]!.hubLine, spanMs)) >= spanMs / 20, `${spanMs} ms of the hub's media before listening`);
  const before = troubleSnapshot(hub, parties);
  await Promise.all(parties.map((x) => hubAudioPlayedOut(t, hub, x.hubLine, x.p)));
  return { ...before, at: troubleSnapshot(hub, parties).at, early };
}

/** A {@link troubleSnapshot}, with the one taken a loss's span earlier ({@link troubleBeforeListening}). */
type Snapshot = ReturnType<typeof troubleSnapshot> & { early?: ReturnType<typeof troubleSnapshot> };

/**
 * What one lost frame does to a tone at `freq` in `codec`, measured on the codec alone (no
 * network, no clock) in this run: a tone is coded, frame 25 is concealed instead of decoded, and
 * each later frame whose tone falls more than 10 dB below the loss-free decode's is spoiled.
 * `blocks`: the 20 ms blocks spoiled, the lost frame's own included, at least 2 (the lost frame
 * and, through a decoder's overlap, the next); `span`: frames from the loss to the last spoiled
 * one. A CELP codec (G.729) rebuilds its predictors slowly after an erasure: on a steady tone
 * one loss spoils it for about a second, so a loss before a capture begins still shows in it.
 */
function oneLoss(codec: CodecName, freq: number): { blocks: number; span: number } {
  const key = `${codec}/${freq}`;
  const known = spoiledCache.get(key);
  if (known !== undefined) return known;
  const clean = createCodec(codec);
  const lossy = createCodec(codec);
  if (clean === undefined || lossy === undefined) throw new Error(`codec ${codec} unavailable`);
  const n = clean.samplesPerFrame;
  const rate = clean.sampleRate;
  const pcm = new Int16Array(n);
  const payload = Buffer.alloc(4000);
  const a = new Int16Array(n);
  const b = new Int16Array(n);
  let spoiled = 0;
  let last = 0;
  for (let frame = 0; frame < 25 + LOSS_HORIZON; frame++) {
    for (let k = 0; k < n; k++) pcm[k] = Math.round(5000 * Math.sin((2 * Math.PI * freq * (frame * n + k)) / rate));
    const len = clean.encode(pcm, payload, 0);
    clean.decode(payload, 0, len, a);
    if (frame === 25) lossy.conceal(b);
    else lossy.decode(payload, 0, len, b);
    // the tone's own power, not its share: in the mix a weakened tone loses its share to the others
    if (frame >= 25 && !(goertzelPower(b, rate, freq) >= goertzelPower(a, rate, freq) / 10)) {
      spoiled++;
      last = frame - 25 + 1;
    }
  }
  clean.close();
  lossy.close();
  const result = { blocks: Math.max(2, spoiled), span: Math.max(2, last) };
  spoiledCache.set(key, result);
  return result;
}
/** Frames after a loss that {@link oneLoss} watches: longer than a capture (75 blocks). */
const LOSS_HORIZON = 100;
const spoiledCache = new Map<string, { blocks: number; span: number }>();

/** {@link oneLoss}'s blocks. */
function blocksSpoiledByOneLoss(codec: CodecName, freq: number): number {
  return oneLoss(codec, freq).blocks;
}

/**
 * Blocks the trouble on the path of `freq` to listener `i` between two snapshots can spoil: each
 * frame concealed or dropped at the hub's line from the speaker, or at the listener, times what
 * one lost frame spoils in that leg's codec ({@link blocksSpoiledByOneLoss}); with media workers
 * also each frame lost crossing threads at the hub (the speaker's voice to the bridge, the mix to
 * the listener's line), a frame of silence sent in the listener's codec.
 */
function pathTrouble(parties: Party[], a: Snapshot, b: Snapshot, i: number, freq: number): number {
  const k = parties.findIndex((x) => x.freq === freq);
  const speaker = parties[k]!;
  const listener = parties[i]!;
  // a loss at the hub spoils the speaker's tone for oneLoss().span frames: losses that long
  // before the capture count too (a.early, when the test took it)
  const hubFrom = a.early !== undefined && oneLoss(speaker.codec, freq).span > 2 ? a.early : a;
  return (
    (b.hubIn[k]! - hubFrom.hubIn[k]!) * blocksSpoiledByOneLoss(speaker.codec, freq) +
    (b.at[i]! - a.at[i]! + b.toBridge[k]! - a.toBridge[k]! + b.fromBridge[i]! - a.fromBridge[i]!) * blocksSpoiledByOneLoss(listener.codec, freq)
  );
}

async function allConferenced(t: ExecutionContext, hub: EngineUnderTest, parties: Party[]): Promise<void> {
  for (const { hubLine } of parties) t.is(hub.engine.conferenceLine(hubLine, true), T.SipSuccess);
  await hub.waitForCount(T.SipInConferenceOn, parties.length);
}

async function everyoneHearsTheOthers(t: ExecutionContext, hub: EngineUnderTest, parties: Party[]): Promise<void> {
  // long enough for a loaded machine: with media workers the tones play at wall speed
  for (const { p, freq } of parties) play(p, freq);
  await wait(1000);
  const t0 = await troubleBeforeListening(t, hub, parties);
  const heard = await Promise.all(parties.map(({ p }) => listen(p, 1500)));
  const t1 = troubleSnapshot(hub, parties);
  parties.forEach(({ freq }, i) => {
    const others = parties.filter((x) => x.freq !== freq).map((x) => x.freq);
    assertHears(t, `party ${i}`, heard[i]!, others, [freq], (f) => pathTrouble(parties, t0, t1, i, f), (f) => pathDetail(parties, t0, t1, i, f));
  });
}

test('three-party conference across PCMU, PCMA and Opus: everyone hears the others, not themself', async (t) => {
  const { hub, parties } = await conference(t, [F.ULaw8k, F.ALaw8k, F.Opus48k]);
  await allConferenced(t, hub, parties);
  t.deepEqual(
    parties.map((x) => hub.engine.getActiveCallInfo(x.hubLine).codec),
    ['PCMU', 'PCMA', 'opus'],
    'one line of each codec',
  );
  await everyoneHearsTheOthers(t, hub, parties);
});

peerTest('four-party conference across G.722, PCMU, G.729 and Opus: everyone hears the others, not themself', [native('bcg729')], async (t) => {
  const { hub, parties } = await conference(t, [F.G722, F.ULaw8k, F.G729, F.Opus48k]);
  await allConferenced(t, hub, parties);
  t.deepEqual(
    parties.map((x) => hub.engine.getActiveCallInfo(x.hubLine).codec),
    ['G722', 'PCMU', 'G729', 'opus'],
    'one line of each codec',
  );
  await everyoneHearsTheOthers(t, hub, parties);
});

test('five-party conference with mixed codecs', async (t) => {
  const { hub, parties } = await conference(t, [F.ULaw8k, F.ALaw8k, F.Opus48k, F.ULaw8k, F.Opus48k]);
  await allConferenced(t, hub, parties);
  await everyoneHearsTheOthers(t, hub, parties);
});

test('two conference groups stay separate; a line in both hears both', async (t) => {
  const { hub, parties } = await conference(t, [F.ULaw8k, F.ULaw8k, F.ALaw8k, F.Opus48k, F.ULaw8k]);
  const groups = [['sales'], ['sales'], ['support'], ['support'], ['sales', 'support']];
  groups.forEach((g, i) => t.is(hub.engine.setConferenceGroupIds(i, g), T.SipSuccess));
  await allConferenced(t, hub, parties);
  // long enough for a loaded machine: with media workers the tones play at wall speed
  for (const { p, freq } of parties) play(p, freq);
  await wait(1000);
  const t0 = await troubleBeforeListening(t, hub, parties);
  const heard = await Promise.all(parties.map(({ p }) => listen(p, 1500)));
  const t1 = troubleSnapshot(hub, parties);
  const tr = (i: number) => (f: number) => pathTrouble(parties, t0, t1, i, f);
  const why = (i: number) => (f: number) => pathDetail(parties, t0, t1, i, f);
  const [f0, f1, f2, f3, f4] = FREQS as [number, number, number, number, number];
  assertHears(t, 'sales 0', heard[0]!, [f1, f4], [f0, f2, f3], tr(0), why(0));
  assertHears(t, 'sales 1', heard[1]!, [f0, f4], [f1, f2, f3], tr(1), why(1));
  assertHears(t, 'support 2', heard[2]!, [f3, f4], [f0, f1, f2], tr(2), why(2));
  assertHears(t, 'support 3', heard[3]!, [f2, f4], [f0, f1, f3], tr(3), why(3));
  assertHears(t, 'both 4', heard[4]!, [f0, f1, f2, f3], [f4], tr(4), why(4));
});

test('hold, resume, leave and join mid-conference: the others hear no gap, the held line leaves the mix', async (t) => {
  const { hub, parties } = await conference(t, [F.ULaw8k, F.Opus48k, F.ALaw8k]);
  await allConferenced(t, hub, parties);
  const [a, b, c] = parties as [Party, Party, Party];
  // talk throughout: with media workers the floors play at wall speed while a loaded test
  // thread can take half a minute over the steps below
  play(a.p, a.freq);
  play(c.p, c.freq);
  await wait(800);
  const trouble0 = transportTrouble(hub, a.hubLine, b.hubLine, b.p);
  // b's capture starts with audio mixed after trouble0 (see troubleBeforeListening)
  await hubAudioPlayedOut(t, hub, b.hubLine, b.p);
  // b listens to the whole sequence: a's tone must never drop out
  const bHears = capture(b.p.engine, 0, RATE);
  await wait(500);
  t.is(await hub.engine.holdLine(c.hubLine, true), T.SipSuccess);
  await wait(1000);
  // what a hears next was mixed after the hold (however long the path takes under load)
  await hubAudioPlayedOut(t, hub, a.hubLine, a.p);
  const aWhileHeld = await listen(a.p, 1000);
  t.is(await hub.engine.holdLine(c.hubLine, false), T.SipSuccess);
  await wait(800);
  t.is(hub.engine.conferenceLine(c.hubLine, false), T.SipSuccess);
  await hub.waitFor(T.SipInConferenceOff, (n) => n.phoneLine === c.hubLine);
  await wait(600);
  await hubAudioPlayedOut(t, hub, a.hubLine, a.p);
  const aAfterLeave = await listen(a.p, 1000);
  t.is(hub.engine.conferenceLine(c.hubLine, true), T.SipSuccess);
  await wait(800);
  await hubAudioPlayedOut(t, hub, a.hubLine, a.p);
  const aAfterJoin = await listen(a.p, 1000);
  const pcm = bHears.samples();
  bHears.close();
  const trouble = transportTrouble(hub, a.hubLine, b.hubLine, b.p) - trouble0;
  assertHears(t, 'a while c is held', aWhileHeld, [], [c.freq, a.freq]);
  assertHears(t, 'a after c left', aAfterLeave, [], [c.freq, a.freq]);
  assertHears(t, 'a after c joined again', aAfterJoin, [c.freq], [a.freq]);
  // b's capture: a's tone throughout, no silent stretch longer than one 20 ms frame
  const skip = 200 * (RATE / 1000); // the stream's first frames are the jitter buffer filling
  const gaps = findGaps(pcm.subarray(skip), RATE, 10, -50);
  const what = `longest gap b heard: ${gaps.longestMs} ms at ${gaps.longestStartMs} ms (${gaps.gaps.length} gaps); transport and clock trouble meanwhile: ${trouble}`;
  t.log(what);
  // The mixer must add no gap. A loaded machine can still starve a jitter buffer or stall the
  // media clocks (all four engines share this process): a longer gap passes only when such
  // trouble was measured on the path a -> hub -> b in the same window.
  t.true(gaps.longestMs <= 20 || trouble > 0, what);
  t.true(toneLevelDb(pcm, RATE, a.freq) > -40, 'b heard a throughout');
});

/**
 * Counters that move when audio is lost on the way a -> hub -> b for reasons outside the mixer:
 * concealment, jitter-buffer underruns and drops at the hub's line from a and at b, and skipped
 * media-clock ticks of the two engines (late ticks are caught up and lose nothing). With media
 * workers the path also crosses threads at the hub (see {@link crossingLoss}), and the skipped
 * ticks of the main thread's clock, which runs the bridge, count too.
 */
function transportTrouble(hub: EngineUnderTest, aLine: number, bLine: number, b: EngineUnderTest): number {
  type S = { concealedFrames: number; jitter: { underruns: number; dropped: number } };
  const stats = (e: EngineUnderTest, line: number): S => e.engine.getActiveCallInfo(line).statistics as unknown as S;
  let n = 0;
  for (const s of [stats(hub, aLine), stats(b, 0)]) {
    n += s.concealedFrames + s.jitter.underruns + s.jitter.dropped;
  }
  n += crossingLoss(hub.engine, aLine, bLine);
  for (const e of [hub, b]) {
    const c = e.engine.getMediaClockStatistics();
    n += (c.skippedTicks ?? 0) + (c.mainThread?.skippedTicks ?? 0);
  }
  return n;
}

test('conference procedures answer bad input with codes', async (t) => {
  const e = await startEngine(t, { numPhoneLinesRequested: 2 });
  t.is(e.engine.conferenceLine(0, true), T.SipNoCallActive, 'no call on the line');
  t.is(e.engine.conferenceLine(5, true), T.SipBadPhoneLine);
  t.is(e.engine.conferenceLine(0, 'yes' as unknown as boolean), T.SipBadParameter);
  t.is(e.engine.conferenceLine(0, false), T.SipSuccess, 'leaving when not in it is harmless');
  t.is(e.engine.setConferenceGroupIds(0, []), T.SipBadParameter);
  t.is(e.engine.setConferenceGroupIds(0, [''] as string[]), T.SipBadParameter);
  t.is(e.engine.setConferenceGroupIds(0, 'a' as unknown as string[]), T.SipBadParameter);
  t.is(e.engine.setConferenceGroupIds(0, ['x'.repeat(65)]), T.SipBadParameter);
  t.is(e.engine.setConferenceGroupIds(0, ['a', 'b']), T.SipSuccess);
  t.is(e.engine.setLocalAudioLoopback(true), T.SipAudioOutFailure, 'no local device on a server');
  t.is(e.engine.enableDialTone(true), T.SipAudioOutFailure);
  t.is(e.engine.setPhoneLineVuMeterCallback(0, 'x' as unknown as null), T.SipBadParameter);
  // detached from the engine, an audio procedure still answers with a code
  t.is(VoipMediaEngine.prototype.enableBusySignal.call({} as never, true), T.SipInvalidHandle);
  t.is(VoipMediaEngine.prototype.setLocalAudioLoopback.call(undefined as never, true), T.SipInvalidHandle);
  t.is(VoipMediaEngine.prototype.conferenceLine.call({} as never, 0, true), T.SipInvalidHandle);
  const off = await startEngine(t, { callConferenceEnabled: false });
  t.is(off.engine.conferenceLine(0, true), T.SipNotEnabled);
});

test('a conferenced call that ends leaves the conference', async (t) => {
  const { hub, parties } = await conference(t, [F.ULaw8k, F.ULaw8k]);
  await allConferenced(t, hub, parties);
  t.is(hub.engine.conferenceLine(0, true), T.SipInConference, 'already in');
  t.is(hub.engine.setPhoneLineLoopBack(0, true), T.SipConferenceActive, 'no loopback in a conference');
  t.is(await parties[0]!.p.engine.terminateCall(0, true, 3000), T.SipSuccess);
  await hub.waitFor(T.SipInConferenceOff, (n) => n.phoneLine === 0);
  t.is(hub.engine.conferenceLine(0, true), T.SipNoCallActive);
});
