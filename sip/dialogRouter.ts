/**
 * The one place incoming requests are routed (after the challenge screen): requests inside a
 * dialog go by dialog id (Call-ID, local tag, remote tag) to the usages living on that dialog
 * (the INVITE session, a refer subscription, event subscriptions, in-dialog messages), through
 * ONE screen: 481 when no usage lives on the dialog, 500 when the CSeq goes backwards (RFC 3261
 * §12.2.2), 489 when no usage owns the Event of a SUBSCRIBE/NOTIFY (RFC 6665 §8.2.1), 405/501
 * for a method no usage takes; before all of them, 420 with Unsupported for a Require naming an
 * option tag the capability table does not list (RFC 3261 §8.2.2.3). Requests outside a dialog go through a method table (one
 * handler per method, as drachtio-srf and PJSIP modules register them), so the outcome never
 * depends on the order usages were created in.
 *
 * The sequence state stays in the usage's {@link Dialog} (`acceptRemoteCSeq`): usages sharing
 * a dialog share the Dialog object, so one counter guards them all.
 * @module
 */
import { KNOWN_METHODS, type Capability, type CapabilityRegistry } from './capabilities.js';
import { Dialog } from './dialog.js';
import { parseEventHeader, type EventHeader } from './headers.js';
import type { SipRequest, SipResponse } from './message.js';
import type { ServerTransaction } from './transaction.js';
import type { Endpoint } from './transport.js';
import { tagOf, type ResponseOptions } from './util.js';

/** Handles one incoming request (answers it through `tx`). */
export type RequestHandler = (req: SipRequest, tx: ServerTransaction, from: Endpoint) => void;

/** One usage living on a dialog (RFC 5057): what it takes and where its sequence state lives. */
export interface DialogUsage {
  /** A name for lookups and diagnostics, e.g. `invite`, `refer`, `subscription`. */
  readonly name: string;
  /** In-dialog methods this usage takes. */
  readonly methods: readonly string[];
  /**
   * For SUBSCRIBE and NOTIFY: true when the request's Event (package and id) is this usage's.
   * Omitted: the usage takes none of them by event.
   */
  ownsEvent?(event: EventHeader): boolean;
  /**
   * The dialog whose remote CSeq the sequence guard checks for `req`; undefined while there is
   * none yet (a subscriber's dialog is made by its first NOTIFY, which then sets the CSeq
   * itself). `req` picks among early dialogs sharing one usage (a caller's, one per fork).
   */
  dialog(req?: SipRequest): Dialog | undefined;
  /** False once the usage is over: when no usage of a dialog is alive, the dialog answers 481. */
  alive?(): boolean;
  /** Handles a request the screen let through. */
  handle: RequestHandler;
}

/**
 * The behaviour shared by every usage of one kind (the INVITE session of each call, transfer's
 * REFER usage of each call, ...), written once per module: each function takes the usage's
 * owner. With {@link OwnedDialogUsage} a usage is then one small object per owner instead of a
 * set of closures per owner.
 */
export interface DialogUsageKind<O> {
  /** The usages' {@link DialogUsage.name}. */
  readonly name: string;
  /** The usages' {@link DialogUsage.methods}. */
  readonly methods: readonly string[];
  /** {@link DialogUsage.ownsEvent} of `owner`'s usage; omitted: none. */
  ownsEvent?(owner: O, event: EventHeader): boolean;
  /** {@link DialogUsage.dialog} of `owner`'s usage. */
  dialog(owner: O, req?: SipRequest): Dialog | undefined;
  /** {@link DialogUsage.alive} of `owner`'s usage; omitted: alive while attached. */
  alive?(owner: O): boolean;
  /** {@link DialogUsage.handle} of `owner`'s usage. */
  handle(owner: O, req: SipRequest, tx: ServerTransaction, from: Endpoint): void;
}

/** A usage of one owner (a call, ...), behaving as its {@link DialogUsageKind}. */
export class OwnedDialogUsage<O> implements DialogUsage {
  /**
   * @param kind the behaviour, shared by every usage of the kind
   * @param owner whose usage this is
   */
  constructor(
    private readonly kind: DialogUsageKind<O>,
    /** Whose usage this is. */
    readonly owner: O,
  ) {}

  /** The kind's name. */
  get name(): string {
    return this.kind.name;
  }

  /** The kind's methods. */
  get methods(): readonly string[] {
    return this.kind.methods;
  }

  /** See {@link DialogUsage.ownsEvent}: false when the kind takes no event. */
  ownsEvent(event: EventHeader): boolean {
    return this.kind.ownsEvent?.(this.owner, event) ?? false;
  }

  /** See {@link DialogUsage.dialog}. */
  dialog(req?: SipRequest): Dialog | undefined {
    return this.kind.dialog(this.owner, req);
  }

