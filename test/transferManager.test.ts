/**
 * TransferManager (lines/transfer.ts) on its own: a fake usage context (test/helpers/fakeContext.ts), real calls (lines/call.ts)
 * and call manager, the real dialog router in front of them, the real client path over a fake
 * transaction layer, and a VirtualClock; no sockets. Covers blind transfer as the transferor
 * (REFER, 202, NOTIFY sipfrag 100 → 180 → 200), a REFER received (auto and manual accept,
 * reject, the NOTIFYs sent one at a time, the original call ended after success), attended
 * transfer with Replaces, REFER failures, NOTIFYs that end the subscription, the 401 to a
 * REFER answered through the client path, and an INVITE with Replaces taking over a line.
 */
import test from 'ava';
import { VirtualClock } from '../sip/clock.js';
import { CapabilityRegistry } from '../sip/capabilities.js';
import { DialogRouter } from '../sip/dialogRouter.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import { createOffer, defaultFormat, negotiateOffer, type LocalMedia } from '../sip/sdp.js';
import type { SipStack } from '../sip/stack.js';
import type { Endpoint } from '../sip/transport.js';
import { buildResponse } from '../sip/util.js';
import { parseEventHeader, parseReferTo, parseSipfrag, parseSubscriptionState } from '../sip/refer.js';
import { isIP } from 'node:net';
import { TelephonyReturnValue as T } from '../engine/returnCodes.js';
import { LineState } from '../engine/types.js';
import { Call, CALL_CAPABILITY, type CallMedia } from '../lines/call.js';
import { CallManager } from '../lines/callManager.js';
import { PhoneLine } from '../lines/phoneLine.js';
import { TransferManager, TRANSFER_CAPABILITY, TRANSFEROR_BYE_GRACE_MS } from '../lines/transfer.js';
import { fakeContext } from './helpers/fakeContext.js';
import { fakeServerTx, fakeUac, parseRequest, settle, TIMER_F_MS, type FakeUac, type SentRequest } from './helpers/fakeSip.js';

/** One notification raised by the calls or the transfer module. */
interface Raised {
  line: number;
  event: T;
  data: Record<string, unknown>;
}

/** A far end in a dialog with one of our calls: sends requests into it through the router. */
interface Peer {
  /** Our call with this far end. */
  call: Call;
  /** Sends an in-dialog request through the router; returns the answers the engine gave (filled as they come). */
  send(method: string, headers?: string[], body?: string): SipResponse[];
  /** The far end's tag. */
  tag: string;
  /** Call-ID of the dialog. */
  callId: string;
}

interface Harness {
  clock: VirtualClock;
  uac: FakeUac;
  router: DialogRouter;
  calls: CallManager;
  transfers: TransferManager;
  lines: PhoneLine[];
  raised: Raised[];
  /** ACKs the calls sent (outside transactions). */
  acks: SipRequest[];
  /** Whether REFERs are accepted without asking (farEndCallTransferEnabled). */
  autoAccept: boolean;
  /** Whether the transferor keeps its call after a success (keepCallAfterTransfer). */
  keepCall: boolean;
  /** Names of the events raised on `line`, in order. */
  names(line: number): string[];
  /** Data of every `event` raised on `line`. */
  of(line: number, event: T): Array<Record<string, unknown>>;
}

const US = '127.0.0.1';
const US_PORT = 5060;

/** The far end's media: what it offers, and how it answers our offers. */
function farMedia(port: number): LocalMedia {
  return { address: US, port, formats: [defaultFormat('PCMU')], telephoneEvent: true, direction: 'sendrecv', sessionId: String(port), sessionVersion: 1 };
}

function fakeMedia(): CallMedia {
  return { localPort: 40_000, configure: () => true, start: () => undefined, stop: () => Promise.resolve() };
}

