/**
 * Fakes of the SIP layers below the usages, for unit tests without sockets: a client
 * transaction layer behind the real client path (`sip/uac.ts` `UacServices`, with a real
 * digest client and credential store), a server transaction that keeps its answers, and
 * builders of responses and challenges. Time is a `VirtualClock`: the fake timer F fires only
 * when the test advances it.
 * @module
 */
import { CredentialStore, DigestClient, createChallenge, formatDigestHeader } from '../../sip/digest.js';
import { parseMessage } from '../../sip/parser.js';
import type { SipRequest, SipResponse } from '../../sip/message.js';
import type { VirtualClock } from '../../sip/clock.js';
import type { ClientTransaction, ClientTransactionUser, ServerTransaction } from '../../sip/transaction.js';
import type { Endpoint } from '../../sip/transport.js';
import { buildResponse } from '../../sip/util.js';
import { answerChallenge, type OutboundProxy, type UacServices } from '../../sip/uac.js';

/** Timer F (and B) of RFC 3261: 64 × T1. */
export const TIMER_F_MS = 32_000;

/** One request handed to the fake transaction layer. */
export interface SentRequest {
  /** The request as sent. */
  req: SipRequest;
  /** Where it was sent. */
  dest: Endpoint;
  /** Its transaction user; `onFinal` is passed on once, later calls are absorbed (as a real transaction does). */
  user: ClientTransactionUser;
  /** The fake transaction: a marker object (what `onTransaction` and `sendCancel` see). */
  tx: ClientTransaction;
  /** A final answer or the time-out ended the transaction. */
  readonly done: boolean;
  /** Answers with `status` (final or provisional): builds the response, hands it to the user, returns it. */
  reply(status: number, options?: ReplyOptions): SipResponse;
  /** Answers 401 or 407 with a fresh digest challenge for `realm`. */
  challenge(status?: 401 | 407, options?: ChallengeOptions): SipResponse;
}

/** Extras of a fake response. */
export interface ReplyOptions {
  /** Reason phrase (default the standard one). */
  reason?: string;
  /** To tag to add (default `far`). */
  toTag?: string;
  /** Extra headers, in order. */
  headers?: Array<[string, string]>;
  /** Body (with its Content-Type in `headers`). */
  body?: string;
}

/** Extras of a fake challenge. */
export interface ChallengeOptions {
  /** Realm (default `example.com`). */
  realm?: string;
  /** A fixed nonce (default a fresh one). */
  nonce?: string;
  /** `stale=true`. */
  stale?: boolean;
}

/** Options of {@link fakeUac}. */
export interface FakeUacOptions {
  /** Credentials in the store: [user, password, realm]. */
  credentials?: Array<[string, string, string]>;
  /** The outbound proxy, when one is set. */
  outbound?: OutboundProxy;
  /** Name resolution of next hops (default: nothing resolves). */
  resolve?: (host: string) => string | undefined;
  /** Makes `send` report the engine as stopped (undefined transaction). */
  stopped?: () => boolean;
}

/** A fake client transaction layer and what went through it. */
export interface FakeUac {
  /** The services to give the usage under test. */
  services: UacServices;
  /** Every request sent, in order. */
  sent: SentRequest[];
  /** Requests of one method, in order. */
  of(method: string): SentRequest[];
  /** The last request sent (throws when none: the test is wrong then). */
  last(method?: string): SentRequest;
}

/** A response to `req` as a peer would build it. */
export function responseTo(req: SipRequest, status: number, options: ReplyOptions = {}): SipResponse {
  const res = buildResponse(req, status, options.reason, { toTag: status > 100 ? (options.toTag ?? 'far') : undefined });
  for (const [n, v] of options.headers ?? []) res.headers.append(n, v);
  if (options.body !== undefined) res.body = Buffer.from(options.body, 'latin1');
  return res;
}

