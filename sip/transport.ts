/**
 * SIP transports (RFC 3261 §18): one UDP socket and one TCP listener on the same address and
 * port, an optional TLS listener on a port of its own, plus the TCP and TLS connections opened
 * to or accepted from peers (one stream layer for both: TLS only changes how the socket is made,
 * see sip/tlsTransport.ts).
 *
 * The transport knows bytes and messages, not transactions: it frames streams, parses, and hands
 * every message (or parse failure) to its listeners with the address it came from. Nothing that
 * arrives from the network can throw out of a socket handler; listener exceptions are caught too
 * and reported as `'error'` so one broken callback cannot take the process down.
 * @module
 */
import dgram from 'node:dgram';
import { SafeEmitter } from './safeEmitter.js';
import net from 'node:net';
import type tls from 'node:tls';
import { realClock, type Clock, type TimerHandle } from './clock.js';
import { SipParseError, type SipMessage } from './message.js';
import { frameStreamMessage, parseMessage, serializeMessage, skipKeepAlive } from './parser.js';
import { bareHost } from './util.js';
import { UdpIngress } from './udpIngress.js';
import { TlsConnector, TlsError, classifyTlsError, isTlsAlert, type TlsFailureReason, type TlsSettings } from './tlsTransport.js';

/** The transport protocols a SIP endpoint can name. TLS needs {@link SipTransportOptions.tls}. */
export type TransportProtocol = 'UDP' | 'TCP' | 'TLS';

/** Where a message goes or came from. `host` is an IP address (IPv6 with or without brackets). */
export interface Endpoint {
  /** Transport protocol. */
  protocol: TransportProtocol;
  /** IP address. */
  host: string;
  /** Port. */
  port: number;
  /**
   * TLS only: the host name the application dialled (`host` is its address), against which the
   * server's certificate is checked and which is sent as SNI. Without it the address is checked.
   */
  serverName?: string;
}

/**
 * An endpoint that may name a stream connection: set on everything that arrived over TCP so an
 * answer can go back over the same connection (RFC 3261 §18.2.2), which is the only way to reach
 * a UA behind NAT that registered over TCP.
 */
export interface RemoteEndpoint extends Endpoint {
  /** Id of the TCP connection the message arrived on. */
  connectionId?: number;
}

/** Events of {@link SipTransport}. */
export interface SipTransportEvents {
  /** A message parsed from a datagram or a stream. */
  message: [msg: SipMessage, from: RemoteEndpoint];
  /** Bytes that did not parse; `raw` is the datagram or the framed stream bytes. */
  parseError: [err: SipParseError, raw: Buffer, from: RemoteEndpoint];
  /** A socket-level failure (bind lost, listener exception). */
  error: [err: Error];
  /** A TCP connection ended (either side); useful for RFC 5626 flow-failure handling. */
  connectionClosed: [conn: RemoteEndpoint];
  /** A CRLF pong answered our CRLFCRLF ping on a connection (RFC 5626 §4.4.1). */
  pong: [conn: RemoteEndpoint];
  /**
   * A message larger than `maxMessageSize`, not parsed: `raw` is the datagram, or the stream's
   * bytes so far (a stream's connection is closed right after the listeners return, so an
   * answer they send synchronously still leaves).
   */
  oversize: [raw: Buffer, from: RemoteEndpoint];
  /** A TLS connection failed (ours or a peer's, in or after the handshake); never fatal. */
  tlsError: [err: TlsError, peer: Endpoint, outgoing: boolean];
}

/** TLS options of {@link SipTransport}: the certificates and checks, and the listener's port. */
export interface SipTransportTlsOptions extends TlsSettings {
  /** TLS listener port (0 picks a free one); the listener opens only with a certificate and key. */
  port?: number;
}

