/**
 * Addresses as applications give them: resolving the names they pass (LanScape's "UNC network
 * name") to addresses, validating ports and SIP user parts, writing host:port into URIs, and the
 * public shape of a network address. Helpers of the SIP floor, used by transfer on the
 * `lines/` floor and by the facade; `engine/hosts.ts` and `engine/types.ts` re-export them under
 * their old paths.
 * @module
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** A network address with its transport protocol. */
export interface TransportAddress {
  /** `UDP` or `TCP`. */
  protocol: string;
  /** IP address. */
  host: string;
  /** Port. */
  port: number;
}

/** Resolves a host name or IP literal to an IP address; undefined when it cannot be resolved. */
export async function resolveHost(host: string): Promise<string | undefined> {
  if (typeof host !== 'string' || host.length === 0 || host.length > 255) return undefined;
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(bare)) return bare;
  const lower = bare.toLowerCase().replace(/\.$/, '');
  // RFC 6761 §6.3/§6.4: resolvers answer these special names themselves, without asking DNS.
  if (lower === 'localhost' || lower.endsWith('.localhost')) return '127.0.0.1';
  if (lower === 'invalid' || lower.endsWith('.invalid')) return undefined;
  // Only plausible DNS names are looked up: anything else is a bad name, not a DNS question.
  if (!/^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$/.test(bare)) return undefined;
  try {
    const r = await lookup(bare, { family: 0 });
    return r.address;
  } catch {
    return undefined;
  }
}

/** True for an integer port 1..65535. */
export function isPort(port: unknown): port is number {
  return typeof port === 'number' && Number.isInteger(port) && port > 0 && port < 65536;
}

/** Formats host:port for URIs, bracketing IPv6. */
export function hostPort(host: string, port?: number): string {
  const h = isIP(host) === 6 ? `[${host}]` : host;
  return port ? `${h}:${port}` : h;
}

/** A user part is safe to put in a SIP URI unescaped (RFC 3261 `user` unreserved and marks). */
export function isSipUser(name: unknown): name is string {
  return typeof name === 'string' && /^[A-Za-z0-9\-_.!~*'()&=+$,;?/%]{1,128}$/.test(name);
}
