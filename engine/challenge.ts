/**
 * Challenging incoming requests (LanScape's SetChallengeAuthenticationState): server-side HTTP
 * digest on INVITE, REGISTER, BYE, SUBSCRIBE, NOTIFY and MESSAGE, with the application deciding
 * who gets in through the immediate `SipIncomingAuthentication` notification.
 *
 * Choices, stated once:
 * - The engine is a user agent (and registrar), never a proxy: every challenge is a `401` with
 *   `WWW-Authenticate` (RFC 3261 §22.1), including for INVITE and MESSAGE.
 * - Nonces are self-validating (timestamp + HMAC with a per-engine key, `sip/digest.ts`), so
 *   expiry needs no state; an expired nonce gets a new challenge with `stale=true` (the client
 *   retries without asking its user), a nonce we never issued gets a plain new challenge.
 * - Replay protection: with qop the nonce count of a nonce must grow with every request; without
 *   qop a nonce is good once. A replayed answer gets a fresh `401` (never a `200`). Counts are
 *   recorded only once a request was granted, so forged requests cannot block a real client.
 * - Wrong credentials, or an application that neither grants nor gives a password, get `403`.
 * - The response is compared in constant time (`crypto.timingSafeEqual`, in `checkDigest`).
 * - ACK and CANCEL are never challenged (RFC 3261 §22.1: they cannot be resubmitted).
 * @module
 */
import { randomBytes } from 'node:crypto';
import { checkDigest, createChallenge, formatDigestHeader, nonceAge } from '../sip/digest.js';
import { parseAuthHeader, type AuthHeader } from '../sip/grammar.js';
import type { SipRequest } from '../sip/message.js';
import type { SipStack, ServerTransaction } from '../sip/stack.js';
import type { Endpoint } from '../sip/transport.js';
import { TelephonyReturnValue as T } from './returnCodes.js';
import type { TransportAddress } from './types.js';

/** Methods challenged while challenges are on. */
export const CHALLENGED_METHODS: readonly string[] = ['INVITE', 'REGISTER', 'BYE', 'SUBSCRIBE', 'NOTIFY', 'MESSAGE'];

/** Default life of a nonce in seconds (setAuthCredentialExpireTime). */
export const DEFAULT_AUTH_CREDENTIAL_EXPIRE_SECONDS = 300;

/**
 * Data of the immediate `SipIncomingAuthentication` notification, raised for a request that
 * answers our challenge with a fresh, well-formed digest. The handler looks the user up and
 * either sets `password` (the engine checks the digest with it), or calls
 * `engine.verifyChallengeResponse(data, password)` itself, which sets `authorizationGranted`
 * when the digest is right. Leaving `authorizationGranted` false and `password` unset refuses
 * the request with 403. Setting `authorizationGranted` true without a check admits the request
 * whatever its password: only for users vouched for some other way.
 */
export interface IncomingAuthenticationData {
  /** SIP method of the request. */
  method: string;
  /** Its Request-URI. */
  requestUri: string;
  /** The digest `username`: the user to look up. */
  userName: string;
  /** The digest realm (the engine's challenge realm). */
  realm: string;
  /** The digest `uri` parameter. */
  uri: string;
  /** The From header of the request. */
  from: string;
  /** Where the request came from. */
  source: TransportAddress;
  /** Set by the application: the user's password, for the engine to check the digest with. */
  password?: string;
  /** True once the request may pass (set by verifyChallengeResponse, or by the application). */
  authorizationGranted: boolean;
}

/** What verifyChallengeResponse needs about the request behind a notification's data. */
interface PendingCheck {
  authorization: AuthHeader;
  method: string;
  body: Buffer;
}

/** Server-side digest for the engine. */
export class ChallengeAuthenticator {
  private on = false;
  private realmOverride: string | undefined;
  private expireSeconds = DEFAULT_AUTH_CREDENTIAL_EXPIRE_SECONDS;
  /** Per-engine nonce key: nonces of another engine (or an earlier run) are not ours. */
  private readonly secret = randomBytes(32);
  /** Highest granted nonce count per nonce (0 for a granted answer without qop). */
  private readonly usedNonces = new Map<string, number>();
  /** Requests behind the data objects of notifications being handled. */
  private readonly pending = new WeakMap<IncomingAuthenticationData, PendingCheck>();
  /** Requests whose digest was checked and granted (the registrar role asks). */
  private readonly granted = new WeakSet<SipRequest>();

  /**
   * @param defaultRealm the realm when none was given: the engine's domain, else its address
   * @param raise delivers the immediate notification and returns its data
   * @param failed told of each request refused 403 for its credentials (the back-off counts it)
   */
  constructor(
    private readonly defaultRealm: () => string,
    private readonly raise: (data: IncomingAuthenticationData) => IncomingAuthenticationData,
    private readonly failed: (sourceHost: string, user: string) => void = () => undefined,
  ) {}

  /** Whether the request's digest was checked and granted. */
  isAuthenticated(req: SipRequest): boolean {
    return this.granted.has(req);
  }

  /** Whether the request carries a digest answering our realm (checked or not). */
  hasCredentials(req: SipRequest): boolean {
    return this.ourAuthorization(req, this.realm) !== undefined;
  }

  /** Answers the request with a 401 challenge. */
  challengeRequest(stack: SipStack, req: SipRequest, tx: ServerTransaction): void {
    this.challenge(stack, req, tx, false);
  }

  /** Whether incoming requests are challenged. */
  get enabled(): boolean {
    return this.on;
  }

