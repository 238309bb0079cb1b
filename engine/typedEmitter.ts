/**
 * An EventEmitter whose event names and listener arguments come from a map, after mediasoup's
 * `EnhancedEventEmitter<Events>`: `on('SipOkToAnswerCall', (n) => …)` types `n` from the map,
 * and a name that is not in the map does not compile. Runtime behaviour is Node's, unchanged.
 * @module
 */
import { EventEmitter } from 'node:events';

/** A map from event name to the arguments its listeners receive. */
export type EventArgsMap = { [name: string]: unknown[] };

/** A listener of event `K` of map `E`. */
export type EventListener<E extends EventArgsMap, K extends keyof E> = (...args: E[K]) => void;

// Node's own methods take any listener; the casts below only widen our stricter types to them.
type AnyListener = (...args: unknown[]) => void;

/** Node's EventEmitter with the names and argument types of `E`. */
export class TypedEventEmitter<E extends EventArgsMap> extends EventEmitter {
  /** Calls every listener of `event` with `args`; true when there was one. */
  override emit<K extends keyof E & string>(event: K, ...args: E[K]): boolean {
    return super.emit(event, ...args);
  }

  /** Adds a listener of `event`. */
  override on<K extends keyof E & string>(event: K, listener: NoInfer<EventListener<E, K>>): this {
    return super.on(event, listener as AnyListener);
  }

  /** Same as {@link TypedEventEmitter.on}. */
  override addListener<K extends keyof E & string>(event: K, listener: NoInfer<EventListener<E, K>>): this {
    return super.addListener(event, listener as AnyListener);
  }

  /** Adds a listener of `event` that is removed after its first call. */
  override once<K extends keyof E & string>(event: K, listener: NoInfer<EventListener<E, K>>): this {
    return super.once(event, listener as AnyListener);
  }

  /** Adds a listener of `event` before the others. */
  override prependListener<K extends keyof E & string>(event: K, listener: NoInfer<EventListener<E, K>>): this {
    return super.prependListener(event, listener as AnyListener);
  }

  /** Adds a one-time listener of `event` before the others. */
  override prependOnceListener<K extends keyof E & string>(event: K, listener: NoInfer<EventListener<E, K>>): this {
    return super.prependOnceListener(event, listener as AnyListener);
  }

  /** Removes a listener of `event`. */
  override off<K extends keyof E & string>(event: K, listener: NoInfer<EventListener<E, K>>): this {
    return super.off(event, listener as AnyListener);
  }

  /** Same as {@link TypedEventEmitter.off}. */
  override removeListener<K extends keyof E & string>(event: K, listener: NoInfer<EventListener<E, K>>): this {
    return super.removeListener(event, listener as AnyListener);
  }

  /** Removes every listener of `event`, or of every event. */
  override removeAllListeners<K extends keyof E & string>(event?: K): this {
    return event === undefined ? super.removeAllListeners() : super.removeAllListeners(event);
  }

  /** Number of listeners of `event`. */
  override listenerCount<K extends keyof E & string>(event: K, listener?: NoInfer<EventListener<E, K>>): number {
    return super.listenerCount(event, listener);
  }

  /** The listeners of `event`. */
  override listeners<K extends keyof E & string>(event: K): EventListener<E, K>[] {
    return super.listeners(event) as EventListener<E, K>[];
  }
}
