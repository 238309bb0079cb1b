/**
 * Prometheus metrics of one engine, off by default. `prom-client` is imported only when metrics
 * are enabled, into a Registry of this engine's own (never the global one, so two engines in one
 * process do not collide). Nothing here runs per RTP packet: packet counts, clock figures, line
 * and registration states are read from the counters the engine keeps anyway, when Prometheus
 * scrapes; the few per-event updates are per SIP message and per call.
 * @module
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type * as Prom from 'prom-client';
import type { MediaClockStats, MediaFloorClockStats } from '../media/mediaClock.js';
import type { CallQuality } from '../media/quality.js';
import type { MediaSessionStats } from '../media/session.js';
import { addRtpCounters, rtpCountersOf, zeroRtpCounters, type RtpCounters } from '../media/rtpCounters.js';
import type { SipMessage } from '../sip/message.js';
import type { SipStack } from '../sip/stack.js';
import type { RegistrationState } from './registration.js';
import { TelephonyReturnValue as T } from './returnCodes.js';
import { LineState } from './types.js';

/** What the metrics read from the engine at scrape time. */
export interface MetricsSource {
  /** State of every line. */
  lineStates(): readonly LineState[];
  /** State of every registered name. */
  registrationStates(): readonly RegistrationState[];
  /** The media clock's figures, when the engine runs. */
  mediaClock(): MediaClockStats | undefined;
  /** The RTP counters of every call in progress (read without waiting on a media floor). */
  activeRtp(): readonly RtpCounters[];
  /** Whether the engine is shedding load now (engine/overload.ts). */
  overloaded(): boolean;
}

/** Options of `enableMetrics`. */
export interface MetricsOptions {
  /** TCP port of the /metrics endpoint (0 picks a free one); omit it for the registry alone. */
  port?: number;
  /** Address the endpoint listens on; default 127.0.0.1 (never exposed unless asked). */
  host?: string;
}

/** Methods counted by name; anything else is `other`, so a peer cannot grow the label set. */
const SIP_METHODS = new Set(['INVITE', 'ACK', 'BYE', 'CANCEL', 'REGISTER', 'OPTIONS', 'INFO', 'UPDATE', 'PRACK', 'REFER', 'NOTIFY', 'SUBSCRIBE', 'PUBLISH', 'MESSAGE']);

function methodLabel(m: string): string {
  return SIP_METHODS.has(m) ? m : 'other';
}

const LINE_STATES = Object.keys(LineState).filter((k) => Number.isNaN(Number(k)));
const REG_STATES: readonly RegistrationState[] = ['idle', 'registering', 'registered', 'failed', 'unregistering', 'unregistered'];

/** Metrics of one engine: the registry, the optional HTTP endpoint, and the engine hooks. */
export class EngineMetrics {
  /** This engine's registry (what `getMetricsRegistry` hands out). */
  readonly registry: Prom.Registry;
  private server: http.Server | undefined;
  private stack: SipStack | undefined;
  /** Totals of calls that ended, so the RTP counters stay monotonic as calls come and go. */
  private readonly finished: RtpCounters = zeroRtpCounters();
  private readonly callsStarted: Prom.Counter<'direction'>;
  private readonly callsEnded: Prom.Counter<'reason'>;
  private readonly sipRequests: Prom.Counter<'direction' | 'method'>;
  private readonly sipResponses: Prom.Counter<'direction' | 'method' | 'code'>;
  private readonly shedRequests: Prom.Counter<'cause'>;
  private readonly refusedRequests: Prom.Counter<'reason'>;
  private readonly mos: Prom.Histogram;
  private readonly lossRatio: Prom.Histogram;
  private readonly jitter: Prom.Histogram;
  private readonly loopDelay: IntervalHistogram;
  /** The clock figures of the scrape in progress: one read serves every clock metric of it. */
  private clockCache: { at: number; value: MediaClockStats | undefined } = { at: -Infinity, value: undefined };

