/**
 * The bodies of the facade's line procedures: a line's state and call-state recording, its
 * names, busy-out and outgoing-only, and how incoming calls are spread over the lines. The
 * facade keeps each procedure's signature, TSDoc and guard; the rules between lines are in
 * engine/linePolicy.ts.
 * @module
 */
import { PhoneLine } from '../lines/phoneLine.js';
import { isSipUser } from './hosts.js';
import type { LineStatusResult, NumPhoneLinesResult, RecordedCallStatesResult } from './results.js';
import { idleLineStatus } from './results.js';
import { TelephonyReturnValue as T } from './returnCodes.js';
import type { RunningEngine } from './runningEngine.js';

/** Line procedures of one run. */
export class LineProcedures {
  /** @param run the running engine */
  constructor(private readonly run: RunningEngine) {}

  /**
   * The common shape of a line setting: the line, then the value's check, then the change.
   * `valid` is a type guard, so `apply` gets the value in its checked type.
   */
  private set<V>(phoneLine: number, value: unknown, valid: (v: unknown) => v is V, apply: (line: PhoneLine, v: V) => T | void): T {
    const l = this.run.line(phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (!valid(value)) return T.SipBadParameter;
    return apply(l, value) ?? T.SipSuccess;
  }

  /** getNumPhoneLines. */
  getNumPhoneLines(): NumPhoneLinesResult {
    return { result: T.SipSuccess, numPhoneLines: this.run.lines.length };
  }

  /** getLineStatus. */
  getLineStatus(phoneLine: number): LineStatusResult {
    const l = this.run.line(phoneLine);
    if (!(l instanceof PhoneLine)) return idleLineStatus(l);
    return { result: T.SipSuccess, state: l.reportedState, callDirection: l.callDirection, callRecordingActive: l.callRecordingActive };
  }

  /** busyOutLine (engine/linePolicy.ts). */
  busyOutLine(phoneLine: number, on: boolean): T {
    return this.set(phoneLine, on, isBoolean, (l, v) => this.run.linePolicy.busyOut(l, v));
  }

  /** setOutgoingLineOnly. */
  setOutgoingLineOnly(phoneLine: number, on: boolean): T {
    return this.set(phoneLine, on, isBoolean, (l, v) => {
      l.outgoingOnly = v;
    });
  }

  /** setPhoneName. */
  setPhoneName(phoneLine: number, name: string): T {
    return this.set(phoneLine, name, isSipUser, (l, v) => {
      l.phoneName = v;
    });
  }

  /** setFromHeaderUserName. */
  setFromHeaderUserName(phoneLine: number, name: string): T {
    return this.set(phoneLine, name, isSipUser, (l, v) => {
      l.fromUserName = v;
    });
  }

  /** randomlyAssignIncomingCallsToPhoneLines. */
  randomlyAssignIncomingCallsToPhoneLines(on: boolean): T {
    if (!isBoolean(on)) return T.SipBadParameter;
    this.run.linePolicy.randomAssign = on;
    return T.SipSuccess;
  }

  /** setCallStateRecording. */
  setCallStateRecording(phoneLine: number, on: boolean): T {
    return this.set(phoneLine, on, isBoolean, (l, v) => {
      l.recordCallStates = v;
    });
  }

  /** getRecordedCallStates. */
  getRecordedCallStates(phoneLine: number): RecordedCallStatesResult {
    const l = this.run.line(phoneLine);
    if (!(l instanceof PhoneLine)) return { result: l, states: [] };
    return { result: T.SipSuccess, states: l.recordedStates() };
  }

  /** clearRecordedCallStates. */
  clearRecordedCallStates(phoneLine: number): T {
    const l = this.run.line(phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    l.clearRecordedStates();
    return T.SipSuccess;
  }
}

/** A boolean argument. */
export function isBoolean(v: unknown): v is boolean {
  return typeof v === 'boolean';
}
