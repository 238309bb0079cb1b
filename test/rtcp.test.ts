/**
 * RTCP (RFC 3550 section 6): compound SR+SDES and RR+BYE round trips, NTP and round-trip time
 * arithmetic, and garbage that must come back as an error result, never an exception.
 */
import test from 'ava';
import fc from 'fast-check';
import {
  dlsrFromDelayMs,
  ntpMiddle32,
  ntpToUnixMs,
  parseRtcp,
  rtcpRoundTripMs,
  unixMsToNtp,
  unixMsToNtpMiddle32,
  writeBye,
  writeReceiverReport,
  writeRtcpCompound,
  writeSdesCname,
  writeSenderReport,
  type RtcpBye,
  type RtcpParseError,
  type RtcpReceiverReport,
  type RtcpReportBlock,
  type RtcpSdes,
  type RtcpSenderReport,
} from '../media/rtcp.js';

const block: RtcpReportBlock = {
  ssrc: 0x11223344,
  fractionLost: 77,
  cumulativeLost: -5,
  extendedHighestSeq: 0x0001fffe,
  jitter: 123,
  lsr: 0xabcdef01,
  dlsr: 65536,
};

test('SR + SDES compound round-trips', (t) => {
  const buf = Buffer.alloc(1500);
  const wall = Date.UTC(2024, 4, 1, 12, 0, 0, 250);
  const len = writeRtcpCompound(buf, 0, {
    ssrc: 0xcafebabe,
    cname: 'line1@linescape.example',
    sender: { wallClockMs: wall, rtpTimestamp: 0xfffffff0, packetCount: 1234, octetCount: 197440 },
    reports: [block],
  });
  t.true(len > 0);
  t.is(len % 4, 0);
  const r = parseRtcp(buf, len);
  if (!r.ok) return t.fail(r.error);
  t.is(r.packets.length, 2);
  const sr = r.packets[0] as RtcpSenderReport;
  t.is(sr.type, 'sr');
  t.is(sr.ssrc, 0xcafebabe);
  t.is(sr.rtpTimestamp, 0xfffffff0);
  t.is(sr.packetCount, 1234);
  t.is(sr.octetCount, 197440);
  t.true(Math.abs(sr.wallClockMs - wall) < 0.001);
  t.deepEqual(sr.reports, [block]);
  const sdes = r.packets[1] as RtcpSdes;
  t.is(sdes.type, 'sdes');
  t.is(sdes.chunks.length, 1);
  t.is(sdes.chunks[0]!.ssrc, 0xcafebabe);
  t.is(sdes.chunks[0]!.cname, 'line1@linescape.example');
});

test('RR + SDES + BYE with a reason round-trips', (t) => {
  const buf = Buffer.alloc(1500);
  const second: RtcpReportBlock = { ...block, ssrc: 9, cumulativeLost: 0x7fffff, fractionLost: 255 };
  const len = writeRtcpCompound(buf, 0, { ssrc: 42, cname: 'x', reports: [block, second], bye: { reason: 'hang up ☎' } });
  const r = parseRtcp(buf, len);
  if (!r.ok) return t.fail(r.error);
  t.deepEqual(
    r.packets.map((p) => p.type),
    ['rr', 'sdes', 'bye'],
  );
  const rr = r.packets[0] as RtcpReceiverReport;
  t.is(rr.ssrc, 42);
  t.deepEqual(rr.reports, [block, second]);
  const bye = r.packets[2] as RtcpBye;
  t.deepEqual(bye.ssrcs, [42]);
  t.is(bye.reason, 'hang up ☎');
});

test('BYE without reason and empty RR', (t) => {
  const buf = Buffer.alloc(64);
  let off = writeReceiverReport(buf, 0, 7);
  t.is(off, 8);
  off += writeBye(buf, off, [1, 2, 3]);
  const r = parseRtcp(buf, off);
  if (!r.ok) return t.fail(r.error);
  t.deepEqual(r.packets, [
    { type: 'rr', ssrc: 7, reports: [] },
    { type: 'bye', ssrcs: [1, 2, 3] },
  ]);
});

