/**
 * One phone line: its configuration (names, busy-out, outgoing-only) and its state.
 * The call state machine grows here; the engine only routes to it.
 * @module
 */
import { CallDirection, LineState } from './lineState.js';
import { MediaFormatAudio } from '../media/audioFormat.js';
import type { Call } from './call.js';
import type { OpusSettings } from '../media/opus.js';
import type { SrtpPolicy } from '../sip/sdes.js';
import type { LineMedia, RawRtpData } from './lineMedia.js';
import { phoneDigits } from '../sip/telNumber.js';

/** A recorded state change (LanScape's call-state recording). */
export interface RecordedCallState {
  /** The state entered. */
  state: LineState;
  /** Milliseconds since the epoch. */
  time: number;
}

/** The conference group of a line that was given none (LanScape has a single conference). */
export const DEFAULT_CONFERENCE_GROUP = 'default';

/** Configuration and state of one line. */
export class PhoneLine {
  /** Current state. */
  state: LineState = LineState.OnHook;
  /** Direction of the current call. */
  callDirection: CallDirection = CallDirection.None;
  private regName: string | undefined;
  private regDigits: string | undefined;

  /** Name registered for this line (per-line registration), if any. */
  get registrationName(): string | undefined {
    return this.regName;
  }
  set registrationName(name: string | undefined) {
    this.regName = name;
    // worked out once here, not per line for every INVITE to a number (LinePolicy)
    this.regDigits = phoneDigits(name);
  }

  /** The registration name's dialable digits when it is a phone number (`+1-555-0100`: 15550100). */
  get registrationDigits(): string | undefined {
    return this.regDigits;
  }
  /** User part used in From/Contact for calls on this line (setPhoneName). */
  phoneName?: string;
  /** From header user override (setFromHeaderUserName). */
  fromUserName?: string;
  /** The line places calls but never takes incoming ones. */
  outgoingOnly = false;
  /** A call recording is running. */
  callRecordingActive = false;
  /** Whether state changes are recorded. */
  recordCallStates = false;
  /** The call on the line, if any. */
  call?: Call;
  /** Audio formats offered and accepted, in preference order (setAudioMediaFormats). */
  formats: MediaFormatAudio[] = [MediaFormatAudio.ULaw8k, MediaFormatAudio.ALaw8k, MediaFormatAudio.Opus48k, MediaFormatAudio.G722, MediaFormatAudio.G729, MediaFormatAudio.Gsm];
  /** Receive and transmit volume, 0..2048 (512 = 100 %). */
  volume = { rx: 512, tx: 512 };
  /** Received audio is sent back (setPhoneLineLoopBack). */
  loopback = false;
  /** Jitter buffer delay in ms and whether it is used. */
  jitter = { ms: 60, enabled: true };
  /** The `a=ptime` the line offers, ms (`setPacketTime`); unset: the packetTimeMs start parameter. */
  packetTimeMs?: number;
  /** SRTP policy of the line (`setSrtpPolicy`); unset: the srtpPolicy start parameter. */
  srtpPolicy?: SrtpPolicy;
  /** Opus settings of the line (`setOpusSettings`); empty means the codec defaults. */
  opusSettings: OpusSettings = {};
  /** Silence suppression on send (`setSilenceSuppression`): CN offered and sent in silence. */
  silenceSuppression = false;
  /** Media of the current call. */
  media?: LineMedia;
  /** Raw RTP access callback (enableRawRtpPacketAccess). */
  rawRtpCallback?: (d: RawRtpData) => void;
  private inConference = false;
  private early = false;
  /** Conference groups the line joins while conferenced (setConferenceGroupIds). */
  conferenceGroups: string[] = [DEFAULT_CONFERENCE_GROUP];
  /** Called after every state change (the engine's mixer follows the line through it). */
  onStateChange?: (line: PhoneLine) => void;
  private readonly history: RecordedCallState[] = [];

  /** @param index zero-based line number */
  constructor(readonly index: number) {}

  /** True when the line can take a new incoming call. */
  get availableForIncoming(): boolean {
    return this.state === LineState.OnHook && !this.outgoingOnly;
  }

  /** True when the line can place a new call. */
  get availableForOutgoing(): boolean {
    return this.state === LineState.OnHook;
  }

  /**
   * True while the call's early media runs (lines/earlyMedia.ts: an 18x answer at the caller,
   * our 183 at the callee): the mixer then treats the line as connected, so recording, the
   * conference and (for an outgoing call) the sound card hear it before the answer.
   */
  get earlyMedia(): boolean {
    return this.early && (this.state === LineState.Dialing || this.state === LineState.Ringing);
  }

  /** Early media started (or moved to another fork) on the line's call; the mixer follows at once. */
  startEarlyMedia(): void {
    this.early = true;
    this.onStateChange?.(this);
  }

  /** Moves to a state, recording it (as reported) when asked. */
  setState(state: LineState): void {
    this.state = state;
    if (state !== LineState.Dialing && state !== LineState.Ringing) this.early = false;
    if (state === LineState.OnHook || state === LineState.BusyOut) this.callDirection = CallDirection.None;
    if (this.recordCallStates) this.history.push({ state: this.reportedState, time: Date.now() });
    this.onStateChange?.(this);
  }

  /** The line is in the conference (conferenceLine); a connected call then reports InConference. */
  get conferenced(): boolean {
    return this.inConference;
  }

  set conferenced(on: boolean) {
    if (on === this.inConference) return;
    this.inConference = on;
    // joining or leaving changes the reported state of a connected call: record it like a state change
    if (this.state === LineState.InCall && this.recordCallStates) this.history.push({ state: this.reportedState, time: Date.now() });
  }

  /**
   * The state the application sees (getLineStatus, recorded states, metrics): InConference while
   * a connected call is in the conference, else {@link state}. `state` itself stays the call's
   * state (InCall, OnHold, ...), which the mixer and the call follow.
   */
  get reportedState(): LineState {
    return this.inConference && this.state === LineState.InCall ? LineState.InConference : this.state;
  }

  /** Recorded states in order. */
  recordedStates(): RecordedCallState[] {
    return this.history.slice();
  }

  /** Forgets recorded states. */
  clearRecordedStates(): void {
    this.history.length = 0;
  }
}
