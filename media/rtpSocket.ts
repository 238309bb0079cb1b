/**
 * UDP sockets for one RTP session: an even RTP port and RTP+1 for RTCP (RFC 3550 section 11),
 * taken from an engine-wide port range by {@link RtpPortAllocator}, with optional rtcp-mux
 * (RFC 5761) and symmetric RTP (send back to where the peer's packets come from, which gets
 * media through NATs).
 *
 * Per packet, this module adds no allocation of its own: datagrams reach one handler
 * function per socket (set as a property, no event emitter fan-out). With `node:dgram` (the
 * default transport) Node still allocates per datagram: a fresh `Buffer` and `rinfo` for each
 * one received and a small send request per send. The native transport (media/nativeUdp.ts,
 * `rtpTransport: 'native'`) allocates nothing; {@link RtpSocket} sees either through
 * {@link UdpEndpoint}.
 * @module
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';
import { openFilesLimit } from '../ffi/processLimits.js';
import { bindNativeUdp, NativeUdpEndpoint, nativeUdpUnavailable } from './nativeUdp.js';
import { isRtcp } from './rtp.js';
import type { SrtpSession } from './srtp.js';
import type { UdpEndpoint, UdpMessageHandler } from './udpEndpoint.js';

/** Bytes of a large send slot: an RTP header and a full Ethernet payload. */
const SEND_SLOT_BYTES = 1536;
/** Packets of one length from one buffer before `RtpSocket.sendFrom` copies them through a view of their own. */
const COPY_VIEW_AFTER = 8;

/**
 * Bytes of a small send slot: enough for 20 ms of G.711 or G.722 (12 + 160), a G.729, GSM or
 * usual Opus packet and RTCP, i.e. nearly every send. Most of the pool is small slots, so it
 * costs a sixth of what large ones would.
 */
const SMALL_SLOT_BYTES = 256;

/**
 * A buffer an RTP packet is copied into for one send. Node's dgram may read a sent buffer
 * later: with its default lookup a turn later (it resolves even an IP literal on nextTick; our
 * sockets answer literals in place, see `literalLookup`), for a host name after DNS, and
 * whenever the socket's send buffer is full (libuv queues the send). A caller that reuses one
 * packet buffer for two sends (two 10 ms packets in a tick, ticks caught up after a stall)
 * would then send the second packet twice. Each send takes a slot, and the send's callback gives
 * it back; its one bound callback is made with the slot, so a send allocates nothing of ours.
 */
class SendSlot {
  readonly buf: Buffer;
  /** The socket whose send holds the slot (its errors go there). */
  owner: DgramEndpoint | undefined;
  /**
   * A view of the slot's first `view.length` bytes, kept for the next send of that length: a
   * send with offset and length makes Node cut a new view per send, a send of a whole Buffer
   * does not. A stream sends one length (172 bytes for 20 ms of G.711), so the view is made
   * once; another length makes a new one.
   */
  private view: Buffer;

  /** @param pool the pool the slot goes back to */
  constructor(private readonly pool: SendSlotPool) {
    // small slots share Node's buffer pool: their bytes are always written before a send
    this.buf = pool.bytes <= SMALL_SLOT_BYTES ? Buffer.allocUnsafe(pool.bytes) : Buffer.alloc(pool.bytes);
    this.view = this.buf;
  }

  /** The slot's first `len` bytes as a whole Buffer (made once per length, see `view`). */
  bytes(len: number): Buffer {
    if (this.view.length !== len) this.view = this.buf.subarray(0, len);
    return this.view;
  }

  readonly done = (err: Error | null): void => {
    const owner = this.owner;
    this.owner = undefined;
    this.pool.give(this);
    if (err && owner) owner.failed(err);
  };
}

/** Slot takes between two trims of a pool. */
const TRIM_WINDOW_TAKES = 4096;

/**
 * Free send slots of one size, shared by every socket of the process: the pool grows to the
 * most sends in flight at once (about one per active stream per tick) instead of a ring per
 * socket that would cost every call its full size. Ticks caught up after a stall put several
 * sends per stream in flight; the slots that burst left are dropped again once a whole window
 * of sends went by without needing them.
 */
class SendSlotPool {
  private readonly free: SendSlot[] = [];
  private inUse = 0;
  /** Most slots in use at once in this window. */
  private peak = 0;
  private takes = 0;

  /** @param bytes the size of the pool's slots */
  constructor(readonly bytes: number) {}

  /** A free slot (a new one when none is free). */
  take(): SendSlot {
    const slot = this.free.pop() ?? new SendSlot(this);
    if (++this.inUse > this.peak) this.peak = this.inUse;
    if (++this.takes >= TRIM_WINDOW_TAKES) this.trim();
    return slot;
  }