function harness(lineCount = 3): Harness {
  const clock = new VirtualClock();
  const uac = fakeUac(clock, { credentials: [['100', 'secret', 'example.com']] });
  const capabilities = new CapabilityRegistry();
  const raised: Raised[] = [];
  const acks: SipRequest[] = [];
  const lines = Array.from({ length: lineCount }, (_, i) => new PhoneLine(i));
  const stack = {
    createResponse: (req: SipRequest, status: number, reason?: string, options?: Parameters<typeof buildResponse>[3]) => buildResponse(req, status, reason, options),
    sendAck: (ack: SipRequest) => void acks.push(ack),
    sendCancel: () => undefined,
    findInviteServerTransaction: () => undefined,
  } as unknown as SipStack;
  const router = new DialogRouter({ createResponse: (req, status, reason, options) => stack.createResponse(req, status, reason, options), capabilities });
  const notify = (line: number, event: T, data?: object): void => void raised.push({ line, event, data: (data ?? {}) as Record<string, unknown> });
  const user = (line: PhoneLine): string => `10${line.index}`;
  const formats = [defaultFormat('PCMU')];
  const ctx = fakeContext({
    clock,
    runStack: stack,
    capabilities,
    router,
    uac: uac.services,
    notify,
    immediate: (line, event, data) => (notify(line, event, data), data),
    contactUri: (u) => `sip:${u}@${US}:${US_PORT}`,
    advertisedAddress: () => ({ host: US, port: US_PORT, protocol: 'UDP' }),
    transport: () => 'UDP',
    resolve: (host) => Promise.resolve(isIP(host) ? host : undefined),
    userAgent: () => 'LineScape unit test',
    lines: () => lines,
    userFor: user,
  });
  const calls = new CallManager(ctx, {
    openMedia: () => Promise.resolve(fakeMedia()),
    holdStyle: () => 'rfc3264',
    answerTimeoutSeconds: () => 60,
    selectLine: () => lines.find((l) => l.availableForIncoming),
    formatsFor: () => formats,
  });
  const h = { autoAccept: true, keepCall: false } as Harness;
  const transfers = new TransferManager(ctx, {
    calls: () => calls,
    autoAccept: () => h.autoAccept,
    keepCallAfterTransfer: () => h.keepCall,
    placeCall: (line, target) => Call.outgoing(calls.services, line, target, formats, user(line), ''),
  });
  calls.extendDialogs((call) => transfers.usageFor(call));
  router
    .module('calls', CALL_CAPABILITY, {
      INVITE: (req, tx, from) => (req.headers.has('Replaces') ? transfers.onReplacesInvite(req, tx) : calls.onNewInvite(req, tx, from)),
    })
    .module('transfer', TRANSFER_CAPABILITY);
  return Object.assign(h, {
    clock,
    uac,
    router,
    calls,
    transfers,
    lines,
    raised,
    acks,
    names: (line: number) => raised.filter((r) => r.line === line).map((r) => T[r.event]),
    of: (line: number, event: T) => raised.filter((r) => r.line === line && r.event === event).map((r) => r.data),
  });
}

/** An INVITE from a far end named `user` at 127.0.0.1:`port`, with an SDP offer. */
function inviteFrom(user: string, port: number, callId: string, tag: string, extra: string[] = []): SipRequest {
  return parseRequest(
    `INVITE sip:100@${US}:${US_PORT} SIP/2.0`,
    [
      `Via: SIP/2.0/UDP ${US}:${port};branch=z9hG4bK-${callId}-1`,
      'Max-Forwards: 70',
      `From: <sip:${user}@${US}:${port}>;tag=${tag}`,
      `To: <sip:100@${US}:${US_PORT}>`,
      `Call-ID: ${callId}`,
      'CSeq: 1 INVITE',
      `Contact: <sip:${user}@${US}:${port}>`,
      'Content-Type: application/sdp',
      ...extra,
    ],
    createOffer(farMedia(port + 1000)),
  );
}

/**
 * A connected incoming call from `user` on the next free line: the INVITE goes through the
 * router, the line answers, the far end ACKs.
 */
async function connectedCall(h: Harness, user: string, port: number): Promise<Peer> {
  const callId = `call-${user}`;
  const tag = `${user}-tag`;
  const from: Endpoint = { protocol: 'UDP', host: US, port };
  const { tx, answers } = fakeServerTx(from);
  const line = h.lines.find((l) => l.availableForIncoming);
  h.router.route(inviteFrom(user, port, callId, tag), tx, from);
  await settle();
  const call = line?.call;
  if (!call) throw new Error('the INVITE did not ring a line');
  t0(call.answer() === T.SipSuccess, 'answer');
  t0(answers.some((r) => r.status === 200), 'a 200 went out');
  let cseq = 1;
  const toOurs = `<sip:100@${US}:${US_PORT}>;tag=${call.tag}`;
  const fromPeer = `<sip:${user}@${US}:${port}>;tag=${tag}`;
  h.calls.onAck(parseRequest(`ACK sip:100@${US}:${US_PORT} SIP/2.0`, [`Via: SIP/2.0/UDP ${US}:${port};branch=z9hG4bK-${callId}-ack`, `From: ${fromPeer}`, `To: ${toOurs}`, `Call-ID: ${callId}`, 'CSeq: 1 ACK', 'Max-Forwards: 70']));
  t0(call.isConnected, 'connected');
  return {
    call,
    tag,
    callId,
    send: (method, headers = [], body = '') => {
      cseq++;
      const req = parseRequest(
        `${method} sip:100@${US}:${US_PORT} SIP/2.0`,
        [`Via: SIP/2.0/UDP ${US}:${port};branch=z9hG4bK-${callId}-${cseq}`, 'Max-Forwards: 70', `From: ${fromPeer}`, `To: ${toOurs}`, `Call-ID: ${callId}`, `CSeq: ${cseq} ${method}`, `Contact: <sip:${user}@${US}:${port}>`, ...headers],
        body,
      );
      const st = fakeServerTx(from);
      h.router.route(req, st.tx, from);
      return st.answers;
    },
  };
}

