/**
 * Typed notifications and where faults go. The first part is checked by the compiler: every
 * `@ts-expect-error` line must fail to compile (a wrong data field, an unknown event name ...),
 * so the build breaks if the typing loosens. The rest runs: the notifier's delivery rules, the
 * logger, and the `error` event.
 */
import test from 'ava';
import { EventEmitter } from 'node:events';
import {
  VoipMediaEngine,
  TelephonyReturnValue as T,
  NotifyType,
  type Notification,
  type NotificationOf,
  type NotificationDataMap,
  type StartSipTelephonyParams,
} from '../index.js';
import { Notifier } from '../engine/notifier.js';
import { defaultLogger, isPowerOfTwo } from '../engine/logger.js';
import { startEngine } from './helpers/engine.js';
import { captureLog } from './helpers/log.js';
import { pair } from './helpers/sessionPair.js';

// ---------------------------------------------------------------- compile-time checks

/** Never called: it only has to compile (and its @ts-expect-error lines must not). */
export function typeChecks(engine: VoipMediaEngine): void {
  engine.on('SipIncomingCallStart', (n) => {
    const from: string = n.data.from;
    const line: number = n.phoneLine;
    void [from, line];
    // @ts-expect-error SipIncomingCallStart carries no digit
    void n.data.digit;
  });
  engine.on('SipDtmfDigitEvent', (n) => {
    const method: 'rfc4733' | 'inband' | 'info' = n.data.method;
    void method;
    // @ts-expect-error the digit is a string
    const digit: number = n.data.digit;
    void digit;
  });
  engine.once('SipRegisterSuccess', (n) => {
    const seconds: number = n.data.expires;
    const lines: number[] = n.data.phoneLines;
    void [seconds, lines];
  });
  engine.on('SipOnHook', (n) => {
    const nothing: undefined = n.data;
    void nothing;
  });
  engine.on('SipCallComplete', (n) => void n.data.quality?.mos);
  engine.on('SipIncomingCallAssignPhoneLine', (n) => {
    n.data.phoneLine = 2; // immediate: the handler answers through data
    // @ts-expect-error the status code is a number
    n.data.rejectStatusCode = '486';
  });
  // @ts-expect-error not an event
  engine.on('SipNoSuchEvent', () => undefined);
  // @ts-expect-error SipSuccess is a return code, never a notification
  engine.on('SipSuccess', () => undefined);

  // The notification event: a union discriminated by `event`.
  engine.on('notification', (n) => {
    // @ts-expect-error not narrowed yet: not every notification has a `from`
    void n.data.from;
    switch (n.event) {
      case T.SipRegisterSuccess: {
        const contact: string = n.data.contact;
        void contact;
        break;
      }
      case T.SipRecvMessage: {
        const body: Buffer = n.data.messageData;
        void body;
        // @ts-expect-error narrowed to SipRecvMessage: no expires
        void n.data.expires;
        break;
      }
      default:
        break;
    }
  });

  // A listener of one event does not fit another.
  const onRing = (n: Notification<'SipOkToAnswerCall'>): void => void engine.goOffHook(n.phoneLine);
  engine.on('SipOkToAnswerCall', onRing);
  engine.off('SipOkToAnswerCall', onRing);
  // @ts-expect-error SipRegisterSuccess listeners get SipRegisterSuccess notifications
  engine.on('SipRegisterSuccess', onRing);
  // A listener of every notification fits any event.
  const any = (n: Notification): void => void n.event;
  engine.on('SipOkToAnswerCall', any);

  // NotificationOf maps a code to its notification.
  const waitFor = <E extends T>(_e: E): NotificationOf<E> => undefined as never;
  const refer = waitFor(T.SipReceivedRefer);
  const referId: number = refer.data.referId;
  void referId;

  // The start callback gets the union too; errors are Errors.
  const params: StartSipTelephonyParams = { userNotifyCallbackProc: (n) => void n.notifyType };
  engine.on('error', (err) => void err.stack);
  void params;

  // The map has an entry per raised event, and only for notifications.
  const keys: keyof NotificationDataMap = 'SipReceivedRtpMediaConflict';
  void keys;
  // @ts-expect-error a return code is not in the map
  const notKey: keyof NotificationDataMap = 'SipBadParameter';
  void notKey;
}

