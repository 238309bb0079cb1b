/**
 * SIP over TLS (RFC 3261 §26.2, RFC 5630): the TLS half of the stream transport. The framing,
 * connection table, reuse and keep-alives are {@link SipTransport}'s, shared with TCP; this
 * module only makes the secure sockets (a listener and outgoing connections, TLS 1.2 and 1.3),
 * reads the certificates (PEM text or file paths), and turns TLS failures into a short reason
 * an application can act on (unknown CA, host name mismatch, handshake time-out ...).
 * @module
 */
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { Endpoint, TransportProtocol } from './transport.js';

/**
 * TLS settings: the engine's `tls` start parameter (and the SIP transport's `tls` option). Every
 * PEM member takes the PEM text itself or the path of a file holding it.
 */
export interface TlsSettings {
  /** Our certificate chain (PEM): presented by the listener, and to servers that ask for one unless {@link clientCertificate} is set. */
  certificate?: string;
  /** The private key of {@link certificate} (PEM). Never logged. */
  privateKey?: string;
  /**
   * CA certificates (PEM, one or several) trusted for the peer's certificate, instead of the
   * system's list. A self-signed test CA is trusted by giving it here.
   */
  ca?: string;
  /**
   * Certificate revocation lists (PEM, one or several `X509 CRL` blocks, or the path of a file
   * holding them): a peer's certificate listed as revoked is refused (`certificate-revoked`), a
   * server's when we connect and a client's at our listener. Once given, every certificate of a
   * peer's chain needs a valid CRL of its issuer (OpenSSL's CRL_CHECK_ALL): one missing, expired
   * or badly signed refuses the peer too (`crl-invalid`). Read once at start; restart the engine
   * to take a newer CRL. Default none: no revocation check.
   */
  crl?: string;
  /**
   * Check the server's certificate when we connect: signed by a trusted CA and issued for the
   * host name (or IP address) we dialled. Default true; false only for tests against peers
   * with throw-away certificates.
   */
  verifyServer?: boolean;
  /** Ask clients connecting to our listener for a certificate and refuse those without a valid one (default false). */
  requireClientCertificate?: boolean;
  /** Certificate to present as a client (PEM); default {@link certificate}. */
  clientCertificate?: string;
  /** Private key of {@link clientCertificate} (PEM); default {@link privateKey}. Never logged. */
  clientPrivateKey?: string;
  /** A handshake not done in this many ms fails with `handshake-timeout` (default 10 000). */
  handshakeTimeoutMs?: number;
}

/**
 * Why a TLS connection failed, in words an application can act on:
 * - `unknown-ca`: the peer's certificate is not signed by a CA we trust (self-signed, or the
 *   `ca` setting lacks its issuer);
 * - `host-name-mismatch`: the certificate is valid but for another host name;
 * - `certificate-expired` / `certificate-not-yet-valid`;
 * - `certificate-revoked`: the peer's certificate is on a CRL we were given ({@link TlsSettings.crl});
 * - `crl-invalid`: a CRL was given, but none valid covers a certificate of the peer's chain
 *   (missing for its issuer, expired, badly signed), so it cannot be trusted;
 * - `certificate-rejected`: the peer refused our certificate (or that we had none, or it was
 *   revoked in the peer's eyes);
 * - `handshake-timeout`: no complete handshake in time;
 * - `handshake-failed`: anything else during the handshake (no common version or cipher,
 *   garbage instead of TLS);
 * - `connection-failed`: the TCP connection itself failed (refused, reset).
 */
export type TlsFailureReason =
  | 'unknown-ca'
  | 'host-name-mismatch'
  | 'certificate-expired'
  | 'certificate-not-yet-valid'
  | 'certificate-revoked'
  | 'crl-invalid'
  | 'certificate-rejected'
  | 'handshake-timeout'
  | 'handshake-failed'
  | 'connection-failed';

/** A TLS connection failure, with its {@link TlsFailureReason} and the peer it concerned. */
export class TlsError extends Error {
  /**
   * @param reason why it failed
   * @param peer `host:port` of the peer
   * @param detail the underlying error's code or message (no key material ever reaches it)
   */
  constructor(
    readonly reason: TlsFailureReason,
    readonly peer: string,
    readonly detail: string,
  ) {
    super(`TLS ${reason} (${peer}): ${detail}`);
    this.name = 'TlsError';
  }
}

const UNKNOWN_CA = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
]);