  /** A send's callback gives its slot back. */
  give(slot: SendSlot): void {
    this.inUse--;
    this.free.push(slot);
  }

  /** Keeps as many slots as the window's peak needed (and a few more); drops the rest. */
  private trim(): void {
    const keep = this.peak + 8;
    const excess = this.inUse + this.free.length - keep;
    if (excess > 0) this.free.length = Math.max(0, this.free.length - excess);
    this.peak = this.inUse;
    this.takes = 0;
  }
}

/** The process's send slots: small ones for nearly every packet, large ones for the rest. */
const smallSlots = new SendSlotPool(SMALL_SLOT_BYTES);
const largeSlots = new SendSlotPool(SEND_SLOT_BYTES);

/**
 * The sockets' address lookup: an IP literal (every RTP destination from SDP or from symmetric
 * learning) is its own answer, given at once; anything else goes to `dns.lookup`. Node's default
 * sends every datagram through `dns.lookup`, which answers an IP literal only on the next tick
 * (a closure, a tick and a second pass through `send` per packet); answered in place, the send
 * reaches the socket in the same call.
 */
function literalLookup(
  address: string,
  // Node passes the socket's family as a number (4 or 6); the typings name an options object
  options: dns.LookupOneOptions | number,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  // one remembered literal: a process's streams mostly go to one or a few addresses
  if (address === lastLiteral) {
    callback(null, address, lastLiteralFamily);
    return;
  }
  const f = net.isIP(address);
  if (f !== 0) {
    lastLiteral = address;
    lastLiteralFamily = f;
    callback(null, address, f);
    return;
  }
  if (typeof options === 'number') dns.lookup(address, options, callback);
  else dns.lookup(address, options, callback);
}

/** The last IP literal {@link literalLookup} answered, and its family. */
let lastLiteral = '';
let lastLiteralFamily = 0;

/**
 * A `node:dgram` socket as a {@link UdpEndpoint}: the default transport. Sends go through the
 * shared slots (see {@link SendSlot}); Node allocates a Buffer and `rinfo` per datagram.
 */
class DgramEndpoint implements UdpEndpoint {
  readonly transport = 'dgram' as const;
  readonly localAddress: string;
  onMessage: UdpMessageHandler | null = null;
  onError: ((err: Error) => void) | null = null;
  private staged: SendSlot | null = null;

  constructor(private readonly sock: dgram.Socket) {
    this.localAddress = sock.address().address;
    sock.on('message', this.onDatagram);
    sock.on('error', this.failed);
  }

  private readonly onDatagram = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    const h = this.onMessage;
    if (h !== null) h(msg, msg.length, rinfo.address, rinfo.port);
  };

  /** A send's callback reported an error, or the socket emitted one. */
  readonly failed = (err: Error): void => {
    const h = this.onError;
    if (h !== null) h(err);
  };

  stage(room: number): Buffer {
    const slot = (room <= SMALL_SLOT_BYTES ? smallSlots : largeSlots).take();
    this.staged = slot;
    return slot.buf;
  }

  sendStaged(len: number, port: number, host: string): void {
    const slot = this.staged;
    if (slot === null) return;
    this.staged = null;
    slot.owner = this;
    try {
      this.sock.send(slot.bytes(len), port, host, slot.done);
    } catch (err) {
      slot.done(null);
      this.failed(err as Error);
    }
  }

  dropStaged(): void {
    const slot = this.staged;
    this.staged = null;
    slot?.done(null);
  }

  sendNow(buf: Buffer, len: number, port: number, host: string): void {
    try {
      this.sock.send(buf, 0, len, port, host);
    } catch (err) {
      this.failed(err as Error);
    }
  }

  close(done: () => void): void {
    try {
      this.sock.close(done);
    } catch {
      done();
    }
  }
}

/** How {@link RtpPortAllocator} walks the range. */
export type RtpPortStrategy = 'sequential' | 'random';

