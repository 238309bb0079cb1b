/**
 * Joins a phone line to a media session: opens the session with the line's settings (volume,
 * loopback, jitter, raw RTP access), maps negotiated SDP onto media parameters, and maps the
 * line's audio formats onto SDP format specs.
 * @module
 */
import type { Readable, Writable } from 'node:stream';
import { probeWav, type WavLoadResult } from '../media/wavPlayer.js';
import type { MediaClock } from '../media/mediaClock.js';
import type { MediaPump } from '../media/mediaPump.js';
import type { DuplexMediaSink } from '../media/mediaPorts.js';
import type { RtpPortAllocator } from '../media/rtpSocket.js';
import { MediaSession, type MediaFramePort, type MediaSessionStats, type MediaLevels, type MediaParams, type RawRtpData } from '../media/session.js';
import type { RtpCounters } from '../media/rtpCounters.js';
import { annexBRefused, defaultFormat, type AudioCodecName, type AudioFormatSpec, type NegotiatedMedia } from '../sip/sdp.js';
import { MediaFormatAudio } from '../media/audioFormat.js';
import { IvrRxStream, IvrTxStream } from '../media/ivr.js';
import { isCodecAvailable } from '../media/codecs.js';
import { opusFmtp, type OpusSettings } from '../media/opus.js';
import type { CallRecorderOptions, RecordingResult } from '../media/callRecorder.js';
import type { FloorOpenOptions } from '../media/mediaFloorProtocol.js';
import type { CallMedia } from './call.js';
import type { PhoneLine } from './phoneLine.js';

export type { RawRtpData };

/** The SDP codec of each engine audio format. */
export const AUDIO_FORMAT_CODECS: Readonly<Record<MediaFormatAudio, AudioCodecName>> = {
  [MediaFormatAudio.ULaw8k]: 'PCMU',
  [MediaFormatAudio.ALaw8k]: 'PCMA',
  [MediaFormatAudio.Opus48k]: 'opus',
  [MediaFormatAudio.G722]: 'G722',
  [MediaFormatAudio.G729]: 'G729',
  [MediaFormatAudio.Gsm]: 'GSM',
  [MediaFormatAudio.G726_32]: 'G726-32',
};

/** Whether `f` is one of the {@link MediaFormatAudio} values a line can use. */
export function isAudioFormat(f: unknown): f is MediaFormatAudio {
  return typeof f === 'number' && Object.prototype.hasOwnProperty.call(AUDIO_FORMAT_CODECS, f);
}

/**
 * SDP format specs of a line's formats, in its preference order, leaving out codecs whose native
 * library does not load here (G.729 without libbcg729, Opus without its binding): those are
 * neither offered nor accepted, and the line still works with the rest. `opus`: the line's Opus
 * settings, written into the Opus `a=fmtp`.
 */
export function formatSpecs(formats: readonly MediaFormatAudio[], opus?: OpusSettings): AudioFormatSpec[] {
  return formats
    .filter(isAudioFormat)
    .map((f) => AUDIO_FORMAT_CODECS[f])
    .filter((name) => isCodecAvailable(name))
    .map((name) => {
      const spec = defaultFormat(name);
      // our Opus fmtp states the line's settings (RFC 7587 §6.1)
      if (name === 'opus' && opus !== undefined) spec.fmtp = opusFmtp(opus);
      return spec;
    });
}

