/**
 * The registrar role: this engine accepting REGISTER from other user agents. Each REGISTER is
 * parsed and checked by the registrar (engine/registrar.ts), raised to the application as the
 * immediate SipRegisterReceived (it may refuse), applied, and answered with the bindings.
 *
 * Nobody binds an AOR without proving its password unless the application says so: a REGISTER
 * carrying a digest is checked first (engine/challenge.ts: the password comes from the
 * application through SipIncomingAuthentication; a wrong one gets 403 and counts towards the
 * back-off of engine/securityLimits.ts); one without is raised with `authenticated: false` and
 * challenged 401 unless the application set `requireAuthentication: false` for it (or the start
 * parameter `registrarRequireAuthentication: false` made that the default). The per-request
 * opt-out is the primary one because the application knows which peers it vouches for (a
 * gateway on a trusted address, say); the start parameter is for labs where everyone is trusted.
 * The facade's request routing calls {@link RegistrarRole.handleRegister}. It takes the usage
 * context (lines/context.ts) plus its clock and limits, which outlive a run.
 * @module
 */
import type { Clock } from '../sip/clock.js';
import type { SipRequest } from '../sip/message.js';
import type { ServerTransaction } from '../sip/transaction.js';
import type { Endpoint } from '../sip/transport.js';
import type { UsageContext } from '../lines/context.js';
import { Registrar } from './registrar.js';
import { TelephonyReturnValue as T } from './returnCodes.js';
import type { RegisterReceivedData, RegistrarBinding } from './types.js';

/** Limits of the registrar role (EngineOptions). */
export interface RegistrarLimits {
  /** Expiry when a REGISTER states none (s). */
  registrarDefaultExpires?: number;
  /** Longest expiry granted (s). */
  registrarMaxExpires?: number;
  /** Shorter expiries get 423 with this Min-Expires (s); 0 = no minimum. */
  registrarMinExpires?: number;
}

/** How the registrar role authenticates (the engine's challenge authenticator and its setting). */
export interface RegistrarAuthentication {
  /** The default of `requireAuthentication` (start parameter registrarRequireAuthentication). */
  required(): boolean;
  /** Whether the request's digest was already checked and granted (challenges on for REGISTER). */
  authenticated(req: SipRequest): boolean;
  /** Whether the request carries a digest for our realm. */
  hasCredentials(req: SipRequest): boolean;
  /** Checks the digest; true when it answered (challenge or 403), false when granted. */
  check(req: SipRequest, tx: ServerTransaction, from: Endpoint): boolean;
  /** Answers 401 with a challenge. */
  challenge(req: SipRequest, tx: ServerTransaction): void;
}

/** The bindings this engine accepted as a registrar, and its REGISTER handler. */
export class RegistrarRole {
  private readonly registrar: Registrar;

  /**
   * @param clock time source for binding expiry
   * @param limits expiry limits
   * @param ctx the usage context
   * @param auth how REGISTERs are authenticated
   */
  constructor(
    clock: Clock,
    limits: RegistrarLimits,
    private readonly ctx: UsageContext,
    private readonly auth: RegistrarAuthentication,
  ) {
    this.registrar = new Registrar(clock, limits.registrarDefaultExpires ?? 3600, limits.registrarMaxExpires ?? 7200, limits.registrarMinExpires ?? 0);
  }

  /** Live bindings. */
  bindings(): RegistrarBinding[] {
    return this.registrar.list();
  }

  /** The live contacts of one user, with seconds left. */
  contactsOf(user: string): Array<{ uri: string; expires: number }> {
    return this.registrar.contactsOf(user);
  }

  /** Forgets every binding (the engine stops). */
  clear(): void {
    this.registrar.clear();
  }

  /** Answers an incoming REGISTER: 4xx for a bad one, 401/403 for a missing or wrong password, the application's refusal, or 200 with the bindings. */
  handleRegister(req: SipRequest, tx: ServerTransaction, from: Endpoint): void {
    const stack = this.ctx.stack();
    if (!stack) return;
    const parsed = this.registrar.parse(req);
    if ('status' in parsed) {
      tx.respond(stack.createResponse(req, parsed.status, parsed.reason, { toTag: true }));
      return;
    }
    let authenticated = this.auth.authenticated(req);
    if (!authenticated && this.auth.hasCredentials(req)) {
      if (this.auth.check(req, tx, from)) return;
      authenticated = true;
    }
    const data: RegisterReceivedData = {
      aor: parsed.aor,
      user: parsed.user,
      contacts: parsed.contacts.map((c) => ({ ...c })),
      removeAll: parsed.removeAll,
      source: { protocol: from.protocol, host: from.host, port: from.port },
      acceptRegistration: true,
      rejectStatusCode: 403,
      authenticated,
      requireAuthentication: this.auth.required(),
    };
    this.ctx.immediate(-1, T.SipRegisterReceived, data);
    if (data.acceptRegistration !== true) {
      const code = Number.isInteger(data.rejectStatusCode) && data.rejectStatusCode >= 400 && data.rejectStatusCode < 700 ? data.rejectStatusCode : 403;
      tx.respond(stack.createResponse(req, code, undefined, { toTag: true }));
      return;
    }
    // Only an explicit false waives the password for this request.
    if (!authenticated && data.requireAuthentication !== false) {
      this.auth.challenge(req, tx);
      return;
    }
    const decision = this.registrar.apply(req, parsed, data.source);
    const res = stack.createResponse(req, decision.status, 'reason' in decision ? decision.reason : undefined, { toTag: true });
    if ('contacts' in decision) {
      for (const c of decision.contacts) res.headers.append('Contact', `<${c.uri}>;expires=${c.expires}`);
      res.headers.append('Date', new Date().toUTCString());
    } else if (decision.headers) {
      for (const [n, v] of decision.headers) res.headers.append(n, v);
    }
    tx.respond(res);
  }
}