/** Options of {@link SipTransport}. */
export interface SipTransportOptions {
  /** Local IP address to bind; default `127.0.0.1`. */
  host?: string;
  /** Port for both UDP and TCP; 0 (default) picks a free one. */
  port?: number;
  /** Also listen on TCP (default true). */
  tcp?: boolean;
  /** Clock for the idle-connection sweep; default the real clock. */
  clock?: Clock;
  /** Outgoing TCP connections unused this long are closed; default 60 000 ms. */
  idleTimeoutMs?: number;
  /** Largest message accepted (a datagram, or a message on a stream, whose connection is then closed); default 256 KiB. */
  maxMessageSize?: number;
  /**
   * Received UDP datagrams are handled inline until the gate says to stop (a due media tick, a
   * spent budget); the rest of the burst waits in a queue drained from `setImmediate`, a batch
   * per turn of the event loop. Default: none (every datagram handled as it is read).
   */
  yieldGate?: { shouldYield(batchStartMs: number): boolean };
  /** Enables TLS: outgoing connections always, a listener when a certificate and key are given. */
  tls?: SipTransportTlsOptions;
}

/** A stream protocol. */
type StreamProtocol = 'TCP' | 'TLS';

interface QueuedWrite {
  data: Buffer;
  onError: ((err: Error) => void) | undefined;
}

interface Connection {
  id: number;
  key: string;
  /** Further keys the connection is found under (RFC 5923 aliases). */
  aliases: string[] | undefined;
  protocol: StreamProtocol;
  socket: net.Socket;
  outgoing: boolean;
  connected: boolean;
  closed: boolean;
  queue: QueuedWrite[];
  /** Bytes of an incomplete message (or an incomplete CRLF run) waiting for the next segment. */
  pending: Buffer | null;
  lastActivity: number;
  pingPending: boolean;
  /** Exempt from the idle sweep: a registration flow the registrar sends requests back over. */
  pinned: boolean;
  /** One frozen endpoint per connection: no allocation per message received on it. */
  remote: Readonly<RemoteEndpoint>;
}

const CRLF = Buffer.from('\r\n');
const CRLFCRLF = Buffer.from('\r\n\r\n');
const MAX_PORT_ATTEMPTS = 20;

function ignoreSendResult(): void {
  /* UDP is fire-and-forget when the caller gave no error callback */
}

/** `::ffff:1.2.3.4` → `1.2.3.4`, so one peer has one spelling whichever socket saw it. */
function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

function connKey(protocol: TransportProtocol, host: string, port: number): string {
  return `${protocol}:${normalizeAddress(bareHost(host))}:${port}`;
}

/**
 * UDP and TCP on one local address and port. Create, `await listen()`, then `send()`; listen for
 * `'message'` and `'parseError'`. `close()` frees every socket and timer.
 */
export class SipTransport extends SafeEmitter<SipTransportEvents> {
  private readonly bindHost: string;
  private readonly requestedPort: number;
  private readonly tcpEnabled: boolean;
  private readonly clock: Clock;
  private readonly idleTimeoutMs: number;
  private readonly maxMessageSize: number;
  private readonly tlsConnector: TlsConnector | undefined;
  private readonly tlsRequestedPort: number;
  private udp: dgram.Socket | null = null;
  private server: net.Server | null = null;
  private tlsServer: net.Server | null = null;
  private boundPort = 0;
  private tlsBoundPort = 0;
  private readonly handshaking = new Set<net.Socket>();
  private closed = false;
  private listening: Promise<void> | null = null;
  private nextConnId = 1;
  private readonly connsByKey = new Map<string, Connection>();
  private readonly connsById = new Map<number, Connection>();
  private sweepTimer: TimerHandle | undefined;
  /** Bounded batches of received datagrams when a yield gate is given (see `sip/udpIngress`). */
  private readonly ingress: UdpIngress | undefined;

