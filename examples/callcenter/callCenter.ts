/**
 * A call center on one LineScape engine: trunk lines answer callers, an IVR offers a menu
 * (1 = sales, 2 = support, 9 = leave a message), callers wait in a queue per skill with music
 * and position announcements, and the longest-idle agent with the skill is rung on the agent's
 * own line; no answer sends the call to the next agent. Agents' phones register to this engine
 * (its registrar role). An agent can also call out: the engine rings the agent's phone, then the
 * number over a free trunk line, and joins the two. Every call is recorded in stereo by the
 * engine (left the outside party, right what that party heard), and logged in SQLite. A
 * supervisor can listen, whisper, barge into or take over any agent's call, all through
 * conference groups, and give a queued call to a chosen agent. Prompts follow each other on
 * the engine's SipWaveFileComplete notification.
 *
 * The class holds the ACD's state; the engine carries the audio. `snapshot()`, the typed
 * events and `act()` are what a supervisor's screen needs.
 * @module
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import {
  VoipMediaEngine,
  TelephonyReturnValue as T,
  LineMode,
  LineState,
  SIP_AUDIO_DEVICE_NOT_USED,
  TypedEventEmitter,
  type Notification,
  type RecordFrame,
  type RegisterReceivedData,
  type VuMeterData,
} from '../../index.js';
import { parseActRequest, type ActResult, type CallRequest, type MonitorMode, type SupervisorRequest, type TransferRequest } from './actions.js';
import { WavStreamWriter, type PromptSet } from './audioFiles.js';
import { CallLog, type CallDirection, type CallOutcome, type CallRecord, type DayFigures } from './callLog.js';

/** An agent of the floor and the queues (skills) the agent serves. */
export interface AgentConfig {
  /** SIP user the agent's phone registers as (and the agent's name on screen). */
  name: string;
  /** Skill queues the agent takes calls from, e.g. `['sales']`. */
  skills: string[];
}

/** Options of a {@link CallCenter}. */
export interface CallCenterOptions {
  /** SIP port on 127.0.0.1 (0 picks a free one; `sipPort` tells). Default 0. */
  sipPort?: number;
  /** Lines for callers. Default 8. */
  trunkLines?: number;
  /** The agents. */
  agents: AgentConfig[];
  /** Names allowed to register as supervisors' phones. Default none. */
  supervisors?: string[];
  /** Menu digits to skill queues. Default `{ '1': 'sales', '2': 'support' }`. */
  menu?: Record<string, string>;
  /** The key that leaves a message, in the menu or while queued. Default `'9'`. */
  messageKey?: string;
  /** The prompts and music (see `writeSyntheticPrompts`). */
  prompts: PromptSet;
  /** Where recordings and messages go (created when missing). */
  recordingDir: string;
  /** The SQLite call log file (`':memory:'` for none on disk). */
  callLogFile: string;
  /** How long an agent's phone may ring before the next agent is tried, ms. Default 15000. */
  ringTimeoutMs?: number;
  /** Wrap-up time after a call before the agent is offered the next one, ms. Default 3000. */
  wrapUpMs?: number;
  /** Interval of position announcements while queued, ms. Default 20000. */
  announceEveryMs?: number;
  /** Time after the greeting to wait for a menu digit before playing it again, ms. Default 6000. */
  menuTimeoutMs?: number;
  /** Longest message, ms. Default 60000. */
  maxMessageMs?: number;
  /**
   * Where outbound calls go: the SIP address of the trunk (a provider's gateway, a PBX; in the
   * demo the simulator's callers engine), which gets `number@address:port`. Default none: the
   * `call` action is refused. Can be set later through {@link CallCenter.outboundTrunk}.
   */
  outboundTrunk?: OutboundTrunk | null;
}

/** The SIP address outbound calls are sent to. */
export interface OutboundTrunk {
  /** Host or IP address. */
  address: string;
  /** SIP port. */
  port: number;
}

/** What an agent is doing. `offline` until the agent's phone registers. */
export type AgentState = 'offline' | 'idle' | 'ringing' | 'talking' | 'wrap-up';

/**
 * Where a call is. Inbound: `ivr`, `queued`, `ringing` (an agent's phone), `talking`, `message`.
 * Outbound: `ringing` (the agent's phone), `dialing` (the agent answered, the number rings),
 * `talking`. Both end in `ended`.
 */
export type CallStage = 'ivr' | 'queued' | 'ringing' | 'dialing' | 'talking' | 'message' | 'ended';

/** An agent as the supervisor sees it. */
export interface AgentView {
  /** The agent's name. */
  name: string;
  /** The agent's skills. */
  skills: string[];
  /** The state. */
  state: AgentState;
  /** Since when (epoch ms). */
  since: number;
  /** The outside party being rung or talked to (the caller, or the number an outbound call goes to), or null. */
  caller: string | null;
  /** Id of that call, or null. */
  callId: string | null;
  /** Whether that call came in or goes out, or null. */
  direction: CallDirection | null;
  /** The supervisor on the agent's call and how, or null. */
  supervisor: { name: string; mode: MonitorMode | 'takeover' } | null;
}

/** A waiting caller. */
export interface WaitingView {
  /** Call id (for a `transfer` action). */
  id: string;
  /** Who. */
  caller: string;
  /** Since when in the queue (epoch ms). */
  since: number;
}

