/**
 * The usage context: the one set of services a running engine gives every SIP usage (calls,
 * transfer, messaging, registration, event subscriptions, presence, keep-alive, the registrar
 * role, the line policy). Before it, each usage had its own host interface restating the same
 * services (stack, clock, client path, capabilities, router, transport, identity, notification
 * raising) in slightly different shapes; now the engine builds one context per run
 * (engine/runningEngine.ts `RunningEngine.context`) and each usage takes it plus only what is
 * truly its own, which its module header names.
 *
 * It lives on this floor because the lowest modules that consume it (lines/call.ts,
 * lines/callManager.ts, lines/transfer.ts) may not look up at engine/. For the same reason the
 * notification functions take any `TelephonyReturnValue` with untyped data: the typed map
 * (engine/notifications.ts) is the engine's; the engine implements them with the notifier's
 * unchecked raisers.
 * @module
 */
import type { Clock } from '../sip/clock.js';
import type { SipStack, TransportProtocol } from '../sip/stack.js';
import type { CapabilityRegistry } from '../sip/capabilities.js';
import type { DialogRouter } from '../sip/dialogRouter.js';
import type { Endpoint } from '../sip/transport.js';
import type { OutboundProxy, UacServices } from '../sip/uac.js';
import type { TelephonyReturnValue as T } from './telephonyCodes.js';
import type { PhoneLine } from './phoneLine.js';
import type { Call } from './call.js';

/** A SIP server the application named (proxy, outbound proxy): resolved address and the name given. */
export interface SipServer {
  /** Resolved IP address. */
  host: string;
  /** Port. */
  port: number;
  /** What the application gave (a name or an address), kept for URIs. */
  given: string;
  /** The port the application gave; undefined when it gave none (0) and DNS SRV chose. */
  givenPort: number | undefined;
  /**
   * Its targets in the order to try them, located afresh (through the DNS cache) for each
   * request: RFC 3263 NAPTR/SRV when no port was given, else every address of the name.
   */
  targets: () => Promise<readonly Endpoint[]>;
  /** The transport of its first target when it was located (TLS for a `sips:` server or a NAPTR naming it). */
  protocol?: TransportProtocol;
}

/** The address advertised in Contact and Via. */
export interface AdvertisedAddress {
  /** Host (the public one when known). */
  host: string;
  /** Port (the public one when known). */
  port: number;
  /** Transport name. */
  protocol: string;
}

/** What every usage gets from the running engine. Everything is read when used: proxy, domain and public address change during a run. */
export interface UsageContext {
  // ------------------------------------------------------------ the run
  /** The SIP stack while the run lasts; undefined once it stopped (what a usage checks before starting anything). */
  stack(): SipStack | undefined;
  /** The run's SIP stack, also once stopped: what a call already under way answers and ends with. */
  readonly runStack: SipStack;
  /** The engine's time source (timers of every usage). */
  clock(): Clock;
  /** What the engine implements: the one source of Allow, Supported, Accept and Allow-Events. */
  readonly capabilities: CapabilityRegistry;
  /** The router of incoming requests; usages attach to dialogs here. */
  readonly router: DialogRouter;
  /**
   * The client-request path (sending, 401/407 answers, outbound proxy, route set) for one usage:
   * challenges are answered with one digest client per `keyPrefix` + user name, so each usage's
   * nonce counts stay its own (calls `call:`, messaging `msg:`, subscriptions `sub:`,
   * registration none).
   */
  uacFor(keyPrefix: string): UacServices;
  /** Transport for requests we originate. */
  transport(): TransportProtocol;
  /** Resolves a host name (undefined when it cannot). */
  resolve(host: string): Promise<string | undefined>;
  /**
   * The targets of a SIP URI in the order to try them (RFC 3263 NAPTR/SRV/A/AAAA); rejects
   * with the reason when there is none.
   */
  locate(uri: string): Promise<readonly Endpoint[]>;
  /** User-Agent header value. */
  userAgent(): string;

  // ------------------------------------------------------------ who we are, where the servers are
  /** The engine's user name (phoneName) for From and Contact. */
  user(): string;
  /** Our display name for From. */
  displayName(): string;
  /** The user name a line answers and calls as. */
  userFor(line: PhoneLine): string;
  /**
   * Our Contact URI for a user name (reflects the current public address), over `protocol` when
   * given (else `sipTransport`), a `sips:` URI when `sips` is set and the protocol is TLS.
   */
  contactUri(user: string, protocol?: TransportProtocol, sips?: boolean): string;
  /** The address advertised in Contact, Via and SDP: the public one when known, else the local one. */
  advertisedAddress(): AdvertisedAddress;
  /** The SIP domain, when set. */
  domain(): string | undefined;
  /** The SIP proxy, when enabled. */
  proxy(): SipServer | undefined;
  /** The outbound proxy in its one shape (where to send, and the Route naming it), when enabled. */
  outboundProxy(): OutboundProxy | undefined;

  // ------------------------------------------------------------ lines and notifications
  /** The phone lines. */
  lines(): readonly PhoneLine[];
  /** The live call on a line, or the code saying why there is none (stopped, bad line, no call). */
  lineCall(phoneLine: unknown): Call | T;
  /** Queues a phone-line notification (the engine's observers see it: metrics, signal tones, a call's last error). */
  notify(line: number, event: T, data?: object): void;
  /** Queues a global notification. */
  notifyGlobal(event: T, data?: object): void;
  /** Delivers an immediate notification now and returns its data as the application left it. */
  immediate<D extends object>(line: number, event: T, data: D): D;
}

/**
 * One object that is the context plus a usage's own services: the context is its prototype, so
 * the context's members stay live, and the extras sit beside them under their own names.
 */
export function withExtras<E extends object>(context: UsageContext, extras: E): UsageContext & E {
  return Object.assign(Object.create(context) as UsageContext, extras);
}
