/**
 * DTMF in all the forms a phone line meets it:
 * - RFC 4733 telephone-event payloads: {@link DtmfSender} builds the packet sequence for a digit,
 *   {@link DtmfReceiver} turns a (lossy, duplicated) packet stream back into one report per digit;
 * - in-band tones: {@link DtmfGenerator} synthesizes them, {@link DtmfDetector} finds them in
 *   8 kHz PCM with Goertzel filters;
 * - SIP INFO bodies (`application/dtmf-relay`, `application/dtmf`): text helpers only, since this
 *   layer knows nothing of SIP itself.
 *
 * Event codes follow RFC 4733 §3.2: 0-9 are the digits, 10 `*`, 11 `#`, 12-15 `A`-`D`, 16 flash.
 * @module
 */
import type { MediaSource } from './mediaPorts.js';
import { dbm0ToAmplitude } from './tones.js';

/** The DTMF digits indexed by RFC 4733 event code. */
export const DTMF_DIGITS = '0123456789*#ABCD';

/** RFC 4733 event code of hook flash, which has no DTMF tone; its character here is `!`. */
export const DTMF_EVENT_FLASH = 16;

/** Low-group (row) frequencies in Hz. */
export const DTMF_ROW_FREQS: readonly number[] = Object.freeze([697, 770, 852, 941]);
/** High-group (column) frequencies in Hz. */
export const DTMF_COL_FREQS: readonly number[] = Object.freeze([1209, 1336, 1477, 1633]);

/** Keypad position of each event code 0-15 as row * 4 + column. */
const KEYPAD_POS = new Int8Array([13, 0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 14, 3, 7, 11, 15]);
/** Event code at each keypad position (inverse of KEYPAD_POS). */
const POS_EVENT = new Int8Array(16);
for (let e = 0; e < 16; e++) POS_EVENT[KEYPAD_POS[e]!] = e;

/**
 * RFC 4733 event code of a digit character: `0`-`9`, `*`, `#`, `A`-`D` (either case), `!` for
 * flash. @returns −1 for anything else.
 */
export function dtmfEventCode(digit: string): number {
  if (digit.length !== 1) return -1;
  if (digit === '!') return DTMF_EVENT_FLASH;
  return DTMF_DIGITS.indexOf(digit.toUpperCase());
}

/** The character for an event code 0-16; empty string for other codes. */
export function dtmfDigitChar(event: number): string {
  if (event === DTMF_EVENT_FLASH) return '!';
  return event >= 0 && event < 16 ? DTMF_DIGITS[event]! : '';
}

/** True when every character of `digits` is a valid DTMF digit (or `!`) and there is at least one. */
export function isValidDtmfString(digits: string): boolean {
  if (digits.length === 0) return false;
  for (const ch of digits) if (dtmfEventCode(ch) < 0) return false;
  return true;
}

/** The `[row, column]` frequencies of a DTMF event 0-15. */
export function dtmfFrequencies(event: number): readonly [number, number] {
  if (!(event >= 0 && event < 16)) throw new RangeError(`no DTMF tone for event ${event}`);
  const pos = KEYPAD_POS[event]!;
  return [DTMF_ROW_FREQS[pos >> 2]!, DTMF_COL_FREQS[pos & 3]!];
}

// ---------------------------------------------------------------------------------------------
// RFC 4733 payload
// ---------------------------------------------------------------------------------------------

/** Size of one telephone-event report (RFC 4733 §2.3). */
export const TELEPHONE_EVENT_BYTES = 4;

/** A decoded telephone-event report. */
export interface TelephoneEvent {
  /** Event code (0-255). */
  readonly event: number;
  /** E bit: this report ends the event. */
  readonly end: boolean;
  /** Power level as −dBm0 (0-63); meaningful for DTMF only. */
  readonly volume: number;
  /** Duration so far in RTP timestamp units (0-65535). */
  readonly duration: number;
}

/**
 * Write a telephone-event report into `out` at `offset`:
 * event (8 bits) | E | R=0 | volume (6) | duration (16, network order).
 * @returns bytes written (4).
 */
export function writeTelephoneEvent(
  out: Uint8Array,
  offset: number,
  event: number,
  end: boolean,
  volume: number,
  duration: number,
): number {
  out[offset] = event & 0xff;
  out[offset + 1] = (end ? 0x80 : 0) | (volume & 0x3f);
  out[offset + 2] = (duration >>> 8) & 0xff;
  out[offset + 3] = duration & 0xff;
  return TELEPHONE_EVENT_BYTES;
}

/**
 * Read the first telephone-event report of a payload (RFC 4733 §2.5.1.5 allows several in one
 * packet for redundancy; the first is the current one). Allocates the result; the receiver reads
 * the bytes directly instead. @returns undefined when fewer than 4 bytes are available.
 */
export function readTelephoneEvent(buf: Uint8Array, offset = 0, length = buf.length - offset): TelephoneEvent | undefined {
  if (length < TELEPHONE_EVENT_BYTES || offset + TELEPHONE_EVENT_BYTES > buf.length) return undefined;
  return {
    event: buf[offset]!,
    end: (buf[offset + 1]! & 0x80) !== 0,
    volume: buf[offset + 1]! & 0x3f,
    duration: (buf[offset + 2]! << 8) | buf[offset + 3]!,
  };
}