  /** Turns challenges on or off; `realm` overrides the default realm. */
  setState(on: boolean, realm?: string): T {
    if (typeof on !== 'boolean') return T.SipBadParameter;
    if (realm !== undefined && (typeof realm !== 'string' || !realm || /["\\\r\n]/.test(realm))) return T.SipBadParameter;
    this.on = on;
    this.realmOverride = realm;
    if (!on) this.usedNonces.clear();
    return T.SipSuccess;
  }

  /** Life of a nonce in seconds (1..86400). */
  setExpireTime(seconds: number): T {
    if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 1 || seconds > 86_400) return T.SipBadParameter;
    this.expireSeconds = seconds;
    return T.SipSuccess;
  }

  /** Forgets everything (the engine stopped). */
  reset(): void {
    this.on = false;
    this.realmOverride = undefined;
    this.expireSeconds = DEFAULT_AUTH_CREDENTIAL_EXPIRE_SECONDS;
    this.usedNonces.clear();
  }

  private get realm(): string {
    return this.realmOverride ?? this.defaultRealm();
  }

  /**
   * Checks the digest of the request behind `data` with `password`; on success sets
   * `data.authorizationGranted`. SipInvalidHandle for data that did not come from a
   * SipIncomingAuthentication notification, SipCallFailure for a wrong answer.
   */
  verify(data: IncomingAuthenticationData, password: string): T {
    if (data === null || typeof data !== 'object') return T.SipInvalidHandle;
    const p = this.pending.get(data);
    if (!p) return T.SipInvalidHandle;
    if (typeof password !== 'string') return T.SipBadParameter;
    const check = checkDigest(p.authorization, p.method, password, this.realm, { body: p.body });
    if (!check.ok) return T.SipCallFailure;
    data.authorizationGranted = true;
    return T.SipSuccess;
  }

  /**
   * Runs before any dispatch. Returns true when it answered the request (challenge or 403);
   * false lets the request through.
   */
  onRequest(stack: SipStack, req: SipRequest, tx: ServerTransaction, from: Endpoint): boolean {
    if (!this.on || !CHALLENGED_METHODS.includes(req.method)) return false;
    return this.check(stack, req, tx, from);
  }

  /**
   * Checks the request's digest whatever the challenge state (the registrar role's REGISTER):
   * a challenge when it has none or a stale one, 403 when it is wrong (counted as a failure).
   * Returns true when it answered; false when the request is granted (and remembered as such).
   */
  check(stack: SipStack, req: SipRequest, tx: ServerTransaction, from: Endpoint): boolean {
    const realm = this.realm;
    const authorization = this.ourAuthorization(req, realm);
    if (!authorization) return this.challenge(stack, req, tx, false);
    const params = authorization.params;
    const nonce = params['nonce']!;
    const age = nonceAge(nonce, { secret: this.secret });
    if (age === undefined) return this.challenge(stack, req, tx, false);
    if (age > this.expireSeconds * 1000) return this.challenge(stack, req, tx, true);
    const qop = (params['qop'] ?? '').trim().toLowerCase();
    const nc = qop ? Number.parseInt(params['nc'] ?? '', 16) : 0;
    if (qop && !(Number.isInteger(nc) && nc > 0 && /^[0-9a-fA-F]{8}$/.test(params['nc'] ?? ''))) {
      tx.respond(stack.createResponse(req, 400, 'Bad nonce count', { toTag: true }));
      return true;
    }
    const last = this.usedNonces.get(nonce);
    if (last !== undefined && (!qop || nc <= last)) return this.challenge(stack, req, tx, false);

    const data: IncomingAuthenticationData = {
      method: req.method,
      requestUri: req.uri,
      userName: params['username'] ?? '',
      realm,
      uri: params['uri'] ?? '',
      from: req.headers.get('From') ?? '',
      source: { protocol: from.protocol, host: from.host, port: from.port },
      authorizationGranted: false,
    };
    this.pending.set(data, { authorization, method: req.method, body: req.body });
    this.raise(data);
    if (data.authorizationGranted !== true && typeof data.password === 'string') this.verify(data, data.password);
    this.pending.delete(data);
    // The password has served: it must not linger where the data may later be printed or logged.
    delete data.password;
    if (data.authorizationGranted !== true) {
      tx.respond(stack.createResponse(req, 403, 'Forbidden', { toTag: true }));
      this.failed(from.host, data.userName);
      return true;
    }
    this.remember(nonce, nc);
    this.granted.add(req);
    return false;
  }

  /** The Digest Authorization answering our realm, if the request has one that parses. */
  private ourAuthorization(req: SipRequest, realm: string): AuthHeader | undefined {
    for (const value of req.headers.getAll('Authorization')) {
      let h: AuthHeader;
      try {
        h = parseAuthHeader(value);
      } catch {
        continue;
      }
      const p = h.params;
      if (h.scheme.toLowerCase() !== 'digest' || p['realm'] !== realm) continue;
      if (!p['nonce'] || !p['username'] || !p['uri'] || !p['response']) continue;
      return h;
    }
    return undefined;
  }

  private challenge(stack: SipStack, req: SipRequest, tx: ServerTransaction, stale: boolean): true {
    const res = stack.createResponse(req, 401, 'Unauthorized', { toTag: true });
    res.headers.append('WWW-Authenticate', formatDigestHeader(createChallenge(this.realm, { secret: this.secret, stale }), true));
    tx.respond(res);
    return true;
  }

  private remember(nonce: string, nc: number): void {
    this.usedNonces.set(nonce, nc);
    if (this.usedNonces.size <= 1024) return;
    // Expired nonces are refused as stale anyway: their counts need not be kept.
    const maxAge = this.expireSeconds * 1000;
    for (const n of this.usedNonces.keys()) {
      const age = nonceAge(n, { secret: this.secret });
      if (age === undefined || age > maxAge) this.usedNonces.delete(n);
    }
  }
}