test('cumulative lost is clamped to 24-bit signed and sign-extended on parse', (t) => {
  const buf = Buffer.alloc(64);
  const len = writeReceiverReport(buf, 0, 1, [
    { ...block, cumulativeLost: -10_000_000 },
    { ...block, cumulativeLost: 10_000_000 },
  ]);
  const r = parseRtcp(buf, len);
  if (!r.ok) return t.fail(r.error);
  const rr = r.packets[0] as RtcpReceiverReport;
  t.is(rr.reports[0]!.cumulativeLost, -0x800000);
  t.is(rr.reports[1]!.cumulativeLost, 0x7fffff);
});

test('SDES pads to 32 bits for every CNAME length, and long names are cut at 255 bytes', (t) => {
  const buf = Buffer.alloc(400);
  for (let n = 0; n < 12; n++) {
    const cname = 'a'.repeat(n);
    const len = writeSdesCname(buf, 0, 5, cname);
    t.is(len % 4, 0);
    const r = parseRtcp(buf, len);
    if (!r.ok) return t.fail(r.error);
    t.is((r.packets[0] as RtcpSdes).chunks[0]!.cname, cname);
  }
  const len = writeSdesCname(buf, 0, 5, 'é'.repeat(200)); // 400 bytes of UTF-8
  const r = parseRtcp(buf, len);
  if (!r.ok) return t.fail(r.error);
  t.is((r.packets[0] as RtcpSdes).chunks[0]!.cname, 'é'.repeat(127));
});

test('writers report -1 instead of overrunning a small buffer', (t) => {
  const small = Buffer.alloc(20);
  t.is(writeSenderReport(small, 0, { ssrc: 1, wallClockMs: 0, rtpTimestamp: 0, packetCount: 0, octetCount: 0 }), -1);
  t.is(writeReceiverReport(small, 0, 1, [block]), -1);
  t.is(writeSdesCname(small, 0, 1, 'a-rather-long-cname'), -1);
  t.is(writeBye(small, 0, [1, 2, 3, 4, 5]), -1);
  t.is(writeRtcpCompound(Buffer.alloc(40), 0, { ssrc: 1, cname: 'abcdefghijklmnopqrstuvwxyz' }), -1);
});

test('NTP conversion and middle 32 bits', (t) => {
  const ms = Date.UTC(2030, 0, 1, 0, 0, 0, 500);
  const ntp = unixMsToNtp(ms);
  t.is(ntp.fraction, 0x80000000);
  t.is(ntpToUnixMs(ntp.seconds, ntp.fraction), ms);
  t.is(ntpMiddle32(0x12345678, 0x9abcdef0), 0x56789abc);
  t.is(unixMsToNtpMiddle32(ms), ntpMiddle32(ntp.seconds, ntp.fraction));
  t.is(dlsrFromDelayMs(1000), 65536);
  t.is(dlsrFromDelayMs(-5), 0);
});

test('round-trip time from LSR/DLSR', (t) => {
  const srSent = Date.UTC(2024, 0, 1, 0, 0, 0, 0);
  const lsr = unixMsToNtpMiddle32(srSent);
  // the peer held the SR 250 ms; the RR came back 330 ms after the SR left: RTT 80 ms
  const dlsr = dlsrFromDelayMs(250);
  const rtt = rtcpRoundTripMs(srSent + 330, lsr, dlsr);
  t.truthy(rtt !== undefined && Math.abs(rtt - 80) < 0.1, String(rtt));
  t.is(rtcpRoundTripMs(srSent + 330, 0, dlsr), undefined);
  t.is(rtcpRoundTripMs(srSent + 100, lsr, dlsrFromDelayMs(5000)), undefined);
});

