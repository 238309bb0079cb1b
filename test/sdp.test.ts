/**
 * SDP offer/answer (sip/sdp.ts): round trips between two LocalMedia, real-world offers stored in
 * test/fixtures/sdp (LF line ends on disk, also fed with CRLF), hold and resume in every style,
 * the 400/488 failures, and property tests that no input makes the negotiation throw.
 */
import test from 'ava';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createOffer,
  defaultFormat,
  describeSdp,
  isSameRemoteVersion,
  negotiateAnswer,
  negotiateOffer,
  type AudioCodecName,
  type LocalMedia,
  type MediaDirection,
  type NegotiatedMedia,
  type OfferNegotiation,
  type AnswerNegotiation,
} from '../sip/sdp.js';

// dist/test/x.js → <repo>/test/fixtures/sdp
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures', 'sdp');
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');
const crlf = (s: string): string => s.replace(/\r?\n/g, '\r\n');

function local(overrides: Partial<LocalMedia> & { codecs?: AudioCodecName[] } = {}): LocalMedia {
  const { codecs, ...rest } = overrides;
  return {
    address: '192.0.2.10',
    port: 40000,
    formats: (codecs ?? ['PCMU', 'PCMA', 'opus']).map(defaultFormat),
    telephoneEvent: true,
    direction: 'sendrecv',
    sessionId: '1000',
    sessionVersion: 1,
    ...rest,
  };
}

const alice = (o: Partial<LocalMedia> & { codecs?: AudioCodecName[] } = {}) => local({ address: '192.0.2.10', port: 40000, sessionId: '111', ...o });
const bob = (o: Partial<LocalMedia> & { codecs?: AudioCodecName[] } = {}) => local({ address: '198.51.100.20', port: 50000, sessionId: '222', ...o });

function okOffer(t: { fail(m: string): void }, r: OfferNegotiation): { answer: string; media: NegotiatedMedia } {
  if (!r.ok) {
    t.fail(`negotiateOffer failed: ${r.status} ${r.detail}`);
    throw new Error('unreachable');
  }
  return r;
}

function okAnswer(t: { fail(m: string): void }, r: AnswerNegotiation): NegotiatedMedia {
  if (!r.ok) {
    t.fail(`negotiateAnswer failed: ${r.status} ${r.detail}`);
    throw new Error('unreachable');
  }
  return r.media;
}

/** Full exchange: A offers, B answers, A reads the answer. */
function exchange(t: { fail(m: string): void }, a: LocalMedia, b: LocalMedia) {
  const offer = createOffer(a);
  const { answer, media: atB } = okOffer(t, negotiateOffer(offer, b));
  const atA = okAnswer(t, negotiateAnswer(answer, a));
  return { offer, answer, atA, atB };
}

const mLines = (sdp: string): string[] => sdp.split('\r\n').filter((l) => l.startsWith('m='));
const lines = (sdp: string): string[] => sdp.split('\r\n');

// ---------------------------------------------------------------------------------------------
// createOffer

test('offer: CRLF lines, rtpmap for static types, opus fmtp, both telephone-event clocks', (t) => {
  const offer = createOffer(alice({ codecs: ['opus', 'PCMU', 'PCMA'] }));
  t.true(offer.endsWith('\r\n'));
  t.false(/[^\r]\n/.test(offer));
  t.deepEqual(lines(offer).slice(0, 6), [
    'v=0',
    'o=- 111 1 IN IP4 192.0.2.10',
    's=LineScape',
    'c=IN IP4 192.0.2.10',
    't=0 0',
    'm=audio 40000 RTP/AVP 111 0 8 101 100',
  ]);
  for (const l of [
    'a=rtpmap:111 opus/48000/2',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=rtpmap:100 telephone-event/48000',
    'a=fmtp:111 minptime=10;useinbandfec=1',
    'a=fmtp:101 0-16',
    'a=fmtp:100 0-16',
    'a=ptime:20',
    'a=sendrecv',
  ]) {
    t.true(lines(offer).includes(l), l);
  }
  t.false(offer.includes('rtcp-mux'));
});

test('offer: G.711 only has just the 8000 Hz telephone-event; user name, session name, ptime, rtcp-mux', (t) => {
  const offer = createOffer(alice({ codecs: ['PCMA'], username: 'line3', sessionName: 'call', ptime: 30, rtcpMux: true }));
  t.true(lines(offer).includes('o=line3 111 1 IN IP4 192.0.2.10'));
  t.true(lines(offer).includes('s=call'));
  t.deepEqual(mLines(offer), ['m=audio 40000 RTP/AVP 8 101']);
  t.true(lines(offer).includes('a=ptime:30'));
  t.true(lines(offer).includes('a=rtcp-mux'));
  t.false(offer.includes('telephone-event/48000'));
});

test('offer: without telephoneEvent there is no event format', (t) => {
  const offer = createOffer(alice({ telephoneEvent: false }));
  t.deepEqual(mLines(offer), ['m=audio 40000 RTP/AVP 0 8 111']);
  t.false(offer.includes('telephone-event'));
});

