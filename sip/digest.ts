/**
 * HTTP Digest authentication as SIP uses it (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760).
 *
 * Client side: a credential store keyed by realm (LanScape's AddAuthorizationCredentials) and a
 * {@link DigestClient} that answers 401/407 challenges, remembers nonces for pre-authorization
 * and detects "the same challenge again" so a wrong password cannot cause a retry loop.
 *
 * Server side: {@link createChallenge} makes self-validating nonces (timestamp + HMAC, so expiry
 * is checked without per-nonce state) and {@link verifyDigest} checks an answer in constant time.
 * @module
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { type AuthHeader, formatAuthHeader } from './grammar.js';

// ------------------------------------------------------------------------------------------------
// Algorithms and the pure computation
// ------------------------------------------------------------------------------------------------

/** Digest algorithms supported, in the spelling of the IANA registry (RFC 7616 §6.1). */
export type DigestAlgorithm = 'MD5' | 'MD5-sess' | 'SHA-256' | 'SHA-256-sess' | 'SHA-512-256' | 'SHA-512-256-sess';

interface AlgorithmInfo {
  readonly name: DigestAlgorithm;
  readonly hash: string;
  readonly sess: boolean;
  /** Higher is stronger; used to choose among several challenges. */
  readonly strength: number;
}

const ALGORITHMS: ReadonlyMap<string, AlgorithmInfo> = new Map(
  (
    [
      ['MD5', 'md5', false, 1],
      ['MD5-sess', 'md5', true, 1],
      ['SHA-256', 'sha256', false, 2],
      ['SHA-256-sess', 'sha256', true, 2],
      ['SHA-512-256', 'sha512-256', false, 3],
      ['SHA-512-256-sess', 'sha512-256', true, 3],
    ] as const
  ).map(([name, hash, sess, strength]) => [name.toLowerCase(), { name, hash, sess, strength }]),
);

function algorithmInfo(name: string | undefined): AlgorithmInfo | undefined {
  // An absent algorithm means MD5 (RFC 2617 §3.2.1).
  return ALGORITHMS.get((name ?? 'MD5').trim().toLowerCase() || 'md5');
}

/**
 * Canonical name of an algorithm token (case-insensitive); absent or empty means `MD5`.
 * Returns undefined for algorithms this module does not implement.
 */
export function normalizeAlgorithm(name: string | undefined): DigestAlgorithm | undefined {
  return algorithmInfo(name)?.name;
}

function h(info: AlgorithmInfo, data: string | Buffer): string {
  return createHash(info.hash).update(data).digest('hex');
}

/**
 * The hex digest of `data` with the hash of `algorithm` (H() of the RFCs). Useful for the
 * auth-int body hash. Throws RangeError for an unsupported algorithm.
 */
export function digestHash(algorithm: string | undefined, data: string | Buffer): string {
  const info = algorithmInfo(algorithm);
  if (!info) throw new RangeError(`unsupported digest algorithm: ${algorithm}`);
  return h(info, data);
}

/**
 * HA1 = H(username:realm:password) for `algorithm` (the `-sess` suffix is ignored here because the
 * session key needs nonce and cnonce). This is what a registrar may store instead of passwords.
 * Throws RangeError for an unsupported algorithm.
 */
export function computeHA1(algorithm: string | undefined, username: string, realm: string, password: string): string {
  return digestHash(algorithm, `${username}:${realm}:${password}`);
}

/** Inputs of {@link computeDigestResponse}. Either `password` or `ha1` must be given. */
export interface DigestResponseInput {
  /** Algorithm token; absent means MD5. */
  algorithm?: string;
  /** User name as sent (for userhash, the hash is computed by the caller; HA1 uses the plain name). */
  username: string;
  /** Realm of the challenge. */
  realm: string;
  /** Shared secret; ignored when `ha1` is given. */
  password?: string;
  /** Precomputed H(username:realm:password) with the same hash, instead of `password`. */
  ha1?: string;
  /** Server nonce. */
  nonce: string;
  /** Client nonce; required when `qop` is set and for `-sess` algorithms. */
  cnonce?: string;
  /** Nonce count, 8 hex digits; required when `qop` is set. */
  nc?: string;
  /** `auth`, `auth-int`, or absent/empty for the RFC 2069 compatible computation. */
  qop?: string;
  /** Request method (for ACK and CANCEL, the method of the request being answered per RFC 3261 §22.1). */
  method: string;
  /** The digest-uri value exactly as placed in the `uri` parameter. */
  uri: string;
  /** H(entity-body) for auth-int; computed from `body` when absent. */
  bodyHash?: string;
  /** Entity body for auth-int when `bodyHash` is not given (empty when both are absent). */
  body?: string | Buffer;
}