  private constructor(prom: typeof Prom, private readonly source: MetricsSource) {
    const registry = new prom.Registry();
    this.registry = registry;
    const registers = [registry];
    const self = this;
    // our own event-loop monitor rather than prom-client's default metrics, so disabling stops it
    this.loopDelay = monitorEventLoopDelay({ resolution: 10 });
    this.loopDelay.enable();
    const loopGauge = (name: string, help: string, pick: (h: IntervalHistogram) => number): void => {
      new prom.Gauge({
        name,
        help,
        registers,
        collect() {
          const v = pick(self.loopDelay);
          this.set(Number.isFinite(v) ? v / 1e9 : 0);
        },
      });
    };
    loopGauge('linescape_event_loop_lag_p99_seconds', 'Event-loop delay, 99th percentile since the previous scrape.', (h) => h.percentile(99));
    loopGauge('linescape_event_loop_lag_max_seconds', 'Event-loop delay, largest since the previous scrape (read last: it restarts the window).', (h) => {
      const max = h.max;
      h.reset();
      return max;
    });

    new prom.Gauge({
      name: 'linescape_lines',
      help: 'Phone lines by state.',
      labelNames: ['state'],
      registers,
      collect() {
        const counts = new Map<string, number>(LINE_STATES.map((s) => [s, 0]));
        for (const st of self.source.lineStates()) {
          const name = LineState[st];
          if (name) counts.set(name, (counts.get(name) ?? 0) + 1);
        }
        for (const [state, n] of counts) this.set({ state }, n);
      },
    });
    new prom.Gauge({
      name: 'linescape_registrations',
      help: 'Registered names by registration state.',
      labelNames: ['state'],
      registers,
      collect() {
        const counts = new Map<string, number>(REG_STATES.map((s) => [s, 0]));
        for (const st of self.source.registrationStates()) counts.set(st, (counts.get(st) ?? 0) + 1);
        for (const [state, n] of counts) this.set({ state }, n);
      },
    });
    this.callsStarted = new prom.Counter({
      name: 'linescape_calls_started_total',
      help: 'Calls started, by direction.',
      labelNames: ['direction'],
      registers,
    });
    this.callsEnded = new prom.Counter({
      name: 'linescape_calls_ended_total',
      help: 'Calls ended, by the reason SipCallComplete carries.',
      labelNames: ['reason'],
      registers,
    });
    this.sipRequests = new prom.Counter({
      name: 'linescape_sip_requests_total',
      help: 'SIP requests received (in) and sent (out, retransmissions excluded), by method.',
      labelNames: ['direction', 'method'],
      registers,
    });
    this.sipResponses = new prom.Counter({
      name: 'linescape_sip_responses_total',
      help: 'SIP responses received (in) and sent (out, retransmissions excluded), by CSeq method and status code.',
      labelNames: ['direction', 'method', 'code'],
      registers,
    });
    this.shedRequests = new prom.Counter({
      name: 'linescape_requests_shed_total',
      help: 'New requests refused with 503 and Retry-After because the engine was overloaded, by cause.',
      labelNames: ['cause'],
      registers,
    });
    this.refusedRequests = new prom.Counter({
      name: 'linescape_requests_refused_total',
      help: 'Requests refused by the limits and access control (too large, too many headers, rate, source network, blocked or failed authentication), by reason.',
      labelNames: ['reason'],
      registers,
    });
    new prom.Gauge({
      name: 'linescape_overload_active',
      help: '1 while the engine sheds new requests (from the first 503 to SipOverloadRecovered), else 0.',
      registers,
      collect() {
        this.set(self.source.overloaded() ? 1 : 0);
      },
    });
    // RTP counters: totals of ended calls plus the live counters of calls in progress, read at scrape time
    const rtpCounter = (name: string, help: string, pick: (t: RtpCounters) => number): void => {
      new prom.Counter({
        name,
        help,
        registers,
        collect() {
          const t = { ...self.finished };
          for (const c of self.source.activeRtp()) addRtpCounters(t, c);
          this.reset();
          this.inc(pick(t));
        },
      });
    };
    rtpCounter('linescape_rtp_packets_received_total', 'RTP packets received (RFC 3550 A.1 count), all calls.', (t) => t.received);
    rtpCounter('linescape_rtp_packets_sent_total', 'RTP packets sent, all calls.', (t) => t.sent);
    rtpCounter('linescape_rtp_packets_lost_total', 'RTP packets lost on the network (RFC 3550 A.3), all calls.', (t) => t.lost);
    rtpCounter('linescape_rtp_frames_concealed_total', 'Audio frames concealed by the jitter buffer, all calls.', (t) => t.concealed);
    rtpCounter('linescape_srtp_auth_failures_total', 'Received SRTP/SRTCP packets dropped for failed authentication, all calls.', (t) => t.srtpAuthFailures);
    rtpCounter('linescape_srtp_replays_total', 'Received SRTP/SRTCP packets dropped as replays, all calls.', (t) => t.srtpReplays);
    this.mos = new prom.Histogram({
      name: 'linescape_call_mos',
      help: 'Final MOS (G.107 E-model) of ended calls that received RTP.',
      buckets: [1, 1.5, 2, 2.5, 3, 3.5, 3.8, 4, 4.2, 4.3, 4.4, 4.5],
      registers,
    });
    this.lossRatio = new prom.Histogram({
      name: 'linescape_call_rtp_loss_ratio',
      help: 'Network loss of the received RTP of ended calls, 0..1.',
      buckets: [0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1],
      registers,
    });
    this.jitter = new prom.Histogram({
      name: 'linescape_call_rtp_jitter_seconds',
      help: 'Interarrival jitter (RFC 3550 A.8) of the received RTP of ended calls.',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32],
      registers,
    });
    const clockGauge = (name: string, help: string, pick: (c: MediaClockStats) => number): void => {
      new prom.Gauge({
        name,
        help,
        registers,
        collect() {
          const c = self.clockFigures();
          this.set(c ? pick(c) : 0);
        },
      });
    };
    clockGauge('linescape_media_clock_ticks', 'Media clock ticks dispatched since the engine started.', (c) => c.ticks);
    clockGauge('linescape_media_clock_late_ticks', 'Media clock ticks that ran more than one period late (catch-up).', (c) => c.lateTicks);
    clockGauge('linescape_media_clock_skipped_ticks', 'Media clock ticks skipped after a stall.', (c) => c.skippedTicks);
    clockGauge('linescape_media_clock_max_lateness_seconds', 'Largest lateness of a media clock tick.', (c) => c.maxLatenessMs / 1000);
    clockGauge('linescape_media_clock_interval_jitter_p99_seconds', '99th percentile of |tick interval - period| over the recent window.', (c) => c.intervalJitterP99Ms / 1000);
    // what the wire sees (media/sendTiming.ts): per-send lateness and packet spacing over the last ~5 s,
    // with media workers all floors together (their histograms summed)
    clockGauge('linescape_media_send_samples', 'RTP audio packets sent in the recent window (about 5 s) whose timing the figures below describe.', (c) => c.sendSamples ?? 0);
    clockGauge('linescape_media_send_lateness_p99_seconds', '99th percentile of how late an RTP packet left behind the ideal time of its tick or phase, recent window.', (c) => (c.sendLatenessP99Ms ?? 0) / 1000);
    clockGauge('linescape_media_send_lateness_max_seconds', 'Largest send lateness of an RTP packet, recent window.', (c) => (c.sendLatenessMaxMs ?? 0) / 1000);
    clockGauge('linescape_media_send_spacing_p99_seconds', '99th percentile of |interval - expected interval| between consecutive RTP packets of a stream, recent window.', (c) => (c.sendSpacingP99Ms ?? 0) / 1000);
    clockGauge('linescape_media_send_spacing_max_seconds', 'Largest |interval - expected interval| between consecutive RTP packets of a stream, recent window.', (c) => (c.sendSpacingMaxMs ?? 0) / 1000);
    clockGauge('linescape_media_send_gaps', 'Sent RTP spacings more than 20 ms off (over 40 ms between 20 ms packets), recent window.', (c) => c.sendGaps ?? 0);
    clockGauge('linescape_media_clock_slice_p99_seconds', '99th percentile of how long one media clock phase held its event loop, recent window (with media workers: the worst floor).', (c) => (c.sliceP99Ms ?? 0) / 1000);
    clockGauge('linescape_media_clock_slice_max_seconds', 'Longest time one media clock phase held its event loop, recent window.', (c) => (c.sliceMaxMs ?? 0) / 1000);
    new prom.Counter({
      name: 'linescape_media_send_gaps_total',
      help: 'Sent RTP spacings more than 20 ms off since the engine started (a media worker replaced after a crash goes on from what its predecessor counted).',
      registers,
      collect() {
        this.reset();
        this.inc(self.clockFigures()?.sendGapsTotal ?? 0);
      },
    });
    // per media worker ("floor"): the same figures of each floor's own clock; no samples without workers
    const floorGauge = (name: string, help: string, pick: (f: MediaFloorClockStats) => number): void => {
      new prom.Gauge({
        name,
        help,
        labelNames: ['floor'],
        registers,
        collect() {
          this.reset();
          for (const f of self.clockFigures()?.floors ?? []) this.set({ floor: String(f.floor) }, pick(f));
        },
      });
    };
    floorGauge('linescape_media_floor_calls', 'Calls whose media a media worker carries.', (f) => f.calls);
    floorGauge('linescape_media_floor_late_ticks', 'Media clock ticks of a media worker that ran more than one period late (with those of the workers it replaced).', (f) => f.lateTicks);
    floorGauge('linescape_media_floor_skipped_ticks', 'Media clock ticks of a media worker skipped after a stall (with those of the workers it replaced).', (f) => f.skippedTicks);
    floorGauge('linescape_media_floor_send_lateness_p99_seconds', '99th percentile of send lateness of the RTP a media worker sent, recent window.', (f) => (f.sendLatenessP99Ms ?? 0) / 1000);
    floorGauge('linescape_media_floor_send_spacing_p99_seconds', '99th percentile of the spacing deviation of the RTP a media worker sent, recent window.', (f) => (f.sendSpacingP99Ms ?? 0) / 1000);
    floorGauge('linescape_media_floor_send_spacing_max_seconds', 'Largest spacing deviation of the RTP a media worker sent, recent window.', (f) => (f.sendSpacingMaxMs ?? 0) / 1000);
    floorGauge('linescape_media_floor_send_gaps', 'Sent RTP spacings more than 20 ms off on a media worker, recent window.', (f) => f.sendGaps ?? 0);
    floorGauge('linescape_media_floor_slice_max_seconds', 'Longest time one media clock phase held a media worker\'s event loop, recent window.', (f) => (f.sliceMaxMs ?? 0) / 1000);
    floorGauge('linescape_media_floor_figures_age_seconds', 'Age of the figures a media worker last published (every 0.25 s; growing: the worker is stuck).', (f) => f.ageMs / 1000);
    // how evenly a floor's calls fill its phase groups: one crowded group is one long phase
    new prom.Gauge({
      name: 'linescape_media_floor_phase_group_calls',
      help: 'Calls in each phase group of a media worker (group k sends k*20/groups ms into the tick).',
      labelNames: ['floor', 'group'],
      registers,
      collect() {
        this.reset();
        for (const f of self.clockFigures()?.floors ?? []) {
          f.phaseGroupCalls.forEach((n, g) => this.set({ floor: String(f.floor), group: String(g) }, n));
        }
      },
    });
  }

  /** The media clock's figures, read once per scrape (they are computed, and with workers merged). */
  private clockFigures(): MediaClockStats | undefined {
    const now = performance.now();
    if (now - this.clockCache.at > 100) this.clockCache = { at: now, value: this.source.mediaClock() };
    return this.clockCache.value;
  }

  /**
   * Loads prom-client and builds the metrics; with `options.port` also starts the HTTP endpoint.
   * Resolves the metrics or a code: SipFeatureNotAvailable when prom-client cannot be loaded,
   * SipSocketBindError when the address cannot be bound.
   */
  static async create(source: MetricsSource, options: MetricsOptions): Promise<EngineMetrics | T> {
    let prom: typeof Prom;
    try {
      prom = await import('prom-client');
    } catch {
      return T.SipFeatureNotAvailable;
    }
    let m: EngineMetrics;
    try {
      m = new EngineMetrics(prom, source);
    } catch {
      return T.SipFeatureNotAvailable; // a prom-client this module was not written for
    }
    if (options.port === undefined) return m;
    if (await m.listen(options.port, options.host ?? '127.0.0.1')) return m;
    await m.close();
    return T.SipSocketBindError;
  }

  private listen(port: number, host: string): Promise<boolean> {
    const server = http.createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (req.method !== 'GET' || path !== '/metrics') {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(text),
        () => res.writeHead(500, { 'Content-Type': 'text/plain' }).end('metrics failed\n'),
      );
    });
    return new Promise((resolve) => {
      const onError = (): void => {
        server.close();
        resolve(false);
      };
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        server.on('error', () => undefined);
        this.server = server;
        resolve(true);
      });
    });
  }

  /** Port the endpoint listens on, when it does. */
  get port(): number | undefined {
    return (this.server?.address() as AddressInfo | null)?.port;
  }

  /** Follows the SIP messages of `stack` (or of none); called as the engine starts and stops. */
  setStack(stack: SipStack | undefined): void {
    if (this.stack === stack) return;
    this.stack?.off('received', this.onReceived);
    this.stack?.off('sent', this.onSent);
    this.stack = stack;
    stack?.on('received', this.onReceived);
    stack?.on('sent', this.onSent);
  }

  private readonly onReceived = (msg: SipMessage): void => this.countSip('in', msg);
  private readonly onSent = (msg: SipMessage): void => this.countSip('out', msg);

  private countSip(direction: 'in' | 'out', msg: SipMessage): void {
    if (msg.type === 'request') {
      this.sipRequests.inc({ direction, method: methodLabel(msg.method) });
    } else {
      const method = (msg.headers.get('CSeq') ?? '').trim().split(/\s+/)[1] ?? '';
      this.sipResponses.inc({ direction, method: methodLabel(method), code: String(msg.status) });
    }
  }

  /** A line event as the engine raises it: counts started and ended calls. */
  onLineEvent(event: T, data: object | undefined): void {
    try {
      this.countCall(event, data);
    } catch {
      // metrics must never disturb the call that raised the event
    }
  }

  private countCall(event: T, data: object | undefined): void {
    if (event === T.SipOutgoingCallInitializing) this.callsStarted.inc({ direction: 'outgoing' });
    else if (event === T.SipIncomingCallStart) this.callsStarted.inc({ direction: 'incoming' });
    else if (event === T.SipCallComplete) {
      const reason = (data as { reason?: unknown } | undefined)?.reason;
      this.callsEnded.inc({ reason: typeof reason === 'string' ? reason : 'unknown' });
    }
  }

  /** A new request was shed (engine/overload.ts): counts it by cause. */
  onShed(cause: string): void {
    this.shedRequests.inc({ cause });
  }

  /** A request was refused by the limits and access control (engine/securityLimits.ts): counts it by reason. */
  onRefused(reason: string): void {
    this.refusedRequests.inc({ reason });
  }

  /**
   * A call is ending (its media about to stop): its final RTP figures join the totals of ended
   * calls, so the RTP counters keep counting it, and its quality goes into the histograms.
   */
  onCallFinished(counters: RtpCounters | undefined, quality: CallQuality | undefined): void {
    if (counters) addRtpCounters(this.finished, counters);
    if (!quality) return;
    try {
      this.mos.observe(quality.mos);
      this.lossRatio.observe(quality.lossPercent / 100);
      this.jitter.observe(quality.jitterMs / 1000);
    } catch {
      // never let metrics break a call's teardown
    }
  }

  /**
   * A call's last statistics arrived after {@link onCallFinished} counted the counters its floor
   * had copied before: adds what grew since, each counter never less than before (a counter that
   * went down would read as a reset).
   */
  onCallStatsFinal(counted: RtpCounters | undefined, final: MediaSessionStats | undefined): void {
    if (final === undefined) return;
    const was = counted ?? zeroRtpCounters();
    const now = rtpCountersOf(final);
    for (const k of Object.keys(now) as (keyof RtpCounters)[]) this.finished[k] += Math.max(0, now[k] - was[k]);
  }

  /** Stops the endpoint (dropping open connections) and unhooks the stack. */
  async close(): Promise<void> {
    this.setStack(undefined);
    this.loopDelay.disable();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
