/**
 * UDP through libc with koffi: what the native RTP transport (`rtpTransport: 'native'`,
 * media/nativeUdp.ts) calls instead of `node:dgram`. Node's dgram allocates a Buffer, a `rinfo`
 * and a callback per datagram received and a request per datagram sent, and enters JavaScript
 * once per datagram; these calls let a media thread read every ready socket in one pass per clock
 * phase into one buffer and send from its own buffers, allocating nothing per packet.
 *
 * Linux only (the struct layouts are those of x86-64 and arm64 glibc). Disabled like a native
 * library: `LINESCAPE_DISABLE_NATIVE=udp` (or `all`).
 * @module
 */
import { isNativeLibraryDisabled, libcBinder, type NativeFunction } from './loader.js';

/** The libc functions of the native UDP transport. */
export interface LibcUdp {
  /** `int socket(int domain, int type, int protocol)` */
  socket: NativeFunction;
  /** `int bind(int fd, const void *addr, unsigned int len)` */
  bind: NativeFunction;
  /** `int close(int fd)` */
  close: NativeFunction;
  /** `int setsockopt(int fd, int level, int name, const void *value, unsigned int len)` */
  setsockopt: NativeFunction;
  /**
   * `long sendto(int fd, const void *buf, size_t len, int flags, const void *addr, unsigned int len)`,
   * the buffer and the address given as addresses (numbers): per packet, koffi then does not
   * look up each Buffer's backing store, which at hundreds of sockets is a cache miss per
   * argument (about 7 % of a media thread's perf samples at 800 calls).
   */
  sendto: NativeFunction;
  /** `long recvmsg(int fd, void *msghdr, int flags)`, the `msghdr` given as an address (number) */
  recvmsg: NativeFunction;
  /** `int epoll_create1(int flags)` */
  epollCreate: NativeFunction;
  /** `int epoll_ctl(int epfd, int op, int fd, void *event)` */
  epollCtl: NativeFunction;
  /** `int epoll_wait(int epfd, void *events, int max, int timeoutMs)`, the events given as an address (number) */
  epollWait: NativeFunction;
  /** `int clock_gettime(int clock, void *timespec)`, the timespec given as an address (number) */
  clockGettime: NativeFunction;
}

/** Socket and epoll constants of Linux (the same on x86-64 and arm64). */
export const LINUX = {
  AF_INET: 2,
  SOCK_DGRAM: 2,
  SOCK_NONBLOCK: 0o4000,
  SOCK_CLOEXEC: 0o2000000,
  SOL_SOCKET: 1,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
  /** Kernel receive timestamps (struct timespec, CLOCK_REALTIME) as a control message. */
  SO_TIMESTAMPNS: 35,
  MSG_DONTWAIT: 0x40,
  EPOLLIN: 1,
  EPOLL_CTL_ADD: 1,
  EPOLL_CTL_DEL: 2,
  EPOLL_CLOEXEC: 0o2000000,
  CLOCK_REALTIME: 0,
  /** The clock of Node's `process.hrtime()` and `performance.now()`. */
  CLOCK_MONOTONIC: 1,
} as const;

/** The errno values the native transport tells apart or reports by name (Linux numbers). */
export const ERRNO = {
  EINTR: 4,
  EAGAIN: 11,
  EACCES: 13,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETUNREACH: 101,
  ECONNREFUSED: 111,
} as const;

/** {@link ERRNO}'s names by number, for errors shaped like dgram's (`code`). */
export const ERRNO_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(ERRNO).map(([name, n]) => [n, name]));

const bindUdp = libcBinder('libc lacks a socket function', (lib): LibcUdp => {
  const f = (proto: string): NativeFunction => lib.func(proto);
  return {
    socket: f('int socket(int domain, int type, int protocol)'),
    bind: f('int bind(int fd, const void *addr, unsigned int len)'),
    close: f('int close(int fd)'),
    setsockopt: f('int setsockopt(int fd, int level, int name, const void *value, unsigned int len)'),
    sendto: f('long sendto(int fd, uintptr_t buf, size_t len, int flags, uintptr_t addr, unsigned int alen)'),
    recvmsg: f('long recvmsg(int fd, uintptr_t msg, int flags)'),
    epollCreate: f('int epoll_create1(int flags)'),
    epollCtl: f('int epoll_ctl(int epfd, int op, int fd, void *event)'),
    epollWait: f('int epoll_wait(int epfd, uintptr_t events, int max, int timeout)'),
    clockGettime: f('int clock_gettime(int clock, uintptr_t ts)'),
  };
});

/** libc's UDP functions, or why they are unavailable (bound once; the switch is read every time). */
export function libcUdp(): LibcUdp | string {
  if (isNativeLibraryDisabled('udp')) return 'the native UDP transport is disabled (LINESCAPE_DISABLE_NATIVE)';
  if (process.platform !== 'linux' || (process.arch !== 'x64' && process.arch !== 'arm64')) {
    return `the native UDP transport runs on Linux x64/arm64 only (this is ${process.platform} ${process.arch})`;
  }
  return bindUdp();
}
