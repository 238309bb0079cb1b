/**
 * Traffic for the call center on loopback, with no external server: phones that register to
 * the call center and answer (agents, supervisors), and a "public network" engine whose lines
 * are callers that dial in, choose from the menu by DTMF, talk in a voice of their own, and
 * hang up after a while (or give up while waiting, or leave a message); the same engine answers
 * the numbers the agents call out to (it is the call center's outbound trunk in the demo).
 * @module
 */
import type { Writable } from 'node:stream';
import { VoipMediaEngine, TelephonyReturnValue as T, LineMode, SIP_AUDIO_DEVICE_NOT_USED, DtmfMethod, type Notification } from '../../index.js';
import { voice, type VoiceShape } from './audioFiles.js';

/** Options of a {@link SimPhone}. */
export interface SimPhoneOptions {
  /** Delay between the ring and the answer, ms. Default 800. */
  answerDelayMs?: number;
  /** False: the phone rings and is never answered (an agent away from the desk). Default true. */
  answers?: boolean;
  /** The voice spoken into every answered call (null: silent, the test sends its own audio). */
  voice?: VoiceShape | null;
}

/** A SIP phone (a LineScape engine with one line) that registers to the call center and answers. */
export class SimPhone {
  /** The phone's engine. */
  readonly engine = new VoipMediaEngine();
  private talk: Writable | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();

  /** `name` is the SIP user it registers as (an agent's or supervisor's name). */
  constructor(
    readonly name: string,
    private readonly options: SimPhoneOptions = {},
  ) {}

  /** Starts the phone on a free port and registers it at the call center's `centerPort`. */
  async start(centerPort: number): Promise<T> {
    this.engine.on('notification', (n: Notification) => this.onNotification(n));
    const rc = await this.engine.startSipTelephony({
      numPhoneLinesRequested: 1,
      lineMode: LineMode.PhoneLine,
      ipAddressOfThisHost: '127.0.0.1',
      sipPort: 0,
      phoneName: this.name,
      zeroBasedAudioInDeviceId: SIP_AUDIO_DEVICE_NOT_USED,
      zeroBasedAudioOutDeviceId: SIP_AUDIO_DEVICE_NOT_USED,
    });
    if (rc !== T.SipSuccess) return rc;
    // refresh every 30 s, expire after 60: the call center sees a dead phone go offline
    return this.engine.enableSipRegisterServer(this.name, false, false, '127.0.0.1', centerPort, 30, 60, 4000, false);
  }

  private onNotification(n: Notification): void {
    if (n.event === T.SipOkToAnswerCall && this.options.answers !== false) {
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.engine.goOffHook(n.phoneLine);
      }, this.options.answerDelayMs ?? 800);
      this.timers.add(t);
    } else if ((n.event === T.SipIncomingCallConnected || n.event === T.SipOutgoingCallConnected) && this.options.voice) {
      const r = this.engine.openTxIvrChannel(n.phoneLine, { sampleRate: 8000 });
      if (r.channel) {
        // a few minutes of talk; the channel's back-pressure paces it, the call's end drops the rest
        const pcm = voice(180, this.options.voice);
        r.channel.write(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
        this.talk = r.channel;
      }
    } else if (n.event === T.SipCallComplete && this.talk) {
      this.engine.closeTxIvrChannel(this.talk);
      this.talk = null;
    }
  }

  /** Unregisters and stops. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    await this.engine.stopSipTelephony();
  }
}

/** What a simulated caller does. */
export interface CallerScript {
  /** The caller's SIP user (shown as the caller). */
  name: string;
  /** The menu digit pressed after the greeting starts ('1', '2', or '9' for a message). */
  choice: string;
  /** How long after the answer the digit is pressed, ms. Default 1500. */
  dialAfterMs?: number;
  /** How long the caller stays on the line in total before hanging up, ms. */
  stayMs: number;
  /** The caller's voice (null: silent). */
  voice: VoiceShape | null;
}

/** Options of a {@link CallerPool}. */
export interface CallerPoolOptions {
  /** Delay before a call from the call center (an agent calling out) is answered, ms. Default 1000. */
  answerDelayMs?: number;
  /** The voice of the people the agents call (null: silent, a test sends its own audio). Default null. */
  answerVoice?: VoiceShape | null;
  /** How long a called person talks before hanging up, ms (0: until the agent hangs up). Default 0. */
  answerStayMs?: number;
}