test('offer: telephone-event payload types move when a codec already uses 101/100', (t) => {
  const a = alice({ formats: [{ ...defaultFormat('opus'), payloadType: 101 }, { ...defaultFormat('PCMU') }, { ...defaultFormat('PCMA'), payloadType: 8 }] });
  const offer = createOffer(a);
  t.deepEqual(mLines(offer), ['m=audio 40000 RTP/AVP 101 0 8 96 100']);
  t.true(lines(offer).includes('a=rtpmap:96 telephone-event/8000'));
  // and the answer to it still resolves to the right numbers
  const { atA } = exchange(t, a, bob({ codecs: ['PCMU'] }));
  t.is(atA.codec.name, 'PCMU');
  t.deepEqual(atA.telephoneEvent, { payloadType: 96, receivePayloadType: 96, clockRate: 8000 });
});

test('offer: no formats is a programming error', (t) => {
  t.throws(() => createOffer(alice({ formats: [] })), { instanceOf: RangeError });
});

// ---------------------------------------------------------------------------------------------
// Round trips

for (const codec of ['PCMU', 'PCMA', 'opus'] as const) {
  test(`round trip: ${codec} only`, (t) => {
    const { answer, atA, atB } = exchange(t, alice({ codecs: [codec] }), bob({ codecs: [codec] }));
    const pt = defaultFormat(codec).payloadType;
    const rate = codec === 'opus' ? 48000 : 8000;
    t.deepEqual(mLines(answer), [`m=audio 50000 RTP/AVP ${pt} ${codec === 'opus' ? 100 : 101}`]);
    for (const m of [atA, atB]) {
      t.is(m.codec.name, codec);
      t.is(m.codec.payloadType, pt);
      t.is(m.receivePayloadType, pt);
      t.is(m.codec.clockRate, rate);
      t.is(m.telephoneEvent?.clockRate, rate);
      t.is(m.ptime, 20);
      t.true(m.sending && m.receiving);
      t.false(m.remoteHold);
      t.is(m.rtcpMux, false);
    }
    t.is(atB.remoteAddress, '192.0.2.10');
    t.is(atB.remotePort, 40000);
    t.is(atB.remoteRtcpPort, 40001);
    t.is(atA.remoteAddress, '198.51.100.20');
    t.is(atA.remotePort, 50000);
    t.is(atA.remoteRtcpPort, 50001);
    t.is(atA.sessionId, '222');
    t.is(atB.sessionId, '111');
    if (codec === 'opus') {
      t.is(atA.codec.channels, 2);
      t.true(answer.includes('a=rtpmap:111 opus/48000/2'));
      t.is(atB.codec.fmtp, 'minptime=10;useinbandfec=1');
    }
  });
}

test('round trip: the offerer preference wins over the answerer order', (t) => {
  const cases: [AudioCodecName[], AudioCodecName[], AudioCodecName][] = [
    [['PCMA', 'opus', 'PCMU'], ['PCMU', 'opus', 'PCMA'], 'PCMA'],
    [['PCMU', 'opus', 'PCMA'], ['PCMA', 'opus', 'PCMU'], 'PCMU'],
    [['opus', 'PCMA'], ['PCMA', 'PCMU', 'opus'], 'opus'],
    [['PCMU', 'opus'], ['opus', 'PCMA'], 'opus'], // PCMU not supported by B: next in A's list
    [['PCMA', 'PCMU'], ['PCMU'], 'PCMU'],
  ];
  for (const [a, b, expected] of cases) {
    const { answer, atA, atB } = exchange(t, alice({ codecs: a }), bob({ codecs: b }));
    t.is(atA.codec.name, expected, `${a.join(',')} vs ${b.join(',')}`);
    t.is(atB.codec.name, expected);
    t.is(mLines(answer)[0]!.split(' ').length, 5, 'one codec plus telephone-event in the answer');
  }
});

test('round trip: no codec in common is 488 Not Acceptable Here', (t) => {
  const r = negotiateOffer(createOffer(alice({ codecs: ['opus'] })), bob({ codecs: ['PCMU', 'PCMA'] }));
  t.like(r, { ok: false, status: 488, reason: 'Not Acceptable Here' });
});

