/**
 * The registration client behind `enableSipRegisterServer`: one REGISTER dialog per unique
 * name, refreshed every update interval, with digest challenges, 423 handling, time-outs with
 * retry, and NAT detection from the `received`/`rport` Via parameters. It takes the usage
 * context (lines/context.ts) plus {@link RegistrationExtras}: where to report a public address.
 * @module
 */
import type { TimerHandle } from '../sip/clock.js';
import { parseNameAddr, parseVia, formatUri } from '../sip/grammar.js';
import { SipHeaders, type SipRequest, type SipResponse } from '../sip/message.js';
import type { Endpoint, RemoteEndpoint, TransportProtocol } from '../sip/transport.js';
import { SipsNeedsTlsError, TlsError } from '../sip/tlsTransport.js';
import { newCallId, newTag } from '../sip/util.js';
import { sendUacRequest, type UacServices } from '../sip/uac.js';
import { DnsLocateError } from '../sip/dnsLocator.js';
import type { UsageContext } from '../lines/context.js';
import { TelephonyReturnValue as T } from './returnCodes.js';

/** Everything one registration cycle needs to know, fixed by `enableSipRegisterServer`. */
export interface RegistrationConfig {
  /** Unique names to register, in the order given. */
  names: string[];
  /** Lines each name belongs to (empty when the names belong to the engine). */
  linesByName: Map<string, number[]>;
  /** Where REGISTER requests are sent (the registrar, or the proxy when registering through it). */
  destination: Endpoint;
  /**
   * Its targets in the order to try (RFC 3263), located afresh for each REGISTER: every
   * registration cycle starts from the best target again. Default: `destination` alone.
   */
  targets?: () => Promise<readonly Endpoint[]>;
  /**
   * Request-URI of REGISTER (`sip:domain`, or `sips:domain` for a registrar given as a `sips:`
   * URI, whose REGISTERs then carry a `sips:` Contact, RFC 3261 §8.1.1.8).
   */
  requestUri: string;
  /** Domain of the address-of-record (`sip:name@domain`). */
  aorDomain: string;
  /** Seconds between registration cycles. */
  updateIntervalSeconds: number;
  /** Expiry asked of the registrar. */
  expireSeconds: number;
  /** How long to wait for a final answer. */
  timeOutMs: number;
  /** Detect NAT from Via received/rport and re-register with the public address. */
  natAutoDetect: boolean;
}

/** What the registration client takes beyond the usage context. */
export interface RegistrationExtras {
  /** Called when the registrar shows a public address different from the advertised one. */
  publicAddressDetected(host: string, port: number): void;
}

/** Callbacks of one REGISTER client transaction. */
export interface RegisterTxUser {
  /** Provisional response. */
  onProvisional?(res: SipResponse): void;
  /** Final response. */
  onFinal(res: SipResponse): void;
  /** Timer F fired. */
  onTimeout(): void;
  /** The transport could not send. */
  onTransportError(err: Error): void;
}

/** State of one name's registration. */
export type RegistrationState = 'idle' | 'registering' | 'registered' | 'failed' | 'unregistering' | 'unregistered';

/** Public view of one name's registration (see `getRegistrationStatus`). */
export interface RegistrationStatus {
  /** The registered name. */
  name: string;
  /** Lines the name rings (empty when it belongs to the engine). */
  phoneLines: number[];
  /** Where it stands. */
  state: RegistrationState;
  /** Seconds granted by the registrar in the last success. */
  grantedExpires: number;
  /** Last SIP status received (0 before any). */
  lastStatusCode: number;
}

const MAX_INTERVAL_ROUNDS = 3;
/** A registration flow that closes sooner than this after its success is re-registered at the retry pace. */
const FLOW_RECOVERY_MIN_MS = 1000;

class NameRegistration {
  readonly callId: string;
  readonly fromTag = newTag();
  cseq = 0;
  state: RegistrationState = 'idle';
  expires: number;
  grantedExpires = 0;
  lastStatusCode = 0;
  /** Identifies the attempt in flight; answers to older attempts are ignored. */
  attempt = 0;
  intervalRounds = 0;
  timeoutTimer?: TimerHandle;
  refreshTimer?: TimerHandle;
  /** When the last registration succeeded (the engine's clock, ms). */
  registeredAt = 0;
  /** Contact registered last, removed when the public address changes. */
  registeredContact?: string;
  /**
   * The transport of the last REGISTER sent (at first the destination's): its Contact names it,
   * so the registrar reaches us back the way we came (TLS for a TLS registrar, whatever
   * `sipTransport` says).
   */
  protocol: TransportProtocol;
  /** Where the last REGISTER went: its connection closing means the registrar lost us. */
  flow?: Endpoint;
  onDone?: (rc: T) => void;

