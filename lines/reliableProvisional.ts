/**
 * Reliable provisional responses (RFC 3262, the `100rel` extension), kept apart from the INVITE
 * session so that lines/call.ts only hooks into it:
 * - the policy (`off` / `supported` / `required`, PJSIP's 100rel setting) and what it says about an
 *   incoming INVITE ({@link uasDecision}: send 18x reliably, plainly, or refuse with 421);
 * - the callee's side, {@link ReliableProvisionalSender}: stamps `Require: 100rel` and `RSeq` on an
 *   18x, retransmits it with T1 doubling until the PRACK matching its RAck arrives, gives up after
 *   64*T1 (the call then fails with a 5xx, §3), holds back a further reliable 18x until the one
 *   before was acknowledged (§3), and tells the call when a 2xx must wait for a PRACK (an
 *   unacknowledged 18x carrying SDP);
 * - the caller's side, {@link ReliableProvisionalReceiver}: per early dialog (To tag), which 18x
 *   are new (PRACK and process), retransmissions (PRACK again, process once) or out of order
 *   (ignore, §4), and the RAck value of the PRACK.
 * The capability entry ({@link RELIABLE_PROVISIONAL_CAPABILITY}: PRACK and `100rel`) is registered
 * by the engine only when the policy is not `off`, so the dialog router refuses `Require: 100rel`
 * with 420 exactly when the policy is off.
 * @module
 */
import type { Capability } from '../sip/capabilities.js';
import type { Clock, TimerHandle } from '../sip/clock.js';
import type { Dialog } from '../sip/dialog.js';
import type { SipHeaders, SipRequest, SipResponse } from '../sip/message.js';
import { cseqMethod, cseqNumber, ownCopy, tagOf } from '../sip/util.js';

/** The 100rel policy: never reliable, reliable when the caller supports it, or demanded of every caller. */
export type ReliableProvisionalPolicy = 'off' | 'supported' | 'required';

/** The policies, for validating the start option. */
export const RELIABLE_PROVISIONAL_POLICIES: readonly ReliableProvisionalPolicy[] = ['off', 'supported', 'required'];

/** What reliable provisional responses add to the capability table (registered unless the policy is off). */
export const RELIABLE_PROVISIONAL_CAPABILITY: Capability = { methods: ['PRACK'], optionTags: ['100rel'] };

/** The option tag. */
export const TAG_100REL = '100rel';

/** True when a Supported or Require header (`name`) of `headers` lists 100rel. */
export function lists100rel(headers: SipHeaders, name: 'Supported' | 'Require'): boolean {
  return headers.getAll(name).some((v) => v.split(',').some((t) => t.trim().toLowerCase() === TAG_100REL));
}

/**
 * What the policy says about an incoming INVITE: `reliable` (our 18x need a PRACK), `unreliable`
 * (as before RFC 3262), or `refuse` (policy `required`, the caller names no 100rel: 421 with
 * `Require: 100rel`). An INVITE requiring 100rel under policy `off` never gets here: the dialog
 * router answers it 420 because the tag is not in the capability table.
 */
export function uasDecision(policy: ReliableProvisionalPolicy, invite: SipRequest): 'reliable' | 'unreliable' | 'refuse' {
  if (policy === 'off') return 'unreliable';
  const peer = lists100rel(invite.headers, 'Require') || lists100rel(invite.headers, 'Supported');
  if (peer) return 'reliable';
  return policy === 'required' ? 'refuse' : 'unreliable';
}

/** The parts of a RAck header (`RSeq CSeq-number method`), or undefined when unreadable. */
export function parseRAck(value: string | undefined): { rseq: number; cseq: number; method: string } | undefined {
  const m = /^\s*(\d+)\s+(\d+)\s+([A-Za-z]+)\s*$/.exec(value ?? '');
  if (!m) return undefined;
  return { rseq: Number(m[1]), cseq: Number(m[2]), method: m[3]!.toUpperCase() };
}

/** What the callee's sender needs: time, T1, the server transaction, and whom to tell when it gives up. */
export interface ReliableSenderHost {
  /** The engine's clock (retransmission timers). */
  clock(): Clock;
  /** RFC 3261 T1 in ms (first retransmission interval; 64*T1 is the give-up time). */
  t1Ms(): number;
  /** Sends (or re-sends) a response through the INVITE server transaction. */
  send(res: SipResponse): void;
  /** No PRACK came within 64*T1 for a reliable 18x: the call must fail with a 5xx (RFC 3262 §3). */
  gaveUp(): void;
}

