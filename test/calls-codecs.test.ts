/**
 * Engine-to-engine calls in the newer codecs, with real sockets on 127.0.0.1: tones judged by
 * frequency in both directions, the RTP framing each codec must use on the wire, and RFC 4733
 * DTMF at the codec's RTP clock.
 */
import test from 'ava';
import { TelephonyReturnValue as T, MediaFormatAudio, DtmfMethod, LineState, type RawRtpData } from '../index.js';
import { setNativeLibraryDisabled } from '../ffi/loader.js';
import { native, peerTest } from './helpers/env.js';
import { inviteWithOffer, sipUdpClient } from './helpers/sipUdp.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { capture, sendTone } from './helpers/audio.js';
import { until } from './helpers/observe.js';
import { dominantFrequency, toneLevelDb } from './helpers/analysis.js';

/**
 * Dominant frequency of the last 0.5 s, and the tone's share of the power in the median 100 ms
 * block of it (dB). Per block, not over the whole stretch: one frame a loaded machine's jitter
 * buffer conceals or drops shifts the phase of everything after it, which one long Goertzel sum
 * would count as lost power although each stretch is a clean tone.
 */
function judge(samples: Int16Array, rate: number): { freq: number; shareDb: number } {
  const tail = samples.subarray(Math.max(0, samples.length - rate / 2));
  const freq = dominantFrequency(tail, rate);
  const step = rate / 10;
  const shares: number[] = [];
  for (let i = 0; i + step <= tail.length; i += step) shares.push(toneLevelDb(tail, rate, freq, i, i + step));
  shares.sort((x, y) => x - y);
  return { freq, shareDb: shares.length > 0 ? shares[shares.length >> 1]! : -Infinity };
}

/** Two engines with one line each, both restricted to `formats`, connected by a call from a to b. */
async function call(
  t: Parameters<typeof startEngine>[0],
  formatsA: MediaFormatAudio[],
  formatsB: MediaFormatAudio[] = formatsA,
): Promise<[EngineUnderTest, EngineUnderTest]> {
  const a = await startEngine(t, { numPhoneLinesRequested: 1, phoneName: 'alice' });
  const b = await startEngine(t, { numPhoneLinesRequested: 1, phoneName: 'bob' });
  t.is(a.engine.setAudioMediaFormats(0, formatsA), T.SipSuccess);
  t.is(b.engine.setAudioMediaFormats(0, formatsB), T.SipSuccess);
  b.engine.on('SipOkToAnswerCall', (n) => b.engine.goOffHook(n.phoneLine));
  t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, 0, true, 10_000), T.SipSuccess);
  await b.waitFor(T.SipIncomingCallConnected);
  return [a, b];
}

test('G.722 call between two engines: 5 kHz one way and 700 Hz the other, 16 kHz end to end', async (t) => {
  const [a, b] = await call(t, [MediaFormatAudio.G722]);
  t.is(a.engine.getActiveCallInfo(0).codec, 'G722');
  t.is(b.engine.getActiveCallInfo(0).codec, 'G722');
  const packets: RawRtpData[] = [];
  t.is(a.engine.enableRawRtpPacketAccess(0, true, (d) => packets.push(d)), T.SipSuccess);
  // 5 kHz exists only in a wideband call: narrowband G.711 could not carry it at all
  const capB = capture(b.engine, 0, 16000);
  const capA = capture(a.engine, 0, 16000);
  sendTone(a.engine, 0, 5000, 3, 16000);
  sendTone(b.engine, 0, 700, 3, 16000);
  // 1.5 s of received media each way, however long a loaded machine takes to play it
  await until(() => capA.samples().length >= 24000 && capB.samples().length >= 24000, 10000);
  t.is(a.engine.enableRawRtpPacketAccess(0, false), T.SipSuccess);
  const atB = judge(capB.samples(), 16000);
  const atA = judge(capA.samples(), 16000);
  t.log(`b hears ${atB.freq.toFixed(1)} Hz at ${atB.shareDb.toFixed(1)} dB of total, a hears ${atA.freq.toFixed(1)} Hz at ${atA.shareDb.toFixed(1)} dB (median 100 ms block)`);
  t.true(Math.abs(atB.freq - 5000) <= 50, `b hears ${atB.freq} Hz`);
  t.true(Math.abs(atA.freq - 700) <= 7, `a hears ${atA.freq} Hz`);
  t.true(atB.shareDb > -3 && atA.shareDb > -3, 'the tones dominate');

  // on the wire: payload type 9, 160 octets and 160 timestamp units per 20 ms (8000 Hz clock)
  const sent = packets.filter((d) => d.transmittingPacket && d.payloadType === 9);
  const got = packets.filter((d) => !d.transmittingPacket && d.payloadType === 9);
  t.true(sent.length > 20 && got.length > 20, `${sent.length} sent, ${got.length} received`);
  t.true(sent.every((d) => d.payload.length === 160), 'every payload is 160 octets');
  for (let i = 1; i < sent.length; i++) {
    const dSeq = (sent[i]!.sequence - sent[i - 1]!.sequence) & 0xffff;
    const dTs = (sent[i]!.timestamp - sent[i - 1]!.timestamp) >>> 0;
    if (dTs !== 160 * dSeq) {
      t.fail(`packet ${i}: timestamp advanced ${dTs} over ${dSeq} packets`);
      return;
    }
  }
});

