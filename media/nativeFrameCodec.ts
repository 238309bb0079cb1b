/**
 * The common part of the 8 kHz mono codecs whose coder state lives in a native library and which
 * have no concealment of their own (GSM through libgsm, G.726-32 through libspandsp): 160-sample
 * frames, scratch arrays for koffi (it hands C a typed array from its start, so a view into a
 * larger one would be read from 0), frame-repeat concealment, and a reset that replaces the
 * native state because neither library has a reset call.
 * @module
 */
import { FrameRepeatConcealer } from './g711.js';

/** Samples in one 20 ms frame at 8 kHz. */
export const NARROWBAND_FRAME_SAMPLES = 160;

/** A native coder state: something that frees itself. */
export interface NativeCoderState {
  /** Frees the native state. */
  close(): void;
}

/**
 * Base of an 8 kHz mono codec on a native coder state `S`. Subclasses encode and decode through
 * {@link NativeFrameCodec.coder} and the scratch arrays, and call {@link NativeFrameCodec.decoded}
 * or {@link NativeFrameCodec.conceal}; this class owns concealment, reset and close.
 */
export abstract class NativeFrameCodec<S extends NativeCoderState> {
  /** RTP clock: 8000 Hz. */
  readonly clockRate = 8000;
  /** PCM rate: 8000 Hz. */
  readonly sampleRate = 8000;
  /** Mono. */
  readonly channels = 1 as const;
  /** 160 samples = 20 ms. */
  readonly samplesPerFrame = NARROWBAND_FRAME_SAMPLES;
  /** Frames concealed so far (lost, or not decodable). */
  concealedFrames = 0;
  /** PCM scratch of one frame, handed to the native coder. */
  protected readonly pcm = new Int16Array(NARROWBAND_FRAME_SAMPLES);
  /** Payload scratch of one frame, handed to the native coder. */
  protected readonly frame: Uint8Array;
  private readonly plc = new FrameRepeatConcealer(NARROWBAND_FRAME_SAMPLES);

  /**
   * @param coder - the native state (replaced on reset)
   * @param frameOctets - octets of one encoded 20 ms frame
   * @param fresh - makes a new native state, or `undefined` when the library fails
   */
  protected constructor(
    protected coder: S,
    frameOctets: number,
    private readonly fresh: () => S | undefined,
  ) {
    this.frame = new Uint8Array(frameOctets);
  }

  /** Copies `pcm`'s first frame into the scratch the native encoder reads. */
  protected takePcm(pcm: Int16Array, codecName: string): Int16Array {
    if (pcm.length < NARROWBAND_FRAME_SAMPLES) throw new RangeError(`${codecName} encode needs ${NARROWBAND_FRAME_SAMPLES} samples, got ${pcm.length}`);
    const scratch = this.pcm;
    for (let i = 0; i < NARROWBAND_FRAME_SAMPLES; i++) scratch[i] = pcm[i]!;
    return scratch;
  }

  /** Copies `n` decoded samples from the scratch to `out` and remembers them for concealment. */
  protected decoded(n: number, out: Int16Array): number {
    const m = Math.min(n, out.length);
    for (let i = 0; i < m; i++) out[i] = this.pcm[i]!;
    this.plc.remember(out, 0, m);
    return m;
  }

  /** Frame-repeat concealment of one lost frame. */
  conceal(out: Int16Array): number {
    this.concealedFrames++;
    return this.plc.conceal(out);
  }

  /** New stream: a fresh native state and no concealment history. */
  reset(): void {
    this.plc.reset();
    const next = this.fresh();
    if (next === undefined) return; // keep the old state rather than lose the codec
    this.coder.close();
    this.coder = next;
  }

  /** Frees the native state. */
  close(): void {
    this.coder.close();
    this.plc.reset();
  }
}