  constructor(readonly name: string, expires: number, host: string, protocol: TransportProtocol) {
    this.expires = expires;
    this.callId = newCallId(host);
    this.protocol = protocol;
  }
}

/** Runs the registration cycles of every name given to `enableSipRegisterServer`. */
export class RegistrationClient {
  private readonly regs = new Map<string, NameRegistration>();
  private retryMs: number;
  private stopped = false;
  private readonly uac: UacServices;
  /** Listening for closed connections (from the first REGISTER sent over a stream). */
  private watchingFlows = false;

  /**
   * @param ctx the usage context
   * @param own what the client takes beyond it
   * @param config fixed parameters
   * @param retryMs wait after an error before the next attempt (`registrationErrorRetryTime`)
   */
  constructor(
    private readonly ctx: UsageContext,
    private readonly own: RegistrationExtras,
    readonly config: RegistrationConfig,
    retryMs: number,
  ) {
    this.retryMs = retryMs;
    // Registration answers challenges with the names' own digest clients (no key prefix).
    this.uac = ctx.uacFor('');
    for (const name of config.names) this.regs.set(name, new NameRegistration(name, config.expireSeconds, ctx.advertisedAddress().host, config.destination.protocol));
    // Over TCP/TLS the registrar reaches us over our connection: when it drops, register again.
    if (config.destination.protocol !== 'UDP') this.watchFlows();
  }

  private watchFlows(): void {
    if (this.watchingFlows || this.stopped) return;
    this.watchingFlows = true;
    this.ctx.runStack.transport.on('connectionClosed', this.onConnectionClosed);
  }

  /** True for a `sips:` registrar: its REGISTERs carry a `sips:` Contact (RFC 3261 §8.1.1.8). */
  private get secure(): boolean {
    return /^sips:/i.test(this.config.requestUri);
  }

  /** Our Contact for `reg` over the transport its REGISTER takes. */
  private contactOf(reg: NameRegistration): string {
    return this.ctx.contactUri(reg.name, reg.protocol, reg.protocol === 'TLS' && this.secure);
  }

  /**
   * The connection to the registrar (or the proxy we register through) closed: the registrar
   * can no longer reach us over it (RFC 5626 §4.4), so every name registered over it is
   * registered again at once, over a new connection. Should that fail (the server is still
   * down), the usual retry after `registrationErrorRetryTime` follows.
   */
  private readonly onConnectionClosed = (conn: RemoteEndpoint): void => {
    if (this.stopped) return;
    const now = this.ctx.clock().now();
    for (const reg of this.regs.values()) {
      const d = reg.flow;
      if (reg.state !== 'registered' || !d || conn.protocol !== d.protocol || conn.host !== d.host || conn.port !== d.port) continue;
      // A server that drops the connection right after every 200 gets the retry pace, not a loop.
      if (now - reg.registeredAt < FLOW_RECOVERY_MIN_MS) this.scheduleRetry(reg);
      else this.register(reg);
    }
  };

  /** Starts a registration cycle for every name now. */
  start(): void {
    for (const reg of this.regs.values()) this.register(reg);
  }

  /** Changes the retry delay after errors. */
  setRetryTime(ms: number): void {
    this.retryMs = ms;
  }

  /**
   * Registers every name (or just `name`) again now: triggerRegistration, or a public address
   * change. Returns false when `name` is not one of the registered names.
   */
  trigger(name?: string): boolean {
    if (this.stopped) return true;
    if (name !== undefined) {
      const reg = this.regs.get(name);
      if (!reg) return false;
      if (reg.state !== 'registering') this.register(reg);
      return true;
    }
    for (const reg of this.regs.values()) {
      if (reg.state !== 'registering') this.register(reg);
    }
    return true;
  }

  /** Status of every name. */
  status(): RegistrationStatus[] {
    return [...this.regs.values()].map((r) => ({
      name: r.name,
      phoneLines: this.config.linesByName.get(r.name) ?? [],
      state: r.state,
      grantedExpires: r.grantedExpires,
      lastStatusCode: r.lastStatusCode,
    }));
  }