/** One reliable 18x in flight. */
interface InFlight {
  res: SipResponse;
  rseq: number;
  hasSdp: boolean;
  interval: number;
  elapsed: number;
  timer?: TimerHandle;
}

/** Largest RSeq (RFC 3262 §3: 2^31 - 1). */
const MAX_RSEQ = 0x7fffffff;

/**
 * The callee's reliable 18x for one INVITE (RFC 3262 §3): one in flight at a time, retransmitted
 * with T1 doubling until its PRACK, the next queued behind it.
 */
export class ReliableProvisionalSender {
  private nextRseq: number;
  private lastAcked = -1;
  private current?: InFlight;
  private readonly queue: Array<{ res: SipResponse; hasSdp: boolean }> = [];
  private clearWaiters: Array<() => void> = [];
  private stopped = false;

  /**
   * @param host time, T1, sending and giving up
   * @param inviteCSeq the INVITE's CSeq number (a PRACK's RAck must name it)
   * @param random source of the first RSeq (uniform in [0, 1))
   */
  constructor(
    private readonly host: ReliableSenderHost,
    private readonly inviteCSeq: number,
    random: () => number = Math.random,
  ) {
    // §3: the first RSeq is chosen between 1 and 2^31 - 1; half the range leaves room to count up.
    this.nextRseq = 1 + Math.floor(random() * (MAX_RSEQ / 2));
  }

  /**
   * Sends `res` (an 18x) reliably: Require 100rel and the next RSeq are added, and it is
   * retransmitted until acknowledged; while an earlier one waits for its PRACK it is queued.
   * @param res the provisional response, complete but for Require and RSeq
   * @param hasSdp it carries a session description (a 2xx must then wait for its PRACK)
   */
  send(res: SipResponse, hasSdp: boolean): void {
    if (this.stopped) return;
    if (this.current) {
      this.queue.push({ res, hasSdp });
      return;
    }
    const rseq = this.nextRseq++;
    res.headers.append('Require', TAG_100REL);
    res.headers.append('RSeq', String(rseq));
    const t1 = this.host.t1Ms();
    this.current = { res, rseq, hasSdp, interval: t1, elapsed: 0 };
    this.host.send(res);
    this.arm();
  }

  private arm(): void {
    const c = this.current;
    if (!c) return;
    // retransmit at T1, 2*T1, 4*T1 ... after the first send; give up 64*T1 after it (§3)
    const delay = Math.min(c.interval, 64 * this.host.t1Ms() - c.elapsed);
    c.timer = this.host.clock().setTimer(delay, () => {
      if (this.current !== c || this.stopped) return;
      c.elapsed += delay;
      if (c.elapsed >= 64 * this.host.t1Ms()) {
        this.stop();
        this.host.gaveUp();
        return;
      }
      this.host.send(c.res);
      c.interval *= 2;
      this.arm();
    });
  }

  /**
   * A PRACK arrived: `acknowledged` when its RAck names the 18x in flight (retransmissions stop,
   * the next queued 18x goes), `repeat` when it names one acknowledged before (a PRACK sent again
   * for a retransmitted 18x: answered 200 as well), `unknown` otherwise (481, §3). A 2xx held
   * back is released by {@link releaseHeld}, once the PRACK itself has been dealt with.
   * @param rack the PRACK's RAck header value
   */
  onPrack(rack: string | undefined): 'acknowledged' | 'repeat' | 'unknown' {
    const r = parseRAck(rack);
    if (!r || r.method !== 'INVITE' || r.cseq !== this.inviteCSeq) return 'unknown';
    const c = this.current;
    if (c && r.rseq === c.rseq) {
      this.host.clock().clearTimer(c.timer);
      this.current = undefined;
      this.lastAcked = c.rseq;
      const next = this.queue.shift();
      if (next) this.send(next.res, next.hasSdp);
      return 'acknowledged';
    }
    return this.lastAcked >= 0 && r.rseq <= this.lastAcked ? 'repeat' : 'unknown';
  }

  /** True while a reliable 18x waits for its PRACK. */
  get awaitingPrack(): boolean {
    return this.current !== undefined;
  }

  /**
   * True while a 2xx must not be sent yet: an unacknowledged reliable 18x carries SDP (RFC 3262
   * §3), or one is queued behind the one in flight.
   */
  get holds2xx(): boolean {
    return this.current !== undefined && (this.current.hasSdp || this.queue.some((q) => q.hasSdp));
  }

