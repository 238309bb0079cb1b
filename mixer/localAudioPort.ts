/**
 * The local sound card as a conference participant, like pjmedia's sound port: every media-clock
 * tick it takes one captured frame from the device, removes the loudspeaker's echo from it
 * (libspeexdsp's echo canceller, when installed), runs noise suppression and LanScape's noise
 * discrimination on it, puts it into its bridge port, and plays the port's output (plus the
 * microphone itself while local loopback is on). Call-progress tones are mixed in by the device
 * layer (`LocalAudio.playTone`).
 * @module
 */
import type { LocalAudio } from '../media/audioDevice.js';
import type { MediaClock, MediaClockListener } from '../media/mediaClock.js';
import { MediaPump, type MediaNode } from '../media/mediaPump.js';
import { SpeexEchoCanceller, SpeexPreprocessor } from '../ffi/speexdsp.js';
import type { ConferenceBridge } from './bridge.js';
import type { Port } from './port.js';

/** Settings of the capture path's noise handling (LanScape's noise discrimination). */
export interface CaptureProcessingOptions {
  /** Cancel the loudspeaker's echo in the capture (default true; needs libspeexdsp). */
  readonly echoCancellation?: boolean;
  /**
   * Speex noise suppression on the capture (default false, as LanScape: it also wears down
   * steady tones, and a headset in a quiet room needs none; needs libspeexdsp). The
   * preprocessor exists whenever capture and libspeexdsp do, for noise discrimination.
   */
  readonly denoise?: boolean;
}

/** Counters of the local device port (`getLocalAudioStatistics().processing`). */
export interface LocalAudioPortStats {
  /** Ticks processed. */
  readonly ticks: number;
  /** The echo canceller runs. */
  readonly echoCancellation: boolean;
  /** The preprocessor (noise suppression, discrimination) runs. */
  readonly preprocessing: boolean;
  /** Frames the noise discrimination classified as noise (muted towards the conference). */
  readonly noiseFrames: number;
  /** Frames classified as voice. */
  readonly voiceFrames: number;
}

/** The local device's participant in the bridge; from {@link LocalAudioPort.attach}. */
export class LocalAudioPort {
  /** The device's bridge port (join groups through it). */
  readonly port: Port;
  private readonly cap: Int16Array;
  private readonly clean: Int16Array;
  private readonly played: Int16Array;
  private readonly out: Int16Array;
  private aec: SpeexEchoCanceller | null = null;
  private pp: SpeexPreprocessor | null = null;
  private loopback = false;
  private aecOn = true;
  private discriminate = false;
  private ticks = 0;
  private noise = 0;
  private voice = 0;
  private readonly listener: MediaClockListener;
  private readonly node: MediaNode;
  /** The capture path's frame of this tick (the loopback adds it to what is played). */
  private input: Int16Array;

  private constructor(
    private readonly audio: LocalAudio,
    private readonly bridge: ConferenceBridge,
    private readonly driver: MediaClock | MediaPump,
    options: CaptureProcessingOptions,
  ) {
    const n = audio.frameSamples;
    this.cap = new Int16Array(n);
    this.clean = new Int16Array(n);
    this.played = new Int16Array(n);
    this.out = new Int16Array(n);
    this.port = bridge.addPort({ name: 'local audio', rate: audio.sampleRate });
    if (options.echoCancellation !== false && audio.capturing && audio.playing) {
      const r = SpeexEchoCanceller.create({ sampleRate: audio.sampleRate, frameSize: n });
      if (r.ok) this.aec = r.value;
    }
    if (audio.capturing) {
      const r = SpeexPreprocessor.create({ sampleRate: audio.sampleRate, frameSize: n, denoise: options.denoise === true, ...(this.aec ? { echoCanceller: this.aec } : {}) });
      if (r.ok) this.pp = r.value;
    }
    this.input = this.cap;
    this.node = { produce: () => this.produce(), consume: () => this.consume() };
    this.listener = {
      onTick: () => {
        this.produce();
        this.consume();
      },
    };
  }

