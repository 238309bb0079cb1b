/**
 * The SRTP state of one RTP session (RFC 3711): a send context keyed with our SDES key and a
 * receive context keyed with the peer's, both from libsrtp2 (`ffi/srtp.ts`). {@link RtpSocket}
 * protects every RTP/RTCP packet right before it leaves and unprotects every datagram right after
 * it arrives, so the rest of the media path only ever sees plain RTP.
 *
 * A packet that fails authentication or is a replay is dropped and counted here
 * ({@link SrtpSessionStats}); the call's audio goes on with the next good packet.
 * @module
 */
import { isSrtpReplay, SrtpContext, SRTP_ERR, supportedSrtpSuites, type SrtpResult, type SrtpSuite } from '../ffi/srtp.js';

/** The suites the installed libsrtp2 runs (empty without it): for lines/, which reaches ffi/ through media/. */
export { supportedSrtpSuites };

/** The keys of one SRTP session, as SDES negotiated them (base64 `key||salt`, RFC 4568 §6.1). */
export interface SrtpKeying {
  /** The crypto suite both ends agreed on. */
  suite: SrtpSuite;
  /** Our master key and salt, base64: protects what we send. */
  sendKey: string;
  /** The peer's master key and salt, base64: unprotects what we receive. */
  receiveKey: string;
  /** MKI value we put in our packets, with its length in bytes (RFC 4568 §6.1), if any. */
  sendMki?: { value: number; bytes: number };
  /** MKI value the peer's packets carry, with its length, if any. */
  receiveMki?: { value: number; bytes: number };
}

/** Counters of an {@link SrtpSession}. */
export interface SrtpSessionStats {
  /** The suite in use. */
  suite: SrtpSuite;
  /** Received SRTP/SRTCP packets that failed authentication (tampered, or another key): dropped. */
  srtpAuthFailures: number;
  /** Received packets whose index was seen before or is older than the replay window: dropped. */
  srtpReplays: number;
  /** Received packets dropped for any other SRTP reason (too short, unknown MKI). */
  srtpOtherErrors: number;
  /** Packets we could not protect (not sent). */
  srtpProtectErrors: number;
}

function mkiBytes(m: { value: number; bytes: number } | undefined): Uint8Array | undefined {
  if (m === undefined) return undefined;
  const out = new Uint8Array(m.bytes);
  let v = m.value;
  for (let i = m.bytes - 1; i >= 0; i--) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}

/** True when two keyings carry the same suite, keys and MKIs (a re-offer that changed nothing). */
export function sameSrtpKeying(a: SrtpKeying | undefined, b: SrtpKeying | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    a.suite === b.suite &&
    a.sendKey === b.sendKey &&
    a.receiveKey === b.receiveKey &&
    a.sendMki?.value === b.sendMki?.value &&
    a.sendMki?.bytes === b.sendMki?.bytes &&
    a.receiveMki?.value === b.receiveMki?.value &&
    a.receiveMki?.bytes === b.receiveMki?.bytes
  );
}

/**
 * Send and receive SRTP contexts of one session, with drop counters. Per packet it allocates
 * nothing: the transforms work in place on the caller's buffer.
 */
export class SrtpSession {
  /** Bytes a protect may append to a packet (tag, SRTCP index, MKI). */
  readonly trailerBytes: number;
  private authFailures = 0;
  private replays = 0;
  private otherErrors = 0;
  private protectErrors = 0;

  private constructor(
    /** The keying in use (compared on re-INVITE). */
    private current: SrtpKeying,
    private readonly tx: SrtpContext,
    private rx: SrtpContext,
  ) {
    this.trailerBytes = tx.trailerBytes;
  }

  /** The keying in use (compared on re-INVITE). */
  get keying(): SrtpKeying {
    return this.current;
  }

