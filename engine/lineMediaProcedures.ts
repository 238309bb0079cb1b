/**
 * The bodies of the facade's procedures on the media of a line: formats, volume, loopback,
 * jitter buffer, packet time, Opus settings, silence suppression, raw RTP access, WAV playback and IVR channels. A setting is
 * kept on the line (lines/phoneLine.ts) so its next call starts with it, and applied at once to
 * the media session of the call in progress, if any. The facade keeps each procedure's
 * signature, TSDoc and guard.
 * @module
 */
import type { Readable, Writable } from 'node:stream';
import { PhoneLine } from '../lines/phoneLine.js';
import { isAudioFormat, type LineMedia, type RawRtpData } from '../lines/lineMedia.js';
import { isValidOpusSettings, type OpusSettings } from '../media/opus.js';
import type { IvrSampleRate } from '../media/ivr.js';
import { OFFERED_PACKET_TIMES_MS } from '../sip/ptime.js';
import { isSrtpPolicy, type SrtpPolicy } from '../sip/sdes.js';
import { isPowerOfTwo } from './logger.js';
import type { IvrChannelResult, TxIvrChannelOptions } from './results.js';
import { TelephonyReturnValue as T } from './returnCodes.js';
import type { RunningEngine } from './runningEngine.js';
import type { MediaFormatAudio } from './types.js';

/** The IVR sample rates (8, 16 and 48 kHz); the default is 8000. */
function ivrRate(options: { sampleRate?: number } | undefined): 8000 | 16000 | 48000 | undefined {
  const rate = options?.sampleRate ?? 8000;
  return rate === 8000 || rate === 16000 || rate === 48000 ? rate : undefined;
}

/** closeRxIvrChannel (needs no running engine). */
export function closeRxIvrChannel(channel: Readable): T {
  if (!channel || typeof channel.destroy !== 'function') return T.SipIvrBadChannel;
  channel.destroy();
  return T.SipSuccess;
}

/** closeTxIvrChannel (needs no running engine). */
export function closeTxIvrChannel(channel: Writable): T {
  if (!channel || typeof channel.end !== 'function') return T.SipIvrBadChannel;
  channel.end();
  return T.SipSuccess;
}

/** Line media procedures of one run. */
export class LineMediaProcedures {
  /** @param run the running engine */
  constructor(private readonly run: RunningEngine) {}