/** Options of {@link RtpPortAllocator}. */
export interface RtpPortAllocatorOptions {
  /** Local address to bind (IPv4 or IPv6 literal). */
  host: string;
  /** Lowest port of the range (the first RTP port is the next even one). */
  minPort: number;
  /** Highest port of the range (an RTCP port may be this one). */
  maxPort: number;
  /**
   * `sequential` resumes after the last port handed out, so a just-released port is not reused
   * at once (stray packets of the old call); `random` starts each search at a random pair.
   * Default `sequential`.
   */
  strategy?: RtpPortStrategy;
  /** SO_RCVBUF per socket, bytes. Default 262144 (the OS may clamp it). */
  recvBufferSize?: number;
  /** SO_SNDBUF per socket, bytes. Default 262144 (the OS may clamp it). */
  sendBufferSize?: number;
  /**
   * `dgram` (default): `node:dgram` sockets. `native`: libc sockets read once per clock phase
   * (media/nativeUdp.ts), nothing allocated per packet; an IPv6 host, a machine where libc
   * cannot be bound or `LINESCAPE_DISABLE_NATIVE=udp` stay on dgram
   * ({@link RtpPortAllocator.transportNote} says why).
   */
  transport?: 'dgram' | 'native';
  /**
   * Native pairs given back stay bound, parked, and are handed out again once they have been
   * parked this long, ms (default {@link RTP_PARK_QUARANTINE_MS}): a set-up then costs no
   * `socket`, `setsockopt`, `bind`, `epoll_ctl` and `close` calls. Packets that reach a parked
   * pair are read and dropped. 0 turns parking off (every pair is closed when given back).
   */
  parkQuarantineMs?: number;
  /**
   * Most pairs parked at once (default {@link RTP_MAX_PARKED_PAIRS}, and no more than an eighth of
   * the open-files limit in pairs); at most half the range either way. More are closed.
   */
  maxParkedPairs?: number;
  /** Milliseconds clock of the quarantine (tests); default `performance.now`. */
  now?: () => number;
}

/**
 * How long a native pair given back stays parked before another call may take it, ms: longer
 * than a far end goes on sending after the BYE, so its last packets are dropped rather than
 * delivered to the next call (which would re-aim symmetric RTP at them).
 */
export const RTP_PARK_QUARANTINE_MS = 1000;

/**
 * Most native pairs parked at once by default: 8 192 descriptors, enough for four thousand
 * set-ups a second to reuse every pair. The default also stays within an eighth of the
 * open-files limit in pairs (a quarter of the descriptors the process may open) and half the
 * range: the default range of 10 000 ports parks up to 2 500 pairs.
 */
export const RTP_MAX_PARKED_PAIRS = 4096;

/** A native pair given back, bound and reading, and when. */
interface ParkedPair {
  readonly rtpPort: number;
  readonly rtp: NativeUdpEndpoint;
  readonly rtcp: NativeUdpEndpoint;
  readonly at: number;
}

/** Why an allocation failed. */
export interface RtpAllocationError {
  /** Discriminator. */
  ok: false;
  /** `exhausted`: every pair of the range is busy; `bind-failed`: the host cannot be bound. */
  error: 'exhausted' | 'bind-failed';
  /** Human-readable detail. */
  message: string;
}

/** A bound RTP/RTCP socket pair. */
export interface RtpPortPair {
  /** Discriminator. */
  ok: true;
  /** Socket bound on the even RTP port. */
  rtp: UdpEndpoint;
  /** Socket bound on RTP + 1. */
  rtcp: UdpEndpoint;
  /** The RTP port. */
  rtpPort: number;
  /** The RTCP port (`rtpPort + 1`). */
  rtcpPort: number;
}

/** Result of {@link RtpPortAllocator.allocate}. */
export type RtpPortAllocation = RtpPortPair | RtpAllocationError;

function bindOnce(sock: dgram.Socket, port: number, host: string): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      sock.off('listening', onListening);
      resolve(err);
    };
    const onListening = (): void => {
      sock.off('error', onError);
      resolve(null);
    };
    sock.once('error', onError);
    sock.once('listening', onListening);
    try {
      sock.bind({ port, address: host, exclusive: true });
    } catch (err) {
      sock.off('error', onError);
      sock.off('listening', onListening);
      resolve(err as NodeJS.ErrnoException);
    }
  });
}

function closeQuietly(sock: dgram.Socket): void {
  try {
    sock.close();
  } catch {
    // already closed
  }
}

/** Ports a bind may legitimately find taken by someone else; anything else is fatal. */
function isBusy(err: NodeJS.ErrnoException): boolean {
  return err.code === 'EADDRINUSE' || err.code === 'EACCES';
}

/**
 * Hands out RTP/RTCP port pairs from one range; one allocator per engine so concurrent calls
 * never race for a pair. A pair busy in another process is skipped (the bind is the test).
 */