  /** Whether `keying` keeps our side (suite, send key, send MKI) and only the peer's key may differ. */
  sameSendSide(keying: SrtpKeying): boolean {
    const c = this.current;
    return c.suite === keying.suite && c.sendKey === keying.sendKey && c.sendMki?.value === keying.sendMki?.value && c.sendMki?.bytes === keying.sendMki?.bytes;
  }

  /**
   * Re-keys the receive side only (the peer changed its key in a re-INVITE), keeping the send
   * context: a fresh send context under the same key would restart its rollover counter and could
   * encrypt two packets with the same key stream. False (nothing changed) when the new context
   * cannot be made.
   */
  rekeyReceive(keying: SrtpKeying): boolean {
    if (!this.sameSendSide(keying)) return false;
    const rx = SrtpContext.create(keying.suite, Buffer.from(keying.receiveKey, 'base64'), 'receive', mkiBytes(keying.receiveMki));
    if (!rx.ok) return false;
    this.rx.close();
    this.rx = rx.value;
    this.current = { ...keying };
    return true;
  }

  /** Both contexts from `keying`; never throws (a library missing or a bad key is the failure). */
  static create(keying: SrtpKeying): SrtpResult<SrtpSession> {
    const tx = SrtpContext.create(keying.suite, Buffer.from(keying.sendKey, 'base64'), 'send', mkiBytes(keying.sendMki));
    if (!tx.ok) return tx;
    const rx = SrtpContext.create(keying.suite, Buffer.from(keying.receiveKey, 'base64'), 'receive', mkiBytes(keying.receiveMki));
    if (!rx.ok) {
      tx.value.close();
      return rx;
    }
    return { ok: true, value: new SrtpSession({ ...keying }, tx.value, rx.value) };
  }

  private received(result: number): number {
    if (result >= 0) return result;
    if (isSrtpReplay(result)) this.replays++;
    else if (result === -SRTP_ERR.authFail || result === -SRTP_ERR.cipherFail) this.authFailures++;
    else this.otherErrors++;
    return -1;
  }

  /** Protects an outgoing RTP packet in place: its new length, or -1 (counted; do not send). */
  protectRtp(buf: Uint8Array, len: number): number {
    const r = this.tx.protectRtp(buf, len);
    if (r < 0) this.protectErrors++;
    return r < 0 ? -1 : r;
  }

  /** Protects an outgoing RTCP compound packet in place: its new length, or -1. */
  protectRtcp(buf: Uint8Array, len: number): number {
    const r = this.tx.protectRtcp(buf, len);
    if (r < 0) this.protectErrors++;
    return r < 0 ? -1 : r;
  }

  /** Unprotects a received SRTP packet in place: the plain length, or -1 (dropped and counted). */
  unprotectRtp(buf: Uint8Array, len: number): number {
    return this.received(this.rx.unprotectRtp(buf, len));
  }

  /** Unprotects a received SRTCP packet in place: the plain length, or -1 (dropped and counted). */
  unprotectRtcp(buf: Uint8Array, len: number): number {
    return this.received(this.rx.unprotectRtcp(buf, len));
  }

  /** Received packets dropped for failed authentication so far (read without allocating). */
  get authFailureCount(): number {
    return this.authFailures;
  }

  /** Received packets dropped as replays so far (read without allocating). */
  get replayCount(): number {
    return this.replays;
  }

  /** The counters so far. */
  stats(): SrtpSessionStats {
    return {
      suite: this.keying.suite,
      srtpAuthFailures: this.authFailures,
      srtpReplays: this.replays,
      srtpOtherErrors: this.otherErrors,
      srtpProtectErrors: this.protectErrors,
    };
  }

  /** Carries the drop counters of a session this one replaces (re-keying keeps the call's totals). */
  inherit(prev: SrtpSession): void {
    this.authFailures += prev.authFailures;
    this.replays += prev.replays;
    this.otherErrors += prev.otherErrors;
    this.protectErrors += prev.protectErrors;
  }

  /** Frees both native contexts. */
  close(): void {
    this.tx.close();
    this.rx.close();
  }
}
