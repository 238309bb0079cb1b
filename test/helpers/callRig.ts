/**
 * Calls without an engine: a `CallManager` and its `Call`s on real phone lines, wired to the real
 * stack, dialog router and client path the way the engine wires them (engine/runningEngine.ts
 * `newRouter`, `newContext`, `uacFor`), over the socket-less transport of fakeSip.ts on a
 * VirtualClock. The usage context (test/helpers/fakeContext.ts) records every notification;
 * media is a fake that records what it was told.
 */
import { VirtualClock } from '../../sip/clock.js';
import { SipStack } from '../../sip/stack.js';
import { CapabilityRegistry } from '../../sip/capabilities.js';
import { DialogRouter } from '../../sip/dialogRouter.js';
import { CredentialStore, DigestClient } from '../../sip/digest.js';
import { answerChallenge, type UacServices } from '../../sip/uac.js';
import { defaultFormat, type NegotiatedMedia } from '../../sip/sdp.js';
import { CALL_CAPABILITY, Call, type CallMedia, type CallTarget } from '../../lines/call.js';
import { CallManager, type AssignPhoneLineData } from '../../lines/callManager.js';
import type { IllegalCallTransition } from '../../lines/callState.js';
import { PhoneLine } from '../../lines/phoneLine.js';
import { TelephonyReturnValue as T } from '../../engine/returnCodes.js';
import { FakeSipTransport, FarEnd, flush } from './fakeSipStack.js';
import { fakeContext } from './fakeContext.js';

/** One notification a call raised. */
export interface RaisedEvent {
  /** Line (-1 for the engine-wide immediate one). */
  line: number;
  /** Event. */
  event: T;
  /** Its data. */
  data?: object;
}

/** A media session that only records. */
export class FakeMedia implements CallMedia {
  /** Every negotiated media applied, in order. */
  readonly configured: NegotiatedMedia[] = [];
  /** Times start() was called. */
  started = 0;
  /** stop() was called. */
  stopped = false;

  /** @param localPort the RTP port put in SDP */
  constructor(readonly localPort: number) {}

  /** Records the media. */
  configure(media: NegotiatedMedia): boolean {
    this.configured.push(media);
    return true;
  }

  /** Counts. */
  start(): void {
    this.started++;
  }

  /** Records. */
  stop(): Promise<void> {
    this.stopped = true;
    return Promise.resolve();
  }
}

/** Options of {@link callRig}. */
export interface CallRigOptions {
  /** Number of lines (default 2). */
  lines?: number;
  /** Seconds an incoming call may ring (default 30). */
  answerTimeoutSeconds?: number;
  /** How hold is sent (default re-INVITE). */
  holdMethod?: 'reinvite' | 'update';
  /** The 100rel policy of the calls (default off, as before RFC 3262 was implemented). */
  reliableProvisional?: 'off' | 'supported' | 'required';
}

/** Everything a call test reaches into. */
export interface CallRig {
  /** Virtual time. */
  clock: VirtualClock;
  /** The socket-less transport. */
  wire: FakeSipTransport;
  /** The real stack on it. */
  stack: SipStack;
  /** The far end at 127.0.0.2:5070. */
  peer: FarEnd;
  /** The lines. */
  lines: PhoneLine[];
  /** The call manager under test. */
  manager: CallManager;
  /** The router the manager attaches dialogs to. */
  router: DialogRouter;
  /** Every notification raised, in order. */
  events: RaisedEvent[];
  /** Media opened, in order. */
  media: FakeMedia[];
  /** Illegal transitions the calls reported (none, in a correct run). */
  bugs: IllegalCallTransition[];
  /** Credentials the client path answers challenges with (alice / secret in example.com). */
  credentials: CredentialStore;
  /** What the application does with SipIncomingCallAssignPhoneLine (default: nothing). */
  assign: (data: AssignPhoneLineData) => void;
  /** Make openMedia wait for this promise (a slow port bind), when set. */
  mediaGate: Promise<void> | undefined;
  /** Make openMedia fail (no port), when set. */
  mediaFails: boolean;
  /** The names of the events raised on a line, in order. */
  names(line?: number): string[];
  /** Places a call from line `line` to the far end. */
  dial(line?: number, target?: Partial<CallTarget>): Promise<Call>;
}

