/**
 * The engine's audio floor-keeper: the conference bridge and the lines' ports in it
 * ({@link LineMixer}), the local sound card (opened lazily through naudiodon, with libspeexdsp's
 * echo canceller and noise handling on its capture), call recordings, VU meter callbacks and
 * the call-progress tones on the local device. `VoipMediaEngine` routes the mixer, device and
 * recording procedures here; every method returns a code and never throws.
 * @module
 */
import path from 'node:path';
import fs from 'node:fs';
import { LineMixer } from '../lines/lineMixer.js';
import type { LineRecording } from '../lines/lineMedia.js';
import type { PhoneLine } from '../lines/phoneLine.js';
import { LocalAudioPort, type LocalAudioPortStats } from '../mixer/localAudioPort.js';
import { speexEdgeResamplers } from '../mixer/edgeResamplers.js';
import type { MixerRate } from '../mixer/index.js';
import { listAudioDevices, openLocalAudio, type AudioDeviceInfo, type LocalAudioStats, type LocalToneName } from '../media/audioDevice.js';
import { CallRecorder, type RecordCallback } from '../media/callRecorder.js';
import type { MediaPump } from '../media/mediaPump.js';
import type { MediaLevels } from '../media/session.js';
import { speexDspStatus } from '../ffi/speexdsp.js';
import type { Clock, TimerHandle } from '../sip/clock.js';
import { TelephonyReturnValue as T } from './returnCodes.js';
import { LineState, SIP_AUDIO_DEVICE_NOT_USED } from './types.js';

/** Levels passed to a VU meter callback (16-bit sample units: full scale is 32767). */
export interface VuMeterData {
  /** Zero-based phone line. */
  phoneLine: number;
  /** Peak of the received audio over the interval. */
  rxPeak: number;
  /** RMS of the received audio over the interval. */
  rxRms: number;
  /** Peak of the sent audio over the interval. */
  txPeak: number;
  /** RMS of the sent audio over the interval. */
  txRms: number;
}

/** VU meter callback of `setPhoneLineVuMeterCallback`. A throw is caught and ignored. */
export type VuMeterCallback = (levels: VuMeterData) => void;

/** Automatic call-progress tones on the local device (the `enable*` procedures). */
export interface LocalToneSettings {
  /** Ring-back while an outgoing call rings. */
  ringBack: boolean;
  /** Busy signal when the far end is busy. */
  busy: boolean;
  /** Error (reorder) tone when a call fails. */
  error: boolean;
  /** Ringing on the local speaker for an incoming call. */
  incomingRing: boolean;
}

/** Result of `getAudioDeviceList`. */
export interface AudioDeviceListResult {
  /** SipSuccess, or SipNativeLibraryMissing when naudiodon or ALSA cannot be loaded. */
  result: T;
  /** The devices PortAudio sees (empty on failure). */
  devices: AudioDeviceInfo[];
  /** Why the list is empty, on failure. */
  reason?: string;
}

/** Result of `getLocalAudioStatistics`. */
export interface LocalAudioStatisticsResult {
  /** SipSuccess, or SipAudioOutFailure when the engine has no local device. */
  result: T;
  /** The device's ring counters (frames captured, played, underruns…). */
  device?: LocalAudioStats;
  /** The capture processing: echo canceller, preprocessor, noise decisions. */
  processing?: LocalAudioPortStats;
}

/** What the audio keeper needs from the engine. */
export interface EngineAudioHost {
  /** Queue a line notification. */
  notifyLine(phoneLine: number, event: T, data?: object): void;
  /** The engine's clock, for the signal tones' stop timer. */
  readonly clock: Clock;
}

/** Settings the audio keeper takes from the start parameters. */
export interface EngineAudioParams {
  /** The bridge's mixing rate. */
  conferenceSampleRate: MixerRate;
  /** Capture device id (SIP_AUDIO_DEVICE_NOT_USED: none). */
  zeroBasedAudioInDeviceId: number;
  /** Playback device id. */
  zeroBasedAudioOutDeviceId: number;
  /** Recording allowed. */
  enablePhoneLineRecording: boolean;
  /** Recording files mixed to one channel (default) or stereo (left received, right sent). */
  recordingChannels?: 'mixed' | 'stereo';
  /** Conferencing allowed. */
  callConferenceEnabled: boolean;
}

/** Seconds the busy and error tones play before stopping by themselves. */
const SIGNAL_SECONDS = 4;
/** Longest conference group id, and most groups per line. */
const MAX_GROUP_ID = 64;
const MAX_GROUPS = 16;

interface Recording {
  recorder: LineRecording;
  line: PhoneLine;
}

