/**
 * SIP message parsing and serialization (RFC 3261 §7, §18.3, §25).
 * @module
 */
import { SipParseError, type SipMessage } from './message.js';

/** Options of {@link parseMessage}. */
export interface ParseOptions {
  /**
   * True for messages that came over a stream (TCP/TLS): Content-Length is then mandatory.
   * Over UDP a missing Content-Length means "the rest of the datagram".
   */
  stream?: boolean;
}

/** Parses one whole SIP message. Throws {@link SipParseError} with a clear reason. */
export function parseMessage(data: Buffer, options: ParseOptions = {}): SipMessage {
  void data; void options;
  throw new SipParseError('not implemented');
}

/** Serializes a message; Content-Length is always written from the body's byte length. */
export function serializeMessage(msg: SipMessage): Buffer {
  void msg;
  throw new SipParseError('not implemented');
}

/**
 * Stream framing: given bytes received on a stream starting at `offset`, returns the byte length of
 * the first complete message there, 0 if more bytes are needed. Leading CRLFs (keep-alives) are
 * not part of a message: see {@link skipKeepAlive}. Throws {@link SipParseError} when the bytes can
 * never become a message (no Content-Length, oversized header section).
 */
export function frameStreamMessage(data: Buffer, offset: number): number {
  void data; void offset;
  throw new SipParseError('not implemented');
}

/** Number of leading CR/LF bytes at `offset` (RFC 5626 keep-alive pings are CRLFCRLF). */
export function skipKeepAlive(data: Buffer, offset: number): number {
  let i = offset;
  while (i < data.length && (data[i] === 13 || data[i] === 10)) i++;
  return i - offset;
}