/** OpenSSL's verification codes for a CRL that cannot vouch for a certificate. */
const CRL_INVALID = new Set([
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_GET_CRL_ISSUER',
  'CRL_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_SIGNATURE_FAILURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
]);

/** Sorts a socket error into a {@link TlsFailureReason}; `handshaking` tells a reset mid-handshake from a refused connection. */
export function classifyTlsError(err: unknown, handshaking: boolean): TlsFailureReason {
  if (err instanceof TlsError) return err.reason;
  const rawCode = (err as { code?: unknown } | null)?.code;
  const code = typeof rawCode === 'string' ? rawCode : '';
  const message = err instanceof Error ? err.message : String(err);
  if (UNKNOWN_CA.has(code)) return 'unknown-ca';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return 'host-name-mismatch';
  if (code === 'CERT_HAS_EXPIRED') return 'certificate-expired';
  if (code === 'CERT_NOT_YET_VALID') return 'certificate-not-yet-valid';
  if (code === 'CERT_REVOKED') return 'certificate-revoked';
  if (CRL_INVALID.has(code)) return 'crl-invalid';
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'handshake-timeout';
  // The peer's alert about our certificate: "unknown ca", "bad certificate", "certificate required", "certificate revoked".
  if (/alert (unknown ca|bad certificate|certificate required|certificate unknown|certificate revoked|handshake failure)/i.test(message) && /certificate|unknown ca/i.test(message)) {
    return 'certificate-rejected';
  }
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL') return 'connection-failed';
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || handshaking) return 'handshake-failed';
  return 'connection-failed';
}

/** True for an error raised by the TLS layer itself (an alert, a protocol violation), not by the socket. */
export function isTlsAlert(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_SSL');
}

/**
 * PEM text as given, or the content of the file it names. Throws (with the path, never the
 * content) when the file cannot be read or holds no PEM block.
 */
