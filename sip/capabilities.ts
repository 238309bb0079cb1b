/**
 * What this user agent really implements, in one table: each usage (calls, transfer, messaging,
 * subscriptions, the registrar role, ...) registers the methods, option tags, body types and
 * event packages it handles, and every Allow, Supported, Accept and Allow-Events header is
 * built from here. A method nobody registered is never advertised, so a peer is never invited
 * to send a request that would only get 501.
 * @module
 */
import type { SipHeaders } from './message.js';

/** What one usage implements. */
export interface Capability {
  /** Request methods it answers (upper case). */
  methods?: readonly string[];
  /** Option tags it supports (Supported; lower case). */
  optionTags?: readonly string[];
  /** Body types it accepts in requests (Accept). */
  accept?: readonly string[];
  /** Event packages it serves or follows (Allow-Events; lower case). */
  eventPackages?: readonly string[];
}

/** The capability headers this registry can write. */
export type CapabilityHeader = 'Allow' | 'Supported' | 'Accept' | 'Allow-Events';

/**
 * Methods the core knows by name but that no usage implements yet: a request with one of them
 * is answered 405 (Method Not Allowed) with Allow, an unknown method 501 (RFC 3261 §8.2.1).
 */
export const KNOWN_METHODS: ReadonlySet<string> = new Set([
  'INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS', 'REGISTER', 'INFO', 'PRACK', 'UPDATE',
  'SUBSCRIBE', 'NOTIFY', 'REFER', 'MESSAGE', 'PUBLISH',
]);

/** One table of what every usage implements; the only source of capability headers. */
export class CapabilityRegistry {
  private readonly usages = new Map<string, Capability>();
  /**
   * Header values made since the table last changed: every response and request shares one
   * string instead of joining its own (a call keeps its INVITE and 200, so that was per call).
   */
  private readonly values = new Map<CapabilityHeader, string>();

  /**
   * Registers (or replaces) what `usage` implements.
   * @param usage a name for the usage, e.g. `calls`
   * @param capability its methods, option tags, accepted bodies and event packages
   */
  register(usage: string, capability: Capability): this {
    this.usages.set(usage, capability);
    this.values.clear();
    return this;
  }

  /** Removes a usage's entry (its features are no longer offered). */
  unregister(usage: string): void {
    this.usages.delete(usage);
    this.values.clear();
  }

  private collect(pick: (c: Capability) => readonly string[] | undefined, norm: (s: string) => string): string[] {
    const out: string[] = [];
    for (const c of this.usages.values()) {
      for (const v of pick(c) ?? []) {
        const n = norm(v.trim());
        if (n && !out.includes(n)) out.push(n);
      }
    }
    return out;
  }

  /** Methods implemented, in registration order. */
  methods(): string[] {
    return this.collect((c) => c.methods, (s) => s.toUpperCase());
  }

  /** True when some usage implements `method`. */
  implements(method: string): boolean {
    return this.methods().includes(method.toUpperCase());
  }

  /** Option tags supported. */
  optionTags(): string[] {
    return this.collect((c) => c.optionTags, (s) => s.toLowerCase());
  }

  /**
   * The option tags of a Require that no usage supports (RFC 3261 §8.2.2.3: the 420's
   * Unsupported), lower-cased, each once, in the order required; empty when all are supported.
   * @param required the Require values (one tag each, as the parser splits them; commas tolerated)
   */
  unsupportedOf(required: readonly string[]): string[] {
    const supported = this.optionTags();
    const out: string[] = [];
    for (const value of required) {
      for (const raw of value.split(',')) {
        const tag = raw.trim().toLowerCase();
        if (tag && !supported.includes(tag) && !out.includes(tag)) out.push(tag);
      }
    }
    return out;
  }

  /** Body types accepted. */
  acceptedTypes(): string[] {
    return this.collect((c) => c.accept, (s) => s.toLowerCase());
  }

  /** Event packages served or followed. */
  eventPackages(): string[] {
    return this.collect((c) => c.eventPackages, (s) => s.toLowerCase());
  }

  /** The value of one capability header (empty when nothing is registered for it). */
  value(header: CapabilityHeader): string {
    let v = this.values.get(header);
    if (v === undefined) {
      v = this.join(header);
      this.values.set(header, v);
    }
    return v;
  }

  private join(header: CapabilityHeader): string {
    switch (header) {
      case 'Allow':
        return this.methods().join(', ');
      case 'Supported':
        return this.optionTags().join(', ');
      case 'Accept':
        return this.acceptedTypes().join(', ');
      case 'Allow-Events':
        return this.eventPackages().join(', ');
    }
  }

  /** Appends the named capability headers to `headers` (a request or a response); an empty one is left out. */
  addHeaders(headers: SipHeaders, which: readonly CapabilityHeader[]): void {
    for (const name of which) {
      const v = this.value(name);
      if (v) headers.append(name, v);
    }
  }
}