/** Options for {@link DtmfSender}. */
export interface DtmfSenderOptions {
  /** RTP clock of the stream the events share (8000 with G.711, 48000 with Opus). Default 8000. */
  readonly clockRate?: number;
  /** Packet interval in ms; one call to {@link DtmfSender.next} per interval. Default 20. */
  readonly packetMs?: number;
  /** Tone duration per digit in ms. Default 100. */
  readonly durationMs?: number;
  /** Minimum silence between digits in ms, counted from the end of the tone. Default 50. */
  readonly gapMs?: number;
  /** Volume field, −dBm0 (0-63). Default 10. */
  readonly volume?: number;
  /** How many times the final (E bit) report is sent, for loss resilience (RFC 4733 §2.5.1.4). Default 3. */
  readonly endPackets?: number;
}

const TX_IDLE = 0;
const TX_SENDING = 1;
const TX_ENDING = 2;

/**
 * Produces the RFC 4733 packet sequence for queued digits, one packet per packet interval:
 * a start report with the marker bit, updates with the same RTP timestamp and growing duration,
 * then the final report with the E bit sent `endPackets` times; then at least `gapMs` before the
 * next digit's start. Events longer than the 16-bit duration field continue in new segments
 * (RFC 4733 §2.5.1.3): timestamp advanced by 0xFFFF, no marker bit.
 *
 * Drive it from the media clock: each tick call {@link DtmfSender.next} with the RTP timestamp
 * an audio packet would carry now. When it returns 4, send that payload with the telephone-event
 * payload type, {@link DtmfSender.timestamp} and {@link DtmfSender.marker} instead of (or, for
 * the ticks where {@link DtmfSender.sending} is false, in addition to) audio.
 */
export class DtmfSender {
  /** Marker bit for the packet just produced (set on an event's first packet only). */
  marker = false;
  /** RTP timestamp for the packet just produced: the event (segment) start. */
  timestamp = 0;
  /** Event code of the packet just produced. */
  event = -1;
  /** E bit of the packet just produced. */
  end = false;
  /** Duration field of the packet just produced. */
  duration = 0;

  private readonly clockRate: number;
  private readonly packetSamples: number;
  private readonly defaultDuration: number;
  private readonly gapSamples: number;
  private readonly volume: number;
  private readonly endPackets: number;
  private readonly queueEvents: number[] = [];
  private readonly queueDurations: number[] = [];
  private state = TX_IDLE;
  private eventTs = 0;
  private total = 0;
  private segBase = 0;
  private endsLeft = 0;
  private gapUntil = 0;
  private gapPending = false;

  /** @param options - timing and level; defaults give 100 ms digits, 50 ms gaps, 20 ms packets at 8 kHz. */
  constructor(options: DtmfSenderOptions = {}) {
    this.clockRate = options.clockRate ?? 8000;
    this.packetSamples = Math.round(((options.packetMs ?? 20) * this.clockRate) / 1000);
    this.defaultDuration = this.ms(options.durationMs ?? 100);
    this.gapSamples = this.ms(options.gapMs ?? 50);
    this.volume = Math.max(0, Math.min(63, options.volume ?? 10));
    this.endPackets = Math.max(1, options.endPackets ?? 3);
  }

  private ms(v: number): number {
    return Math.max(1, Math.round((v * this.clockRate) / 1000));
  }

  /**
   * Queue digits (`0-9 * # A-D`, `!` for flash).
   * @param durationMs - tone length for these digits; the constructor default otherwise.
   * @throws RangeError when a character is not a DTMF digit; nothing is queued then.
   */
  enqueue(digits: string, durationMs?: number): void {
    if (!isValidDtmfString(digits)) throw new RangeError(`invalid DTMF digits: ${JSON.stringify(digits)}`);
    const d = durationMs === undefined ? this.defaultDuration : this.ms(durationMs);
    for (const ch of digits) {
      this.queueEvents.push(dtmfEventCode(ch));
      this.queueDurations.push(d);
    }
  }

  /** Digits queued and not started yet. */
  get pending(): number {
    return this.queueEvents.length;
  }

  /** True while an event is on the wire (start through its last end packet): suppress audio packets meanwhile. */
  get sending(): boolean {
    return this.state !== TX_IDLE;
  }

  /** True when nothing is queued, sending or waiting out an inter-digit gap. */
  get idle(): boolean {
    return this.state === TX_IDLE && this.queueEvents.length === 0;
  }

  /** Drop queued digits. An event already started still finishes with its end packets, so the far end never hears a stuck tone. */
  clear(): void {
    this.queueEvents.length = 0;
    this.queueDurations.length = 0;
  }

  /** Drop everything, including an event in progress (new stream). */
  reset(): void {
    this.clear();
    this.state = TX_IDLE;
    this.gapPending = false;
    this.marker = false;
    this.end = false;
    this.event = -1;
  }

