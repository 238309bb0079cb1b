/**
 * DTMF between engines: RFC 4733 telephone-events, in-band tones (detected by Goertzel) and SIP
 * INFO, every digit 0-9 * # A-D, both directions.
 */
import test, { type ExecutionContext } from 'ava';
import { TelephonyReturnValue as T, DtmfMethod, MediaFormatAudio } from '../index.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { receiveTrouble, sentPackets } from './helpers/mediaTime.js';
import { until } from './helpers/observe.js';

const ALL = '0123456789*#ABCD';

async function connected(t: Parameters<typeof startEngine>[0], format = MediaFormatAudio.ULaw8k): Promise<[EngineUnderTest, EngineUnderTest]> {
  const a = await startEngine(t, { phoneName: 'alice' });
  const b = await startEngine(t, { phoneName: 'bob' });
  a.engine.setAudioMediaFormats(0, [format]);
  b.engine.on('SipOkToAnswerCall', (n) => b.engine.goOffHook(n.phoneLine));
  t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, 0, true, 5000), T.SipSuccess);
  await b.waitFor(T.SipIncomingCallConnected);
  return [a, b];
}

async function digitsReceived(e: EngineUnderTest, count: number, method: string): Promise<string> {
  const got = await e.waitForCount(T.SipDtmfDigitEvent, count, (n) => n.data.method === method, 20000);
  return got.map((n) => n.data.digit).join('');
}

/** In-band digits `to` has detected so far, in order. */
const inbandDigits = (to: EngineUnderTest): string =>
  to.of(T.SipDtmfDigitEvent)
    .filter((n) => n.data.method === 'inband')
    .map((n) => n.data.digit)
    .join('');

/**
 * Sends `digits` in-band from `from` to `to` and judges what `to` detected. In-band digits are
 * audio: on a loaded machine a stalled event loop makes the receiver conceal frames, and a
 * digit whose tone was damaged may go undetected. So: wait until all arrived or the sender has
 * played them all (100 ms tone + 50 ms gap each) plus a second of media; then every digit must
 * be there, in order, unless receive trouble was measured at `to` meanwhile, in which case the
 * digits heard must still be the sent ones in order with nothing added, and each missing digit
 * needs a damaged frame of its own.
 */
async function judgeInband(t: ExecutionContext, from: EngineUnderTest, to: EngineUnderTest, digits: string): Promise<void> {
  const before = inbandDigits(to);
  const trouble0 = receiveTrouble(to.engine, 0);
  const sent0 = sentPackets(from.engine, 0);
  const ticks = digits.length * 150 / 20 + 50;
  t.is(from.engine.sendDtmf(0, digits, DtmfMethod.InBand), T.SipSuccess);
  await until(() => inbandDigits(to).length - before.length >= digits.length || sentPackets(from.engine, 0) - sent0 >= ticks, 60000);
  const got = inbandDigits(to).slice(before.length);
  const trouble = receiveTrouble(to.engine, 0) - trouble0;
  if (got === digits || trouble === 0) {
    t.is(got, digits);
    return;
  }
  // a subsequence of what was sent: skipping missing digits, every digit heard matches in order
  let k = 0;
  let inOrder = true;
  for (const d of got) {
    while (k < digits.length && digits[k] !== d) k++;
    if (k === digits.length) inOrder = false;
    k++;
  }
  t.true(inOrder, `'${got}' is '${digits}' in order with nothing added`);
  t.true(digits.length - got.length <= trouble, `${digits.length - got.length} digits missing, ${trouble} frames of receive trouble`);
  t.log(`heard '${got}' of '${digits}' with ${trouble} frames of receive trouble`);
}

for (const [label, method, wire] of [
  ['RFC 4733', DtmfMethod.Rfc4733, 'rfc4733'],
  ['in-band', DtmfMethod.InBand, 'inband'],
  ['SIP INFO', DtmfMethod.SipInfo, 'info'],
] as const) {
  test(`${label} DTMF: every digit both ways, in order`, async (t) => {
    const [a, b] = await connected(t);
    if (method === DtmfMethod.InBand) {
      await judgeInband(t, a, b, ALL);
      await judgeInband(t, b, a, '#9*1');
      for (const n of b.of(T.SipDtmfDigitEvent)) t.is(n.phoneLine, 0);
      return;
    }
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
  await judgeInband(t, a, b, '159D');
});

test('sendDtmf rejects digits that are not DTMF', async (t) => {
  const [a] = await connected(t);
  t.is(a.engine.sendDtmf(0, '12x'), T.SipInvalidDtmfTone);
  t.is(a.engine.sendDtmf(0, ''), T.SipInvalidDtmfTone);
  t.is(a.engine.sendDtmf(0, '1', 9 as DtmfMethod), T.SipBadParameter);
});
