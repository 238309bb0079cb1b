/**
 * SDES (RFC 4568): the `a=crypto` attribute that carries SRTP master keys in SDP. Reading one
 * attribute ({@link parseCrypto}), choosing the line to answer from an offer
 * ({@link chooseOfferedCrypto}), making our offer's lines with fresh keys ({@link makeCryptoOffer})
 * and writing a line ({@link formatCrypto}); plus {@link redactSdesKeys} for anything that logs
 * SDP. Pure functions on strings: nothing here throws, whatever the input.
 *
 * What is used and what is refused:
 * - suites {@link SrtpSuite} (names case-insensitive); any other suite makes the line unusable;
 * - one `inline:` key per line, its base64 decoding exactly the suite's key + salt length;
 *   several keys on one line (key rotation by MKI) are refused;
 * - the lifetime (`2^n` or decimal, RFC 4568 §6.1) is read and kept; libsrtp enforces its own
 *   2^48 limit and LineScape does not re-key at the lifetime (calls end long before 2^31);
 * - the MKI (`value:length`, length 1..16 bytes) is used: libsrtp puts it in every packet and
 *   checks it on receipt (not with `AES_CM_128_HMAC_SHA1_32`, see `srtpMkiSupported` in ffi/srtp.ts);
 * - session parameters: `WSH` and `FEC_ORDER` are accepted (our replay window is 128 packets),
 *   `KDR=0` too; any other (`UNENCRYPTED_SRTP`, `UNAUTHENTICATED_SRTP`, key derivation, FEC_KEY,
 *   unknown ones) makes the line unusable rather than silently weakening it.
 * @module
 */
import { randomBytes } from 'node:crypto';

/**
 * The SRTP crypto suites LineScape negotiates, by their SDES names (RFC 4568 §6.2, RFC 7714
 * §14.2). `ffi/srtp.ts` names the same four for libsrtp2 (sip/ imports no other floor).
 */
export type SrtpSuite = 'AES_CM_128_HMAC_SHA1_80' | 'AES_CM_128_HMAC_SHA1_32' | 'AEAD_AES_128_GCM' | 'AEAD_AES_256_GCM';

/** Every {@link SrtpSuite}, in LineScape's default order of preference. */
export const SRTP_SUITES: readonly SrtpSuite[] = ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32', 'AEAD_AES_128_GCM', 'AEAD_AES_256_GCM'];

/** Master key + salt bytes of each suite's inline key (RFC 3711 §8.2, RFC 7714 §12). */
const KEY_SALT_BYTES: Readonly<Record<SrtpSuite, number>> = {
  AES_CM_128_HMAC_SHA1_80: 30,
  AES_CM_128_HMAC_SHA1_32: 30,
  AEAD_AES_128_GCM: 28,
  AEAD_AES_256_GCM: 44,
};

/** Longest MKI used, bytes (RFC 4568 allows 128; real offers use 1 to 4); as `SRTP_MAX_MKI_BYTES` in ffi/srtp.ts. */
const MAX_MKI_BYTES = 16;

/**
 * Whether an MKI can be used with `suite`: not with `AES_CM_128_HMAC_SHA1_32`, whose SRTCP
 * libsrtp 2.x cannot check with an MKI (see `srtpMkiSupported` in ffi/srtp.ts).
 */
function mkiUsable(suite: SrtpSuite): boolean {
  return suite !== 'AES_CM_128_HMAC_SHA1_32';
}

/** A usable `a=crypto` line. */
export interface SdesCrypto {
  /** The line's tag (1..999999999), unique within its media description. */
  tag: number;
  /** The suite, in its canonical (upper-case) spelling. */
  suite: SrtpSuite;
  /** Master key and salt, base64, as it appeared (validated to the suite's length). */
  key: string;
  /** Key lifetime in packets, if the line states one. */
  lifetime?: number;
  /** MKI value and its length in bytes, if the line states one. */
  mki?: { value: number; bytes: number };
}

/** Why a line is unusable. */
export type SdesProblem =
  | 'syntax'
  | 'unknown-suite'
  | 'missing-key'
  | 'bad-key'
  | 'several-keys'
  | 'bad-lifetime'
  | 'bad-mki'
  | 'session-parameter'
  | 'duplicate-tag';

/** A line that cannot be used, with the reason (never the key). */
export interface SdesRefusal {
  /** Always false. */
  ok: false;
  /** The tag, when it could be read. */
  tag?: number;
  /** The reason, as a code. */
  problem: SdesProblem;
  /** The reason, in words (no key material). */
  detail: string;
}

/** {@link parseCrypto}'s result. */
export type SdesParse = { ok: true; crypto: SdesCrypto } | SdesRefusal;

const SUITE_BY_UPPER = new Map<string, SrtpSuite>(SRTP_SUITES.map((s) => [s, s]));
const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;
const DIGITS_RE = /^[0-9]{1,20}$/;

