/**
 * Finding SIP servers the RFC 3263 way: a SIP or SIPS URI's host becomes an ordered list of
 * transport addresses to try, the first that works winning (the failover is sip/uac.ts).
 *
 * - A numeric IP, or a name with an explicit port: no NAPTR/SRV, only A/AAAA (§4.1, §4.2).
 * - Otherwise NAPTR for the SIP services of the transports we have (`SIP+D2U`, `SIP+D2T`,
 *   `SIPS+D2T`; a `sips:` URI takes only `SIPS+D2T`), ordered by order then preference; each
 *   record's replacement is an SRV name. Without NAPTR: SRV for each transport we have
 *   (`_sips._tcp` alone for `sips:`), the preferred transport first. Without SRV: A/AAAA of the
 *   host on 5060 (5061 for TLS).
 * - SRV records are ordered by priority and, inside one priority, by RFC 2782's weighted random
 *   selection, afresh for every resolution (so weights spread load even from a warm cache).
 * - Every answer is cached: A/AAAA for their own TTL; NAPTR and SRV (node's resolver gives no
 *   TTL for them) and negative answers for {@link DEFAULT_RECORD_TTL_S}; every TTL is bounded
 *   by {@link MAX_TTL_S}, and the cache by {@link MAX_CACHE_ENTRIES}.
 *
 * Transports are names (`UDP`, `TCP`, `TLS`): what the engine can use is a list it passes in,
 * so a transport that appears later is chosen without a change here.
 * @module
 */
import { promises as dnsPromises } from 'node:dns';
import { isIP } from 'node:net';
import { parseUri } from './grammar.js';
import type { Endpoint, TransportProtocol } from './transport.js';

/** Seconds NAPTR and SRV answers, and negative answers, stay cached (node gives no TTL for them). */
export const DEFAULT_RECORD_TTL_S = 30;
/** No answer is kept longer than this, whatever its TTL says. */
export const MAX_TTL_S = 3600;
/** Most names (per record type) kept in the cache; the oldest go first. */
export const MAX_CACHE_ENTRIES = 1024;

/** An SRV record (RFC 2782). */
export interface SrvRecord {
  /** Target host name (`.` = no service here). */
  name: string;
  /** Port. */
  port: number;
  /** Lower is tried first. */
  priority: number;
  /** Relative share inside one priority. */
  weight: number;
}

/** A NAPTR record (RFC 3403). */
export interface NaptrRecord {
  /** Flags (`s`: the replacement is an SRV name). */
  flags: string;
  /** Service (`SIP+D2U`, `SIP+D2T`, `SIPS+D2T` …). */
  service: string;
  /** Regular expression (unused by SIP, RFC 3263 §4.1). */
  regexp: string;
  /** The name to look up next. */
  replacement: string;
  /** Lower first. */
  order: number;
  /** Lower first, among equal orders. */
  preference: number;
}

/** An address with its TTL in seconds. */
export interface AddressRecord {
  /** IPv4 or IPv6 address. */
  address: string;
  /** Seconds it may be cached. */
  ttl: number;
}

/** The DNS questions the locator asks; a rejection means no answer (NXDOMAIN, no data, no server). */
export interface DnsBackend {
  /** NAPTR records of a name. */
  resolveNaptr(name: string): Promise<NaptrRecord[]>;
  /** SRV records of a name. */
  resolveSrv(name: string): Promise<SrvRecord[]>;
  /** A records with TTLs. */
  resolve4(name: string): Promise<AddressRecord[]>;
  /** AAAA records with TTLs. */
  resolve6(name: string): Promise<AddressRecord[]>;
  /** The host's own resolver (hosts file, then DNS) for A/AAAA, when no DNS servers were given. */
  lookup?(name: string): Promise<string>;
}

/**
 * The backend on node's resolver: the given servers (`host` or `host:port`, IPv6 as
 * `[addr]:port`), else the system's — and then A/AAAA fall back to the system's own lookup, so
 * names in the hosts file keep working.
 */
