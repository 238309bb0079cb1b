/**
 * Packet times other than 20 ms on the media floor (RFC 3551 §4.5: G.711, G.722 and G.729 are
 * divisible into 10 ms units, GSM into 20 ms frames). The media pump ticks every 20 ms and the
 * codecs code 20 ms frames; these two helpers adapt the packets around them:
 * - {@link TxPacketizer} packs the encoded 20 ms frames of successive ticks into packets of the
 *   negotiated ptime (10 ms: two packets a tick; 30 ms: a packet every tick and a half; 40 and
 *   60 ms: every second and third tick), each timestamped at its first unit;
 * - {@link RxReframer} cuts received packets of any whole number of units back into 20 ms
 *   frames for the jitter buffer, joining two 10 ms halves that arrive in separate packets.
 * Both work in buffers allocated once: nothing is allocated per packet.
 * Opus has no fixed unit: it is sent in 20 ms packets, and received ones of other durations are
 * split or gathered by media/opusFraming.ts.
 * @module
 */
import type { CodecName } from './codecs.js';

/** The divisible unit of a codec's payload: its duration and size; undefined when it has none. */
export interface PayloadUnit {
  /** Duration of one unit, ms (10, or 20 for GSM). */
  readonly ms: number;
  /** Bytes of one unit. */
  readonly bytes: number;
}

/** The longest packet handled, ms. */
const MAX_PACKET_MS = 60;

/** The payload unit of each codec that has one (Opus has none). */
export function payloadUnitOf(codec: CodecName): PayloadUnit | undefined {
  switch (codec) {
    case 'PCMU':
    case 'PCMA':
    case 'G722': // 64 kbit/s: 80 bytes per 10 ms, at an 8000 Hz RTP clock (RFC 3551 §4.5.2)
      return { ms: 10, bytes: 80 };
    case 'G729':
      return { ms: 10, bytes: 10 };
    case 'G726-32': // 4 bits a sample: 40 bytes per 10 ms
      return { ms: 10, bytes: 40 };
    case 'GSM':
      return { ms: 20, bytes: 33 };
    default:
      return undefined;
  }
}

/** Where a ready packet's payload is and when it starts (filled by {@link TxPacketizer.next}). */
export interface ReadyPacket {
  /** Payload bytes copied to the output. */
  length: number;
  /** RTP timestamp of its first unit. */
  timestamp: number;
}

/** Packs encoded 20 ms frames into packets of the negotiated ptime. */
export class TxPacketizer {
  /** Made when packing first turns on: most calls send 20 ms and never need it. */
  private buf = Buffer.alloc(0);
  private len = 0;
  private startTs = 0;
  private unitBytes = 0;
  private unitTs = 0;
  private packetUnits = 0;

  /**
   * Sets the unit and the packet time; a ptime of 20 ms, or a codec without a unit, turns
   * packing off (every frame is its own packet, as before). Drops anything pending.
   *
   * @param unit - the codec's payload unit, if any
   * @param ptimeMs - the packet time to send with
   * @param clockRate - the RTP clock
   */
  configure(unit: PayloadUnit | undefined, ptimeMs: number, clockRate: number): void {
    this.len = 0;
    if (unit === undefined || ptimeMs === 20 || ptimeMs % unit.ms !== 0 || ptimeMs > MAX_PACKET_MS) {
      this.packetUnits = 0;
      return;
    }
    this.unitBytes = unit.bytes;
    this.unitTs = (clockRate * unit.ms) / 1000;
    this.packetUnits = ptimeMs / unit.ms;
    if (this.buf.length === 0) this.buf = Buffer.alloc(2 * MAX_PACKET_MS * 80);
  }

  /** True when frames are packed (ptime other than 20 ms on a codec with a unit). */
  get active(): boolean {
    return this.packetUnits > 0;
  }

  /** True while encoded units wait for the rest of their packet. */
  get pending(): boolean {
    return this.len > 0;
  }

  /**
   * Adds one encoded frame (`src[offset, offset + length)`) whose first sample is at `timestamp`.
   * A frame that does not follow the pending units (a gap: hold, DTMF) or is no whole number of
   * units must be preceded by {@link TxPacketizer.flush}; false when it cannot be taken.
   */
  add(src: Buffer, offset: number, length: number, timestamp: number): boolean {
    if (length % this.unitBytes !== 0 || this.len + length > this.buf.length) return false;
    if (this.len > 0 && ((this.startTs + (this.len / this.unitBytes) * this.unitTs) >>> 0) !== timestamp >>> 0) return false;
    if (this.len === 0) this.startTs = timestamp >>> 0;
    src.copy(this.buf, this.len, offset, offset + length);
    this.len += length;
    return true;
  }