test('telephone-event: 8000 Hz with G.711, 48000 Hz with opus, 8000 Hz as fallback for opus', (t) => {
  const g711 = exchange(t, alice({ codecs: ['PCMU', 'opus'] }), bob());
  t.deepEqual(g711.atB.telephoneEvent, { payloadType: 101, receivePayloadType: 101, clockRate: 8000 });
  t.deepEqual(g711.atA.telephoneEvent, { payloadType: 101, receivePayloadType: 101, clockRate: 8000 });
  t.true(g711.answer.includes('a=rtpmap:101 telephone-event/8000'));
  t.false(g711.answer.includes('telephone-event/48000'));

  const opus = exchange(t, alice({ codecs: ['opus', 'PCMU'] }), bob());
  t.deepEqual(opus.atB.telephoneEvent, { payloadType: 100, receivePayloadType: 100, clockRate: 48000 });
  t.deepEqual(opus.atA.telephoneEvent, { payloadType: 100, receivePayloadType: 100, clockRate: 48000 });
  t.false(opus.answer.includes('telephone-event/8000'));

  // an offer with opus but only an 8000 Hz event clock: use it rather than lose DTMF
  const offer = createOffer(alice({ codecs: ['opus'] })).replace(/ 101 100\r\n/, ' 101\r\n').replace(/a=(rtpmap|fmtp):100 [^\r]*\r\n/g, '');
  const { media } = okOffer(t, negotiateOffer(offer, bob()));
  t.is(media.codec.name, 'opus');
  t.deepEqual(media.telephoneEvent, { payloadType: 101, receivePayloadType: 101, clockRate: 8000 });
});

test('telephone-event: left out when either side does not want it', (t) => {
  const noB = exchange(t, alice(), bob({ telephoneEvent: false }));
  t.is(noB.atA.telephoneEvent, undefined);
  t.is(noB.atB.telephoneEvent, undefined);
  t.false(noB.answer.includes('telephone-event'));
  const noA = exchange(t, alice({ telephoneEvent: false }), bob());
  t.is(noA.atA.telephoneEvent, undefined);
  t.is(noA.atB.telephoneEvent, undefined);
});

test('round trip: IPv6 on both sides', (t) => {
  const a = alice({ address: '2001:db8::10', codecs: ['opus', 'PCMU'] });
  const b = bob({ address: '2001:db8:0:1::20' });
  const { offer, answer, atA, atB } = exchange(t, a, b);
  t.true(lines(offer).includes('o=- 111 1 IN IP6 2001:db8::10'));
  t.true(lines(offer).includes('c=IN IP6 2001:db8::10'));
  t.true(lines(answer).includes('c=IN IP6 2001:db8:0:1::20'));
  t.is(atB.remoteAddress, '2001:db8::10');
  t.is(atA.remoteAddress, '2001:db8:0:1::20');
  t.is(atA.codec.name, 'opus');
});

test('an IPv6-only offer to an IPv4 answerer is not acceptable', (t) => {
  const r = negotiateOffer(createOffer(alice({ address: '2001:db8::10' })), bob());
  t.like(r, { ok: false, status: 488 });
});

test('answer: a renumbered dynamic payload type is accepted and sent with the answer number', (t) => {
  const a = alice({ codecs: ['opus', 'PCMU'] });
  const answer = crlf(`v=0
o=- 5 5 IN IP4 198.51.100.20
s=-
c=IN IP4 198.51.100.20
t=0 0
m=audio 50000 RTP/AVP 96 97
a=rtpmap:96 opus/48000/2
a=fmtp:96 useinbandfec=1
a=rtpmap:97 telephone-event/48000
`);
  const m = okAnswer(t, negotiateAnswer(answer, a));
  t.is(m.codec.name, 'opus');
  t.is(m.codec.payloadType, 96);
  t.is(m.codec.fmtp, 'useinbandfec=1');
  t.is(m.receivePayloadType, 111);
  t.deepEqual(m.telephoneEvent, { payloadType: 97, receivePayloadType: 100, clockRate: 48000 });
});

test('answer: the first format of the answer that we offered wins', (t) => {
  const a = alice({ codecs: ['PCMU', 'PCMA'] });
  const answer = crlf(`v=0
o=- 5 5 IN IP4 198.51.100.20
s=-
c=IN IP4 198.51.100.20
t=0 0
m=audio 50000 RTP/AVP 18 8 0
a=rtpmap:18 G729/8000
`);
  const m = okAnswer(t, negotiateAnswer(answer, a));
  t.is(m.codec.name, 'PCMA');
  t.is(m.codec.payloadType, 8);
  t.is(m.telephoneEvent, undefined);
  t.is(m.remoteDirection, 'sendrecv');
});

// ---------------------------------------------------------------------------------------------
// Real-world offers