/** Media parameters of the session from the result of an offer/answer. */
export function mediaParamsOf(n: NegotiatedMedia): MediaParams {
  return {
    remoteAddress: n.remoteAddress,
    remotePort: n.remotePort,
    remoteRtcpPort: n.remoteRtcpPort,
    codec: n.codec.name,
    payloadType: n.codec.payloadType,
    receivePayloadType: n.receivePayloadType,
    telephoneEvent: n.telephoneEvent
      ? { payloadType: n.telephoneEvent.payloadType, receivePayloadType: n.telephoneEvent.receivePayloadType, clockRate: n.telephoneEvent.clockRate }
      : undefined,
    sending: n.sending,
    receiving: n.receiving,
    rtcpMux: n.rtcpMux,
    ptime: n.ptime,
    ...(n.comfortNoisePayloadType !== undefined ? { comfortNoisePayloadType: n.comfortNoisePayloadType } : {}),
    ...(n.comfortNoiseAgreed === true ? { comfortNoiseSendPayloadType: n.comfortNoisePayloadType } : {}),
    ...(n.codec.name === 'G729' && annexBRefused(n.codec.fmtp) ? { annexB: false } : {}),
    ...(n.codec.name === 'opus' ? { remoteFmtp: n.codec.fmtp ?? '' } : {}),
    ...(n.srtp !== undefined
      ? {
          srtp: {
            suite: n.srtp.suite,
            sendKey: n.srtp.localKey,
            receiveKey: n.srtp.remoteKey,
            ...(n.srtp.remoteMki !== undefined ? { receiveMki: n.srtp.remoteMki } : {}),
          },
        }
      : {}),
  };
}

/** The media of a line's call: what the call needs plus the line procedures. */
export interface LineMedia extends CallMedia {
  /** Sends DTMF; false for invalid digits. */
  sendDtmf(digits: string, method: 'rfc4733' | 'inband'): boolean;
  /** Receive and transmit volume, 0..2048. */
  setVolume(rx: number, tx: number): void;
  /** Echo received audio back. */
  setLoopback(on: boolean): void;
  /** Jitter buffer target delay. */
  setJitter(ms: number): void;
  /** Opus encoder settings (validated by the caller). */
  setOpusSettings(s: OpusSettings): void;
  /** Jitter buffer on/off. */
  enableJitter(on: boolean): void;
  /** Silence suppression on send (VAD and RFC 3389 CN, Opus DTX, G.729 Annex B). */
  setSilenceSuppression(on: boolean): void;
  /** Raw RTP access callback. */
  setRawRtpAccess(cb: ((d: RawRtpData) => void) | undefined): void;
  /** Statistics snapshot. */
  stats(): MediaSessionStats;
  /**
   * The call's RTP counters at most 250 ms old, without waiting on another thread (a media floor
   * copies them to the call's slot); absent where `stats()` is already immediate. For
   * whole-engine reads such as a metrics scrape, which would otherwise wait on a floor per call.
   */
  rtpCounters?(): RtpCounters;
  /** RTP keep-alive interval while not sending (0 = off). */
  setKeepAlive(ms: number): void;
  /**
   * Starts playing a WAV file. The header is checked at once (a few KiB, so a missing or bad
   * file gives its result now); the file is then read, decoded and converted once, without
   * blocking, and plays from memory. A failure after `ok` goes to `onFailed`.
   */
  playWave(path: string, loop: boolean, onFailed?: (result: Exclude<WavLoadResult, 'ok'>) => void): WavLoadResult;
  /** Stops the WAV file. */
  stopWave(): void;
  /** Stream of received audio. */
  openRx(rate: 8000 | 16000 | 48000): Readable;
  /** Stream of audio to send; with `onHold` it plays only while we hold the call. */
  openTx(rate: 8000 | 16000 | 48000, onHold?: boolean): Writable;
  /** We hold the call (on-hold Tx channels play, the others pause). */
  setHeld(on: boolean): void;
  /** The codec's sample rate (0 before negotiation). */
  readonly sampleRate: number;
  /** Connects the line to its conference port (null disconnects). */
  setFramePort(port: MediaFramePort | null): void;
  /** The call's recorder, a sink of both directions (null detaches it). */
  setRecorder(recorder: DuplexMediaSink | null): void;
  /** Per-tick level tap for VU meters (null removes it). */
  setLevelTap(tap: ((levels: MediaLevels) => void) | null): void;
  /**
   * A recorder where the media runs (a media worker writes its own file); absent: the caller
   * opens a CallRecorder on the main thread.
   */
  openRecorder?(o: CallRecorderOptions): LineRecording;
}

/** What {@link LineMedia.openRecorder} gives: a sink for `setRecorder` plus its stop. */
export interface LineRecording extends DuplexMediaSink {
  /** Ends the recording; resolves with what was written. */
  stop(): Promise<RecordingResult>;
}

