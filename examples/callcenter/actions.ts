/**
 * The supervisor's action requests: their shape, and the check that turns untrusted input (a
 * WebSocket message, a JSON body) into a typed request or a clear error. Only the shape is
 * checked here; whether the agent exists and is in a call is the call center's question.
 * @module
 */

/** What a supervisor can do on an agent's call. */
export type MonitorMode = 'listen' | 'whisper' | 'barge';

/** Every action name `act()` accepts. */
export const ACTIONS = ['listen', 'whisper', 'barge', 'takeover', 'transfer', 'stop', 'call'] as const;

/** One of {@link ACTIONS}. */
export type ActionName = (typeof ACTIONS)[number];

/**
 * Listen (hear both, heard by neither), whisper (the agent hears the supervisor, the caller
 * does not), barge (three-way), take over (the supervisor replaces the agent), or stop (the
 * supervisor leaves) on the call of `agent`.
 */
export interface SupervisorRequest {
  /** The action. */
  action: MonitorMode | 'takeover' | 'stop';
  /** The agent whose call it concerns. */
  agent: string;
  /** The supervisor's registered name (default: the first supervisor of the options). */
  supervisor?: string;
  /** A line of the call center already connected to the supervisor's phone, instead of calling it. */
  supervisorLine?: number;
}

/** Gives the queued call `call` to `agent`, who must be idle. */
export interface TransferRequest {
  /** The action. */
  action: 'transfer';
  /** The agent who gets the call. */
  agent: string;
  /** Id of a call waiting in a queue (from `snapshot().queues[].waiting[].id`). */
  call: string;
}

/**
 * Places an outbound call for `agent`, who must be idle: the agent's phone is rung on the
 * agent's line, then `number` over a free trunk line, and the two are joined.
 */
export interface CallRequest {
  /** The action. */
  action: 'call';
  /** The agent who calls. */
  agent: string;
  /** The number (or SIP user) to call over the trunk: digits, `+`, `*`, `#`, letters, `.`, `-`, `_`. */
  number: string;
}

/** A valid request to `act()`. */
export type ActRequest = SupervisorRequest | TransferRequest | CallRequest;

/** What `act()` answers. */
export type ActResult = { ok: true } | { ok: false; error: string };

const FIELDS: Record<ActionName, readonly string[]> = {
  listen: ['action', 'agent', 'supervisor', 'supervisorLine'],
  whisper: ['action', 'agent', 'supervisor', 'supervisorLine'],
  barge: ['action', 'agent', 'supervisor', 'supervisorLine'],
  takeover: ['action', 'agent', 'supervisor', 'supervisorLine'],
  stop: ['action', 'agent'],
  transfer: ['action', 'agent', 'call'],
  call: ['action', 'agent', 'number'],
};

/** What may be dialled: a telephone number or a plain SIP user, nothing that changes the URI's meaning. */
const NUMBER = /^\+?[0-9A-Za-z*#._-]{1,32}$/;

function isName(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= 64;
}

/**
 * Checks the shape of an action request: a plain object with a known `action`, a non-empty
 * `agent`, the optional fields of that action with their types, and nothing else. Returns the
 * typed request or the first problem found, worded for the person who sent it.
 */
export function parseActRequest(input: unknown): ActRequest | { error: string } {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return { error: 'the request must be a JSON object' };
  const o = input as Record<string, unknown>;
  const action = o.action;
  if (typeof action !== 'string' || !(ACTIONS as readonly string[]).includes(action)) {
    return { error: `"action" must be one of ${ACTIONS.join(', ')}` };
  }
  const name = action as ActionName;
  const extra = Object.keys(o).find((k) => !FIELDS[name].includes(k));
  if (extra !== undefined) return { error: `unknown field "${extra}" for ${name}` };
  if (!isName(o.agent)) return { error: '"agent" must be an agent name (a non-empty string)' };
  if (name === 'transfer') {
    if (!isName(o.call)) return { error: '"call" must be the id of a queued call' };
    return { action: 'transfer', agent: o.agent, call: o.call };
  }
  if (name === 'call') {
    if (typeof o.number !== 'string' || !NUMBER.test(o.number)) return { error: '"number" must be a number to call (digits, +, *, #; at most 32)' };
    return { action: 'call', agent: o.agent, number: o.number };
  }
  const req: SupervisorRequest = { action: name, agent: o.agent };
  if (o.supervisor !== undefined) {
    if (!isName(o.supervisor)) return { error: '"supervisor" must be a supervisor name' };
    req.supervisor = o.supervisor;
  }
  if (o.supervisorLine !== undefined) {
    if (typeof o.supervisorLine !== 'number' || !Number.isInteger(o.supervisorLine) || o.supervisorLine < 0) {
      return { error: '"supervisorLine" must be a line number (an integer from 0)' };
    }
    req.supervisorLine = o.supervisorLine;
  }
  return req;
}
