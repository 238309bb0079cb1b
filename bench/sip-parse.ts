/**
 * Micro-benchmark of the SIP parser and serializer on a realistic INVITE with SDP (~900 bytes).
 * Run `node dist/bench/sip-parse.js [durationMs]`. Figures only; tests never assert timings.
 * @module
 */
import { pathToFileURL } from 'node:url';
import { parseMessage, serializeMessage } from '../sip/parser.js';
import type { SipMessage } from '../sip/message.js';

const SDP =
  'v=0\r\n' +
  'o=linescape 3912445 3912445 IN IP4 192.0.2.10\r\n' +
  's=LineScape\r\n' +
  'c=IN IP4 192.0.2.10\r\n' +
  't=0 0\r\n' +
  'm=audio 40000 RTP/AVP 0 8 111 101\r\n' +
  'a=rtpmap:0 PCMU/8000\r\n' +
  'a=rtpmap:8 PCMA/8000\r\n' +
  'a=rtpmap:111 opus/48000/2\r\n' +
  'a=fmtp:111 useinbandfec=1\r\n' +
  'a=rtpmap:101 telephone-event/8000\r\n' +
  'a=fmtp:101 0-16\r\n' +
  'a=ptime:20\r\n' +
  'a=sendrecv\r\n';

/** A typical INVITE as a softphone sends it through a proxy. */
export const BENCH_INVITE: Buffer = Buffer.from(
  'INVITE sip:bob@biloxi.example.com SIP/2.0\r\n' +
    'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\n' +
    'Max-Forwards: 70\r\n' +
    'To: Bob <sip:bob@biloxi.example.com>\r\n' +
    'From: "Alice Liddell" <sip:alice@atlanta.example.com>;tag=1928301774\r\n' +
    'Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n' +
    'CSeq: 314159 INVITE\r\n' +
    'Contact: <sip:alice@192.0.2.10:5060;transport=udp>\r\n' +
    'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY, MESSAGE, INFO, UPDATE\r\n' +
    'Supported: replaces, timer, 100rel\r\n' +
    'User-Agent: LineScape/0.1\r\n' +
    'Content-Type: application/sdp\r\n' +
    `Content-Length: ${SDP.length}\r\n` +
    '\r\n' +
    SDP,
);

function rate(fn: () => void, durationMs: number): number {
  // warm up so the JIT has settled before timing
  for (let i = 0; i < 20000; i++) fn();
  let n = 0;
  const start = process.hrtime.bigint();
  const limit = BigInt(durationMs) * 1_000_000n;
  let elapsed = 0n;
  while (elapsed < limit) {
    for (let i = 0; i < 1000; i++) fn();
    n += 1000;
    elapsed = process.hrtime.bigint() - start;
  }
  return Math.round(n / (Number(elapsed) / 1e9));
}

/** Figures of {@link benchParse}. */
export interface ParseBenchResult {
  /** parseMessage calls per second. */
  parsePerSec: number;
  /** serializeMessage calls per second. */
  serializePerSec: number;
  /** parseMessage + serializeMessage pairs per second. */
  roundTripPerSec: number;
}

/** Operations per second of parse, serialize and parse+serialize, each measured for `durationMs`. */
export async function benchParse(durationMs: number): Promise<ParseBenchResult> {
  let sink = 0;
  const msg: SipMessage = parseMessage(BENCH_INVITE);
  const parsePerSec = rate(() => {
    sink += parseMessage(BENCH_INVITE).headers.entries.length;
  }, durationMs);
  await Promise.resolve();
  const serializePerSec = rate(() => {
    sink += serializeMessage(msg).length;
  }, durationMs);
  await Promise.resolve();
  const roundTripPerSec = rate(() => {
    sink += serializeMessage(parseMessage(BENCH_INVITE)).length;
  }, durationMs);
  if (sink === -1) console.log(sink); // keeps the work observable to the optimizer
  return { parsePerSec, serializePerSec, roundTripPerSec };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const ms = Number(process.argv[2] ?? 2000);
  const r = await benchParse(ms);
  const us = (perSec: number) => (1e6 / perSec).toFixed(2);
  console.log(`INVITE with SDP, ${BENCH_INVITE.length} bytes`);
  console.log(`parse:      ${r.parsePerSec.toLocaleString('en')} /s (${us(r.parsePerSec)} µs)`);
  console.log(`serialize:  ${r.serializePerSec.toLocaleString('en')} /s (${us(r.serializePerSec)} µs)`);
  console.log(`round trip: ${r.roundTripPerSec.toLocaleString('en')} /s (${us(r.roundTripPerSec)} µs)`);
}
