/**
 * `writeSdp` (sip/sdp.ts) against sdp-transform's `write`: the same text for every description
 * of the shape our offers and answers have, whatever the values, and sdp-transform's own answer
 * for any other shape.
 */
import test from 'ava';
import fc from 'fast-check';
import sdpTransform, { type MediaDescription, type SessionDescription } from 'sdp-transform';
import { writeSdp } from '../sip/sdpWrite.js';

/** sdp-transform fills in what it finds missing: each side gets its own copy. */
function both(sdp: SessionDescription): [string, string] {
  return [writeSdp(structuredClone(sdp)), sdpTransform.write(structuredClone(sdp))];
}

const token = fc.stringMatching(/^[A-Za-z0-9.+\-/_:=;]{0,12}$/);
const num = fc.oneof(fc.integer({ min: 0, max: 70000 }), fc.constantFrom(0, 65535));
/** Values as odd as a field can hold: numbers as strings, strings where numbers go. */
const loose = fc.oneof(num, token, num.map(String));

const rtpArb = fc.record(
  {
    payload: num,
    codec: token,
    rate: fc.option(fc.oneof(num, fc.constant(0)), { nil: undefined }),
    encoding: fc.option(fc.oneof(fc.constantFrom(1, 2), token), { nil: undefined }),
  },
  { requiredKeys: ['payload', 'codec'] },
);

const mediaArb: fc.Arbitrary<MediaDescription> = fc.record(
  {
    type: fc.constantFrom('audio', 'video', 'application'),
    port: num,
    protocol: fc.constantFrom('RTP/AVP', 'RTP/SAVP', 'UDP/TLS/RTP/SAVPF'),
    payloads: fc.oneof(token, fc.array(num, { maxLength: 4 }).map((a) => a.join(' '))),
    rtp: fc.array(rtpArb, { maxLength: 4 }),
    fmtp: fc.array(fc.record({ payload: num, config: token }), { maxLength: 3 }),
    ptime: fc.oneof(num, fc.constantFrom(10, 20, 30)),
    direction: fc.constantFrom('sendrecv', 'sendonly', 'recvonly', 'inactive'),
    rtcpMux: fc.constant('rtcp-mux'),
    invalid: fc.array(fc.record({ value: token.map((v) => `crypto:${v}`) }), { maxLength: 2 }),
  },
  { requiredKeys: ['type', 'port', 'protocol', 'payloads', 'rtp', 'fmtp'] },
) as fc.Arbitrary<MediaDescription>;

const sessionArb: fc.Arbitrary<SessionDescription> = fc.record(
  {
    version: fc.constantFrom(0, 1),
    origin: fc.record({
      username: token,
      sessionId: loose,
      sessionVersion: loose,
      netType: fc.constant('IN'),
      ipVer: fc.constantFrom(4, 6),
      address: fc.constantFrom('127.0.0.1', '::1', '10.0.0.7'),
    }),
    name: token,
    connection: fc.record({ version: fc.constantFrom(4, 6), ip: fc.constantFrom('127.0.0.1', '0.0.0.0', '::') }),
    timing: fc.record({ start: num, stop: num }),
    media: fc.array(mediaArb, { maxLength: 3 }),
  },
  { requiredKeys: ['version', 'origin', 'name', 'timing', 'media'] },
) as fc.Arbitrary<SessionDescription>;

test('property: writeSdp writes what sdp-transform writes, for every description of our shape', (t) => {
  fc.assert(
    fc.property(sessionArb, (sdp) => {
      const [ours, theirs] = both(sdp);
      return ours === theirs;
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('an offer as the engine writes one, and an answer rejecting a second stream', (t) => {
  const sdp: SessionDescription = {
    version: 0,
    origin: { username: '-', sessionId: '4711', sessionVersion: 2, netType: 'IN', ipVer: 4, address: '127.0.0.1' },
    name: 'LineScape',
    connection: { version: 4, ip: '127.0.0.1' },
    timing: { start: 0, stop: 0 },
    media: [
      {
        type: 'audio',
        port: 20000,
        protocol: 'RTP/SAVP',
        payloads: '0 8 111 101',
        rtp: [
          { payload: 0, codec: 'PCMU', rate: 8000 },
          { payload: 8, codec: 'PCMA', rate: 8000 },
          { payload: 111, codec: 'opus', rate: 48000, encoding: 2 },
          { payload: 101, codec: 'telephone-event', rate: 8000 },
        ],
        fmtp: [
          { payload: 111, config: 'useinbandfec=1' },
          { payload: 101, config: '0-16' },
        ],
        ptime: 20,
        direction: 'sendrecv',
        rtcpMux: 'rtcp-mux',
        invalid: [{ value: 'crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz' }],
      },
      { type: 'video', port: 0, protocol: 'RTP/AVP', payloads: '96', rtp: [], fmtp: [] },
    ],
  };
  const [ours, theirs] = both(sdp);
  t.is(ours, theirs);
  t.true(ours.includes('a=rtpmap:111 opus/48000/2\r\n'));
  t.true(ours.endsWith('m=video 0 RTP/AVP 96\r\n'));
});

test('any other field, or a missing one sdp-transform fills in, is written by sdp-transform', (t) => {
  const base: SessionDescription = {
    version: 0,
    origin: { username: '-', sessionId: 1, sessionVersion: 1, netType: 'IN', ipVer: 4, address: '127.0.0.1' },
    name: 's',
    timing: { start: 0, stop: 0 },
    media: [{ type: 'audio', port: 1, protocol: 'RTP/AVP', payloads: '0', rtp: [], fmtp: [] }],
  };
  const extra = [
    { ...base, bandwidth: [{ type: 'AS', limit: 64 }] },
    { ...base, media: [{ ...base.media[0]!, connection: { version: 4, ip: '10.0.0.1' }, maxptime: 40 }] },
    { ...base, name: undefined as unknown as string },
    { ...base, media: [{ ...base.media[0]!, payloads: undefined }] },
  ] as SessionDescription[];
  for (const sdp of extra) {
    const [ours, theirs] = both(sdp);
    t.is(ours, theirs);
  }
});