for (const ending of ['LF', 'CRLF'] as const) {
  const read = (name: string) => (ending === 'CRLF' ? crlf(fixture(name)) : fixture(name));

  test(`fixture (${ending}): baresip offer, opus first, rtcp-mux`, (t) => {
    const offer = read('baresip-offer.sdp');
    const plain = okOffer(t, negotiateOffer(offer, bob()));
    t.is(plain.media.codec.name, 'opus');
    t.is(plain.media.codec.payloadType, 96);
    t.is(plain.media.codec.fmtp, 'stereo=1;sprop-stereo=1');
    t.deepEqual(plain.media.telephoneEvent, { payloadType: 101, receivePayloadType: 101, clockRate: 8000 });
    t.is(plain.media.remoteAddress, '127.0.0.1');
    t.is(plain.media.remotePort, 10318);
    t.is(plain.media.rtcpMux, false, 'rtcp-mux is declined unless we opt in');
    t.is(plain.media.remoteRtcpPort, 10319);
    t.false(plain.answer.includes('rtcp-mux'));
    t.deepEqual(mLines(plain.answer), ['m=audio 50000 RTP/AVP 96 101']);
    t.true(lines(plain.answer).includes('a=rtpmap:96 opus/48000/2'));
    t.is(plain.media.sessionId, '1423598771');
    t.is(plain.media.sessionVersion, '3281704590');

    const mux = okOffer(t, negotiateOffer(offer, bob({ rtcpMux: true })));
    t.true(mux.media.rtcpMux);
    t.is(mux.media.remoteRtcpPort, 10318);
    t.true(lines(mux.answer).includes('a=rtcp-mux'));

    const g711 = okOffer(t, negotiateOffer(offer, bob({ codecs: ['PCMA', 'PCMU'] })));
    t.is(g711.media.codec.name, 'PCMU', 'offer order: 96 0 8');
  });

  test(`fixture (${ending}): SIPp uac-pcmu-stream offer and its answer`, (t) => {
    const { answer, media } = okOffer(t, negotiateOffer(read('sipp-uac-pcmu-stream.sdp'), bob()));
    t.is(media.codec.name, 'PCMU');
    t.is(media.codec.payloadType, 0);
    t.deepEqual(media.telephoneEvent, { payloadType: 101, receivePayloadType: 101, clockRate: 8000 });
    t.is(media.remoteAddress, '127.0.0.1');
    t.is(media.remotePort, 6300);
    t.is(media.ptime, 20);
    t.deepEqual(mLines(answer), ['m=audio 50000 RTP/AVP 0 101']);
    // SIPp's offer is what createOffer writes for PCMU + events, so our offerer side reads the answer too
    const sippLike = local({ address: '127.0.0.1', port: 6300, codecs: ['PCMU'] });
    const back = okAnswer(t, negotiateAnswer(answer, sippLike));
    t.is(back.codec.payloadType, 0);
    t.is(back.telephoneEvent?.payloadType, 101);
  });

  test(`fixture (${ending}): SIPp UAS answer (no direction, no events) to our offer`, (t) => {
    const m = okAnswer(t, negotiateAnswer(read('sipp-uas-answer.sdp'), alice({ codecs: ['PCMA', 'PCMU'] })));
    t.is(m.codec.name, 'PCMU');
    t.is(m.receivePayloadType, 0);
    t.is(m.telephoneEvent, undefined);
    t.is(m.remoteAddress, '127.0.0.1');
    t.is(m.remotePort, 6000);
    t.is(m.remoteDirection, 'sendrecv');
    t.is(m.sessionVersion, '2353687637');
  });

  test(`fixture (${ending}): Kamailio-relayed offer, media-level c= and a=rtcp`, (t) => {
    const { media } = okOffer(t, negotiateOffer(read('kamailio-relayed-offer.sdp'), bob({ codecs: ['PCMU', 'PCMA'] })));
    t.is(media.codec.name, 'PCMA', 'first in the offer, although B prefers PCMU');
    t.is(media.remoteAddress, '203.0.113.40', 'media-level c= overrides the session one');
    t.is(media.remoteRtcpAddress, '203.0.113.40');
    t.is(media.remoteRtcpPort, 35121);
    t.is(media.ptime, 20);
    t.is(media.telephoneEvent?.payloadType, 101);
  });

  test(`fixture (${ending}): Linphone-like offer with many unsupported codecs first`, (t) => {
    const { answer, media } = okOffer(t, negotiateOffer(read('linphone-many-codecs.sdp'), bob()));
    t.is(media.codec.name, 'PCMA');
    t.is(media.codec.payloadType, 8);
    t.deepEqual(mLines(answer), ['m=audio 50000 RTP/AVP 8 101']);
    t.false(answer.includes('G729'));
    t.false(answer.includes('CN/'));
  });

  test(`fixture (${ending}): video first, audio second`, (t) => {
    const { answer, media } = okOffer(t, negotiateOffer(read('video-first.sdp'), bob()));
    t.deepEqual(mLines(answer), ['m=video 0 RTP/AVP 96 97', 'm=audio 50000 RTP/AVP 0 101']);
    t.is(media.codec.name, 'PCMU');
    t.is(media.remotePort, 7078);
    // the rejected video line carries no attributes
    const videoBlock = answer.split('m=video')[1]!.split('m=audio')[0]!;
    t.false(videoBlock.includes('a='));
  });

  test(`fixture (${ending}): RFC 2543 hold (c=0.0.0.0) from a gateway`, (t) => {
    const { answer, media } = okOffer(t, negotiateOffer(read('rfc2543-hold.sdp'), bob()));
    t.true(media.remoteHold);
    t.is(media.remoteDirection, 'sendonly');
    t.is(media.localDirection, 'recvonly');
    t.false(media.sending, 'nothing may be sent to 0.0.0.0');
    t.true(media.receiving);
    t.true(lines(answer).includes('a=recvonly'));
    t.true(lines(answer).includes('c=IN IP4 198.51.100.20'));
  });

  test(`fixture (${ending}): SRTP-only offer is 488`, (t) => {
    t.like(negotiateOffer(read('srtp-only.sdp'), bob()), { ok: false, status: 488, reason: 'Not Acceptable Here' });
  });
}

