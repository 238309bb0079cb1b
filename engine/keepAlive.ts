/**
 * Keeping NAT bindings open and knowing the address the world sees: the per-destination SIP
 * keep-alives of `sendSipKeepAlive`, LanScape's `EnableKeepAliveTransmissions` (CRLF to the
 * proxy, outbound proxy and registrar; the RTP half read by media sessions), and the public
 * (WAN) address, set by the application or detected from a registrar's `received`/`rport`.
 * The facade validates arguments; this module holds the timers and the state. It takes the
 * usage context (lines/context.ts) plus {@link KeepAliveExtras}: the NAT keep-alive targets, the
 * calls' RTP keep-alive, and re-registering. It is also where the context's advertised address
 * comes from.
 * @module
 */
import type { TimerHandle } from '../sip/clock.js';
import type { SipStack } from '../sip/stack.js';
import type { AdvertisedAddress, UsageContext } from '../lines/context.js';
import type { Endpoint, TransportProtocol } from '../sip/transport.js';
import { TelephonyReturnValue as T } from './returnCodes.js';

/** What the keep-alive and NAT service takes beyond the usage context. */
export interface KeepAliveExtras {
  /**
   * Where NAT keep-alives go: proxy, outbound proxy, registrar (duplicates allowed), each over
   * the transport it is reached on when known (a `sips:` registrar: TLS), else `sipTransport`.
   */
  natTargets(): readonly { host: string; port: number; protocol?: TransportProtocol | undefined }[];
  /** Applies a new RTP keep-alive period to the media of calls already up. */
  applyRtpKeepAlive(ms: number): void;
  /** Re-registers now (the Contact changed). */
  reRegister(): void;
}

interface KeepAliveEntry {
  timer?: TimerHandle;
  dest: Endpoint;
  seconds: number;
}

interface NatKeepAlive {
  sip: boolean;
  rtp: boolean;
  natSessionTimeMs: number;
  timer?: TimerHandle;
}

/** Keep-alive timers and the public address of one engine. */
export class KeepAliveService {
  private readonly keepAlives = new Map<string, KeepAliveEntry>();
  private natKeepAlive?: NatKeepAlive;
  private publicHost?: string;
  private publicPort?: number;

  /**
   * @param ctx the usage context
   * @param own what the service takes beyond it
   */
  constructor(
    private readonly ctx: UsageContext,
    private readonly own: KeepAliveExtras,
  ) {}

  // ---------------------------------------------------------------- sendSipKeepAlive

  /**
   * Starts (or, with `seconds` undefined, only stops) CRLF keep-alives to an already resolved
   * destination, every `seconds`; the first goes out now.
   */
  sendSipKeepAlive(protocol: TransportProtocol, ip: string, port: number, seconds: number | undefined): void {
    const key = `${protocol}:${ip}:${port}`;
    this.stopKeepAlive(key);
    if (seconds === undefined) return;
    const entry: KeepAliveEntry = { dest: { protocol, host: ip, port }, seconds };
    this.keepAlives.set(key, entry);
    const tick = (): void => {
      const stack = this.ctx.stack();
      if (this.keepAlives.get(key) !== entry || !stack) return;
      stack.sendKeepAlive(entry.dest);
      entry.timer = this.ctx.clock().setTimer(entry.seconds * 1000, tick);
    };
    tick();
  }

  private stopKeepAlive(key: string): void {
    const e = this.keepAlives.get(key);
    if (!e) return;
    this.ctx.clock().clearTimer(e.timer);
    this.keepAlives.delete(key);
  }

  // ---------------------------------------------------------------- EnableKeepAliveTransmissions

  /** Turns the NAT keep-alives on (either half) or off; arguments already validated. */
  enableKeepAliveTransmissions(keepAliveSip: boolean, keepAliveRtp: boolean, natSessionTimeMs: number): void {
    if (this.natKeepAlive) this.ctx.clock().clearTimer(this.natKeepAlive.timer);
    this.natKeepAlive = keepAliveSip || keepAliveRtp ? { sip: keepAliveSip, rtp: keepAliveRtp, natSessionTimeMs } : undefined;
    this.refreshNatKeepAlive();
    // Calls already up get the RTP half at once; new calls read rtpKeepAliveMs when they start.
    this.own.applyRtpKeepAlive(this.rtpKeepAliveMs);
  }

  /** Current RTP keep-alive period (0 = off), read by media sessions. */
  get rtpKeepAliveMs(): number {
    return this.natKeepAlive?.rtp ? this.natKeepAlive.natSessionTimeMs : 0;
  }

  private natKeepAliveTargets(): Endpoint[] {
    const fallback = this.ctx.transport();
    const out: Endpoint[] = [];
    for (const { host, port, protocol = fallback } of this.own.natTargets()) {
      // A TLS registrar's flow gets CRLFCRLF over TLS, not a UDP datagram at its TLS port.
      if (!out.some((e) => e.host === host && e.port === port && e.protocol === protocol)) out.push({ protocol, host, port });
    }
    return out;
  }

  /** Restarts the SIP keep-alive cycle (its targets changed: proxy, outbound proxy, registrar). */
  refreshNatKeepAlive(): void {
    const ka = this.natKeepAlive;
    if (!ka) return;
    this.ctx.clock().clearTimer(ka.timer);
    ka.timer = undefined;
    if (!ka.sip) return;
    const tick = (): void => {
      const stack = this.ctx.stack();
      if (this.natKeepAlive !== ka || !stack) return;
      for (const dest of this.natKeepAliveTargets()) stack.sendKeepAlive(dest);
      ka.timer = this.ctx.clock().setTimer(ka.natSessionTimeMs, tick);
    };
    ka.timer = this.ctx.clock().setTimer(ka.natSessionTimeMs, tick);
  }

  // ---------------------------------------------------------------- public address

  /** The address advertised in Contact and Via: the public one when known, else the local one. */
  advertisedAddress(stack: SipStack): AdvertisedAddress {
    const protocol = this.ctx.transport();
    const local = stack.localEndpoint(protocol);
    return { host: this.publicHost ?? local.host, port: this.publicPort ?? local.port, protocol };
  }

  /** setWanIpAddress: the application names the public address (the port stays as known). */
  setWanIpAddress(stack: SipStack, ipAddress: string): void {
    this.setPublicAddress(stack, ipAddress, this.publicPort ?? stack.localEndpoint('UDP').port);
    this.own.reRegister();
  }

  /** A registrar told us (Via received/rport) where it sees us: advertise that, say so, re-register. */
  publicAddressDetected(host: string, port: number): void {
    const stack = this.ctx.stack();
    if (!stack) return;
    const before = this.advertisedAddress(stack);
    this.setPublicAddress(stack, host, port);
    this.ctx.notifyGlobal(T.SipWanIpAddressChange, {
      previousAddress: before.host,
      previousPort: before.port,
      wanIpAddress: host,
      wanPort: port,
    });
    this.own.reRegister();
  }

  private setPublicAddress(stack: SipStack, host: string, port: number): void {
    this.publicHost = host;
    this.publicPort = port;
    stack.setPublicAddress(host, port);
  }

  /** Stops every timer and forgets the public address (the engine stops or starts afresh). */
  reset(): void {
    for (const key of [...this.keepAlives.keys()]) this.stopKeepAlive(key);
    if (this.natKeepAlive) this.ctx.clock().clearTimer(this.natKeepAlive.timer);
    this.natKeepAlive = undefined;
    this.publicHost = undefined;
    this.publicPort = undefined;
  }
}