/** A 401/407 answering `req` with a digest challenge. */
export function challengeTo(req: SipRequest, status: 401 | 407 = 401, options: ChallengeOptions = {}): SipResponse {
  const res = responseTo(req, status);
  const c = createChallenge(options.realm ?? 'example.com', { stale: options.stale ?? false });
  if (options.nonce) c.params['nonce'] = options.nonce;
  res.headers.append(status === 407 ? 'Proxy-Authenticate' : 'WWW-Authenticate', formatDigestHeader(c, true));
  return res;
}

/**
 * A fake transaction layer behind the real client path: each request is recorded; the test
 * answers it with `reply`/`challenge`; timer F fires after {@link TIMER_F_MS} of virtual time
 * unless a final answer came first (and is cleared then, so `clock.pending` shows leaks).
 */
export function fakeUac(clock: VirtualClock, options: FakeUacOptions = {}): FakeUac {
  const store = new CredentialStore();
  for (const [user, password, realm] of options.credentials ?? []) store.add(user, password, realm);
  const clients = new Map<string, DigestClient>();
  const sent: SentRequest[] = [];
  const services: UacServices = {
    send: (req, dest, user) => {
      if (options.stopped?.() === true) return undefined;
      let done = false;
      const timerF = clock.setTimer(TIMER_F_MS, () => {
        if (done) return;
        done = true;
        user.onTimeout();
      });
      const wrapped: ClientTransactionUser = {
        onFinal: (res) => {
          if (done) return;
          done = true;
          clock.clearTimer(timerF);
          user.onFinal(res);
        },
        onProvisional: (res) => {
          if (!done) user.onProvisional?.(res);
        },
        onTimeout: () => undefined,
        onTransportError: (e) => {
          if (done) return;
          done = true;
          clock.clearTimer(timerF);
          user.onTransportError(e);
        },
      };
      const deliver = (res: SipResponse): SipResponse => {
        if (res.status < 200) wrapped.onProvisional?.(res);
        else wrapped.onFinal(res);
        return res;
      };
      const tx = { fake: sent.length } as unknown as ClientTransaction;
      const entry: SentRequest = {
        req,
        dest,
        user: wrapped,
        tx,
        get done() {
          return done;
        },
        reply: (status, o) => deliver(responseTo(req, status, o)),
        challenge: (status = 401, o) => deliver(challengeTo(req, status, o)),
      };
      sent.push(entry);
      return tx;
    },
    answerChallenge: (user, retry, challenge, challenged) => {
      let c = clients.get(user);
      if (!c) clients.set(user, (c = new DigestClient(store)));
      return answerChallenge(c, retry, challenge, challenged, user);
    },
    outboundProxy: () => options.outbound,
    resolve: (host) => Promise.resolve(options.resolve?.(host)),
    transport: () => 'UDP',
  };
  const of = (method: string): SentRequest[] => sent.filter((s) => s.req.method === method);
  return {
    services,
    sent,
    of,
    last: (method) => {
      const list = method === undefined ? sent : of(method);
      const s = list[list.length - 1];
      if (!s) throw new Error(`no ${method ?? 'request'} was sent`);
      return s;
    },
  };
}

/** A server transaction that keeps its answers (`from` is where the request came from). */
export function fakeServerTx(from: Endpoint = { protocol: 'UDP', host: '127.0.0.1', port: 5099 }): { tx: ServerTransaction; answers: SipResponse[] } {
  const answers: SipResponse[] = [];
  const tx = { from, respond: (res: SipResponse) => (answers.push(res), true) } as unknown as ServerTransaction;
  return { tx, answers };
}

/** Parses a request written as text (header lines joined with CRLF; Content-Length is added). */
export function parseRequest(startLine: string, headers: string[], body = ''): SipRequest {
  const text = `${startLine}\r\n${headers.map((h) => `${h}\r\n`).join('')}Content-Length: ${Buffer.byteLength(body, 'latin1')}\r\n\r\n${body}`;
  return parseMessage(Buffer.from(text, 'latin1')) as SipRequest;
}

/**
 * Lets the client path's promise steps run (it awaits the destination before each send): a few
 * turns of the event loop, no wall time judged.
 */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
}