/** A queue as the supervisor sees it. */
export interface QueueView {
  /** The skill. */
  name: string;
  /** Waiting callers, first in line first. */
  waiting: WaitingView[];
  /** The first caller's wait so far, ms (0 when empty). */
  longestWaitMs: number;
}

/** A call in progress. */
export interface CallView {
  /** Call id. */
  id: string;
  /** Inbound or outbound. */
  direction: CallDirection;
  /** The outside party: who called, or the number called. */
  caller: string;
  /** The engine line of the caller. */
  line: number;
  /** Where the call is. */
  stage: CallStage;
  /** Chosen queue, or null. */
  queue: string | null;
  /** The agent rung or talking, or null. */
  agent: string | null;
  /** Start (epoch ms). */
  startMs: number;
  /** Answer by an agent (outbound: by the number called) (epoch ms), or null. */
  answerMs: number | null;
  /** Last peak level of what the caller says (0..32767). */
  rxPeak: number;
  /** Last peak level of what the caller hears (0..32767). */
  txPeak: number;
  /** The recording being written. */
  recordingPath: string | null;
}

/** The whole floor at one moment, plain data (ready for JSON). */
export interface FloorSnapshot {
  /** When (epoch ms). */
  at: number;
  /** Every agent. */
  agents: AgentView[];
  /** Every queue. */
  queues: QueueView[];
  /** Calls in progress. */
  calls: CallView[];
  /** The day's figures from the call log. */
  today: DayFigures;
}

/** VU levels of one call. */
export interface LevelsView {
  /** Call id. */
  id: string;
  /** Peak of what the caller says. */
  rxPeak: number;
  /** Peak of what the caller hears. */
  txPeak: number;
}

/** The events of a {@link CallCenter}: each carries the new view of what changed. */
export type CallCenterEvents = {
  /** An agent's state changed. */
  agent: [AgentView];
  /** A call moved to another stage. */
  call: [CallView];
  /** A queue changed (a caller joined or left it). */
  queue: [QueueView];
  /** A call's VU levels (every 200 ms while connected). */
  levels: [LevelsView];
  /** A call ended; its final log row. */
  ended: [CallRecord];
  /** Something worth a line on a console (registrations, supervisor actions, no answer). */
  info: [string];
};

interface Agent extends AgentConfig {
  line: number;
  state: AgentState;
  since: number;
  idleSince: number;
  contact: string | null;
  call: FloorCall | null;
  wrapTimer: NodeJS.Timeout | null;
}

interface SupervisorLeg {
  name: string;
  line: number;
  call: FloorCall | null;
  mode: MonitorMode | 'takeover' | null;
  pipe: { rx: Readable; tx: Writable } | null;
}

interface FloorCall {
  id: string;
  direction: CallDirection;
  line: number;
  caller: string;
  stage: CallStage;
  queue: string | null;
  startMs: number;
  queuedMs: number | null;
  answerMs: number | null;
  agent: Agent | null;
  tried: Set<string>;
  greetings: number;
  takenOver: boolean;
  recordingPath: string | null;
  /** The engine records the call (its SipCallRecordComplete completes the call's 'ended'). */
  recording: boolean;
  message: WavStreamWriter | null;
  messagePath: string | null;
  recordingMessage: boolean;
  rxPeak: number;
  txPeak: number;
  /** The prompt playing and what follows it when it has played (SipWaveFileComplete). */
  prompt: { file: string; then: () => void } | null;
  announceTimer: NodeJS.Timeout | null;
  stageTimer: NodeJS.Timeout | null;
  supervisor: SupervisorLeg | null;
}

/** Receive volume of 100 % (`setPhoneLineVolume`). */
const UNITY = 512;

/** The user part of a From header or URI, else the text itself. */
function userOf(from: string): string {
  return /sip:([^@;>]+)@/.exec(from)?.[1] ?? from;
}

/** The call center. Create, `start()`, and `stop()` at the end. */
export class CallCenter extends TypedEventEmitter<CallCenterEvents> {
  /** The engine everything runs on. */
  readonly engine = new VoipMediaEngine();
  /** The call log. */
  readonly log: CallLog;
  /** Where outbound calls go (from the options; may be set while running). Null: no outbound calls. */
  outboundTrunk: OutboundTrunk | null;
  private readonly opts: Required<Omit<CallCenterOptions, 'agents'>> & { agents: AgentConfig[] };
  private readonly agents = new Map<string, Agent>();
  private readonly queues = new Map<string, FloorCall[]>();
  private readonly calls = new Map<number, FloorCall>();
  /** Calls that ended while the engine completes their recording, by recording path. */
  private readonly ending = new Map<string, FloorCall>();
  private readonly legs = new Map<number, SupervisorLeg>();
  private readonly supervisorContacts = new Map<string, string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private supervisorLines: number[] = [];
  private running = false;

  /** Checks nothing yet: `start()` does. */
  constructor(options: CallCenterOptions) {
    super();
    this.opts = {
      sipPort: 0,
      trunkLines: 8,
      supervisors: [],
      menu: { '1': 'sales', '2': 'support' },
      messageKey: '9',
      ringTimeoutMs: 15000,
      wrapUpMs: 3000,
      announceEveryMs: 20000,
      menuTimeoutMs: 6000,
      maxMessageMs: 60000,
      outboundTrunk: null,
      ...options,
    };
    this.outboundTrunk = this.opts.outboundTrunk;
    this.log = new CallLog(this.opts.callLogFile);
    for (const q of Object.values(this.opts.menu)) this.queues.set(q, []);
    this.opts.agents.forEach((a, i) => {
      this.agents.set(a.name, {
        ...a,
        skills: [...a.skills],
        line: this.opts.trunkLines + i,
        state: 'offline',
        since: Date.now(),
        idleSince: Date.now(),
        contact: null,
        call: null,
        wrapTimer: null,
      });
    });
  }