// ---------------------------------------------------------------- the notifier

function notifierUnderTest(): { notifier: Notifier; emitter: EventEmitter; errors: { err: unknown; n: Notification }[]; calls: Notification[] } {
  const emitter = new EventEmitter();
  const errors: { err: unknown; n: Notification }[] = [];
  const calls: Notification[] = [];
  const notifier = new Notifier(emitter, (n) => calls.push(n), (err, n) => errors.push({ err, n }));
  return { notifier, emitter, errors, calls };
}

test('a throwing listener hides the notification from no other listener and never reaches the raiser', (t) => {
  const { notifier, emitter, errors, calls } = notifierUnderTest();
  const got: string[] = [];
  emitter.on('notification', () => {
    throw new Error('first');
  });
  emitter.on('notification', () => got.push('second'));
  emitter.on('SipOnHook', () => {
    throw new Error('named');
  });
  emitter.on('SipOnHook', () => got.push('named after'));
  emitter.once('SipOnHook', () => got.push('once'));
  notifier.line(3, T.SipOnHook);
  notifier.line(3, T.SipOnHook);
  t.deepEqual(got, [], 'line notifications wait for the next turn');
  notifier.flush();
  t.deepEqual(got, ['second', 'named after', 'once', 'second', 'named after']);
  t.is(calls.length, 2);
  t.deepEqual(
    errors.map((e) => (e.err as Error).message),
    ['first', 'named', 'first', 'named'],
  );
  t.is(errors[0]!.n.phoneLine, 3);
  t.is(emitter.listenerCount('SipOnHook'), 2, 'the once listener is gone');
});

test('immediate notifications are delivered at once and return the data the handler changed', (t) => {
  const { notifier, emitter } = notifierUnderTest();
  emitter.on('SipRegisterReceived', (n: NotificationOf<T.SipRegisterReceived>) => {
    n.data.acceptRegistration = false;
  });
  const d = notifier.immediate(-1, T.SipRegisterReceived, {
    aor: 'sip:100@127.0.0.1',
    user: '100',
    contacts: [],
    removeAll: false,
    source: { protocol: 'UDP', host: '127.0.0.1', port: 5060 },
    acceptRegistration: true,
    rejectStatusCode: 403,
    authenticated: false,
    requireAuthentication: true,
  });
  t.false(d.acceptRegistration);
});

test('a throwing callback is reported and the events still fire', (t) => {
  const emitter = new EventEmitter();
  const errors: unknown[] = [];
  const notifier = new Notifier(
    emitter,
    () => {
      throw new Error('callback');
    },
    (err) => errors.push(err),
  );
  let seen: Notification | undefined;
  emitter.on('SipWanIpAddressChange', (n: Notification) => (seen = n));
  notifier.global(T.SipWanIpAddressChange, { previousAddress: '10.0.0.1', previousPort: 5060, wanIpAddress: '192.0.2.1', wanPort: 5060 });
  notifier.flush();
  t.is(errors.length, 1);
  t.like(seen, { notifyType: NotifyType.GlobalNotification, phoneLine: -1, event: T.SipWanIpAddressChange, data: { wanIpAddress: '192.0.2.1' } });
});

// ---------------------------------------------------------------- the logger and 'error'

test('the default logger writes warnings and errors only; repeated faults are logged on 1, 2, 4, 8 ...', (t) => {
  t.is(defaultLogger().level, 'warn');
  t.deepEqual(
    [1, 2, 3, 4, 5, 8, 12, 16].map(isPowerOfTwo),
    [true, true, false, true, false, true, false, true],
  );
});

