/**
 * DTMF between engines: RFC 4733 telephone-events, in-band tones (detected by Goertzel) and SIP
 * INFO, every digit 0-9 * # A-D, both directions.
 */
import test from 'ava';
import { TelephonyReturnValue as T, DtmfMethod, MediaFormatAudio, type Notification } from '../index.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';

const ALL = '0123456789*#ABCD';

async function connected(t: Parameters<typeof startEngine>[0], format = MediaFormatAudio.ULaw8k): Promise<[EngineUnderTest, EngineUnderTest]> {
  const a = await startEngine(t, { phoneName: 'alice' });
  const b = await startEngine(t, { phoneName: 'bob' });
  a.engine.setAudioMediaFormats(0, [format]);
  b.engine.on('SipOkToAnswerCall', (n: Notification) => b.engine.goOffHook(n.phoneLine));
  t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, 0, true, 5000), T.SipSuccess);
  await b.waitFor(T.SipIncomingCallConnected);
  return [a, b];
}

async function digitsReceived(e: EngineUnderTest, count: number, method: string): Promise<string> {
  const got = await e.waitForCount(T.SipDtmfDigitEvent, count, (n) => (n.data as { method: string }).method === method, 20000);
  return got.map((n) => (n.data as { digit: string }).digit).join('');
}

for (const [label, method, wire] of [
  ['RFC 4733', DtmfMethod.Rfc4733, 'rfc4733'],
  ['in-band', DtmfMethod.InBand, 'inband'],
  ['SIP INFO', DtmfMethod.SipInfo, 'info'],
] as const) {
  test(`${label} DTMF: every digit both ways, in order`, async (t) => {
    const [a, b] = await connected(t);
    t.is(a.engine.sendDtmf(0, ALL, method), T.SipSuccess);
    t.is(await digitsReceived(b, ALL.length, wire), ALL);
    t.is(b.engine.sendDtmf(0, '#9*1', method), T.SipSuccess);
    t.is(await digitsReceived(a, 4, wire), '#9*1');
    for (const n of b.of(T.SipDtmfDigitEvent)) t.is(n.phoneLine, 0);
    // RFC 4733 digits must not also be reported as in-band tones
    if (method === DtmfMethod.Rfc4733) t.is(b.of(T.SipDtmfDigitEvent).length, ALL.length);
  });
}

test('in-band DTMF through Opus (48 kHz, resampled for the detector)', async (t) => {
  const [a, b] = await connected(t, MediaFormatAudio.Opus48k);
  t.is(a.engine.getActiveCallInfo(0).codec, 'opus');
  t.is(a.engine.sendDtmf(0, '159D', DtmfMethod.InBand), T.SipSuccess);
  t.is(await digitsReceived(b, 4, 'inband'), '159D');
});

test('sendDtmf rejects digits that are not DTMF', async (t) => {
  const [a] = await connected(t);
  t.is(a.engine.sendDtmf(0, '12x'), T.SipInvalidDtmfTone);
  t.is(a.engine.sendDtmf(0, ''), T.SipInvalidDtmfTone);
  t.is(a.engine.sendDtmf(0, '1', 9 as DtmfMethod), T.SipBadParameter);
});