  /** @param options where to bind and how to treat connections */
  constructor(options: SipTransportOptions = {}) {
    super();
    this.bindHost = options.host ?? '127.0.0.1';
    this.requestedPort = options.port ?? 0;
    this.tcpEnabled = options.tcp ?? true;
    this.clock = options.clock ?? realClock;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.maxMessageSize = options.maxMessageSize ?? 256 * 1024;
    this.ingress = options.yieldGate ? new UdpIngress(options.yieldGate, this.onDatagram) : undefined;
    // Reads the certificates now: a bad path fails the construction, not the first call.
    this.tlsConnector = options.tls ? new TlsConnector(options.tls) : undefined;
    this.tlsRequestedPort = options.tls?.port ?? 0;
  }

  /** Age of the oldest received datagram still waiting for its handling, ms (0: none, or no yield gate). */
  ingressQueueAgeMs(): number {
    return this.ingress?.oldestQueuedAgeMs() ?? 0;
  }

  /** Received datagrams waiting for their handling (0 without a yield gate). */
  ingressQueueLength(): number {
    return this.ingress?.waiting ?? 0;
  }

  /** The bound IP address. */
  get localHost(): string {
    return this.bindHost;
  }

  /** The bound port (shared by UDP and TCP); 0 before {@link listen} resolves. */
  get localPort(): number {
    return this.boundPort;
  }

  /** The TLS listener's port; 0 without one. */
  get tlsPort(): number {
    return this.tlsBoundPort;
  }

  /** True when TLS is configured (outgoing TLS connections can be made). */
  get tlsEnabled(): boolean {
    return this.tlsConnector !== undefined;
  }

  /** The port this transport receives `protocol` on: the TLS listener's for TLS, else the shared one. */
  portFor(protocol: TransportProtocol): number {
    return protocol === 'TLS' && this.tlsBoundPort !== 0 ? this.tlsBoundPort : this.boundPort;
  }

  /** True between a successful {@link listen} and {@link close}. */
  get isListening(): boolean {
    return this.udp !== null && !this.closed;
  }

  /** Number of open TCP connections (incoming and outgoing); for tests and diagnostics. */
  get connectionCount(): number {
    return this.connsById.size;
  }