/**
 * The `response` value of RFC 2617 §3.2.2 / RFC 7616 §3.4.1. Pure; throws RangeError only for an
 * unsupported algorithm or when neither password nor ha1 is given.
 */
export function computeDigestResponse(input: DigestResponseInput): string {
  const info = algorithmInfo(input.algorithm);
  if (!info) throw new RangeError(`unsupported digest algorithm: ${input.algorithm}`);
  let ha1: string;
  if (input.ha1 !== undefined) ha1 = input.ha1.toLowerCase();
  else if (input.password !== undefined) ha1 = h(info, `${input.username}:${input.realm}:${input.password}`);
  else throw new RangeError('password or ha1 required');
  if (info.sess) ha1 = h(info, `${ha1}:${input.nonce}:${input.cnonce ?? ''}`);

  const qop = (input.qop ?? '').trim().toLowerCase();
  let a2 = `${input.method}:${input.uri}`;
  if (qop === 'auth-int') a2 += `:${input.bodyHash ?? h(info, input.body ?? '')}`;
  const ha2 = h(info, a2);

  if (qop === '') return h(info, `${ha1}:${input.nonce}:${ha2}`);
  return h(info, `${ha1}:${input.nonce}:${input.nc ?? ''}:${input.cnonce ?? ''}:${qop}:${ha2}`);
}

/** Splits a `qop` options value (`"auth,auth-int"`) into lower-case tokens. */
export function parseQopOptions(value: string | undefined): string[] {
  if (!value) return [];
  return value
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s.length > 0);
}

/**
 * Parameters of a Digest header that are written without quotes (RFC 7616 §3.4 and RFC 3261
 * §25.1: algorithm, qop in credentials, nc, stale, userhash). Pass to formatAuthHeader.
 */
export const DIGEST_UNQUOTED_PARAMS: ReadonlySet<string> = new Set(['algorithm', 'qop', 'nc', 'stale', 'userhash']);

/**
 * Formats a Digest header value with the right quoting. Challenges (which carry qop options in
 * quotes) should pass `challenge = true`.
 */
export function formatDigestHeader(header: AuthHeader, challenge = false): string {
  if (!challenge) return formatAuthHeader(header, DIGEST_UNQUOTED_PARAMS);
  const unquoted = new Set(DIGEST_UNQUOTED_PARAMS);
  unquoted.delete('qop');
  return formatAuthHeader(header, unquoted);
}

function isDigest(header: AuthHeader): boolean {
  return header.scheme.trim().toLowerCase() === 'digest';
}

function isTrue(v: string | undefined): boolean {
  return (v ?? '').trim().toLowerCase() === 'true';
}

// ------------------------------------------------------------------------------------------------
// Credentials
// ------------------------------------------------------------------------------------------------

/** A user name and password for one realm. */
export interface Credentials {
  /** User name sent in the `username` parameter. */
  username: string;
  /** Shared secret; never transmitted. */
  password: string;
  /** Realm the credentials answer; undefined, `''` or `'*'` = any realm. */
  realm?: string;
}

/** The wildcard realm as LanScape spells it. */
export const ANY_REALM = '*';

function normRealm(realm: string | undefined): string {
  return realm === undefined || realm === '' || realm === ANY_REALM ? ANY_REALM : realm;
}

/**
 * Credentials by realm, as AddAuthorizationCredentials / DeleteAuthorizationCredentials keep them.
 * A realm of `*` (or empty) answers challenges from any realm that has no exact entry.
 */