  /**
   * Removes every binding (REGISTER with Expires: 0) and stops all timers. Resolves with
   * SipSuccess when every name was removed, else the first error code seen. A name whose
   * refresh failed is unregistered too (best effort): the registrar may still hold the binding
   * it granted before.
   */
  async stop(): Promise<T> {
    this.stopped = true;
    const results = await Promise.all(
      [...this.regs.values()].map(
        (reg) =>
          new Promise<T>((resolve) => {
            this.clearTimers(reg);
            if (!this.mayHoldBinding(reg)) {
              reg.state = 'unregistered';
              resolve(T.SipSuccess);
              return;
            }
            reg.onDone = resolve;
            reg.state = 'unregistering';
            this.ctx.notifyGlobal(T.SipUnRegisterTrying, { name: reg.name, phoneLines: this.lines(reg) });
            this.send(reg, 0);
          }),
      ),
    );
    return results.find((rc) => rc !== T.SipSuccess) ?? T.SipSuccess;
  }

  /**
   * True when the registrar may hold a binding of `reg`: registered, a REGISTER in flight, or
   * registered once and the refresh failed since (the old binding lives until it expires).
   */
  private mayHoldBinding(reg: NameRegistration): boolean {
    return reg.state === 'registered' || reg.state === 'registering' || (reg.state === 'failed' && reg.registeredContact !== undefined);
  }

  /** Stops every timer without sending anything (engine shutdown after a failed unregister). */
  dispose(): void {
    this.stopped = true;
    if (this.watchingFlows) this.ctx.runStack.transport.off('connectionClosed', this.onConnectionClosed);
    this.watchingFlows = false;
    for (const reg of this.regs.values()) this.clearTimers(reg);
  }

  private clearTimers(reg: NameRegistration): void {
    this.ctx.clock().clearTimer(reg.timeoutTimer);
    this.ctx.clock().clearTimer(reg.refreshTimer);
    reg.timeoutTimer = reg.refreshTimer = undefined;
  }

  private register(reg: NameRegistration): void {
    if (this.stopped) return;
    this.clearTimers(reg);
    reg.state = 'registering';
    reg.intervalRounds = 0;
    this.ctx.notifyGlobal(T.SipRegisterTrying, { name: reg.name, phoneLines: this.config.linesByName.get(reg.name) ?? [] });
    this.send(reg, reg.expires);
  }

