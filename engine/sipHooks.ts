/**
 * SIP message hooks (LanScape's SipModifySipMessage): the application sees every SIP message the
 * engine sends or receives as text, and may rewrite it, drop it, or send it elsewhere. Off by
 * default: building the text of every message costs time, so nothing is built until the
 * application calls `enableSipMessageHook(true)`.
 * @module
 */
import { isIP } from 'node:net';
import type { SipMessage } from '../sip/message.js';
import { parseMessage, serializeMessage } from '../sip/parser.js';
import type { MessageDirection, MessageHookVerdict, SipStack } from '../sip/stack.js';
import type { RemoteEndpoint } from '../sip/transport.js';
import { TelephonyReturnValue as T } from './returnCodes.js';
import type { TransportAddress } from './types.js';

/**
 * Data of the immediate `SipModifySipMessage` notification. The handler may change `message`,
 * set `drop`, or (sent messages) change `destination`; the engine reads the fields back when the
 * handler returns.
 */
export interface ModifySipMessageData {
  /** `sent`: about to leave the engine; `received`: just arrived, not yet processed. */
  direction: MessageDirection;
  /**
   * The whole message, one character per byte (latin1), so binary bodies survive the round
   * trip. Change it to rewrite the message: it is parsed again (Content-Length is recomputed
   * from the body). When the new text does not parse, the original message is used and a
   * process warning is emitted.
   */
  message: string;
  /** Set true to drop the message: a sent one is never transmitted, a received one is ignored. */
  drop: boolean;
  /** Sent messages: where it goes. Change `host`/`port`/`protocol` to redirect it (IP addresses only). */
  destination?: TransportAddress;
  /** Received messages: where it came from (read only). */
  source?: TransportAddress;
}

/** Turns the stack's message hook into SipModifySipMessage notifications. */
export class SipMessageHooks {
  private enabled = false;

  /**
   * @param raise delivers the immediate notification (synchronously) and returns its data
   */
  /**
   * @param raise delivers the immediate SipModifySipMessage notification
   * @param warn where a rewrite the engine had to ignore is reported (the engine's logger)
   */
  constructor(
    private readonly raise: (data: ModifySipMessageData) => ModifySipMessageData,
    private readonly warn: (message: string) => void,
  ) {}

  /** Whether the hook is installed. */
  get isEnabled(): boolean {
    return this.enabled;
  }

  /** Installs or removes the hook on `stack` (SipBadParameter when `on` is not a boolean). */
  enable(stack: SipStack, on: boolean): T {
    if (typeof on !== 'boolean') return T.SipBadParameter;
    this.enabled = on;
    stack.setMessageHook(on ? (direction, msg, remote) => this.hook(direction, msg, remote) : undefined);
    return T.SipSuccess;
  }

  /** Forgets the state (the engine stopped). */
  reset(): void {
    this.enabled = false;
  }

  private hook(direction: MessageDirection, msg: SipMessage, remote: RemoteEndpoint): MessageHookVerdict | undefined {
    const text = serializeMessage(msg).toString('latin1');
    const address: TransportAddress = { protocol: remote.protocol, host: remote.host, port: remote.port };
    const data: ModifySipMessageData = {
      direction,
      message: text,
      drop: false,
      ...(direction === 'sent' ? { destination: { ...address } } : { source: address }),
    };
    // The notifier catches what the handler throws: a broken handler leaves the message as it was.
    this.raise(data);
    if (data.drop === true) return { drop: true };
    const verdict: MessageHookVerdict = {};
    if (typeof data.message === 'string' && data.message !== text) {
      const replaced = reparse(data.message, msg.type);
      if (replaced) verdict.message = replaced;
      else this.warn('SipModifySipMessage: the rewritten message does not parse; the original is used');
    }
    if (direction === 'sent' && data.destination) {
      const d = data.destination;
      if (d.host !== address.host || d.port !== address.port || d.protocol !== address.protocol) {
        const okProtocol = d.protocol === 'UDP' || d.protocol === 'TCP';
        const okPort = Number.isInteger(d.port) && d.port > 0 && d.port < 65536;
        if (okProtocol && okPort && typeof d.host === 'string' && isIP(d.host)) {
          verdict.destination = { protocol: d.protocol as 'UDP' | 'TCP', host: d.host, port: d.port };
        } else {
          this.warn('SipModifySipMessage: ignoring an invalid destination (needs UDP/TCP, an IP address and a port)');
        }
      }
    }
    return verdict;
  }
}

/**
 * Parses the application's text; undefined when it is not a SIP message of the same kind. The
 * body is everything after the blank line: Content-Length is rewritten to match, so an edited
 * body needs no arithmetic from the application.
 */
function reparse(text: string, type: SipMessage['type']): SipMessage | undefined {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = text
    .slice(0, end)
    .split('\r\n')
    .filter((line) => !/^(content-length|l)[ \t]*:/i.test(line))
    .join('\r\n');
  const body = Buffer.from(text.slice(end + 4), 'latin1');
  try {
    const m = parseMessage(Buffer.concat([Buffer.from(`${head}\r\nContent-Length: ${body.length}\r\n\r\n`, 'latin1'), body]));
    return m.type === type ? m : undefined;
  } catch {
    // SipParseError: not a message; nothing else is expected from a pure parser
    return undefined;
  }
}