  /**
   * Advance one packet interval.
   * @param audioTs - RTP timestamp an audio packet would carry at this tick.
   * @returns 4 when a report was written to `out` at `offset` (read {@link DtmfSender.timestamp}
   *   and {@link DtmfSender.marker}), 0 when no event packet is due this tick.
   */
  next(audioTs: number, out: Uint8Array, offset: number): number {
    const ts = audioTs >>> 0;
    if (this.state === TX_IDLE) {
      if (this.queueEvents.length === 0) return 0;
      if (this.gapPending && ((ts - this.gapUntil) | 0) < 0) return 0;
      this.gapPending = false;
      this.event = this.queueEvents.shift()!;
      this.total = this.queueDurations.shift()!;
      this.eventTs = ts;
      this.segBase = 0;
      this.state = TX_SENDING;
      this.marker = true;
      this.timestamp = ts;
      this.end = false;
      this.duration = Math.min(this.packetSamples, this.total);
      return writeTelephoneEvent(out, offset, this.event, false, this.volume, this.duration);
    }
    this.marker = false;
    if (this.state === TX_SENDING) {
      const elapsed = ((ts - this.eventTs) >>> 0) + this.packetSamples;
      const done = elapsed >= this.total;
      let dur = (done ? this.total : elapsed) - this.segBase;
      while (dur > 0xffff) {
        // RFC 4733 §2.5.1.3: a new segment starts where the full previous one ends
        this.segBase += 0xffff;
        dur -= 0xffff;
      }
      this.timestamp = (this.eventTs + this.segBase) >>> 0;
      this.duration = dur;
      if (done) {
        this.state = TX_ENDING;
        this.endsLeft = this.endPackets - 1;
        this.end = true;
      }
      writeTelephoneEvent(out, offset, this.event, this.end, this.volume, dur);
      if (done && this.endsLeft === 0) this.finish();
      return TELEPHONE_EVENT_BYTES;
    }
    // TX_ENDING: retransmit the identical final report
    writeTelephoneEvent(out, offset, this.event, true, this.volume, this.duration);
    if (--this.endsLeft <= 0) this.finish();
    return TELEPHONE_EVENT_BYTES;
  }

  private finish(): void {
    this.state = TX_IDLE;
    this.gapUntil = (this.eventTs + this.total + this.gapSamples) >>> 0;
    this.gapPending = true;
  }
}

/** {@link DtmfReceiver.receive} flag: a new event began (reported once per event). */
export const DTMF_RX_BEGIN = 1;
/** {@link DtmfReceiver.receive} flag: the current event ended (first end report only). */
export const DTMF_RX_END = 2;

/**
 * Turns received telephone-event packets into one report per event. Events are identified by
 * their RTP timestamp, so retransmitted end reports and late updates are dropped, a lost start
 * packet just means the event is reported at its first surviving packet, and consecutive presses
 * of the same digit stay distinct. Long events are followed across segments (RFC 4733 §2.5.2.3:
 * same event, new timestamp where the previous segment's maximum duration ends) and across
 * 16-bit wraps of the duration field by older RFC 2833 senders. No allocation per packet.
 */
export class DtmfReceiver {
  /** Event code of the current (or last) event; −1 before the first. */
  event = -1;
  /** RTP timestamp at which the current event began (its first segment). */
  timestamp = 0;
  /** Volume field of the latest report. */
  volume = 0;
  /** True once the current event's end has been seen. */
  ended = false;
  /** Payloads too short to hold a report. */
  malformed = 0;

  private have = false;
  private segTs = 0;
  private segBase = 0;
  private segDur = 0;
  private wraps = 0;
  private readonly segmentSlack: number;

  /**
   * @param clockRate - RTP clock of the events; sizes the tolerance for recognising a new segment
   *   of a long event (one second of slack, at most half the duration field).
   */
  constructor(clockRate = 8000) {
    this.segmentSlack = Math.min(0x8000, clockRate);
  }

  /** Total duration of the current event so far, in RTP timestamp units (across segments and wraps). */
  get duration(): number {
    return this.segBase + this.wraps * 0x10000 + this.segDur;
  }

  /**
   * Process one telephone-event payload.
   * @param timestamp - the packet's RTP timestamp.
   * @param marker - the packet's marker bit (informational; timestamps decide).
   * @returns a mask of {@link DTMF_RX_BEGIN} and {@link DTMF_RX_END}; 0 for duplicates, updates and junk.
   */
  receive(payload: Uint8Array, offset: number, length: number, timestamp: number, marker = false): number {
    void marker;
    if (length < TELEPHONE_EVENT_BYTES || offset < 0 || offset + TELEPHONE_EVENT_BYTES > payload.length) {
      this.malformed++;
      return 0;
    }
    const ev = payload[offset]!;
    const b1 = payload[offset + 1]!;
    const isEnd = (b1 & 0x80) !== 0;
    const dur = (payload[offset + 2]! << 8) | payload[offset + 3]!;
    const ts = timestamp >>> 0;
    if (this.have) {
      const d = (ts - this.segTs) | 0;
      if (d < 0) return 0; // a late packet of an earlier event or segment
      if (d === 0) {
        if (this.ended || ev !== this.event) return 0; // retransmitted end, or junk reusing the timestamp
        if (dur < this.segDur - 0x8000) {
          // the 16-bit field wrapped (RFC 2833 senders did this instead of segmenting)
          this.wraps++;
          this.segDur = dur;
        } else if (dur > this.segDur) this.segDur = dur; // smaller = reordered update: keep the max
        this.volume = b1 & 0x3f;
        if (isEnd) {
          this.ended = true;
          return DTMF_RX_END;
        }
        return 0;
      }
      if (
        !this.ended &&
        ev === this.event &&
        d <= 0xffff &&
        this.wraps * 0x10000 + this.segDur >= 0xffff - this.segmentSlack
      ) {
        // next segment of a long event, not a new press
        this.segBase += d;
        this.wraps = 0;
        this.segTs = ts;
        this.segDur = dur;
        this.volume = b1 & 0x3f;
        if (isEnd) {
          this.ended = true;
          return DTMF_RX_END;
        }
        return 0;
      }
    }
    this.have = true;
    this.event = ev;
    this.timestamp = ts;
    this.segTs = ts;
    this.segBase = 0;
    this.segDur = dur;
    this.wraps = 0;
    this.volume = b1 & 0x3f;
    this.ended = isEnd;
    return isEnd ? DTMF_RX_BEGIN | DTMF_RX_END : DTMF_RX_BEGIN;
  }