interface VuTap {
  cb: VuMeterCallback;
  everyTicks: number;
  count: number;
  data: VuMeterData;
}

/** One per started engine. */
export class EngineAudio {
  /** The lines' mixer. */
  readonly mixer: LineMixer;
  private device: LocalAudioPort | null = null;
  private readonly recordings = new Map<PhoneLine, Recording>();
  private readonly vu = new Map<PhoneLine, VuTap>();
  private readonly tones: LocalToneSettings = { ringBack: true, busy: true, error: true, incomingRing: true };
  private toneTimer: TimerHandle | undefined;
  private dialTone = false;
  private readonly clock: Clock;

  private constructor(
    private readonly host: EngineAudioHost,
    private readonly params: EngineAudioParams,
    private readonly lines: readonly PhoneLine[],
    pump: MediaPump,
  ) {
    this.clock = host.clock;
    this.mixer = new LineMixer({ pump, rate: params.conferenceSampleRate, resamplerFactory: speexEdgeResamplers() });
    for (const l of lines) {
      this.mixer.track(l);
      l.onStateChange = (line) => this.lineChanged(line);
    }
  }

  /**
   * Create the bridge as the mixing phase of `pump` and open the local device when the
   * parameters name one (it becomes a node of the pump, like the lines).
   * @returns the keeper, or SipAudioInFailure / SipAudioOutFailure / SipNativeLibraryMissing
   *   when a requested device cannot be opened.
   */
  static async start(host: EngineAudioHost, params: EngineAudioParams, lines: readonly PhoneLine[], pump: MediaPump): Promise<EngineAudio | T> {
    const a = new EngineAudio(host, params, lines, pump);
    const inId = params.zeroBasedAudioInDeviceId;
    const outId = params.zeroBasedAudioOutDeviceId;
    if (inId === SIP_AUDIO_DEVICE_NOT_USED && outId === SIP_AUDIO_DEVICE_NOT_USED) return a;
    const opened = await openLocalAudio({ inDeviceId: inId, outDeviceId: outId, sampleRate: params.conferenceSampleRate });
    if (!opened.ok) {
      a.close();
      if (/naudiodon|libasound|backend/i.test(opened.reason)) return T.SipNativeLibraryMissing;
      return inId !== SIP_AUDIO_DEVICE_NOT_USED && /captur|input/i.test(opened.reason) ? T.SipAudioInFailure : T.SipAudioOutFailure;
    }
    a.device = LocalAudioPort.attach(opened.audio, a.mixer.bridge, pump);
    a.mixer.setDevice(a.device);
    return a;
  }

  // ------------------------------------------------------------------ line events

  private lineChanged(line: PhoneLine): void {
    const ended = line.state === LineState.OnHook || line.state === LineState.Disconnecting;
    const leaves = ended && line.conferenced;
    if (leaves) line.conferenced = false;
    this.mixer.update(line);
    line.media?.setHeld(line.state === LineState.OnHold);
    if (ended) {
      if (leaves) this.host.notifyLine(line.index, T.SipInConferenceOff);
      void this.finishRecording(line);
    } else if (LineMixer.connected(line)) {
      // a new media session (or a codec change): taps follow it
      const v = this.vu.get(line);
      if (v !== undefined) this.attachVu(line, v);
    }
  }

  /** Line notifications, for the automatic local tones. */
  onLineEvent(event: T): void {
    const d = this.device?.device;
    if (!d || !d.playing) return;
    switch (event) {
      case T.SipStartOutgoingRing:
        if (this.tones.ringBack) this.play('ringback');
        return;
      case T.SipStartIncomingRing:
        if (this.tones.incomingRing) this.play('incomingRing');
        return;
      case T.SipFarEndIsBusy:
        if (this.tones.busy) this.play('busy', SIGNAL_SECONDS);
        return;
      case T.SipFarEndError:
        if (this.tones.error) this.play('error', SIGNAL_SECONDS);
        return;
      case T.SipEarlyMedia: // the far end's own ringback or announcement replaces ours
      case T.SipOutgoingCallConnected:
      case T.SipIncomingCallConnected:
      case T.SipIncomingCallAborted:
      case T.SipCallComplete:
        if (!this.dialTone && this.toneTimer === undefined) d.stopTone();
        return;
    }
  }

  private play(tone: LocalToneName, seconds?: number): void {
    const d = this.device?.device;
    if (!d) return;
    this.clock.clearTimer(this.toneTimer);
    this.toneTimer = undefined;
    d.playTone(tone);
    if (seconds !== undefined) {
      // The real clock's timers are unref'd: a busy tone never keeps the process alive.
      this.toneTimer = this.clock.setTimer(seconds * 1000, () => {
        this.toneTimer = undefined;
        if (this.dialTone) d.playTone('dial');
        else d.stopTone();
      });
    }
  }

