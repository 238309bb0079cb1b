/**
 * Two MediaSessions on 127.0.0.1 talking to each other on one real media clock, and the
 * captures and checks the media tests share.
 * @module
 */
import type { ExecutionContext } from 'ava';
import { CODEC_INFO, type CodecName } from '../../media/codecs.js';
import type { IvrRxStream } from '../../media/ivr.js';
import { MediaClock } from '../../media/mediaClock.js';
import { RtpPortAllocator } from '../../media/rtpSocket.js';
import { isMediaSessionError, MediaSession, type MediaParams, type MediaSessionOptions } from '../../media/session.js';
import { freePorts } from './ports.js';

/** The only address these tests use. */
export const HOST = '127.0.0.1';

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** No telephone-event negotiated (for tests that send plain audio only). */
export const NO_TELEPHONE_EVENT: Partial<MediaParams> = { telephoneEvent: undefined };

/** An allocator over `pairs` free even port pairs. */
export async function allocator(pairs = 4): Promise<RtpPortAllocator> {
  const ports = await freePorts(pairs, { even: true });
  return new RtpPortAllocator({ host: HOST, minPort: ports[0]!, maxPort: ports[pairs - 1]! + 1 });
}

/** Media parameters for sending `codec` to `remotePort` on HOST, with telephone-event 101. */
export function params(codec: CodecName, remotePort: number, over: Partial<MediaParams> = {}): MediaParams {
  const info = CODEC_INFO[codec];
  return {
    remoteAddress: HOST,
    remotePort,
    codec,
    payloadType: info.defaultPayloadType,
    receivePayloadType: info.defaultPayloadType,
    telephoneEvent: { payloadType: 101, receivePayloadType: 101, clockRate: info.clockRate },
    sending: true,
    receiving: true,
    rtcpMux: false,
    ptime: 20,
    ...over,
  };
}

/** Opens a session on HOST, stopped in teardown. */
export async function open(t: ExecutionContext, clock: MediaClock, alloc: RtpPortAllocator, extra: Partial<MediaSessionOptions> = {}): Promise<MediaSession> {
  const s = await MediaSession.open({ clock, allocator: alloc, localAddress: HOST, ...extra });
  if (isMediaSessionError(s)) throw new Error(s.message);
  t.teardown(() => s.stop());
  return s;
}

/** Two started sessions and their clock. */
export interface Pair {
  /** The media clock driving both. */
  clock: MediaClock;
  /** First session. */
  a: MediaSession;
  /** Second session. */
  b: MediaSession;
}

/** Options of {@link pair}: session options and parameter overrides per side. */
export interface PairOptions {
  /** Options of A. */
  a?: Partial<MediaSessionOptions>;
  /** Options of B. */
  b?: Partial<MediaSessionOptions>;
  /** Parameter overrides of A. */
  pa?: Partial<MediaParams>;
  /** Parameter overrides of B. */
  pb?: Partial<MediaParams>;
}

/** Two started sessions talking to each other with `codec`. */
export async function pair(t: ExecutionContext, codec: CodecName, opts: PairOptions = {}): Promise<Pair> {
  const clock = new MediaClock();
  t.teardown(() => clock.stop());
  const alloc = await allocator();
  const a = await open(t, clock, alloc, opts.a);
  const b = await open(t, clock, alloc, opts.b);
  t.true(a.configure(params(codec, b.localPort, opts.pa)));
  t.true(b.configure(params(codec, a.localPort, opts.pb)));
  clock.start();
  a.start();
  b.start();
  return { clock, a, b };
}

/** Collects what an Rx stream delivers. */
export class Capture {
  /** Chunks received, in order. */
  readonly chunks: Buffer[] = [];
  /** @param stream the Rx stream to listen to */
  constructor(readonly stream: IvrRxStream) {
    stream.on('data', (b: Buffer) => this.chunks.push(b));
  }
  /** Number of chunks so far (a position for {@link pcm}). */
  get mark(): number {
    return this.chunks.length;
  }
  /** Samples of chunks `from` to `to`. */
  pcm(from = 0, to = this.chunks.length): Int16Array {
    const buf = Buffer.concat(this.chunks.slice(from, to));
    const out = new Int16Array(buf.length >> 1);
    for (let i = 0; i < out.length; i++) out[i] = buf.readInt16LE(i * 2);
    return out;
  }
  /** PCM received during the next `ms`. */
  async record(ms: number): Promise<Int16Array> {
    const m = this.mark;
    await sleep(ms);
    return this.pcm(m);
  }
}

/** Asserts a frequency within 2 %. */
export function near(t: ExecutionContext, got: number, want: number, what: string): void {
  t.true(Math.abs(got - want) <= want * 0.02, `${what}: ${got.toFixed(1)} Hz, expected ${want} Hz ±2 %`);
}

/** A {@link pair} on a manual clock that the test advances in lockstep with delivery. */
export interface SteppedPair extends Pair {
  /**
   * Runs up to `ticks` ticks, or until `done` holds. After each tick it waits (in real time,
   * as long as the machine needs) until each side has been handed every RTP packet the other
   * sent, so a frame is never played out before it could arrive. Resolves with the ticks run.
   */
  step(ticks: number, done?: () => boolean): Promise<number>;
}

/**
 * Two started sessions talking `codec` on a {@link MediaClock.manual} clock. On a real clock a
 * stalled event loop runs catch-up ticks back to back, before the frames they send can reach
 * the other side, and the receiver conceals them; stepping in lockstep with delivery takes
 * the machine's load out of what a test judges (for tests about content, not timing).
 */
export async function steppedPair(t: ExecutionContext, codec: CodecName, opts: PairOptions = {}): Promise<SteppedPair> {
  const clock = MediaClock.manual();
  t.teardown(() => clock.stop());
  const alloc = await allocator();
  const a = await open(t, clock, alloc, opts.a);
  const b = await open(t, clock, alloc, opts.b);
  t.true(a.configure(params(codec, b.localPort, opts.pa)));
  t.true(b.configure(params(codec, a.localPort, opts.pb)));
  clock.start();
  a.start();
  b.start();
  const delivered = (): boolean => b.stats().rx.packetsIn >= a.stats().tx.packets && a.stats().rx.packetsIn >= b.stats().tx.packets;
  const step = async (ticks: number, done: () => boolean = () => false): Promise<number> => {
    for (let i = 0; i < ticks; i++) {
      // the application runs between ticks, as it does on a real clock
      await new Promise((r) => setImmediate(r));
      if (done()) return i;
      clock.tickOnce();
      // a lost datagram (never on loopback short of a full socket queue) ends the wait after 10 s
      const end = Date.now() + 10000;
      while (!delivered() && Date.now() < end) await new Promise((r) => setImmediate(r));
    }
    return ticks;
  };
  return { clock, a, b, step };
}

/**
 * A started Opus session (PT 111 both ways, no telephone-event) on its own started clock, with a
 * 48 kHz capture of what it plays: the receive end a raw RTP peer feeds.
 */
export async function openOpusReceiver(t: ExecutionContext): Promise<{ s: MediaSession; cap: Capture }> {
  const clock = new MediaClock();
  t.teardown(() => clock.stop());
  const s = await open(t, clock, await allocator(2));
  t.true(s.configure(params('opus', 9, { telephoneEvent: undefined, payloadType: 111, receivePayloadType: 111 })));
  clock.start();
  s.start();
  return { s, cap: new Capture(s.openRx(48000)) };
}