  /**
   * Binds UDP, then TCP on the port UDP got. With port 0 a TCP collision on the chosen port is
   * retried with a fresh port, so both protocols always share one number. Idempotent.
   */
  listen(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('transport closed'));
    this.listening ??= this.bindBoth();
    return this.listening;
  }

  private async bindBoth(): Promise<void> {
    const family = net.isIPv6(bareHost(this.bindHost)) ? 'udp6' : 'udp4';
    let lastErr: unknown;
    for (let attempt = 0; attempt < MAX_PORT_ATTEMPTS; attempt++) {
      const udp = dgram.createSocket({ type: family });
      try {
        await new Promise<void>((resolve, reject) => {
          udp.once('error', reject);
          udp.bind(this.requestedPort, bareHost(this.bindHost), () => {
            udp.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        udp.close();
        throw err;
      }
      const port = udp.address().port;
      let server: net.Server | null = null;
      if (this.tcpEnabled) {
        server = net.createServer();
        try {
          await new Promise<void>((resolve, reject) => {
            server!.once('error', reject);
            server!.listen({ port, host: bareHost(this.bindHost), exclusive: true }, () => {
              server!.off('error', reject);
              resolve();
            });
          });
        } catch (err) {
          lastErr = err;
          udp.close();
          server.close();
          if (this.requestedPort === 0 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE') continue;
          throw err;
        }
      }
      let tlsServer: net.Server | null;
      try {
        tlsServer = await this.bindTls();
      } catch (err) {
        udp.close();
        server?.close();
        throw err;
      }
      if (this.closed) {
        udp.close();
        server?.close();
        tlsServer?.close();
        throw new Error('transport closed');
      }
      this.attach(udp, server, port);
      if (tlsServer) this.attachTls(tlsServer);
      return;
    }
    throw lastErr instanceof Error ? lastErr : new Error('no free port for UDP and TCP');
  }

  /** Opens the TLS listener on its own port when a certificate and key are configured. */
  private async bindTls(): Promise<net.Server | null> {
    const connector = this.tlsConnector;
    if (!connector?.canListen) return null;
    const server = connector.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: this.tlsRequestedPort, host: bareHost(this.bindHost), exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((err: unknown) => {
      server.close();
      throw err;
    });
    return server;
  }

  private attachTls(server: net.Server): void {
    this.tlsServer = server;
    // Sockets still in their handshake are the server's, not ours: keep them to destroy at close.
    server.on('connection', (socket: net.Socket) => {
      this.handshaking.add(socket);
      socket.once('close', () => this.handshaking.delete(socket));
    });
    server.on('secureConnection', (socket: net.Socket) => this.handshaking.delete(socket));
    const addr = server.address();
    this.tlsBoundPort = typeof addr === 'object' && addr ? addr.port : 0;
    server.on('secureConnection', (socket: net.Socket) => this.onIncomingConnection(socket, 'TLS'));
    // A client that fails its handshake (garbage, wrong CA, stalls): say so, never fail.
    server.on('tlsClientError', (err: Error, socket: net.Socket) => {
      const host = normalizeAddress(socket.remoteAddress ?? '');
      const port = socket.remotePort ?? 0;
      // A client certificate that failed verification (revoked, unknown CA, expired) makes Node
      // close the socket without an alert: the error is a bare hang-up, the reason is here.
      const verify: unknown = (socket as tls.TLSSocket).authorizationError;
      const code = typeof verify === 'string' ? verify : (verify as { code?: unknown } | undefined)?.code;
      const cause = typeof code === 'string' && code !== '' ? Object.assign(new Error(`client certificate: ${code}`), { code }) : err;
      socket.destroy();
      this.reportTlsError(cause, { protocol: 'TLS', host, port }, false, true);
    });
    server.on('error', (err) => this.reportError(err));
  }

  private attach(udp: dgram.Socket, server: net.Server | null, port: number): void {
    this.udp = udp;
    this.server = server;
    this.boundPort = port;
    try {
      // Bursts of retransmissions and load tests overflow the default receive buffer.
      udp.setRecvBufferSize(1 << 20);
      udp.setSendBufferSize(1 << 20);
    } catch {
      /* the OS cap (rmem_max) is lower: the default buffer still works */
    }
    udp.on('message', this.ingress?.receive ?? this.onDatagram);
    udp.on('error', (err) => this.reportError(err));
    if (server) {
      server.on('connection', (socket) => this.onIncomingConnection(socket, 'TCP'));
      server.on('error', (err) => this.reportError(err));
    }
  }

  /**
   * Sends a message or raw bytes. UDP: one datagram. TCP: over the connection named by
   * `dest.connectionId` if still open, else over any open connection to `host:port` (incoming or
   * outgoing), else a new connection, queuing until it is up. Failures (serialization, connect,
   * write) are reported asynchronously through `onError`; without it they are dropped silently,
   * which is right for retransmissions the transaction layer will repeat anyway.
   */
  send(msg: SipMessage | Buffer, dest: RemoteEndpoint, onError?: (err: Error) => void): void {
    let data: Buffer;
    try {
      data = Buffer.isBuffer(msg) ? msg : serializeMessage(msg);
    } catch (err) {
      this.fail(onError, err);
      return;
    }
    this.sendBytes(data, dest, onError);
  }

  /**
   * Sends an RFC 5626 keep-alive: CRLF over UDP (a NAT refresh; no answer expected), CRLFCRLF over
   * TCP (the peer answers CRLF, reported as `'pong'`), over the existing connection or a new one,
   * so a periodic keep-alive also re-opens a flow the peer closed. Returns false when the transport
   * is closed or the protocol unsupported.
   */
  sendKeepAlive(dest: RemoteEndpoint): boolean {
    if (!this.isListening) return false;
    if (dest.protocol === 'UDP') {
      this.sendBytes(CRLF, dest, undefined);
      return true;
    }
    if (!this.streamAllowed(dest.protocol)) return false;
    try {
      const conn = this.findConnection(dest) ?? this.openConnection(dest);
      conn.pingPending = true;
      this.writeConn(conn, CRLFCRLF, undefined);
      return true;
    } catch (err) {
      this.reportError(err);
      return false;
    }
  }

  /**
   * Keeps the current TCP connection to `dest` open however idle it gets (or releases it again).
   * A UA registered over TCP must keep its connection: the registrar sends incoming requests back
   * over it (RFC 5626 flows; Kamailio does this). Returns false when there is no such connection.
   */
  pinConnection(dest: RemoteEndpoint, pinned = true): boolean {
    if (dest.protocol === 'UDP') return false;
    const conn = this.findConnection(dest);
    if (!conn) return false;
    conn.pinned = pinned;
    if (!pinned) this.ensureSweep();
    return true;
  }

  /** Closes every socket and connection and stops the idle sweep. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ingress?.close();
    if (this.listening) await this.listening.catch(() => undefined);
    this.clock.clearTimer(this.sweepTimer);
    this.sweepTimer = undefined;
    for (const conn of [...this.connsById.values()]) this.dropConnection(conn, true);
    const waits: Promise<void>[] = [];
    const udp = this.udp;
    if (udp) {
      this.udp = null;
      waits.push(new Promise<void>((resolve) => {
        try {
          udp.close(() => resolve());
        } catch {
          resolve();
        }
      }));
    }
    for (const socket of this.handshaking) socket.destroy();
    this.handshaking.clear();
    for (const server of [this.server, this.tlsServer]) {
      if (server) waits.push(new Promise<void>((resolve) => server.close(() => resolve())));
    }
    this.server = null;
    this.tlsServer = null;
    await Promise.all(waits);
  }

  // ---------------------------------------------------------------- sending

  private sendBytes(data: Buffer, dest: RemoteEndpoint, onError: ((err: Error) => void) | undefined): void {
    if (!this.isListening) {
      this.fail(onError, new Error('transport not listening'));
      return;
    }
    try {
      switch (dest.protocol) {
        case 'UDP':
          this.udp!.send(
            data,
            dest.port,
            bareHost(dest.host),
            onError ? (err: Error | null) => { if (err) this.callSafely(onError, err); } : ignoreSendResult,
          );
          return;
        case 'TCP':
        case 'TLS': {
          if (!this.streamAllowed(dest.protocol)) throw new Error(`${String(dest.protocol)} is not enabled on this transport`);
          const conn = this.findConnection(dest) ?? this.openConnection(dest);
          this.writeConn(conn, data, onError);
          return;
        }
        default:
          throw new Error(`transport ${String(dest.protocol)} not supported`);
      }
    } catch (err) {
      this.fail(onError, err);
    }
  }

  private streamAllowed(protocol: TransportProtocol): protocol is StreamProtocol {
    return protocol === 'TCP' ? this.tcpEnabled : protocol === 'TLS' && this.tlsConnector !== undefined;
  }

  private findConnection(dest: RemoteEndpoint): Connection | undefined {
    if (dest.connectionId !== undefined) {
      const byId = this.connsById.get(dest.connectionId);
      if (byId && !byId.closed && byId.protocol === dest.protocol) return byId;
    }
    const byKey = this.connsByKey.get(connKey(dest.protocol, dest.host, dest.port));
    return byKey && !byKey.closed ? byKey : undefined;
  }

  /**
   * RFC 5923: a peer whose Via on a connection carries `alias` lets us send our own requests to
   * its sent-by over that connection instead of opening a new one. `conn` names the connection
   * (its `connectionId`), `host:port` the sent-by; an open connection already known under that
   * address is kept. Returns whether the alias was recorded.
   */
  aliasConnection(conn: RemoteEndpoint, host: string, port: number): boolean {
    if (conn.connectionId === undefined) return false;
    const c = this.connsById.get(conn.connectionId);
    if (!c || c.closed) return false;
    const key = connKey(c.protocol, host, port);
    if (key === c.key || c.aliases?.includes(key)) return true;
    const existing = this.connsByKey.get(key);
    if (existing && !existing.closed) return false;
    this.connsByKey.set(key, c);
    (c.aliases ??= []).push(key);
    return true;
  }

  private writeConn(conn: Connection, data: Buffer, onError: ((err: Error) => void) | undefined): void {
    conn.lastActivity = this.clock.now();
    if (!conn.connected) {
      conn.queue.push({ data, onError });
      return;
    }
    conn.socket.write(data, onError ? (err?: Error | null) => { if (err) this.callSafely(onError, err); } : undefined);
  }

  private openConnection(dest: Endpoint): Connection {
    const protocol = dest.protocol === 'TLS' ? 'TLS' : 'TCP';
    const host = normalizeAddress(bareHost(dest.host));
    const local = bareHost(this.bindHost);
    const localAddress = local === '0.0.0.0' || local === '::' ? undefined : local;
    const socket =
      protocol === 'TLS'
        ? this.tlsConnector!.connect(host, dest.port, dest.serverName, localAddress)
        : net.connect({ host, port: dest.port, localAddress });
    const conn = this.register(socket, protocol, host, dest.port, true);
    let handshakeTimer: NodeJS.Timeout | undefined;
    if (protocol === 'TLS') {
      // Wall time, like the graceful close below: a peer that never finishes the handshake holds a
      // kernel socket, whatever clock the protocol timers run on.
      handshakeTimer = setTimeout(() => {
        const err = Object.assign(new Error(`no TLS handshake within ${this.tlsConnector!.handshakeTimeoutMs} ms`), { code: 'ERR_TLS_HANDSHAKE_TIMEOUT' });
        socket.destroy(err);
      }, this.tlsConnector!.handshakeTimeoutMs);
      handshakeTimer.unref();
      socket.once('close', () => clearTimeout(handshakeTimer));
    }
    socket.once(protocol === 'TLS' ? 'secureConnect' : 'connect', () => {
      clearTimeout(handshakeTimer);
      conn.connected = true;
      const queue = conn.queue;
      conn.queue = [];
      for (const w of queue) this.writeConn(conn, w.data, w.onError);
    });
    this.ensureSweep();
    return conn;
  }

  // ---------------------------------------------------------------- receiving

  private readonly onDatagram = (buf: Buffer, rinfo: dgram.RemoteInfo): void => {
    try {
      // Pure CRLF datagrams are keep-alives (ours or a peer's): nothing to parse or answer.
      if (skipKeepAlive(buf, 0) === buf.length) return;
      const from: RemoteEndpoint = { protocol: 'UDP', host: normalizeAddress(rinfo.address), port: rinfo.port };
      if (buf.length > this.maxMessageSize) {
        this.safeEmit('oversize', buf, from);
        return;
      }
      this.deliver(buf, from, false);
    } catch (err) {
      this.reportError(err);
    }
  };

  private onIncomingConnection(socket: net.Socket, protocol: StreamProtocol): void {
    try {
      if (this.closed) {
        socket.destroy();
        return;
      }
      const host = normalizeAddress(socket.remoteAddress ?? '');
      const port = socket.remotePort ?? 0;
      const conn = this.register(socket, protocol, host, port, false);
      conn.connected = true;
    } catch (err) {
      socket.destroy();
      this.reportError(err);
    }
  }

  private register(socket: net.Socket, protocol: StreamProtocol, host: string, port: number, outgoing: boolean): Connection {
    const id = this.nextConnId++;
    const key = connKey(protocol, host, port);
    const conn: Connection = {
      id,
      key,
      aliases: undefined,
      protocol,
      socket,
      outgoing,
      connected: false,
      closed: false,
      queue: [],
      pending: null,
      lastActivity: this.clock.now(),
      pingPending: false,
      pinned: false,
      remote: Object.freeze({ protocol, host, port, connectionId: id }),
    };
    this.connsById.set(id, conn);
    this.connsByKey.set(key, conn);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onStreamData(conn, chunk));
    socket.on('error', (raw) => {
      // A failure before the handshake completed is a TLS problem, and so is a TLS alert after it
      // (TLS 1.3 servers refuse a client certificate only then); later resets are not.
      const tlsProblem = protocol === 'TLS' && (!conn.connected || isTlsAlert(raw));
      const err = tlsProblem ? this.reportTlsError(raw, conn.remote, outgoing, !conn.connected) : raw;
      // Writes still queued behind a failed connect will never go: tell their senders.
      const queue = conn.queue;
      conn.queue = [];
      for (const w of queue) this.fail(w.onError, err);
      this.dropConnection(conn, true);
    });
    socket.on('close', () => this.dropConnection(conn, false));
    socket.on('end', () => this.dropConnection(conn, false));
    return conn;
  }

  private onStreamData(conn: Connection, chunk: Buffer): void {
    try {
      if (conn.closed) return;
      conn.lastActivity = this.clock.now();
      const data = conn.pending ? Buffer.concat([conn.pending, chunk]) : chunk;
      conn.pending = null;
      let off = 0;
      while (off < data.length) {
        const run = skipKeepAlive(data, off);
        if (run > 0) {
          if (run < 4 && off + run === data.length) {
            // CRLF at the very end: the pong to our ping, or half of a ping split across segments.
            if (run === 2 && conn.pingPending) {
              conn.pingPending = false;
              off += run;
              this.safeEmit('pong', conn.remote);
              continue;
            }
            break;
          }
          // RFC 5626 §4.4.1: each CRLFCRLF ping is answered by one CRLF pong.
          for (let i = run >> 2; i > 0; i--) this.writeConn(conn, CRLF, undefined);
          off += run;
          continue;
        }
        let len: number;
        try {
          len = frameStreamMessage(data, off);
        } catch (err) {
          // Framing lost: the rest of the stream cannot be trusted, so report and hang up.
          this.safeEmit('parseError', asParseError(err), data.subarray(off), conn.remote);
          this.dropConnection(conn, true, true);
          return;
        }
        if (len === 0) {
          if (data.length - off > this.maxMessageSize) {
            this.safeEmit('oversize', data.subarray(off), conn.remote);
            this.safeEmit('parseError', new SipParseError('message too large for a stream'), data.subarray(off), conn.remote);
            this.dropConnection(conn, true, true);
            return;
          }
          break;
        }
        if (len > this.maxMessageSize) {
          // Answered (513) by the listeners if they can, then the connection goes.
          this.safeEmit('oversize', data.subarray(off, off + len), conn.remote);
          this.dropConnection(conn, true, true);
          return;
        }
        const raw = data.subarray(off, off + len);
        off += len;
        if (!this.deliver(raw, conn.remote, true)) {
          // Not even a start line: this peer does not speak SIP.
          this.dropConnection(conn, true, true);
          return;
        }
        if (conn.closed) return;
      }
      if (off < data.length) conn.pending = off === 0 ? data : Buffer.from(data.subarray(off));
    } catch (err) {
      this.reportError(err);
    }
  }

  /** Parses and emits; returns false when nothing usable could be read (not even a start line). */
  private deliver(raw: Buffer, from: RemoteEndpoint, stream: boolean): boolean {
    let msg: SipMessage;
    try {
      msg = parseMessage(raw, { stream });
    } catch (err) {
      const perr = asParseError(err);
      this.safeEmit('parseError', perr, raw, from);
      return perr.partial !== undefined;
    }
    this.safeEmit('message', msg, from);
    return true;
  }

  // ---------------------------------------------------------------- connection lifecycle

  /**
   * Forgets a connection. `graceful` ends it after queued writes (so a 400 written just before can
   * still leave) and destroys it shortly after; otherwise it is destroyed at once.
   */
  private dropConnection(conn: Connection, destroy: boolean, graceful = false): void {
    if (conn.closed) return;
    conn.closed = true;
    conn.pending = null;
    this.connsById.delete(conn.id);
    if (this.connsByKey.get(conn.key) === conn) this.connsByKey.delete(conn.key);
    for (const key of conn.aliases ?? []) if (this.connsByKey.get(key) === conn) this.connsByKey.delete(key);
    if (destroy) {
      if (graceful && conn.connected) {
        conn.socket.end();
        // Wall time on purpose, not the injected clock: this frees a kernel socket whose peer
        // never closes its side. It is no protocol timer, and under a virtual clock nobody
        // advances it would leak the descriptor.
        const t = setTimeout(() => conn.socket.destroy(), 1000);
        t.unref();
        conn.socket.once('close', () => clearTimeout(t));
      } else {
        conn.socket.destroy();
      }
    }
    const queue = conn.queue;
    conn.queue = [];
    if (queue.length > 0) {
      const err = new Error('connection closed');
      for (const w of queue) this.fail(w.onError, err);
    }
    if (!this.closed) this.safeEmit('connectionClosed', conn.remote);
  }

  private ensureSweep(): void {
    if (this.sweepTimer !== undefined || this.closed) return;
    this.sweepTimer = this.clock.setTimer(Math.max(250, this.idleTimeoutMs / 2), this.sweep);
  }

  /** Closes idle outgoing connections; re-arms only while outgoing connections remain. */
  private readonly sweep = (): void => {
    this.sweepTimer = undefined;
    try {
      const now = this.clock.now();
      let outgoing = 0;
      for (const conn of [...this.connsById.values()]) {
        if (!conn.outgoing || conn.pinned) continue;
        if (now - conn.lastActivity >= this.idleTimeoutMs) this.dropConnection(conn, true, true);
        else outgoing++;
      }
      if (outgoing > 0) this.ensureSweep();
    } catch (err) {
      this.reportError(err);
    }
  };

  // ---------------------------------------------------------------- error plumbing

  /** Wraps a TLS socket failure in a {@link TlsError} with its reason, emits `tlsError`, returns it. */
  private reportTlsError(raw: unknown, peer: Endpoint, outgoing: boolean, handshaking: boolean): TlsError {
    const reason: TlsFailureReason = classifyTlsError(raw, handshaking);
    const code = (raw as { code?: unknown } | null)?.code;
    const detail = typeof code === 'string' ? code : raw instanceof Error ? raw.message : String(raw);
    const err = raw instanceof TlsError ? raw : new TlsError(reason, `${peer.host}:${peer.port}`, detail);
    if (!this.closed) this.safeEmit('tlsError', err, { protocol: 'TLS', host: peer.host, port: peer.port }, outgoing);
    return err;
  }

  private fail(onError: ((err: Error) => void) | undefined, err: unknown): void {
    if (!onError) return;
    const e = err instanceof Error ? err : new Error(String(err));
    // Asynchronous, so a transaction never sees its own send fail in the middle of sending.
    process.nextTick(() => this.callSafely(onError, e));
  }

  private callSafely(fn: (err: Error) => void, err: Error): void {
    try {
      fn(err);
    } catch (e) {
      this.reportError(e);
    }
  }


}

function asParseError(err: unknown): SipParseError {
  if (err instanceof SipParseError) return err;
  return new SipParseError(err instanceof Error ? err.message : String(err));
}
