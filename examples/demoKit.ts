/**
 * Helpers shared by the `npm start` demos: printing a step and its return code, printing a
 * line of commentary, and waiting for an engine's next notification(s) of one event. Lines
 * printed here are indented to sit under the demos' timestamped notification lines.
 * @module
 */
import {
  VoipMediaEngine,
  TelephonyReturnValue as T,
  getTelephonyStatusString,
  type NotificationEvent,
  type Notification,
  type NotificationOf,
} from '../index.js';

/** Indent of the demos' own lines: the width of a notification line's timestamp column. */
const INDENT = ' '.repeat(12);

/** Prints `text` as a demo line (indented under the notification lines). */
export function say(text: string): void {
  console.log(`${INDENT}${text}`);
}

/**
 * Prints `what -> CodeName (status text)` for the return code `rc` of a step; throws unless
 * `rc` is `SipSuccess`.
 */
export function check(what: string, rc: T): void {
  say(`${what} -> ${T[rc]} (${getTelephonyStatusString(rc)})`);
  if (rc !== T.SipSuccess) throw new Error(`${what} failed: ${T[rc]}`);
}

function isEvent<E extends NotificationEvent>(n: Notification, event: E): n is NotificationOf<E> {
  return n.event === event;
}

/** Collects the next `count` notifications `event` of `engine` that `match` accepts. */
function collect<E extends NotificationEvent>(
  engine: VoipMediaEngine,
  event: E,
  count: number,
  match: (n: NotificationOf<E>) => boolean,
  timeoutMs: number,
): Promise<NotificationOf<E>[]> {
  return new Promise((resolve, reject) => {
    const name = T[event];
    const got: NotificationOf<E>[] = [];
    const timer = setTimeout(() => {
      engine.off('notification', on);
      reject(new Error(`timed out waiting for ${count > 1 ? `${count} x ` : ''}${name}`));
    }, timeoutMs);
    // One listener on every notification: a generic event name cannot pick a typed listener.
    const on = (n: Notification): void => {
      if (!isEvent(n, event) || !match(n)) return;
      got.push(n);
      if (got.length < count) return;
      clearTimeout(timer);
      engine.off('notification', on);
      resolve(got);
    };
    engine.on('notification', on);
  });
}

/**
 * Resolves with the next notification `event` of `engine` that `match` accepts (any, by
 * default); rejects after `timeoutMs`. Call it before the step that raises the event.
 */
export async function nextEvent<E extends NotificationEvent>(
  engine: VoipMediaEngine,
  event: E,
  match: (n: NotificationOf<E>) => boolean = () => true,
  timeoutMs = 5000,
): Promise<NotificationOf<E>> {
  return (await collect(engine, event, 1, match, timeoutMs))[0]!;
}

/**
 * Resolves with the next `count` notifications `event` of `engine`, in order; rejects after
 * `timeoutMs`. Call it before the steps that raise the events.
 */
export function nextEvents<E extends NotificationEvent>(engine: VoipMediaEngine, event: E, count: number, timeoutMs = 5000): Promise<NotificationOf<E>[]> {
  return collect(engine, event, count, () => true, timeoutMs);
}
