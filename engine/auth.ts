/**
 * Answering digest challenges on requests the engine sends (REGISTER now; INVITE, MESSAGE,
 * SUBSCRIBE later): the glue between SIP messages and the pure digest client.
 * @module
 */
import { DigestClient, formatDigestHeader } from '../sip/digest.js';
import { parseAuthHeader, type AuthHeader } from '../sip/grammar.js';
import type { SipRequest, SipResponse } from '../sip/message.js';

/** What to do after a 401/407. */
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