  /** setAudioMediaFormats: from the line's next call on. */
  setAudioMediaFormats(phoneLine: number, formats: MediaFormatAudio[]): T {
    const l = this.run.line(phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (!Array.isArray(formats) || formats.length === 0) return T.SipBadParameter;
    if (formats.some((f) => !isAudioFormat(f)) || new Set(formats).size !== formats.length) return T.SipBadParameter;
    l.formats = formats.slice();
    return T.SipSuccess;
  }

  /** setPhoneLineVolume. */
  setPhoneLineVolume(phoneLine: number, rxVolume: number, txVolume: number): T {
    const l = this.run.line(phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    const ok = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 2048;
    if (!ok(rxVolume) || !ok(txVolume)) return T.SipBadParameter;
    l.volume = { rx: rxVolume, tx: txVolume };
    l.media?.setVolume(rxVolume, txVolume);
    return T.SipSuccess;
  }

  /** setPhoneLineLoopBack. */
  setPhoneLineLoopBack(phoneLine: number, on: boolean): T {
    const l = this.run.line(phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (typeof on !== 'boolean') return T.SipBadParameter;
    // loopback would send a conferenced far end its own voice instead of the conference
    if (on && l.conferenced) return T.SipConferenceActive;
    l.loopback = on;
    l.media?.setLoopback(on);
    return T.SipSuccess;
  }

  /** setJitterTimeMs. */
  setJitterTimeMs(phoneLine: number, ms: number): T {
    const l = this.run.line(phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 20 || ms > 1000) return T.SipBadParameter;
    l.jitter = { ...l.jitter, ms };
    l.media?.setJitter(ms);
    return T.SipSuccess;
  }

  /** setEnableJitter. */
  setEnableJitter(phoneLine: number, on: boolean): T {
    const l = this.run.line(phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (typeof on !== 'boolean') return T.SipBadParameter;
    l.jitter = { ...l.jitter, enabled: on };
    l.media?.enableJitter(on);
    return T.SipSuccess;
  }

  /**
   * setPacketTime: kept on the line and written into its next offers and answers; a call in
   * progress keeps the packet time it negotiated (changing it would take a re-INVITE).
   */
  setPacketTime(phoneLine: number, ms: number): T {
    const l = this.run.line(phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (typeof ms !== 'number' || !OFFERED_PACKET_TIMES_MS.includes(ms)) return T.SipBadParameter;
    l.packetTimeMs = ms;
    return T.SipSuccess;
  }

  /**
   * setSrtpPolicy: kept on the line and used from its next call (offers and answers); a call in
   * progress keeps what it negotiated.
   */
  setSrtpPolicy(phoneLine: number, policy: SrtpPolicy): T {
    const l = this.run.line(phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (!isSrtpPolicy(policy)) return T.SipBadParameter;
    l.srtpPolicy = policy;
    return T.SipSuccess;
  }

  /** setOpusSettings: fields left out keep their value; nothing changes when one is bad. */
  setOpusSettings(phoneLine: number, settings: OpusSettings): T {
    const l = this.run.line(phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (!isValidOpusSettings(settings)) return T.SipBadParameter;
    const merged: OpusSettings = { ...l.opusSettings };
    for (const [k, v] of Object.entries(settings)) if (v !== undefined) (merged as Record<string, unknown>)[k] = v;
    l.opusSettings = merged;
    l.media?.setOpusSettings(merged);
    return T.SipSuccess;
  }

  /**
   * setSilenceSuppression: kept on the line for its next offers and answers (CN listed) and
   * applied at once to the call in progress (media/session.ts says what a call can suppress).
   */
  setSilenceSuppression(phoneLine: number, enable: boolean): T {
    const l = this.run.line(phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (typeof enable !== 'boolean') return T.SipBadParameter;
    l.silenceSuppression = enable;
    l.media?.setSilenceSuppression(enable);
    return T.SipSuccess;
  }

  /** enableRawRtpPacketAccess: the application's callback, shielded so that its faults cost only a log line. */
  enableRawRtpPacketAccess(phoneLine: number, on: boolean, callback?: (data: RawRtpData) => void): T {
    const l = this.run.line(phoneLine);
    if (!(l instanceof PhoneLine)) return l;
    if (typeof on !== 'boolean' || (on && typeof callback !== 'function')) return T.SipBadParameter;
    let failures = 0;
    const logger = () => this.run.state.logger;
    l.rawRtpCallback = on ? (d: RawRtpData) => {
      try {
        // The same object goes to the application: its processRtpPacket = false must count.
        d.phoneLine = l.index;
        callback!(d);
      } catch (err) {
        // Per packet: logging every failure would flood the log, so 1st, 2nd, 4th, 8th ...
        if (isPowerOfTwo(++failures)) logger().error({ err, phoneLine: l.index, failures }, 'raw RTP callback threw');
      }
    } : undefined;
    l.media?.setRawRtpAccess(l.rawRtpCallback);
    return T.SipSuccess;
  }

  /** playWaveFile: the header is checked now; a later failure is the line notification SipBadAudioDataType. */
  playWaveFile(phoneLine: number, path: string, loop: boolean): T {
    const call = this.run.lineCall(phoneLine);
    if (typeof call === 'number') return call;
    if (typeof path !== 'string' || !path || typeof loop !== 'boolean') return T.SipBadParameter;
    const media = call.line.media;
    if (!media) return T.SipNoCallActive;
    const r = media.playWave(path, loop, (reason) => this.run.state.notifier.line(phoneLine, T.SipBadAudioDataType, { path, reason }));
    return r === 'ok' ? T.SipSuccess : r === 'not-found' ? T.SipBadParameter : T.SipBadAudioDataType;
  }

  /** stopWaveFile. */
  stopWaveFile(phoneLine: number): T {
    const call = this.run.lineCall(phoneLine);
    if (typeof call === 'number') return call;
    call.line.media?.stopWave();
    return T.SipSuccess;
  }

  /** openRxIvrChannel. */
  openRxIvrChannel(phoneLine: number, options: { sampleRate?: number }): IvrChannelResult<Readable> {
    const at = this.ivrTarget(phoneLine, options);
    if (typeof at === 'number') return { result: at };
    return { result: T.SipSuccess, channel: at.media.openRx(at.rate) };
  }

  /** The media and IVR rate an IVR channel on `phoneLine` would use, or the code refusing it. */
  private ivrTarget(phoneLine: number, options: { sampleRate?: number }): T | { media: LineMedia; rate: IvrSampleRate } {
    const call = this.run.lineCall(phoneLine);
    if (typeof call === 'number') return call;
    const rate = ivrRate(options);
    if (rate === undefined) return T.SipBadParameter;
    const media = call.line.media;
    if (!media) return T.SipNoCallActive;
    return { media, rate };
  }

  /** openTxIvrChannel: an `onHold` channel plays only while we hold the call, another only while we do not. */
  openTxIvrChannel(phoneLine: number, options: TxIvrChannelOptions): IvrChannelResult<Writable> {
    const at = this.ivrTarget(phoneLine, options);
    if (typeof at === 'number') return { result: at };
    if (options?.onHold !== undefined && typeof options.onHold !== 'boolean') return { result: T.SipBadParameter };
    return { result: T.SipSuccess, channel: at.media.openTx(at.rate, options?.onHold === true) };
  }
}
