/**
 * SRTP calls between the engine and baresip 1.0 with its `srtp` module (libre's own SRTP, so a
 * second implementation beside libsrtp2): both directions, mandatory (RTP/SAVP) and best effort
 * (RTP/AVP with a=crypto), tones judged by frequency both ways; and a baresip offering plain RTP
 * to a mandatory engine is refused with 488.
 * @module
 */
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { ExecutionContext } from 'ava';
import { TelephonyReturnValue as T, MediaFormatAudio, type SrtpPolicy } from '../index.js';
import { dominantFrequency } from './helpers/analysis.js';
import { startBaresip, readWav, type BaresipHandle } from './helpers/baresip.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { native, peerTest, peersDir } from './helpers/env.js';

const TONE_440 = path.join(peersDir, 'audio', 'tone440.wav');
const TONE_1K = path.join(peersDir, 'audio', 'tone1k.wav');
const ENGINE_USER = 'linescape';
const NEEDS = ['baresip', 'sox', native('srtp2')] as const;

/** The first `n` samples the engine receives on `line` (after 0.5 s skipped), through its Rx IVR channel. */
function receive(eut: EngineUnderTest, line: number, n: number): Promise<Int16Array> {
  const r = eut.engine.openRxIvrChannel(line, { sampleRate: 8000 });
  if (r.result !== T.SipSuccess || r.channel === undefined) throw new Error(`openRxIvrChannel: ${T[r.result]}`);
  const channel: Readable = r.channel;
  const skip = 4000;
  const chunks: Buffer[] = [];
  let bytes = 0;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${bytes / 2} samples received`)), 30_000);
    channel.on('error', () => undefined);
    channel.on('data', (c: Buffer) => {
      chunks.push(c);
      bytes += c.length;
      if (bytes < 2 * (skip + n)) return;
      clearTimeout(timer);
      eut.engine.closeRxIvrChannel(channel);
      const b = Buffer.concat(chunks);
      const pcm = new Int16Array(b.length >> 1);
      for (let i = 0; i < pcm.length; i++) pcm[i] = b.readInt16LE(2 * i);
      resolve(pcm.subarray(skip, skip + n));
    });
  });
}

/** baresip's recording of the (ended) call holds 1 kHz. */
async function assertBaresipHeard1k(t: ExecutionContext, peer: BaresipHandle): Promise<void> {
  const files = await peer.recordings(10_000);
  t.is(files.length, 1, `baresip recordings: ${files.join(', ') || '(none)'}`);
  const wav = readWav(files[0]!);
  const ch0 = wav.samples[0]!;
  const pcm = ch0.subarray(Math.round(0.5 * wav.sampleRate), ch0.length - Math.round(0.1 * wav.sampleRate));
  t.true(pcm.length >= wav.sampleRate, `recording of ${ch0.length} samples`);
  const f = dominantFrequency(pcm, wav.sampleRate);
  t.true(Math.abs(f - 1000) <= 10, `baresip heard ${f.toFixed(1)} Hz`);
}

async function engineWith(t: ExecutionContext, policy: SrtpPolicy): Promise<EngineUnderTest> {
  const eut = await startEngine(t, { phoneName: ENGINE_USER, srtpPolicy: policy });
  t.is(eut.engine.setAudioMediaFormats(0, [MediaFormatAudio.ULaw8k]), T.SipSuccess);
  return eut;
}

/** The call on `line` is SRTP with a suite, both ways error-free so far. */
function assertEncrypted(t: ExecutionContext, eut: EngineUnderTest, line: number): void {
  const info = eut.engine.getActiveCallInfo(line);
  t.true(info.encrypted, 'the call is encrypted');
  t.truthy(info.srtpSuite);
  t.log(`suite ${info.srtpSuite}`);
  const srtp = (info.statistics as { srtp?: { srtpAuthFailures: number; srtpReplays: number } } | undefined)?.srtp;
  t.is(srtp?.srtpAuthFailures, 0);
}

for (const [enginePolicy, mediaEnc] of [
  ['mandatory', 'srtp-mand'],
  ['optional', 'srtp'],
] as const) {
  peerTest(`baresip (${mediaEnc}) calls an engine with SRTP ${enginePolicy}: SRTP both ways, 440 Hz in, 1 kHz out`, NEEDS, async (t) => {
    const eut = await engineWith(t, enginePolicy);
    const peer = await startBaresip({ user: 'bob', codecs: 'PCMU', micWav: TONE_440, mediaEnc });
    t.teardown(() => peer.stop());
    eut.engine.on('SipOkToAnswerCall', (n) => eut.engine.goOffHook(n.phoneLine));
    await peer.dial(`sip:${ENGINE_USER}@127.0.0.1:${eut.port}`, 15);
    const line = (await eut.waitFor(T.SipIncomingCallConnected)).phoneLine;
    assertEncrypted(t, eut, line);
    t.is(eut.engine.playWaveFile(line, TONE_1K, true), T.SipSuccess);
    const heard = await receive(eut, line, 16000);
    const f = dominantFrequency(heard, 8000);
    t.true(Math.abs(f - 440) <= 10, `engine heard ${f.toFixed(1)} Hz`);
    await peer.hangup(15);
    await eut.waitFor(T.SipCallComplete);
    await assertBaresipHeard1k(t, peer);
  });

  peerTest(`an engine with SRTP ${enginePolicy} calls baresip (${mediaEnc}): SRTP both ways, 440 Hz in, 1 kHz out`, NEEDS, async (t) => {
    const eut = await engineWith(t, enginePolicy);
    const peer = await startBaresip({ user: 'alice', codecs: 'PCMU', micWav: TONE_440, mediaEnc, answerMode: 'auto' });
    t.teardown(() => peer.stop());
    t.is(await eut.engine.makeCall(peer.user, '127.0.0.1', peer.port, 0, true, 15_000), T.SipSuccess);
    const line = (await eut.waitFor(T.SipOutgoingCallConnected)).phoneLine;
    await peer.waitEvent('CALL_ESTABLISHED', 15);
    assertEncrypted(t, eut, line);
    t.is(eut.engine.playWaveFile(line, TONE_1K, true), T.SipSuccess);
    const heard = await receive(eut, line, 16000);
    const f = dominantFrequency(heard, 8000);
    t.true(Math.abs(f - 440) <= 10, `engine heard ${f.toFixed(1)} Hz`);
    t.is(await eut.engine.terminateCall(line, true, 5000), T.SipSuccess);
    await peer.waitEvent('CALL_CLOSED', 15);
    await assertBaresipHeard1k(t, peer);
  });
}

peerTest('baresip offering plain RTP to a mandatory engine is refused with 488', NEEDS, async (t) => {
  const eut = await engineWith(t, 'mandatory');
  const peer = await startBaresip({ user: 'bob', codecs: 'PCMU', micWav: TONE_440 });
  t.teardown(() => peer.stop());
  const err = await t.throwsAsync(peer.dial(`sip:${ENGINE_USER}@127.0.0.1:${eut.port}`, 15));
  t.regex(err?.message ?? '', /488/, 'baresip saw 488');
  t.deepEqual(eut.engine.getNumActiveCalls(), { result: T.SipSuccess, numActiveCalls: 0 });
});

peerTest('an engine with SRTP optional calls a plain baresip: falls back to plain RTP with audio', NEEDS, async (t) => {
  const eut = await engineWith(t, 'optional');
  const peer = await startBaresip({ user: 'alice', codecs: 'PCMU', micWav: TONE_440, answerMode: 'auto' });
  t.teardown(() => peer.stop());
  t.is(await eut.engine.makeCall(peer.user, '127.0.0.1', peer.port, 0, true, 15_000), T.SipSuccess);
  const line = (await eut.waitFor(T.SipOutgoingCallConnected)).phoneLine;
  t.false(eut.engine.getActiveCallInfo(line).encrypted);
  const heard = await receive(eut, line, 8000);
  t.true(Math.abs(dominantFrequency(heard, 8000) - 440) <= 10);
  t.is(await eut.engine.terminateCall(line, true, 5000), T.SipSuccess);
});