/** A setup step that must hold (a broken harness, not a finding). */
function t0(ok: boolean, what: string): void {
  if (!ok) throw new Error(`setup failed: ${what}`);
}

/** A refer NOTIFY from the far end: sipfrag `status`, subscription `state`, Event id `id`. */
function referNotify(peer: Peer, id: number | string | undefined, state: string, frag?: string): SipResponse[] {
  const headers = [...(id === undefined ? ['Event: refer'] : [`Event: refer;id=${id}`]), `Subscription-State: ${state}`];
  if (frag !== undefined) headers.push('Content-Type: message/sipfrag;version=2.0');
  return peer.send('NOTIFY', headers, frag ?? '');
}

/** A harness whose connected call on line 0 sent a blind transfer the far end accepted (202); `id` names the REFER in NOTIFYs. */
async function acceptedRefer(): Promise<{ h: Harness; alice: Peer; id: number }> {
  const h = harness();
  const alice = await connectedCall(h, 'alice', 5099);
  h.transfers.transferLine('200', '127.0.0.1', 5070, 0);
  await settle();
  const refer = h.uac.last('REFER');
  refer.reply(202);
  return { h, alice, id: cseqNumberOf(refer.req) };
}

const cseqNumberOf = (req: SipRequest): number => Number.parseInt(req.headers.get('CSeq') ?? '', 10);

/** Answers an INVITE we sent with 200 and an SDP answer from the far end at `port`. */
function answerInvite(s: SentRequest, port: number, toTag: string): void {
  const r = negotiateOffer(s.req.body.toString('latin1'), farMedia(port + 1000));
  if (!r.ok) throw new Error('our offer was refused');
  s.reply(200, { toTag, headers: [['Contact', `<sip:carol@${US}:${port}>`], ['Content-Type', 'application/sdp']], body: r.answer });
}

// ------------------------------------------------------------------ transferor

test('blind transfer as transferor: REFER, 202, NOTIFY sipfrag 100 → 180 → 200; the call then ends by the far end (keepCallAfterTransfer)', async (t) => {
  const h = harness();
  h.keepCall = true;
  const alice = await connectedCall(h, 'alice', 5099);
  h.raised.length = 0;
  t.is(h.transfers.transferLine('200', '127.0.0.1', 5070, 0), T.SipSuccess);
  t.is(h.transfers.transferLine('200', '127.0.0.1', 5070, 0), T.SipTransfrerNotAllowed, 'one transfer at a time per call');
  await settle();
  const refer = h.uac.last('REFER');
  t.deepEqual(refer.dest, { protocol: 'UDP', host: US, port: 5099 }, 'to the remote target');
  t.is(refer.req.uri, `sip:alice@${US}:5099`);
  t.is(refer.req.headers.get('Refer-To'), '<sip:200@127.0.0.1:5070>');
  t.is(refer.req.headers.get('Referred-By'), `<sip:100@${US}:${US_PORT}>`);
  t.is(refer.req.headers.get('Call-ID'), alice.callId);
  t.deepEqual(h.names(0), ['SipOutgoingTransferInitializing', 'SipTransferingCall']);

  refer.reply(202, { toTag: alice.tag });
  t.deepEqual(h.names(0).slice(2), ['SipReferAccepted']);
  const id = cseqNumberOf(refer.req);
  t.is(referNotify(alice, id, 'active;expires=60', 'SIP/2.0 100 Trying\r\n')[0]?.status, 200);
  t.is(referNotify(alice, id, 'active;expires=60', 'SIP/2.0 180 Ringing\r\n')[0]?.status, 200);
  t.is(referNotify(alice, id, 'terminated;reason=noresource', 'SIP/2.0 200 OK\r\n')[0]?.status, 200);
  t.deepEqual(h.names(0).slice(3), ['SipTransferTrying', 'SipTransferRinging', 'SipActvTransferSuccess']);
  t.true(alice.call.isConnected, 'the transferor leaves the hang-up to the transferee (or the application)');
  t.is(h.clock.pending, 0, 'the subscription guard is gone');
  t.is(referNotify(alice, id, 'terminated', 'SIP/2.0 200 OK\r\n')[0]?.status, 481, 'the subscription is over');

  t.is(alice.send('BYE')[0]?.status, 200);
  t.false(alice.call.isConnected);
  t.deepEqual(h.names(0).slice(-3), ['SipByeReceived', 'SipCallComplete', 'SipOnHook']);
  t.is(h.lines[0]!.state, LineState.OnHook);
});

/** Alice's call with a blind transfer accepted by her: the REFER sent and answered 202; returns the NOTIFY id. */
async function transferAccepted(h: Harness, alice: Peer): Promise<number> {
  t0(h.transfers.transferLine('200', '127.0.0.1', 5070, 0) === T.SipSuccess, 'transferLine');
  await settle();
  const refer = h.uac.last('REFER');
  refer.reply(202, { toTag: alice.tag });
  return cseqNumberOf(refer.req);
}

