/**
 * The one client-request path every usage goes through (registration, calls, transfer,
 * messages, subscriptions, presence): send a request in a client transaction, answer a 401/407
 * with the credential store and send it again, follow the outbound proxy (out of dialog) or the
 * route set (in dialog), and report the one final outcome.
 *
 * The authentication rule is the same for every usage: each challenge is answered once. A
 * challenge repeating a nonce already answered, without `stale=true`, means the credentials
 * are wrong and is final (the digest client reports it); no credentials for the realm is
 * final; and whatever the server does, at most {@link MAX_AUTH_ROUNDS} retries follow one
 * request. Each retry is a fresh `build()`: a new CSeq with the same Call-ID and From tag, as
 * RFC 3261 §22.2 asks. (For an INVITE the transaction layer has already ACKed the 401/407.)
 * @module
 */
import { DigestClient, formatDigestHeader } from './digest.js';
import { parseAuthHeader, type AuthHeader } from './grammar.js';
import type { SipRequest, SipResponse } from './message.js';
import { nextHopOfRequest, nextHopUriOfRequest } from './dialog.js';
import { dialledEndpoint, requestIsSips, SipsNeedsTlsError } from './tlsTransport.js';
import type { ClientTransaction, ClientTransactionUser } from './transaction.js';
import type { Endpoint, TransportProtocol } from './transport.js';

/** Most 401/407 retries after one request, for every usage. */
export const MAX_AUTH_ROUNDS = 3;

/** What to do after a 401/407: send the retry, or give up because of missing or refused credentials. */
export type ChallengeVerdict = 'retry' | 'no-credentials' | 'rejected';

/**
 * Adds (Proxy-)Authorization answering the 401/407 `challenge` to `req`, the request about to
 * be re-sent. `challenged` is the request that drew the challenge: only when it already carried
 * credentials does a nonce we answered before mean "wrong credentials"; otherwise (a new
 * cycle meeting a server that reuses nonces within a second, as Kamailio does) it is answered.
 */
export function answerChallenge(
  client: DigestClient,
  req: SipRequest,
  challenge: SipResponse,
  challenged: SipRequest,
  preferredUser?: string,
): ChallengeVerdict {
  const proxy = challenge.status === 407;
  const challenges: AuthHeader[] = [];
  for (const v of challenge.headers.getAll(proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate')) {
    try {
      challenges.push(parseAuthHeader(v));
    } catch {
      // one unreadable challenge does not spoil the others
    }
  }
  const answer = client.authorize(challenges, { method: req.method, uri: req.uri, body: req.body }, {
    proxy,
    preferredUser,
    allowRepeat: !challenged.headers.has(proxy ? 'Proxy-Authorization' : 'Authorization'),
  });
  if (!answer.ok) return answer.reason === 'no-credentials' ? 'no-credentials' : 'rejected';
  req.headers.delete(answer.headerName);
  req.headers.append(answer.headerName, formatDigestHeader(answer.header));
  return 'retry';
}

/** The outbound proxy: where every out-of-dialog request goes, and the Route value naming it. */
export interface OutboundProxy {
  /** Resolved address to send to. */
  endpoint: Endpoint;
  /** Its targets in the order to try them (RFC 3263), when it was given as a name; else `endpoint`. */
  targets?: () => Promise<readonly Endpoint[]>;
  /** `<sip:host:port;lr>`, put as the first Route of out-of-dialog requests. */
  route: string;
}

/** Formats the loose-route Route value naming a proxy (`host` as the application gave it; no port: found by DNS SRV). */
export function looseRoute(host: string, port: number | undefined): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return port ? `<sip:${h}:${port};lr>` : `<sip:${h};lr>`;
}

/** The SIP services the client path needs. */
export interface UacServices {
  /** Sends a request in a new client transaction (the stack's sendRequest); undefined when stopped. */
  send(req: SipRequest, dest: Endpoint, user: ClientTransactionUser): ClientTransaction | undefined;
  /** Answers a 401/407 for `authUser` with the credential store (see {@link answerChallenge}). */
  answerChallenge(authUser: string, retry: SipRequest, challenge: SipResponse, challenged: SipRequest): ChallengeVerdict;
  /** The outbound proxy, when one is set. */
  outboundProxy(): OutboundProxy | undefined;
  /** Resolves a host name of a next hop; undefined when it cannot be. */
  resolve(host: string): Promise<string | undefined>;
  /**
   * The targets of a next hop's URI in the order to try them (RFC 3263); rejects with the
   * reason when there is none. Without it, names go through `resolve`.
   */
  locate?(uri: string): Promise<readonly Endpoint[]>;
  /** Transport for next hops whose URI names none. */
  transport(): TransportProtocol;
  /**
   * Makes `req`'s Contact, when it is one of ours, name `protocol`, the transport the request
   * is about to go over (see {@link UacRequest.contactFollowsTransport}).
   */
  contactFor?(req: SipRequest, protocol: TransportProtocol): void;
}

