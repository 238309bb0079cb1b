/**
 * Instant messages (RFC 3428 MESSAGE), with PortSIP's events: in the dialog of a line's call
 * (`sendMessage`, `SipRecvMessage`) and out of any dialog (`sendOutOfDialogMessage`,
 * `SipRecvOutOfDialogMessage`). Bodies are bytes end to end (a `Buffer`), so binary payloads
 * and NUL bytes arrive unchanged.
 *
 * Receiving answers `200` and raises the event, or refuses: `413` for a body over
 * `setMaxMessageBodySize` (default 64 KiB), `415` (with `Accept`) for a type not in
 * `setAcceptedMessageMimeTypes` (default: every type), `400` for a body without Content-Type or
 * an unreadable Content-Type. An in-dialog MESSAGE whose dialog is unknown gets `481` from the
 * dialog router (sip/dialogRouter.ts), like every in-dialog request.
 *
 * Messaging takes the usage context (lines/context.ts) and nothing else of the engine; its
 * limits (body size, accepted types) are its own state, set by the procedures.
 * @module
 */
import { defaultSipPort, dialledEndpoint, serverEndpoint, uriTransport } from '../sip/tlsTransport.js';
import { parseNameAddr, parseUri, quoteString } from '../sip/grammar.js';
import { SipHeaders, type SipRequest } from '../sip/message.js';
import { VIA_PLACEHOLDER, type ServerTransaction } from '../sip/stack.js';
import { sendUacRequest, type UacServices } from '../sip/uac.js';
import type { Capability } from '../sip/capabilities.js';
import { OwnedDialogUsage, type DialogUsage, type DialogUsageKind } from '../sip/dialogRouter.js';
import type { Endpoint, TransportProtocol } from '../sip/transport.js';
import { newCallId, newTag } from '../sip/util.js';
import type { Call } from '../lines/call.js';
import type { UsageContext } from '../lines/context.js';
import { TelephonyReturnValue as T } from './returnCodes.js';
import type { IdCounter } from './engineState.js';
import { hostPort } from './hosts.js';

/** Default largest MESSAGE body accepted, in bytes. */
export const DEFAULT_MAX_MESSAGE_BODY_SIZE = 64 * 1024;

/** Largest body the engine sends (a stream peer's whole-message limit is 256 KiB). */
export const MAX_OUTGOING_MESSAGE_BODY_SIZE = 200 * 1024;

/** What messaging implements: MESSAGE in and out of dialogs, plain text bodies at least. */
export const MESSAGING_CAPABILITY: Capability = { methods: ['MESSAGE'], accept: ['text/plain'] };

/** Result of `sendMessage` / `sendOutOfDialogMessage`. */
export interface SendMessageResult {
  /** SipSuccess when the MESSAGE is on its way; the outcome arrives as an event. */
  result: T;
  /** Identifies the message in the success and failure events (0 when `result` is an error). */
  messageId: number;
}

/** Data of `SipRecvMessage` (a PHONE_LINE notification: `phoneLine` is the call's line). */
export interface RecvMessageData {
  /** Type part of the Content-Type, e.g. `text`; empty for a MESSAGE without a body (and Content-Type). */
  mimeType: string;
  /** Subtype part, e.g. `plain`; empty for a MESSAGE without a body (and Content-Type). */
  subMimeType: string;
  /** The body, byte for byte. */
  messageData: Buffer;
}

/** Data of `SipRecvOutOfDialogMessage` (a GLOBAL notification). */
export interface RecvOutOfDialogMessageData extends RecvMessageData {
  /** Display name of the sender (empty when none). */
  fromDisplayName: string;
  /** The sender's URI. */
  from: string;
  /** Display name of the recipient (empty when none). */
  toDisplayName: string;
  /** The recipient's URI. */
  to: string;
}

/** Data of `SipSendMessageSuccess`. */
export interface SendMessageSuccessData {
  /** The id `sendMessage` returned. */
  messageId: number;
}

/** Data of `SipSendMessageFailure`. */
export interface SendMessageFailureData extends SendMessageSuccessData {
  /** Reason phrase of the final response (or `Request Timeout`, or the transport error). */
  reason: string;
  /** Final status code; 408 when no answer came, 503 when the request could not be sent. */
  code: number;
}

/** Data of `SipSendOutOfDialogMessageSuccess`. */
export interface SendOutOfDialogMessageSuccessData {
  /** The id `sendOutOfDialogMessage` returned. */
  messageId: number;
  /** Our display name. */
  fromDisplayName: string;
  /** Our URI as written in From. */
  from: string;
  /** Display name of the recipient (empty). */
  toDisplayName: string;
  /** The recipient URI given to sendOutOfDialogMessage. */
  to: string;
}