  /** Forget the current event (new stream or SSRC). */
  reset(): void {
    this.have = false;
    this.event = -1;
    this.ended = false;
    this.segBase = 0;
    this.segDur = 0;
    this.wraps = 0;
  }
}

// ---------------------------------------------------------------------------------------------
// In-band detection
// ---------------------------------------------------------------------------------------------

/** Options for {@link DtmfDetector}. */
export interface DtmfDetectorOptions {
  /** Weakest tone (each of the pair) accepted, in dBm0. Default −30. */
  readonly minLevelDbm0?: number;
  /** Largest "normal" twist (high group weaker than low group), dB. Default 8. */
  readonly normalTwistDb?: number;
  /** Largest "reverse" twist (low group weaker than high group), dB. Default 4. */
  readonly reverseTwistDb?: number;
  /** How far the strongest row (and column) must exceed the others, dB. Default 8. */
  readonly relativePeakDb?: number;
  /**
   * Share of a window's total power the two tones must hold (0-1). Default 0.7: rejects speech
   * and noise, and a window only counts when at least 70 % of it is tone.
   */
  readonly minToneShare?: number;
  /** Every tone at least this long is reported, ms. Default 40. */
  readonly minOnMs?: number;
  /** Every pause at least this long separates two presses of the same digit, ms. Default 40. */
  readonly minOffMs?: number;
  /**
   * Skip the filter bank for windows too quiet to hold a digit (default true). Exact: a window
   * whose mean power is under half the weakest accepted tone cannot be a hit, whatever its
   * spectrum, so the detector reports the same digits at the same samples either way; in the
   * pauses of a call (and on silent lines) it then costs one energy sum per sample instead of
   * eight filters. False runs the filters on every window (tests compare the two).
   */
  readonly skipQuiet?: boolean;
}

/** Analysis window: 102 samples (12.75 ms) at 8 kHz resolves the 73 Hz row spacing with ~22 dB to spare. */
const DETECT_WINDOW = 102;
/** Windows overlap by half: a decision every 51 samples (6.4 ms). */
const DETECT_HOP = DETECT_WINDOW / 2;

/** Goertzel and sliding-DFT constants of the eight DTMF frequencies at 8 kHz, for every detector. */
const GOERTZEL = (() => {
  const t = { coeff: new Float64Array(8), cosW: new Float64Array(8), sinW: new Float64Array(8), cosHop: new Float64Array(8), sinHop: new Float64Array(8) };
  const freqs = [...DTMF_ROW_FREQS, ...DTMF_COL_FREQS];
  for (let k = 0; k < 8; k++) {
    const w = (2 * Math.PI * freqs[k]!) / 8000;
    t.coeff[k] = 2 * Math.cos(w);
    t.cosW[k] = Math.cos(w);
    t.sinW[k] = Math.sin(w);
    t.cosHop[k] = Math.cos(w * DETECT_HOP);
    t.sinHop[k] = Math.sin(w * DETECT_HOP);
  }
  return t;
})();

/**
 * In-band DTMF detector for 8 kHz PCM (resample Opus audio to 8 kHz first).
 *
 * Eight Goertzel filters run over each half-window of 51 samples (gathered across frame
 * boundaries); each half ends with the complex DFT value at the eight frequencies, and two
 * consecutive halves combine (with a phase rotation) into the DFT of a 102-sample window. So
 * every 6.4 ms a full window is judged, at the cost of a single filter bank; a window too quiet to
 * hold a digit is judged from its energy alone ({@link DtmfDetectorOptions.skipQuiet}). A window is a hit for a digit when:
 * both the strongest row and column tone exceed the minimum level, their twist is within limits,
 * each is clearly stronger than the others in its group (relative peak), and together they hold
 * at least `minToneShare` of the window's power (rejecting speech, music and noise).
 *
 * A digit is reported once, after `onWindows` hits in a row; the same digit is reported again
 * only after `offWindows` misses in a row. With the defaults, every tone of 40 ms or more is
 * reported (it contains at least 4 whole windows), no tone under 24 ms is (at most 3 windows can
 * be 70 % tone), a 40 ms pause always separates digits, and a drop-out of up to 10 ms inside a
 * tone does not split it. Allocates nothing per frame.
 */
