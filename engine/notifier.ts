/**
 * Delivery of notifications to the application: the start-parameter callback, the
 * `notification` event, and one event per event name (`engine.on('SipRegisterSuccess', fn)`).
 * @module
 */
import type { EventEmitter } from 'node:events';
import { TelephonyReturnValue } from './returnCodes.js';
import { NotifyType, type Notification, type UserNotifyCallback } from './types.js';

/**
 * Orders and delivers notifications. Immediate ones run synchronously so the application can
 * answer through `data`; global and line ones are queued and delivered on the next turn of the
 * event loop, in order, so an application calling back into the engine from a handler never
 * re-enters the code that raised the event.
 */
export class Notifier {
  private queue: Notification[] = [];
  private scheduled = false;

  /**
   * @param emitter where `notification` and per-event events are emitted (the engine)
   * @param callback the application's callback, if any
   * @param onHandlerError receives exceptions thrown by application handlers (they never reach the engine)
   */
  constructor(
    private readonly emitter: EventEmitter,
    private callback: UserNotifyCallback | undefined,
    private readonly onHandlerError: (err: unknown, n: Notification) => void,
  ) {}

  /** Replaces the application callback. */
  setCallback(cb: UserNotifyCallback | undefined): void {
    this.callback = cb;
  }

  /** Delivers an immediate notification now and returns its (possibly modified) data. */
  immediate<D extends object>(phoneLine: number, event: TelephonyReturnValue, data: D): D {
    this.deliver({ notifyType: NotifyType.ImmediateNotification, phoneLine, event, data: data as Record<string, unknown> });
    return data;
  }

  /** Queues a global notification (phoneLine -1). */
  global(event: TelephonyReturnValue, data?: object): void {
    this.enqueue({ notifyType: NotifyType.GlobalNotification, phoneLine: -1, event, data: data as Record<string, unknown> });
  }

  /** Queues a phone line notification. */
  line(phoneLine: number, event: TelephonyReturnValue, data?: object): void {
    this.enqueue({ notifyType: NotifyType.PhoneLineNotification, phoneLine, event, data: data as Record<string, unknown> });
  }

  /** Delivers everything still queued, synchronously (used at shutdown). */
  flush(): void {
    const batch = this.queue;
    this.queue = [];
    this.scheduled = false;
    for (const n of batch) this.deliver(n);
  }

  private enqueue(n: Notification): void {
    this.queue.push(n);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private deliver(n: Notification): void {
    const name = TelephonyReturnValue[n.event];
    try {
      this.callback?.(n);
    } catch (err) {
      this.onHandlerError(err, n);
    }
    try {
      this.emitter.emit('notification', n);
      if (name) this.emitter.emit(name, n);
    } catch (err) {
      this.onHandlerError(err, n);
    }
  }
}