test('blind transfer as transferor, by default: after the success NOTIFY the transferor ends its call with BYE (RFC 5589)', async (t) => {
  const h = harness();
  const alice = await connectedCall(h, 'alice', 5099);
  h.raised.length = 0;
  const id = await transferAccepted(h, alice);
  t.is(referNotify(alice, id, 'active;expires=60', 'SIP/2.0 100 Trying\r\n')[0]?.status, 200);
  t.is(referNotify(alice, id, 'terminated;reason=noresource', 'SIP/2.0 200 OK\r\n')[0]?.status, 200);
  t.is(h.uac.of('BYE').length, 0, 'the transferee has a moment to end the call itself');
  t.true(alice.call.isConnected);
  h.clock.advance(TRANSFEROR_BYE_GRACE_MS);
  await settle();
  const bye = h.uac.last('BYE');
  t.is(bye.req.headers.get('Call-ID'), alice.callId, 'in the transferred call');
  t.is(bye.req.uri, `sip:alice@${US}:5099`);
  bye.reply(200, { toTag: alice.tag });
  await settle();
  t.false(alice.call.isConnected);
  const names = h.names(0);
  t.true(names.indexOf('SipActvTransferSuccess') < names.indexOf('SipOnHook'), 'on hook after the success');
  t.is(names.at(-1), 'SipOnHook');
  t.is(h.lines[0]!.state, LineState.OnHook);
  t.is(h.clock.pending, 0, 'no timer left');
});

test('transferor, by default: a far-end BYE within the grace ends the call, and no BYE of ours crosses it', async (t) => {
  const h = harness();
  const alice = await connectedCall(h, 'alice', 5099);
  const id = await transferAccepted(h, alice);
  referNotify(alice, id, 'terminated;reason=noresource', 'SIP/2.0 200 OK\r\n');
  t.is(alice.send('BYE')[0]?.status, 200);
  h.clock.advance(TRANSFEROR_BYE_GRACE_MS);
  await settle();
  t.is(h.uac.of('BYE').length, 0);
  t.deepEqual(h.names(0).slice(-3), ['SipByeReceived', 'SipCallComplete', 'SipOnHook']);
  t.is(h.clock.pending, 0);
});

test('transferor, by default: a failed transfer keeps the call (no BYE); stop() drops a pending BYE', async (t) => {
  {
    const h = harness();
    const alice = await connectedCall(h, 'alice', 5099);
    const id = await transferAccepted(h, alice);
    referNotify(alice, id, 'terminated;reason=noresource', 'SIP/2.0 603 Declined\r\n');
    h.clock.advance(TRANSFEROR_BYE_GRACE_MS * 10);
    await settle();
    t.is(h.uac.of('BYE').length, 0);
    t.true(alice.call.isConnected);
  }
  {
    const h = harness();
    const alice = await connectedCall(h, 'alice', 5099);
    const id = await transferAccepted(h, alice);
    referNotify(alice, id, 'terminated;reason=noresource', 'SIP/2.0 200 OK\r\n');
    h.transfers.stop();
    h.clock.advance(TRANSFEROR_BYE_GRACE_MS);
    await settle();
    t.is(h.uac.of('BYE').length, 0);
  }
});

test('transferor: a malformed final NOTIFY (`terminated;reason=reason=noresource`) still completes the transfer', async (t) => {
  const h = harness();
  const alice = await connectedCall(h, 'alice', 5099);
  const id = await transferAccepted(h, alice);
  t.is(referNotify(alice, id, 'terminated;reason=reason=noresource', 'SIP/2.0 200 OK\r\n')[0]?.status, 200);
  t.is(h.of(0, T.SipActvTransferSuccess).length, 1);
  h.clock.advance(TRANSFEROR_BYE_GRACE_MS);
  await settle();
  t.is(h.uac.of('BYE').length, 1);
});

test('transferor: a 180 NOTIFY alone reports Trying then Ringing; a NOTIFY may overtake the 202; no id means the only REFER', async (t) => {
  const h = harness();
  const alice = await connectedCall(h, 'alice', 5099);
  h.raised.length = 0;
  t.is(h.transfers.transferLineUri('sip:200@127.0.0.1:5070', false, 0), T.SipSuccess);
  await settle();
  const refer = h.uac.last('REFER');
  t.is(referNotify(alice, undefined, 'active', 'SIP/2.0 180 Ringing\r\n')[0]?.status, 200);
  refer.reply(202);
  t.deepEqual(h.names(0), ['SipOutgoingTransferInitializing', 'SipTransferingCall', 'SipReferAccepted', 'SipTransferTrying', 'SipTransferRinging']);
  t.is(h.of(0, T.SipReferAccepted).length, 1, 'accepted once, by the NOTIFY');
});