/** Builds a rig, started (its stack dispatches what the far end sends). */
export async function callRig(options: CallRigOptions = {}): Promise<CallRig> {
  const clock = new VirtualClock();
  const wire = new FakeSipTransport(clock);
  const stack = new SipStack({ transport: wire, clock, userAgent: 'rig' });
  await stack.start();
  const capabilities = new CapabilityRegistry();
  const router = new DialogRouter({ createResponse: (req, status, reason, opts) => stack.createResponse(req, status, reason, opts), capabilities });
  const credentials = new CredentialStore();
  credentials.add('alice', 'secret', 'example.com');
  const digest = new DigestClient(credentials);
  const uac: UacServices = {
    send: (req, dest, user) => stack.sendRequest(req, dest, user),
    answerChallenge: (user, retry, challenge, challenged) => answerChallenge(digest, retry, challenge, challenged, user),
    outboundProxy: () => undefined,
    resolve: (host) => Promise.resolve(host === 'carol.example' ? '127.0.0.3' : undefined),
    transport: () => 'UDP',
  };
  const lines = Array.from({ length: options.lines ?? 2 }, (_, i) => new PhoneLine(i));
  const events: RaisedEvent[] = [];
  const media: FakeMedia[] = [];
  const bugs: IllegalCallTransition[] = [];
  const rig = {} as CallRig;
  const ctx = fakeContext({
    clock,
    runStack: stack,
    capabilities,
    router,
    uac,
    notify: (line, event, data) => events.push({ line, event, data }),
    contactUri: (user) => `sip:${user}@127.0.0.1:5060`,
    advertisedAddress: () => ({ host: '127.0.0.1', port: 5060, protocol: 'UDP' }),
    transport: () => 'UDP',
    resolve: (name) => uac.resolve(name),
    userAgent: () => 'rig',
    lines: () => lines,
    immediate: (line, event, data) => {
      events.push({ line, event, data });
      rig.assign(data as unknown as AssignPhoneLineData);
      return data;
    },
    userFor: (line) => line.registrationName ?? 'bob',
  });
  const manager = new CallManager(ctx, {
    openMedia: async () => {
      if (rig.mediaGate) await rig.mediaGate;
      if (rig.mediaFails) return undefined;
      const m = new FakeMedia(40000 + 2 * media.length);
      media.push(m);
      return m;
    },
    holdStyle: () => 'rfc3264',
    holdMethod: () => options.holdMethod ?? 'reinvite',
    answerTimeoutSeconds: () => options.answerTimeoutSeconds ?? 30,
    reliableProvisional: () => options.reliableProvisional ?? 'off',
    illegalTransition: (bug) => bugs.push(bug),
    // the engine's rule (engine/linePolicy.ts): the lines registered for the user, else any line
    selectLine: (user) => {
      const named = user ? lines.filter((l) => l.registrationName === user) : [];
      return (named.length ? named : lines).find((l) => l.availableForIncoming);
    },
    formatsFor: () => [defaultFormat('PCMU')],
  });
  router.module('calls', CALL_CAPABILITY, {
    INVITE: (req, tx, from) => manager.onNewInvite(req, tx, from),
    CANCEL: (req, tx) => manager.onCancel(req, tx),
  });
  stack.onRequest = (req, tx, from) => router.route(req, tx, from);
  stack.onAck = (req) => manager.onAck(req);
  stack.onStrayResponse = (res) => manager.onStrayResponse(res);
  const peer = new FarEnd(wire);
  Object.assign(rig, {
    clock,
    wire,
    stack,
    peer,
    lines,
    manager,
    router,
    events,
    media,
    bugs,
    credentials,
    assign: () => undefined,
    mediaGate: undefined,
    mediaFails: false,
    names: (line = 0) => events.filter((e) => e.line === line).map((e) => T[e.event]),
    dial: async (line = 0, target: Partial<CallTarget> = {}) => {
      const l = lines[line]!;
      const call = await Call.outgoing(
        manager.services,
        l,
        { requestUri: 'sip:peer@127.0.0.2:5070', to: '<sip:peer@127.0.0.2:5070>', destination: peer.addr, ...target },
        [defaultFormat('PCMU')],
        'alice',
        'Alice',
      );
      if (typeof call === 'number') throw new Error(`dial failed: ${T[call]}`);
      await flush();
      return call;
    },
  });
  return rig;
}