test('describeSdp summarises a fixture in one line', (t) => {
  t.is(
    describeSdp(fixture('sipp-uac-pcmu-stream.sdp')),
    'o=- 1 v1; audio 127.0.0.1:6300 RTP/AVP [0 pcmu/8000, 101 telephone-event/8000] sendrecv',
  );
  t.regex(describeSdp(fixture('video-first.sdp')), /^o=bob 2890844526 v2890844526; video .* audio /);
  t.regex(describeSdp('nonsense'), /^invalid SDP/);
});

// ---------------------------------------------------------------------------------------------
// Hold and resume

const offerText = (dir: string, sessionDir = '', conn = '192.0.2.10') =>
  crlf(`v=0
o=- 111 7 IN IP4 192.0.2.10
s=-
c=IN IP4 ${conn}
t=0 0
${sessionDir}m=audio 40000 RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
${dir}`);

test('hold detection: a=sendonly, a=inactive, a=recvonly, none', (t) => {
  const cases: [string, MediaDirection, boolean, MediaDirection][] = [
    ['a=sendonly\n', 'sendonly', true, 'recvonly'],
    ['a=inactive\n', 'inactive', true, 'inactive'],
    ['a=recvonly\n', 'recvonly', false, 'sendonly'],
    ['a=sendrecv\n', 'sendrecv', false, 'sendrecv'],
    ['', 'sendrecv', false, 'sendrecv'],
  ];
  for (const [attr, remote, hold, answerDir] of cases) {
    const { answer, media } = okOffer(t, negotiateOffer(offerText(attr), bob()));
    t.is(media.remoteDirection, remote, attr);
    t.is(media.remoteHold, hold, attr);
    t.is(media.localDirection, answerDir, attr);
    t.true(lines(answer).includes(`a=${answerDir}`), attr);
  }
});

test('hold detection: session-level direction, overridden at media level', (t) => {
  const held = okOffer(t, negotiateOffer(offerText('', 'a=sendonly\n'), bob())).media;
  t.true(held.remoteHold);
  t.is(held.remoteDirection, 'sendonly');
  const overridden = okOffer(t, negotiateOffer(offerText('a=sendrecv\n', 'a=sendonly\n'), bob())).media;
  t.false(overridden.remoteHold);
  t.is(overridden.remoteDirection, 'sendrecv');
});

test('hold detection: c=0.0.0.0 with a=sendrecv and with a=recvonly', (t) => {
  const a = okOffer(t, negotiateOffer(offerText('a=sendrecv\n', '', '0.0.0.0'), bob())).media;
  t.true(a.remoteHold);
  t.is(a.remoteDirection, 'sendonly');
  const b = okOffer(t, negotiateOffer(offerText('a=recvonly\n', '', '0.0.0.0'), bob())).media;
  t.true(b.remoteHold);
  t.is(b.remoteDirection, 'inactive');
  t.is(b.localDirection, 'inactive');
});

test('our hold offer in each style, its answer, and resume', (t) => {
  const styles = [
    { style: 'rfc3264', direction: 'sendonly', c: 'c=IN IP4 192.0.2.10', attr: 'a=sendonly' },
    { style: 'rfc3264', direction: 'inactive', c: 'c=IN IP4 192.0.2.10', attr: 'a=inactive' },
    { style: 'rfc2543', direction: 'sendonly', c: 'c=IN IP4 0.0.0.0', attr: undefined },
    { style: 'rfc2543', direction: 'inactive', c: 'c=IN IP4 0.0.0.0', attr: undefined },
    { style: 'both', direction: 'sendonly', c: 'c=IN IP4 0.0.0.0', attr: 'a=sendonly' },
    { style: 'both', direction: 'inactive', c: 'c=IN IP4 0.0.0.0', attr: 'a=inactive' },
  ] as const;
  for (const s of styles) {
    const a = alice({ direction: s.direction, holdStyle: s.style, sessionVersion: 2 });
    const offer = createOffer(a);
    const l = lines(offer);
    t.true(l.includes(s.c), `${s.style}/${s.direction}: ${s.c}`);
    t.true(l.includes('o=- 111 2 IN IP4 192.0.2.10'), 'o= keeps the real address');
    const dirs = l.filter((x) => /^a=(sendrecv|sendonly|recvonly|inactive)$/.test(x));
    t.deepEqual(dirs, s.attr ? [s.attr] : [], `${s.style}/${s.direction} direction attribute`);

    const { answer, media: atB } = okOffer(t, negotiateOffer(offer, bob()));
    t.true(atB.remoteHold, `${s.style}/${s.direction} is seen as hold`);
    t.false(atB.sending);
    const atA = okAnswer(t, negotiateAnswer(answer, a));
    t.false(atA.remoteHold, 'the answer merely mirrors our hold');
    t.false(atA.receiving);
    t.is(atA.localDirection, s.direction);
    // sendonly hold (music on hold) still lets us send to the recvonly answerer; inactive does not
    t.is(atA.sending, s.direction === 'sendonly' && atA.remoteDirection === 'recvonly');
  }

  // resume: sendrecv again with the next version
  const resumed = alice({ sessionVersion: 3 });
  const { media: atB, answer } = okOffer(t, negotiateOffer(createOffer(resumed), bob()));
  t.false(atB.remoteHold);
  t.is(atB.localDirection, 'sendrecv');
  const atA = okAnswer(t, negotiateAnswer(answer, resumed));
  t.true(atA.sending && atA.receiving);
});

