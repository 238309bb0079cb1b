/**
 * lines/singleCodecReoffer.ts (the `reofferSingleCodec` start option): which answers call for a
 * re-offer of the one codec in use, and the option's validation at start.
 */
import test from 'ava';
import { answeredCodecCount, singleCodecReoffer } from '../lines/singleCodecReoffer.js';
import { TelephonyReturnValue as T, VoipMediaEngine } from '../index.js';
import type { AudioFormatSpec } from '../sip/sdp.js';

const OURS: AudioFormatSpec[] = [
  { name: 'PCMU', payloadType: 0, clockRate: 8000 },
  { name: 'PCMA', payloadType: 8, clockRate: 8000 },
  { name: 'G722', payloadType: 9, clockRate: 8000 },
];

function answer(payloads: string, rtpmaps: string[] = []): string {
  return ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio 4000 RTP/AVP ${payloads}`, ...rtpmaps.map((r) => `a=rtpmap:${r}`), 'a=sendrecv', ''].join('\r\n');
}

test('answeredCodecCount counts voice codecs only (not telephone-event, not comfort noise)', (t) => {
  t.is(answeredCodecCount(answer('0')), 1);
  t.is(answeredCodecCount(answer('0 8', ['0 PCMU/8000', '8 PCMA/8000'])), 2);
  t.is(answeredCodecCount(answer('0 101 13', ['101 telephone-event/8000'])), 1);
  t.is(answeredCodecCount(answer('0 96', ['96 CN/8000'])), 1);
  t.is(answeredCodecCount('v=0\r\nm=video 4000 RTP/AVP 96\r\n'), 0);
  // only the first audio stream counts
  t.is(answeredCodecCount(`${answer('0')}m=audio 4002 RTP/AVP 0 8\r\n`), 1);
});

test('singleCodecReoffer: off, one codec, or an unknown codec → none; else the codec in use alone, in our numbering', (t) => {
  const two = answer('8 0', ['8 PCMA/8000', '0 PCMU/8000']);
  t.is(singleCodecReoffer(false, two, OURS, 8), undefined);
  t.is(singleCodecReoffer(true, answer('8'), OURS, 8), undefined);
  t.is(singleCodecReoffer(true, two, OURS, 99), undefined);
  t.deepEqual(singleCodecReoffer(true, two, OURS, 8), [OURS[1]]);
});

test('reofferSingleCodec must be a boolean', async (t) => {
  const engine = new VoipMediaEngine();
  for (const bad of [1, 'true', null]) {
    t.is(await engine.startSipTelephony({ ipAddressOfThisHost: '127.0.0.1', sipPort: 0, reofferSingleCodec: bad as unknown as boolean }), T.SipBadParameter, String(bad));
  }
});
