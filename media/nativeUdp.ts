/**
 * The native RTP transport (`rtpTransport: 'native'`): UDP sockets made and read through libc
 * (ffi/udp.ts) instead of `node:dgram`. Each thread (the main one, each media floor) has one
 * poller: an epoll set of its sockets that the media clock reads at the start of each phase
 * (every 5 ms with the default 4 phase groups), draining every ready socket into one buffer
 * and handing each datagram to its socket's handler with the kernel's receive timestamp. Sends
 * leave from each socket's own staging buffer with `sendto`, all of a task's (a phase group's)
 * back to back when the task ends. Nothing is allocated per datagram either way, and JavaScript
 * is entered once per phase instead of once per datagram.
 *
 * A poll also runs from a 10 ms timer whenever no clock has polled for that long (sockets
 * without a running session, a clock stopped), so nothing waits in the kernel for longer.
 * IPv4 only: an IPv6 range stays on dgram.
 * @module
 */
import dns from 'node:dns';
import { nativeAddress, nativeAddressNumber, nativeErrno } from '../ffi/loader.js';
import { ERRNO, ERRNO_NAMES, LINUX, libcUdp, type LibcUdp } from '../ffi/udp.js';
import { setPacketArrival, type UdpEndpoint, type UdpMessageHandler } from './udpEndpoint.js';

/** Largest datagram read (RTP over Ethernet fits; longer ones arrive cut, like dgram's 64 KiB would not). */
const RX_BYTES = 2048;
/** Staging buffer per socket: an RTP packet with an SRTP trailer. */
const STAGE_BYTES = 1600;
/** `struct sockaddr_in`: family, port, IPv4 address, zero padding. */
const SOCKADDR_IN_BYTES = 16;
/** Rounds of epoll_wait per poll at most: datagrams read from one socket per poll (the rest wait for the next). */
const ROUNDS_PER_POLL = 64;
/** epoll events fetched per epoll_wait. */
const EVENTS = 256;
/**
 * `struct epoll_event`: packed on x86-64 (12 bytes, the data at 4), naturally aligned elsewhere
 * (16 bytes, the data at 8). The data is the socket's id.
 */
const EVENT_BYTES = process.arch === 'x64' ? 12 : 16;
const EVENT_DATA_AT = process.arch === 'x64' ? 4 : 8;
/** The fallback timer's period, ms. */
const FALLBACK_MS = 10;

/** An errno as the Error dgram would have given (code and syscall). */
function errnoError(syscall: string, errno: number): Error & { code: string; errno: number; syscall: string } {
  const code = ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
  return Object.assign(new Error(`${syscall} ${code}`), { code, errno, syscall });
}