test('G.722 call: RFC 4733 DTMF (telephone-event/8000 beside G.722) reaches the far end', async (t) => {
  const [a, b] = await call(t, [MediaFormatAudio.G722]);
  t.is(a.engine.sendDtmf(0, '5#', DtmfMethod.Rfc4733), T.SipSuccess);
  const digits = await b.waitForCount(T.SipDtmfDigitEvent, 2);
  t.deepEqual(
    digits.map((n) => n.data.digit),
    ['5', '#'],
  );
  t.true(digits.every((n) => n.data.method === 'rfc4733'));
});

test('mixed offers: the answerer follows the offerer\'s order among the codecs it allows', async (t) => {
  const [a, b] = await call(t, [MediaFormatAudio.G722, MediaFormatAudio.ULaw8k], [MediaFormatAudio.ULaw8k, MediaFormatAudio.G722]);
  t.is(a.engine.getActiveCallInfo(0).codec, 'G722');
  t.is(b.engine.getActiveCallInfo(0).codec, 'G722');
});

peerTest('G.729 call between two engines: 1 kHz one way and 440 Hz the other, two frames per 20 ms packet', [native('bcg729')], async (t) => {
  const [a, b] = await call(t, [MediaFormatAudio.G729]);
  t.is(a.engine.getActiveCallInfo(0).codec, 'G729');
  t.is(b.engine.getActiveCallInfo(0).codec, 'G729');
  const packets: RawRtpData[] = [];
  t.is(a.engine.enableRawRtpPacketAccess(0, true, (d) => packets.push(d)), T.SipSuccess);
  const capB = capture(b.engine, 0, 8000);
  const capA = capture(a.engine, 0, 8000);
  sendTone(a.engine, 0, 1000, 3, 8000);
  sendTone(b.engine, 0, 440, 3, 8000);
  await until(() => capA.samples().length >= 12000 && capB.samples().length >= 12000, 10000);
  t.is(a.engine.enableRawRtpPacketAccess(0, false), T.SipSuccess);
  const atB = judge(capB.samples(), 8000);
  const atA = judge(capA.samples(), 8000);
  t.log(`b hears ${atB.freq.toFixed(1)} Hz at ${atB.shareDb.toFixed(1)} dB of total, a hears ${atA.freq.toFixed(1)} Hz at ${atA.shareDb.toFixed(1)} dB (median 100 ms block)`);
  t.true(Math.abs(atB.freq - 1000) <= 10, `b hears ${atB.freq} Hz`);
  t.true(Math.abs(atA.freq - 440) <= 5, `a hears ${atA.freq} Hz`);
  t.true(atB.shareDb > -3 && atA.shareDb > -3, 'the tones dominate');
  const sent = packets.filter((d) => d.transmittingPacket && d.payloadType === 18);
  t.true(sent.length > 20, `${sent.length} G.729 packets sent`);
  t.true(sent.every((d) => d.payload.length === 20), 'every payload is two 10-octet frames');
});

test.serial('a line whose only codec lacks its library: makeCall says SipNativeLibraryMissing, an offer of it gets 488 with a Warning', async (t) => {
  setNativeLibraryDisabled('bcg729', true);
  t.teardown(() => setNativeLibraryDisabled('bcg729', false));
  const a = await startEngine(t, { numPhoneLinesRequested: 1, phoneName: 'alice' });
  const b = await startEngine(t, { numPhoneLinesRequested: 1, phoneName: 'bob' });
  t.is(a.engine.setAudioMediaFormats(0, [MediaFormatAudio.G729]), T.SipSuccess);
  t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, 0, true, 5000), T.SipNativeLibraryMissing);
  t.is(a.engine.getLineStatus(0).state, LineState.OnHook, 'the line stays free');

  // b's library is disabled too (one process), so an INVITE offering only G.729 gets 488
  const client = await sipUdpClient(t, b.port);
  const res = await inviteWithOffer(client, b.port, 'bob', 'm=audio 6000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n', 'g729-only');
  t.is(res.status, 488);
  t.regex(res.headers.get('Warning') ?? '', /^305 127\.0\.0\.1 "no common audio codec"$/);

  // with PCMU beside it the call goes through in PCMU
  t.is(a.engine.setAudioMediaFormats(0, [MediaFormatAudio.G729, MediaFormatAudio.ULaw8k]), T.SipSuccess);
  b.engine.on('SipOkToAnswerCall', (n) => b.engine.goOffHook(n.phoneLine));
  t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, 0, true, 5000), T.SipSuccess);
  t.is(a.engine.getActiveCallInfo(0).codec, 'PCMU');
});
