/**
 * Pure parsers and formatters for the structured SIP header values: URIs, name-addr, Via,
 * CSeq, generic parameters and authentication headers.
 * @module
 */
import { SipParseError } from './message.js';

/** Generic `;name=value` parameters in order. A flag parameter (`;lr`) has value `null`. */
export type SipParams = Record<string, string | null>;

/** A parsed SIP/SIPS/tel URI (RFC 3261 §19.1, RFC 3966). */
export interface SipUri {
  /** `sip`, `sips`, `tel` (lower case). */
  scheme: string;
  /** User part, percent-escapes kept as written. */
  user?: string;
  /** Password part (deprecated but legal). */
  password?: string;
  /** Host: name, IPv4, or IPv6 reference with its brackets (`[::1]`). Empty for tel URIs. */
  host: string;
  /** Port when given. */
  port?: number;
  /** URI parameters (transport, lr, maddr, user, ...). Names lower-cased. */
  params: SipParams;
  /** URI headers (`?subject=x&priority=urgent`), values as written. */
  headers: Record<string, string>;
}

/** A name-addr or addr-spec with header parameters (From, To, Contact, Route, Refer-To ...). */
export interface NameAddr {
  /** Display name without quotes (unescaped), when present. */
  displayName?: string;
  /** The URI. */
  uri: SipUri;
  /** Header parameters after the URI (tag, expires, q ...). Names lower-cased. */
  params: SipParams;
  /** True when the URI was written in angle brackets (a `*` Contact is not a NameAddr). */
  bracketed: boolean;
}

/** One Via value. */
export interface Via {
  /** Protocol name and version, `SIP/2.0`. */
  protocol: string;
  /** Transport upper-cased: UDP, TCP, TLS, SCTP, WS, WSS. */
  transport: string;
  /** Sent-by host (IPv6 with brackets). */
  host: string;
  /** Sent-by port when given. */
  port?: number;
  /** Parameters: branch, received, rport (null when empty), maddr, ttl ... */
  params: SipParams;
}

/** CSeq value. */
export interface CSeq {
  /** Sequence number 0..2^31-1. */
  seq: number;
  /** Method. */
  method: string;
}

/** A WWW-/Proxy-Authenticate or (Proxy-)Authorization value. */
export interface AuthHeader {
  /** Scheme, e.g. `Digest`. */
  scheme: string;
  /** Parameters with quotes removed, names lower-cased (realm, nonce, qop, algorithm, opaque, stale ...). */
  params: Record<string, string>;
}

function notYet(): never {
  throw new SipParseError('not implemented');
}

/** Parses a URI. Throws {@link SipParseError}. */
export function parseUri(text: string): SipUri {
  void text;
  return notYet();
}
/** Formats a URI back to text. */
export function formatUri(uri: SipUri): string {
  void uri;
  return notYet();
}
/** Parses a name-addr or addr-spec with header parameters. Throws {@link SipParseError}. */
export function parseNameAddr(text: string): NameAddr {
  void text;
  return notYet();
}
/** Formats a name-addr (always bracketed). */
export function formatNameAddr(na: NameAddr): string {
  void na;
  return notYet();
}
/** Parses one Via value. Throws {@link SipParseError}. */
export function parseVia(text: string): Via {
  void text;
  return notYet();
}
/** Formats one Via value. */
export function formatVia(via: Via): string {
  void via;
  return notYet();
}
/** Parses a CSeq value. Throws {@link SipParseError}. */
export function parseCSeq(text: string): CSeq {
  void text;
  return notYet();
}
/** Parses an authentication header value. Throws {@link SipParseError}. */
export function parseAuthHeader(text: string): AuthHeader {
  void text;
  return notYet();
}
/** Formats an authentication header value; `quoted` lists the params written in quotes. */
export function formatAuthHeader(h: AuthHeader, unquoted?: ReadonlySet<string>): string {
  void h; void unquoted;
  return notYet();
}
