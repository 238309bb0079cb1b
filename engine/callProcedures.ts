/**
 * The bodies of the facade's call procedures: placing calls (LanScape's MakeCall and
 * MakeCallUri), ending, answering, refusing and holding them, DTMF, and the call queries. The
 * facade (engine/VoipMediaEngine.ts) keeps each procedure's signature, TSDoc and guard and
 * calls here with the arguments as given; validation of the arguments happens here, in the
 * LanScape order of codes.
 * @module
 */
import type { UacDestination } from '../sip/uac.js';
import { defaultSipPort } from '../sip/tlsTransport.js';
import { raceTimer } from '../sip/clock.js';
import { parseUri } from '../sip/grammar.js';
import { PhoneLine } from '../lines/phoneLine.js';
import { buildDtmfRelayBody, isValidDtmfString } from '../media/dtmf.js';
import { callQualityFromStats } from '../media/quality.js';
import { hostPort, isPort, isSipUser } from './hosts.js';
import type {
  ActiveCallInfo,
  CallQualityResult,
  IncomingCallInfoResult,
  NumActiveCallsResult,
  OutgoingCallErrorInfoResult,
  OutgoingCallInfoResult,
} from './results.js';
import { TelephonyReturnValue as T } from './returnCodes.js';
import type { RunningEngine } from './runningEngine.js';
import { isUint } from './startParams.js';
import { CallDirection, CallHoldType, DtmfMethod, LineState } from './types.js';

/** A `synchronous` / `timeOutMs` pair as LanScape's call procedures take it. */
function badWait(synchronous: unknown, timeOutMs: unknown): boolean {
  return typeof synchronous !== 'boolean' || (synchronous && (!isUint(timeOutMs) || timeOutMs === 0));
}

/** Call procedures of one run. */
export class CallProcedures {
  /** @param run the running engine */
  constructor(private readonly run: RunningEngine) {}

  /** `work`'s code, or SipCallTimeOut after `ms` on the engine's clock (so virtual time drives it too). */
  private withTimeOut(work: Promise<T>, ms: number): Promise<T> {
    return raceTimer(this.run.state.clock, ms, work, T.SipCallTimeOut);
  }

  /** The line an outgoing call takes: the first free one for -1, else the one named if it can. */
  private freeLine(phoneLine: number): PhoneLine | T {
    const l = phoneLine === -1 ? -1 : this.run.line(phoneLine);
    return l === -1 || l instanceof PhoneLine ? this.run.linePolicy.lineForOutgoing(l) : l;
  }

  private async placeCall(line: PhoneLine, requestUri: string, dest: UacDestination, synchronous: boolean, timeOutMs: number): Promise<T> {
    this.run.lastErrors.delete(line.index);
    // the client path sends through the outbound proxy, when one is set, and adds its Route
    const call = await this.run.outgoingCall(line, { requestUri, to: `<${requestUri}>`, destination: dest });
    if (typeof call === 'number') return call;
    this.run.linePolicy.holdOtherLines(line);
    if (!synchronous) return T.SipSuccess;
    const rc = await this.withTimeOut(call.whenSettled(), timeOutMs);
    if (rc === T.SipCallTimeOut) void call.hangUp();
    return rc;
  }

  /** makeCall. */
  async makeCall(userOrNumber: string, destAddress: string, destSipPort: number, phoneLine: number, synchronous: boolean, timeOutMs: number): Promise<T> {
    const run = this.run;
    if (!isSipUser(userOrNumber)) return T.SipBadUserName;
    if (badWait(synchronous, timeOutMs)) return T.SipBadParameter;
    if (destSipPort !== 0 && !isPort(destSipPort)) return T.SipBadParameter;
    const line = this.freeLine(phoneLine);
    if (!(line instanceof PhoneLine)) return line;
    let requestUri: string;
    let dest: UacDestination;
    const bound = run.proxy ? undefined : this.ownBinding(userOrNumber, destAddress, destSipPort || undefined);
    if (bound !== undefined) return this.makeCallUri(bound, false, phoneLine, synchronous, timeOutMs);
    if (run.proxy) {
      if (!run.domain) return T.SipDomainNameNotDefined;
      requestUri = `sip:${userOrNumber}@${run.domain}`;
      dest = run.proxy.targets;
    } else {
      if (typeof destAddress !== 'string' || !destAddress) return T.SipBadParameter;
      // Port 0: none given, so a name is found by NAPTR/SRV (RFC 3263), an address on 5060.
      const targets = await run.locate({ host: destAddress, port: destSipPort || undefined }).catch(() => []);
      if (!targets.length) return T.SipUnknownHost;
      requestUri = `sip:${userOrNumber}@${hostPort(destAddress, destSipPort === defaultSipPort(run.params.sipTransport) ? undefined : destSipPort || undefined)}`;
      dest = targets;
    }
    if (run.isStopped || !line.availableForOutgoing) return T.SipCallAlreadyInProgress;
    return this.placeCall(line, requestUri, dest, synchronous, timeOutMs);
  }