test('hold with IPv6 in rfc2543 style uses ::', (t) => {
  const a = alice({ address: '2001:db8::10', direction: 'sendonly', holdStyle: 'rfc2543' });
  const offer = createOffer(a);
  t.true(lines(offer).includes('c=IN IP6 ::'));
  const { media } = okOffer(t, negotiateOffer(offer, bob({ address: '2001:db8::20' })));
  t.true(media.remoteHold);
});

test('the far end holds us in its answer; we hold while the far end re-offers', (t) => {
  // B is holding (sendonly) when A offers sendrecv: B answers sendonly
  const { answer, atA, atB } = exchange(t, alice(), bob({ direction: 'sendonly' }));
  t.true(lines(answer).includes('a=sendonly'));
  t.is(atB.localDirection, 'sendonly');
  t.true(atA.remoteHold);
  t.true(atA.receiving);
  t.false(atA.sending);
  // an answer with c=0.0.0.0 also holds us
  const nullAnswer = answer.replace('c=IN IP4 198.51.100.20', 'c=IN IP4 0.0.0.0').replace('a=sendonly', 'a=sendrecv');
  const m = okAnswer(t, negotiateAnswer(nullAnswer, alice()));
  t.true(m.remoteHold);
  t.is(m.remoteDirection, 'sendonly');
});

test('isSameRemoteVersion: a refresh keeps the version, a change bumps it (even past 2^53)', (t) => {
  const first = okOffer(t, negotiateOffer(createOffer(alice({ sessionVersion: 4 })), bob())).media;
  t.true(isSameRemoteVersion(first, createOffer(alice({ sessionVersion: 4 }))));
  t.false(isSameRemoteVersion(first, createOffer(alice({ sessionVersion: 5 }))));
  t.false(isSameRemoteVersion(first, createOffer(alice({ sessionVersion: 4, sessionId: '112' }))));
  t.false(isSameRemoteVersion(first, 'garbage'));

  const big = fixture('srtp-only.sdp').replace('RTP/SAVP', 'RTP/AVP');
  const bigMedia = okOffer(t, negotiateOffer(big, bob())).media;
  t.is(bigMedia.sessionId, '3920482741122334455');
  t.is(bigMedia.sessionVersion, '3920482741122334456');
  t.true(isSameRemoteVersion(bigMedia, big));
  t.false(isSameRemoteVersion(bigMedia, big.replace('3920482741122334456', '3920482741122334457')));
});

// ---------------------------------------------------------------------------------------------
// Failures

const valid = fixture('sipp-uac-pcmu-stream.sdp');

test('400: garbage, empty, and structurally broken SDPs', (t) => {
  const bad: [string, string][] = [
    ['hello world', 'garbage'],
    ['', 'empty'],
    ['\r\n\r\n', 'blank'],
    [valid.replace('v=0', 'v=1'), 'wrong version'],
    [valid.split('m=audio')[0]!, 'no m='],
    [valid.replace(/o=[^\n]*\n/, ''), 'no o='],
    [valid.replace(/o=[^\n]*\n/, 'o=- x y\n'), 'malformed o='],
    [valid.replace(/s=[^\n]*\n/, ''), 'no s='],
    [valid.replace(/c=[^\n]*\n/, ''), 'no c= anywhere'],
    [valid.replace('c=IN IP4 127.0.0.1', 'c=IN IP4'), 'malformed c='],
    [valid.replace('m=audio 6300', 'm=audio port'), 'malformed m='],
    [valid.replace('m=audio 6300', 'm=audio 70000'), 'port out of range'],
    [valid.replace('a=ptime:20', 'this is not SDP'), 'stray text line'],
    [valid + 'v=0\n', 'second v='],
  ];
  for (const [sdp, what] of bad) {
    const r = negotiateOffer(sdp, bob());
    t.like(r, { ok: false, status: 400, reason: 'Bad SDP' }, what);
    t.like(negotiateAnswer(sdp, alice()), { ok: false, status: 400 }, what);
  }
  // not a string at all (a caller passing a Buffer by mistake)
  t.like(negotiateOffer(undefined as unknown as string, bob()), { ok: false, status: 400 });
});

test('400: a stream without a connection address while another has one', (t) => {
  const sdp = crlf(`v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
t=0 0
m=audio 4000 RTP/AVP 0
c=IN IP4 192.0.2.1
m=audio 4002 RTP/AVP 8
`);
  t.like(negotiateOffer(sdp, bob()), { ok: false, status: 400 });
  // a rejected (port 0) stream needs none
  t.true(negotiateOffer(sdp.replace('m=audio 4002', 'm=audio 0'), bob()).ok);
});