export class RtpPortAllocator {
  /** Local address bound. */
  readonly host: string;
  /** First RTP port of the range (even). */
  readonly firstPort: number;
  /** Number of RTP/RTCP pairs in the range. */
  readonly pairs: number;
  private readonly strategy: RtpPortStrategy;
  private readonly type: 'udp4' | 'udp6';
  private readonly recvBufferSize: number;
  private readonly sendBufferSize: number;
  private readonly reserved = new Set<number>();
  private cursor = 0;
  private native: boolean;
  /** Parked pairs, oldest first from `parkedHead` (a queue without shifting). */
  private parked: (ParkedPair | undefined)[] = [];
  private parkedHead = 0;
  private readonly quarantineMs: number;
  /** Most pairs this allocator parks at once (0: parking off). */
  readonly maxParked: number;
  private readonly now: () => number;
  private closedAll = false;
  /** Why a native allocator binds dgram sockets after all ('' when it does not). */
  transportNote = '';

  /** Describes the range; nothing is bound until {@link RtpPortAllocator.allocate}. */
  constructor(options: RtpPortAllocatorOptions) {
    this.host = options.host;
    this.type = net.isIPv6(options.host) ? 'udp6' : 'udp4';
    const min = Math.max(2, Math.ceil(options.minPort));
    this.firstPort = min % 2 === 0 ? min : min + 1;
    const max = Math.min(65535, Math.floor(options.maxPort));
    this.pairs = max >= this.firstPort + 1 ? Math.floor((max - this.firstPort + 1) / 2) : 0;
    this.strategy = options.strategy ?? 'sequential';
    this.recvBufferSize = options.recvBufferSize ?? 262144;
    this.sendBufferSize = options.sendBufferSize ?? 262144;
    this.native = options.transport === 'native';
    this.quarantineMs = Math.max(0, options.parkQuarantineMs ?? RTP_PARK_QUARANTINE_MS);
    // at most half the range: the rest stays free to bind, so a search for a free pair stays short
    const files = openFilesLimit();
    const wanted = options.maxParkedPairs ?? Math.min(RTP_MAX_PARKED_PAIRS, files === null ? Infinity : Math.floor(files / 8));
    this.maxParked = this.quarantineMs > 0 ? Math.max(0, Math.min(Math.floor(this.pairs / 2), Math.floor(wanted))) : 0;
    this.now = options.now ?? (() => performance.now());
    if (this.native) {
      // asked once: the switch and the host decide for the allocator's life
      this.transportNote = nativeUdpUnavailable(this.host);
      if (this.transportNote !== '') this.native = false;
    }
  }

  /**
   * Descriptors this range can have open with `calls` calls up: two per pair in use or parked.
   * The engine grows the process's descriptor table to that at start (ffi/fdTable.ts).
   */
  descriptorsFor(calls: number): number {
    return 2 * Math.min(this.pairs, Math.max(0, calls) + this.maxParked);
  }

  /** The transport new pairs get: `native` until it proves unavailable here. */
  get transport(): 'dgram' | 'native' {
    return this.native ? 'native' : 'dgram';
  }

  /** Pairs currently handed out by this allocator (parked ones are free to hand out). */
  get inUse(): number {
    return this.reserved.size - this.parkedCount;
  }

  /** Pairs parked: bound, given back, waiting for the next call. */
  get parkedCount(): number {
    return this.parked.length - this.parkedHead;
  }

  private tune(sock: dgram.Socket): void {
    // enlarged buffers absorb bursts when thousands of sockets share one event loop
    try {
      sock.setRecvBufferSize(this.recvBufferSize);
    } catch {
      // the OS refused; its default still works
    }
    try {
      sock.setSendBufferSize(this.sendBufferSize);
    } catch {
      // likewise
    }
  }