  /** makeCallUri. */
  async makeCallUri(sipUri: string, useProxy: boolean, phoneLine: number, synchronous: boolean, timeOutMs: number): Promise<T> {
    const run = this.run;
    if (typeof sipUri !== 'string' || typeof useProxy !== 'boolean') return T.SipBadParameter;
    if (badWait(synchronous, timeOutMs)) return T.SipBadParameter;
    let uri;
    try {
      uri = parseUri(sipUri.trim());
    } catch {
      return T.SipBadSipUri;
    }
    if ((uri.scheme !== 'sip' && uri.scheme !== 'sips') || !uri.host) return T.SipBadSipUri;
    if (useProxy && !run.proxy) return T.SipProxyNotEnabled;
    // A sips: call goes over TLS on its first hop or not at all (RFC 5630 §5.1.1): never
    // downgraded to a proxy reached over UDP/TCP, nor tried by an engine without TLS.
    if (uri.scheme === 'sips') {
      const firstHop = run.outboundProxy ?? (useProxy ? run.proxy : undefined);
      if (!run.stack.transport.tlsEnabled || (firstHop && (firstHop.protocol ?? run.params.sipTransport) !== 'TLS')) return T.SipSecureTransportRequired;
    }
    const line = this.freeLine(phoneLine);
    if (!(line instanceof PhoneLine)) return line;
    let dest: UacDestination;
    // an address-of-record of our own registrar role: the call goes where the user is bound
    const target = (useProxy ? undefined : this.ownBinding(uri.user, uri.host, uri.port)) ?? sipUri.trim();
    if (useProxy) {
      dest = run.proxy!.targets;
    } else {
      const targets = await run.locate(target).catch(() => []);
      if (!targets.length) return T.SipUnknownHost;
      dest = targets;
    }
    if (run.isStopped || !line.availableForOutgoing) return T.SipCallAlreadyInProgress;
    return this.placeCall(line, target, dest, synchronous, timeOutMs);
  }

  /**
   * When `host:port` is this engine's own address and `user` is bound at its registrar role,
   * the contact the user registered (the binding with the most time left: the latest refresh),
   * else undefined. Without it such an INVITE would only come back to this engine.
   */
  private ownBinding(user: string | undefined, host: string, port: number | undefined): string | undefined {
    const run = this.run;
    if (!user || host !== run.params.ipAddressOfThisHost || (port ?? 5060) !== run.stack.localEndpoint('UDP').port) return undefined;
    let best: { uri: string; expires: number } | undefined;
    for (const c of run.registrar.contactsOf(user)) if (!best || c.expires > best.expires) best = c;
    return best?.uri;
  }

  /** terminateCall. */
  async terminateCall(phoneLine: number, synchronous: boolean, timeOutMs: number): Promise<T> {
    const call = this.run.lineCall(phoneLine);
    if (typeof call === 'number') return call;
    if (badWait(synchronous, timeOutMs)) return T.SipBadParameter;
    const done = call.hangUp();
    if (!synchronous) return T.SipSuccess;
    const rc = await this.withTimeOut(done, timeOutMs);
    if (rc === T.SipCallTimeOut) call.finish(T.SipCallComplete);
    return rc === T.SipCallTimeOut ? T.SipCallTimeOut : T.SipSuccess;
  }

  /** goOffHook: answers, then LanScape's inter-line rule holds the other lines (engine/linePolicy.ts). */
  goOffHook(phoneLine: number): T {
    const call = this.run.lineCall(phoneLine);
    if (typeof call === 'number') return call;
    const rc = call.answer();
    if (rc === T.SipSuccess) this.run.linePolicy.holdOtherLines(call.line);
    return rc;
  }

  /** sendCallProgress: 183 with our SDP answer, media starts (lines/call.ts `Call.sendProgress`). */
  sendCallProgress(phoneLine: number): T {
    const call = this.run.lineCall(phoneLine);
    return typeof call === 'number' ? call : call.sendProgress();
  }

  /** abortIncomingCall. */
  abortIncomingCall(phoneLine: number, sipStatusCode: number, reasonPhrase: string): T {
    const call = this.run.lineCall(phoneLine);
    if (typeof call === 'number') return call;
    if (!Number.isInteger(sipStatusCode) || sipStatusCode < 400 || sipStatusCode > 699) return T.SipBadParameter;
    if (reasonPhrase !== undefined && (typeof reasonPhrase !== 'string' || /[\r\n]/.test(reasonPhrase))) return T.SipBadParameter;
    if (call.direction !== CallDirection.Incoming || call.isConnected) return T.SipCallAlreadyInProgress;
    call.reject(sipStatusCode, reasonPhrase || undefined);
    return T.SipSuccess;
  }

  /** holdLine. */
  async holdLine(phoneLine: number, on: boolean): Promise<T> {
    const call = this.run.lineCall(phoneLine);
    if (typeof call === 'number') return call;
    if (typeof on !== 'boolean') return T.SipBadParameter;
    const rc = await call.hold(on);
    return rc === T.SipCallHoldOn || rc === T.SipCallNotOnHold ? T.SipSuccess : rc;
  }