export class CredentialStore {
  private readonly entries: Credentials[] = [];

  /**
   * Adds or replaces the password of (user, realm). Returns false, storing nothing, when user or
   * password is not a string or the user is empty.
   */
  add(username: string, password: string, realm?: string): boolean {
    if (typeof username !== 'string' || typeof password !== 'string' || username === '') return false;
    if (realm !== undefined && typeof realm !== 'string') return false;
    const r = normRealm(realm);
    const existing = this.entries.find((e) => e.username === username && e.realm === r);
    if (existing) existing.password = password;
    else this.entries.push({ username, password, realm: r });
    return true;
  }

  /**
   * Deletes the entry for (user, realm), or every entry of the user when realm is undefined.
   * Returns whether anything was removed.
   */
  delete(username: string, realm?: string): boolean {
    const r = realm === undefined ? undefined : normRealm(realm);
    let removed = false;
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i]!;
      if (e.username === username && (r === undefined || e.realm === r)) {
        this.entries.splice(i, 1);
        removed = true;
      }
    }
    return removed;
  }

  /**
   * Credentials for a challenge from `realm`. Preference: exact realm with the preferred user,
   * wildcard with the preferred user, exact realm any user, wildcard any user (first added wins).
   * The preferred user lets per-line registrations answer with their own name.
   */
  find(realm: string, preferredUser?: string): Credentials | undefined {
    const exact = this.entries.filter((e) => e.realm === realm && realm !== ANY_REALM);
    const wild = this.entries.filter((e) => e.realm === ANY_REALM);
    const pick =
      (preferredUser !== undefined &&
        (exact.find((e) => e.username === preferredUser) ?? wild.find((e) => e.username === preferredUser))) ||
      exact[0] ||
      wild[0];
    return pick ? { ...pick } : undefined;
  }

  /** Copies of all entries (wildcard realms shown as `*`). */
  list(): Credentials[] {
    return this.entries.map((e) => ({ ...e }));
  }

  /** Removes every entry. */
  clear(): void {
    this.entries.length = 0;
  }

  /** Number of entries. */
  get size(): number {
    return this.entries.length;
  }
}

// ------------------------------------------------------------------------------------------------
// Client
// ------------------------------------------------------------------------------------------------

/** The request an Authorization is computed for. */
export interface DigestRequest {
  /** Method of the request (INVITE, REGISTER ...). */
  method: string;
  /** Request-URI text, placed in the `uri` parameter. */
  uri: string;
  /** Body, needed for qop=auth-int. */
  body?: string | Buffer;
}

/** Options of {@link DigestClient.authorize}. */
export interface AuthorizeOptions {
  /** True for a 407 (Proxy-Authenticate → Proxy-Authorization). */
  proxy?: boolean;
  /** User name to prefer among several credentials for the realm. */
  preferredUser?: string;
  /**
   * Answer even when the nonce was already answered (default false: report `repeated`). Set it
   * when the challenged request carried no credentials, since then a known nonce says nothing
   * about the password.
   */
  allowRepeat?: boolean;
}

/** A successful answer to a challenge. */
export interface DigestAnswer {
  /** Discriminant. */
  ok: true;
  /** Header to add: `Authorization` or `Proxy-Authorization`. */
  headerName: 'Authorization' | 'Proxy-Authorization';
  /** The credentials, params unquoted; format with {@link formatDigestHeader}. */
  header: AuthHeader;
  /** Realm answered, for later {@link DigestClient.preauthorize}. */
  realm: string;
  /** User name used. */
  username: string;
  /** Algorithm used. */
  algorithm: DigestAlgorithm;
  /** The challenge said stale=true: a retry with a fresh nonce, not a credential failure. */
  stale: boolean;
}

/** Why a challenge could not be answered. */
export type DigestFailureReason =
  /** No Digest challenge (e.g. only Basic, which SIP forbids). */
  | 'unsupported-scheme'
  /** Digest, but no algorithm this module implements. */
  | 'unsupported-algorithm'
  /** qop offered without auth or auth-int. */
  | 'unsupported-qop'
  /** Challenge lacks realm or nonce. */
  | 'malformed'
  /** No credentials for the realm. */
  | 'no-credentials'
  /** Same nonce already answered and not stale: the credentials are wrong. */
  | 'repeated';