  /** See {@link DialogUsage.alive}: true when the kind does not say. */
  alive(): boolean {
    return this.kind.alive?.(this.owner) ?? true;
  }

  /** See {@link DialogUsage.handle}. */
  handle(req: SipRequest, tx: ServerTransaction, from: Endpoint): void {
    this.kind.handle(this.owner, req, tx, from);
  }
}

/** What the router needs from the SIP stack. */
export interface DialogRouterServices {
  /** Builds a response to `req` (the stack's `createResponse`). */
  createResponse(req: SipRequest, status: number, reason?: string, options?: ResponseOptions): SipResponse;
  /** The capability table: Allow of 405/501, Allow-Events of 489. */
  capabilities: CapabilityRegistry;
}

/**
 * Methods meaningful only inside a dialog (or, for CANCEL, a transaction): outside one, and
 * with no handler in the table, they get 481 instead of 405.
 */
const DIALOG_ONLY = new Set(['BYE', 'INFO', 'UPDATE', 'PRACK', 'REFER', 'CANCEL']);

/** Routes incoming requests by dialog, else by method. */
export class DialogRouter {
  private readonly dialogs = new Map<string, DialogUsage[]>();
  private readonly table = new Map<string, RequestHandler>();
  private readonly strays = new Map<string, RequestHandler>();

  /** @param services response building and the capability table */
  constructor(private readonly services: DialogRouterServices) {}

  /**
   * The key of a dialog whose remote tag is not known yet: Call-ID and local tag. A usage
   * attached under it (a subscriber before its first NOTIFY) takes every request whose To tag
   * is its local tag, whatever the From tag.
   */
  static earlyKey(callId: string, localTag: string): string {
    return `${callId}\u0000${localTag}`;
  }

  /**
   * Registers a module: its capabilities go into the capability table, its out-of-dialog
   * handlers into the method table (one handler per method: registering a method twice is a
   * programming error and throws).
   * @param name the module's name in the capability table
   * @param capability what it implements
   * @param handlers its out-of-dialog request handlers by method
   */
  module(name: string, capability: Capability, handlers: Readonly<Record<string, RequestHandler>> = {}): this {
    for (const [method, handler] of Object.entries(handlers)) {
      const m = method.toUpperCase();
      if (this.table.has(m)) throw new Error(`DialogRouter: ${m} already has a handler`);
      this.table.set(m, handler);
    }
    this.services.capabilities.register(name, capability);
    return this;
  }

  /**
   * Sets the handler of in-dialog requests of `method` whose dialog is unknown (instead of
   * 481): LanScape accepts unsolicited NOTIFYs when the application asks for them.
   */
  onUnknownDialog(method: string, handler: RequestHandler): this {
    this.strays.set(method.toUpperCase(), handler);
    return this;
  }

  /** Puts `usage` on the dialog `key` ({@link Dialog.id} or {@link DialogRouter.earlyKey}). */
  attach(key: string, usage: DialogUsage): void {
    const list = this.dialogs.get(key);
    if (!list) this.dialogs.set(key, [usage]);
    // a copy of exact size: push would give a dialog's usually 3 usages room for 19 (heap per call)
    else if (!list.includes(usage)) this.dialogs.set(key, list.concat(usage));
  }

  /** Takes `usage` off the dialog `key`; the dialog is forgotten with its last usage. */
  detach(key: string, usage: DialogUsage): void {
    const list = this.dialogs.get(key);
    if (!list) return;
    const rest = list.filter((u) => u !== usage);
    if (rest.length) this.dialogs.set(key, rest);
    else this.dialogs.delete(key);
  }

  /** The usages living on a dialog (for lookups and tests). */
  usagesOf(key: string): readonly DialogUsage[] {
    return this.dialogs.get(key) ?? [];
  }

  /** Number of dialogs with usages. */
  get dialogCount(): number {
    return this.dialogs.size;
  }

  /** Routes one incoming request (the stack's `onRequest`, after the challenge screen). */
  route(req: SipRequest, tx: ServerTransaction, from: Endpoint): void {
    // ACKs to 2xx come through the stack's onAck; others belong to their INVITE transaction.
    if (req.method === 'ACK') return;
    if (req.method !== 'CANCEL' && this.refuseUnsupported(req, tx)) return;
    const localTag = tagOf(req.headers.get('To'));
    // A CANCEL names a transaction, not a dialog, even when it carries a To tag.
    if (!localTag || req.method === 'CANCEL') this.outOfDialog(req, tx, from);
    else this.inDialog(req, tx, from, localTag);
  }