export function nodeDnsBackend(servers?: readonly string[]): DnsBackend {
  // Short time-outs: a dead DNS server must not hold a call attempt for the c-ares default 20 s.
  const r = new dnsPromises.Resolver({ timeout: 1500, tries: 2 });
  const own = servers !== undefined && servers.length > 0;
  if (own) r.setServers([...servers]);
  const backend: DnsBackend = {
    resolveNaptr: (n) => r.resolveNaptr(n),
    resolveSrv: (n) => r.resolveSrv(n),
    resolve4: (n) => r.resolve4(n, { ttl: true }),
    resolve6: (n) => r.resolve6(n, { ttl: true }),
  };
  if (!own) backend.lookup = async (n) => (await dnsPromises.lookup(n, { family: 0 })).address;
  return backend;
}

/** What to locate: the host part of a SIP URI and what the URI says beside it. */
export interface LocateQuery {
  /** Host name or IP literal (IPv6 with or without brackets). */
  host: string;
  /** Explicit port of the URI, when it has one (then no NAPTR/SRV). */
  port?: number | undefined;
  /** The URI's `transport` parameter, when it has one (then no NAPTR). */
  transport?: string | undefined;
  /** A `sips:` URI: TLS only. */
  secure?: boolean | undefined;
}

/**
 * What a SIP or SIPS URI asks to locate (RFC 3263 §4: `maddr` before the host; its port,
 * transport parameter and scheme). Throws on text that is no URI.
 */
export function queryOfUri(uriText: string): LocateQuery {
  const uri = parseUri(uriText);
  return { host: uri.params['maddr'] ?? uri.host, port: uri.port, transport: uri.params['transport'] ?? undefined, secure: uri.scheme === 'sips' };
}

/** One target: where to send, plus the name it came from (TLS checks the certificate against it). */
export interface LocatedTarget extends Endpoint {
  /** The host name the address belongs to (the SRV target, else the URI host); absent for an IP literal. */
  name?: string;
}

/** Raised (as a rejection) when a name yields no target: its message is the reason given to the application. */
export class DnsLocateError extends Error {
  /** @param host the name that resolved to nothing */
  constructor(readonly host: string) {
    super(`DNS: no records for ${host}`);
    this.name = 'DnsLocateError';
  }
}

/** Settings of a {@link DnsLocator}. */
export interface DnsLocatorOptions {
  /** The DNS questions (default: {@link nodeDnsBackend} on the system's servers). */
  backend?: DnsBackend;
  /** Current time in ms, for the cache (default `performance.now`). */
  now?: () => number;
  /** Uniform [0, 1) numbers for the SRV weights (default `Math.random`). */
  random?: () => number;
  /** The transports the engine can use now (default UDP and TCP). */
  transports?: () => readonly TransportProtocol[];
  /** The transport of a URI that names none and has no NAPTR/SRV (default UDP). */
  preferred?: () => TransportProtocol;
}

/** NAPTR service field of each transport (RFC 3263 §4.1). */
const NAPTR_SERVICE: Readonly<Record<TransportProtocol, string>> = { UDP: 'SIP+D2U', TCP: 'SIP+D2T', TLS: 'SIPS+D2T' };
/** SRV owner prefix of each transport (RFC 3263 §4.1). */
const SRV_PREFIX: Readonly<Record<TransportProtocol, string>> = { UDP: '_sip._udp.', TCP: '_sip._tcp.', TLS: '_sips._tcp.' };
const TRANSPORTS: readonly TransportProtocol[] = ['UDP', 'TCP', 'TLS'];
const DEFAULT_TRANSPORTS: readonly TransportProtocol[] = ['UDP', 'TCP'];

interface CacheEntry<V> {
  expires: number;
  value: V;
}

/** A plausible DNS name: anything else is a bad name, not a DNS question. */
const DNS_NAME = /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$/;

/** Turns SIP URI hosts into ordered transport addresses (RFC 3263), with a TTL cache. */
export class DnsLocator {
  private readonly backend: DnsBackend;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly transports: () => readonly TransportProtocol[];
  private readonly preferred: () => TransportProtocol;
  private readonly naptrCache = new Map<string, CacheEntry<NaptrRecord[]>>();
  private readonly srvCache = new Map<string, CacheEntry<SrvRecord[]>>();
  private readonly addressCache = new Map<string, CacheEntry<string[]>>();

  /** @param opts backend, clock, randomness and transports */
  constructor(opts: DnsLocatorOptions = {}) {
    this.backend = opts.backend ?? nodeDnsBackend();
    this.now = opts.now ?? (() => performance.now());
    this.random = opts.random ?? Math.random;
    this.transports = opts.transports ?? (() => DEFAULT_TRANSPORTS);
    this.preferred = opts.preferred ?? (() => 'UDP');
  }