  // ------------------------------------------------------------------ conference

  /** conferenceLine: join or leave the conference. */
  conferenceLine(line: PhoneLine, on: boolean): T {
    if (!this.params.callConferenceEnabled) return T.SipNotEnabled;
    if (on === line.conferenced) return on ? T.SipInConference : T.SipSuccess;
    if (on && !LineMixer.connected(line)) return T.SipNoCallActive;
    line.conferenced = on;
    this.mixer.update(line);
    this.host.notifyLine(line.index, on ? T.SipInConferenceOn : T.SipInConferenceOff);
    return T.SipSuccess;
  }

  /** setConferenceGroupIds: which groups the line joins while conferenced. */
  setConferenceGroupIds(line: PhoneLine, ids: unknown): T {
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_GROUPS) return T.SipBadParameter;
    for (const id of ids) {
      if (typeof id !== 'string' || id.length === 0 || id.length > MAX_GROUP_ID || id.includes('\u0000')) return T.SipBadParameter;
    }
    line.conferenceGroups = [...new Set(ids as string[])];
    this.mixer.update(line);
    return T.SipSuccess;
  }

  // ------------------------------------------------------------------ local device

  /** setLocalAudioLoopback: microphone to loudspeaker. */
  setLocalAudioLoopback(on: boolean): T {
    if (this.device === null) return T.SipAudioOutFailure;
    this.device.setLoopback(on);
    return T.SipSuccess;
  }

  /** enableDialTone: play or stop dial tone on the local device now. */
  enableDialTone(on: boolean): T {
    const d = this.device?.device;
    if (!d || !d.playing) return T.SipAudioOutFailure;
    this.dialTone = on;
    if (on) d.playTone('dial');
    else d.stopTone();
    return T.SipSuccess;
  }

  /** The automatic tone switches. */
  setToneEnabled(which: keyof LocalToneSettings, on: boolean): T {
    this.tones[which] = on;
    if (!on) this.device?.device.stopTone();
    return T.SipSuccess;
  }

  /** Noise discrimination on the local capture (LanScape's three settings). */
  noise(apply: (pp: NonNullable<LocalAudioPort['preprocessor']>, port: LocalAudioPort) => void): T {
    if (!speexDspStatus().ok) return T.SipNativeLibraryMissing;
    const d = this.device;
    if (d === null || d.preprocessor === null) return T.SipAudioInFailure;
    apply(d.preprocessor, d);
    return T.SipSuccess;
  }

  /** enableEchoCancellation. */
  echoCancellation(on: boolean): T {
    if (!speexDspStatus().ok) return T.SipNativeLibraryMissing;
    const d = this.device;
    if (d === null) return T.SipAudioInFailure;
    return d.setEchoCancellation(on) ? T.SipSuccess : T.SipAudioInFailure;
  }

  /** getAudioDeviceList. */
  static async deviceList(): Promise<AudioDeviceListResult> {
    const r = await listAudioDevices();
    if (!r.ok) return { result: T.SipNativeLibraryMissing, devices: [], reason: r.reason };
    return { result: T.SipSuccess, devices: [...r.devices] };
  }

  /** getLocalAudioStatistics. */
  localStats(): LocalAudioStatisticsResult {
    const d = this.device;
    if (d === null) return { result: T.SipAudioOutFailure };
    return { result: T.SipSuccess, device: d.device.stats(), processing: d.stats() };
  }

  // ------------------------------------------------------------------ VU meters

  /** setPhoneLineVuMeterCallback. */
  setVuMeterCallback(line: PhoneLine, cb: unknown, intervalMs: unknown): T {
    if (cb === null || cb === undefined) {
      this.vu.delete(line);
      line.media?.setLevelTap(null);
      return T.SipSuccess;
    }
    if (typeof cb !== 'function') return T.SipBadParameter;
    const ms = intervalMs === undefined ? 100 : intervalMs;
    if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 20 || ms > 10_000) return T.SipBadParameter;
    const tap: VuTap = {
      cb: cb as VuMeterCallback,
      everyTicks: Math.max(1, Math.round(ms / 20)),
      count: 0,
      data: { phoneLine: line.index, rxPeak: 0, rxRms: 0, txPeak: 0, txRms: 0 },
    };
    this.vu.set(line, tap);
    if (line.media) this.attachVu(line, tap);
    return T.SipSuccess;
  }

  private attachVu(line: PhoneLine, tap: VuTap): void {
    let sumRx = 0;
    let sumTx = 0;
    line.media!.setLevelTap((lv: MediaLevels) => {
      const d = tap.data;
      if (tap.count === 0) d.rxPeak = d.txPeak = sumRx = sumTx = 0;
      if (lv.rxPeak > d.rxPeak) d.rxPeak = lv.rxPeak;
      if (lv.txPeak > d.txPeak) d.txPeak = lv.txPeak;
      sumRx += lv.rxRms * lv.rxRms;
      sumTx += lv.txRms * lv.txRms;
      if (++tap.count < tap.everyTicks) return;
      d.rxRms = Math.sqrt(sumRx / tap.count);
      d.txRms = Math.sqrt(sumTx / tap.count);
      tap.count = 0;
      try {
        tap.cb(d);
      } catch {
        /* the application's callback must not stop the media */
      }
    });
  }

  // ------------------------------------------------------------------ recording

  /** startPhoneLineRecording. */
  startRecording(line: PhoneLine, recordToFile: unknown, recordFileRaw: unknown, directory: unknown, callback: unknown): T {
    if (!this.params.enablePhoneLineRecording) return T.SipCallRecordNotEnabled;
    if (typeof recordToFile !== 'boolean' || typeof recordFileRaw !== 'boolean') return T.SipBadParameter;
    if (callback !== undefined && callback !== null && typeof callback !== 'function') return T.SipBadParameter;
    if (!recordToFile && typeof callback !== 'function') return T.SipBadParameter;
    if (this.recordings.has(line)) return T.SipCallRecordAlreadyStarted;
    const media = line.media;
    if (!media || !LineMixer.connected(line)) return T.SipNoCallActive;
    let file: string | null = null;
    if (recordToFile) {
      if (typeof directory !== 'string' || directory.length === 0) return T.SipBadParameter;
      try {
        if (!fs.statSync(directory).isDirectory()) return T.SipCallRecordFilenameNotCreated;
      } catch {
        return T.SipCallRecordFilenameNotCreated;
      }
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      file = path.join(path.resolve(directory), `line${line.index}-${stamp}.${recordFileRaw ? 'raw' : 'wav'}`);
    }
    const rate = media.sampleRate as 8000 | 16000 | 48000;
    const options = {
      phoneLine: line.index,
      path: file,
      raw: recordFileRaw,
      sampleRate: rate,
      channels: this.params.recordingChannels === 'stereo' ? (2 as const) : (1 as const),
      ...(typeof callback === 'function' ? { callback: callback as RecordCallback } : {}),
      onError: (reason: string) => this.host.notifyLine(line.index, T.SipCallRecordFileWriteError, { path: file, reason }),
    };
    // a media worker records where the call's frames are (engine/mediaWorkers.ts)
    const opened = media.openRecorder?.(options) ?? CallRecorder.open(options);
    // a recorder has stop(); the refusal is a bare { error }
    if (!('stop' in opened)) return T.SipCallRecordFilenameNotCreated;
    this.recordings.set(line, { recorder: opened, line });
    media.setRecorder(opened);
    line.callRecordingActive = true;
    this.host.notifyLine(line.index, T.SipCallRecordActive, { path: file, sampleRate: rate, raw: recordFileRaw });
    return T.SipSuccess;
  }

  /** stopPhoneLineRecording. */
  stopRecording(line: PhoneLine): T {
    if (!this.recordings.has(line)) return T.SipCallRecordAlreadyStopped;
    void this.finishRecording(line);
    return T.SipSuccess;
  }

  private async finishRecording(line: PhoneLine): Promise<void> {
    const r = this.recordings.get(line);
    if (r === undefined) return;
    this.recordings.delete(line);
    line.media?.setRecorder(null);
    line.callRecordingActive = false;
    const result = await r.recorder.stop();
    this.host.notifyLine(line.index, T.SipCallRecordComplete, {
      path: result.path,
      samples: result.samples,
      sampleRate: result.sampleRate,
      ...(result.error !== undefined ? { error: result.error } : {}),
    });
  }

  /** Stop recordings, leave the pump, close the device. */
  async stop(): Promise<void> {
    this.clock.clearTimer(this.toneTimer);
    this.toneTimer = undefined;
    await Promise.all([...this.recordings.keys()].map((l) => this.finishRecording(l)));
    this.close();
    const d = this.device;
    this.device = null;
    if (d) await d.close();
  }

  private close(): void {
    this.mixer.setDevice(null);
    this.mixer.close();
    for (const l of this.lines) l.onStateChange = undefined;
  }
}