/**
 * Where an out-of-dialog request goes: one address, the ordered targets of an RFC 3263
 * resolution (tried in turn on a transport error, a time-out or a 503), or a function giving
 * either (a rejection is the reason there is none).
 */
export type UacDestination =
  | Endpoint
  | readonly Endpoint[]
  | (() => Endpoint | readonly Endpoint[] | undefined | Promise<Endpoint | readonly Endpoint[] | undefined>);

/** The host of a destination's first target, when it is known without asking (for Call-ID suffixes). */
export function firstHostOf(d: UacDestination): string | undefined {
  if (typeof d === 'function') return undefined;
  return isEndpointList(d) ? d[0]?.host : d.host;
}

/** One request to send through {@link sendUacRequest}. */
export interface UacRequest {
  /**
   * Builds the request: called once for the first send and again for each retry, each time with
   * the next CSeq (same Call-ID and tags).
   */
  build(): SipRequest;
  /**
   * Where an out-of-dialog request goes (replaced by the outbound proxy when one is set, which
   * is then also added as the first Route). Omitted for in-dialog requests: they go to their
   * next hop, the first Route of the dialog's route set, else the remote target.
   */
  destination?: UacDestination;
  /** Whose credentials answer challenges (one digest client per name). */
  authUser: string;
  /**
   * A request that opens a dialog: its Contact follows the transport each attempt goes over,
   * so the far end's in-dialog requests come back over it (a `sips:` target, or a TLS target
   * from an engine whose default is UDP, gets a TLS Contact), before `onSend` sees it.
   */
  contactFollowsTransport?: boolean;
  /** Provisional responses of every attempt. */
  onProvisional?(res: SipResponse): void;
  /** INVITE only: further 2xx in the Accepted state (see {@link ClientTransactionUser.onAdditional2xx}). */
  onAdditional2xx?(res: SipResponse): void;
  /** Called with each request just before it is sent (first send and retries), with where it goes. */
  onSend?(req: SipRequest, dest: Endpoint): void;
  /** Called with each client transaction created (an INVITE's, to CANCEL it). */
  onTransaction?(tx: ClientTransaction, req: SipRequest): void;
  /** Asked before a retry or a failover: true stops there and reports the last answer as final. */
  abandoned?(): boolean;
}

/** How a request ended: a final response (after any retries), or no answer. */
export type UacOutcome =
  | {
      /** A final response arrived. */
      kind: 'final';
      /** It. */
      res: SipResponse;
      /** The request it answers (the last retry). */
      req: SipRequest;
      /** Set when `res` is a 401/407 that could not (or may no longer) be answered. */
      authFailure?: 'no-credentials' | 'rejected';
    }
  | {
      /** No final response (timer B/F), or the request could not be sent or routed. */
      kind: 'timeout' | 'transport';
      /** The request that went unanswered. */
      req: SipRequest;
      /** What went wrong, for a transport failure. */
      error?: Error;
    };

/**
 * Sends a request and answers its challenges; `done` is called exactly once with the outcome.
 * When the destination resolved to several targets (RFC 3263), a transport error, a time-out
 * or a 503 moves the request to the next one, rebuilt (new CSeq, new branch), as RFC 3263 §4.3
 * and RFC 3261 §21.5.4 ask; challenge retries stay on the target that challenged. A request that
 * cannot be sent or routed ends as a `transport` outcome; only a throwing `build()` (a
 * programming error) throws.
 */
