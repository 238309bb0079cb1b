/**
 * RTP header parse/write (RFC 3550 section 5.1): round trip, every malformed case, rtcp-mux
 * demultiplexing, wrap arithmetic, and a property test that random bytes never throw.
 */
import test from 'ava';
import fc from 'fast-check';
import {
  createRtpHeader,
  isRtcp,
  parseRtp,
  RtpParseResult,
  seqAdd,
  seqDiff,
  tsAdd,
  tsDiff,
  writeRtpHeader,
} from '../media/rtp.js';

function packet(payload: number[], fields = { marker: true, payloadType: 8, sequence: 65535, timestamp: 0xfffffff0, ssrc: 0xdeadbeef }): Buffer {
  const buf = Buffer.alloc(12 + payload.length);
  writeRtpHeader(buf, fields);
  Buffer.from(payload).copy(buf, 12);
  return buf;
}

test('write then parse round-trips every field and gives payload offsets', (t) => {
  const buf = packet([1, 2, 3, 4, 5]);
  const h = createRtpHeader();
  t.is(parseRtp(buf, buf.length, h), RtpParseResult.Ok);
  t.is(h.version, 2);
  t.false(h.padding);
  t.false(h.extension);
  t.is(h.csrcCount, 0);
  t.true(h.marker);
  t.is(h.payloadType, 8);
  t.is(h.sequence, 65535);
  t.is(h.timestamp, 0xfffffff0);
  t.is(h.ssrc, 0xdeadbeef);
  t.is(h.headerLength, 12);
  t.is(h.payloadOffset, 12);
  t.is(h.payloadLength, 5);
  t.deepEqual([...buf.subarray(h.payloadOffset, h.payloadOffset + h.payloadLength)], [1, 2, 3, 4, 5]);
});

test('writeRtpHeader reduces out-of-range values modulo the field size and writes at an offset', (t) => {
  const buf = Buffer.alloc(20);
  t.is(writeRtpHeader(buf, { marker: false, payloadType: 0x80 | 96, sequence: 65537, timestamp: 2 ** 32 + 7, ssrc: -1 }, 4), 12);
  const h = createRtpHeader();
  t.is(parseRtp(buf.subarray(4), 16, h), RtpParseResult.Ok);
  t.false(h.marker);
  t.is(h.payloadType, 96);
  t.is(h.sequence, 1);
  t.is(h.timestamp, 7);
  t.is(h.ssrc, 0xffffffff);
});

test('CSRCs, extension and padding are skipped', (t) => {
  // V=2 P=1 X=1 CC=2
  const buf = Buffer.alloc(12 + 8 + 4 + 8 + 3 + 4);
  writeRtpHeader(buf, { marker: false, payloadType: 0, sequence: 1, timestamp: 2, ssrc: 3 });
  buf[0] = 0x80 | 0x20 | 0x10 | 2;
  // extension header: profile 0xBEDE, 2 words
  buf.writeUInt16BE(0xbede, 20);
  buf.writeUInt16BE(2, 22);
  buf[32] = 0xaa;
  buf[33] = 0xbb;
  buf[34] = 0xcc;
  buf[buf.length - 1] = 4; // 4 bytes of padding
  const h = createRtpHeader();
  t.is(parseRtp(buf, buf.length, h), RtpParseResult.Ok);
  t.true(h.padding);
  t.true(h.extension);
  t.is(h.csrcCount, 2);
  t.is(h.headerLength, 32);
  t.is(h.payloadOffset, 32);
  t.is(h.payloadLength, 3);
});

test('truncated header is TooShort', (t) => {
  const h = createRtpHeader();
  const buf = packet([]);
  for (let n = 0; n < 12; n++) t.is(parseRtp(buf, n, h), RtpParseResult.TooShort);
  t.is(parseRtp(Buffer.alloc(0), 0, h), RtpParseResult.TooShort);
  // a len larger than the buffer is clamped, not trusted
  t.is(parseRtp(Buffer.alloc(8), 100, h), RtpParseResult.TooShort);
});

test('wrong version is BadVersion', (t) => {
  const h = createRtpHeader();
  for (const v of [0, 1, 3]) {
    const buf = packet([1]);
    buf[0] = (v << 6) | (buf[0]! & 0x3f);
    t.is(parseRtp(buf, buf.length, h), RtpParseResult.BadVersion);
  }
});

test('CSRC count beyond the length is BadCsrc', (t) => {
  const h = createRtpHeader();
  const buf = packet([1, 2, 3, 4]); // room for exactly one CSRC
  buf[0] = 0x80 | 1;
  t.is(parseRtp(buf, buf.length, h), RtpParseResult.Ok);
  t.is(h.payloadLength, 0);
  buf[0] = 0x80 | 2;
  t.is(parseRtp(buf, buf.length, h), RtpParseResult.BadCsrc);
  buf[0] = 0x80 | 15;
  t.is(parseRtp(buf, buf.length, h), RtpParseResult.BadCsrc);
});