/** A failed attempt to answer; `realm` is set when it was known. */
export interface DigestFailure {
  /** Discriminant. */
  ok: false;
  /** Why. */
  reason: DigestFailureReason;
  /** Realm of the chosen challenge, if any. */
  realm?: string;
}

interface NonceState {
  realm: string;
  nonce: string;
  opaque?: string;
  algorithmToken?: string;
  info: AlgorithmInfo;
  qop: string;
  userhash: boolean;
  nc: number;
  cnonce: string;
  credentials: Credentials;
  answered: boolean;
}

/**
 * Answers digest challenges for one user agent. Keeps one nonce per realm (and per
 * WWW/proxy role) so later requests can be pre-authorized with an incremented nonce count.
 */
export class DigestClient {
  private readonly states = new Map<string, NonceState>();
  private readonly newCnonce: () => string;

  /**
   * @param store credentials to answer with (shared, so later additions are seen)
   * @param options.cnonce generator of client nonces (tests); default 16 random hex digits
   */
  constructor(
    readonly store: CredentialStore,
    options: { cnonce?: () => string } = {},
  ) {
    this.newCnonce = options.cnonce ?? (() => randomBytes(8).toString('hex'));
  }

  /**
   * Of several challenges (one per WWW-/Proxy-Authenticate header), the strongest supported
   * Digest one; on equal strength the first listed wins (server preference, RFC 7616 §3.7).
   */
  static selectChallenge(challenges: readonly AuthHeader[]): AuthHeader | undefined {
    let best: AuthHeader | undefined;
    let bestStrength = 0;
    for (const c of challenges) {
      if (!isDigest(c)) continue;
      const info = algorithmInfo(c.params['algorithm']);
      if (info && info.strength > bestStrength) {
        best = c;
        bestStrength = info.strength;
      }
    }
    return best;
  }

  private key(realm: string, proxy: boolean): string {
    return `${proxy ? 'p' : 'w'}\u0000${realm}`;
  }

  /**
   * True when `challenge` repeats a nonce this client already answered and is not marked stale:
   * the server rejected our credentials, so answering again would loop.
   */
  isRepeatedChallenge(challenge: AuthHeader, proxy = false): boolean {
    const realm = challenge.params['realm'];
    const nonce = challenge.params['nonce'];
    if (realm === undefined || nonce === undefined || isTrue(challenge.params['stale'])) return false;
    const st = this.states.get(this.key(realm, proxy));
    return !!st && st.answered && st.nonce === nonce;
  }