/** Dotted quad of an IPv4 address held as a 32-bit number. */
function dotted(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/** Parses a dotted quad into a 32-bit number, or -1 (no regex, no split: every new destination). */
export function parseIpv4(s: string): number {
  let a = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      a = a * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      part = part * 10 + (c - 48);
      if (part > 255) return -1;
      digits++;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return a * 256 + part;
}

/** Writes a `struct sockaddr_in` at `buf[0..16)`. */
function writeSockaddr(buf: Buffer, addr: number, port: number): void {
  buf.fill(0, 0, SOCKADDR_IN_BYTES);
  buf.writeUInt16LE(LINUX.AF_INET, 0);
  buf.writeUInt16BE(port, 2);
  buf.writeUInt32BE(addr >>> 0, 4);
}

/**
 * The thread's poller: one epoll set, one receive buffer and one `msghdr` for all its sockets.
 */
class NativeUdpPoller {
  private readonly epfd: number;
  private readonly endpoints: Array<NativeUdpEndpoint | null> = [];
  private readonly freeIds: number[] = [];
  private count = 0;
  /** Registered sockets that are parked ({@link NativeUdpEndpoint.park}). */
  private parkedSockets = 0;
  /** The datagram buffer every read lands in. */
  private readonly rx = Buffer.allocUnsafeSlow(RX_BYTES);
  /**
   * Views of `rx`'s first n bytes, made once per length (a stream sends one length): handlers
   * get a Buffer exactly as long as the datagram, as dgram's, which copies whole-buffer fast.
   */
  private readonly views: Array<Buffer | undefined> = [];
  /** name (16 used) at 0, iovec at 32, control at 64, msghdr at 128. */
  private readonly block = Buffer.allocUnsafeSlow(192);
  private readonly events = Buffer.allocUnsafeSlow(EVENT_BYTES * EVENTS);
  /** `events`', `msg`'s and `ts`' addresses: libc is handed numbers (see ffi/udp.ts, `sendto`). */
  private readonly eventsAt: number;
  private readonly msgAt: number;
  private readonly tsAt: number;
  /** Over an ArrayBuffer of its own: 64 bytes made by `Buffer.allocUnsafeSlow` may live in V8's heap, and libc keeps its address. */
  private readonly ts = Buffer.from(new ArrayBuffer(64));
  /**
   * This poll's clock readings for {@link NativeUdpPoller.readOne}: `performance.now()` and the
   * wall clock, ms. A fractional number handed to a function is a new heap number per call; a
   * typed array's slots are read without one.
   */
  private readonly pollClock = new Float64Array(2);
  private readonly ctl = Buffer.allocUnsafeSlow(64);
  /**
   * 32-bit views of `block`, `events` and `ts` for the reads and writes of every datagram:
   * optimized code loads Buffer's own methods (readUInt32LE and the like) through a generic
   * property lookup, a dozen of them per datagram, where a typed array's element is one move.
   * Both architectures the transport runs on are little-endian, as the views are; an unsigned
   * field is read with `>>> 0`.
   */
  private readonly block32: Int32Array;
  private readonly events32: Int32Array;
  private readonly ts32: Int32Array;
  /** The last source address seen and its string (most datagrams come from a few hosts). */
  private lastAddr = -1;
  private lastAddrText = '';
  private timer: NodeJS.Timeout | undefined;
  private lastPollMs = 0;
  private polling = false;
  /** Sockets with a packet staged for the end of this task (see {@link NativeUdpPoller.queueSend}). */
  private readonly pending: Array<NativeUdpEndpoint | null> = [];
  private pendingCount = 0;

  constructor(private readonly c: LibcUdp) {
    this.epfd = c.epollCreate(LINUX.EPOLL_CLOEXEC) as number;
    if (this.epfd < 0) throw errnoError('epoll_create1', nativeErrno());
    const b = this.block;
    b.fill(0);
    const base = nativeAddress(b);
    // iovec { base = rx, len }
    b.writeBigUInt64LE(nativeAddress(this.rx), 32);
    b.writeBigUInt64LE(BigInt(RX_BYTES), 40);
    this.block32 = new Int32Array(b.buffer, b.byteOffset, b.length >> 2);
    this.events32 = new Int32Array(this.events.buffer, this.events.byteOffset, this.events.length >> 2);
    this.ts32 = new Int32Array(this.ts.buffer, this.ts.byteOffset, this.ts.length >> 2);
    this.msgAt = Number(base + 128n);
    this.eventsAt = nativeAddressNumber(this.events);
    this.tsAt = nativeAddressNumber(this.ts);
    const m = b.subarray(128, 184);
    m.writeBigUInt64LE(base, 0); // msg_name
    m.writeBigUInt64LE(base + 32n, 16); // msg_iov
    m.writeBigUInt64LE(1n, 24); // msg_iovlen
    m.writeBigUInt64LE(base + 64n, 32); // msg_control
  }

  /** Sockets registered. */
  get size(): number {
    return this.count;
  }

  /** Adds a socket to the epoll set; its id. */
  add(ep: NativeUdpEndpoint): number {
    const id = this.freeIds.pop() ?? this.endpoints.length;
    this.endpoints[id] = ep;
    const ev = this.ctl;
    ev.fill(0, 0, 16);
    ev.writeUInt32LE(LINUX.EPOLLIN, 0);
    ev.writeUInt32LE(id, EVENT_DATA_AT);
    if ((this.c.epollCtl(this.epfd, LINUX.EPOLL_CTL_ADD, ep.fd, ev) as number) < 0) {
      const err = errnoError('epoll_ctl', nativeErrno());
      this.endpoints[id] = null;
      this.freeIds.push(id);
      throw err;
    }
    if (++this.count === 1) {
      this.lastPollMs = performance.now();
      this.timer = setInterval(this.onFallback, FALLBACK_MS);
    }
    this.refTimer();
    return id;
  }

  /** Removes a socket (before closing its fd). */
  remove(ep: NativeUdpEndpoint, id: number): void {
    if (this.endpoints[id] !== ep) return;
    this.c.epollCtl(this.epfd, LINUX.EPOLL_CTL_DEL, ep.fd, this.ctl);
    this.endpoints[id] = null;
    this.freeIds.push(id);
    if (ep.parked) this.parkedSockets--;
    if (--this.count === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    this.refTimer();
  }

  /**
   * A socket was parked (+1) or taken back (−1). Parked sockets alone do not keep the process
   * alive (a closed dgram socket would not): the fallback timer is unreferenced then.
   */
  parkedChanged(delta: number): void {
    this.parkedSockets += delta;
    this.refTimer();
  }

  private refTimer(): void {
    if (this.timer === undefined) return;
    if (this.parkedSockets >= this.count) this.timer.unref();
    else this.timer.ref();
  }

  /**
   * Sends `ep`'s staged packet when the current task ends (a microtask), with every other packet
   * staged in it, back to back. A media clock's phase group stages all its packets first: sent in
   * one run, a far end on the same machine is woken once per group instead of once per packet,
   * and each wake-up costs the sender's `sendto` about 10 µs on a VM (3.5 µs when it is awake).
   */
  queueSend(ep: NativeUdpEndpoint): void {
    if (this.pendingCount === 0) queueMicrotask(this.flush);
    this.pending[this.pendingCount++] = ep;
  }

  /** Sends what {@link NativeUdpPoller.queueSend} held. */
  private readonly flush = (): void => {
    const list = this.pending;
    // a handler may queue again while this runs (an error handler sending): it is in the list
    for (let i = 0; i < this.pendingCount; i++) {
      const ep = list[i]!;
      list[i] = null;
      ep.sendPending();
    }
    this.pendingCount = 0;
  };

  private readonly onFallback = (): void => {
    if (performance.now() - this.lastPollMs >= FALLBACK_MS - 1) this.poll();
  };

  /** Reads every ready socket and delivers its datagrams; the number delivered. */
  poll(): number {
    if (this.count === 0 || this.polling) return 0;
    this.polling = true;
    let delivered = 0;
    try {
      const c = this.c;
      const clock = this.pollClock;
      clock[0] = performance.now();
      this.lastPollMs = clock[0];
      // the wall clock is read only when something is ready (most polls find nothing)
      clock[1] = Number.NaN;
      // Level-triggered: each round reads one datagram from every socket reported ready, and a
      // socket with more queued is reported again in the next round. Reading until EAGAIN
      // instead cost a second recvmsg per socket per poll, where one packet is the rule.
      for (let round = 0; round < ROUNDS_PER_POLL; round++) {
        const n = c.epollWait(this.epfd, this.eventsAt, EVENTS, 0) as number;
        if (n <= 0) break;
        if (clock[1] !== clock[1]) {
          c.clockGettime(LINUX.CLOCK_REALTIME, this.tsAt);
          // struct timespec: a 64-bit tv_sec as two halves, then tv_nsec (below 1e9: its low half)
          const t = this.ts32;
          clock[1] = (t[0]! >>> 0) * 1000 + t[1]! * 4294967296000 + (t[2]! >>> 0) / 1e6;
        }
        for (let i = 0; i < n; i++) {
          const ep = this.endpoints[this.events32[(i * EVENT_BYTES + EVENT_DATA_AT) >> 2]!];
          if (ep !== null && ep !== undefined && !ep.closed) delivered += this.readOne(ep);
        }
      }
    } finally {
      setPacketArrival(Number.NaN);
      this.polling = false;
    }
    return delivered;
  }

  /** Reads one datagram of `ep` and delivers it; 1, or 0 when there was none. */
  private readOne(ep: NativeUdpEndpoint): number {
    const b = this.block;
    const w = this.block32;
    // the msghdr sits at byte 128 of the block: 32-bit index 32
    w[32 + 2] = 16; // msg_namelen
    // msg_controllen, a 64-bit size_t, as two 32-bit halves
    w[32 + 10] = 64;
    w[32 + 11] = 0;
    const len = this.c.recvmsg(ep.fd, this.msgAt, LINUX.MSG_DONTWAIT) as number;
    if (len < 0) {
      const e = nativeErrno();
      if (e !== ERRNO.EAGAIN && e !== ERRNO.EINTR) ep.failed(errnoError('recvmsg', e));
      return 0;
    }
    // sockaddr_in at 0: the port and the address in network order
    const addr = ((b[4]! << 24) | (b[5]! << 16) | (b[6]! << 8) | b[7]!) >>> 0;
    if (addr !== this.lastAddr) {
      this.lastAddr = addr;
      this.lastAddrText = dotted(addr);
    }
    const port = (b[2]! << 8) | b[3]!;
    // SCM_TIMESTAMPNS in the control area at byte 64: cmsghdr (a 64-bit length, level, type),
    // then struct timespec
    const clock = this.pollClock;
    let at = clock[0]!;
    if ((w[32 + 10]! >>> 0) >= 32 && w[18] === LINUX.SOL_SOCKET && w[19] === LINUX.SO_TIMESTAMPNS) {
      const real = (w[20]! >>> 0) * 1000 + w[21]! * 4294967296000 + (w[22]! >>> 0) / 1e6;
      const age = clock[1]! - real;
      if (age > 0 && age < 1000) at -= age;
    }
    // arrived while the socket was parked: the former call's, read to be dropped
    if (at < ep.since) return 1;
    setPacketArrival(at);
    const n = len > RX_BYTES ? RX_BYTES : len;
    ep.deliver((this.views[n] ??= this.rx.subarray(0, n)), n, this.lastAddrText, port);
    return 1;
  }
}

/** Each thread's poller (module state is per thread), made with the first native socket. */
let poller: NativeUdpPoller | null = null;
/** libc's functions once bound (the switch is read by {@link nativeUdpUnavailable}, not per bind). */
let libc: LibcUdp | null = null;

/**
 * Reads the thread's native sockets now: the media clock calls it at the start of each phase.
 * Costs a comparison when there are none.
 */
export function pollNativeUdp(): number {
  return poller === null || poller.size === 0 ? 0 : poller.poll();
}

/** One native UDP socket (see the module). */
export class NativeUdpEndpoint implements UdpEndpoint {
  readonly transport = 'native' as const;
  onMessage: UdpMessageHandler | null = null;
  onError: ((err: Error) => void) | null = null;
  /** @internal set once closed: the poller stops reading it */
  closed = false;
  /** @internal between {@link NativeUdpEndpoint.park} and {@link NativeUdpEndpoint.unpark} */
  parked = false;
  /** @internal when it was last taken back from the park (`performance.now()`): older datagrams are dropped */
  since = Number.NEGATIVE_INFINITY;
  private readonly id: number;
  /**
   * The stage, then the cached destination (`sockaddr_in`): one store per socket, so a parked
   * pair holds two native allocations, not four (a storm's floor parks a thousand pairs).
   */
  private readonly store = new ArrayBuffer(STAGE_BYTES + SOCKADDR_IN_BYTES);
  /** Staging buffer. */
  private readonly stageBuf = Buffer.from(this.store, 0, STAGE_BYTES);
  /** What {@link NativeUdpEndpoint.stage} handed out: the stage, or a larger one-off buffer. */
  private staged: Buffer = this.stageBuf;
  private readonly dest = Buffer.from(this.store, STAGE_BYTES, SOCKADDR_IN_BYTES);
  /**
   * The stage's and the destination's addresses, handed to `sendto` as numbers (ffi/udp.ts).
   * An ArrayBuffer's memory never moves, and `store` lives as long as the socket.
   */
  private readonly stageAt = nativeAddressNumber(this.stageBuf);
  private readonly destAt = this.stageAt + STAGE_BYTES;
  private destHost = '';
  private destPort = -1;
  private destOk = false;
  /** A host name's IPv4 address once resolved (SDP may name a host); '' while resolving. */
  private resolvedName = '';
  private resolvedAddr = -1;
  /** Bytes of the stage waiting for the poller's flush to `dest`, or -1. */
  private pendingLen = -1;

  /** @internal use {@link bindNativeUdp} */
  constructor(
    private readonly c: LibcUdp,
    readonly fd: number,
    readonly localAddress: string,
    private readonly owner: NativeUdpPoller,
  ) {
    this.id = owner.add(this);
  }

  /** @internal the poller hands over one datagram */
  deliver(buf: Buffer, len: number, address: string, port: number): void {
    const h = this.onMessage;
    if (h !== null) h(buf, len, address, port);
  }

  /** @internal a receive failed */
  failed(err: Error): void {
    const h = this.onError;
    if (h !== null) h(err);
  }

  stage(room: number): Buffer {
    // the stage still holds a packet not sent yet (two sends in one task): it goes first
    if (this.pendingLen >= 0) this.sendPending();
    this.staged = room <= STAGE_BYTES ? this.stageBuf : Buffer.allocUnsafe(room);
    return this.staged;
  }

  sendStaged(len: number, port: number, host: string): void {
    const buf = this.staged;
    this.staged = this.stageBuf;
    if (buf !== this.stageBuf) {
      this.sendNow(buf, len, port, host);
      return;
    }
    if (this.closed || !this.destination(port, host)) return;
    // sent at the end of the task with the others (NativeUdpPoller.queueSend)
    // libc gets an address, not a Buffer: nothing past the stage may be read
    this.pendingLen = len < STAGE_BYTES ? len : STAGE_BYTES;
    this.owner.queueSend(this);
  }

  dropStaged(): void {
    // nothing is held (the stage is only queued by sendStaged): only a one-off buffer is let go
    this.staged = this.stageBuf;
  }

  sendNow(buf: Buffer, len: number, port: number, host: string): void {
    if (this.closed) return;
    if (this.pendingLen >= 0) this.sendPending();
    if (!this.destination(port, host)) return;
    // the caller's own buffer (larger than the stage): its address read now, its length a bound
    const n = len < buf.length ? len : buf.length;
    this.sendto(n > 0 ? nativeAddressNumber(buf) : this.stageAt, n);
  }

  /**
   * Parks the socket between two calls (`RtpPortAllocator` keeps it bound): a packet still
   * staged goes out, the handlers are dropped (the poller goes on reading and discarding what
   * arrives) and the destination is forgotten. The next owner sets new handlers.
   */
  park(): void {
    if (!this.parked) {
      this.parked = true;
      this.owner.parkedChanged(1);
    }
    this.sendPending();
    this.onMessage = null;
    this.onError = null;
    this.staged = this.stageBuf;
    this.destHost = '';
    this.destPort = -1;
    this.destOk = false;
    this.resolvedName = '';
    this.resolvedAddr = -1;
  }

  /**
   * Ends {@link NativeUdpEndpoint.park}: the socket belongs to a call again. Datagrams the kernel
   * stamped before now are its former call's: the poller drops them (no read here to empty it).
   */
  unpark(): void {
    if (!this.parked) return;
    this.parked = false;
    this.owner.parkedChanged(-1);
    this.since = performance.now();
  }

  /** @internal sends the staged packet queued with the poller, if it is still waiting */
  sendPending(): void {
    const len = this.pendingLen;
    if (len < 0) return;
    this.pendingLen = -1;
    if (!this.closed) this.sendto(this.stageAt, len);
  }

  /** `len` bytes at address `at` (a buffer this socket keeps alive) to `dest`; a failure goes to the error handler. */
  private sendto(at: number, len: number): void {
    if ((this.c.sendto(this.fd, at, len, 0, this.destAt, SOCKADDR_IN_BYTES) as number) < 0) this.failed(errnoError('sendto', nativeErrno()));
  }

  /** Points `dest` at `host:port`; false (reported, or resolving a name) when it cannot be sent to. */
  private destination(port: number, host: string): boolean {
    if (port !== this.destPort || host !== this.destHost) {
      let a = parseIpv4(host);
      if (a < 0 && host === this.resolvedName) a = this.resolvedAddr;
      if (a < 0 && host !== this.resolvedName && /^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(host)) {
        // a host name: resolved once, as dgram's lookup would; packets until then are dropped
        this.resolve(host);
        return false;
      }
      this.destHost = host;
      this.destPort = port;
      this.destOk = a >= 0 && port > 0 && port < 65536;
      if (this.destOk) writeSockaddr(this.dest, a, port);
    }
    if (!this.destOk) {
      this.failed(Object.assign(new Error(`send to ${host}:${port}: not an IPv4 address and port`), { code: 'EINVAL' }));
      return false;
    }
    return true;
  }

  private resolve(host: string): void {
    this.resolvedName = host;
    this.resolvedAddr = -1;
    dns.lookup(host, 4, (err, address) => {
      if (this.resolvedName !== host) return;
      if (err !== null) {
        this.failed(err);
        return;
      }
      this.resolvedAddr = parseIpv4(address);
    });
  }

  close(done: () => void): void {
    if (!this.closed) {
      // a packet staged in this task (an RTCP BYE before the close) still goes out
      this.sendPending();
      this.closed = true;
      this.owner.remove(this, this.id);
      this.c.close(this.fd);
    }
    queueMicrotask(done);
  }
}

/** A bound native socket, or the errno of the bind (the caller tries the next port on EADDRINUSE). */
export type NativeBindResult = { ok: true; endpoint: NativeUdpEndpoint } | { ok: false; busy: boolean; error: Error };

/**
 * Why the native transport cannot bind on `host` here ('' when it can): libc not bound, switched
 * off, or not an IPv4 address. An allocator asks once, when it is made.
 */
export function nativeUdpUnavailable(host: string): string {
  const c = libcUdp();
  if (typeof c === 'string') return c;
  return parseIpv4(host) < 0 ? `the native UDP transport is IPv4 only (${host})` : '';
}

/**
 * Opens a non-blocking IPv4 UDP socket bound to `host:port` with the given buffer sizes and
 * receive timestamps, registered with the thread's poller; or the reason it could not be.
 * `unavailable` (a string) when the native transport cannot run here at all (ask
 * {@link nativeUdpUnavailable} first: this does not read the switch again).
 */
export function bindNativeUdp(host: string, port: number, recvBufferSize: number, sendBufferSize: number): NativeBindResult | string {
  const c = libc ?? libcUdp();
  if (typeof c === 'string') return c;
  libc = c;
  const addr = parseIpv4(host);
  if (addr < 0) return `the native UDP transport is IPv4 only (${host})`;
  try {
    poller ??= new NativeUdpPoller(c);
  } catch (err) {
    return `epoll unavailable: ${(err as Error).message}`;
  }
  const fd = c.socket(LINUX.AF_INET, LINUX.SOCK_DGRAM | LINUX.SOCK_NONBLOCK | LINUX.SOCK_CLOEXEC, 0) as number;
  if (fd < 0) {
    const e = nativeErrno();
    return { ok: false, busy: false, error: errnoError('socket', e) };
  }
  const opt = Buffer.allocUnsafeSlow(128);
  const set = (name: number, value: number): void => {
    opt.writeInt32LE(value, 0);
    c.setsockopt(fd, LINUX.SOL_SOCKET, name, opt, 4);
  };
  // enlarged buffers absorb what arrives between two polls; the OS may clamp them
  set(LINUX.SO_RCVBUF, recvBufferSize);
  set(LINUX.SO_SNDBUF, sendBufferSize);
  set(LINUX.SO_TIMESTAMPNS, 1);
  writeSockaddr(opt, addr, port);
  if ((c.bind(fd, opt, 16) as number) < 0) {
    const e = nativeErrno();
    c.close(fd);
    // taken by someone else (the allocator tries the next pair), as dgram's bind reports it
    return { ok: false, busy: e === ERRNO.EADDRINUSE || e === ERRNO.EACCES, error: errnoError('bind', e) };
  }
  try {
    return { ok: true, endpoint: new NativeUdpEndpoint(c, fd, host, poller) };
  } catch (err) {
    c.close(fd);
    return { ok: false, busy: false, error: err as Error };
  }
}