function refuse(problem: SdesProblem, detail: string, tag?: number): SdesRefusal {
  return tag === undefined ? { ok: false, problem, detail } : { ok: false, tag, problem, detail };
}

/** Strict base64 of exactly `bytes` bytes (padding optional), or undefined. */
function decodeKey(text: string, bytes: number): Buffer | undefined {
  if (!BASE64_RE.test(text)) return undefined;
  const unpadded = text.replace(/=+$/, '');
  if (unpadded.length !== Math.ceil((bytes * 4) / 3)) return undefined;
  const buf = Buffer.from(unpadded, 'base64');
  return buf.length === bytes ? buf : undefined;
}

function parseLifetime(text: string): number | undefined {
  if (text.startsWith('2^')) {
    const exp = text.slice(2);
    if (!/^[0-9]{1,2}$/.test(exp)) return undefined;
    const n = Number(exp);
    return n >= 1 && n <= 48 ? 2 ** n : undefined;
  }
  if (!DIGITS_RE.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && Number.isSafeInteger(n) ? n : undefined;
}

function parseMki(text: string): { value: number; bytes: number } | undefined {
  const m = /^([0-9]{1,20}):([0-9]{1,3})$/.exec(text);
  if (!m) return undefined;
  const value = Number(m[1]);
  const bytes = Number(m[2]);
  if (!Number.isSafeInteger(value) || bytes < 1 || bytes > MAX_MKI_BYTES) return undefined;
  // the value must fit its length (RFC 4568 §6.1)
  if (bytes < 7 && value >= 2 ** (8 * bytes)) return undefined;
  return { value, bytes };
}

/** Session parameters we accept (they do not weaken anything, RFC 4568 §6.3). */
function acceptableSessionParam(p: string): boolean {
  const upper = p.toUpperCase();
  if (upper.startsWith('WSH=')) return /^[0-9]{1,10}$/.test(p.slice(4));
  if (upper.startsWith('FEC_ORDER=')) return true;
  if (upper === 'KDR=0') return true;
  return false;
}

/**
 * Reads one crypto attribute: `value` is what follows `a=crypto:` (the line's `a=crypto:` prefix
 * itself is tolerated). Never throws: anything unusable is a {@link SdesRefusal} with the reason.
 */
export function parseCrypto(value: unknown): SdesParse {
  if (typeof value !== 'string') return refuse('syntax', 'not a string');
  let v = value.trim();
  if (/^a=crypto:/i.test(v)) v = v.slice(9);
  else if (/^crypto:/i.test(v)) v = v.slice(7);
  const parts = v.split(/[ \t]+/);
  const [tagText = '', suiteText = '', keyParams = '', ...sessionParams] = parts;
  if (!/^[0-9]{1,9}$/.test(tagText)) return refuse('syntax', 'the tag is not 1 to 9 digits');
  const tag = Number(tagText);
  if (suiteText === '') return refuse('syntax', 'no crypto suite', tag);
  const suite = SUITE_BY_UPPER.get(suiteText.toUpperCase());
  if (suite === undefined) return refuse('unknown-suite', `unknown crypto suite ${suiteText.slice(0, 40)}`, tag);
  if (keyParams === '') return refuse('missing-key', 'no key parameters', tag);
  if (keyParams.includes(';')) return refuse('several-keys', 'several master keys on one line are not supported', tag);
  if (!/^inline:/i.test(keyParams)) return refuse('missing-key', 'the key method is not inline', tag);
  const [keyText = '', ...extras] = keyParams.slice(7).split('|');
  if (keyText === '') return refuse('missing-key', 'empty inline key', tag);
  const keyBytes = KEY_SALT_BYTES[suite];
  if (decodeKey(keyText, keyBytes) === undefined) return refuse('bad-key', `the key is not ${keyBytes} bytes of base64 for ${suite}`, tag);
  const crypto: SdesCrypto = { tag, suite, key: keyText };
  if (extras.length > 2) return refuse('syntax', 'too many | fields in the key', tag);
  for (const extra of extras) {
    if (extra.includes(':')) {
      if (crypto.mki !== undefined) return refuse('bad-mki', 'two MKI fields', tag);
      const mki = parseMki(extra);
      if (mki === undefined) return refuse('bad-mki', `MKI ${extra.slice(0, 30)} is not value:length with a length of 1..${MAX_MKI_BYTES}`, tag);
      if (!mkiUsable(suite)) return refuse('bad-mki', `an MKI cannot be used with ${suite}`, tag);
      crypto.mki = mki;
    } else {
      if (crypto.lifetime !== undefined || crypto.mki !== undefined) return refuse('bad-lifetime', 'the lifetime must come once, before the MKI', tag);
      const lifetime = parseLifetime(extra);
      if (lifetime === undefined) return refuse('bad-lifetime', `lifetime ${extra.slice(0, 30)} is not 2^n or a number`, tag);
      crypto.lifetime = lifetime;
    }
  }
  for (const p of sessionParams) {
    if (p !== '' && !acceptableSessionParam(p)) return refuse('session-parameter', `session parameter ${p.slice(0, 30)} is not supported`, tag);
  }
  return { ok: true, crypto };
}

/** The line chosen from an offer, or why none could be. */
export type SdesChoice = { ok: true; crypto: SdesCrypto } | { ok: false; detail: string };

/**
 * The crypto line to answer an offer with: the first usable line in the offer's order (the
 * offerer lists its preference first, RFC 4568 §7.1.1) whose suite is in `suites`. Lines sharing
 * a tag are all skipped (an answer could not say which it accepts). `values` are the offer's
 * `a=crypto` values for the chosen media description.
 */
export function chooseOfferedCrypto(values: readonly unknown[], suites: readonly SrtpSuite[]): SdesChoice {
  const parsed = values.map(parseCrypto);
  const tagCount = new Map<number, number>();
  for (const p of parsed) {
    const tag = p.ok ? p.crypto.tag : p.tag;
    if (tag !== undefined) tagCount.set(tag, (tagCount.get(tag) ?? 0) + 1);
  }
  const reasons: string[] = [];
  for (const p of parsed) {
    if (!p.ok) {
      reasons.push(p.detail);
      continue;
    }
    if ((tagCount.get(p.crypto.tag) ?? 0) > 1) {
      reasons.push(`tag ${p.crypto.tag} is used twice`);
      continue;
    }
    if (!suites.includes(p.crypto.suite)) {
      reasons.push(`${p.crypto.suite} is not enabled here`);
      continue;
    }
    return { ok: true, crypto: p.crypto };
  }
  return { ok: false, detail: values.length === 0 ? 'no crypto attribute' : `no usable crypto attribute (${reasons.join('; ')})` };
}

/** A fresh random master key and salt for `suite`, base64 (node:crypto's CSPRNG). */
export function newSdesKey(suite: SrtpSuite): string {
  return randomBytes(KEY_SALT_BYTES[suite]).toString('base64');
}

/** Our offer: one line per suite in `suites`, tags 1..n, each with a fresh key. */
export function makeCryptoOffer(suites: readonly SrtpSuite[]): SdesCrypto[] {
  return suites.map((suite, i) => ({ tag: i + 1, suite, key: newSdesKey(suite) }));
}

/** The attribute value of `c` (what follows `a=crypto:`), e.g. `1 AES_CM_128_HMAC_SHA1_80 inline:…`. */
export function formatCrypto(c: SdesCrypto): string {
  let key = `inline:${c.key}`;
  if (c.lifetime !== undefined) key += `|${c.lifetime}`;
  if (c.mki !== undefined) key += `|${c.mki.value}:${c.mki.bytes}`;
  return `${c.tag} ${c.suite} ${key}`;
}

/**
 * `text` with every SDES key replaced by `inline:<redacted>` (lifetime and MKI kept), for SIP
 * logs, notifications and errors that carry SDP. Never throws; non-strings come back as ''.
 */
export function redactSdesKeys(text: string): string {
  if (typeof text !== 'string') return '';
  return text.replace(/inline:[^\s|;]*/gi, 'inline:<redacted>');
}

/**
 * How a line uses SRTP: `none` (plain RTP; `a=crypto` in offers is ignored), `optional` (best
 * effort: offers RTP/AVP with `a=crypto` and takes a plain answer; answers SRTP when the offer
 * has a usable key, plain otherwise), `mandatory` (offers RTP/SAVP; refuses anything without a
 * usable key with 488).
 */
export type SrtpPolicy = 'none' | 'optional' | 'mandatory';

/** Whether `v` is an {@link SrtpPolicy}. */
export function isSrtpPolicy(v: unknown): v is SrtpPolicy {
  return v === 'none' || v === 'optional' || v === 'mandatory';
}

/** Our side of SDES for one call: the policy and our key per suite (one line each, tags 1..n). */
export interface LocalSrtp {
  /** `optional` or `mandatory` (`none` means no {@link LocalSrtp} at all). */
  policy: 'optional' | 'mandatory';
  /** Our crypto lines, in our order of preference: offered all, and the source of our key when answering. */
  crypto: SdesCrypto[];
  /**
   * The session is already encrypted: an offer or answer without a usable key is refused even
   * under `optional` (no downgrade to plain RTP mid-call; the offered profile stays as it was).
   */
  required?: boolean;
}

/** The SRTP both ends agreed on for a stream. */
export interface NegotiatedSrtp {
  /** The suite. */
  suite: SrtpSuite;
  /** The tag of the agreed crypto line. */
  tag: number;
  /** Our master key and salt (base64): protects what we send. */
  localKey: string;
  /** The peer's master key and salt (base64): unprotects what we receive. */
  remoteKey: string;
  /** The MKI the peer's packets carry, if its line had one. */
  remoteMki?: { value: number; bytes: number };
  /** The peer key's lifetime in packets, if stated. */
  remoteLifetime?: number;
}