  /**
   * Answers the challenge(s) of a 401 (or 407 with `proxy`). Never throws; failures come back
   * as {@link DigestFailure} so the caller can map them to a return code.
   */
  authorize(
    challenges: AuthHeader | readonly AuthHeader[],
    request: DigestRequest,
    options: AuthorizeOptions = {},
  ): DigestAnswer | DigestFailure {
    const list = Array.isArray(challenges) ? (challenges as readonly AuthHeader[]) : [challenges as AuthHeader];
    const digests = list.filter(isDigest);
    if (digests.length === 0) return { ok: false, reason: 'unsupported-scheme' };
    const proxy = options.proxy ?? false;

    // Strongest supported challenge we hold credentials for.
    const supported = digests
      .map((c, i) => ({ c, i, info: algorithmInfo(c.params['algorithm']) }))
      .filter((x): x is { c: AuthHeader; i: number; info: AlgorithmInfo } => !!x.info)
      .sort((a, b) => b.info.strength - a.info.strength || a.i - b.i);
    if (supported.length === 0) return { ok: false, reason: 'unsupported-algorithm', realm: digests[0]!.params['realm'] };

    let chosen: { c: AuthHeader; info: AlgorithmInfo; creds: Credentials } | undefined;
    let firstRealm: string | undefined;
    for (const s of supported) {
      const realm = s.c.params['realm'];
      if (realm === undefined || s.c.params['nonce'] === undefined) continue;
      firstRealm ??= realm;
      const creds = this.store.find(realm, options.preferredUser);
      if (creds) {
        chosen = { c: s.c, info: s.info, creds };
        break;
      }
    }
    if (!chosen) {
      return firstRealm === undefined
        ? { ok: false, reason: 'malformed' }
        : { ok: false, reason: 'no-credentials', realm: firstRealm };
    }

    const { c, info, creds } = chosen;
    const realm = c.params['realm']!;
    const nonce = c.params['nonce']!;
    const stale = isTrue(c.params['stale']);

    const offered = parseQopOptions(c.params['qop']);
    let qop = '';
    if (c.params['qop'] !== undefined) {
      // Prefer auth: it does not need the body and survives proxies that rewrite bodies.
      if (offered.includes('auth')) qop = 'auth';
      else if (offered.includes('auth-int')) qop = 'auth-int';
      else return { ok: false, reason: 'unsupported-qop', realm };
    }

    if (!options.allowRepeat && this.isRepeatedChallenge(c, proxy)) return { ok: false, reason: 'repeated', realm };

    const k = this.key(realm, proxy);
    const prev = this.states.get(k);
    const sameNonce = !!prev && prev.nonce === nonce;
    const st: NonceState = {
      realm,
      nonce,
      opaque: c.params['opaque'],
      algorithmToken: c.params['algorithm'],
      info,
      qop,
      userhash: isTrue(c.params['userhash']),
      nc: sameNonce ? prev.nc : 0,
      cnonce: sameNonce ? prev.cnonce : this.newCnonce(),
      credentials: creds,
      answered: false,
    };
    this.states.set(k, st);
    return this.answer(st, request, proxy, stale);
  }

  /**
   * Authorization for a new request using the nonce last received for `realm`, with the next
   * nonce count (RFC 7616 §3.4.5), so the server need not challenge again. Undefined when no
   * nonce is known.
   */
  preauthorize(realm: string, request: DigestRequest, options: { proxy?: boolean } = {}): DigestAnswer | undefined {
    const proxy = options.proxy ?? false;
    const st = this.states.get(this.key(realm, proxy));
    if (!st) return undefined;
    return this.answer(st, request, proxy, false);
  }

  /** Realms with a remembered nonce (WWW and proxy). */
  knownRealms(): string[] {
    return [...new Set([...this.states.values()].map((s) => s.realm))];
  }

  /** Forgets the nonce of one realm (both roles), or all of them. */
  forget(realm?: string): void {
    if (realm === undefined) this.states.clear();
    else for (const [k, s] of this.states) if (s.realm === realm) this.states.delete(k);
  }

  private answer(st: NonceState, request: DigestRequest, proxy: boolean, stale: boolean): DigestAnswer {
    st.nc += 1;
    st.answered = true;
    const nc = st.nc.toString(16).padStart(8, '0');
    const { username, password } = st.credentials;
    const response = computeDigestResponse({
      algorithm: st.info.name,
      username,
      realm: st.realm,
      password,
      nonce: st.nonce,
      cnonce: st.cnonce,
      nc,
      qop: st.qop,
      method: request.method,
      uri: request.uri,
      body: request.body,
    });
    const params: Record<string, string> = {
      username: st.userhash ? h(st.info, `${username}:${st.realm}`) : username,
      realm: st.realm,
      nonce: st.nonce,
      uri: request.uri,
      response,
    };
    // Echo algorithm only when the server named one, for RFC 2069-era servers.
    if (st.algorithmToken !== undefined) params['algorithm'] = st.info.name;
    if (st.qop !== '' || st.info.sess) params['cnonce'] = st.cnonce;
    if (st.opaque !== undefined) params['opaque'] = st.opaque;
    if (st.qop !== '') {
      params['qop'] = st.qop;
      params['nc'] = nc;
    }
    if (st.userhash) params['userhash'] = 'true';
    return {
      ok: true,
      headerName: proxy ? 'Proxy-Authorization' : 'Authorization',
      header: { scheme: 'Digest', params },
      realm: st.realm,
      username,
      algorithm: st.info.name,
      stale,
    };
  }
}

