/**
 * A pino logger that keeps what it is given, for tests that check what the engine reports.
 * @module
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

/** One parsed log line. */
export interface LogRecord {
  /** pino's numeric level (40 warn, 50 error). */
  level: number;
  /** The message. */
  msg: string;
  /** A logged error, serialized by pino (`type`, `message`, `stack`). */
  err?: { type: string; message: string; stack: string };
  /** Any other field. */
  [field: string]: unknown;
}

/** A logger at `level` (default debug) and the records it received, in order. */
export function captureLog(level = 'debug'): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) records.push(JSON.parse(line) as LogRecord);
      done();
    },
  });
  return { logger: pino({ level }, sink), records };
}