  /**
   * Binds the next free pair. Resolves (never rejects) with the sockets, or with an error when
   * every pair is busy or the host cannot be bound.
   */
  async allocate(): Promise<RtpPortAllocation> {
    const n = this.pairs;
    if (n === 0) return { ok: false, error: 'exhausted', message: 'empty RTP port range' };
    const reused = this.unpark(false);
    if (reused !== undefined) return reused;
    const start = this.strategy === 'random' ? Math.floor(Math.random() * n) : this.cursor;
    for (let i = 0; i < n; i++) {
      const idx = (start + i) % n;
      const port = this.firstPort + idx * 2;
      if (this.reserved.has(port)) continue;
      if (this.native) {
        const r = this.bindNativePair(port);
        if (r === 'busy') continue;
        if (r !== 'unavailable') {
          if (r.ok) this.cursor = (idx + 1) % n;
          return r;
        }
      }
      this.reserved.add(port); // claimed before the first await: concurrent calls skip it
      const rtp = dgram.createSocket({ type: this.type, lookup: literalLookup });
      let err = await bindOnce(rtp, port, this.host);
      if (err) {
        closeQuietly(rtp);
        this.reserved.delete(port);
        if (isBusy(err)) continue;
        return { ok: false, error: 'bind-failed', message: `${this.host}:${port}: ${err.message}` };
      }
      const rtcp = dgram.createSocket({ type: this.type, lookup: literalLookup });
      err = await bindOnce(rtcp, port + 1, this.host);
      if (err) {
        closeQuietly(rtcp);
        closeQuietly(rtp);
        this.reserved.delete(port);
        if (isBusy(err)) continue;
        return { ok: false, error: 'bind-failed', message: `${this.host}:${port + 1}: ${err.message}` };
      }
      this.tune(rtp);
      this.tune(rtcp);
      this.cursor = (idx + 1) % n;
      return { ok: true, rtp: new DgramEndpoint(rtp), rtcp: new DgramEndpoint(rtcp), rtpPort: port, rtcpPort: port + 1 };
    }
    // every other pair is busy: a parked one, even in quarantine, beats refusing the call
    const last = this.unpark(true);
    if (last !== undefined) return last;
    return {
      ok: false,
      error: 'exhausted',
      message: `no free RTP port pair in ${this.firstPort}-${this.firstPort + 2 * n - 1} on ${this.host}`,
    };
  }

  /**
   * Binds `port` and `port + 1` natively (synchronously: no other allocation can interleave).
   * `busy`: one of them is taken, try the next pair; `unavailable`: the native transport cannot
   * run here (this allocator binds dgram from now on).
   */
  private bindNativePair(port: number): RtpPortAllocation | 'busy' | 'unavailable' {
    const rtp = bindNativeUdp(this.host, port, this.recvBufferSize, this.sendBufferSize);
    if (typeof rtp === 'string') {
      this.native = false;
      this.transportNote = rtp;
      return 'unavailable';
    }
    if (!rtp.ok) return rtp.busy ? 'busy' : { ok: false, error: 'bind-failed', message: `${this.host}:${port}: ${rtp.error.message}` };
    const rtcp = bindNativeUdp(this.host, port + 1, this.recvBufferSize, this.sendBufferSize);
    if (typeof rtcp === 'string' || !rtcp.ok) {
      rtp.endpoint.close(() => undefined);
      if (typeof rtcp === 'string') return { ok: false, error: 'bind-failed', message: rtcp };
      return rtcp.busy ? 'busy' : { ok: false, error: 'bind-failed', message: `${this.host}:${port + 1}: ${rtcp.error.message}` };
    }
    this.reserved.add(port);
    return { ok: true, rtp: rtp.endpoint, rtcp: rtcp.endpoint, rtpPort: port, rtcpPort: port + 1 };
  }

  /** Gives a pair back (call after closing its sockets). */
  release(rtpPort: number): void {
    this.reserved.delete(rtpPort);
  }

  /**
   * Takes back a pair still open, to park it (see {@link RtpPortAllocatorOptions.parkQuarantineMs}):
   * true when parked (the caller must not close the endpoints), false when the caller closes
   * them as before (not native, parking off, the park full, or this allocator closed).
   */
  park(rtpPort: number, rtp: UdpEndpoint, rtcp: UdpEndpoint): boolean {
    if (this.closedAll || this.parkedCount >= this.maxParked || !(rtp instanceof NativeUdpEndpoint) || !(rtcp instanceof NativeUdpEndpoint)) return false;
    if (rtp.closed || rtcp.closed || !this.reserved.has(rtpPort)) return false;
    rtp.park();
    rtcp.park();
    this.parked.push({ rtpPort, rtp, rtcp, at: this.now() });
    return true;
  }

  /** The oldest parked pair when its quarantine is over (or `force`), handed out; else undefined. */
  private unpark(force: boolean): RtpPortPair | undefined {
    if (this.parkedHead === this.parked.length) return undefined;
    const p = this.parked[this.parkedHead]!;
    if (!force && this.now() - p.at < this.quarantineMs) return undefined;
    this.parked[this.parkedHead++] = undefined;
    if (this.parkedHead === this.parked.length) {
      this.parked.length = 0;
      this.parkedHead = 0;
    } else if (this.parkedHead >= 1024 && this.parkedHead * 2 >= this.parked.length) {
      this.parked = this.parked.slice(this.parkedHead);
      this.parkedHead = 0;
    }
    // what is still queued belongs to the former call: the poller drops it by its kernel stamp
    p.rtp.unpark();
    p.rtcp.unpark();
    return { ok: true, rtp: p.rtp, rtcp: p.rtcp, rtpPort: p.rtpPort, rtcpPort: p.rtpPort + 1 };
  }