  /**
   * Copies the next complete packet's payload to `out` at `outOffset` and describes it in
   * `ready`; false when no complete packet is pending.
   */
  next(out: Buffer, outOffset: number, ready: ReadyPacket): boolean {
    const need = this.packetUnits * this.unitBytes;
    if (this.len < need) return false;
    this.take(need, out, outOffset, ready);
    return true;
  }

  /** Forgets the pending units (the stream stopped sending: hold, no remote). */
  drop(): void {
    this.len = 0;
  }

  /** Copies whatever is pending (a short packet) to `out`; false when nothing is. */
  flush(out: Buffer, outOffset: number, ready: ReadyPacket): boolean {
    if (this.len === 0) return false;
    this.take(this.len, out, outOffset, ready);
    return true;
  }

  private take(n: number, out: Buffer, outOffset: number, ready: ReadyPacket): void {
    this.buf.copy(out, outOffset, 0, n);
    ready.length = n;
    ready.timestamp = this.startTs;
    this.buf.copyWithin(0, n, this.len);
    this.len -= n;
    this.startTs = (this.startTs + (n / this.unitBytes) * this.unitTs) >>> 0;
  }
}

/** Where {@link RxReframer} puts each 20 ms frame it cuts: the jitter buffer's push. */
export interface FrameSink {
  /** Takes one frame (`payload[offset, offset + length)`, copied in) at `timestamp`. */
  push(seq: number, timestamp: number, payload: Buffer, offset: number, length: number, arrivalMs: number): unknown;
}

/** Cuts received packets into 20 ms frames. */
export class RxReframer {
  /** A 10 ms unit waiting for its second half; made when a unit is first left over (most streams never leave one). */
  private half: Buffer | undefined;
  private halfLen = 0;
  private halfTs = 0;
  private unitBytes = 0;
  private unitTs = 0;
  private unitsPerFrame = 0;

  /**
   * Sets the codec's unit (undefined: packets pass whole, as for Opus). Drops a pending half.
   *
   * @param unit - the codec's payload unit, if any
   * @param clockRate - the RTP clock
   */
  configure(unit: PayloadUnit | undefined, clockRate: number): void {
    this.halfLen = 0;
    if (unit === undefined || 20 % unit.ms !== 0) {
      this.unitsPerFrame = 0;
      return;
    }
    this.unitBytes = unit.bytes;
    this.unitTs = (clockRate * unit.ms) / 1000;
    this.unitsPerFrame = 20 / unit.ms;
  }

  /** Bytes of a 20 ms frame (0 when packets pass whole). */
  get frameBytes(): number {
    return this.unitsPerFrame * this.unitBytes;
  }

  /**
   * Hands `sink` the packet's 20 ms frames: a packet of one frame, or one that is no whole
   * number of units (a G.729 SID, a stray size), goes as it is; longer packets are cut; a 10 ms
   * unit left over waits for the next one to make a frame with it, or goes alone (the decoder
   * pads it) when the next one does not follow it.
   */
  feed(sink: FrameSink, seq: number, ts: number, buf: Buffer, offset: number, length: number, arrivalMs: number): void {
    const ub = this.unitBytes;
    const frame = this.frameBytes;
    if (frame === 0 || length === frame || length === 0 || length % ub !== 0) {
      this.flushHalf(sink, seq, arrivalMs);
      sink.push(seq, ts, buf, offset, length, arrivalMs);
      return;
    }
    const units = length / ub;
    let i = 0;
    if (this.halfLen > 0) {
      if (((this.halfTs + this.unitTs) >>> 0) === ts >>> 0) {
        const half = this.half!;
        buf.copy(half, this.halfLen, offset, offset + ub);
        sink.push(seq, this.halfTs, half, 0, this.halfLen + ub, arrivalMs);
        this.halfLen = 0;
        i = 1;
      } else {
        this.flushHalf(sink, seq, arrivalMs);
      }
    }
    const per = this.unitsPerFrame;
    for (; i + per <= units; i += per) {
      sink.push(seq, (ts + i * this.unitTs) >>> 0, buf, offset + i * ub, per * ub, arrivalMs);
    }
    if (i < units) {
      buf.copy((this.half ??= Buffer.alloc(2 * 80)), 0, offset + i * ub, offset + (i + 1) * ub);
      this.halfLen = ub;
      this.halfTs = (ts + i * this.unitTs) >>> 0;
    }
  }

  private flushHalf(sink: FrameSink, seq: number, arrivalMs: number): void {
    if (this.halfLen === 0 || this.half === undefined) return;
    sink.push(seq, this.halfTs, this.half, 0, this.halfLen, arrivalMs);
    this.halfLen = 0;
  }
}
