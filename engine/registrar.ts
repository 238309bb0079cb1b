/**
 * The engine's registrar role: REGISTER requests sent to the engine are offered to the
 * application (immediate `SipRegisterReceived`) and, when accepted, kept as bindings with
 * their expiry (RFC 3261 §10.3).
 * @module
 */
import type { Clock } from '../sip/clock.js';
import { parseNameAddr, parseUri } from '../sip/grammar.js';
import type { SipRequest } from '../sip/message.js';
import type { RegistrarBinding } from './types.js';
import type { Capability } from '../sip/capabilities.js';

/** Outcome of processing a REGISTER. */
export type RegisterDecision =
  | { status: 200; contacts: Array<{ uri: string; expires: number }> }
  | { status: number; reason?: string; headers?: Array<[string, string]> };

/** Parsed content of a REGISTER the application is asked about. */
export interface ParsedRegister {
  /** To-URI user. */
  user: string;
  /** To-URI as text. */
  aor: string;
  /** Contacts with their requested expiry. */
  contacts: Array<{ uri: string; expires: number }>;
  /** `Contact: *` with Expires 0. */
  removeAll: boolean;
}

interface StoredBinding {
  contact: string;
  expiresAt: number;
  callId: string;
  cseq: number;
  source: { protocol: string; host: string; port: number };
}

/** What the registrar role implements. */
export const REGISTRAR_CAPABILITY: Capability = { methods: ['REGISTER'] };

/** Bindings by address-of-record user, with expiry on the injected clock. */
export class Registrar {
  private readonly bindings = new Map<string, StoredBinding[]>();

  /**
   * @param clock time source for expiry
   * @param defaultExpires expiry when the REGISTER states none
   * @param maxExpires the longest expiry granted
   * @param minExpires shorter requests get 423 Interval Too Brief
   */
  constructor(
    private readonly clock: Clock,
    private readonly defaultExpires = 3600,
    private readonly maxExpires = 7200,
    private readonly minExpires = 0,
  ) {}

  /** Reads a REGISTER; returns a SIP error status when it is malformed. */
  parse(req: SipRequest): ParsedRegister | { status: number; reason: string } {
    const to = req.headers.get('To');
    if (!to) return { status: 400, reason: 'Missing To' };
    let user: string;
    let aor: string;
    try {
      const na = parseNameAddr(to);
      user = na.uri.user ?? '';
      aor = `${na.uri.scheme}:${user ? `${user}@` : ''}${na.uri.host}`;
    } catch {
      return { status: 400, reason: 'Bad To header' };
    }
    if (!user) return { status: 404, reason: 'Not Found' };
    const expiresHeader = req.headers.get('Expires');
    const headerExpires = expiresHeader !== undefined ? Number.parseInt(expiresHeader, 10) : Number.NaN;
    const contactValues = req.headers.getAll('Contact');
    if (contactValues.length === 1 && contactValues[0]!.trim() === '*') {
      if (headerExpires !== 0) return { status: 400, reason: 'Wildcard Contact needs Expires 0' };
      return { user, aor, contacts: [], removeAll: true };
    }
    const contacts: Array<{ uri: string; expires: number }> = [];
    for (const value of contactValues) {
      if (value.trim() === '*') return { status: 400, reason: 'Wildcard Contact among others' };
      try {
        const na = parseNameAddr(value);
        parseUri(uriText(value));
        const p = na.params['expires'];
        let expires = p !== undefined && p !== null ? Number.parseInt(p, 10) : headerExpires;
        if (!Number.isFinite(expires) || expires < 0) expires = this.defaultExpires;
        contacts.push({ uri: uriText(value), expires: Math.min(expires, this.maxExpires) });
      } catch {
        return { status: 400, reason: 'Bad Contact header' };
      }
    }
    return { user, aor, contacts, removeAll: false };
  }

  /** Applies an accepted REGISTER (RFC 3261 §10.3 steps 6-8) and returns the answer. */
  apply(req: SipRequest, parsed: ParsedRegister, source: StoredBinding['source']): RegisterDecision {
    const callId = req.headers.get('Call-ID') ?? '';
    const cseq = Number.parseInt(req.headers.get('CSeq') ?? '0', 10);
    this.expire(parsed.user);
    let list = this.bindings.get(parsed.user) ?? [];
    if (parsed.removeAll) {
      list = [];
    } else {
      const tooBrief = parsed.contacts.find((c) => c.expires > 0 && c.expires < this.minExpires);
      if (tooBrief) return { status: 423, reason: 'Interval Too Brief', headers: [['Min-Expires', String(this.minExpires)]] };
      for (const c of parsed.contacts) {
        const i = list.findIndex((b) => b.contact === c.uri);
        if (i >= 0) {
          const old = list[i]!;
          // An older or repeated request of the same Call-ID must not undo a newer one.
          if (old.callId === callId && old.cseq >= cseq) continue;
          list.splice(i, 1);
        }
        if (c.expires > 0) list.push({ contact: c.uri, expiresAt: this.clock.now() + c.expires * 1000, callId, cseq, source });
      }
    }
    if (list.length) this.bindings.set(parsed.user, list);
    else this.bindings.delete(parsed.user);
    return { status: 200, contacts: this.contactsOf(parsed.user) };
  }

  /** Current contacts of a user with seconds left. */
  contactsOf(user: string): Array<{ uri: string; expires: number }> {
    this.expire(user);
    const now = this.clock.now();
    return (this.bindings.get(user) ?? []).map((b) => ({ uri: b.contact, expires: Math.max(0, Math.round((b.expiresAt - now) / 1000)) }));
  }

  /** Every live binding. */
  list(): RegistrarBinding[] {
    const out: RegistrarBinding[] = [];
    const now = this.clock.now();
    for (const user of [...this.bindings.keys()]) {
      this.expire(user);
      for (const b of this.bindings.get(user) ?? []) {
        out.push({ user, contact: b.contact, expiresIn: Math.max(0, Math.round((b.expiresAt - now) / 1000)), source: { ...b.source } });
      }
    }
    return out;
  }

  /** Forgets every binding. */
  clear(): void {
    this.bindings.clear();
  }

  private expire(user: string): void {
    const list = this.bindings.get(user);
    if (!list) return;
    const now = this.clock.now();
    const live = list.filter((b) => b.expiresAt > now);
    if (live.length) this.bindings.set(user, live);
    else this.bindings.delete(user);
  }
}

/** The URI inside a Contact value, without display name, brackets or header parameters. */
function uriText(value: string): string {
  const lt = value.indexOf('<');
  if (lt >= 0) {
    const gt = value.indexOf('>', lt);
    return value.slice(lt + 1, gt < 0 ? undefined : gt).trim();
  }
  const semi = value.indexOf(';');
  return (semi < 0 ? value : value.slice(0, semi)).trim();
}
