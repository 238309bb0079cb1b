/**
 * SRTP through libsrtp2 (ffi/srtp, media/srtp): a round trip per suite for RTP and RTCP, a
 * tampered packet and a replayed one dropped and counted while the next good packet passes, MKI,
 * and a missing library giving a clear failure instead of a crash.
 * @module
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { setNativeLibraryDisabled } from '../ffi/loader.js';
import { SRTP_SUITE_INFO, SRTP_SUITES, SrtpContext, srtpMkiSupported, srtpStatus, srtpSuiteSupported, type SrtpSuite } from '../ffi/srtp.js';
import { SrtpSession, sameSrtpKeying, type SrtpKeying } from '../media/srtp.js';
import { native, peerTest } from './helpers/env.js';

const SRTP = [native('srtp2')];

function keyFor(suite: SrtpSuite): string {
  const info = SRTP_SUITE_INFO[suite];
  return randomBytes(info.keyBytes + info.saltBytes).toString('base64');
}

/** Two ends of one call: A's send key is B's receive key and the other way round. */
function pair(suite: SrtpSuite, mki = false): { a: SrtpSession; b: SrtpSession } {
  const ka = keyFor(suite);
  const kb = keyFor(suite);
  const ma = mki ? { value: 1, bytes: 4 } : undefined;
  const mb = mki ? { value: 7, bytes: 2 } : undefined;
  const a: SrtpKeying = { suite, sendKey: ka, receiveKey: kb, ...(ma ? { sendMki: ma } : {}), ...(mb ? { receiveMki: mb } : {}) };
  const b: SrtpKeying = { suite, sendKey: kb, receiveKey: ka, ...(mb ? { sendMki: mb } : {}), ...(ma ? { receiveMki: ma } : {}) };
  const sa = SrtpSession.create(a);
  const sb = SrtpSession.create(b);
  if (!sa.ok || !sb.ok) throw new Error(`SRTP session failed: ${sa.ok ? '' : sa.reason} ${sb.ok ? '' : sb.reason}`);
  return { a: sa.value, b: sb.value };
}

/** A 20 ms G.711 RTP packet with room after it, sequence `seq`. */
function rtpPacket(seq: number, room = 64): { buf: Buffer; len: number } {
  const buf = Buffer.alloc(12 + 160 + room);
  buf[0] = 0x80;
  buf[1] = 0;
  buf.writeUInt16BE(seq, 2);
  buf.writeUInt32BE(seq * 160, 4);
  buf.writeUInt32BE(0x11223344, 8);
  for (let i = 0; i < 160; i++) buf[12 + i] = (seq + i) & 0xff;
  return { buf, len: 172 };
}

/** An RTCP receiver report with no blocks (8 bytes) plus room. */
function rtcpPacket(): { buf: Buffer; len: number } {
  const buf = Buffer.alloc(8 + 64);
  buf[0] = 0x80;
  buf[1] = 201;
  buf.writeUInt16BE(1, 2);
  buf.writeUInt32BE(0x11223344, 4);
  return { buf, len: 8 };
}

peerTest('libsrtp2 loads and says which suites it has', SRTP, (t) => {
  const status = srtpStatus();
  t.true(status.ok, status.ok ? '' : status.reason);
  // Debian's libsrtp2-1 is built with NSS, so the AES-GCM suites are there too
  for (const suite of SRTP_SUITES) t.log(`${suite}: ${srtpSuiteSupported(suite) ? 'supported' : 'not in this build'}`);
  t.true(srtpSuiteSupported('AES_CM_128_HMAC_SHA1_80'));
  t.true(srtpSuiteSupported('AES_CM_128_HMAC_SHA1_32'));
});

for (const suite of SRTP_SUITES) {
  for (const mki of [false, true]) {
    peerTest(`${suite}${mki ? ' with MKI' : ''}: RTP and RTCP round trip, tamper and replay dropped and counted`, SRTP, (t) => {
      if (!srtpSuiteSupported(suite)) {
        t.pass(`${suite} is not in this libsrtp2 build`);
        return;
      }
      if (mki && !srtpMkiSupported(suite)) {
        const k = keyFor(suite);
        t.false(SrtpSession.create({ suite, sendKey: k, receiveKey: k, sendMki: { value: 1, bytes: 1 } }).ok, 'MKI refused for this suite');
        return;
      }
      const { a, b } = pair(suite, mki);
      // round trip
      for (let seq = 1; seq <= 5; seq++) {
        const p = rtpPacket(seq);
        const plain = Buffer.from(p.buf.subarray(0, p.len));
        const n = a.protectRtp(p.buf, p.len);
        t.is(n, p.len + SRTP_SUITE_INFO[suite].tagBytes + (mki ? 4 : 0));
        t.notDeepEqual(p.buf.subarray(12, p.len), plain.subarray(12), 'payload encrypted');
        t.deepEqual(p.buf.subarray(0, 12), plain.subarray(0, 12), 'header in the clear');
        const saved = Buffer.from(p.buf.subarray(0, n));
        t.is(b.unprotectRtp(p.buf, n), p.len);
        t.deepEqual(p.buf.subarray(0, p.len), plain);
        if (seq === 5) {
          // replay of packet 5
          t.is(b.unprotectRtp(saved, saved.length), -1);
        }
      }
      // tamper: one payload bit flipped
      const p6 = rtpPacket(6);
      const n6 = a.protectRtp(p6.buf, p6.len);
      p6.buf[40] = p6.buf[40]! ^ 0x01;
      t.is(b.unprotectRtp(p6.buf, n6), -1);
      // the next good packet still passes
      const p7 = rtpPacket(7);
      const n7 = a.protectRtp(p7.buf, p7.len);
      t.is(b.unprotectRtp(p7.buf, n7), p7.len);
      // SRTCP both ways
      for (const [from, to] of [
        [a, b],
        [b, a],
      ] as const) {
        const r = rtcpPacket();
        const plain = Buffer.from(r.buf.subarray(0, r.len));
        const n = from.protectRtcp(r.buf, r.len);
        t.true(n > r.len);
        const saved = Buffer.from(r.buf.subarray(0, n));
        t.is(to.unprotectRtcp(r.buf, n), r.len);
        t.deepEqual(r.buf.subarray(0, r.len), plain);
        t.is(to.unprotectRtcp(saved, saved.length), -1, 'SRTCP replay refused');
      }
      const stats = b.stats();
      t.is(stats.suite, suite);
      t.is(stats.srtpAuthFailures, 1);
      t.is(stats.srtpReplays, 2);
      t.is(a.stats().srtpReplays, 1);
      a.close();
      b.close();
    });
  }
}

