/**
 * The SDP writer of our offers and answers (sip/sdp.ts `writeSdp`) writes exactly what
 * sdp-transform's `write` writes for the same description: generated descriptions of every
 * shape our offers and answers take (codecs with and without channels, fmtp, ptime, every
 * direction, rtcp-mux, crypto lines, rejected streams), and descriptions with a field it does
 * not write itself, which it hands to sdp-transform.
 */
import test from 'ava';
import fc from 'fast-check';
import sdpTransform from 'sdp-transform';
import type { MediaDescription, SessionDescription } from 'sdp-transform';
import { createOffer, defaultFormat, negotiateOffer, writeSdp, type LocalMedia } from '../sip/sdp.js';

const direction = fc.constantFrom<MediaDescription['direction']>(undefined, 'sendrecv', 'sendonly', 'recvonly', 'inactive');

const rtpEntry = fc.record(
  {
    payload: fc.integer({ min: 0, max: 127 }),
    codec: fc.constantFrom('PCMU', 'PCMA', 'opus', 'telephone-event', 'CN', 'G722', 'G729'),
    rate: fc.constantFrom(8000, 16000, 48000),
    encoding: fc.constantFrom(2, 1),
  },
  { requiredKeys: ['payload', 'codec', 'rate'] },
);

const media: fc.Arbitrary<MediaDescription> = fc
  .record({
    type: fc.constantFrom('audio', 'video'),
    port: fc.integer({ min: 0, max: 65535 }),
    protocol: fc.constantFrom('RTP/AVP', 'RTP/SAVP'),
    payloads: fc.array(fc.integer({ min: 0, max: 127 }), { minLength: 1, maxLength: 5 }).map((a) => a.join(' ')),
    rtp: fc.array(rtpEntry, { maxLength: 4 }),
    fmtp: fc.array(fc.record({ payload: fc.integer({ min: 0, max: 127 }), config: fc.constantFrom('0-16', 'annexb=no', 'minptime=10;useinbandfec=1') }), { maxLength: 3 }),
    ptime: fc.option(fc.constantFrom(10, 20, 30, 60), { nil: undefined }),
    direction,
    rtcpMux: fc.option(fc.constant('rtcp-mux'), { nil: undefined }),
    invalid: fc.option(fc.array(fc.record({ value: fc.constant('crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz') }), { minLength: 1, maxLength: 2 }), { nil: undefined }),
  })
  .map((m) => {
    // the builders leave optional attributes out rather than undefined
    const out = { ...m } as Record<string, unknown>;
    for (const k of ['ptime', 'direction', 'rtcpMux', 'invalid']) if (out[k] === undefined) delete out[k];
    return out as unknown as MediaDescription;
  });

const session: fc.Arbitrary<SessionDescription> = fc.record({
  version: fc.constant(0),
  origin: fc.record({
    username: fc.constantFrom('-', 'linescape'),
    sessionId: fc.bigInt({ min: 0n, max: 2n ** 62n }).map(String),
    sessionVersion: fc.integer({ min: 0, max: 2 ** 31 }),
    netType: fc.constant('IN'),
    ipVer: fc.constantFrom(4, 6),
    address: fc.constantFrom('127.0.0.1', '::1', '192.0.2.10'),
  }),
  name: fc.constantFrom('LineScape', 'x'),
  connection: fc.record({ version: fc.constantFrom(4, 6), ip: fc.constantFrom('127.0.0.1', '0.0.0.0', '::1', '::') }),
  timing: fc.record({ start: fc.nat(), stop: fc.nat() }),
  media: fc.array(media, { minLength: 1, maxLength: 3 }),
});

test('writeSdp writes what sdp-transform writes, for every description shape of our offers and answers', (t) => {
  fc.assert(
    fc.property(session, (s) => {
      const copy = structuredClone(s);
      return writeSdp(s) === sdpTransform.write(copy);
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('writeSdp hands a description with a field it does not write to sdp-transform', (t) => {
  const s: SessionDescription = {
    version: 0,
    origin: { username: '-', sessionId: '1', sessionVersion: 2, netType: 'IN', ipVer: 4, address: '127.0.0.1' },
    name: 'LineScape',
    timing: { start: 0, stop: 0 },
    connection: { version: 4, ip: '127.0.0.1' },
    bandwidth: [{ type: 'AS', limit: 64 }],
    media: [{ type: 'audio', port: 4000, protocol: 'RTP/AVP', payloads: '0', rtp: [{ payload: 0, codec: 'PCMU', rate: 8000 }], fmtp: [], maxptime: 40 }],
  };
  const out = writeSdp(structuredClone(s));
  t.is(out, sdpTransform.write(structuredClone(s)));
  t.true(out.includes('b=AS:64\r\n'));
  t.true(out.includes('a=maxptime:40\r\n'));
});

test('an offer and its answer read back as the same streams through sdp-transform', (t) => {
  const local = (port: number): LocalMedia => ({
    address: '127.0.0.1',
    port,
    formats: [defaultFormat('opus'), defaultFormat('PCMU'), defaultFormat('PCMA')],
    telephoneEvent: true,
    direction: 'sendrecv',
    comfortNoise: true,
    sessionId: '12345',
    sessionVersion: 1,
  });
  const offer = createOffer(local(4000));
  const parsedOffer = sdpTransform.parse(offer);
  t.is(sdpTransform.write(parsedOffer), offer);
  const answer = negotiateOffer(offer, local(5000));
  if (!answer.ok) return t.fail(answer.detail);
  t.is(sdpTransform.write(sdpTransform.parse(answer.answer)), answer.answer);
  t.regex(answer.answer, /^m=audio 5000 RTP\/AVP 111 [\d ]+\r\na=rtpmap:111 opus\/48000\/2\r\n/m);
});