test('488: only unsupported codecs, only SRTP, only port 0', (t) => {
  t.like(negotiateOffer(valid.replace('RTP/AVP 0 101', 'RTP/AVP 18 101').replace('rtpmap:0 PCMU', 'rtpmap:18 G729'), bob()), {
    ok: false,
    status: 488,
    reason: 'Not Acceptable Here',
  });
  t.like(negotiateOffer(valid.replace('RTP/AVP', 'RTP/SAVP'), bob()), { ok: false, status: 488 });
  t.like(negotiateOffer(valid.replace('m=audio 6300', 'm=audio 0'), bob()), { ok: false, status: 488 });
  t.like(negotiateOffer(fixture('video-first.sdp').replace(/m=audio[\s\S]*/, ''), bob()), { ok: false, status: 488 });
  // a dynamic payload type without rtpmap is unknown
  t.like(negotiateOffer(valid.replace('RTP/AVP 0 101', 'RTP/AVP 96').replace(/a=rtpmap:0 [^\n]*\n/, ''), bob()), {
    ok: false,
    status: 488,
  });
});

test('488: first usable stream wins when several audio lines are offered', (t) => {
  const sdp = crlf(`v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio 0 RTP/AVP 0
m=audio 4000 RTP/SAVP 0
m=audio 4002 RTP/AVP 18
m=audio 4004 RTP/AVP 8
m=audio 4006 RTP/AVP 0
`);
  const { answer, media } = okOffer(t, negotiateOffer(sdp, bob()));
  t.deepEqual(mLines(answer), [
    'm=audio 0 RTP/AVP 0',
    'm=audio 0 RTP/SAVP 0',
    'm=audio 0 RTP/AVP 18',
    'm=audio 50000 RTP/AVP 8',
    'm=audio 0 RTP/AVP 0',
  ]);
  t.is(media.remotePort, 4004);
  t.is(media.codec.name, 'PCMA');
});

test('488: answers we cannot use', (t) => {
  const a = alice({ codecs: ['PCMU', 'PCMA'] });
  const { answer } = okOffer(t, negotiateOffer(createOffer(a), bob()));
  t.like(negotiateAnswer(answer.replace('RTP/AVP 0 101', 'RTP/AVP 18').replace(/a=rtpmap:0 PCMU\/8000/, 'a=rtpmap:18 G729/8000'), a), {
    ok: false,
    status: 488,
  });
  t.like(negotiateAnswer(answer.replace('RTP/AVP 0 101', 'RTP/AVP 111').replace('a=rtpmap:0 PCMU/8000', 'a=rtpmap:111 opus/48000/2'), a), {
    ok: false,
    status: 488,
  }, 'opus was not offered');
  t.like(negotiateAnswer(answer.replace('m=audio 50000', 'm=audio 0'), a), { ok: false, status: 488 });
  t.like(negotiateAnswer(answer.replace('RTP/AVP', 'RTP/SAVP'), a), { ok: false, status: 488 });
  t.like(negotiateAnswer(answer.replace('m=audio', 'm=video'), a), { ok: false, status: 488 });
});

test('ptime and maxptime of the remote decide our packetisation', (t) => {
  const withPtime = (attrs: string) => valid.replace('a=ptime:20\n', attrs);
  const ptime = (attrs: string) => okOffer(t, negotiateOffer(withPtime(attrs), bob())).media.ptime;
  t.is(ptime('a=ptime:30\n'), 30);
  t.is(ptime(''), 20);
  t.is(ptime('a=ptime:40\na=maxptime:30\n'), 30);
  t.is(ptime('a=maxptime:10\n'), 10);
  t.is(ptime('a=ptime:0\n'), 20);
  t.is(ptime('a=ptime:9999\n'), 20);
});

// ---------------------------------------------------------------------------------------------
// Properties

const FIXTURE_NAMES = [
  'baresip-offer.sdp',
  'sipp-uac-pcmu-stream.sdp',
  'sipp-uas-answer.sdp',
  'kamailio-relayed-offer.sdp',
  'linphone-many-codecs.sdp',
  'video-first.sdp',
  'rfc2543-hold.sdp',
  'srtp-only.sdp',
];
const SEEDS = [...FIXTURE_NAMES.map((n) => crlf(fixture(n))), createOffer(alice({ codecs: ['opus', 'PCMA', 'PCMU'], rtcpMux: true }))];

function neverThrows(sdp: string): void {
  const b = bob({ rtcpMux: true });
  const r = negotiateOffer(sdp, b);
  if (r.ok) {
    // a usable offer gives an answer with one m= line per offered m= line that the offerer side accepts
    const offeredLines = sdp.split(/\r\n|\r|\n/).filter((l) => l.startsWith('m=')).length;
    if (mLines(r.answer).length !== offeredLines) throw new Error(`m= count mismatch for ${JSON.stringify(sdp)}`);
  } else if (r.status !== 400 && r.status !== 488) {
    throw new Error('bad status');
  }
  const a = negotiateAnswer(sdp, alice());
  if (!a.ok && a.status !== 400 && a.status !== 488) throw new Error('bad status');
  describeSdp(sdp);
  if (r.ok) isSameRemoteVersion(r.media, sdp);
}

