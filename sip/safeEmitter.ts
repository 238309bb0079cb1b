/**
 * An EventEmitter for socket-facing classes: emitting never throws back into the caller, and
 * failures go to `'error'` listeners or, when nobody listens, become a process warning.
 * @module
 */
import { EventEmitter } from 'node:events';

/** Base of the stack and the transport: their handlers must never let an exception escape. */
export class SafeEmitter<E extends Record<keyof E, unknown[]>> extends EventEmitter<E> {
  /** Emits, turning a throwing listener into a reported error. */
  protected safeEmit<K extends keyof E & string>(event: K, ...args: E[K]): void {
    try {
      (this as unknown as EventEmitter).emit(event, ...args);
    } catch (err) {
      this.reportError(err);
    }
  }

  /** Reports to `'error'` listeners, or as a process warning when nobody listens (never throws). */
  protected reportError(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    const plain = this as unknown as EventEmitter;
    try {
      if (plain.listenerCount('error') > 0) plain.emit('error', e);
      else process.emitWarning(e);
    } catch {
      /* an 'error' listener that throws has nowhere left to report to */
    }
  }
}