  /**
   * Put `audio` into `bridge` as a port driven by `driver`. With the engine's media pump (whose
   * mixer is `bridge`) the device is a node of it: it puts its capture before the bridge mixes
   * and plays the mix after, in the same tick, like the lines. With a bare clock the device
   * puts and takes in one listener call, so the clock must drive the bridge before it.
   */
  static attach(audio: LocalAudio, bridge: ConferenceBridge, driver: MediaClock | MediaPump, options: CaptureProcessingOptions = {}): LocalAudioPort {
    const p = new LocalAudioPort(audio, bridge, driver, options);
    // the device always talks to the bridge: it runs around the mix (phase group 0)
    if (driver instanceof MediaPump) driver.add(p.node, true);
    else driver.add(p.listener);
    return p;
  }

  /** The device layer (tones, stats). */
  get device(): LocalAudio {
    return this.audio;
  }

  /** Microphone straight to the loudspeaker as well (a sound-card check). */
  setLoopback(on: boolean): void {
    this.loopback = on;
  }

  /**
   * Echo cancellation on or off (it is on whenever it exists). Off passes the capture through
   * untouched; back on, the canceller starts converging again from scratch.
   * @returns false when there is no canceller (no libspeexdsp, or not both directions).
   */
  setEchoCancellation(on: boolean): boolean {
    if (this.aec === null) return false;
    if (on && !this.aecOn) this.aec.reset();
    this.aecOn = on;
    return true;
  }

  /** The preprocessor, or null without libspeexdsp or capture. */
  get preprocessor(): SpeexPreprocessor | null {
    return this.pp;
  }

  /**
   * Noise discrimination: frames classified as noise are sent to the conference as silence.
   * @returns false when the preprocessor is not available.
   */
  setNoiseDiscrimination(on: boolean): boolean {
    if (this.pp === null) return false;
    this.pp.setNoiseDiscrimination(on);
    this.discriminate = on;
    return true;
  }

  /** A snapshot of the counters. */
  stats(): LocalAudioPortStats {
    return {
      ticks: this.ticks,
      echoCancellation: this.aec !== null && this.aecOn,
      preprocessing: this.pp !== null,
      noiseFrames: this.noise,
      voiceFrames: this.voice,
    };
  }

  /** Capture, echo cancelling and noise handling, into the port (the pump's produce phase). */
  private produce(): void {
    this.ticks++;
    const a = this.audio;
    let input = this.cap;
    if (a.capturing) {
      a.readFrame(this.cap);
      if (this.aec !== null && this.aecOn) {
        this.aec.process(this.cap, this.played, this.clean);
        input = this.clean;
      }
      if (this.pp !== null) {
        const voice = this.pp.process(input);
        if (this.discriminate) {
          if (voice) this.voice++;
          else {
            this.noise++;
            input.fill(0);
          }
        }
      }
      this.port.putFrame(input);
    }
    this.input = input;
  }

  /** The port's mix (plus the microphone under loopback) to the loudspeaker (the consume phase). */
  private consume(): void {
    const a = this.audio;
    if (!a.playing) return;
    const n = a.frameSamples;
    const input = this.input;
    const mix = this.port.getFrame();
    const out = this.out;
    if (this.loopback && a.capturing) {
      for (let i = 0; i < n; i++) {
        const v = mix[i]! + input[i]!;
        out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
      }
    } else out.set(mix.subarray(0, n));
    a.writeFrame(out);
    // the echo canceller's reference: what went to the loudspeaker this tick
    this.played.set(out);
  }

  /** Leave the clock and the bridge, free the DSP state and close the device. */
  async close(): Promise<void> {
    if (this.driver instanceof MediaPump) this.driver.remove(this.node);
    else this.driver.remove(this.listener);
    this.bridge.removePort(this.port);
    this.pp?.close();
    this.aec?.close();
    this.pp = null;
    this.aec = null;
    await this.audio.close();
  }
}