/** Data of `SipSendOutOfDialogMessageFailure`. */
export interface SendOutOfDialogMessageFailureData extends SendOutOfDialogMessageSuccessData {
  /** Reason phrase of the final response (or `Request Timeout`, or the transport error). */
  reason: string;
  /** Final status code; 408 when no answer came, 503 when the request could not be sent. */
  code: number;
}

/** Outcome of one MESSAGE transaction chain (after auth retries). */
type Outcome = { ok: true } | { ok: false; code: number; reason: string };

const TOKEN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/** MESSAGE sending and receiving for one engine. */
export class Messaging {
  private maxBodySize = DEFAULT_MAX_MESSAGE_BODY_SIZE;
  /** Accepted `type/subtype` patterns, lower case (`*` wildcards); empty = everything. */
  private accepted: string[] = [];
  /** The client path of messages (digest clients of their own, `msg:`). */
  private readonly uac: UacServices;
  /** The MESSAGE usage of {@link Messaging.usageFor}, shared by every call's (one small object per call). */
  private readonly messageKind: DialogUsageKind<Call> = {
    name: 'message',
    methods: ['MESSAGE'],
    dialog: (call) => call.dialog,
    handle: (call, req, tx) => this.receive(req, tx, call),
  };

  /**
   * @param ctx the usage context
   * @param ids message ids (the engine's counter, continued across runs)
   */
  constructor(
    private readonly ctx: UsageContext,
    private readonly ids: IdCounter = { next: 1 },
  ) {
    this.uac = ctx.uacFor('msg:');
  }

  /** Our user, display name and the host written in From (the domain, else our advertised address). */
  private identity(): { user: string; displayName: string; host: string } {
    const a = this.ctx.advertisedAddress();
    return { user: this.ctx.user(), displayName: this.ctx.displayName(), host: this.ctx.domain() ?? hostPort(a.host, a.port) };
  }

  /** Back to defaults (the engine stopped). */
  reset(): void {
    this.maxBodySize = DEFAULT_MAX_MESSAGE_BODY_SIZE;
    this.accepted = [];
  }

  /** Largest body accepted in incoming MESSAGEs (1 .. 16 MiB). */
  setMaxBodySize(bytes: number): T {
    if (typeof bytes !== 'number' || !Number.isInteger(bytes) || bytes < 1 || bytes > 16 * 1024 * 1024) return T.SipBadParameter;
    this.maxBodySize = bytes;
    return T.SipSuccess;
  }

  /** Types accepted in incoming MESSAGEs (`text/plain`, `application/*`, `*` ...); empty = all. */
  setAcceptedMimeTypes(types: string[]): T {
    if (!Array.isArray(types)) return T.SipBadParameter;
    const out: string[] = [];
    for (const t of types) {
      if (typeof t !== 'string') return T.SipBadParameter;
      const v = t.trim().toLowerCase();
      if (v === '*' || v === '*/*') {
        out.length = 0;
        return this.setAccepted(out);
      }
      const [a, b, ...rest] = v.split('/');
      if (rest.length || !a || !b || !TOKEN.test(a) || !TOKEN.test(b) || (a === '*' && b !== '*')) return T.SipBadParameter;
      out.push(`${a}/${b}`);
    }
    return this.setAccepted(out);
  }

  private setAccepted(list: string[]): T {
    this.accepted = list;
    return T.SipSuccess;
  }

  // ---------------------------------------------------------------- sending

  /** In-dialog MESSAGE on the call of `phoneLine`. */
  sendMessage(phoneLine: number, mimeType: string, subMimeType: string, body: string | Buffer): SendMessageResult {
    const call = this.ctx.lineCall(phoneLine);
    if (typeof call === 'number') return { result: call, messageId: 0 };
    const bad = checkContent(mimeType, subMimeType, body);
    if (bad !== T.SipSuccess) return { result: bad, messageId: 0 };
    const dialog = call.dialog;
    const stack = this.ctx.stack();
    if (!dialog || !call.isConnected || !stack) return { result: T.SipNoCallActive, messageId: 0 };
    const messageId = this.ids.next++;
    const contentType = `${mimeType}/${subMimeType}`;
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
    const line = call.line.index;
    const build = (): SipRequest => dialog.createRequest('MESSAGE', { body: bytes, contentType });
    void this.run(build, undefined, userOf(dialog.localUri)).then((o) => {
      if (o.ok) this.ctx.notify(line, T.SipSendMessageSuccess, { messageId } satisfies SendMessageSuccessData);
      else this.ctx.notify(line, T.SipSendMessageFailure, { messageId, reason: o.reason, code: o.code } satisfies SendMessageFailureData);
    });
    return { result: T.SipSuccess, messageId };
  }

