/**
 * Metrics on and off for the facade: owns the {@link EngineMetrics} while enabled (it outlives
 * stop and start of the engine), follows the engine's SIP stack, and forwards line and call
 * events to it. prom-client is loaded only when metrics are enabled (engine/metrics.ts).
 * @module
 */
import type { Registry } from 'prom-client';
import type { SipStack } from '../sip/stack.js';
import type { MediaSessionStats } from '../media/session.js';
import type { CallQuality } from '../media/quality.js';
import { EngineMetrics, type MetricsSource } from './metrics.js';
import { TelephonyReturnValue as T } from './returnCodes.js';

/** Metrics of one engine, while enabled. */
export class MetricsControl {
  private metrics?: EngineMetrics;
  /** An enable or disable is in progress. */
  private busy = false;
  private stack?: SipStack;

  /** @param source what the metrics read at scrape time */
  constructor(private readonly source: MetricsSource) {}

  /** Turns metrics on (arguments already validated); the port is given when one was asked for. */
  async enable(port: number | undefined, host: string | undefined): Promise<{ result: T; port?: number }> {
    if (this.metrics || this.busy) return { result: T.SipAlreadyEnabled };
    this.busy = true;
    try {
      const m = await EngineMetrics.create(this.source, { port, host });
      if (typeof m === 'number') return { result: m };
      this.metrics = m;
      m.setStack(this.stack);
      return port === undefined ? { result: T.SipSuccess } : { result: T.SipSuccess, port: m.port };
    } finally {
      this.busy = false;
    }
  }

  /** Turns metrics off: closes the endpoint and drops the registry. */
  async disable(): Promise<T> {
    const m = this.metrics;
    if (!m || this.busy) return T.SipNotEnabled;
    this.metrics = undefined;
    await m.close();
    return T.SipSuccess;
  }

  /** The prom-client registry while metrics are on. */
  registry(): Registry | undefined {
    return this.metrics?.registry;
  }

  /** Follows the engine's SIP stack (undefined when it stops). */
  setStack(stack: SipStack | undefined): void {
    this.stack = stack;
    this.metrics?.setStack(stack);
  }

  /** A line notification, counted when metrics are on. */
  onLineEvent(event: T, data: object | undefined): void {
    this.metrics?.onLineEvent(event, data);
  }

  /** A call ended with its final media statistics and quality. */
  onCallFinished(finalStats: MediaSessionStats | undefined, quality: CallQuality | undefined): void {
    this.metrics?.onCallFinished(finalStats, quality);
  }
}