/**
 * An engine with several lines standing in for the public network: each line is one caller, or
 * one person an agent called (every call that comes in is answered).
 */
export class CallerPool {
  /** The engine. */
  readonly engine = new VoipMediaEngine();
  private readonly busy = new Set<number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Calls answered per line so far, so a hang-up timer knows its own call. */
  private readonly answered = new Map<number, number>();

  /** `lines` callers can be on the line at once. */
  constructor(
    readonly lines = 8,
    private readonly options: CallerPoolOptions = {},
  ) {}

  /** Starts the engine on a free port; its port (`engine.getSipPort()`) is the call center's outbound trunk. */
  start(): Promise<T> {
    this.engine.on('notification', (n: Notification) => this.onNotification(n));
    return this.engine.startSipTelephony({
      numPhoneLinesRequested: this.lines,
      lineMode: LineMode.SwitchLine,
      ipAddressOfThisHost: '127.0.0.1',
      sipPort: 0,
      phoneName: 'pstn',
      zeroBasedAudioInDeviceId: SIP_AUDIO_DEVICE_NOT_USED,
      zeroBasedAudioOutDeviceId: SIP_AUDIO_DEVICE_NOT_USED,
    });
  }

  /** Lines with a caller (or a called person) on them. */
  get active(): number {
    return this.busy.size;
  }