  private outOfDialog(req: SipRequest, tx: ServerTransaction, from: Endpoint): void {
    const handler = this.table.get(req.method);
    if (handler) {
      handler(req, tx, from);
      return;
    }
    if (DIALOG_ONLY.has(req.method)) {
      this.answer(req, tx, 481, 'Call/Transaction Does Not Exist', { toTag: true });
      return;
    }
    this.notAllowed(req, tx, { toTag: true });
  }

  /**
   * Whether `req` belongs to a dialog that is alive here (a To tag, not a CANCEL, and a live
   * usage on its dialog): work the engine already carries, which the per-source rate limit lets
   * through (engine/securityLimits.ts).
   */
  knows(req: SipRequest): boolean {
    if (req.method === 'CANCEL') return false;
    const localTag = tagOf(req.headers.get('To'));
    return !!localTag && this.liveUsages(req, localTag).length > 0;
  }

  /** The live usages of the dialog `req` names (`localTag`: its To tag). */
  private liveUsages(req: SipRequest, localTag: string): DialogUsage[] {
    const callId = req.headers.get('Call-ID') ?? '';
    const remoteTag = tagOf(req.headers.get('From')) ?? '';
    const key = Dialog.key(callId, localTag, remoteTag);
    const found =
      this.dialogs.get(key) ??
      this.dialogs.get(DialogRouter.earlyKey(callId, localTag)) ??
      // A peer whose 2xx had no To tag made a dialog with an empty remote tag; when its later
      // requests carry a From tag after all, match that dialog as PJSIP and Sofia do, not 481.
      (remoteTag ? this.dialogs.get(Dialog.key(callId, localTag, '')) : undefined);
    return (found ?? []).filter((u) => u.alive?.() !== false);
  }

  private inDialog(req: SipRequest, tx: ServerTransaction, from: Endpoint, localTag: string): void {
    const usages = this.liveUsages(req, localTag);
    if (!usages.length) {
      const stray = this.strays.get(req.method);
      if (stray) stray(req, tx, from);
      else this.answer(req, tx, 481, 'Call/Transaction Does Not Exist');
      return;
    }
    // The one sequence guard (RFC 3261 §12.2.2): usages of a dialog share its Dialog object.
    const dialog = usages.map((u) => u.dialog(req)).find((d) => d !== undefined);
    if (dialog && !dialog.acceptRemoteCSeq(req)) {
      this.answer(req, tx, 500, 'Out of order CSeq');
      return;
    }
    const takers = usages.filter((u) => u.methods.includes(req.method));
    let usage: DialogUsage | undefined = takers[0];
    if (req.method === 'SUBSCRIBE' || req.method === 'NOTIFY') {
      const value = req.headers.get('Event');
      const event = parseEventHeader(value);
      if (!event) {
        this.answer(req, tx, value === undefined ? 400 : 489, value === undefined ? 'Missing Event Header' : 'Bad Event');
        return;
      }
      usage = takers.find((u) => u.ownsEvent?.(event) === true);
      if (!usage && takers.length) {
        const res = this.services.createResponse(req, 489, 'Bad Event');
        this.services.capabilities.addHeaders(res.headers, ['Allow-Events']);
        tx.respond(res);
        return;
      }
    }
    if (!usage) {
      this.notAllowed(req, tx, {});
      return;
    }
    usage.handle(req, tx, from);
  }

  /**
   * RFC 3261 §8.2.2.3: a request that requires an option tag no usage supports gets 420 Bad
   * Extension listing them in Unsupported, before any usage sees it (CANCEL never: its
   * Require is the INVITE's business, ACK never gets a response). True when it answered.
   */
  private refuseUnsupported(req: SipRequest, tx: ServerTransaction): boolean {
    const required = req.headers.getAll('Require');
    if (!required.length) return false;
    const unsupported = this.services.capabilities.unsupportedOf(required);
    if (!unsupported.length) return false;
    const res = this.services.createResponse(req, 420, 'Bad Extension', { toTag: true });
    res.headers.append('Unsupported', unsupported.join(', '));
    this.services.capabilities.addHeaders(res.headers, ['Supported']);
    tx.respond(res);
    return true;
  }

  /** RFC 3261 §8.2.1: a method we know but do not take here is 405, an unknown one 501; both with Allow. */
  private notAllowed(req: SipRequest, tx: ServerTransaction, options: ResponseOptions): void {
    const res = this.services.createResponse(req, KNOWN_METHODS.has(req.method) ? 405 : 501, undefined, options);
    this.services.capabilities.addHeaders(res.headers, ['Allow']);
    tx.respond(res);
  }

  private answer(req: SipRequest, tx: ServerTransaction, status: number, reason: string, options: ResponseOptions = {}): void {
    tx.respond(this.services.createResponse(req, status, reason, options));
  }
}