  /**
   * The targets of a URI host in the order to try them; rejects with {@link DnsLocateError}
   * when there is none (never with anything else).
   */
  async locate(q: LocateQuery): Promise<LocatedTarget[]> {
    const targets = await this.targetsOf(q);
    // RFC 5922 §4.1: a TLS server proves the domain of the URI, whichever SRV target serves it
    const given = q.host.replace(/^\[|\]$/g, '').replace(/\.$/, '');
    if (isIP(given)) return targets;
    for (const t of targets) if (t.protocol === 'TLS') t.serverName = given;
    return targets;
  }

  private async targetsOf(q: LocateQuery): Promise<LocatedTarget[]> {
    const bare = q.host.startsWith('[') && q.host.endsWith(']') ? q.host.slice(1, -1) : q.host;
    const have = this.transports();
    const named = q.transport ? toTransport(q.transport) : undefined;
    // §4.1: an explicit transport parameter wins, except that sips: means TLS whatever it says
    // (RFC 5630 §3.1.3: sips:…;transport=tcp is TLS over TCP); a numeric host or a port, the default.
    const fixed: TransportProtocol | undefined = q.secure ? 'TLS' : named;
    if (isIP(bare) || q.port !== undefined) {
      const protocol = fixed ?? this.preferred();
      const port = q.port ?? (protocol === 'TLS' ? 5061 : 5060);
      return this.addressTargets(bare, protocol, port);
    }
    const name = bare.toLowerCase().replace(/\.$/, '');
    if (!DNS_NAME.test(name)) throw new DnsLocateError(q.host);
    const usable = fixed ? [fixed] : have.filter((t) => TRANSPORTS.includes(t));
    let srvNames: { transport: TransportProtocol; name: string }[] = [];
    if (!fixed) {
      const naptr = (await this.naptr(name))
        .filter((r) => r.flags.toLowerCase() === 's')
        .map((r) => ({ r, transport: TRANSPORTS.find((t) => NAPTR_SERVICE[t] === r.service.toUpperCase()) }))
        .filter((x): x is { r: NaptrRecord; transport: TransportProtocol } => x.transport !== undefined && usable.includes(x.transport))
        .sort((a, b) => a.r.order - b.r.order || a.r.preference - b.r.preference);
      srvNames = naptr.map((x) => ({ transport: x.transport, name: x.r.replacement.toLowerCase().replace(/\.$/, '') }));
    }
    if (srvNames.length === 0) {
      // No NAPTR: an SRV question per usable transport, the preferred one first (§4.1 leaves the order to us).
      const pref = this.preferred();
      const order = q.secure ? (['TLS'] as TransportProtocol[]) : [...usable].sort((a, b) => (a === pref ? -1 : b === pref ? 1 : 0));
      srvNames = order.map((t) => ({ transport: t, name: SRV_PREFIX[t] + name }));
    }
    const out: LocatedTarget[] = [];
    let anySrv = false;
    for (const s of srvNames) {
      const records = await this.srv(s.name);
      if (records.length) anySrv = true;
      for (const rec of orderSrv(records, this.random)) {
        if (rec.name === '' || rec.name === '.') continue; // "decidedly not available" (RFC 2782)
        out.push(...(await this.addressTargets(rec.name, s.transport, rec.port).catch(() => [])));
      }
    }
    if (out.length) return out;
    if (anySrv) throw new DnsLocateError(q.host);
    // §4.2: no SRV either: the host's own addresses on the default port.
    const protocol = fixed ?? this.preferred();
    return this.addressTargets(name, protocol, protocol === 'TLS' ? 5061 : 5060);
  }

  /** The first address of a host name (A/AAAA only, cached), undefined when there is none. */
  async resolveHost(host: string): Promise<string | undefined> {
    const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
    if (isIP(bare)) return bare;
    const name = bare.toLowerCase().replace(/\.$/, '');
    if (!DNS_NAME.test(name)) return undefined;
    return (await this.addresses(name))[0];
  }

  /** Forgets every cached answer. */
  clear(): void {
    this.naptrCache.clear();
    this.srvCache.clear();
    this.addressCache.clear();
  }