test('extension header or length overflowing the packet is BadExtension', (t) => {
  const h = createRtpHeader();
  const noRoom = packet([0xbe, 0xde]); // X set but only 2 bytes after the header
  noRoom[0] = 0x90;
  t.is(parseRtp(noRoom, noRoom.length, h), RtpParseResult.BadExtension);
  const tooLong = packet([0xbe, 0xde, 0x00, 0x03, 1, 2, 3, 4]); // claims 3 words, has 1
  tooLong[0] = 0x90;
  t.is(parseRtp(tooLong, tooLong.length, h), RtpParseResult.BadExtension);
  const max = packet([0xbe, 0xde, 0xff, 0xff]);
  max[0] = 0x90;
  t.is(parseRtp(max, max.length, h), RtpParseResult.BadExtension);
});

test('padding count zero or larger than the payload is BadPadding', (t) => {
  const h = createRtpHeader();
  const buf = packet([9, 9, 9, 3]);
  buf[0] = 0xa0;
  t.is(parseRtp(buf, buf.length, h), RtpParseResult.Ok);
  t.is(h.payloadLength, 1);
  buf[buf.length - 1] = 4; // all of the payload is padding: allowed
  t.is(parseRtp(buf, buf.length, h), RtpParseResult.Ok);
  t.is(h.payloadLength, 0);
  buf[buf.length - 1] = 5;
  t.is(parseRtp(buf, buf.length, h), RtpParseResult.BadPadding);
  buf[buf.length - 1] = 0;
  t.is(parseRtp(buf, buf.length, h), RtpParseResult.BadPadding);
  const bare = packet([]);
  bare[0] = 0xa0;
  t.is(parseRtp(bare, bare.length, h), RtpParseResult.BadPadding);
});

test('parse honours len below the buffer length', (t) => {
  const buf = Buffer.alloc(200);
  writeRtpHeader(buf, { marker: false, payloadType: 0, sequence: 5, timestamp: 6, ssrc: 7 });
  const h = createRtpHeader();
  t.is(parseRtp(buf, 172, h), RtpParseResult.Ok);
  t.is(h.payloadLength, 160);
});

test('isRtcp separates RTCP packet types 192..223 from RTP payload types', (t) => {
  const rtcp = Buffer.from([0x80, 200, 0, 6]);
  t.true(isRtcp(rtcp));
  for (let pt = 192; pt <= 223; pt++) t.true(isRtcp(Buffer.from([0x81, pt])), `pt ${pt}`);
  t.false(isRtcp(Buffer.from([0x80, 191])));
  t.false(isRtcp(Buffer.from([0x80, 224])));
  t.false(isRtcp(packet([1]))); // PT 8 with marker
  t.false(isRtcp(Buffer.from([0x80, 0x80 | 96])));
  t.false(isRtcp(Buffer.from([0x40, 200]))); // version 1
  t.false(isRtcp(Buffer.from([0x80])));
  t.false(isRtcp(rtcp, 1));
});

test('sequence and timestamp arithmetic wraps', (t) => {
  t.is(seqDiff(0, 65535), 1);
  t.is(seqDiff(65535, 0), -1);
  t.is(seqDiff(5, 5), 0);
  t.is(seqDiff(100, 50), 50);
  t.is(seqDiff(32767, 0), 32767);
  t.is(seqDiff(32768, 0), -32768);
  t.is(seqAdd(65535, 1), 0);
  t.is(seqAdd(0, -1), 65535);
  t.is(tsDiff(0, 0xffffffff), 1);
  t.is(tsDiff(0xffffffff, 0), -1);
  t.is(tsDiff(160, 0xffffff60), 320);
  t.is(tsAdd(0xffffff60, 160), 0);
  t.is(tsAdd(0, -160), 0xffffff60);
});

test('property: parseRtp never throws on random bytes and offsets stay inside the packet', (t) => {
  const h = createRtpHeader();
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.nat(400), (bytes, lenRaw) => {
      const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const len = lenRaw % (buf.length + 20);
      const r = parseRtp(buf, len, h);
      if (r === RtpParseResult.Ok) {
        const n = Math.min(len, buf.length);
        return h.payloadOffset >= 12 && h.payloadLength >= 0 && h.payloadOffset + h.payloadLength <= n;
      }
      return r >= 1 && r <= 5;
    }),
    { numRuns: 20000 },
  );
  t.pass();
});

test('property: any written header with any payload parses back', (t) => {
  const h = createRtpHeader();
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.integer({ min: 0, max: 127 }),
      fc.integer({ min: 0, max: 65535 }),
      fc.nat({ max: 0xffffffff }),
      fc.nat({ max: 0xffffffff }),
      fc.uint8Array({ maxLength: 200 }),
      (marker, payloadType, sequence, timestamp, ssrc, payload) => {
        const buf = Buffer.alloc(12 + payload.length);
        writeRtpHeader(buf, { marker, payloadType, sequence, timestamp, ssrc });
        buf.set(payload, 12);
        return (
          parseRtp(buf, buf.length, h) === RtpParseResult.Ok &&
          h.marker === marker &&
          h.payloadType === payloadType &&
          h.sequence === sequence &&
          h.timestamp === timestamp &&
          h.ssrc === ssrc &&
          h.payloadLength === payload.length
        );
      },
    ),
  );
  t.pass();
});