test('REFER failure answers: SipReferRejected with the code; no answer at all is 408', async (t) => {
  for (const status of [403, 405, 501, 603]) {
    const h = harness();
    await connectedCall(h, 'alice', 5099);
    h.raised.length = 0;
    t.is(h.transfers.transferLine('200', '127.0.0.1', 0, 0), T.SipSuccess);
    await settle();
    const refer = h.uac.last('REFER');
    t.is(refer.req.headers.get('Refer-To'), '<sip:200@127.0.0.1>', 'port 0 means 5060, left out');
    const res = refer.reply(status);
    t.deepEqual(h.of(0, T.SipReferRejected), [{ reason: res.reason, code: status }]);
    t.is(h.transfers.transferLine('200', '127.0.0.1', 0, 0), T.SipSuccess, 'a new transfer may follow a rejected one');
  }
  const h = harness();
  await connectedCall(h, 'alice', 5099);
  t.is(h.transfers.transferLine('200', '127.0.0.1', 0, 0), T.SipSuccess);
  await settle();
  h.clock.advance(TIMER_F_MS);
  t.deepEqual(h.of(0, T.SipReferRejected), [{ reason: 'Request Timeout', code: 408 }]);
});

test('transferor: a failure sipfrag, a subscription terminated without a final answer, and silence past the expiry', async (t) => {
  {
    const { h, alice, id } = await acceptedRefer();
    referNotify(alice, id, 'terminated;reason=noresource', 'SIP/2.0 486 Busy Here\r\n');
    t.deepEqual(h.of(0, T.SipActvTransferFailure), [{ reason: 'Busy Here', code: 486 }]);
    t.true(alice.call.isConnected, 'the call stays after a failed transfer');
  }
  {
    const { h, alice, id } = await acceptedRefer();
    referNotify(alice, id, 'active', 'SIP/2.0 100 Trying\r\n');
    t.is(referNotify(alice, id, 'terminated;reason=timeout')[0]?.status, 200, 'a NOTIFY without body is fine');
    t.deepEqual(h.of(0, T.SipActvTransferFailure), [{ reason: 'Subscription terminated (timeout) without a final answer', code: 408 }]);
    t.is(h.clock.pending, 0);
  }
  {
    const { h, alice, id } = await acceptedRefer();
    t.is(referNotify(alice, id, 'active;expires=10', 'SIP/2.0 100 Trying\r\n')[0]?.status, 200);
    // The guard follows the subscription's expiry (10 s) plus a 32 s margin.
    h.clock.advance(10_000 + 32_000 - 1);
    t.is(h.of(0, T.SipActvTransferFailure).length, 0);
    h.clock.advance(1);
    t.deepEqual(h.of(0, T.SipActvTransferFailure), [{ reason: 'No final transfer result', code: 408 }]);
  }
});

test('transferor: NOTIFYs it cannot use are answered (481 unknown id, 400 without Subscription-State or with a bad sipfrag, 489 another package)', async (t) => {
  const { h, alice, id } = await acceptedRefer();
  t.is(referNotify(alice, id + 100, 'active', 'SIP/2.0 100 Trying\r\n')[0]?.status, 481);
  t.is(alice.send('NOTIFY', [`Event: refer;id=${id}`, 'Content-Type: message/sipfrag'], 'SIP/2.0 100 Trying\r\n')[0]?.status, 400);
  t.is(referNotify(alice, id, 'active', 'not a status line')[0]?.status, 400);
  t.is(alice.send('NOTIFY', ['Event: dialog', 'Subscription-State: active'])[0]?.status, 489);
  t.deepEqual(h.of(0, T.SipTransferTrying), [], 'none of them counted');
});

test('a 401 to the REFER is answered through the client path; NOTIFYs then name the retry by its CSeq', async (t) => {
  const h = harness();
  const alice = await connectedCall(h, 'alice', 5099);
  h.transfers.transferLine('200', '127.0.0.1', 5070, 0);
  await settle();
  const first = h.uac.last('REFER');
  first.challenge(401);
  await settle();
  const retry = h.uac.last('REFER');
  t.not(retry, first);
  t.is(cseqNumberOf(retry.req), cseqNumberOf(first.req) + 1, 'the next CSeq of the dialog');
  t.regex(retry.req.headers.get('Authorization') ?? '', /^Digest .*username="100"/);
  t.is(retry.req.headers.get('Refer-To'), first.req.headers.get('Refer-To'));
  t.is(h.of(0, T.SipReferRejected).length, 0, 'a challenge is not a rejection');
  retry.reply(202);
  t.is(h.of(0, T.SipReferAccepted).length, 1);
  t.is(referNotify(alice, cseqNumberOf(first.req), 'active', 'SIP/2.0 100 Trying\r\n')[0]?.status, 481, "the challenged REFER's CSeq names nothing");
  t.is(referNotify(alice, cseqNumberOf(retry.req), 'terminated', 'SIP/2.0 200 OK\r\n')[0]?.status, 200);
  t.is(h.of(0, T.SipActvTransferSuccess).length, 1);

  // A 407 the credentials cannot answer ends as a rejection with its code.
  h.transfers.transferLine('201', '127.0.0.1', 5070, 0);
  await settle();
  h.uac.last('REFER').challenge(407, { realm: 'elsewhere.org' });
  await settle();
  t.deepEqual(h.of(0, T.SipReferRejected), [{ reason: 'Proxy Authentication Required', code: 407 }]);
});