/** Where calls' media run when not on the main thread: engine/mediaWorkers.ts's MediaFloors. */
export interface LineMediaFloors {
  /** Opens a call's media on one of the floors; undefined when none could. */
  open(line: PhoneLine, o: FloorOpenOptions, cb: Pick<OpenLineMediaOptions, 'onDtmf' | 'onMediaConflict' | 'onHandlerError'>): Promise<LineMedia | undefined>;
}

/** Options of {@link openLineMedia}. */
export interface OpenLineMediaOptions {
  /** Media workers: the call's media opens on one of them (the clock, pump and allocator are then unused). */
  floors?: LineMediaFloors | undefined;
  /** The engine's media clock. */
  clock: MediaClock;
  /** The engine's media pump: the session runs in its produce and consume phases. */
  pump?: MediaPump;
  /** The engine's RTP port allocator. */
  allocator: RtpPortAllocator;
  /** Address to bind RTP to. */
  localAddress: string;
  /** The line. */
  line: PhoneLine;
  /** In-band DTMF detection on received audio. */
  dtmfDetect: boolean;
  /** RTP keep-alive interval while not sending (0 = off). */
  rtpKeepAliveMs: number;
  /** A DTMF digit was received. */
  onDtmf: (digit: string, method: 'rfc4733' | 'inband') => void;
  /** RTP arrived from an unexpected source. */
  onMediaConflict: (address: string, port: number) => void;
  /** A non-looping WAV file played to its end (not when stopped or replaced). */
  onWaveEnd?: (path: string) => void;
  /** A media handler or callback threw (reported on the 1st, 2nd, 4th ... failure). */
  onHandlerError?: (err: unknown, count: number) => void;
}

/** Opens the media session of a call on a line; undefined when no RTP port could be had. */
export async function openLineMedia(o: OpenLineMediaOptions): Promise<LineMedia | undefined> {
  const line = o.line;
  if (o.floors !== undefined) {
    const fo: FloorOpenOptions = {
      localAddress: o.localAddress,
      dtmfDetect: o.dtmfDetect,
      jitterMs: line.jitter.ms,
      jitterEnabled: line.jitter.enabled,
      cname: `line${line.index}@${o.localAddress}`,
      volume: line.volume,
      loopback: line.loopback,
      keepAliveMs: o.rtpKeepAliveMs,
      opus: line.opusSettings,
      suppression: line.silenceSuppression,
      phoneLine: line.index,
    };
    const media = await o.floors.open(line, fo, o);
    if (media !== undefined && line.rawRtpCallback) media.setRawRtpAccess(line.rawRtpCallback);
    return media;
  }
  const opened = await MediaSession.open({
    clock: o.clock,
    ...(o.pump !== undefined ? { pump: o.pump } : {}),
    allocator: o.allocator,
    localAddress: o.localAddress,
    dtmfDetect: o.dtmfDetect,
    jitterMs: line.jitter.ms,
    jitterEnabled: line.jitter.enabled,
    cname: `line${line.index}@${o.localAddress}`,
    onDtmf: o.onDtmf,
    onMediaConflict: o.onMediaConflict,
    ...(o.onWaveEnd ? { onWaveEnd: o.onWaveEnd } : {}),
    ...(o.onHandlerError ? { onHandlerError: o.onHandlerError } : {}),
  });
  if (!(opened instanceof MediaSession)) return undefined;
  const s = opened;
  s.setVolume(line.volume.rx, line.volume.tx);
  s.setLoopback(line.loopback);
  if (line.rawRtpCallback) s.setRawRtpAccess(line.rawRtpCallback);
  if (o.rtpKeepAliveMs > 0) s.setKeepAlive(o.rtpKeepAliveMs);
  s.setOpusSettings(line.opusSettings);
  s.setSilenceSuppression(line.silenceSuppression);
  return new SessionLineMedia(s, line);
}

/**
 * A line's media on a session. A class rather than an object of closures: its methods live on
 * the prototype, so an active call costs one small object here instead of one closure per method
 * (the heap per call, `bench:calls heap`).
 *
 * Once stopped it gives its session back for the next call ({@link MediaSession.release}, as a
 * media floor does): at a high call rate a new session per call was about 9 KB of garbage that
 * lived long enough to be promoted. Whoever still holds this object after the call (the bridge
 * detaching its port, a recorder, a late statistics read) then meets what a stopped session
 * answers, from the figures kept at the release, and never the session of another call.
 */