  private async addressTargets(host: string, protocol: TransportProtocol, port: number): Promise<LocatedTarget[]> {
    const bare = host.replace(/\.$/, '');
    const list = isIP(bare) ? [bare] : await this.addresses(bare.toLowerCase());
    if (!list.length) throw new DnsLocateError(host);
    if (isIP(bare)) return [{ protocol, host: bare, port }];
    return list.map((address) => ({ protocol, host: address, port, name: bare }));
  }

  private naptr(name: string): Promise<NaptrRecord[]> {
    return this.cached(this.naptrCache, name, async () => ({ value: await this.backend.resolveNaptr(name), ttl: DEFAULT_RECORD_TTL_S }));
  }

  private srv(name: string): Promise<SrvRecord[]> {
    return this.cached(this.srvCache, name, async () => ({ value: await this.backend.resolveSrv(name), ttl: DEFAULT_RECORD_TTL_S }));
  }

  /** A and AAAA of a name (IPv4 first), cached for the smallest TTL among them. */
  private addresses(name: string): Promise<string[]> {
    // RFC 6761 §6.3: localhost names are answered without asking DNS.
    if (name === 'localhost' || name.endsWith('.localhost')) return Promise.resolve(['127.0.0.1']);
    if (name === 'invalid' || name.endsWith('.invalid')) return Promise.resolve([]);
    return this.cached(this.addressCache, name, async () => {
      const [v4, v6] = await Promise.all([this.backend.resolve4(name).catch(() => []), this.backend.resolve6(name).catch(() => [])]);
      const all = [...v4, ...v6];
      if (!all.length && this.backend.lookup) {
        const one = await this.backend.lookup(name);
        return { value: [one], ttl: DEFAULT_RECORD_TTL_S };
      }
      return { value: all.map((r) => r.address), ttl: all.length ? Math.min(...all.map((r) => r.ttl)) : DEFAULT_RECORD_TTL_S };
    });
  }

  /** A cached answer, or a fresh one (a failed question caches an empty answer). */
  private async cached<V>(cache: Map<string, CacheEntry<V[]>>, key: string, ask: () => Promise<{ value: V[]; ttl: number }>): Promise<V[]> {
    const now = this.now();
    const hit = cache.get(key);
    if (hit && hit.expires > now) return hit.value;
    let value: V[] = [];
    let ttl = DEFAULT_RECORD_TTL_S;
    try {
      ({ value, ttl } = await ask());
    } catch {
      // NXDOMAIN, no data, refused or no server: all the same "nothing here", cached like one.
    }
    cache.delete(key);
    if (cache.size >= MAX_CACHE_ENTRIES) {
      const oldest = cache.keys().next();
      if (!oldest.done) cache.delete(oldest.value);
    }
    cache.set(key, { expires: this.now() + Math.min(Math.max(ttl, 0), MAX_TTL_S) * 1000, value });
    return value;
  }
}

/** The transport a `transport=` parameter names, undefined for one we do not know. */
function toTransport(t: string): TransportProtocol | undefined {
  const u = t.toUpperCase();
  return u === 'UDP' || u === 'TCP' || u === 'TLS' ? u : undefined;
}

/**
 * SRV records in the order to try them: by priority, and inside one priority by RFC 2782's
 * weighted random selection (records of weight 0 come after those with weight, in their
 * priority).
 */
export function orderSrv(records: readonly SrvRecord[], random: () => number): SrvRecord[] {
  const byPriority = new Map<number, SrvRecord[]>();
  for (const r of records) byPriority.set(r.priority, [...(byPriority.get(r.priority) ?? []), r]);
  const out: SrvRecord[] = [];
  for (const p of [...byPriority.keys()].sort((a, b) => a - b)) {
    const left = [...byPriority.get(p)!].sort((a, b) => a.weight - b.weight);
    while (left.length) {
      const total = left.reduce((s, r) => s + r.weight, 0);
      // RFC 2782: a number in [0, total]; the first record whose running sum reaches it.
      const pick = total === 0 ? 0 : random() * total;
      let sum = 0;
      let i = 0;
      for (; i < left.length - 1; i++) {
        sum += left[i]!.weight;
        if (sum >= pick && (left[i]!.weight > 0 || total === 0)) break;
      }
      out.push(left.splice(i, 1)[0]!);
    }
  }
  return out;
}
