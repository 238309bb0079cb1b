/**
 * Test helpers around a VoipMediaEngine: starting one on a free port, recording its
 * notifications, and waiting for a given event.
 * @module
 */
import type { ExecutionContext } from 'ava';
import {
  VoipMediaEngine,
  TelephonyReturnValue as T,
  type Notification,
  type NotificationEvent,
  type NotificationOf,
  type StartSipTelephonyParams,
  type EngineOptions,
} from '../../index.js';

/** An engine plus the notifications it raised, in order. */
export interface EngineUnderTest {
  /** The engine. */
  engine: VoipMediaEngine;
  /** Every notification so far. */
  seen: Notification[];
  /** Its SIP port. */
  port: number;
  /** Resolves with the first notification (already seen or future) matching. */
  waitFor<E extends NotificationEvent>(event: E, match?: (n: NotificationOf<E>) => boolean, timeoutMs?: number): Promise<NotificationOf<E>>;
  /** Resolves once `count` matching notifications have been seen in total. */
  waitForCount<E extends NotificationEvent>(event: E, count: number, match?: (n: NotificationOf<E>) => boolean, timeoutMs?: number): Promise<NotificationOf<E>[]>;
  /** Notifications of one event. */
  of<E extends NotificationEvent>(event: E): NotificationOf<E>[];
}

/** The environment variable that runs every test engine with media workers (the call-test matrix). */
export const TEST_MEDIA_WORKERS_ENV = 'LINESCAPE_TEST_MEDIA_WORKERS';

/**
 * `{ mediaWorkers: N }` when {@link TEST_MEDIA_WORKERS_ENV} is set to N: the call tests run
 * unchanged with their media in N workers (a test's own `mediaWorkers` wins). Unset, the test
 * engines run their media on the main thread (`mediaWorkers: 0`), not the product's default of
 * one floor per spare core: a file starts dozens of engines, and the main suite judges the
 * main-thread media; the CI's worker matrix judges the same call tests on floors.
 */
export function testMediaWorkers(): { mediaWorkers: number } {
  const v = process.env[TEST_MEDIA_WORKERS_ENV];
  return { mediaWorkers: v === undefined || v === '' ? 0 : Number(v) };
}

/** The environment variable that runs every test engine's RTP on one transport (the native matrix). */
export const TEST_RTP_TRANSPORT_ENV = 'LINESCAPE_TEST_RTP_TRANSPORT';

/**
 * `{ rtpTransport: X }` when {@link TEST_RTP_TRANSPORT_ENV} is `dgram` or `native`: the call
 * tests run unchanged on that RTP transport (a test's own `rtpTransport` wins); otherwise
 * nothing, and the engines use the product's default (native, where it runs).
 */
export function testRtpTransport(): { rtpTransport?: 'native' | 'dgram' } {
  const v = process.env[TEST_RTP_TRANSPORT_ENV];
  return v === 'native' || v === 'dgram' ? { rtpTransport: v } : {};
}

/**
 * Starts an engine on 127.0.0.1 and a free port; stopped in teardown. Its registrar role binds
 * without a password (`registrarRequireAuthentication: false`) unless the test says otherwise:
 * the peer tests register test names without credentials; test/security.test.ts and
 * test/challenge-auth.test.ts test the authenticated default. Nor does its overload guard watch
 * the event loop (`maxEventLoopLagMs: 0`) unless the test says otherwise: the loop is the test
 * process's, shared by every engine of the file, and on a loaded CI machine its lag (320 ms in
 * one worker-matrix run) made a desk answer a call test's four INVITEs 503; the guard's own
 * tests (overload, overload-queue) set the limit they judge.
 */
export async function startEngine(
  t: ExecutionContext,
  params: StartSipTelephonyParams = {},
  options: EngineOptions = {},
): Promise<EngineUnderTest> {
  const engine = new VoipMediaEngine(options);
  const seen: Notification[] = [];
  engine.on('notification', (n: Notification) => seen.push(n));
  const rc = await engine.startSipTelephony({ ipAddressOfThisHost: '127.0.0.1', sipPort: 0, registrarRequireAuthentication: false, maxEventLoopLagMs: 0, ...testMediaWorkers(), ...testRtpTransport(), ...params });
  if (rc !== T.SipSuccess) throw new Error(`startSipTelephony: ${T[rc]}`);
  t.teardown(() => engine.stopSipTelephony());
  const of = <E extends NotificationEvent>(event: E): NotificationOf<E>[] => seen.filter((n): n is NotificationOf<E> => n.event === event);
  const waitForCount = <E extends NotificationEvent>(event: E, count: number, match: (n: NotificationOf<E>) => boolean = () => true, timeoutMs = 15000) =>
    new Promise<NotificationOf<E>[]>((resolve, reject) => {
      const hits = () => of(event).filter((n) => match(n));
      const check = (): boolean => {
        const h = hits();
        if (h.length >= count) {
          clearTimeout(timer);
          engine.off('notification', check);
          resolve(h);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        engine.off('notification', check);
        reject(new Error(`timed out waiting for ${count} x ${T[event]}; saw: ${seen.map((n) => T[n.event]).join(', ')}`));
      }, timeoutMs);
      if (!check()) engine.on('notification', check);
    });
  return {
    engine,
    seen,
    port: engine.getSipPort(),
    waitForCount,
    waitFor: async (event, match, timeoutMs) => (await waitForCount(event, 1, match, timeoutMs))[0]!,
    of,
  };
}

/** Resolves after `ms` milliseconds of real time. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