class SessionLineMedia implements LineMedia {
  private stopped = false;
  /** The session until it was released; then null. */
  private s: MediaSession | null;
  /** What the released session last said: its statistics, packets in, port and rate. */
  private ended: { stats: MediaSessionStats; packetsIn: number; localPort: number; sampleRate: number } | undefined;

  constructor(
    session: MediaSession,
    private readonly line: PhoneLine,
  ) {
    this.s = session;
  }

  get localPort(): number {
    return this.s?.localPort ?? this.ended!.localPort;
  }
  get sampleRate(): number {
    return this.s?.sampleRate ?? this.ended!.sampleRate;
  }
  configure(n: NegotiatedMedia): boolean {
    return this.s?.configure(mediaParamsOf(n)) ?? false;
  }
  start(): void {
    this.s?.start();
  }
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.line.media === this) this.line.media = undefined;
    const s = this.s!;
    await s.stop();
    // after the task that stopped it (as a floor does): what ran with the stop reads it first
    setImmediate(() => {
      this.ended = { stats: s.stats(), packetsIn: s.mediaPacketsIn, localPort: s.localPort, sampleRate: s.sampleRate };
      this.s = null;
      s.release();
    });
  }
  sendDtmf(digits: string, method: 'rfc4733' | 'inband'): boolean {
    return this.s !== null && this.s.sendDtmf(digits, method) !== 'invalid';
  }
  setVolume(rx: number, tx: number): void {
    this.s?.setVolume(rx, tx);
  }
  setLoopback(on: boolean): void {
    this.s?.setLoopback(on);
  }
  setJitter(ms: number): void {
    this.s?.setJitter(ms);
  }
  setOpusSettings(settings: OpusSettings): void {
    this.s?.setOpusSettings(settings);
  }
  enableJitter(on: boolean): void {
    this.s?.enableJitter(on);
  }
  setSilenceSuppression(on: boolean): void {
    this.s?.setSilenceSuppression(on);
  }
  setRawRtpAccess(cb: ((d: RawRtpData) => void) | undefined): void {
    this.s?.setRawRtpAccess(cb);
  }
  stats(): MediaSessionStats {
    return this.s?.stats() ?? this.ended!.stats;
  }
  mediaActivity(): number {
    return this.s?.mediaPacketsIn ?? this.ended!.packetsIn;
  }
  setKeepAlive(ms: number): void {
    this.s?.setKeepAlive(ms);
  }
  playWave(path: string, loop: boolean, onFailed?: (result: Exclude<WavLoadResult, 'ok'>) => void): WavLoadResult {
    const probed = probeWav(path);
    if (probed !== 'ok' || this.s === null) return probed;
    void this.s.playWave(path, loop).then((r) => {
      if (r !== 'ok') onFailed?.(r);
    });
    return 'ok';
  }
  stopWave(): void {
    this.s?.stopWave();
  }
  openRx(rate: 8000 | 16000 | 48000): Readable {
    if (this.s !== null) return this.s.openRx(rate);
    // a stopped session's answer: a stream that has already ended
    const rx = new IvrRxStream({ sampleRate: rate, sourceRate: this.ended!.sampleRate || 8000 });
    rx.close();
    return rx;
  }
  openTx(rate: 8000 | 16000 | 48000, onHold?: boolean): Writable {
    if (this.s !== null) return this.s.openTx(rate, onHold);
    const tx = new IvrTxStream({ sampleRate: rate, targetRate: this.ended!.sampleRate || 8000 });
    tx.close();
    return tx;
  }
  setHeld(on: boolean): void {
    this.s?.setHeld(on);
  }
  setFramePort(port: MediaFramePort | null): void {
    this.s?.setFramePort(port);
  }
  setRecorder(recorder: DuplexMediaSink | null): void {
    this.s?.setRecorder(recorder);
  }
  setLevelTap(tap: ((levels: MediaLevels) => void) | null): void {
    this.s?.setLevelTap(tap);
  }
}