  /**
   * Closes every parked pair and parks no more: the engine (or media floor) calls it when it
   * stops, after its calls' sockets are closed. Allocation still works, without parking.
   */
  close(): void {
    this.closedAll = true;
    for (let i = this.parkedHead; i < this.parked.length; i++) {
      const p = this.parked[i]!;
      p.rtp.close(() => undefined);
      p.rtcp.close(() => undefined);
      this.reserved.delete(p.rtpPort);
    }
    this.parked = [];
    this.parkedHead = 0;
  }
}

/**
 * Receives one datagram: `buf` (`len` bytes, passed so handlers share the `(buf, len)` shape of
 * the parsers). Under dgram it is the fresh Buffer Node allocated for it; under the native
 * transport a view of the poller's buffer, overwritten by the next datagram: a handler that
 * keeps bytes copies them.
 */
export type RtpPacketHandler = (buf: Buffer, len: number, address: string, port: number) => void;

/** A transport address. */
export interface RtpEndpoint {
  /** IP address. */
  address: string;
  /** UDP port. */
  port: number;
}

/** A socket {@link RtpSocket.open} opened. */
export interface RtpSocketOpened {
  /** Discriminator. */
  ok: true;
  /** The open socket. */
  socket: RtpSocket;
}

/** Options of {@link RtpSocket}. */
export interface RtpSocketOptions {
  /** RTCP shares the RTP port (RFC 5761): RTCP datagrams on it go to `onRtcp`, and RTCP is sent from/to it. */
  rtcpMux?: boolean;
  /** Send to the address the peer's packets come from once any arrived. Default true. */
  symmetric?: boolean;
}

/** Counters of {@link RtpSocket}. */
export interface RtpSocketStats {
  /** RTP datagrams received. */
  rtpIn: number;
  /** RTCP datagrams received (mux included). */
  rtcpIn: number;
  /** RTP datagrams sent. */
  rtpOut: number;
  /** RTCP datagrams sent. */
  rtcpOut: number;
  /** Sends with no destination known. */
  noDestination: number;
  /** Socket errors (failed sends surface here). */
  errors: number;
  /** Exceptions thrown by handlers (caught: a bad handler never kills the socket). */
  handlerErrors: number;
}

/**
 * The sockets of one RTP session. Set {@link RtpSocket.onRtp} / {@link RtpSocket.onRtcp} to
 * receive; {@link RtpSocket.setRemote} (from SDP) and symmetric learning decide where
 * {@link RtpSocket.sendRtp} / {@link RtpSocket.sendRtcp} go.
 */
export class RtpSocket {
  /** Called for each RTP datagram. */
  onRtp: RtpPacketHandler | null = null;
  /** Called for each RTCP datagram (from the RTCP port, or the RTP port under rtcp-mux). */
  onRtcp: RtpPacketHandler | null = null;
  /** Called on a socket error (failed send, ICMP unreachable); errors never throw. */
  onError: ((err: Error) => void) | null = null;

  /** Local RTP port. */
  readonly rtpPort: number;
  /** Local RTCP port (RTP + 1; unused for traffic under rtcp-mux). */
  readonly rtcpPort: number;
  /** Local address. */
  readonly host: string;

  private readonly rtp: UdpEndpoint;
  private readonly rtcp: UdpEndpoint;
  private readonly allocator: RtpPortAllocator | null;
  private rtcpMux: boolean;
  private symmetric: boolean;
  private closed = false;
  /** The last packet's source buffer and length, how many in a row had them, and a view of them once they hold (see `sendFrom`). */
  private copySource: Buffer | null = null;
  private copyLength = -1;
  private copyRun = 0;
  private copyView: Uint8Array | null = null;
  /** SRTP of the session (set from SDES), or null for plain RTP. */
  private srtp: SrtpSession | null = null;

  private remoteAddress = '';
  private remoteRtpPort = 0;
  private remoteRtcpPort = 0;
  private learnedRtpAddress = '';
  private learnedRtpPort = 0;
  private learnedRtcpAddress = '';
  private learnedRtcpPort = 0;

  private readonly counters: RtpSocketStats = {
    rtpIn: 0,
    rtcpIn: 0,
    rtpOut: 0,
    rtcpOut: 0,
    noDestination: 0,
    errors: 0,
    handlerErrors: 0,
  };

