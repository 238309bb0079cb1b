/**
 * SIP message logging (`logSipMessages`): one structured JSON line per message sent or
 * received, through pino, to a file (`sipLogFile`), the application's logger, or standard error.
 * @module
 */
import { pino, type Logger } from 'pino';
import type { SipMessage } from '../sip/message.js';
import { serializeMessage } from '../sip/parser.js';
import type { SipStack } from '../sip/stack.js';
import { redactSdesKeys } from '../sip/sdes.js';
import type { Endpoint } from '../sip/transport.js';

/** One logged message, as written in each line (plus pino's `level`, `time`, `msg`). */
export interface SipLogRecord {
  /** `recv` or `send`. */
  dir: 'recv' | 'send';
  /** Transport protocol. */
  proto: string;
  /** The far address, `host:port`. */
  remote: string;
  /** Request line or status line. */
  firstLine: string;
  /** Call-ID, for grepping one call. */
  callId?: string;
  /** CSeq value. */
  cseq?: string;
  /** The whole message as text, SDES keys redacted (`inline:<redacted>`). */
  sip: string;
}

function startLine(m: SipMessage): string {
  return m.type === 'request' ? `${m.method} ${m.uri} ${m.version}` : `${m.version} ${m.status} ${m.reason}`;
}

/**
 * Starts logging every message of `stack`: to `file` when given, else to the application's
 * `logger` when it gave one (a child with `component: linescape-sip`, at info level), else to
 * standard error. Returns a function that stops logging and flushes what this module opened.
 * Serializing each message costs time, which is why logging is off unless asked for.
 */
export function attachSipLogger(stack: SipStack, file?: string, appLogger?: Logger): () => void {
  const dest = file || !appLogger ? pino.destination(file ? { dest: file, append: true, mkdir: true, sync: false } : { dest: 2, sync: false }) : undefined;
  const logger: Logger = dest ? pino({ base: { component: 'linescape-sip' } }, dest) : appLogger!.child({ component: 'linescape-sip' });
  const record = (dir: 'recv' | 'send', msg: SipMessage, ep: Endpoint): void => {
    const rec: SipLogRecord = {
      dir,
      proto: ep.protocol,
      remote: `${ep.host}:${ep.port}`,
      firstLine: startLine(msg),
      callId: msg.headers.get('Call-ID'),
      cseq: msg.headers.get('CSeq'),
      // SDES keys (a=crypto inline:) never reach a log: a logged key decrypts the call
      sip: redactSdesKeys(serializeMessage(msg).toString('latin1')),
    };
    logger.info(rec, dir === 'recv' ? 'SIP received' : 'SIP sent');
  };
  const onReceived = (msg: SipMessage, from: Endpoint): void => record('recv', msg, from);
  const onSent = (msg: SipMessage, to: Endpoint): void => record('send', msg, to);
  stack.on('received', onReceived);
  stack.on('sent', onSent);
  return () => {
    stack.off('received', onReceived);
    stack.off('sent', onSent);
    if (!dest) return; // the application's logger is the application's to flush
    try {
      dest.flushSync();
    } catch {
      // an asynchronous destination not yet open has nothing to flush
    }
    dest.end();
  };
}
