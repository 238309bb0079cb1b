/**
 * Metrics on and off for the facade: owns the {@link EngineMetrics} while enabled (it outlives
 * stop and start of the engine), follows the engine's SIP stack, and forwards line and call
 * events to it. prom-client is loaded only when metrics are enabled (engine/metrics.ts).
 * @module
 */
import { isIP } from 'node:net';
import type { SipStack } from '../sip/stack.js';
import type { MediaSessionStats } from '../media/session.js';
import type { RtpCounters } from '../media/rtpCounters.js';
import type { CallQuality } from '../media/quality.js';
import { EngineMetrics, type MetricsOptions, type MetricsSource } from './metrics.js';
import type { EnableMetricsResult, MetricsRegistryResult } from './results.js';
import { TelephonyReturnValue as T } from './returnCodes.js';

/** Metrics of one engine, while enabled. */
export class MetricsControl {
  private metrics?: EngineMetrics;
  /** An enable or disable is in progress. */
  private busy = false;
  private stack?: SipStack;

  /** @param source what the metrics read at scrape time */
  constructor(private readonly source: MetricsSource) {}

  /** enableMetrics: checks the options, then turns metrics on; the port is given when one was asked for. */
  async enable(options: MetricsOptions): Promise<EnableMetricsResult> {
    if (options === null || typeof options !== 'object') return { result: T.SipBadParameter };
    const { port, host } = options;
    if (port !== undefined && (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535)) {
      return { result: T.SipBadParameter };
    }
    if (host !== undefined && (typeof host !== 'string' || !isIP(host))) return { result: T.SipBadParameter };
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

  /** getMetricsRegistry: the prom-client registry while metrics are on, else SipNotEnabled. */
  registry(): MetricsRegistryResult {
    const registry = this.metrics?.registry;
    return registry ? { result: T.SipSuccess, registry } : { result: T.SipNotEnabled };
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

  /** A new request was shed by the overload guard, counted when metrics are on. */
  onShed(cause: string): void {
    this.metrics?.onShed(cause);
  }

  /** A request was refused by the early screen or a wrong password (engine/securityLimits.ts), counted when metrics are on. */
  onRefused(reason: string): void {
    this.metrics?.onRefused(reason);
  }

  /** A call ended with its RTP counters and quality. */
  onCallFinished(counters: RtpCounters | undefined, quality: CallQuality | undefined): void {
    this.metrics?.onCallFinished(counters, quality);
  }

  /** A call's last statistics, after `onCallFinished` counted earlier counters (media on a floor). */
  onCallStatsFinal(counted: RtpCounters | undefined, final: MediaSessionStats | undefined): void {
    this.metrics?.onCallStatsFinal(counted, final);
  }
}