  /** Calls `fn` once no 2xx is held back any more (at once when none is). */
  whenClear(fn: () => void): void {
    if (!this.holds2xx) fn();
    else this.clearWaiters.push(fn);
  }

  /** Runs what {@link whenClear} held back, if nothing holds a 2xx any more (after a PRACK was answered). */
  releaseHeld(): void {
    if (this.holds2xx) return;
    const w = this.clearWaiters;
    this.clearWaiters = [];
    for (const fn of w) fn();
  }

  /**
   * A final answer went out: retransmissions stop and what is queued is dropped, but the 18x in
   * flight stays acknowledgeable (its PRACK, crossing the final answer, still gets 200).
   */
  finalSent(): void {
    if (this.current) this.lastAcked = this.current.rseq;
    this.stop();
  }

  /** Stops retransmitting and forgets what is queued (the call ended). */
  stop(): void {
    this.stopped = true;
    if (this.current) this.host.clock().clearTimer(this.current.timer);
    this.current = undefined;
    this.queue.length = 0;
    this.clearWaiters = [];
  }
}

/** How the caller takes one provisional response (RFC 3262 §4). */
export type ReliableVerdict =
  | {
      /** Not reliable (no Require 100rel or no RSeq): processed as before. */
      kind: 'unreliable';
    }
  | {
      /** A new reliable 18x: process it and PRACK it with this RAck. */
      kind: 'new';
      /** The RAck value. */
      rack: string;
    }
  | {
      /** The same 18x again (same RSeq): PRACK it again, do not process it again. */
      kind: 'repeat';
      /** The RAck value. */
      rack: string;
    }
  | {
      /** RSeq not one above the last: neither PRACKed nor processed (§4). */
      kind: 'out-of-order';
    };

/**
 * The caller's view of reliable 18x to one INVITE: the last RSeq per early dialog (To tag), and
 * the early dialogs PRACKs are sent in.
 */
export class ReliableProvisionalReceiver {
  private readonly lastRseq = new Map<string, number>();
  private readonly dialogs = new Map<string, Dialog>();

  /** Classifies a provisional response to our INVITE. */
  classify(res: SipResponse): ReliableVerdict {
    if (res.status <= 100 || res.status >= 200 || !lists100rel(res.headers, 'Require')) return { kind: 'unreliable' };
    const rseqText = res.headers.get('RSeq');
    if (rseqText === undefined || !/^\s*\d+\s*$/.test(rseqText)) return { kind: 'unreliable' };
    const rseq = Number(rseqText);
    const cseq = res.headers.get('CSeq');
    const rack = `${rseq} ${cseqNumber(cseq)} ${cseqMethod(cseq) || 'INVITE'}`;
    const key = tagOf(res.headers.get('To')) ?? '';
    const last = this.lastRseq.get(key);
    if (last === undefined || rseq === last + 1) {
      // a stored key is a copy: the tag cut from the 18x would keep its whole text for the call
      this.lastRseq.set(last === undefined ? ownCopy(key) : key, rseq);
      return { kind: 'new', rack };
    }
    return rseq === last ? { kind: 'repeat', rack } : { kind: 'out-of-order' };
  }

  /** The early dialog `res` belongs to, made by `make` the first time its To tag is seen. */
  dialogFor(res: SipResponse, make: () => Dialog): Dialog {
    const key = tagOf(res.headers.get('To')) ?? '';
    let d = this.dialogs.get(key);
    if (!d) {
      d = make();
      this.dialogs.set(ownCopy(key), d);
    }
    return d;
  }

  /**
   * The 2xx made `dialog` (confirmed): its CSeq continues after the PRACKs sent in the early
   * dialog with the same remote tag (CSeq grows within a dialog, RFC 3261 §12.2.1.1).
   */
  adoptSequence(dialog: Dialog): void {
    const early = this.dialogs.get(dialog.remoteTag);
    if (!early) return;
    dialog.localSeq = Math.max(dialog.localSeq, early.localSeq);
    // and the far end's requests (UPDATE, BYE) go on from those it sent in the early dialog
    if (early.remoteSeq > dialog.remoteSeq) {
      dialog.remoteSeq = early.remoteSeq;
      dialog.remoteMethod = early.remoteMethod;
    }
  }

  /** The early dialog made by an 18x whose To tag is `remoteTag`, if any (the router's CSeq guard checks its requests there). */
  dialogOf(remoteTag: string): Dialog | undefined {
    return this.dialogs.get(remoteTag);
  }
}
