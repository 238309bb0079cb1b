/**
 * A usage context (lines/context.ts) for unit tests of the usages without an engine: every
 * service has a plain default (us at 127.0.0.1:5060 over UDP, no proxy, no domain, notifications
 * dropped), and a test overrides what it observes or steers: its notification recorder, its
 * stack, router and lines, its client path.
 * @module
 */
import { isIP } from 'node:net';
import type { Clock } from '../../sip/clock.js';
import type { SipStack } from '../../sip/stack.js';
import { CapabilityRegistry } from '../../sip/capabilities.js';
import { DialogRouter } from '../../sip/dialogRouter.js';
import type { UacServices } from '../../sip/uac.js';
import { DnsLocator, queryOfUri, type AddressRecord } from '../../sip/dnsLocator.js';
import type { UsageContext } from '../../lines/context.js';
import { PhoneLine } from '../../lines/phoneLine.js';
import { TelephonyReturnValue as T } from '../../engine/returnCodes.js';

/** What a test gives: the clock, and any member of the context it wants its own. */
export interface FakeContextOptions extends Partial<Omit<UsageContext, 'clock'>> {
  /** The test's clock (a VirtualClock). */
  clock: Clock;
  /** The client path every `uacFor` key prefix gets (default: none; sending throws). */
  uac?: UacServices;
}

/** A stack stand-in for tests that never reach the stack: any use throws, naming the gap. */
function missingStack(): SipStack {
  return new Proxy({} as SipStack, {
    get: (_target, name) => {
      throw new Error(`fake context: no stack given (used ${String(name)})`);
    },
  });
}

/** Builds a context of defaults with the test's overrides. */
export function fakeContext(options: FakeContextOptions): UsageContext {
  const { clock, uac, ...overrides } = options;
  const runStack = overrides.runStack ?? missingStack();
  const capabilities = overrides.capabilities ?? new CapabilityRegistry();
  const router = overrides.router ?? new DialogRouter({ createResponse: (req, status, reason, opts) => runStack.createResponse(req, status, reason, opts), capabilities });
  const lines = overrides.lines ?? ((): readonly PhoneLine[] => []);
  const user = overrides.user ?? ((): string => 'bob');
  const defaults: UsageContext = {
    stack: () => runStack,
    runStack,
    clock: () => clock,
    capabilities,
    router,
    uacFor: () => {
      if (!uac) throw new Error('fake context: no client path given');
      return uac;
    },
    transport: () => 'UDP',
    resolve: (host) => Promise.resolve(isIP(host) ? host : undefined),
    // No DNS in unit tests: the real locator, its A questions answered by the context's `resolve`.
    locate: (uri) => {
      const resolve = overrides.resolve ?? defaults.resolve;
      const none = (): Promise<never> => Promise.reject(new Error('no DNS in unit tests'));
      const a = async (name: string): Promise<AddressRecord[]> => {
        const ip = await resolve(name);
        return ip ? [{ address: ip, ttl: 60 }] : [];
      };
      const transport = overrides.transport ?? defaults.transport;
      const locator = new DnsLocator({ backend: { resolveNaptr: none, resolveSrv: none, resolve4: a, resolve6: none }, preferred: transport });
      return locator.locate(queryOfUri(uri));
    },
    userAgent: () => 'LineScape unit test',
    user,
    displayName: () => '',
    userFor: (line) => line.registrationName ?? user(),
    contactUri: (u) => `sip:${u}@127.0.0.1:5060`,
    advertisedAddress: () => ({ host: '127.0.0.1', port: 5060, protocol: 'UDP' }),
    domain: () => undefined,
    proxy: () => undefined,
    outboundProxy: () => undefined,
    lines,
    lineCall: (phoneLine) => {
      const line = typeof phoneLine === 'number' ? lines()[phoneLine] : undefined;
      if (!(line instanceof PhoneLine)) return T.SipBadPhoneLine;
      return line.call && !line.call.isEnded ? line.call : T.SipNoCallActive;
    },
    notify: () => undefined,
    notifyGlobal: () => undefined,
    immediate: (_line, _event, data) => data,
  };
  return { ...defaults, ...overrides };
}
