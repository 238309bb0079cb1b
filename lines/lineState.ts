/**
 * The state of a phone line and the direction of its call: what `getLineStatus` reports, what
 * the line policy and the bridge joints act on, and what calls and transfer set. They live on
 * the `lines/` floor, which owns line state, so that no floor imports from one above it;
 * `engine/types.ts` re-exports them under their public path.
 * @module
 */

/** The state of a phone line, as `getLineStatus` reports it. */
export enum LineState {
  /** No call; the line can place or take one. */
  OnHook = 0,
  /** An outgoing call is being set up. */
  Dialing = 1,
  /** An incoming call is ringing on this line. */
  Ringing = 2,
  /** A call is connected. */
  InCall = 3,
  /** A connected call is on hold. */
  OnHold = 4,
  /** A connected call is in a conference. */
  InConference = 5,
  /** The call is being torn down. */
  Disconnecting = 6,
  /** The line is busied out by the application and takes no calls. */
  BusyOut = 7,
}

/** Direction of the call on a line. */
export enum CallDirection {
  /** No call on the line. */
  None = 0,
  /** The far end called us. */
  Incoming = 1,
  /** We placed the call. */
  Outgoing = 2,
}