test('property: random text never throws and is rejected', (t) => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
      neverThrows(s);
      const r = negotiateOffer(s, bob());
      return !r.ok;
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

const SDP_CHARS = 'vosctmab=0123456789 ./:-\r\n\tIPN4RTAVpusendrcvinaoly'.split('');
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('deleteLine' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('duplicateLine' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('swapLines' as const), at: fc.nat(), to: fc.nat() }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('replaceChar' as const), at: fc.nat(), ch: fc.constantFrom(...SDP_CHARS) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.string({ unit: fc.constantFrom(...SDP_CHARS), maxLength: 12 }) }),
  fc.record({ kind: fc.constant('insertBinary' as const), at: fc.nat(), text: fc.string({ unit: 'binary', maxLength: 8 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(sdp: string, m: Mutation): string {
  const ls = sdp.split('\r\n');
  switch (m.kind) {
    case 'deleteLine':
      ls.splice(m.at % ls.length, 1);
      return ls.join('\r\n');
    case 'duplicateLine': {
      const i = m.at % ls.length;
      ls.splice(i, 0, ls[i]!);
      return ls.join('\r\n');
    }
    case 'swapLines': {
      const i = m.at % ls.length;
      const j = m.to % ls.length;
      [ls[i], ls[j]] = [ls[j]!, ls[i]!];
      return ls.join('\r\n');
    }
    case 'truncate':
      return sdp.slice(0, m.at % (sdp.length + 1));
    case 'replaceChar': {
      const i = m.at % sdp.length;
      return sdp.slice(0, i) + m.ch + sdp.slice(i + 1);
    }
    case 'insert':
    case 'insertBinary': {
      const i = m.at % (sdp.length + 1);
      return sdp.slice(0, i) + m.text + sdp.slice(i);
    }
  }
}

test('property: mutated valid SDPs never throw (only { ok: false } or a consistent answer)', (t) => {
  fc.assert(
    fc.property(fc.constantFrom(...SEEDS), fc.array(mutation, { minLength: 1, maxLength: 4 }), (seed, ms) => {
      neverThrows(ms.reduce(mutate, seed));
    }),
    { numRuns: 20000 },
  );
  t.pass();
});

const codecList = fc.shuffledSubarray(['PCMU', 'PCMA', 'opus'] as AudioCodecName[], { minLength: 1 });
const direction = fc.constantFrom<MediaDirection>('sendrecv', 'sendonly', 'recvonly', 'inactive');
const side = fc.record({
  codecs: codecList,
  telephoneEvent: fc.boolean(),
  direction,
  holdStyle: fc.constantFrom<'rfc3264' | 'rfc2543' | 'both'>('rfc3264', 'rfc2543', 'both'),
  rtcpMux: fc.boolean(),
  ipv6: fc.boolean(),
});

test('property: any two LocalMedia agree on the codec, events and directions', (t) => {
  fc.assert(
    fc.property(side, side, (sa, sb) => {
      const a = alice({ ...sa, address: sa.ipv6 ? '2001:db8::10' : '192.0.2.10' });
      const b = bob({ ...sb, address: sa.ipv6 ? '2001:db8::20' : '198.51.100.20' });
      const r = negotiateOffer(createOffer(a), b);
      const common = sa.codecs.find((c) => sb.codecs.includes(c));
      if (!common) return !r.ok && r.status === 488;
      if (!r.ok) return false;
      const back = negotiateAnswer(r.answer, a);
      if (!back.ok) return false;
      const atA = back.media;
      const atB = r.media;
      if (atA.codec.name !== common || atB.codec.name !== common) return false;
      if (atA.codec.payloadType !== atB.codec.payloadType) return false;
      if ((atA.telephoneEvent === undefined) !== !(sa.telephoneEvent && sb.telephoneEvent)) return false;
      if ((atB.telephoneEvent === undefined) !== (atA.telephoneEvent === undefined)) return false;
      if (atA.telephoneEvent && atA.telephoneEvent.clockRate !== atA.codec.clockRate) return false;
      // what one side sends, the other expects; RFC 2543 hold cannot say "inactive", so B then
      // believes A may still send (harmless: it merely listens)
      const legacyInactive = sa.direction === 'inactive' && sa.holdStyle === 'rfc2543';
      if (atB.sending !== atA.receiving) return false;
      if (!legacyInactive && atA.sending !== atB.receiving) return false;
      if (atA.rtcpMux !== (sa.rtcpMux && sb.rtcpMux) || atB.rtcpMux !== atA.rtcpMux) return false;
      return true;
    }),
    { numRuns: 3000 },
  );
  t.pass();
});