test('a logger that is not a logger is refused; no error listener is installed behind the application', async (t) => {
  const engine = new VoipMediaEngine();
  t.is(engine.listenerCount('error'), 0);
  t.is(await engine.startSipTelephony({ sipPort: 0, logger: {} as never }), T.SipBadParameter);
  t.is(await engine.startSipTelephony({ sipPort: 0, logger: 'stderr' as never }), T.SipBadParameter);
});

test('a handler that throws is logged with its stack, through the logger given at start', async (t) => {
  const log = captureLog();
  const pbx = await startEngine(t, {});
  const desk = await startEngine(t, { logger: log.logger });
  desk.engine.on('SipRegisterSuccess', () => {
    throw new TypeError('handler bug');
  });
  await desk.engine.enableSipRegisterServer('500', false, false, '127.0.0.1', pbx.port, 60, 60, 2000, false);
  await desk.waitFor(T.SipRegisterSuccess);
  await new Promise((r) => setImmediate(r));
  const rec = log.records.find((r) => r.msg.includes('SipRegisterSuccess'));
  t.truthy(rec);
  t.is(rec!.level, 50);
  t.is(rec!.event, 'SipRegisterSuccess');
  t.is(rec!.err?.type, 'TypeError');
  t.regex(rec!.err?.stack ?? '', /handler bug\n\s+at /);
});

test('the constructor logger is used, and the start parameter replaces it', async (t) => {
  const first = captureLog();
  const second = captureLog();
  const pbx = await startEngine(t, {});
  const a = await startEngine(t, {}, { logger: first.logger });
  const b = await startEngine(t, { logger: second.logger }, { logger: first.logger });
  for (const e of [a, b]) {
    e.engine.on('SipRegisterTrying', () => {
      throw new Error(`bug ${e.port}`);
    });
  }
  await a.engine.enableSipRegisterServer('600', false, false, '127.0.0.1', pbx.port, 60, 60, 2000, false);
  await b.engine.enableSipRegisterServer('601', false, false, '127.0.0.1', pbx.port, 60, 60, 2000, false);
  await a.waitFor(T.SipRegisterSuccess);
  await b.waitFor(T.SipRegisterSuccess);
  t.deepEqual(first.records.map((r) => r.err?.message), [`bug ${a.port}`]);
  t.deepEqual(second.records.map((r) => r.err?.message), [`bug ${b.port}`]);
});

test('a media callback that throws is counted, kept, and reported on the 1st, 2nd, 4th ... failure', async (t) => {
  const reported: [string, number][] = [];
  let digits = 0;
  const { a, b } = await pair(t, 'PCMU', {
    b: {
      onDtmf: () => {
        digits++;
        throw new Error(`dtmf handler bug ${digits}`);
      },
      onHandlerError: (err, count) => reported.push([(err as Error).message, count]),
    },
  });
  t.is(a.sendDtmf('12345', 'rfc4733', 60), 'rfc4733');
  const deadline = Date.now() + 8000;
  while (digits < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.is(digits, 5);
  const st = b.stats();
  t.is(st.handlerErrors, 5);
  t.is((st.lastHandlerError as Error).message, 'dtmf handler bug 5');
  t.deepEqual(reported, [
    ['dtmf handler bug 1', 1],
    ['dtmf handler bug 2', 2],
    ['dtmf handler bug 4', 4],
  ]);
});

test('logSipMessages without sipLogFile writes the SIP trace to the application logger', async (t) => {
  const log = captureLog('info');
  const pbx = await startEngine(t, {});
  const desk = await startEngine(t, { logSipMessages: true, logger: log.logger });
  await desk.engine.enableSipRegisterServer('700', false, false, '127.0.0.1', pbx.port, 60, 60, 2000, false);
  await desk.waitFor(T.SipRegisterSuccess);
  const trace = log.records.filter((r) => r.component === 'linescape-sip');
  t.like(trace.find((r) => r.dir === 'send'), { msg: 'SIP sent', proto: 'UDP', remote: `127.0.0.1:${pbx.port}` });
  t.true(trace.some((r) => r.dir === 'recv' && typeof r.firstLine === 'string' && r.firstLine.startsWith('SIP/2.0 200')));
});