  /**
   * Out-of-dialog MESSAGE to the SIP URI `to`: through the proxy when one is enabled, else to
   * the URI's host; digest challenges are answered with the engine's credentials.
   */
  sendOutOfDialogMessage(to: string, mimeType: string, subMimeType: string, body: string | Buffer): SendMessageResult {
    const stack = this.ctx.stack();
    if (!stack) return { result: T.SipMediaEngineNotInitialized, messageId: 0 };
    if (typeof to !== 'string') return { result: T.SipBadParameter, messageId: 0 };
    const target = to.trim();
    let uri;
    try {
      uri = parseUri(target);
    } catch {
      return { result: T.SipBadSipUri, messageId: 0 };
    }
    if ((uri.scheme !== 'sip' && uri.scheme !== 'sips') || !uri.host || /[\r\n<>]/.test(target)) return { result: T.SipBadSipUri, messageId: 0 };
    const bad = checkContent(mimeType, subMimeType, body);
    if (bad !== T.SipSuccess) return { result: bad, messageId: 0 };

    const messageId = this.ids.next++;
    const me = this.identity();
    const fromUri = `sip:${me.user}@${me.host}`;
    const fromValue = `${me.displayName ? `${quoteString(me.displayName)} ` : ''}<${fromUri}>;tag=${newTag()}`;
    const callId = newCallId();
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
    const p = this.ctx.proxy();
    const proxy: Endpoint | undefined = p && serverEndpoint(this.ctx.transport(), p);
    let cseq = 0;
    const build = (): SipRequest => {
      const h = new SipHeaders();
      h.append('Via', VIA_PLACEHOLDER);
      h.append('From', fromValue);
      h.append('To', `<${target}>`);
      h.append('Call-ID', callId);
      h.append('CSeq', `${++cseq} MESSAGE`);
      h.append('Content-Type', `${mimeType}/${subMimeType}`);
      return { type: 'request', method: 'MESSAGE', uri: target, version: 'SIP/2.0', headers: h, body: bytes };
    };
    const sipUri = uri;
    const event = { messageId, fromDisplayName: me.displayName, from: fromUri, toDisplayName: '', to: target };
    void this.run(build, async () => {
      if (proxy) return proxy;
      const ip = await this.ctx.resolve(sipUri.host);
      if (!ip) return undefined;
      const protocol: TransportProtocol = uriTransport(sipUri, this.ctx.transport());
      return dialledEndpoint(protocol, ip, sipUri.port ?? defaultSipPort(protocol), sipUri.host);
    }, me.user).then((o) => {
      if (o.ok) this.ctx.notifyGlobal(T.SipSendOutOfDialogMessageSuccess, event satisfies SendOutOfDialogMessageSuccessData);
      else this.ctx.notifyGlobal(T.SipSendOutOfDialogMessageFailure, { ...event, reason: o.reason, code: o.code } satisfies SendOutOfDialogMessageFailureData);
    });
    return { result: T.SipSuccess, messageId };
  }

