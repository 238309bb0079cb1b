/**
 * The state of one INVITE session (lines/call.ts) as an explicit enum, and the one table of
 * the transitions it may take. Kept apart from `Call` so the table is read, tested and changed
 * in one place, without the SIP and media code around it.
 *
 * What is *not* here, on purpose, because it runs beside the dialog state rather than through
 * it: hold in either direction (`Call.localHold`, `Call.farEndHold`: media direction, changed by
 * re-INVITEs while Confirmed), the late offer of an INVITE without SDP (how offer/answer runs
 * while Ringing and Connecting, not where the dialog is), and the bookkeeping of a re-INVITE in
 * flight (ours, a glare wait, or a late offer awaiting its ACK: a second small machine inside
 * Confirmed).
 * @module
 */

/**
 * Where an INVITE session is. Outgoing calls go Initial → Calling → Proceeding → Confirmed,
 * incoming ones Initial → Ringing → Connecting → Confirmed; both end Terminating → Terminated
 * (or straight to Terminated when there is nothing to tear down).
 */
export enum CallState {
  /** Created; the media ports are opening. Nothing sent yet (outgoing), no answer sent yet (incoming). */
  Initial = 'Initial',
  /** Outgoing: an INVITE is out and nothing answered it yet (a CANCEL would have to wait, RFC 3261 §9.1). */
  Calling = 'Calling',
  /** Outgoing: a provisional answer arrived (the far end rings; a CANCEL may go now). */
  Proceeding = 'Proceeding',
  /** Outgoing: a 3xx arrived; the next target is being resolved, no INVITE is out. */
  Redirecting = 'Redirecting',
  /** Outgoing: we hung up while it rang; the CANCEL is out, waiting for the 487 (or a 200 that crossed it). */
  Cancelling = 'Cancelling',
  /** Incoming: 180 sent; waiting for the application to answer (the early dialog). */
  Ringing = 'Ringing',
  /** Incoming: our 200 is out (retransmitted by the transaction), waiting for the ACK. */
  Connecting = 'Connecting',
  /** The dialog is confirmed and media runs: the call is connected. */
  Confirmed = 'Confirmed',
  /** Our BYE is out, waiting for its answer. */
  Terminating = 'Terminating',
  /** Over: media freed, the line given back. Final. */
  Terminated = 'Terminated',
}

/**
 * The legal transitions, from each state to the states it may enter. Any state but Terminated
 * may end at once (`Call.finish`: a BYE received, the engine stopping, a time-out), so
 * Terminated is in every list.
 */
export const CALL_TRANSITIONS: Readonly<Record<CallState, readonly CallState[]>> = {
  [CallState.Initial]: [CallState.Calling, CallState.Ringing, CallState.Terminated],
  // Calling → Calling: the INVITE sent again after a 401/407 that came without a provisional.
  // Calling → Terminating: a 2xx we cannot use (no or bad SDP): confirmed, then ended with BYE.
  [CallState.Calling]: [CallState.Calling, CallState.Proceeding, CallState.Redirecting, CallState.Confirmed, CallState.Terminating, CallState.Terminated],
  // Proceeding → Calling: the INVITE sent again after a 401/407 (a new transaction).
  [CallState.Proceeding]: [CallState.Calling, CallState.Redirecting, CallState.Cancelling, CallState.Confirmed, CallState.Terminating, CallState.Terminated],
  [CallState.Redirecting]: [CallState.Calling, CallState.Terminated],
  // Cancelling → Terminating: the far end answered 200 before it saw our CANCEL (§9.1): ACK, then BYE.
  [CallState.Cancelling]: [CallState.Terminating, CallState.Terminated],
  [CallState.Ringing]: [CallState.Connecting, CallState.Terminated],
  // Connecting → Terminating: no ACK (Timer H/L), an unusable answer in the ACK, or a hang-up.
  [CallState.Connecting]: [CallState.Confirmed, CallState.Terminating, CallState.Terminated],
  [CallState.Confirmed]: [CallState.Terminating, CallState.Terminated],
  [CallState.Terminating]: [CallState.Terminated],
  [CallState.Terminated]: [],
};

/** True when an INVITE session in `from` may enter `to`. */
export function isLegalCallTransition(from: CallState, to: CallState): boolean {
  return CALL_TRANSITIONS[from].includes(to);
}

/** A transition an INVITE session took (given to `Call.onStateChange`). */
export interface CallStateChange {
  /** The state left. */
  from: CallState;
  /** The state entered. */
  to: CallState;
}

/** A transition that was refused because the table does not allow it (always a bug in the caller). */
export interface IllegalCallTransition extends CallStateChange {
  /** The line of the call. */
  line: number;
}