  /** setCallHoldType (kept across runs, engine/engineState.ts). */
  setCallHoldType(type: CallHoldType): T {
    if (type !== CallHoldType.Rfc3264 && type !== CallHoldType.Rfc2543 && type !== CallHoldType.Both) return T.SipBadParameter;
    this.run.state.holdType = type;
    return T.SipSuccess;
  }

  /** setCallAnswerTimeout. */
  setCallAnswerTimeout(seconds: number): T {
    if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds <= 0 || seconds > 4_294_967) return T.SipBadParameter;
    this.run.callAnswerTimeoutSeconds = seconds;
    return T.SipSuccess;
  }

  /** setMediaTimeout: seconds without RTP/RTCP before a connected call is ended; 0 = never. */
  setMediaTimeout(seconds: number): T {
    if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 0 || seconds > 4_294_967) return T.SipBadParameter;
    this.run.mediaTimeoutSeconds = seconds;
    return T.SipSuccess;
  }

  /** getNumActiveCalls. */
  getNumActiveCalls(): NumActiveCallsResult {
    const n = this.run.lines.filter((l) => l.state !== LineState.OnHook && l.state !== LineState.BusyOut).length;
    return { result: T.SipSuccess, numActiveCalls: n };
  }

  /** sendDtmf: SIP INFO digits go one transaction after another, in order. */
  sendDtmf(phoneLine: number, digits: string, method: DtmfMethod): T {
    const call = this.run.lineCall(phoneLine);
    if (typeof call === 'number') return call;
    if (typeof digits !== 'string' || !digits || !isValidDtmfString(digits)) return T.SipInvalidDtmfTone;
    if (!call.isConnected) return T.SipNoCallActive;
    if (method === DtmfMethod.SipInfo) {
      void (async () => {
        for (const d of digits) await call.sendRequestInDialog('INFO', buildDtmfRelayBody(d, 100), 'application/dtmf-relay');
      })();
      return T.SipSuccess;
    }
    if (method !== DtmfMethod.Rfc4733 && method !== DtmfMethod.InBand) return T.SipBadParameter;
    const media = call.line.media;
    if (!media) return T.SipNoCallActive;
    return media.sendDtmf(digits, method === DtmfMethod.Rfc4733 ? 'rfc4733' : 'inband') ? T.SipSuccess : T.SipInvalidDtmfTone;
  }

  /** getIncomingCallInfo. */
  getIncomingCallInfo(phoneLine: number): IncomingCallInfoResult {
    const call = this.run.lineCall(phoneLine);
    if (typeof call === 'number') return { result: call };
    if (!call.incomingInfo) return { result: T.SipNoCallActive };
    return { result: T.SipSuccess, ...call.incomingInfo, source: { ...call.incomingInfo.source } };
  }

  /** getOutgoingCallInfo. */
  getOutgoingCallInfo(phoneLine: number): OutgoingCallInfoResult {
    const call = this.run.lineCall(phoneLine);
    if (typeof call === 'number') return { result: call };
    if (!call.outgoingInfo) return { result: T.SipNoCallActive };
    return { result: T.SipSuccess, ...call.outgoingInfo };
  }

  /** getOutgoingCallErrorInfo: the live call's error, else the last one kept for the line. */
  getOutgoingCallErrorInfo(phoneLine: number): OutgoingCallErrorInfoResult {
    const l = this.run.line(phoneLine);
    if (!(l instanceof PhoneLine)) return { result: l };
    const info = l.call?.errorInfo ?? this.run.lastErrors.get(phoneLine);
    if (!info) return { result: T.SipNoCallActive };
    return { result: T.SipSuccess, ...info };
  }

  /** getActiveCallInfo. */
  getActiveCallInfo(phoneLine: number): ActiveCallInfo {
    const call = this.run.lineCall(phoneLine);
    if (typeof call === 'number') return { result: call };
    const n = call.negotiated;
    const statistics = call.line.media?.stats();
    return {
      result: T.SipSuccess,
      callDirection: call.direction,
      connected: call.isConnected,
      durationMs: call.durationMs,
      codec: n?.codec.name,
      payloadType: n?.codec.payloadType,
      remoteRtpAddress: n?.remoteAddress,
      remoteRtpPort: n?.remotePort,
      localRtpPort: call.media?.localPort,
      localHold: call.localHold,
      farEndHold: call.farEndHold,
      callId: call.dialog?.callId ?? call.outgoingInfo?.callId ?? call.incomingInfo?.callId,
      statistics,
      quality: statistics ? callQualityFromStats(statistics) : undefined,
      encrypted: n?.srtp !== undefined,
      ...(n?.srtp !== undefined ? { srtpSuite: n.srtp.suite } : {}),
    };
  }

  /** getCallQuality: none until RTP was received. */
  getCallQuality(phoneLine: number): CallQualityResult {
    const call = this.run.lineCall(phoneLine);
    if (typeof call === 'number') return { result: call };
    const stats = call.line.media?.stats();
    const quality = stats ? callQualityFromStats(stats) : undefined;
    return quality ? { result: T.SipSuccess, quality } : { result: T.SipNoCallActive };
  }
}
