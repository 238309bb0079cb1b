/**
 * The call-center example as the tests build it: synthetic prompts, a steady note as music,
 * recordings and the call log in a fresh temporary directory, short timers.
 * @module
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CallCenter, type CallCenterOptions, type FloorSnapshot, type AgentView } from '../../examples/callcenter/callCenter.js';
import { tone, writeMonoWav, writeSyntheticPrompts } from '../../examples/callcenter/audioFiles.js';
import type { ExecutionContext } from 'ava';
import { TelephonyReturnValue as T, type VoipMediaEngine } from '../../index.js';
import { toneLevelDb } from './analysis.js';
import { listenFor } from './audio.js';
import { until } from './observe.js';

/** A tone counts as heard above this level (dB of the whole signal). */
export const PRESENT = -12;
/** A tone counts as not heard below this level. */
export const ABSENT = -25;

/**
 * A call center (not started) with 4 trunk lines unless `options` says otherwise, whose music
 * is a steady `musicHz` note (8 kHz), in a new directory named after `prefix`.
 */
export function testCallCenter(prefix: string, musicHz: number, options: Partial<CallCenterOptions> & Pick<CallCenterOptions, 'agents'>): { dir: string; center: CallCenter } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const prompts = writeSyntheticPrompts(path.join(dir, 'prompts'), 3);
  prompts.music = path.join(dir, 'prompts', 'test-music.wav');
  writeMonoWav(prompts.music, tone(musicHz, 3, 8000, 6000));
  const center = new CallCenter({
    trunkLines: 4,
    prompts,
    recordingDir: path.join(dir, 'recordings'),
    callLogFile: path.join(dir, 'calls.sqlite'),
    ringTimeoutMs: 8000,
    wrapUpMs: 300,
    announceEveryMs: 120000,
    menuTimeoutMs: 20000,
    ...options,
  });
  return { dir, center };
}

/** What `line` of `engine` receives for `ms`, at 8 kHz. */
export async function hear(engine: VoipMediaEngine, line: number, ms = 1200): Promise<Int16Array> {
  const r = engine.openRxIvrChannel(line, { sampleRate: 8000 });
  if (!r.channel) throw new Error(`openRxIvrChannel(${line}): ${T[r.result]}`);
  const pcm = await listenFor(r.channel, ms);
  engine.closeRxIvrChannel(r.channel);
  return pcm;
}

/**
 * Listens on a line until the `present` tones are all there (above `presentDb`) and the `absent`
 * ones are not (the audio paths settle a few frames after a change), at most `tries` windows;
 * asserts on the last.
 */
export async function judge(t: ExecutionContext, what: string, engine: VoipMediaEngine, line: number, present: number[], absent: number[], presentDb = PRESENT, tries = 10): Promise<void> {
  let levels = new Map<number, number>();
  for (let i = 0; i < tries; i++) {
    const pcm = await hear(engine, line);
    levels = new Map([...present, ...absent].map((f) => [f, toneLevelDb(pcm, 8000, f)]));
    if (present.every((f) => levels.get(f)! > presentDb) && absent.every((f) => levels.get(f)! < ABSENT)) break;
  }
  t.log(`${what}: ${[...levels].map(([f, db]) => `${f} Hz ${db.toFixed(1)} dB`).join(', ')}`);
  for (const f of present) t.true(levels.get(f)! > presentDb, `${what}: ${f} Hz should be heard (${levels.get(f)!.toFixed(1)} dB)`);
  for (const f of absent) t.true(levels.get(f)! < ABSENT, `${what}: ${f} Hz should not be heard (${levels.get(f)!.toFixed(1)} dB)`);
}

/**
 * How long an agent's phone may take to log in (its REGISTER answered). On a loaded machine the
 * call center's overload guard may answer a REGISTER 503 (event-loop lag, `maxEventLoopLagMs`,
 * docs/operations.md) and the phone tries again after its 4 s error retry: a few of those fit.
 */
const LOGIN_MS = 30000;

/** Resolves true once agent `name` is logged in (idle on the floor), false after {@link LOGIN_MS}. */
export function loggedIn(center: CallCenter, name: string): Promise<boolean> {
  return until(() => agentOf(center.snapshot(), name).state === 'idle', LOGIN_MS);
}

/** The agent named `name` in a floor snapshot (the tests name only agents they configured). */
export function agentOf(s: FloorSnapshot, name: string): AgentView {
  return s.agents.find((a) => a.name === name)!;
}

/** The floor without its clock fields (waits, VU peaks), to compare before and after an action. */
export function floor(center: CallCenter): string {
  const s = center.snapshot();
  return JSON.stringify({ agents: s.agents, queues: s.queues.map((q) => ({ ...q, longestWaitMs: 0 })), calls: s.calls.map((c) => ({ ...c, rxPeak: 0, txPeak: 0 })) });
}