export function readPem(value: string, what: string): string {
  if (value.includes('-----BEGIN')) return value;
  let text: string;
  try {
    text = fs.readFileSync(value, 'utf8');
  } catch (err) {
    throw new Error(`${what}: cannot read ${value} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
  if (!text.includes('-----BEGIN')) throw new Error(`${what}: ${value} holds no PEM data`);
  return text;
}

/** The certificates read once, ready for the listener and for outgoing connections. */
interface LoadedTls {
  cert?: string;
  key?: string;
  ca?: string;
  crl?: string;
  clientCert?: string;
  clientKey?: string;
}

/** Default handshake time-out (ms). */
export const DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Makes the TLS sockets of one transport: the listener (when a certificate and key are
 * configured) and outgoing connections, verifying the server's certificate against the name
 * dialled unless told not to. Certificates are read once, at construction (so a bad path fails
 * the start, not the first call).
 */
export class TlsConnector {
  private readonly pem: LoadedTls;
  /** Verify server certificates (default true). */
  readonly verifyServer: boolean;
  /** Handshake time-out in ms. */
  readonly handshakeTimeoutMs: number;
  private readonly requireClientCert: boolean;

  /** @param settings certificates and checks; PEM members are read here (throws on a bad path) */
  constructor(settings: TlsSettings) {
    const read = (v: string | undefined, what: string) => (v === undefined ? undefined : readPem(v, what));
    this.pem = {
      cert: read(settings.certificate, 'tls.certificate'),
      key: read(settings.privateKey, 'tls.privateKey'),
      ca: read(settings.ca, 'tls.ca'),
      crl: read(settings.crl, 'tls.crl'),
      clientCert: read(settings.clientCertificate, 'tls.clientCertificate'),
      clientKey: read(settings.clientPrivateKey, 'tls.clientPrivateKey'),
    };
    this.verifyServer = settings.verifyServer ?? true;
    this.requireClientCert = settings.requireClientCertificate ?? false;
    this.handshakeTimeoutMs = settings.handshakeTimeoutMs ?? DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS;
  }

  /** True when a certificate and key are configured, so a listener can be opened. */
  get canListen(): boolean {
    return this.pem.cert !== undefined && this.pem.key !== undefined;
  }

  /** A TLS server (not yet listening); only when {@link canListen}. */
  createServer(): tls.Server {
    return tls.createServer({
      cert: this.pem.cert,
      key: this.pem.key,
      ca: this.pem.ca,
      crl: this.pem.crl,
      minVersion: 'TLSv1.2',
      requestCert: this.requireClientCert,
      rejectUnauthorized: this.requireClientCert,
      handshakeTimeout: this.handshakeTimeoutMs,
    });
  }

  /**
   * Opens a TLS connection to `host:port` (an IP address). The certificate is checked against
   * `serverName` when given (the host name the application dialled, also sent as SNI), else
   * against the IP address.
   */
  connect(host: string, port: number, serverName: string | undefined, localAddress: string | undefined): tls.TLSSocket {
    const bare = serverName?.replace(/^\[|\]$/g, '');
    const name = bare && net.isIP(bare) === 0 ? bare : undefined;
    const cert = this.pem.clientCert ?? this.pem.cert;
    const key = this.pem.clientCert !== undefined ? this.pem.clientKey : this.pem.key;
    // tls.connect hands `localAddress` on to net.connect; its type only leaves it out.
    const options: tls.ConnectionOptions & Pick<net.TcpNetConnectOpts, 'localAddress'> = {
      host,
      port,
      localAddress,
      servername: name,
      ca: this.pem.ca,
      crl: this.pem.crl,
      cert: cert !== undefined && key !== undefined ? cert : undefined,
      key: cert !== undefined && key !== undefined ? key : undefined,
      minVersion: 'TLSv1.2',
      rejectUnauthorized: this.verifyServer,
      // Node checks the name against `servername`, else `host`: name it explicitly so an IP we
      // dialled is matched against the certificate's IP entries.
      checkServerIdentity: (_h, cert) => tls.checkServerIdentity(name ?? host, cert),
    };
    return tls.connect(options);
  }
}

/**
 * The transport a SIP URI asks for (RFC 3261 §19.1.4, §26.2): TLS for a `sips:` URI whatever its
 * `transport` parameter says (RFC 5630 §3.1.3: `sips:…;transport=tcp` is TLS over TCP, and
 * nothing less than TLS may carry it), else its `transport` parameter, else `fallback` (the
 * engine's `sipTransport`).
 */
export function uriTransport(uri: { scheme: string; params: Readonly<Record<string, string | null | undefined>> }, fallback: TransportProtocol): TransportProtocol {
  if (uri.scheme.toLowerCase() === 'sips') return 'TLS';
  const t = uri.params['transport']?.toUpperCase();
  if (t === 'UDP' || t === 'TCP' || t === 'TLS') return t;
  return fallback;
}

/**
 * A `sips:` request (Request-URI or first Route) that would have left over another transport
 * than TLS (a UDP proxy, say): it is not sent (RFC 3261 §26.2.2, RFC 5630 §5.1.1: a `sips:`
 * request goes over TLS on every hop, and a UAC never downgrades it).
 */
export class SipsNeedsTlsError extends Error {
  /**
   * @param protocol the transport the request would have taken
   * @param peer `host:port` of the hop it would have gone to
   */
  constructor(
    readonly protocol: TransportProtocol,
    readonly peer: string,
  ) {
    super(`a sips: request may not go over ${protocol} (${peer})`);
    this.name = 'SipsNeedsTlsError';
  }
}

/** The default SIP port of a transport: 5061 for TLS, 5060 otherwise. */
export function defaultSipPort(protocol: TransportProtocol): number {
  return protocol === 'TLS' ? 5061 : 5060;
}

/**
 * Where a dialled URI goes: its resolved address, and over TLS the name it gave (`name`), which
 * the server's certificate must be issued for. Other transports carry no name.
 */
export function dialledEndpoint(protocol: TransportProtocol, address: string, port: number, name: string): Endpoint {
  return protocol === 'TLS' ? { protocol, host: address, port, serverName: name } : { protocol, host: address, port };
}

/**
 * The endpoint of a configured server (proxy, registrar): its resolved address, and over TLS
 * the name the application gave, which the server's certificate must be issued for.
 */
export function serverEndpoint(protocol: TransportProtocol, server: { host: string; port: number; given: string }): Endpoint {
  return protocol === 'TLS' ? { protocol, host: server.host, port: server.port, serverName: server.given } : { protocol, host: server.host, port: server.port };
}

/**
 * True when a request's Request-URI or top Route is a `sips:` URI: RFC 3261 §8.1.1.8 then asks
 * for a `sips:` Contact (and the dialog stays on TLS both ways).
 */
export function requestIsSips(req: { uri: string; headers: { get(name: string): string | undefined } }): boolean {
  if (/^sips:/i.test(req.uri.trim())) return true;
  const route = req.headers.get('Route');
  return route !== undefined && /^\s*(?:"[^"]*"\s*|[^<,]*)?<\s*sips:/i.test(route);
}