test('attended transfer: the REFER names the second call in an escaped Replaces (to-tag its far end, from-tag ours)', async (t) => {
  const h = harness();
  const alice = await connectedCall(h, 'alice', 5099);
  const carol = await connectedCall(h, 'carol', 5098);
  t.is(carol.call.line.index, 1);
  t.is(h.transfers.attendedTransfer(0, 0), T.SipBadParameter);
  t.is(h.transfers.attendedTransfer(0, 2), T.SipTransfrerNotAllowed, 'no call on line 2');
  t.is(h.transfers.attendedTransfer(0, 1), T.SipSuccess);
  await settle();
  const refer = h.uac.last('REFER');
  t.is(refer.req.headers.get('Call-ID'), alice.callId, "sent in alice's dialog");
  const target = parseReferTo(refer.req.headers.get('Refer-To'));
  t.true(target.ok);
  if (target.ok) {
    t.is(target.uri, `sip:carol@${US}:5098`);
    t.deepEqual(target.replaces, { callId: carol.callId, toTag: carol.tag, fromTag: carol.call.tag, earlyOnly: false });
  }
  t.like(h.of(0, T.SipTransferingCall)[0], { attended: true });
  const info = h.transfers.getCallDialogInfo(1);
  t.deepEqual(info, { result: T.SipSuccess, callId: carol.callId, localTag: carol.call.tag, remoteTag: carol.tag, remoteTarget: `sip:carol@${US}:5098` });
});

// ------------------------------------------------------------------ transferee

test('REFER received, accepted at once: 202, the new call, NOTIFY 100 → 180 → 200 one at a time, then the original call ends', async (t) => {
  const h = harness();
  const alice = await connectedCall(h, 'alice', 5099);
  h.raised.length = 0;
  const answers = alice.send('REFER', [`Refer-To: <sip:carol@${US}:5098>`, `Referred-By: <sip:alice@${US}:5099>`]);
  t.is(answers[0]?.status, 202);
  const referCseq = 2;
  t.deepEqual(h.names(0), ['SipTransferExecuting', 'SipReceivedRefer', 'SipTransferingCall']);
  t.like(h.of(0, T.SipReceivedRefer)[0], { referId: 1, to: `sip:carol@${US}:5098`, from: `<sip:alice@${US}:5099>;tag=alice-tag` });
  t.like(h.of(0, T.SipTransferingCall)[0], { referId: 1, newPhoneLine: 1 });
  await settle();

  const notify1 = h.uac.last('NOTIFY');
  t.is(notify1.req.headers.get('Call-ID'), alice.callId);
  t.deepEqual(parseEventHeader(notify1.req.headers.get('Event')), { package: 'refer', id: String(referCseq) });
  t.like(parseSubscriptionState(notify1.req.headers.get('Subscription-State')), { state: 'active', expires: 60 });
  t.is(notify1.req.headers.get('Content-Type'), 'message/sipfrag;version=2.0');
  t.deepEqual(parseSipfrag(notify1.req.body), { status: 100, reason: 'Trying' });

  const invite = h.uac.last('INVITE');
  t.is(invite.req.uri, `sip:carol@${US}:5098`);
  t.deepEqual(invite.dest, { protocol: 'UDP', host: US, port: 5098 });
  t.is(invite.req.headers.get('Referred-By'), `<sip:alice@${US}:5099>`);
  t.is(h.lines[1]!.call?.isConnected, false);

  invite.reply(180, { toTag: 'carol-tag' });
  await settle();
  t.is(h.uac.of('NOTIFY').length, 1, 'the next NOTIFY waits for the answer to the previous one');
  notify1.reply(200);
  await settle();
  const notify2 = h.uac.last('NOTIFY');
  t.deepEqual(parseSipfrag(notify2.req.body), { status: 180, reason: 'Ringing' });

  answerInvite(invite, 5098, 'carol-tag');
  await settle();
  t.true(h.lines[1]!.call?.isConnected, 'the new call is up on line 1');
  t.is(h.uac.of('NOTIFY').length, 2);
  notify2.reply(200);
  await settle();
  const notify3 = h.uac.last('NOTIFY');
  t.deepEqual(parseSipfrag(notify3.req.body), { status: 200, reason: 'OK' });
  t.like(parseSubscriptionState(notify3.req.headers.get('Subscription-State')), { state: 'terminated', reason: 'noresource' });
  t.true(alice.call.isConnected, 'the original call ends after the final NOTIFY is answered');
  notify3.reply(200);
  await settle();
  const bye = h.uac.last('BYE');
  t.is(bye.req.headers.get('Call-ID'), alice.callId);
  bye.reply(200);
  await settle();
  t.true(alice.call.isEnded);
  t.is(h.lines[0]!.state, LineState.OnHook);
  t.is(h.lines[1]!.state, LineState.InCall);
  t.deepEqual(h.names(0).slice(-3), ['SipReceivedByeAck', 'SipCallComplete', 'SipOnHook']);
});

