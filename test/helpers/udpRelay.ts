/**
 * An in-process lossy UDP relay for fault tests (SIP retransmission, RTP jitter and loss).
 *
 * Clients send to the relay's front port; the relay forwards to the target from one upstream
 * socket per client (like a NAT binding), and whatever the target sends back to that upstream
 * socket goes back to that client. Each direction can drop, duplicate, delay and reorder packets,
 * driven by a seeded PRNG so a failing run can be replayed. Loopback only.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { seededRandom } from './prng.js';

/** Faults applied to one direction. Probabilities are 0..1. */
export interface RelayFaults {
  /** Probability a packet is dropped. */
  loss?: number;
  /** Probability a (kept) packet is sent twice. */
  duplicate?: number;
  /** Probability a packet is held back by `reorderDelayMs` so later packets overtake it. */
  reorder?: number;
  /** Extra hold time of a reordered packet; default 20 ms. */
  reorderDelayMs?: number;
  /** Fixed delay of every packet, ms. */
  delayMs?: number;
  /** Uniform random extra delay 0..jitterMs. */
  jitterMs?: number;
  /** Probability a (kept) packet has one byte flipped (its 21st, else its last) before it goes on: tampering. */
  corrupt?: number;
}

/** Options of {@link UdpRelay.create}. */
export interface UdpRelayOptions {
  /** Where packets from clients go. */
  target: { host: string; port: number };
  /** Front port; 0 (default) picks one. */
  port?: number;
  /** PRNG seed; default 1. */
  seed?: number;
  /** Faults from clients to the target. */
  toTarget?: RelayFaults;
  /** Faults from the target back to clients. */
  fromTarget?: RelayFaults;
}

/** Packet counters per direction. */
export interface RelayCounters {
  /** Packets received by the relay. */
  received: number;
  /** Packets dropped. */
  dropped: number;
  /** Extra copies sent. */
  duplicated: number;
  /** Packets held back for reordering. */
  reordered: number;
  /** Packets sent on (including duplicates). */
  forwarded: number;
  /** Packets sent on with a byte flipped. */
  corrupted: number;
}

type Direction = 'toTarget' | 'fromTarget';

const HOST = '127.0.0.1';

function counters(): RelayCounters {
  return { received: 0, dropped: 0, duplicated: 0, reordered: 0, forwarded: 0, corrupted: 0 };
}

/** The relay. Create with {@link UdpRelay.create}; always `close()` it in `t.teardown`. */
export class UdpRelay {
  /** Counters per direction. */
  readonly stats: Record<Direction, RelayCounters> = { toTarget: counters(), fromTarget: counters() };
  private readonly front: dgram.Socket;
  private target: { host: string; port: number };
  private readonly upstream = new Map<string, dgram.Socket>();
  private readonly faults: Record<Direction, RelayFaults>;
  private readonly random: () => number;
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;
  private spare: dgram.Socket | undefined;

  private constructor(front: dgram.Socket, options: UdpRelayOptions) {
    this.front = front;
    this.target = options.target;
    this.faults = { toTarget: { ...options.toTarget }, fromTarget: { ...options.fromTarget } };
    this.random = seededRandom(options.seed ?? 1);
    front.on('message', (buf, rinfo) => this.fromClient(buf, rinfo));
    front.on('error', () => undefined);
  }

  /** Binds the front socket on 127.0.0.1 and returns the relay. */
  static async create(options: UdpRelayOptions): Promise<UdpRelay> {
    const front = dgram.createSocket('udp4');
    front.bind(options.port ?? 0, HOST);
    await once(front, 'listening');
    return new UdpRelay(front, options);
  }

  /** The relay's front port (clients send here). */
  get port(): number {
    return this.front.address().port;
  }

  /** The relay's address. */
  get host(): string {
    return HOST;
  }