export function sendUacRequest(services: UacServices, spec: UacRequest, done: (outcome: UacOutcome) => void): void {
  let finished = false;
  const finish = (o: UacOutcome): void => {
    if (finished) return;
    finished = true;
    done(o);
  };
  // The targets of this request, resolved once: every failover and retry walks the same list.
  let targets: readonly Endpoint[] | undefined;
  let index = 0;
  const attempt = async (req: SipRequest, round: number): Promise<void> => {
    addOutboundRoute(services, spec, req);
    try {
      // Awaited even when known, so every send leaves the caller's stack as it always did.
      targets = await (targets ?? targetsOf(services, spec, req));
    } catch (err) {
      finish({ kind: 'transport', req, error: err instanceof Error ? err : new Error(String(err)) });
      return;
    }
    const dest = targets[index];
    if (!dest) {
      finish({ kind: 'transport', req, error: new Error('no route to the next hop') });
      return;
    }
    let answered = false;
    /** Moves on to the next target, when there is one and the request still matters. */
    const failover = (): boolean => {
      if (index + 1 >= targets!.length || spec.abandoned?.() === true) return false;
      index++;
      void attempt(spec.build(), round);
      return true;
    };
    const user: ClientTransactionUser = {
      onFinal: (res) => {
        if (answered) return;
        answered = true;
        if (res.status === 503 && failover()) return;
        if (res.status !== 401 && res.status !== 407) {
          finish({ kind: 'final', res, req });
          return;
        }
        if (round >= MAX_AUTH_ROUNDS || spec.abandoned?.() === true) {
          finish({ kind: 'final', res, req, authFailure: 'rejected' });
          return;
        }
        const retry = spec.build();
        let verdict: ChallengeVerdict;
        try {
          verdict = services.answerChallenge(spec.authUser, retry, res, req);
        } catch {
          verdict = 'rejected';
        }
        if (verdict !== 'retry') {
          finish({ kind: 'final', res, req, authFailure: verdict });
          return;
        }
        void attempt(retry, round + 1);
      },
      onTimeout: () => {
        if (answered) return;
        answered = true;
        if (!failover()) finish({ kind: 'timeout', req });
      },
      onTransportError: (error) => {
        if (answered) return;
        answered = true;
        if (!failover()) finish({ kind: 'transport', req, error });
      },
    };
    if (spec.onProvisional) user.onProvisional = (res) => spec.onProvisional!(res);
    if (spec.onAdditional2xx) user.onAdditional2xx = (res) => spec.onAdditional2xx!(res);
    // RFC 5630 §5.1.1: a sips: request never leaves over less than TLS (a UDP proxy, a Route
    // naming transport=udp); the next target may still be a TLS one.
    if (dest.protocol !== 'TLS' && requestIsSips(req)) {
      answered = true;
      if (!failover()) finish({ kind: 'transport', req, error: new SipsNeedsTlsError(dest.protocol, `${dest.host}:${dest.port}`) });
      return;
    }
    if (spec.contactFollowsTransport) services.contactFor?.(req, dest.protocol);
    spec.onSend?.(req, dest);
    let tx: ClientTransaction | undefined;
    try {
      tx = services.send(req, dest, user);
    } catch (err) {
      answered = true;
      if (!failover()) finish({ kind: 'transport', req, error: err instanceof Error ? err : new Error(String(err)) });
      return;
    }
    if (!tx) {
      answered = true;
      finish({ kind: 'transport', req, error: new Error('engine stopped') });
      return;
    }
    spec.onTransaction?.(tx, req);
  };
  void attempt(spec.build(), 0);
}

/** Out of dialog through an outbound proxy: its Route goes first (once per request built). */
function addOutboundRoute(services: UacServices, spec: UacRequest, req: SipRequest): void {
  if (spec.destination === undefined) return;
  const outbound = services.outboundProxy();
  if (outbound && !req.headers.has('Route')) req.headers.append('Route', outbound.route);
}

/**
 * Where `req` goes, in the order to try: out of dialog, the outbound proxy or the given
 * destination; in dialog, the next hop of its Route set or Request-URI, names located.
 * Rejects with the reason when there is nowhere to go.
 */
async function targetsOf(services: UacServices, spec: UacRequest, req: SipRequest): Promise<readonly Endpoint[]> {
  if (spec.destination !== undefined) {
    const outbound = services.outboundProxy();
    if (outbound) return outbound.targets ? await outbound.targets() : [outbound.endpoint];
    const d = typeof spec.destination === 'function' ? await spec.destination() : spec.destination;
    return d === undefined ? [] : isEndpointList(d) ? d : [d];
  }
  const hop = nextHopOfRequest(req, services.transport());
  if (!hop.hostIsName) return [{ protocol: hop.protocol, host: hop.host, port: hop.port }];
  if (services.locate) return services.locate(nextHopUriOfRequest(req));
  const ip = await services.resolve(hop.host);
  // A name dialled over TLS is what the server's certificate must be issued for.
  return ip ? [dialledEndpoint(hop.protocol, ip, hop.port, hop.host)] : [];
}

function isEndpointList(d: Endpoint | readonly Endpoint[]): d is readonly Endpoint[] {
  return Array.isArray(d);
}