// ------------------------------------------------------------------------------------------------
// Server
// ------------------------------------------------------------------------------------------------

// Per-process key for nonce HMACs: nonces from an earlier run are simply treated as unknown.
const PROCESS_NONCE_SECRET = randomBytes(32);
const NONCE_TS_BYTES = 8;
const NONCE_RAND_BYTES = 8;
const NONCE_MAC_BYTES = 16;

/** Options of {@link createChallenge}. */
export interface ChallengeOptions {
  /** Algorithm to demand; default MD5 (what most SIP devices support). */
  algorithm?: DigestAlgorithm;
  /** qop options to offer; default `auth`; `none` sends an RFC 2069 style challenge. */
  qop?: 'auth' | 'auth-int' | 'auth,auth-int' | 'none';
  /** Opaque value the client must echo. */
  opaque?: string;
  /** Mark the challenge stale (the previous answer was right but its nonce expired). */
  stale?: boolean;
  /** HMAC key for the nonce; default a random per-process key. */
  secret?: Buffer;
  /** Clock in ms, for tests. */
  now?: number;
}

function nonceMac(secret: Buffer, head: Buffer): Buffer {
  return createHmac('sha256', secret).update(head).digest().subarray(0, NONCE_MAC_BYTES);
}

/** A fresh self-validating nonce: base64url(timestamp ‖ random ‖ HMAC). */
export function createNonce(options: { secret?: Buffer; now?: number } = {}): string {
  const head = Buffer.alloc(NONCE_TS_BYTES + NONCE_RAND_BYTES);
  head.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(options.now ?? Date.now()))), 0);
  randomBytes(NONCE_RAND_BYTES).copy(head, NONCE_TS_BYTES);
  return Buffer.concat([head, nonceMac(options.secret ?? PROCESS_NONCE_SECRET, head)]).toString('base64url');
}

/**
 * Age in milliseconds of a nonce made by {@link createNonce} with the same secret, or undefined
 * when the nonce is not ours (wrong length, forged, or from another process).
 */
export function nonceAge(nonce: string, options: { secret?: Buffer; now?: number } = {}): number | undefined {
  if (typeof nonce !== 'string' || !/^[A-Za-z0-9_-]+$/.test(nonce)) return undefined;
  const raw = Buffer.from(nonce, 'base64url');
  if (raw.length !== NONCE_TS_BYTES + NONCE_RAND_BYTES + NONCE_MAC_BYTES) return undefined;
  const head = raw.subarray(0, NONCE_TS_BYTES + NONCE_RAND_BYTES);
  const mac = raw.subarray(NONCE_TS_BYTES + NONCE_RAND_BYTES);
  if (!timingSafeEqual(mac, nonceMac(options.secret ?? PROCESS_NONCE_SECRET, head))) return undefined;
  const issued = Number(head.readBigUInt64BE(0));
  return Math.max(0, (options.now ?? Date.now()) - issued);
}

/** A WWW-/Proxy-Authenticate Digest challenge for `realm` with a fresh nonce. */
export function createChallenge(realm: string, options: ChallengeOptions = {}): AuthHeader {
  const params: Record<string, string> = {
    realm,
    nonce: createNonce({ secret: options.secret, now: options.now }),
  };
  if (options.opaque !== undefined) params['opaque'] = options.opaque;
  if (options.stale) params['stale'] = 'true';
  params['algorithm'] = options.algorithm ?? 'MD5';
  const qop = options.qop ?? 'auth';
  if (qop !== 'none') params['qop'] = qop;
  return { scheme: 'Digest', params };
}

/** The secret to verify with: a password, or the stored HA1 of the user. */
export type DigestSecret = string | { ha1: string };

/** Options of {@link checkDigest}. */
export interface VerifyOptions {
  /** Request body, for qop=auth-int. */
  body?: string | Buffer;
  /**
   * Reject nonces not made by {@link createNonce} with this secret, and report `stale` for
   * ones older than `maxNonceAgeMs`. Default: nonces are not checked.
   */
  maxNonceAgeMs?: number;
  /** Nonce HMAC key (same as given to createChallenge). */
  nonceSecret?: Buffer;
  /** Require the `uri` parameter to equal this Request-URI text. */
  expectedUri?: string;
  /** Require the `username` parameter to equal this. */
  expectedUsername?: string;
  /** Clock in ms, for tests. */
  now?: number;
}