test('REFER received: the new call fails → a final failure NOTIFY, and the original call stays', async (t) => {
  const h = harness();
  const alice = await connectedCall(h, 'alice', 5099);
  alice.send('REFER', [`Refer-To: <sip:carol@${US}:5098>`]);
  await settle();
  h.uac.last('NOTIFY').reply(200);
  h.uac.last('INVITE').reply(486);
  await settle();
  const last = h.uac.last('NOTIFY');
  t.deepEqual(parseSipfrag(last.req.body), { status: 486, reason: 'Busy Here' });
  t.is(parseSubscriptionState(last.req.headers.get('Subscription-State'))?.state, 'terminated');
  last.reply(200);
  await settle();
  t.is(h.uac.of('BYE').length, 0);
  t.true(alice.call.isConnected);
  t.is(alice.send('REFER', [`Refer-To: <sip:carol@${US}:5098>`])[0]?.status, 202, 'a new REFER is welcome after the last one ended');
});

test('REFER received, the transferor stops taking NOTIFYs: the rest are not sent, the transfer still completes', async (t) => {
  const h = harness();
  const alice = await connectedCall(h, 'alice', 5099);
  alice.send('REFER', [`Refer-To: <sip:carol@${US}:5098>`]);
  await settle();
  h.uac.last('NOTIFY').reply(481);
  answerInvite(h.uac.last('INVITE'), 5098, 'carol-tag');
  await settle();
  t.is(h.uac.of('NOTIFY').length, 1, 'no NOTIFY after the 481');
  t.is(h.uac.of('BYE').length, 1, 'the original call is ended after the success all the same');
});

test('REFER received without auto-accept: SipReceivedRefer, then acceptRefer or rejectRefer; no decision in 30 s is 480', async (t) => {
  {
    const h = harness();
    h.autoAccept = false;
    const alice = await connectedCall(h, 'alice', 5099);
    const answers = alice.send('REFER', [`Refer-To: <sip:carol@${US}:5098>`]);
    t.deepEqual(answers, [], 'no answer until the application decides');
    const data = h.of(0, T.SipReceivedRefer)[0]!;
    t.is(typeof data['referSipMessage'], 'string');
    t.is(alice.send('REFER', [`Refer-To: <sip:dave@${US}:5097>`])[0]?.status, 491, 'one REFER at a time');
    t.is(h.transfers.acceptRefer(99, 'x'), T.SipInvalidHandle);
    t.is(h.transfers.acceptRefer(1, ''), T.SipBadParameter);
    t.is(h.transfers.acceptRefer(1, String(data['referSipMessage'])), T.SipSuccess);
    t.is(answers[0]?.status, 202);
    await settle();
    t.is(h.uac.of('INVITE').length, 1);
    t.is(h.transfers.rejectRefer(1), T.SipInvalidHandle, 'already answered');
  }
  {
    const h = harness();
    h.autoAccept = false;
    const alice = await connectedCall(h, 'alice', 5099);
    const answers = alice.send('REFER', [`Refer-To: <sip:carol@${US}:5098>`]);
    t.is(h.transfers.rejectRefer(1), T.SipSuccess);
    t.is(answers[0]?.status, 603);
    await settle();
    t.is(h.uac.sent.length, 0, 'nothing placed, nothing notified');
    t.true(alice.call.isConnected);
  }
  {
    const h = harness();
    h.autoAccept = false;
    const alice = await connectedCall(h, 'alice', 5099);
    const answers = alice.send('REFER', [`Refer-To: <sip:carol@${US}:5098>`]);
    h.clock.advance(29_999);
    t.deepEqual(answers, []);
    h.clock.advance(1);
    t.is(answers[0]?.status, 480);
    t.is(h.transfers.acceptRefer(1, 'x'), T.SipInvalidHandle);
  }
});

