/**
 * The bodies of the facade's mixer, recording and local audio procedures: the conference,
 * call recording, VU meters, the local loudspeaker's tones, echo cancellation and the capture
 * preprocessor (noise discrimination and suppression, AGC). Each checks its arguments in the
 * LanScape order and hands the work to the audio floor-keeper (engine/audio.ts). The facade
 * keeps each procedure's signature, TSDoc and guard.
 * @module
 */
import { PhoneLine } from '../lines/phoneLine.js';
import type { RecordCallback } from '../media/callRecorder.js';
import type { EngineAudio, LocalAudioStatisticsResult, VuMeterCallback } from './audio.js';
import { TelephonyReturnValue as T } from './returnCodes.js';
import type { RunningEngine } from './runningEngine.js';

/** The local tones that can be turned off. */
type Tone = 'ringBack' | 'busy' | 'error' | 'incomingRing';

/** Mixer, recording and local audio procedures of one run. */
export class LocalAudioProcedures {
  private readonly audio: EngineAudio;

  /** @param run the running engine */
  constructor(private readonly run: RunningEngine) {
    this.audio = run.audio;
  }

  /** SipMediaEngineNotInitialized once stopSipTelephony closed the audio (the rest of the run is going too). */
  private get closed(): T | undefined {
    return this.run.audioClosed ? T.SipMediaEngineNotInitialized : undefined;
  }

  /** The line a procedure names, while the audio is open. */
  private line(phoneLine: number): PhoneLine | T {
    const l = this.run.line(phoneLine);
    return l instanceof PhoneLine ? (this.closed ?? l) : l;
  }

  /** The shape of every on/off audio procedure: audio open, a boolean, then the keeper decides. */
  private toggle(on: unknown, apply: (on: boolean) => T): T {
    return this.closed ?? (typeof on === 'boolean' ? apply(on) : T.SipBadParameter);
  }

  /** conferenceLine. */
  conferenceLine(phoneLine: number, on: boolean): T {
    const l = this.line(phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    return this.toggle(on, (v) => this.audio.conferenceLine(l, v));
  }

  /** setConferenceGroupIds. */
  setConferenceGroupIds(phoneLine: number, ids: string[]): T {
    const l = this.line(phoneLine);
    return l instanceof PhoneLine ? this.audio.setConferenceGroupIds(l, ids) : l;
  }

  /** setPhoneLineVuMeterCallback. */
  setPhoneLineVuMeterCallback(phoneLine: number, callback: VuMeterCallback | null, intervalMs?: number): T {
    const l = this.line(phoneLine);
    return l instanceof PhoneLine ? this.audio.setVuMeterCallback(l, callback, intervalMs) : l;
  }

  /** startPhoneLineRecording. */
  startPhoneLineRecording(phoneLine: number, recordToFile: boolean, recordFileRaw: boolean, directory: string, callback?: RecordCallback): T {
    const l = this.line(phoneLine);
    return l instanceof PhoneLine ? this.audio.startRecording(l, recordToFile, recordFileRaw, directory, callback) : l;
  }

  /** stopPhoneLineRecording. */
  stopPhoneLineRecording(phoneLine: number): T {
    const l = this.line(phoneLine);
    return l instanceof PhoneLine ? this.audio.stopRecording(l) : l;
  }

  /** setLocalAudioLoopback. */
  setLocalAudioLoopback(on: boolean): T {
    return this.toggle(on, (v) => this.audio.setLocalAudioLoopback(v));
  }

  /** enableDialTone. */
  enableDialTone(on: boolean): T {
    return this.toggle(on, (v) => this.audio.enableDialTone(v));
  }

  /** enableRingBackTone, enableBusySignal, enableErrorSignal, enableIncomingRing. */
  enableTone(which: Tone, on: boolean): T {
    return this.toggle(on, (v) => this.audio.setToneEnabled(which, v));
  }

  /** enableEchoCancellation. */
  enableEchoCancellation(on: boolean): T {
    return this.toggle(on, (v) => this.audio.echoCancellation(v));
  }

  /** getLocalAudioStatistics. */
  getLocalAudioStatistics(): LocalAudioStatisticsResult {
    const closed = this.closed;
    return closed === undefined ? this.audio.localStats() : { result: closed };
  }

  /** setNoiseDiscriminationEnableState. */
  setNoiseDiscriminationEnableState(on: boolean): T {
    return this.toggle(on, (v) => this.audio.noise((_pp, port) => port.setNoiseDiscrimination(v)));
  }

  /** setNoiseThreshold (dBFS, −96..0). */
  setNoiseThreshold(db: number): T {
    if (this.closed) return this.closed;
    if (typeof db !== 'number' || !Number.isFinite(db) || db < -96 || db > 0) return T.SipBadParameter;
    return this.audio.noise((pp) => pp.setNoiseThreshold(db));
  }

  /** enableNoiseSuppression. */
  enableNoiseSuppression(on: boolean): T {
    return this.toggle(on, (v) => this.audio.noise((pp) => pp.setDenoise(v)));
  }

  /** enableAutomaticGainControl. */
  enableAutomaticGainControl(on: boolean): T {
    return this.toggle(on, (v) => this.audio.noise((pp) => pp.setAgc(v)));
  }

  /** setSilenceDecay (0..5000 ms). */
  setSilenceDecay(ms: number): T {
    if (this.closed) return this.closed;
    if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > 5000) return T.SipBadParameter;
    return this.audio.noise((pp) => pp.setSilenceDecay(ms));
  }
}