  /** The engine's SIP port (agents register here, callers call here). */
  get sipPort(): number {
    return this.engine.getSipPort();
  }

  /**
   * Starts the engine: trunk lines, one line per agent and two per supervisor (so one can
   * monitor while the next rings), the latter reserved for outgoing calls.
   * @returns SipSuccess or the engine's error
   */
  async start(): Promise<T> {
    fs.mkdirSync(this.opts.recordingDir, { recursive: true });
    const agentLines = this.agents.size;
    const supLines = Math.max(2, this.opts.supervisors.length * 2);
    this.engine.on('notification', (n: Notification) => this.onNotification(n));
    const rc = await this.engine.startSipTelephony({
      numPhoneLinesRequested: this.opts.trunkLines + agentLines + supLines,
      lineMode: LineMode.SwitchLine,
      ipAddressOfThisHost: '127.0.0.1',
      sipPort: this.opts.sipPort,
      phoneName: 'callcenter',
      phoneDisplayName: 'Call center',
      conferenceSampleRate: 8000, // all G.711: no resampling in the bridge
      enablePhoneLineRecording: true,
      recordingChannels: 'stereo', // left the outside party, right what it heard
      farEndCallTransferEnabled: false,
      zeroBasedAudioInDeviceId: SIP_AUDIO_DEVICE_NOT_USED,
      zeroBasedAudioOutDeviceId: SIP_AUDIO_DEVICE_NOT_USED,
    });
    if (rc !== T.SipSuccess) return rc;
    this.supervisorLines = Array.from({ length: supLines }, (_, i) => this.opts.trunkLines + agentLines + i);
    for (const a of this.agents.values()) this.engine.setOutgoingLineOnly(a.line, true);
    for (const l of this.supervisorLines) this.engine.setOutgoingLineOnly(l, true);
    this.running = true;
    return T.SipSuccess;
  }

