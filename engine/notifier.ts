/**
 * Delivery of notifications to the application: the start-parameter callback, the
 * `notification` event, and one event per event name (`engine.on('SipRegisterSuccess', fn)`).
 * @module
 */
import type { EventEmitter } from 'node:events';
import { TelephonyReturnValue } from './returnCodes.js';
import { NotifyType } from './types.js';
import type { YieldGate } from '../media/yieldGate.js';
import type { Notification, NotificationDataOf, NotificationEvent, UserNotifyCallback } from './notifications.js';

/** The data argument of raising event `E`: optional when the event may carry none. */
type DataArgs<E extends NotificationEvent> = undefined extends NotificationDataOf<E> ? [data?: NotificationDataOf<E>] : [data: NotificationDataOf<E>];

/**
 * Orders and delivers notifications. Immediate ones run synchronously so the application can
 * answer through `data`; global and line ones are queued and delivered on the next turn of the
 * event loop, in order, so an application calling back into the engine from a handler never
 * re-enters the code that raised the event. That turn is `setImmediate`, not the engine's
 * Clock: it orders work, it does not measure time, and a virtual clock must not hold
 * notifications back until a test advances it.
 *
 * The typed methods (`immediate`, `global`, `line`) check `data` against the notification map;
 * the `...Unchecked` ones serve the hosts of the floors below, which raise codes without
 * seeing the map (their entries in the map were written from their raise sites).
 */
export class Notifier {
  private queue: Notification[] = [];
  /** Index of the next notification to deliver in `queue`. */
  private head = 0;
  private scheduled = false;
  /** Gives way to due media between notifications (null: a whole batch per turn). */
  private gate: YieldGate | null = null;
  /**
   * Raise group of each queued notification (parallel to `queue`): those raised in one run of
   * synchronous code (SipCallComplete and SipOnHook, say) are one group, delivered in one turn;
   * the gate is asked only between groups.
   */
  private groups: number[] = [];
  private group = 0;
  private groupOpen = false;
  private readonly closeGroup = (): void => {
    this.groupOpen = false;
  };

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

  /**
   * Deliver the queue in batches that stop when `gate` says so (a media tick is due): the rest
   * follows on the next turn of the event loop, in order. Null delivers the whole queue at once.
   */
  setYieldGate(gate: YieldGate | null): void {
    this.gate = gate;
  }

  /** Replaces the application callback. */
  setCallback(cb: UserNotifyCallback | undefined): void {
    this.callback = cb;
  }

  /** Delivers an immediate notification now and returns its (possibly modified) data. */
  immediate<E extends NotificationEvent>(phoneLine: number, event: E, data: NotificationDataOf<E>): NotificationDataOf<E> {
    this.deliver(make(NotifyType.ImmediateNotification, phoneLine, event, data));
    return data;
  }

  /** Queues a global notification (phoneLine -1). */
  global<E extends NotificationEvent>(event: E, ...data: DataArgs<E>): void {
    this.enqueue(make(NotifyType.GlobalNotification, -1, event, data[0]));
  }

  /** Queues a phone line notification. */
  line<E extends NotificationEvent>(phoneLine: number, event: E, ...data: DataArgs<E>): void {
    this.enqueue(make(NotifyType.PhoneLineNotification, phoneLine, event, data[0]));
  }

  /** {@link Notifier.immediate} for a host that raises any code. */
  immediateUnchecked<D extends object>(phoneLine: number, event: TelephonyReturnValue, data: D): D {
    this.deliver(make(NotifyType.ImmediateNotification, phoneLine, event, data));
    return data;
  }

  /** {@link Notifier.global} for a host that raises any code. */
  globalUnchecked(event: TelephonyReturnValue, data?: object): void {
    this.enqueue(make(NotifyType.GlobalNotification, -1, event, data));
  }

  /** {@link Notifier.line} for a host that raises any code. */
  lineUnchecked(phoneLine: number, event: TelephonyReturnValue, data?: object): void {
    this.enqueue(make(NotifyType.PhoneLineNotification, phoneLine, event, data));
  }

  /** Notifications queued and not yet delivered (the overload guard bounds it, engine/overload.ts). */
  get backlog(): number {
    return this.queue.length - this.head;
  }

  /** Delivers everything still queued, synchronously (used at shutdown). */
  flush(): void {
    const batch = this.queue;
    const from = this.head;
    this.queue = [];
    this.groups = [];
    this.head = 0;
    this.scheduled = false;
    for (let i = from; i < batch.length; i++) this.deliver(batch[i]!);
  }

  private enqueue(n: Notification): void {
    if (!this.groupOpen) {
      // a new group until the current synchronous run ends (its microtask checkpoint)
      this.groupOpen = true;
      this.group++;
      queueMicrotask(this.closeGroup);
    }
    this.queue.push(n);
    this.groups.push(this.group);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.turn);
    }
  }

  /** One turn's delivery: everything, or with a gate a batch until it says stop (at least one). */
  private readonly turn = (): void => {
    const gate = this.gate;
    if (gate === null) {
      this.flush();
      return;
    }
    this.scheduled = false;
    const start = performance.now();
    let prev = -1;
    // handlers may queue more: they join this batch while the gate allows
    while (this.head < this.queue.length) {
      const g = this.groups[this.head]!;
      // only between raise groups: a group is delivered whole, in one turn
      if (prev >= 0 && g !== prev && gate.shouldYield(start)) break;
      prev = g;
      const next = this.queue[this.head]!;
      this.head++;
      this.deliver(next);
    }
    if (this.head >= this.queue.length) {
      this.queue = [];
      this.groups = [];
      this.head = 0;
    } else if (!this.scheduled) {
      if (this.head > 1024) {
        // a long backlog drains over many turns: drop the delivered part of the arrays
        this.queue = this.queue.slice(this.head);
        this.groups = this.groups.slice(this.head);
        this.head = 0;
      }
      this.scheduled = true;
      setImmediate(this.turn);
    }
  };

  private deliver(n: Notification): void {
    if (this.callback) {
      try {
        this.callback(n);
      } catch (err) {
        this.onHandlerError(err, n);
      }
    }
    this.emitTo('notification', n);
    const name = TelephonyReturnValue[n.event];
    if (name) this.emitTo(name, n);
  }

  /**
   * What `emit` does, but one throwing listener neither hides the notification from the
   * listeners after it nor unwinds into the engine.
   */
  private emitTo(name: string, n: Notification): void {
    if (this.emitter.listenerCount(name) === 0) return;
    // rawListeners is a copy, and calling a once() wrapper removes it, as emit does.
    for (const listener of this.emitter.rawListeners(name) as ((n: Notification) => void)[]) {
      try {
        listener.call(this.emitter, n);
      } catch (err) {
        this.onHandlerError(err, n);
      }
    }
  }
}

function make(notifyType: NotifyType, phoneLine: number, event: TelephonyReturnValue, data: unknown): Notification {
  return { notifyType, phoneLine, event, data } as Notification;
}