export class DtmfDetector {
  /** Input rate this detector requires. */
  readonly sampleRate = 8000;
  /** Samples per analysis window. */
  readonly windowSize = DETECT_WINDOW;
  // the frequencies' constants are the same for every detector (tables shared by all of them)
  private readonly coeff = GOERTZEL.coeff;
  private readonly cosW = GOERTZEL.cosW;
  private readonly sinW = GOERTZEL.sinW;
  private readonly cosHop = GOERTZEL.cosHop;
  private readonly sinHop = GOERTZEL.sinHop;
  // the state in one backing store: a call makes a detector, and each typed array of its own
  // is two more objects for the collector to copy while the call is young
  private readonly state = new ArrayBuffer(6 * 8 * 8 + 2 * DETECT_HOP * 2);
  /** Previous half-window's DFT value per frequency (valid while `prevDft`). */
  private readonly prevRe = new Float64Array(this.state, 0, 8);
  private readonly prevIm = new Float64Array(this.state, 64, 8);
  /** The half-window just closed: its DFT value per frequency. */
  private readonly curRe = new Float64Array(this.state, 128, 8);
  private readonly curIm = new Float64Array(this.state, 192, 8);
  private readonly pw = new Float64Array(this.state, 256, 8);
  /** The samples of the half-window being filled, and of the one before (kept for a late DFT). */
  private halfNow = new Int16Array(this.state, 6 * 8 * 8, DETECT_HOP);
  private halfBefore = new Int16Array(this.state, 6 * 8 * 8 + DETECT_HOP * 2, DETECT_HOP);
  /** Whether prevRe/prevIm hold the DFT of `halfBefore` (a quiet half's is computed only if needed). */
  private prevDft = false;
  private energy = 0;
  private prevEnergy = 0;
  private fill = 0;
  private readonly minPower: number;
  /** Windows with less energy than this cannot be hits (see {@link DtmfDetectorOptions.skipQuiet}). */
  private readonly quietEnergy: number;
  private readonly normalTwist: number;
  private readonly reverseTwist: number;
  private readonly relPeak: number;
  private readonly share: number;
  private readonly onWindows: number;
  private readonly offWindows: number;
  private candidate = -1;
  private candidateCount = 0;
  private held = -1;
  private missCount = 0;
  private readonly queue = new Int8Array(32);
  private qHead = 0;
  private qLen = 0;

  /** @param options - thresholds; the defaults follow common ITU-T Q.24 / Bellcore practice. */
  constructor(options: DtmfDetectorOptions = {}) {
    const a = dbm0ToAmplitude(options.minLevelDbm0 ?? -30);
    this.minPower = (a * a) / 2;
    this.normalTwist = Math.pow(10, (options.normalTwistDb ?? 8) / 10);
    this.reverseTwist = Math.pow(10, (options.reverseTwistDb ?? 4) / 10);
    this.relPeak = Math.pow(10, (options.relativePeakDb ?? 8) / 10);
    this.share = options.minToneShare ?? 0.7;
    // whole windows inside a span of S samples: at least floor((S - window) / hop)
    const whole = (ms: number) => Math.max(2, Math.floor(((ms * 8000) / 1000 - DETECT_WINDOW) / DETECT_HOP));
    this.onWindows = whole(options.minOnMs ?? 40);
    this.offWindows = whole(options.minOffMs ?? 40);
    // A tone's power from a window's DFT is |X|^2 * 2 / W^2, and |X|^2 <= W * E (Cauchy-Schwarz,
    // E = the window's sum of squares): so no tone of a window with E < minPower * W / 2 reaches
    // minPower. Half that again is the margin for the filters' rounding.
    this.quietEnergy = options.skipQuiet === false ? -1 : (this.minPower * DETECT_WINDOW) / 4;
  }

  /**
   * Feed `len` samples of 8 kHz PCM.
   * @returns how many digits were newly detected; collect them with {@link DtmfDetector.takeDigit}.
   */
  process(pcm: Int16Array, len: number = pcm.length): number {
    let found = 0;
    let i = 0;
    while (i < len) {
      // gather the half-window and its energy; the filters wait until the window is judged
      const n = Math.min(len - i, DETECT_HOP - this.fill);
      const half = this.halfNow;
      let e = this.energy;
      for (let j = 0; j < n; j++) {
        const v = pcm[i + j]!;
        half[this.fill + j] = v;
        e += v * v;
      }
      this.energy = e;
      this.fill += n;
      i += n;
      if (this.fill === DETECT_HOP) {
        if (this.halfDone()) found++;
        this.fill = 0;
      }
    }
    return found;
  }