/** Outcome of {@link checkDigest}: `stale` means right answer, expired nonce (challenge with stale=true). */
export interface DigestCheck {
  /** The credentials are valid and the nonce acceptable. */
  ok: boolean;
  /** The digest was right but the nonce expired: re-challenge with stale=true. */
  stale: boolean;
  /** Short reason when not ok. */
  reason?: string;
}

function constantTimeHexEqual(a: string, b: string): boolean {
  const x = Buffer.from(a.toLowerCase(), 'utf8');
  const y = Buffer.from(b.toLowerCase(), 'utf8');
  if (x.length !== y.length) {
    // Compare anyway so the time taken does not reveal where the mismatch is.
    timingSafeEqual(y, y);
    return false;
  }
  return timingSafeEqual(x, y);
}

/**
 * Checks an Authorization / Proxy-Authorization answer. Never throws. Nonce-count replay
 * tracking is left to the caller (it needs per-nonce state).
 */
export function checkDigest(
  authorization: AuthHeader,
  method: string,
  secret: DigestSecret,
  expectedRealm: string,
  options: VerifyOptions = {},
): DigestCheck {
  try {
    if (!authorization || !isDigest(authorization)) return { ok: false, stale: false, reason: 'not digest' };
    const p = authorization.params;
    const { username, realm, nonce, uri, response } = p;
    if (username === undefined || realm === undefined || nonce === undefined || uri === undefined || response === undefined) {
      return { ok: false, stale: false, reason: 'missing parameter' };
    }
    if (realm !== expectedRealm) return { ok: false, stale: false, reason: 'wrong realm' };
    if (options.expectedUri !== undefined && uri !== options.expectedUri) return { ok: false, stale: false, reason: 'wrong uri' };
    if (options.expectedUsername !== undefined && username !== options.expectedUsername) {
      return { ok: false, stale: false, reason: 'wrong username' };
    }
    const info = algorithmInfo(p['algorithm']);
    if (!info) return { ok: false, stale: false, reason: 'unsupported algorithm' };
    const qop = (p['qop'] ?? '').trim().toLowerCase();
    if (qop !== '' && qop !== 'auth' && qop !== 'auth-int') return { ok: false, stale: false, reason: 'unsupported qop' };
    if ((qop !== '' || info.sess) && p['cnonce'] === undefined) return { ok: false, stale: false, reason: 'missing cnonce' };
    if (qop !== '' && !/^[0-9a-fA-F]{8}$/.test(p['nc'] ?? '')) return { ok: false, stale: false, reason: 'bad nc' };

    const expected = computeDigestResponse({
      algorithm: info.name,
      username,
      realm,
      ...(typeof secret === 'string' ? { password: secret } : { ha1: secret.ha1 }),
      nonce,
      cnonce: p['cnonce'],
      nc: p['nc'],
      qop,
      method,
      uri,
      body: options.body,
    });
    if (!constantTimeHexEqual(response, expected)) return { ok: false, stale: false, reason: 'wrong response' };

    if (options.maxNonceAgeMs !== undefined) {
      const age = nonceAge(nonce, { secret: options.nonceSecret, now: options.now });
      if (age === undefined) return { ok: false, stale: false, reason: 'unknown nonce' };
      if (age > options.maxNonceAgeMs) return { ok: false, stale: true, reason: 'stale nonce' };
    }
    return { ok: true, stale: false };
  } catch {
    return { ok: false, stale: false, reason: 'error' };
  }
}

/**
 * True when `authorization` is a valid answer for `method` in `expectedRealm` with the given
 * password or HA1 (compared in constant time). See {@link checkDigest} for the stale case.
 */
export function verifyDigest(
  authorization: AuthHeader,
  method: string,
  secret: DigestSecret,
  expectedRealm: string,
  options: VerifyOptions = {},
): boolean {
  return checkDigest(authorization, method, secret, expectedRealm, options).ok;
}