  /**
   * Points the relay at another target (e.g. an RTP port learnt from SDP after the relay had to
   * exist); packets already held for delay still go to the old one.
   */
  setTarget(target: { host: string; port: number }): void {
    this.target = { ...target };
  }

  /** Changes the faults of one direction (e.g. heal the network mid-test). */
  setFaults(direction: Direction, faults: RelayFaults): void {
    this.faults[direction] = { ...faults };
  }

  /** Stops forwarding and frees every socket and timer. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const sockets = [this.front, ...this.upstream.values(), ...(this.spare ? [this.spare] : [])];
    this.spare = undefined;
    this.upstream.clear();
    await Promise.all(sockets.map((s) => new Promise<void>((resolve) => {
      try {
        s.close(() => resolve());
      } catch {
        resolve();
      }
    })));
  }

  /**
   * Binds the upstream socket the next {@link UdpRelay.claimUpstream} hands out, so its port can
   * be given to the target before the client has sent anything (an SDP rewritten in a hook).
   */
  async prepareUpstream(): Promise<void> {
    if (this.spare) return;
    const up = dgram.createSocket('udp4');
    up.bind(0, HOST);
    await once(up, 'listening');
    up.on('error', () => undefined);
    this.spare = up;
  }

  /**
   * Makes the prepared upstream socket the one of `client` and returns its port: the target
   * then sees the client's packets come from the port it was told, and what it sends there
   * reaches the client (from the front port). Undefined without a prepared socket.
   */
  claimUpstream(client: { host: string; port: number }): number | undefined {
    const up = this.spare;
    if (!up || this.closed) return undefined;
    this.spare = undefined;
    this.wireUpstream(up, client);
    return up.address().port;
  }

  private wireUpstream(up: dgram.Socket, client: { host: string; port: number }): void {
    up.on('message', (reply) => {
      if (!this.closed) this.forward('fromTarget', reply, this.front, client.host, client.port);
    });
    this.upstream.set(`${client.host}:${client.port}`, up);
  }

  private fromClient(buf: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed) return;
    const key = `${rinfo.address}:${rinfo.port}`;
    let up = this.upstream.get(key);
    if (!up) {
      up = dgram.createSocket('udp4');
      // Sends issued before the bind completes are queued by node, so no await is needed here.
      up.bind(0, HOST);
      up.on('error', () => undefined);
      this.wireUpstream(up, { host: rinfo.address, port: rinfo.port });
    }
    this.forward('toTarget', buf, up, this.target.host, this.target.port);
  }

  private forward(direction: Direction, buf: Buffer, via: dgram.Socket, host: string, port: number): void {
    const f = this.faults[direction];
    const c = this.stats[direction];
    c.received++;
    if (f.loss && this.random() < f.loss) {
      c.dropped++;
      return;
    }
    if (f.corrupt && buf.length > 0 && this.random() < f.corrupt) {
      buf = Buffer.from(buf);
      const at = buf.length > 20 ? 20 : buf.length - 1;
      buf[at] = buf[at]! ^ 0x5a;
      c.corrupted++;
    }
    let copies = 1;
    if (f.duplicate && this.random() < f.duplicate) {
      copies = 2;
      c.duplicated++;
    }
    for (let i = 0; i < copies; i++) {
      let delay = (f.delayMs ?? 0) + (f.jitterMs ? this.random() * f.jitterMs : 0);
      if (f.reorder && this.random() < f.reorder) {
        delay += f.reorderDelayMs ?? 20;
        c.reordered++;
      }
      if (delay <= 0) this.emit(c, buf, via, host, port);
      else {
        const t = setTimeout(() => {
          this.timers.delete(t);
          this.emit(c, buf, via, host, port);
        }, delay);
        this.timers.add(t);
      }
    }
  }

  private emit(c: RelayCounters, buf: Buffer, via: dgram.Socket, host: string, port: number): void {
    if (this.closed) return;
    c.forwarded++;
    try {
      via.send(buf, port, host);
    } catch {
      /* socket closing */
    }
  }
}