  /**
   * The DFT value of a whole half-window at the eight frequencies (Goertzel), into `re`/`im`.
   * Four filters run side by side per pass: each filter's recurrence waits on its own last
   * result, and four independent chains keep the core busy where one leaves it waiting (the
   * same operations per filter in the same order, so the same values).
   */
  private halfDft(half: Int16Array, re: Float64Array, im: Float64Array): void {
    const c = this.coeff;
    for (let k = 0; k < 8; k += 4) {
      const c0 = c[k]!;
      const c1 = c[k + 1]!;
      const c2 = c[k + 2]!;
      const c3 = c[k + 3]!;
      let a0 = 0;
      let b0 = 0;
      let a1 = 0;
      let b1 = 0;
      let a2 = 0;
      let b2 = 0;
      let a3 = 0;
      let b3 = 0;
      for (let j = 0; j < DETECT_HOP; j++) {
        const x = half[j]!;
        const t0 = x + c0 * a0 - b0;
        const t1 = x + c1 * a1 - b1;
        const t2 = x + c2 * a2 - b2;
        const t3 = x + c3 * a3 - b3;
        b0 = a0;
        a0 = t0;
        b1 = a1;
        a1 = t1;
        b2 = a2;
        a2 = t2;
        b3 = a3;
        a3 = t3;
      }
      // Goertzel output y = s1 - e^{-jw} s2 = sum x[n] e^{jw(M-1-n)}
      const cw = this.cosW;
      const sw = this.sinW;
      re[k] = a0 - cw[k]! * b0;
      im[k] = sw[k]! * b0;
      re[k + 1] = a1 - cw[k + 1]! * b1;
      im[k + 1] = sw[k + 1]! * b1;
      re[k + 2] = a2 - cw[k + 2]! * b2;
      im[k + 2] = sw[k + 2]! * b2;
      re[k + 3] = a3 - cw[k + 3]! * b3;
      im[k + 3] = sw[k + 3]! * b3;
    }
  }

  /** Close a half-window: combine it with the previous half, judge the window, run the hold/pause logic. */
  private halfDone(): boolean {
    const total = (this.prevEnergy + this.energy) / DETECT_WINDOW;
    let hit = -1;
    if (this.prevEnergy + this.energy >= this.quietEnergy) {
      // loud enough to hold a digit: the previous half's DFT (late, if it was quiet) and this one's
      if (!this.prevDft) this.halfDft(this.halfBefore, this.prevRe, this.prevIm);
      this.halfDft(this.halfNow, this.curRe, this.curIm);
      hit = this.judge(total);
      this.prevRe.set(this.curRe);
      this.prevIm.set(this.curIm);
      this.prevDft = true;
    } else {
      // no tone of this window can reach the minimum: this half's DFT waits until a window needs it
      this.prevDft = false;
    }
    const keep = this.halfBefore;
    this.halfBefore = this.halfNow;
    this.halfNow = keep;
    this.prevEnergy = this.energy;
    this.energy = 0;
    return this.decide(hit);
  }

  /** The digit a window (previous half's DFT in prevRe/prevIm, this half's in curRe/curIm) holds, or −1. */
  private judge(total: number): number {
    const scale = 2 / (DETECT_WINDOW * DETECT_WINDOW);
    const p = this.pw;
    for (let k = 0; k < 8; k++) {
      const cr = this.curRe[k]!;
      const ci = this.curIm[k]!;
      // window DFT magnitude = |y_prev + e^{-jwM} y_cur|
      const ch = this.cosHop[k]!;
      const sh = this.sinHop[k]!;
      const xr = this.prevRe[k]! + ch * cr + sh * ci;
      const xi = this.prevIm[k]! + ch * ci - sh * cr;
      p[k] = (xr * xr + xi * xi) * scale;
    }
    let r = 0;
    for (let k = 1; k < 4; k++) if (p[k]! > p[r]!) r = k;
    let col = 4;
    for (let k = 5; k < 8; k++) if (p[k]! > p[col]!) col = k;
    const R = p[r]!;
    const C = p[col]!;
    if (
      R >= this.minPower &&
      C >= this.minPower &&
      R <= C * this.normalTwist &&
      C <= R * this.reverseTwist &&
      R + C >= this.share * total
    ) {
      for (let k = 0; k < 4; k++) if (k !== r && p[k]! * this.relPeak > R) return -1;
      for (let k = 4; k < 8; k++) if (k !== col && p[k]! * this.relPeak > C) return -1;
      return POS_EVENT[r * 4 + (col - 4)]!;
    }
    return -1;
  }

  /** The hold/pause logic over one window's verdict: true when a digit was newly reported. */
  private decide(hit: number): boolean {
    if (hit >= 0 && hit === this.candidate) this.candidateCount++;
    else {
      this.candidate = hit;
      this.candidateCount = hit >= 0 ? 1 : 0;
    }
    if (hit >= 0 && hit === this.held) {
      this.missCount = 0;
      return false;
    }
    if (this.held >= 0 && ++this.missCount >= this.offWindows) this.held = -1;
    if (hit >= 0 && this.held < 0 && this.candidateCount >= this.onWindows) {
      this.held = hit;
      this.missCount = 0;
      this.push(hit);
      return true;
    }
    return false;
  }

  private push(ev: number): void {
    if (this.qLen === this.queue.length) {
      // overflow: drop the oldest, which only happens if nobody is reading
      this.qHead = (this.qHead + 1) % this.queue.length;
      this.qLen--;
    }
    this.queue[(this.qHead + this.qLen) % this.queue.length] = ev;
    this.qLen++;
  }

  /** Next detected digit as an event code (0-15, see {@link dtmfDigitChar}), or −1 when none is waiting. */
  takeDigit(): number {
    if (this.qLen === 0) return -1;
    const ev = this.queue[this.qHead]!;
    this.qHead = (this.qHead + 1) % this.queue.length;
    this.qLen--;
    return ev;
  }