  private buildRequest(reg: NameRegistration, expires: number): SipRequest {
    const aor = `sip:${reg.name}@${this.config.aorDomain}`;
    const display = this.ctx.displayName();
    const headers = new SipHeaders();
    headers.append('From', `${display ? `"${display.replace(/(["\\])/g, '\\$1')}" ` : ''}<${aor}>;tag=${reg.fromTag}`);
    headers.append('To', `<${aor}>`);
    headers.append('Call-ID', reg.callId);
    headers.append('CSeq', `${++reg.cseq} REGISTER`);
    headers.append('Max-Forwards', '70');
    for (const c of this.contactValues(reg, expires)) headers.append('Contact', c);
    headers.append('Expires', String(expires));
    this.ctx.capabilities.addHeaders(headers, ['Allow']);
    headers.append('User-Agent', this.ctx.userAgent());
    return { type: 'request', method: 'REGISTER', uri: this.config.requestUri, version: 'SIP/2.0', headers, body: Buffer.alloc(0) };
  }

  /** The Contact values of a REGISTER of `reg` over `reg.protocol`. */
  private contactValues(reg: NameRegistration, expires: number): string[] {
    if (expires === 0 && reg.registeredContact) return [`<${reg.registeredContact}>`];
    const contact = this.contactOf(reg);
    // A changed public address (or transport) leaves the old binding behind: remove it in the same request.
    if (reg.registeredContact && reg.registeredContact !== contact) return [`<${contact}>`, `<${reg.registeredContact}>;expires=0`];
    return [`<${contact}>`];
  }

  private send(reg: NameRegistration, expires: number): void {
    const attempt = ++reg.attempt;
    let previous: SipRequest | undefined;
    const build = (): SipRequest => {
      const req = this.buildRequest(reg, expires);
      if (previous) {
        // A retry after a challenge keeps the Contact list and expiry of the challenged request.
        req.headers.delete('Contact');
        for (const c of previous.headers.getAll('Contact')) req.headers.append('Contact', c);
      }
      return (previous = req);
    };
    sendUacRequest(this.uac, {
      build,
      destination: this.config.targets ?? this.config.destination,
      authUser: reg.name,
      // Once the attempt timed out, no failover target is tried for it.
      abandoned: () => reg.attempt !== attempt,
      // Each request sent (the first and every challenge retry) gets the whole time-out.
      onSend: (req, dest) => {
        if (reg.attempt !== attempt) return;
        reg.flow = dest;
        if (dest.protocol !== 'UDP') this.watchFlows();
        if (dest.protocol !== reg.protocol) {
          // The target found (DNS, failover) takes another transport than the last one: the
          // Contact names this one, so the registrar reaches us back over it.
          reg.protocol = dest.protocol;
          req.headers.delete('Contact');
          for (const c of this.contactValues(reg, expires)) req.headers.append('Contact', c);
        }
        this.ctx.clock().clearTimer(reg.timeoutTimer);
        reg.timeoutTimer = this.ctx.clock().setTimer(this.config.timeOutMs, () => {
          if (reg.attempt === attempt) this.timedOut(reg, expires);
        });
      },
    }, (o) => {
      if (reg.attempt !== attempt) return;
      // The registrar's name yields no target (any more): an error saying so (status 0), then the usual retry.
      if (o.kind === 'transport' && o.error instanceof DnsLocateError) this.fail(reg, T.SipRegisterError, { status: 0, reason: o.error.message }, expires);
      else if (o.kind === 'transport' && o.error instanceof TlsError) this.tlsFailed(reg, o.error, expires);
      // A sips: REGISTER that would have left over UDP/TCP (a proxy found over them): not sent (status 0).
      else if (o.kind === 'transport' && o.error instanceof SipsNeedsTlsError) this.fail(reg, T.SipRegisterError, { status: 0, reason: 'SIPS Requires TLS' }, expires);
      else if (o.kind !== 'final') this.timedOut(reg, expires);
      else if (o.authFailure) this.fail(reg, T.SipRegisterAuthorizationError, o.res, expires);
      else this.final(reg, o.res, expires);
    });
  }

  /** Ends an unregistration: raises `event` and resolves `stop()` for this name with `rc`. */
  private unregistered(reg: NameRegistration, event: T, rc: T, data: object): void {
    reg.state = 'unregistered';
    this.ctx.notifyGlobal(event, { name: reg.name, phoneLines: this.lines(reg), ...data });
    reg.onDone?.(rc);
    reg.onDone = undefined;
  }

  private lines(reg: NameRegistration): number[] {
    return this.config.linesByName.get(reg.name) ?? [];
  }

  private timedOut(reg: NameRegistration, expires: number): void {
    reg.attempt++; // late answers to this attempt are ignored from now on
    this.ctx.clock().clearTimer(reg.timeoutTimer);
    reg.timeoutTimer = undefined;
    if (expires === 0) {
      this.unregistered(reg, T.SipUnRegistrationTimeOut, T.SipRegisterTimeOut, { timeOutMs: this.config.timeOutMs });
      return;
    }
    reg.state = 'failed';
    this.ctx.notifyGlobal(T.SipRegisterTimeOut, { name: reg.name, phoneLines: this.lines(reg), timeOutMs: this.config.timeOutMs });
    this.scheduleRetry(reg);
  }

  private scheduleRetry(reg: NameRegistration): void {
    if (this.stopped) return;
    this.ctx.clock().clearTimer(reg.refreshTimer);
    reg.refreshTimer = this.ctx.clock().setTimer(this.retryMs, () => this.register(reg));
  }

  private fail(reg: NameRegistration, event: T, res: { status: number; reason: string; tlsReason?: TlsError['reason'] }, expires: number): void {
    this.ctx.clock().clearTimer(reg.timeoutTimer);
    reg.timeoutTimer = undefined;
    const data = { statusCode: res.status, reasonPhrase: res.reason, ...('tlsReason' in res ? { tlsReason: res.tlsReason } : {}) };
    if (expires === 0) {
      const unEvent = event === T.SipRegisterAuthorizationError ? T.SipUnRegisterAuthorizationError : T.SipUnRegisterError;
      this.unregistered(reg, unEvent, event, data);
      return;
    }
    reg.state = 'failed';
    this.ctx.notifyGlobal(event, { name: reg.name, phoneLines: this.lines(reg), ...data });
    this.scheduleRetry(reg);
  }

  /** The REGISTER never left: its TLS connection failed. Reported as a 503 naming the TLS reason, then retried. */
  private tlsFailed(reg: NameRegistration, err: TlsError, expires: number): void {
    reg.attempt++; // a late answer cannot come, but keep the rule: this attempt is over
    reg.lastStatusCode = 503;
    this.fail(reg, T.SipRegisterError, { status: 503, reason: `TLS ${err.reason}`, tlsReason: err.reason }, expires);
  }

  private final(reg: NameRegistration, res: SipResponse, expires: number): void {
    reg.lastStatusCode = res.status;
    if (res.status >= 200 && res.status < 300) {
      this.success(reg, res, expires);
      return;
    }
    if (res.status === 401 || res.status === 403 || res.status === 407) {
      this.fail(reg, T.SipRegisterAuthorizationError, res, expires);
      return;
    }
    if (res.status === 423 && expires !== 0) {
      const minExpires = Number.parseInt(res.headers.get('Min-Expires') ?? '', 10);
      const usable = Number.isFinite(minExpires) && minExpires > reg.expires && reg.intervalRounds++ < MAX_INTERVAL_ROUNDS;
      this.ctx.notifyGlobal(T.SipRegisterIntervalError, {
        name: reg.name,
        phoneLines: this.lines(reg),
        statusCode: 423,
        reasonPhrase: res.reason,
        minExpires: Number.isFinite(minExpires) ? minExpires : undefined,
        retrying: usable,
      });
      if (!usable) {
        this.ctx.clock().clearTimer(reg.timeoutTimer);
        reg.state = 'failed';
        this.scheduleRetry(reg);
        return;
      }
      reg.expires = minExpires;
      this.send(reg, minExpires);
      return;
    }
    this.fail(reg, T.SipRegisterError, res, expires);
  }

  private success(reg: NameRegistration, res: SipResponse, expires: number): void {
    this.ctx.clock().clearTimer(reg.timeoutTimer);
    reg.timeoutTimer = undefined;
    if (expires === 0) {
      reg.registeredContact = undefined;
      this.unregistered(reg, T.SipUnRegisterSuccess, T.SipSuccess, { statusCode: res.status });
      return;
    }
    const ourContact = this.contactOf(reg);
    const granted = grantedExpiry(res, ourContact, expires);
    reg.grantedExpires = granted;
    reg.registeredContact = ourContact;
    reg.state = 'registered';
    reg.registeredAt = this.ctx.clock().now();
    this.ctx.notifyGlobal(T.SipRegisterSuccess, {
      name: reg.name,
      phoneLines: this.lines(reg),
      expires: granted,
      contact: ourContact,
      statusCode: res.status,
    });
    if (this.config.natAutoDetect && this.detectNat(res, reg.protocol)) return;
    // Refresh at the update interval, but always before the binding the registrar granted expires.
    let refreshS = this.config.updateIntervalSeconds;
    if (granted > 0 && granted <= refreshS) refreshS = Math.max(1, Math.floor(granted * 0.8));
    if (granted === 0) refreshS = this.retryMs / 1000;
    this.ctx.clock().clearTimer(reg.refreshTimer);
    reg.refreshTimer = this.ctx.clock().setTimer(refreshS * 1000, () => this.register(reg));
  }

  /** True when a new public address was found (the host then re-registers every name). */
  private detectNat(res: SipResponse, over: TransportProtocol): boolean {
    const top = res.headers.get('Via');
    if (!top) return false;
    let via;
    try {
      via = parseVia(top);
    } catch {
      return false;
    }
    const adv = this.ctx.advertisedAddress();
    const received = via.params['received'] ?? undefined;
    const rportText = via.params['rport'];
    const rport = rportText ? Number.parseInt(rportText, 10) : undefined;
    const publicHost = received || adv.host;
    // Over a stream the source port is an ephemeral one of the connection: only the address tells.
    const stream = adv.protocol !== 'UDP' || over !== 'UDP';
    const publicPort = !stream && rport && Number.isFinite(rport) ? rport : adv.port;
    if (publicHost === adv.host && publicPort === adv.port) return false;
    this.own.publicAddressDetected(publicHost, publicPort);
    return true;
  }
}

/** The expiry the registrar granted our contact: its `expires` param, else the Expires header. */
export function grantedExpiry(res: SipResponse, ourContact: string, requested: number): number {
  let ours: string | undefined;
  try {
    const want = formatUri(parseNameAddr(`<${ourContact}>`).uri);
    for (const c of res.headers.getAll('Contact')) {
      const na = parseNameAddr(c);
      if (sameContact(formatUri(na.uri), want)) {
        ours = na.params['expires'] ?? undefined;
        break;
      }
    }
  } catch {
    // an unparsable Contact in the answer is not our problem: fall back to Expires
  }
  const value = ours ?? res.headers.get('Expires');
  const n = value === undefined ? Number.NaN : Number.parseInt(value, 10);
  return Number.isFinite(n) && n >= 0 ? n : requested;
}

function sameContact(a: string, b: string): boolean {
  const strip = (s: string) => s.toLowerCase().replace(/;transport=udp/, '');
  return strip(a) === strip(b);
}