  /**
   * Wraps an allocated pair; `allocator` (when given) gets the pair back on close.
   * Prefer {@link RtpSocket.open}.
   */
  constructor(pair: RtpPortPair, allocator: RtpPortAllocator | null, options: RtpSocketOptions = {}) {
    this.rtp = pair.rtp;
    this.rtcp = pair.rtcp;
    this.rtpPort = pair.rtpPort;
    this.rtcpPort = pair.rtcpPort;
    this.host = pair.rtp.localAddress;
    this.allocator = allocator;
    this.rtcpMux = options.rtcpMux ?? false;
    this.symmetric = options.symmetric ?? true;
    this.rtp.onMessage = this.onRtpMessage;
    this.rtcp.onMessage = this.onRtcpMessage;
    this.rtp.onError = this.onSocketError;
    this.rtcp.onError = this.onSocketError;
  }

  /** Allocates a pair from `allocator` and wraps it; resolves with the allocation error otherwise. */
  static async open(
    allocator: RtpPortAllocator,
    options: RtpSocketOptions = {},
  ): Promise<RtpSocketOpened | RtpAllocationError> {
    const pair = await allocator.allocate();
    if (!pair.ok) return pair;
    return { ok: true, socket: new RtpSocket(pair, allocator, options) };
  }

  private readonly onRtpMessage = (msg: Buffer, len: number, address: string, port: number): void => {
    if (this.rtcpMux && isRtcp(msg, len)) {
      this.counters.rtcpIn++;
      if (this.symmetric) {
        this.learnedRtcpAddress = address;
        this.learnedRtcpPort = port;
      }
      this.deliverRtcp(msg, len, address, port);
      return;
    }
    this.counters.rtpIn++;
    // unprotected before learning the source: a forged packet must not re-aim our media
    if (this.srtp !== null && (len = this.srtp.unprotectRtp(msg, len)) < 0) return;
    if (this.symmetric) {
      this.learnedRtpAddress = address;
      this.learnedRtpPort = port;
    }
    this.deliver(this.onRtp, msg, len, address, port);
  };

  private readonly onRtcpMessage = (msg: Buffer, len: number, address: string, port: number): void => {
    this.counters.rtcpIn++;
    this.deliverRtcp(msg, len, address, port);
  };

  private deliverRtcp(msg: Buffer, len: number, address: string, port: number): void {
    if (this.srtp !== null && (len = this.srtp.unprotectRtcp(msg, len)) < 0) return;
    if (this.symmetric) {
      this.learnedRtcpAddress = address;
      this.learnedRtcpPort = port;
    }
    this.deliver(this.onRtcp, msg, len, address, port);
  }

  /**
   * Protects (and unprotects) every packet from now on with `srtp`, or none with null. The
   * previous session, if any, is returned to the caller, which closes it.
   */
  setSrtp(srtp: SrtpSession | null): SrtpSession | null {
    const prev = this.srtp;
    this.srtp = srtp;
    return prev;
  }

  /** The SRTP session in use, if any. */
  get srtpSession(): SrtpSession | null {
    return this.srtp;
  }

  private readonly onSocketError = (err: Error): void => {
    this.counters.errors++;
    if (this.onError) {
      try {
        this.onError(err);
      } catch {
        this.counters.handlerErrors++;
      }
    }
  };

  private deliver(h: RtpPacketHandler | null, msg: Buffer, len: number, address: string, port: number): void {
    if (h === null) return;
    try {
      h(msg, len, address, port);
    } catch {
      this.counters.handlerErrors++;
    }
  }

  /**
   * Where to send, from the SDP: `address`, RTP port and RTCP port (default RTP + 1, or the
   * RTP port under rtcp-mux). Symmetric learning overrides it once the peer's packets arrive.
   */
  setRemote(address: string, rtpPort: number, rtcpPort?: number): void {
    this.remoteAddress = address;
    this.remoteRtpPort = rtpPort;
    this.remoteRtcpPort = rtcpPort ?? (this.rtcpMux ? rtpPort : rtpPort + 1);
    this.learnedRtpAddress = '';
    this.learnedRtpPort = 0;
    this.learnedRtcpAddress = '';
    this.learnedRtcpPort = 0;
  }

  /** Turns symmetric RTP on or off (off: always send to the SDP address). */
  setSymmetric(on: boolean): void {
    this.symmetric = on;
  }

  /** Turns rtcp-mux on or off (as negotiated by `a=rtcp-mux`). */
  setRtcpMux(on: boolean): void {
    this.rtcpMux = on;
  }

  /** Address and port RTP goes to now (learned, else configured), or null. */
  get rtpDestination(): RtpEndpoint | null {
    if (this.symmetric && this.learnedRtpPort !== 0) return { address: this.learnedRtpAddress, port: this.learnedRtpPort };
    if (this.remoteRtpPort !== 0) return { address: this.remoteAddress, port: this.remoteRtpPort };
    return null;
  }