  /** The digit currently being held (−1 when none): lets a caller measure how long a key is pressed. */
  get current(): number {
    return this.held;
  }

  /** Clear filter state, timing and the digit queue. */
  reset(): void {
    // as a new detector: a silent half before, its DFT (zero) computed if a window needs it
    this.halfBefore.fill(0);
    this.prevDft = false;
    this.energy = 0;
    this.prevEnergy = 0;
    this.fill = 0;
    this.candidate = -1;
    this.candidateCount = 0;
    this.held = -1;
    this.missCount = 0;
    this.qHead = 0;
    this.qLen = 0;
  }
}

/**
 * Convenience for tests and tools: run a fresh detector over a whole 8 kHz buffer and return the
 * digits as a string. Allocates; not for the media path.
 */
export function detectDtmfDigits(pcm: Int16Array, options?: DtmfDetectorOptions): string {
  const det = new DtmfDetector(options);
  det.process(pcm, pcm.length);
  let s = '';
  for (let ev = det.takeDigit(); ev >= 0; ev = det.takeDigit()) s += dtmfDigitChar(ev);
  return s;
}

// ---------------------------------------------------------------------------------------------
// In-band generation
// ---------------------------------------------------------------------------------------------

/** Options for {@link DtmfGenerator}. */
export interface DtmfGeneratorOptions {
  /** Output rate in Hz (any; 8000 for G.711 lines, 48000 for Opus lines). Default 8000. */
  readonly sampleRate?: number;
  /** Tone length per digit, ms. Default 100. */
  readonly durationMs?: number;
  /** Silence after each digit, ms. Default 50. */
  readonly gapMs?: number;
  /** Level of each of the two tones, dBm0. Default −10 (typical telephone set output). */
  readonly levelDbm0?: number;
}

/**
 * Synthesizes in-band DTMF into caller frames: queued digits play as row + column sine pairs for
 * `durationMs`, each followed by `gapMs` of silence. Phase runs continuously across frames, so a
 * tone split over any number of frames is one clean sine pair. Flash (`!`) has no tone and
 * plays as silence of the tone's length. Allocates nothing per frame.
 *
 * As a source of a call's graph (`media/mediaPorts`) it adds its digits to the frame while
 * {@link DtmfGenerator.busy}, and reports {@link DtmfGenerator.ended} when idle (the session
 * adds it again with the next digits).
 */
export class DtmfGenerator implements MediaSource {
  /** Output rate. */
  readonly sampleRate: number;
  private readonly onDefault: number;
  private readonly offSamples: number;
  private readonly amp: number;
  private readonly queueEvents: number[] = [];
  private readonly queueOn: number[] = [];
  private event = -1;
  private remainingOn = 0;
  private remainingOff = 0;
  private phRow = 0;
  private phCol = 0;
  private stRow = 0;
  private stCol = 0;

  /** @param options - rate, timing and level. */
  constructor(options: DtmfGeneratorOptions = {}) {
    this.sampleRate = options.sampleRate ?? 8000;
    this.onDefault = Math.round(((options.durationMs ?? 100) * this.sampleRate) / 1000);
    this.offSamples = Math.round(((options.gapMs ?? 50) * this.sampleRate) / 1000);
    this.amp = dbm0ToAmplitude(options.levelDbm0 ?? -10);
  }

  /**
   * Queue digits to play after any already queued.
   * @throws RangeError when a character is not a DTMF digit; nothing is queued then.
   */
  enqueue(digits: string, durationMs?: number): void {
    if (!isValidDtmfString(digits)) throw new RangeError(`invalid DTMF digits: ${JSON.stringify(digits)}`);
    const on = durationMs === undefined ? this.onDefault : Math.round((durationMs * this.sampleRate) / 1000);
    for (const ch of digits) {
      this.queueEvents.push(dtmfEventCode(ch));
      this.queueOn.push(on);
    }
  }

  /** True while a digit or its trailing gap is playing or more digits are queued. */
  get busy(): boolean {
    return this.remainingOn > 0 || this.remainingOff > 0 || this.queueEvents.length > 0;
  }

  /** Digits queued and not started yet. */
  get pending(): number {
    return this.queueEvents.length;
  }

  /** `MediaSource.read`: adds the digits due into `out[0, n)` while busy, at the generator's rate. */
  read(out: Int16Array, n: number, rate: number): boolean {
    if (rate !== this.sampleRate || !this.busy) return false;
    this.generate(out, n, true);
    return true;
  }

  /** `MediaPort.ended`: nothing playing and nothing queued. */
  get ended(): boolean {
    return !this.busy;
  }

  /** Drop queued digits and cut the current tone off. */
  clear(): void {
    this.queueEvents.length = 0;
    this.queueOn.length = 0;
    this.remainingOn = 0;
    this.remainingOff = 0;
    this.event = -1;
  }