  /** The call center calls a number: the person answers after a moment and talks. */
  private onNotification(n: Notification): void {
    if (n.event === T.SipOkToAnswerCall) {
      this.busy.add(n.phoneLine);
      this.after(this.options.answerDelayMs ?? 1000, () => this.engine.goOffHook(n.phoneLine));
    } else if (n.event === T.SipIncomingCallConnected) {
      const line = n.phoneLine;
      if (this.options.answerVoice) {
        const r = this.engine.openTxIvrChannel(line, { sampleRate: 8000 });
        const pcm = voice(120, this.options.answerVoice);
        r.channel?.write(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
      }
      const stay = this.options.answerStayMs ?? 0;
      const call = (this.answered.get(line) ?? 0) + 1;
      this.answered.set(line, call);
      // only this call: the line may carry another one by then
      if (stay > 0) this.after(stay, () => this.answered.get(line) === call && void this.engine.terminateCall(line, false, 0));
    } else if (n.event === T.SipCallComplete) {
      this.busy.delete(n.phoneLine);
      this.answered.set(n.phoneLine, (this.answered.get(n.phoneLine) ?? 0) + 1);
    }
  }

  private after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  /**
   * Places one caller's call to the call center at `centerPort` on a free line and plays the
   * script out: the menu digit, then the caller's voice, then the hang-up.
   * @returns the line used, or -1 when every line is busy or the call failed
   */
  async call(centerPort: number, script: CallerScript): Promise<number> {
    const line = [...Array(this.lines).keys()].find((l) => !this.busy.has(l));
    if (line === undefined) return -1;
    this.busy.add(line);
    this.engine.setFromHeaderUserName(line, script.name);
    this.engine.setPhoneName(line, script.name);
    // the digit is pressed once the center has answered (its greeting is playing), however long
    // the answer takes: a digit sent before it would be lost and the caller never queued
    const onAnswer = (n: Notification): void => {
      if (n.phoneLine !== line) return;
      this.engine.off('SipOutgoingCallConnected', onAnswer);
      this.after(script.dialAfterMs ?? 1500, () => press());
    };
    this.engine.on('SipOutgoingCallConnected', onAnswer);
    const rc = await this.engine.makeCall('support', '127.0.0.1', centerPort, line, true, 10000);
    if (rc !== T.SipSuccess) {
      this.engine.off('SipOutgoingCallConnected', onAnswer);
      this.busy.delete(line);
      return -1;
    }
    const done = (): void => {
      this.engine.off('SipCallComplete', onEnd);
      this.engine.off('SipOutgoingCallConnected', onAnswer);
      this.busy.delete(line);
    };
    const onEnd = (n: Notification): void => {
      if (n.phoneLine === line) done();
    };
    this.engine.on('SipCallComplete', onEnd);
    const press = (): void => {
      if (!this.busy.has(line)) return;
      this.engine.sendDtmf(line, script.choice, DtmfMethod.Rfc4733);
      if (script.voice && script.choice !== '9') {
        const r = this.engine.openTxIvrChannel(line, { sampleRate: 8000 });
        const pcm = voice(Math.max(1, script.stayMs / 1000), script.voice);
        r.channel?.write(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
      } else if (script.voice) {
        // a message: a few seconds of talk after the prompt, then the caller hangs up
        this.after(3000, () => {
          const r = this.engine.openTxIvrChannel(line, { sampleRate: 8000 });
          const pcm = voice(4, script.voice!);
          r.channel?.write(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
        });
      }
    };
    this.after(script.stayMs, () => {
      if (this.busy.has(line)) void this.engine.terminateCall(line, false, 0);
    });
    return line;
  }

  /** Hangs up every caller and stops. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    await this.engine.stopSipTelephony();
  }
}

/** Voices of the simulated people: different pitches and formants. */
export const VOICES: readonly VoiceShape[] = [
  { pitchHz: 110, formantsHz: [650, 1100], syllableRate: 4 },
  { pitchHz: 210, formantsHz: [800, 1500], syllableRate: 5 },
  { pitchHz: 130, formantsHz: [500, 1400], syllableRate: 4.5 },
  { pitchHz: 240, formantsHz: [700, 1900], syllableRate: 5.5 },
];

/** Options of a {@link Simulator}. */
export interface SimulatorOptions {
  /** Agents to start phones for, as the call center knows them. */
  agents: string[];
  /** Supervisors to start phones for. Default none. */
  supervisors?: string[];
  /** Mean time between new callers, ms. Default 6000. */
  meanArrivalMs?: number;
  /** Simultaneous callers at most. Default 8. */
  maxCallers?: number;
  /** A seed for the random choices (the same seed, the same traffic). Default 1. */
  seed?: number;
}

/** A small deterministic PRNG (mulberry32), so a run can be repeated. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMES = ['anna', 'ben', 'chloe', 'dev', 'elena', 'farid', 'grace', 'hugo', 'ines', 'jon', 'kemal', 'lea', 'marco', 'nora', 'omar', 'pia'];

/** Agents' phones, supervisors' phones and a stream of callers, all on loopback. */
export class Simulator {
  /** The agents' and supervisors' phones. */
  readonly phones: SimPhone[] = [];
  /** The callers. */
  readonly pool: CallerPool;
  private readonly rnd: () => number;
  private timer: NodeJS.Timeout | null = null;
  private count = 0;
  private stopped = false;

  /** Traffic for the call center listening on `centerPort`. */
  constructor(
    private readonly centerPort: number,
    private readonly options: SimulatorOptions,
  ) {
    this.pool = new CallerPool(options.maxCallers ?? 8, { answerVoice: VOICES[3]!, answerDelayMs: 1500, answerStayMs: 25000 });
    this.rnd = random(options.seed ?? 1);
  }

  /** Starts the phones (they register) and the caller engine, then the arrivals. */
  async start(): Promise<T> {
    const names = [...this.options.agents, ...(this.options.supervisors ?? [])];
    names.forEach((name, i) => {
      const isAgent = i < this.options.agents.length;
      this.phones.push(new SimPhone(name, { answerDelayMs: 600 + Math.round(this.rnd() * 1500), voice: isAgent ? VOICES[i % VOICES.length]! : null }));
    });
    for (const p of this.phones) {
      const rc = await p.start(this.centerPort);
      if (rc !== T.SipSuccess) return rc;
    }
    const rc = await this.pool.start();
    if (rc !== T.SipSuccess) return rc;
    this.next(500);
    return T.SipSuccess;
  }

  private next(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.arrive();
      // exponential inter-arrival times: a Poisson stream of callers
      this.next(-Math.log(1 - this.rnd()) * (this.options.meanArrivalMs ?? 6000));
    }, ms);
  }

  private arrive(): void {
    const r = this.rnd();
    const name = `${NAMES[this.count % NAMES.length]!}${Math.floor(this.count / NAMES.length) || ''}`;
    this.count++;
    const choice = r < 0.5 ? '1' : r < 0.92 ? '2' : '9';
    const stayMs = choice === '9' ? 12000 : 15000 + Math.round(this.rnd() * 45000);
    void this.pool.call(this.centerPort, { name, choice, stayMs, voice: VOICES[this.count % VOICES.length]!, dialAfterMs: 1200 + Math.round(this.rnd() * 1500) });
  }

  /** Stops the arrivals, the callers and the phones. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.pool.stop();
    for (const p of this.phones) await p.stop();
  }
}