test('garbage yields error results', (t) => {
  const cases: Array<[number[], RtcpParseError]> = [
    [[], 'too-short'],
    [[0x80, 201, 0], 'too-short'],
    [[0x40, 201, 0, 1, 0, 0, 0, 1], 'bad-version'],
    [[0x80, 201, 0, 5, 0, 0, 0, 1], 'bad-length'],
    [[0x81, 201, 0, 1, 0, 0, 0, 1], 'truncated-rr'],
    [[0x80, 200, 0, 1, 0, 0, 0, 1], 'truncated-sr'],
    [[0x81, 203, 0, 0], 'truncated-bye'],
    [[0x80, 203, 0, 1, 9, 0, 0, 0], 'truncated-bye'],
    [[0x81, 202, 0, 1, 0, 0, 0, 1], 'truncated-sdes'],
    [[0x81, 202, 0, 2, 0, 0, 0, 1, 1, 9, 0, 0], 'truncated-sdes'],
    [[0x80, 204, 0, 1, 0, 0, 0, 1], 'truncated-app'],
    [[0xa0, 201, 0, 1, 0, 0, 0, 0], 'bad-padding'],
    [[0xa0, 201, 0, 1, 0, 0, 0, 9], 'bad-padding'],
    // padding on a packet that is not the last
    [[0xa0, 201, 0, 1, 0, 0, 0, 4, 0x80, 201, 0, 1, 0, 0, 0, 1], 'bad-padding'],
    // lengths must add up exactly
    [[0x80, 201, 0, 1, 0, 0, 0, 1, 0x80], 'bad-length'],
  ];
  for (const [bytes, error] of cases) {
    const r = parseRtcp(Buffer.from(bytes));
    t.false(r.ok, JSON.stringify(bytes));
    if (!r.ok) t.is(r.error, error, JSON.stringify(bytes));
  }
});

test('APP and unknown packet types are kept raw; valid padding on the last packet is removed', (t) => {
  const buf = Buffer.from([
    0x80, 201, 0, 1, 0, 0, 0, 1,
    0x83, 204, 0, 3, 0, 0, 0, 2, 0x54, 0x45, 0x53, 0x54, 1, 2, 3, 4,
    0xa0, 206, 0, 2, 0, 0, 0, 3, 0xee, 0, 0, 4,
  ]);
  const r = parseRtcp(buf);
  if (!r.ok) return t.fail(r.error);
  t.deepEqual(r.packets[1], { type: 'app', subtype: 3, ssrc: 2, name: 'TEST', data: Buffer.from([1, 2, 3, 4]) });
  t.deepEqual(r.packets[2], { type: 'other', packetType: 206, count: 0, body: Buffer.from([0, 0, 0, 3]) });
});

test('property: parseRtcp never throws on random bytes', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const buf = Buffer.from(bytes);
      if (buf.length > 0) buf[0] = 0x80 | (buf[0]! & 0x3f); // mostly version 2 to go deeper
      const r = parseRtcp(buf);
      return typeof r.ok === 'boolean';
    }),
    { numRuns: 20000 },
  );
  t.pass();
});

test('property: compound round trip for any report blocks and names', (t) => {
  const blockArb = fc.record({
    ssrc: fc.nat({ max: 0xffffffff }),
    fractionLost: fc.integer({ min: 0, max: 255 }),
    cumulativeLost: fc.integer({ min: -0x800000, max: 0x7fffff }),
    extendedHighestSeq: fc.nat({ max: 0xffffffff }),
    jitter: fc.nat({ max: 0xffffffff }),
    lsr: fc.nat({ max: 0xffffffff }),
    dlsr: fc.nat({ max: 0xffffffff }),
  });
  const buf = Buffer.alloc(2000);
  fc.assert(
    fc.property(
      fc.array(blockArb, { maxLength: 31 }),
      fc.string({ maxLength: 60 }),
      fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
      fc.boolean(),
      (reports, cname, reason, sender) => {
        const len = writeRtcpCompound(buf, 0, {
          ssrc: 1,
          cname,
          reports,
          ...(sender ? { sender: { wallClockMs: 1.7e12, rtpTimestamp: 5, packetCount: 6, octetCount: 7 } } : {}),
          ...(reason !== undefined ? { bye: { reason } } : {}),
        });
        const r = parseRtcp(buf, len);
        if (!r.ok) return false;
        const first = r.packets[0] as RtcpSenderReport | RtcpReceiverReport;
        const sdes = r.packets[1] as RtcpSdes;
        return (
          first.type === (sender ? 'sr' : 'rr') &&
          JSON.stringify(first.reports) === JSON.stringify(reports) &&
          sdes.chunks[0]!.cname === cname &&
          (reason === undefined ? r.packets.length === 2 : (r.packets[2] as RtcpBye).reason === reason)
        );
      },
    ),
  );
  t.pass();
});