  /** Ends every call, closes the recordings and the log, and stops the engine. */
  async stop(): Promise<void> {
    if (!this.running) {
      this.log.close();
      return;
    }
    this.running = false;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const a of this.agents.values()) if (a.wrapTimer) clearTimeout(a.wrapTimer);
    await this.engine.stopSipTelephony();
    for (const c of this.calls.values()) this.finishCall(c, undefined);
    // the engine has finished its recordings: no SipCallRecordComplete is still to come
    for (const c of this.ending.values()) this.emitEnded(c);
    this.ending.clear();
    this.log.close();
  }

  // ---------------------------------------------------------------- views

  /** The floor now, as plain data. */
  snapshot(): FloorSnapshot {
    return {
      at: Date.now(),
      agents: [...this.agents.values()].map((a) => this.agentView(a)),
      queues: [...this.queues.keys()].map((q) => this.queueView(q)),
      calls: [...this.calls.values()].map((c) => this.callView(c)),
      today: this.log.figures(),
    };
  }

  private agentView(a: Agent): AgentView {
    const leg = a.call?.supervisor;
    return {
      name: a.name,
      skills: [...a.skills],
      state: a.state,
      since: a.since,
      caller: a.call?.caller ?? null,
      callId: a.call?.id ?? null,
      direction: a.call?.direction ?? null,
      supervisor: leg?.mode ? { name: leg.name, mode: leg.mode } : null,
    };
  }

  private queueView(q: string): QueueView {
    const list = this.queues.get(q) ?? [];
    const now = Date.now();
    const first = list[0];
    return {
      name: q,
      waiting: list.map((c) => ({ id: c.id, caller: c.caller, since: c.queuedMs ?? c.startMs })),
      longestWaitMs: first ? now - (first.queuedMs ?? first.startMs) : 0,
    };
  }

  private callView(c: FloorCall): CallView {
    return {
      id: c.id,
      direction: c.direction,
      caller: c.caller,
      line: c.line,
      stage: c.stage,
      queue: c.queue,
      agent: c.agent?.name ?? null,
      startMs: c.startMs,
      answerMs: c.answerMs,
      rxPeak: c.rxPeak,
      txPeak: c.txPeak,
      recordingPath: c.recordingPath,
    };
  }

  private setAgent(a: Agent, state: AgentState, call: FloorCall | null): void {
    a.state = state;
    a.since = Date.now();
    a.call = call;
    if (state === 'idle') a.idleSince = a.since;
    this.emit('agent', this.agentView(a));
  }

  private setStage(c: FloorCall, stage: CallStage): void {
    c.stage = stage;
    this.emit('call', this.callView(c));
  }

  // ---------------------------------------------------------------- timers and prompts

  private after(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.running) fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  private cancel(t: NodeJS.Timeout | null): null {
    if (t) {
      clearTimeout(t);
      this.timers.delete(t);
    }
    return null;
  }

  /**
   * Plays `file` to the caller and calls `then` once it has played: on the engine's
   * SipWaveFileComplete (raised only for a file that played to its end, so a prompt cut short by
   * the next one never runs its `then`), or at once when the file cannot be played.
   */
  private prompt(c: FloorCall, file: string, then?: () => void): void {
    c.prompt = then ? { file, then } : null;
    const rc = this.engine.playWaveFile(c.line, file, false);
    if (rc !== T.SipSuccess) this.promptDone(c.line, file);
  }

  /** Plays `file` in a loop (music); what a prompt was to do next is dropped. */
  private music(c: FloorCall, file: string): void {
    c.prompt = null;
    this.engine.playWaveFile(c.line, file, true);
  }

  /** The prompt `file` on `line` has played (or failed): what follows it runs. */
  private promptDone(line: number, file: string): void {
    const c = this.calls.get(line);
    const next = c?.prompt;
    if (!c || !next || next.file !== file) return;
    c.prompt = null;
    next.then();
  }

  // ---------------------------------------------------------------- engine events

  private onNotification(n: Notification): void {
    switch (n.event) {
      case T.SipRegisterReceived:
        this.onRegister(n.data);
        break;
      case T.SipOkToAnswerCall:
        this.onIncoming(n.phoneLine, n.data.from);
        break;
      case T.SipIncomingCallConnected:
        this.onConnected(n.phoneLine);
        break;
      case T.SipDtmfDigitEvent:
        this.onDigit(n.phoneLine, n.data.digit);
        break;
      case T.SipCallComplete:
        this.onCallComplete(n.phoneLine, n.data.quality?.mos);
        break;
      case T.SipWaveFileComplete:
      case T.SipBadAudioDataType:
        this.promptDone(n.phoneLine, n.data.path);
        break;
      case T.SipCallRecordActive: {
        const c = this.calls.get(n.phoneLine);
        if (c?.recording && n.data.path) {
          c.recordingPath = n.data.path;
          this.log.update(c.id, { recordingPath: c.recordingPath });
        }
        break;
      }
      case T.SipCallRecordComplete:
        this.onRecordComplete(n.data.path);
        break;
      default:
        break;
    }
  }

  /** A phone registers: agents and supervisors are accepted (and may change `data`, an immediate notification), others get 404. */
  private onRegister(d: RegisterReceivedData): void {
    const agent = this.agents.get(d.user);
    const isSupervisor = this.opts.supervisors.includes(d.user);
    if (!agent && !isSupervisor) {
      d.acceptRegistration = false;
      d.rejectStatusCode = 404;
      return;
    }
    // the demo's phones have no passwords: a known name is bound without the digest challenge
    // (production: leave this out and answer SipIncomingAuthentication with each phone's password)
    d.requireAuthentication = false;
    const live = d.removeAll ? undefined : d.contacts.find((c) => c.expires > 0);
    if (isSupervisor) {
      if (live) this.supervisorContacts.set(d.user, live.uri);
      else this.supervisorContacts.delete(d.user);
      this.emit('info', `supervisor ${d.user} ${live ? 'registered' : 'unregistered'}`);
      return;
    }
    if (!agent) return;
    agent.contact = live?.uri ?? null;
    if (live && agent.state === 'offline') {
      this.setAgent(agent, 'idle', null);
      // an agent who logs in is offered calls after the agents already waiting
      queueMicrotask(() => this.dispatch());
    } else if (!live && agent.state === 'idle') this.setAgent(agent, 'offline', null);
  }

  private onIncoming(line: number, from: string): void {
    const user = userOf(from);
    if (this.opts.supervisors.includes(user) && !this.legs.has(line)) {
      // a supervisor calling in waits on this line for a supervisorLine action
      this.legs.set(line, { name: user, line, call: null, mode: null, pipe: null });
      this.engine.goOffHook(line);
      this.emit('info', `supervisor ${user} called in on line ${line}`);
      return;
    }
    const c = this.newCall('inbound', line, user, 'ivr');
    this.calls.set(line, c);
    this.engine.goOffHook(line);
  }

  private newCall(direction: CallDirection, line: number, caller: string, stage: CallStage): FloorCall {
    const c: FloorCall = {
      id: '',
      direction,
      line,
      caller,
      stage,
      queue: null,
      startMs: Date.now(),
      queuedMs: null,
      answerMs: null,
      agent: null,
      tried: new Set(),
      greetings: 0,
      takenOver: false,
      recordingPath: null,
      recording: false,
      message: null,
      messagePath: null,
      recordingMessage: false,
      rxPeak: 0,
      txPeak: 0,
      prompt: null,
      announceTimer: null,
      stageTimer: null,
      supervisor: null,
    };
    c.id = this.log.start(c.caller, c.startMs, direction);
    return c;
  }

  private onConnected(line: number): void {
    const c = this.calls.get(line);
    if (!c) return;
    this.record(c);
    this.setStage(c, 'ivr');
    this.greet(c);
  }

  /**
   * Records the trunk line of `c` from now on and follows its levels. The engine writes the
   * stereo file (its path comes in SipCallRecordActive); the real-time callback only feeds a
   * message the caller leaves, which is the received side alone.
   */
  private record(c: FloorCall): void {
    const rc = this.engine.startPhoneLineRecording(c.line, true, false, this.opts.recordingDir, (f) => this.onFrame(c, f));
    if (rc === T.SipSuccess) c.recording = true;
    else this.emit('info', `call ${c.id}: not recorded (${T[rc]})`);
    this.engine.setPhoneLineVuMeterCallback(c.line, (v: VuMeterData) => this.onLevels(c, v), 200);
  }

  private onFrame(c: FloorCall, f: RecordFrame): void {
    if (!c.recordingMessage || !c.messagePath) return;
    c.message ??= new WavStreamWriter(c.messagePath, f.sampleRate, 1);
    c.message.write(f.rx, undefined, f.samples);
  }

  private onLevels(c: FloorCall, v: VuMeterData): void {
    c.rxPeak = v.rxPeak;
    c.txPeak = v.txPeak;
    this.emit('levels', { id: c.id, rxPeak: v.rxPeak, txPeak: v.txPeak });
  }

  private greet(c: FloorCall): void {
    c.greetings++;
    this.prompt(c, this.opts.prompts.greeting, () => {
      c.stageTimer = this.after(this.opts.menuTimeoutMs, () => {
        if (c.stage !== 'ivr') return;
        if (c.greetings < 3) this.greet(c);
        else this.goodbye(c);
      });
    });
  }

  private goodbye(c: FloorCall): void {
    this.prompt(c, this.opts.prompts.goodbye, () => void this.engine.terminateCall(c.line, false, 0));
  }

  private onDigit(line: number, digit: string): void {
    const c = this.calls.get(line);
    if (!c) return;
    if (c.stage === 'ivr') {
      c.stageTimer = this.cancel(c.stageTimer);
      const queue = this.opts.menu[digit];
      if (queue) this.enqueue(c, queue);
      else if (digit === this.opts.messageKey) this.takeMessage(c);
      else this.prompt(c, this.opts.prompts.invalid, () => this.greet(c));
    } else if (c.stage === 'queued' && digit === this.opts.messageKey) {
      this.leaveQueue(c);
      this.takeMessage(c);
    } else if (c.stage === 'message' && digit === '#') {
      this.endMessage(c);
    }
  }

  // ---------------------------------------------------------------- queue

  private enqueue(c: FloorCall, queue: string, front = false): void {
    const list = this.queues.get(queue);
    if (!list) return;
    c.queue = queue;
    c.queuedMs ??= Date.now();
    if (front) list.unshift(c);
    else list.push(c);
    this.log.update(c.id, { queue });
    this.setStage(c, 'queued');
    this.emit('queue', this.queueView(queue));
    if (!front) {
      this.announce(c);
      c.announceTimer = this.every(this.opts.announceEveryMs, () => this.announce(c));
    }
    this.dispatch();
  }

  private every(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setInterval(() => {
      if (this.running) fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  /** Position prompt, then music until the next announcement. */
  private announce(c: FloorCall): void {
    if (c.stage !== 'queued' || !c.queue) return;
    const pos = (this.queues.get(c.queue) ?? []).indexOf(c) + 1;
    const prompts = this.opts.prompts.position;
    const file = prompts[Math.min(pos, prompts.length) - 1];
    const music = (): void => {
      if (c.stage === 'queued' || c.stage === 'ringing') this.music(c, this.opts.prompts.music);
    };
    if (pos < 1 || !file) music();
    else this.prompt(c, file, music);
  }

  /** Takes `c` out of its queue; `forGood` false keeps its announcement timer (an offered call may come back unanswered). */
  private leaveQueue(c: FloorCall, forGood = true): void {
    if (forGood) c.announceTimer = this.cancel(c.announceTimer);
    if (!c.queue) return;
    const list = this.queues.get(c.queue) ?? [];
    const i = list.indexOf(c);
    if (i < 0) return;
    list.splice(i, 1);
    this.emit('queue', this.queueView(c.queue));
  }

  /**
   * Offers waiting calls to agents: the caller who has waited longest, across all queues, goes
   * to the longest-idle agent with the queue's skill; repeated while a pair can be made.
   */
  private dispatch(): void {
    if (!this.running) return;
    for (;;) {
      const waiting = [...this.queues.values()].flat().sort((a, b) => (a.queuedMs ?? 0) - (b.queuedMs ?? 0));
      let offered = false;
      for (const c of waiting) {
        const agent = c.queue ? this.pickAgent(c.queue, c) : undefined;
        if (!agent) continue;
        this.leaveQueue(c, false);
        void this.offer(c, agent);
        offered = true;
        break;
      }
      if (!offered) return;
    }
  }

  private pickAgent(queue: string, c: FloorCall): Agent | undefined {
    const idle = [...this.agents.values()].filter((a) => a.state === 'idle' && a.skills.includes(queue)).sort((a, b) => a.idleSince - b.idleSince);
    const fresh = idle.filter((a) => !c.tried.has(a.name));
    if (fresh.length === 0 && idle.length > 0 && !c.stageTimer) {
      // everyone has been tried: start over after a pause rather than ring the same phones at once
      c.stageTimer = this.after(2000, () => {
        c.stageTimer = null;
        c.tried.clear();
        this.dispatch();
      });
    }
    return fresh[0];
  }

  /** Rings `agent` for `c`; connects them on an answer, else puts `c` back at the front. */
  private async offer(c: FloorCall, agent: Agent): Promise<void> {
    const contact = agent.contact;
    c.tried.add(agent.name);
    c.agent = agent;
    this.setAgent(agent, 'ringing', c);
    this.setStage(c, 'ringing');
    const rc = contact ? await this.ringUser(agent.name, agent.line) : T.SipUnknownHost;
    if (!this.running) return;
    if (rc !== T.SipSuccess) {
      this.emit('info', `${agent.name} did not answer ${c.caller} (${T[rc]})`);
      c.agent = null;
      this.setAgent(agent, contact ? 'idle' : 'offline', null);
      if (c.stage === 'ringing') this.enqueue(c, c.queue ?? '', true);
      else this.dispatch();
      return;
    }
    if (c.stage !== 'ringing') {
      // the caller hung up as the agent answered
      c.agent = null;
      this.setAgent(agent, 'idle', null);
      void this.engine.terminateCall(agent.line, false, 0);
      this.dispatch();
      return;
    }
    this.connect(c, agent);
  }

  private connect(c: FloorCall, agent: Agent): void {
    c.announceTimer = this.cancel(c.announceTimer);
    c.stageTimer = this.cancel(c.stageTimer);
    c.prompt = null;
    this.engine.stopWaveFile(c.line);
    const group = `call-${c.id}`;
    this.engine.setConferenceGroupIds(c.line, [group]);
    this.engine.setConferenceGroupIds(agent.line, [group]);
    this.engine.conferenceLine(c.line, true);
    this.engine.conferenceLine(agent.line, true);
    c.answerMs = Date.now();
    // an outbound call never queued: no wait to count
    this.log.update(c.id, { agent: agent.name, answerMs: c.answerMs, waitMs: c.queuedMs === null ? null : c.answerMs - c.queuedMs });
    this.setAgent(agent, 'talking', c);
    this.setStage(c, 'talking');
  }

  // ---------------------------------------------------------------- messages

  private takeMessage(c: FloorCall): void {
    this.setStage(c, 'message');
    this.prompt(c, this.opts.prompts.leaveMessage, () => {
      c.messagePath = path.join(this.opts.recordingDir, `message-${c.id}-${c.startMs}.wav`);
      c.recordingMessage = true;
      this.log.update(c.id, { messagePath: c.messagePath });
      c.stageTimer = this.after(this.opts.maxMessageMs, () => this.endMessage(c));
    });
  }

  private endMessage(c: FloorCall): void {
    c.stageTimer = this.cancel(c.stageTimer);
    c.recordingMessage = false;
    c.message?.close();
    this.goodbye(c);
  }

  // ---------------------------------------------------------------- the end of a call

  private onCallComplete(line: number, mos: number | undefined): void {
    const c = this.calls.get(line);
    if (c) {
      this.finishCall(c, mos);
      return;
    }
    const leg = this.legs.get(line);
    if (leg) {
      this.dropLeg(leg);
      return;
    }
    const agent = [...this.agents.values()].find((a) => a.line === line);
    if (!agent || agent.state !== 'talking') return; // a ringing agent's failure is offer()'s
    const call = agent.call;
    // the agent hung up: the outside party too (an outbound call still ringing is cancelled)
    if (call && (call.stage === 'talking' || call.stage === 'dialing') && !call.takenOver) void this.engine.terminateCall(call.line, false, 0);
    this.wrapUp(agent);
  }

  private wrapUp(agent: Agent): void {
    this.setAgent(agent, 'wrap-up', null);
    agent.wrapTimer = this.after(this.opts.wrapUpMs, () => {
      agent.wrapTimer = null;
      if (agent.state !== 'wrap-up') return;
      this.setAgent(agent, agent.contact ? 'idle' : 'offline', null);
      this.dispatch();
    });
  }

  private finishCall(c: FloorCall, mos: number | undefined): void {
    if (c.stage === 'ended') return;
    const stage = c.stage;
    c.prompt = null;
    c.stageTimer = this.cancel(c.stageTimer);
    this.leaveQueue(c);
    this.engine.setPhoneLineVuMeterCallback(c.line, null);
    c.message?.close();
    if (c.supervisor) {
      const leg = c.supervisor;
      this.stopMonitor(leg);
      void this.engine.terminateCall(leg.line, false, 0);
    }
    if (c.agent && (stage === 'ringing' || stage === 'dialing' || stage === 'talking') && c.agent.call === c) void this.engine.terminateCall(c.agent.line, false, 0);
    let outcome: CallOutcome;
    if (c.answerMs !== null) outcome = 'answered';
    else if (c.direction === 'outbound') outcome = 'failed';
    else outcome = stage === 'message' || c.messagePath ? 'message' : 'abandoned';
    const endMs = Date.now();
    const waitMs = c.queuedMs === null ? null : (c.answerMs ?? endMs) - c.queuedMs;
    this.log.update(c.id, { endMs, outcome, waitMs, mos: mos ?? null });
    this.setStage(c, 'ended');
    this.calls.delete(c.line);
    if (c.direction === 'outbound') this.engine.setOutgoingLineOnly(c.line, false); // the trunk line takes callers again
    // the row goes out once the engine has completed the recording's file (its header's sizes)
    if (c.recording && c.recordingPath) this.ending.set(c.recordingPath, c);
    else this.emitEnded(c);
  }

  /** The engine completed a recording: the call's 'ended' goes out if it was waiting for it. */
  private onRecordComplete(file: string | null): void {
    if (!file) return;
    const ended = this.ending.get(file);
    if (ended) {
      this.ending.delete(file);
      this.emitEnded(ended);
      return;
    }
    const live = [...this.calls.values()].find((c) => c.recordingPath === file);
    if (live) live.recording = false;
  }

  private emitEnded(c: FloorCall): void {
    const row = this.log.get(c.id);
    if (row) this.emit('ended', row);
  }

  // ---------------------------------------------------------------- supervisor

  /**
   * Carries out a supervisor's action. Checks the request's shape and then the floor (the agent
   * exists and is in a call, the supervisor is known and reachable, the queued call exists and
   * the agent is idle) before it changes anything, so a bad request changes nothing.
   * @returns `{ ok: true }`, or `{ ok: false, error }` with a sentence for the person who asked
   */
  async act(request: unknown): Promise<ActResult> {
    const req = parseActRequest(request);
    if ('error' in req) return { ok: false, error: req.error };
    if (!this.running) return { ok: false, error: 'the call center is not running' };
    const agent = this.agents.get(req.agent);
    if (!agent) return { ok: false, error: `unknown agent "${req.agent}"` };
    if (req.action === 'transfer') return this.transfer(req, agent);
    if (req.action === 'call') return this.placeCall(req, agent);
    const call = agent.call;
    if (req.action === 'stop') {
      if (!call?.supervisor) return { ok: false, error: `no supervisor is on ${agent.name}'s call` };
      const leg = call.supervisor;
      this.stopMonitor(leg);
      await this.engine.terminateCall(leg.line, false, 0);
      return { ok: true };
    }
    if (agent.state !== 'talking' || !call || call.stage !== 'talking') return { ok: false, error: `${agent.name} is ${agent.state}, not in a call` };
    const leg = await this.supervisorFor(req, call);
    if ('error' in leg) return { ok: false, error: leg.error };
    if (call.stage !== 'talking' || agent.call !== call) {
      return { ok: false, error: `${agent.name}'s call ended meanwhile` };
    }
    this.monitor(leg, call, req.action);
    this.emit('info', `supervisor ${leg.name}: ${req.action} on ${agent.name}'s call with ${call.caller}`);
    this.emit('agent', this.agentView(agent));
    return { ok: true };
  }

  private transfer(req: TransferRequest, agent: Agent): ActResult {
    const c = [...this.calls.values()].find((x) => x.id === req.call);
    if (!c || c.stage !== 'queued') return { ok: false, error: `no queued call "${req.call}"` };
    if (agent.state !== 'idle') return { ok: false, error: `${agent.name} is ${agent.state}, not idle` };
    this.leaveQueue(c);
    this.emit('info', `call ${c.id} from ${c.caller} transferred to ${agent.name}`);
    void this.offer(c, agent);
    return { ok: true };
  }

  /**
   * An outbound call for `agent`: checked first (a trunk is configured, the agent is idle, a
   * trunk line is free), so a refused request changes nothing; then the trunk line is reserved
   * and the call goes on in {@link CallCenter.dialOut}.
   */
  private placeCall(req: CallRequest, agent: Agent): ActResult {
    const trunk = this.outboundTrunk;
    if (!trunk) return { ok: false, error: 'no outbound trunk is configured' };
    if (agent.state !== 'idle') return { ok: false, error: `${agent.name} is ${agent.state}, not idle` };
    const line = this.freeTrunkLine();
    if (line === undefined) return { ok: false, error: 'no free trunk line' };
    // reserved: no caller may ring on it while the agent's phone rings
    this.engine.setOutgoingLineOnly(line, true);
    const c = this.newCall('outbound', line, req.number, 'ringing');
    this.calls.set(line, c);
    this.emit('info', `${agent.name} calls ${req.number} on trunk line ${line}`);
    void this.dialOut(c, agent, trunk);
    return { ok: true };
  }

  /** The call ended (or the center stopped) while we waited on the engine. */
  private over(c: FloorCall): boolean {
    return !this.running || c.stage === 'ended';
  }

  /**
   * Rings the phone registered here as `user` on `line` and waits for the answer: makeCall to
   * our own address, which the engine sends to the contact its registrar role holds for the user.
   */
  private ringUser(user: string, line: number): Promise<T> {
    // an expired binding: the INVITE would come back to this engine as a caller
    if (!this.engine.getRegistrarBindings().bindings.some((b) => b.user === user)) return Promise.resolve(T.SipNotRegistered);
    return this.engine.makeCall(user, '127.0.0.1', this.sipPort, line, true, this.opts.ringTimeoutMs);
  }

  /** A trunk line with no call and none coming in. */
  private freeTrunkLine(): number | undefined {
    for (let l = 0; l < this.opts.trunkLines; l++) {
      if (!this.calls.has(l) && this.engine.getLineStatus(l).state === LineState.OnHook) return l;
    }
    return undefined;
  }

  /**
   * Rings the agent's phone; once it answers, calls the number over the trunk line (the agent
   * hears silence meanwhile) and joins the two as an inbound call is joined. Any failure ends
   * the call with outcome `failed` and frees the line.
   */
  private async dialOut(c: FloorCall, agent: Agent, trunk: OutboundTrunk): Promise<void> {
    c.agent = agent;
    this.setAgent(agent, 'ringing', c);
    this.setStage(c, 'ringing');
    const contact = agent.contact;
    const rc = contact ? await this.ringUser(agent.name, agent.line) : T.SipUnknownHost;
    if (this.over(c)) return;
    if (rc !== T.SipSuccess) {
      this.emit('info', `${agent.name} did not answer the call to ${c.caller} (${T[rc]})`);
      this.setAgent(agent, contact ? 'idle' : 'offline', null);
      c.agent = null;
      this.finishCall(c, undefined);
      this.dispatch();
      return;
    }
    this.setAgent(agent, 'talking', c);
    this.setStage(c, 'dialing');
    const out = await this.engine.makeCall(c.caller, trunk.address, trunk.port, c.line, true, this.opts.ringTimeoutMs * 4);
    if (this.over(c)) return;
    if (out !== T.SipSuccess) {
      this.emit('info', `${c.caller} did not answer ${agent.name} (${T[out]})`);
      this.finishCall(c, undefined); // hangs up the agent's line; the agent goes to wrap-up
      return;
    }
    this.record(c);
    this.connect(c, agent);
  }

  /** The supervisor's line for `req`: one connected already, or a new call to the supervisor's phone. */
  private async supervisorFor(req: SupervisorRequest, call: FloorCall): Promise<SupervisorLeg | { error: string }> {
    if (req.supervisorLine !== undefined) {
      const leg = this.legs.get(req.supervisorLine);
      if (!leg) return { error: `line ${req.supervisorLine} has no supervisor's call` };
      if (leg.call && leg.call !== call) return { error: `supervisor ${leg.name} is on another call` };
      return leg;
    }
    const name = req.supervisor ?? this.opts.supervisors[0];
    if (!name || !this.opts.supervisors.includes(name)) return { error: `unknown supervisor "${name ?? ''}"` };
    const existing = [...this.legs.values()].find((l) => l.name === name);
    if (existing) {
      if (existing.call && existing.call !== call) return { error: `supervisor ${name} is on another call` };
      return existing;
    }
    const contact = this.supervisorContacts.get(name);
    if (!contact) return { error: `supervisor ${name}'s phone is not registered` };
    const line = this.supervisorLines.find((l) => !this.legs.has(l) && this.engine.getLineStatus(l).state === LineState.OnHook);
    if (line === undefined) return { error: 'no free supervisor line' };
    const leg: SupervisorLeg = { name, line, call: null, mode: null, pipe: null };
    this.legs.set(line, leg); // reserved while it rings
    const rc = await this.ringUser(name, line);
    if (rc !== T.SipSuccess) {
      this.legs.delete(line);
      return { error: `supervisor ${name}'s phone did not answer (${T[rc]})` };
    }
    return leg;
  }

  /**
   * Puts the supervisor's line into the call in `mode`. Conference groups are symmetric, so:
   * listen = the call's group with the supervisor's voice at volume 0; barge = the call's
   * group at full volume; whisper = a second "coach" group shared with the agent only, plus a
   * pipe of the caller's voice into the supervisor's line (the caller must not be in a group
   * with the supervisor, or would hear the supervisor); takeover = barge, then the agent leaves.
   */
  private monitor(leg: SupervisorLeg, call: FloorCall, mode: MonitorMode | 'takeover'): void {
    const agent = call.agent;
    if (!agent) return;
    const group = `call-${call.id}`;
    const coach = `coach-${call.id}`;
    this.stopPipe(leg);
    leg.call = call;
    leg.mode = mode;
    call.supervisor = leg;
    if (mode === 'whisper') {
      this.engine.setConferenceGroupIds(agent.line, [group, coach]);
      this.engine.setConferenceGroupIds(leg.line, [coach]);
      this.engine.setPhoneLineVolume(leg.line, UNITY, UNITY);
      const rx = this.engine.openRxIvrChannel(call.line, { sampleRate: 8000 });
      const tx = this.engine.openTxIvrChannel(leg.line, { sampleRate: 8000 });
      if (rx.channel && tx.channel) {
        rx.channel.pipe(tx.channel);
        leg.pipe = { rx: rx.channel, tx: tx.channel };
      }
    } else {
      this.engine.setConferenceGroupIds(agent.line, [group]);
      this.engine.setConferenceGroupIds(leg.line, [group]);
      this.engine.setPhoneLineVolume(leg.line, mode === 'listen' ? 0 : UNITY, UNITY);
    }
    this.engine.conferenceLine(leg.line, true); // SipInConference when already in: the new groups apply at once
    if (mode === 'takeover') {
      call.takenOver = true;
      void this.engine.terminateCall(agent.line, false, 0);
    }
  }

  private stopPipe(leg: SupervisorLeg): void {
    if (!leg.pipe) return;
    leg.pipe.rx.unpipe(leg.pipe.tx);
    this.engine.closeRxIvrChannel(leg.pipe.rx);
    this.engine.closeTxIvrChannel(leg.pipe.tx);
    leg.pipe = null;
  }

  /** Takes the supervisor out of the call (the line stays up until hung up). */
  private stopMonitor(leg: SupervisorLeg): void {
    this.stopPipe(leg);
    this.engine.conferenceLine(leg.line, false);
    const call = leg.call;
    leg.call = null;
    leg.mode = null;
    if (!call) return;
    call.supervisor = null;
    if (call.agent && call.stage === 'talking' && !call.takenOver) {
      this.engine.setConferenceGroupIds(call.agent.line, [`call-${call.id}`]);
      this.emit('agent', this.agentView(call.agent));
    }
  }

  /** The supervisor's phone hung up. */
  private dropLeg(leg: SupervisorLeg): void {
    const call = leg.call;
    this.stopMonitor(leg);
    this.legs.delete(leg.line);
    // after a take-over the supervisor was the caller's only party
    if (call?.takenOver && call.stage === 'talking') void this.engine.terminateCall(call.line, false, 0);
  }
}
