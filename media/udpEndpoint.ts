/**
 * One bound UDP socket of an RTP session, whichever transport carries it: `node:dgram`
 * (media/rtpSocket.ts) or libc through koffi, read by a poller once per clock phase
 * (media/nativeUdp.ts). {@link RtpSocket} talks to this interface only.
 * @module
 */

/**
 * Receives one datagram: `buf[0..len)`, from `address:port`. The buffer is the transport's:
 * with the native transport it is reused for the next datagram, so a handler that keeps bytes
 * copies them.
 */
export type UdpMessageHandler = (buf: Buffer, len: number, address: string, port: number) => void;

/** A bound UDP socket (see the module). */
export interface UdpEndpoint {
  /** Which transport carries it. */
  readonly transport: 'dgram' | 'native';
  /** The local address bound. */
  readonly localAddress: string;
  /** Called per datagram received. */
  onMessage: UdpMessageHandler | null;
  /** Called on a socket error (a failed send); never throws to the sender. */
  onError: ((err: Error) => void) | null;
  /**
   * A buffer of at least `room` bytes to write the next packet into (SRTP protects it there),
   * then {@link UdpEndpoint.sendStaged} or {@link UdpEndpoint.dropStaged}; one at a time.
   */
  stage(room: number): Buffer;
  /** Sends the staged buffer's first `len` bytes to `host:port`. */
  sendStaged(len: number, port: number, host: string): void;
  /** Gives the staged buffer back unsent. */
  dropStaged(): void;
  /** Sends `buf[0..len)` as is; the caller does not touch `buf` again (no stage: oversized packets). */
  sendNow(buf: Buffer, len: number, port: number, host: string): void;
  /** Closes the socket; `done` runs once it is closed. */
  close(done: () => void): void;
}

/**
 * The arrival time of the datagram being delivered (NaN outside a native delivery), in a typed
 * array: a module variable holding a fractional number takes a new heap number per store, one
 * per datagram.
 */
const arrival = new Float64Array([Number.NaN]);

/**
 * When the datagram now being handled arrived, in `performance.now()` milliseconds: the
 * kernel's receive timestamp under the native transport (which reads sockets once per clock
 * phase, up to a phase after they arrived), else now. Jitter statistics and the jitter buffer
 * take it, so polling does not show up as jitter.
 */
export function packetArrivalMs(): number {
  const at = arrival[0]!;
  return at === at ? at : performance.now();
}

/** @internal the native poller sets the arrival of the datagram it delivers (NaN after) */
export function setPacketArrival(ms: number): void {
  arrival[0] = ms;
}