  /**
   * Fill `out[0, len)` with tone or silence, or add into existing audio when `mix` is true
   * (silent parts then leave `out` untouched), clamping to 16 bits.
   * @returns `len`.
   */
  generate(out: Int16Array, len: number = out.length, mix = false): number {
    let i = 0;
    while (i < len) {
      if (this.remainingOn === 0 && this.remainingOff === 0) {
        if (this.queueEvents.length === 0) {
          if (!mix) out.fill(0, i, len);
          return len;
        }
        this.startNext();
        continue;
      }
      if (this.remainingOn > 0) {
        const n = Math.min(len - i, this.remainingOn);
        if (this.event < 16) {
          const a = this.amp;
          let pr = this.phRow;
          let pc = this.phCol;
          const sr = this.stRow;
          const sc = this.stCol;
          for (let j = i; j < i + n; j++) {
            let v = a * (Math.sin(pr) + Math.sin(pc));
            if (mix) v += out[j]!;
            out[j] = v > 32767 ? 32767 : v < -32768 ? -32768 : Math.round(v);
            pr += sr;
            if (pr >= 2 * Math.PI) pr -= 2 * Math.PI;
            pc += sc;
            if (pc >= 2 * Math.PI) pc -= 2 * Math.PI;
          }
          this.phRow = pr;
          this.phCol = pc;
        } else if (!mix) out.fill(0, i, i + n);
        this.remainingOn -= n;
        i += n;
        continue;
      }
      const n = Math.min(len - i, this.remainingOff);
      if (!mix) out.fill(0, i, i + n);
      this.remainingOff -= n;
      i += n;
    }
    return len;
  }

  private startNext(): void {
    this.event = this.queueEvents.shift()!;
    this.remainingOn = Math.max(1, this.queueOn.shift()!);
    this.remainingOff = this.offSamples;
    this.phRow = 0;
    this.phCol = 0;
    if (this.event < 16) {
      const [fr, fc] = dtmfFrequencies(this.event);
      this.stRow = (2 * Math.PI * fr) / this.sampleRate;
      this.stCol = (2 * Math.PI * fc) / this.sampleRate;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// SIP INFO bodies
// ---------------------------------------------------------------------------------------------

/** A digit carried in a SIP INFO body. */
export interface DtmfInfo {
  /** The digit character (`0-9 * # A-D`, `!` for flash). */
  readonly digit: string;
  /** Its RFC 4733 event code. */
  readonly event: number;
  /** Duration in ms, when the body gives one. */
  readonly durationMs?: number;
}

/** Content type of the Cisco-originated `Signal=`/`Duration=` body most PBXes accept. */
export const DTMF_RELAY_CONTENT_TYPE = 'application/dtmf-relay';
/** Content type of the bare-digit body. */
export const DTMF_CONTENT_TYPE = 'application/dtmf';

/** Map a signal token to an event: a digit character, `!`/`hf` for flash, or a numeric code 10-16. */
function signalEvent(token: string): number {
  const t = token.trim();
  const direct = dtmfEventCode(t);
  if (direct >= 0) return direct;
  if (t.toLowerCase() === 'hf') return DTMF_EVENT_FLASH;
  if (/^1[0-6]$/.test(t)) return Number(t);
  return -1;
}

/**
 * Build an `application/dtmf-relay` body: `Signal=5\r\nDuration=160\r\n`.
 * @throws RangeError for an invalid digit.
 */
export function buildDtmfRelayBody(digit: string, durationMs = 160): string {
  if (dtmfEventCode(digit) < 0) throw new RangeError(`invalid DTMF digit: ${JSON.stringify(digit)}`);
  return `Signal=${digit.toUpperCase()}\r\nDuration=${Math.max(0, Math.round(durationMs))}\r\n`;
}

/**
 * Parse an `application/dtmf-relay` body. Tolerant of what phones actually send: any case in
 * the keys, spaces around `=`, LF-only line ends, numeric codes (`Signal=11` for `#`), `hf` for
 * flash, and extra lines. @returns undefined when there is no valid `Signal`.
 */
export function parseDtmfRelayBody(body: string): DtmfInfo | undefined {
  let event = -1;
  let durationMs: number | undefined;
  for (const line of body.split(/\r?\n|\r/)) {
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim().toLowerCase();
    const value = line.slice(eq + 1).trim();
    if (key === 'signal') event = signalEvent(value);
    else if (key === 'duration' && /^\d+$/.test(value)) durationMs = Number(value);
  }
  if (event < 0) return undefined;
  return durationMs === undefined
    ? { digit: dtmfDigitChar(event), event }
    : { digit: dtmfDigitChar(event), event, durationMs };
}

/**
 * Build an `application/dtmf` body: just the digit.
 * @throws RangeError for an invalid digit.
 */
export function buildDtmfBody(digit: string): string {
  if (dtmfEventCode(digit) < 0) throw new RangeError(`invalid DTMF digit: ${JSON.stringify(digit)}`);
  return digit.toUpperCase();
}

/** Parse an `application/dtmf` body (a digit or numeric code, surrounding whitespace allowed). */
export function parseDtmfBody(body: string): DtmfInfo | undefined {
  const event = signalEvent(body);
  return event < 0 ? undefined : { digit: dtmfDigitChar(event), event };
}

/**
 * Parse an INFO body by its Content-Type (parameters and case ignored).
 * @returns undefined for other content types or bodies without a digit.
 */
export function parseDtmfInfoBody(contentType: string, body: string): DtmfInfo | undefined {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (type === DTMF_RELAY_CONTENT_TYPE) return parseDtmfRelayBody(body);
  if (type === DTMF_CONTENT_TYPE) return parseDtmfBody(body);
  return undefined;
}