test('REFER received: refusals (no free line 503, bad or double Refer-To 400)', async (t) => {
  {
    const h = harness(1);
    const alice = await connectedCall(h, 'alice', 5099);
    t.is(alice.send('REFER', [`Refer-To: <sip:carol@${US}:5098>`])[0]?.status, 503, 'the only line is busy with this call');
  }
  {
    const h = harness();
    const alice = await connectedCall(h, 'alice', 5099);
    t.is(alice.send('REFER', [])[0]?.status, 400, 'no Refer-To');
    t.is(alice.send('REFER', [`Refer-To: <sip:carol@${US}:5098>`, `Refer-To: <sip:dave@${US}:5097>`])[0]?.status, 400, 'two');
    t.is(alice.send('REFER', ['Refer-To: <mailto:carol@example.com>'])[0]?.status, 400, 'not a SIP URI');
    t.deepEqual(h.of(0, T.SipReceivedRefer), []);
  }
});

// ------------------------------------------------------------------ transfer target

test('an INVITE with Replaces takes over the replaced call: BYE to the old far end, then the new call is answered on its line', async (t) => {
  const h = harness();
  const alice = await connectedCall(h, 'alice', 5099);
  const replaces = `Replaces: ${alice.callId};to-tag=${alice.call.tag};from-tag=${alice.tag}`;
  const from: Endpoint = { protocol: 'UDP', host: US, port: 5098 };
  const { tx, answers } = fakeServerTx(from);
  h.router.route(inviteFrom('carol', 5098, 'call-carol', 'carol-tag', [replaces]), tx, from);
  await settle();
  t.like(h.of(0, T.SipTransferingCall)[0], { replacedCallId: alice.callId });
  const bye = h.uac.last('BYE');
  t.is(bye.req.headers.get('Call-ID'), alice.callId);
  t.deepEqual(answers, [], 'nothing for the new INVITE until the old call is gone');
  bye.reply(200);
  await settle();
  t.true(alice.call.isEnded);
  const call = h.lines[0]!.call;
  t.not(call, alice.call);
  t.is(call?.incomingInfo?.callId, 'call-carol');
  t.deepEqual(answers.map((r) => r.status), [180, 200], 'rung and answered at once (the replaced call had consent)');
});

test('an INVITE with Replaces whose BYE gets no answer takes the line after 2 s of virtual time', async (t) => {
  const h = harness();
  const alice = await connectedCall(h, 'alice', 5099);
  const replaces = `Replaces: ${alice.callId};to-tag=${alice.call.tag};from-tag=${alice.tag}`;
  const { tx, answers } = fakeServerTx();
  h.router.route(inviteFrom('carol', 5098, 'call-carol', 'carol-tag', [replaces]), tx, { protocol: 'UDP', host: US, port: 5098 });
  await settle();
  h.clock.advance(1999);
  await settle();
  t.deepEqual(answers, []);
  h.clock.advance(1);
  await settle();
  t.true(alice.call.isEnded);
  t.deepEqual(answers.map((r) => r.status), [180, 200]);
  const newCall = h.lines[0]!.call;
  const seen = h.names(0).length;
  h.uac.last('BYE').reply(200);
  await settle();
  t.deepEqual(h.names(0).slice(seen), [], 'a late answer to the old BYE says nothing on the line the new call now holds');
  t.is(h.lines[0]!.call, newCall);
});

test('an INVITE with Replaces that matches nothing usable: 481 unknown dialog, 486 early-only, 400 unreadable', async (t) => {
  const h = harness();
  const alice = await connectedCall(h, 'alice', 5099);
  const send = (replaces: string): number | undefined => {
    const { tx, answers } = fakeServerTx();
    h.router.route(inviteFrom('carol', 5098, `call-${replaces.length}`, 'carol-tag', [`Replaces: ${replaces}`]), tx, { protocol: 'UDP', host: US, port: 5098 });
    return answers[0]?.status;
  };
  t.is(send(`${alice.callId};to-tag=wrong;from-tag=${alice.tag}`), 481);
  t.is(send(`${alice.callId};to-tag=${alice.call.tag};from-tag=${alice.tag};early-only`), 486);
  t.is(send(';;'), 400);
  t.true(alice.call.isConnected, 'the call is untouched');
});

test('stop() forgets every transfer and its timers', async (t) => {
  const h = harness();
  h.autoAccept = false;
  const alice = await connectedCall(h, 'alice', 5099);
  alice.send('REFER', [`Refer-To: <sip:carol@${US}:5098>`]);
  const carol = await connectedCall(h, 'carol', 5098);
  h.transfers.transferLine('200', '127.0.0.1', 5070, carol.call.line.index);
  await settle();
  h.uac.last('REFER').reply(202);
  const before = h.clock.pending;
  h.transfers.stop();
  t.is(h.clock.pending, before - 2, 'the decision timer and the subscription guard');
  t.is(h.transfers.acceptRefer(1, 'x'), T.SipInvalidHandle);
});

test("a call's duration is measured on the engine's clock, not the wall clock", async (t) => {
  const h = harness();
  const alice = await connectedCall(h, 'alice', 5099);
  t.is(alice.call.durationMs, 0, 'connected at this virtual instant');
  h.clock.advance(90_000);
  t.is(alice.call.durationMs, 90_000);
});