peerTest('a packet protected with another key fails authentication', SRTP, (t) => {
  const { a } = pair('AES_CM_128_HMAC_SHA1_80');
  const { b } = pair('AES_CM_128_HMAC_SHA1_80');
  const p = rtpPacket(1);
  const n = a.protectRtp(p.buf, p.len);
  t.is(b.unprotectRtp(p.buf, n), -1);
  t.is(b.stats().srtpAuthFailures, 1);
  a.close();
  b.close();
});

peerTest('protect refuses a buffer without room for the tag', SRTP, (t) => {
  const { a } = pair('AES_CM_128_HMAC_SHA1_80');
  const p = rtpPacket(1, 0);
  t.is(a.protectRtp(p.buf, p.len), -1);
  t.is(a.stats().srtpProtectErrors, 1);
  a.close();
});

peerTest('bad keys and MKIs are refused with a reason, never thrown', SRTP, (t) => {
  const short = SrtpContext.create('AES_CM_128_HMAC_SHA1_80', new Uint8Array(29), 'send');
  t.false(short.ok);
  if (!short.ok) t.is(short.code, 'invalid-argument');
  const mki = SrtpContext.create('AES_CM_128_HMAC_SHA1_80', new Uint8Array(30), 'send', new Uint8Array(0));
  t.false(mki.ok);
  const unknown = SrtpContext.create('F8_128_HMAC_SHA1_80' as SrtpSuite, new Uint8Array(30), 'send');
  t.false(unknown.ok);
  // a closed context refuses politely
  const ok = SrtpContext.create('AES_CM_128_HMAC_SHA1_80', new Uint8Array(30), 'send');
  t.true(ok.ok);
  if (ok.ok) {
    ok.value.close();
    ok.value.close();
    const p = rtpPacket(1);
    t.true(ok.value.protectRtp(p.buf, p.len) < 0);
  }
});

test('keyings compare by suite, keys and MKI', (t) => {
  const k: SrtpKeying = { suite: 'AES_CM_128_HMAC_SHA1_80', sendKey: 'a', receiveKey: 'b' };
  t.true(sameSrtpKeying(k, { ...k }));
  t.false(sameSrtpKeying(k, { ...k, receiveKey: 'c' }));
  t.false(sameSrtpKeying(k, { ...k, sendMki: { value: 1, bytes: 1 } }));
  t.false(sameSrtpKeying(k, undefined));
  t.true(sameSrtpKeying(undefined, undefined));
});

test.serial('a missing libsrtp2 is a clear failure, not a crash', (t) => {
  setNativeLibraryDisabled('srtp2', true);
  try {
    const r = SrtpSession.create({ suite: 'AES_CM_128_HMAC_SHA1_80', sendKey: keyFor('AES_CM_128_HMAC_SHA1_80'), receiveKey: keyFor('AES_CM_128_HMAC_SHA1_80') });
    t.false(r.ok);
    if (!r.ok) {
      t.is(r.code, 'library-missing');
      t.regex(r.reason, /srtp2/);
    }
    t.false(srtpStatus().ok);
  } finally {
    setNativeLibraryDisabled('srtp2', false);
  }
});

peerTest('re-keying the receive side keeps the send context and its counters', SRTP, (t) => {
  const suite = 'AES_CM_128_HMAC_SHA1_80';
  const { a, b } = pair(suite);
  const p1 = rtpPacket(1);
  const n1 = a.protectRtp(p1.buf, p1.len);
  t.is(b.unprotectRtp(p1.buf, n1), p1.len);
  // A's peer (B) changes its key: A re-keys its receive side only
  const newB = keyFor(suite);
  t.true(a.rekeyReceive({ ...a.keying, receiveKey: newB }));
  t.false(a.rekeyReceive({ ...a.keying, sendKey: newB }), 'a new send key is not a receive re-key');
  const b2 = SrtpSession.create({ suite, sendKey: newB, receiveKey: a.keying.sendKey });
  t.true(b2.ok);
  if (!b2.ok) return;
  const q = rtpPacket(1);
  const m = b2.value.protectRtp(q.buf, q.len);
  t.is(a.unprotectRtp(q.buf, m), q.len, 'the new peer key works');
  // A's send side still runs on: packet 2 passes B's old receive context (no index reset)
  const p2 = rtpPacket(2);
  t.is(b.unprotectRtp(p2.buf, a.protectRtp(p2.buf, p2.len)), p2.len);
  a.close();
  b.close();
  b2.value.close();
});