  /**
   * Sends a MESSAGE built by `build` (called again for each auth retry, with a new CSeq) through
   * the client path and settles with its final outcome. `destination` is undefined in a dialog
   * (the route set decides).
   */
  private run(build: () => SipRequest, destination: (() => Promise<Endpoint | undefined>) | undefined, authUser: string): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      let resolved = true;
      const dest = destination
        ? async (): Promise<Endpoint | undefined> => {
            const d = await destination();
            resolved = d !== undefined;
            return d;
          }
        : undefined;
      sendUacRequest(this.uac, { build, destination: dest, authUser }, (o) => {
        if (o.kind === 'final') resolve(o.res.status >= 200 && o.res.status < 300 ? { ok: true } : { ok: false, code: o.res.status, reason: o.res.reason });
        else if (o.kind === 'timeout') resolve({ ok: false, code: 408, reason: 'Request Timeout' });
        else if (!resolved) resolve({ ok: false, code: 404, reason: 'Cannot resolve the destination' });
        else resolve({ ok: false, code: 503, reason: o.error?.message === 'engine stopped' ? 'Engine stopped' : `Transport error: ${o.error?.message ?? ''}` });
      });
    });
  }

  // ---------------------------------------------------------------- receiving

  /** A MESSAGE outside any dialog (the method table's handler): SipRecvOutOfDialogMessage. */
  onOutOfDialog(req: SipRequest, tx: ServerTransaction): void {
    this.receive(req, tx, undefined);
  }

  /**
   * The usage messaging puts on every call's dialog (`CallManager.extendDialogs`): a MESSAGE
   * there, past the dialog router's screen (dialog known, CSeq in order), is the line's
   * SipRecvMessage.
   */
  usageFor(call: Call): DialogUsage {
    return new OwnedDialogUsage(this.messageKind, call);
  }

  private receive(req: SipRequest, tx: ServerTransaction, call: Call | undefined): void {
    const stack = this.ctx.stack();
    if (!stack) return;
    const answer = (status: number, reason?: string, extra?: [string, string]): void => {
      const res = stack.createResponse(req, status, reason, { toTag: true });
      if (extra) res.headers.append(extra[0], extra[1]);
      tx.respond(res);
    };
    if (req.body.length > this.maxBodySize) {
      answer(413, 'Request Entity Too Large');
      return;
    }
    const ct = req.headers.get('Content-Type');
    if (ct === undefined && req.body.length) {
      answer(400, 'Missing Content-Type');
      return;
    }
    // Content-Type is only required with a body (RFC 3261 §20.15): an empty MESSAGE is
    // delivered with empty MIME type and subtype.
    const m = ct === undefined ? ['', '', ''] : /^\s*([^/\s;]+)\s*\/\s*([^\s;]+)\s*(;.*)?$/.exec(ct);
    if (!m || (ct !== undefined && (!TOKEN.test(m[1]!) || !TOKEN.test(m[2]!)))) {
      answer(400, 'Bad Content-Type');
      return;
    }
    const mimeType = m[1]!;
    const subMimeType = m[2]!;
    if (ct !== undefined && !this.accepts(mimeType, subMimeType)) {
      answer(415, 'Unsupported Media Type', ['Accept', this.accepted.join(', ')]);
      return;
    }
    answer(200, 'OK');
    const messageData = Buffer.from(req.body);
    if (call) {
      this.ctx.notify(call.line.index, T.SipRecvMessage, { mimeType, subMimeType, messageData } satisfies RecvMessageData);
      return;
    }
    const from = nameAddrParts(req.headers.get('From'));
    const to = nameAddrParts(req.headers.get('To'));
    this.ctx.notifyGlobal(T.SipRecvOutOfDialogMessage, {
      fromDisplayName: from.displayName,
      from: from.uri,
      toDisplayName: to.displayName,
      to: to.uri,
      mimeType,
      subMimeType,
      messageData,
    } satisfies RecvOutOfDialogMessageData);
    return;
  }

  private accepts(type: string, sub: string): boolean {
    if (!this.accepted.length) return true;
    const t = type.toLowerCase();
    const s = sub.toLowerCase();
    return this.accepted.some((p) => {
      const [a, b] = p.split('/');
      return (a === '*' || a === t) && (b === '*' || b === s);
    });
  }
}

/** Checks sendMessage's content arguments. */
function checkContent(mimeType: unknown, subMimeType: unknown, body: unknown): T {
  if (typeof mimeType !== 'string' || typeof subMimeType !== 'string' || !TOKEN.test(mimeType) || !TOKEN.test(subMimeType)) return T.SipBadParameter;
  if (typeof body !== 'string' && !Buffer.isBuffer(body)) return T.SipBadParameter;
  const size = typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.length;
  if (size > MAX_OUTGOING_MESSAGE_BODY_SIZE) return T.SipBadParameter;
  return T.SipSuccess;
}

/** Display name and URI of a From/To value (empty strings when it does not parse). */
function nameAddrParts(value: string | undefined): { displayName: string; uri: string } {
  if (!value) return { displayName: '', uri: '' };
  try {
    const na = parseNameAddr(value);
    const lt = value.indexOf('<');
    const gt = value.indexOf('>', lt);
    const uri = lt >= 0 && gt > lt ? value.slice(lt + 1, gt) : value.split(';')[0]!.trim();
    return { displayName: na.displayName ?? '', uri };
  } catch {
    return { displayName: '', uri: '' };
  }
}

/** The user part of a URI in a name-addr, for picking credentials. */
function userOf(nameAddrOrUri: string): string {
  try {
    return parseNameAddr(nameAddrOrUri).uri.user ?? '';
  } catch {
    return '';
  }
}