  /** Which transport carries the sockets (`native`: handlers get a buffer reused for the next datagram). */
  get transport(): 'dgram' | 'native' {
    return this.rtp.transport;
  }

  /** Sends `buf[0..len)` from the RTP port to `host:port`. Errors go to `onError`. */
  send(buf: Buffer, len: number, port: number, host: string): void {
    this.sendFrom(this.rtp, buf, len, port, host, false);
  }

  /** Sends through the socket's stage, protected by SRTP (or SRTCP when `rtcp`) when the session has it. */
  private sendFrom(sock: UdpEndpoint, buf: Buffer, len: number, port: number, host: string, rtcp: boolean): void {
    if (this.closed) return;
    const srtp = this.srtp;
    const room = srtp === null ? len : len + srtp.trailerBytes;
    if (room > SEND_SLOT_BYTES) {
      if (srtp !== null) return; // no room to protect in place: never send such a packet in the clear
      sock.sendNow(buf, len, port, host);
      return;
    }
    // copied into the socket's stage (a dgram slot: see SendSlot; the native socket's own buffer)
    const out0 = sock.stage(room);
    // Buffer#copy of part of a buffer makes a view of that part first, a small allocation per
    // packet (a packet is its buffer's first bytes). A stream of one length (G.711, G.722) is
    // copied through a view kept for it, as a memcpy; lengths that vary (Opus) byte by byte.
    // The view is made once the length has held for COPY_VIEW_AFTER packets in a row.
    const v = this.copyView;
    if (v !== null && this.copySource === buf && v.length === len) out0.set(v);
    else {
      for (let i = 0; i < len; i++) out0[i] = buf[i]!;
      if (this.copySource === buf && this.copyLength === len) {
        if (++this.copyRun >= COPY_VIEW_AFTER) this.copyView = new Uint8Array(buf.buffer, buf.byteOffset, len);
      } else {
        this.copySource = buf;
        this.copyLength = len;
        this.copyRun = 1;
        this.copyView = null;
      }
    }
    let out = len;
    if (srtp !== null) {
      out = rtcp ? srtp.protectRtcp(out0, len) : srtp.protectRtp(out0, len);
      if (out < 0) {
        sock.dropStaged();
        return;
      }
    }
    sock.sendStaged(out, port, host);
  }

  /** Sends an RTP packet to the peer; false when no destination is known yet. */
  sendRtp(buf: Buffer, len: number): boolean {
    let address = this.remoteAddress;
    let port = this.remoteRtpPort;
    if (this.symmetric && this.learnedRtpPort !== 0) {
      address = this.learnedRtpAddress;
      port = this.learnedRtpPort;
    }
    if (port === 0 || this.closed) {
      this.counters.noDestination++;
      return false;
    }
    this.counters.rtpOut++;
    this.send(buf, len, port, address);
    return true;
  }

  /** Sends an RTCP packet to the peer (from the RTP port under rtcp-mux); false without a destination. */
  sendRtcp(buf: Buffer, len: number): boolean {
    let address = this.remoteAddress;
    let port = this.remoteRtcpPort;
    if (this.symmetric) {
      if (this.rtcpMux && this.learnedRtpPort !== 0) {
        address = this.learnedRtpAddress;
        port = this.learnedRtpPort;
      }
      if (this.learnedRtcpPort !== 0) {
        address = this.learnedRtcpAddress;
        port = this.learnedRtcpPort;
      }
    }
    if (port === 0 || this.closed) {
      this.counters.noDestination++;
      return false;
    }
    this.counters.rtcpOut++;
    const sock = this.rtcpMux ? this.rtp : this.rtcp;
    if (this.srtp !== null) {
      this.sendFrom(sock, buf, len, port, address, true);
      return true;
    }
    sock.sendNow(buf, len, port, address);
    return true;
  }

  /** A copy of the counters. */
  stats(): RtpSocketStats {
    return { ...this.counters };
  }

  /** Closes both sockets and returns the pair to the allocator once they are closed. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.onRtp = null;
    this.onRtcp = null;
    if (this.allocator !== null && this.allocator.park(this.rtpPort, this.rtp, this.rtcp)) {
      // bound and reading still, for the next call after its quarantine
      this.srtp?.close();
      this.srtp = null;
      return Promise.resolve();
    }
    let pending = 2;
    return new Promise((resolve) => {
      const done = (): void => {
        if (--pending === 0) {
          this.allocator?.release(this.rtpPort);
          this.srtp?.close();
          this.srtp = null;
          resolve();
        }
      };
      this.rtp.close(done);
      this.rtcp.close(done);
    });
  }
}
