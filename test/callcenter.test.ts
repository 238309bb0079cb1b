/**
 * The call center example (examples/callcenter/) end to end on loopback with real engines:
 * agents' phones register to the call center, callers dial in and choose a queue by DTMF, wait
 * with music, reach agents and talk (every party sends its own tone and is judged by frequency),
 * the calls are recorded in two channels and logged in SQLite; a supervisor listens, whispers
 * and barges (judged by tones: who hears whom); and act() refuses bad requests without
 * changing anything.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import { TelephonyReturnValue as T, LineState } from '../index.js';
import { CallCenter, type CallCenterOptions } from '../examples/callcenter/callCenter.js';
import { CallerPool, SimPhone, type SimPhoneOptions } from '../examples/callcenter/simulator.js';
import { readWav } from '../examples/callcenter/audioFiles.js';
import { parseActRequest } from '../examples/callcenter/actions.js';
import type { CallRecord } from '../examples/callcenter/callLog.js';
import { sendTone } from './helpers/audio.js';
import { dominantFrequency, toneLevelDb } from './helpers/analysis.js';
import { until } from './helpers/observe.js';
import { ABSENT, PRESENT, agentOf, floor, hear, judge, loggedIn, testCallCenter } from './helpers/callCenter.js';

const RATE = 8000;
/** The queue music of these tests: one steady note. */
const MUSIC = 523;
/** Callers, agents and the supervisor each send their own tone, apart from each other, the music and DTMF. */
const CALLER_HZ = [650, 1050, 1850];
const AGENT_HZ: Record<string, number> = { alice: 1250, bob: 1450 };
const SUPERVISOR_HZ = 450;
/** A tone at least this far (dB of the total) is heard; at most ABSENT is not there. */

interface Rig {
  center: CallCenter;
  pool: CallerPool;
  dir: string;
  phone(name: string, options?: SimPhoneOptions): SimPhone;
}

/** A call center (two trunk lines more than callers) whose prompts are synthetic and music a steady note. */
async function rig(t: ExecutionContext, options: Partial<CallCenterOptions> & Pick<CallCenterOptions, 'agents'>): Promise<Rig> {
  const { dir, center } = testCallCenter('linescape-callcenter-', MUSIC, { ...options });
  const pool = new CallerPool(3);
  const phones: SimPhone[] = [];
  t.teardown(async () => {
    await pool.stop();
    for (const p of phones) await p.stop();
    await center.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  t.is(await center.start(), T.SipSuccess, 'the call center starts');
  t.is(await pool.start(), T.SipSuccess, 'the callers engine starts');
  return {
    center,
    pool,
    dir,
    phone: (name, opts = {}) => {
      const p = new SimPhone(name, { answerDelayMs: 200, voice: null, ...opts });
      phones.push(p);
      return p;
    },
  };
}

test('two agents register, three callers choose queues by DTMF, hear music, reach agents, and are recorded in two channels', async (t) => {
  const r = await rig(t, { agents: [{ name: 'alice', skills: ['sales', 'support'] }, { name: 'bob', skills: ['sales', 'support'] }] });
  const { center, pool } = r;
  const ended: CallRecord[] = [];
  center.on('ended', (row) => ended.push(row));

  // the callers come first: no agent is logged in, so all three wait in their queues
  const choices = ['1', '2', '1'];
  const lines: number[] = [];
  for (const [i, choice] of choices.entries()) {
    const line = await pool.call(center.sipPort, { name: `caller${i}`, choice, stayMs: 600000, voice: null, dialAfterMs: 800 });
    t.true(line >= 0, `caller ${i} is answered by the IVR`);
    lines.push(line);
    // queued before the next one calls: who waited longest is then the calling order, also when a
    // loaded machine would detect the callers' menu digits out of order
    t.true(await until(() => center.snapshot().calls.filter((c) => c.stage === 'queued').length === i + 1, 20000), `caller ${i} is queued`);
  }
  t.true(await until(() => center.snapshot().calls.filter((c) => c.stage === 'queued').length === 3, 20000), 'the three callers are queued');
  const s0 = center.snapshot();
  t.deepEqual(
    s0.queues.map((q) => [q.name, q.waiting.map((w) => w.caller)]),
    [
      ['sales', ['caller0', 'caller2']],
      ['support', ['caller1']],
    ],
    'the menu digits chose the queues',
  );
  for (const [i, line] of lines.entries()) {
    sendTone(pool.engine, line, CALLER_HZ[i]!, 60);
    // the music alone (not the position announcement that comes first): nearly all the power at its note
    await judge(t, `caller ${i} in the queue`, pool.engine, line, [MUSIC], [], -3, 20);
    const pcm = await hear(pool.engine, line);
    t.true(Math.abs(dominantFrequency(pcm, RATE) - MUSIC) < 15, `caller ${i} hears the music note`);
  }

  // the agents log in: the two longest-waiting callers (one per queue's head) are rung and answered
  const alice = r.phone('alice');
  const bob = r.phone('bob');
  t.is(await alice.start(center.sipPort), T.SipSuccess);
  t.is(await bob.start(center.sipPort), T.SipSuccess);
  t.true(await until(() => center.snapshot().agents.every((a) => a.state === 'talking'), 20000), 'both agents answer a call');
  const phones = { alice, bob };
  for (const a of ['alice', 'bob'] as const) sendTone(phones[a].engine, 0, AGENT_HZ[a]!, 60);
  const s1 = center.snapshot();
  t.deepEqual(s1.queues.find((q) => q.name === 'sales')?.waiting.map((w) => w.caller), ['caller2'], 'the third caller still waits');

  const check = async (): Promise<void> => {
    for (const a of center.snapshot().agents.filter((x) => x.state === 'talking')) {
      const i = Number(a.caller!.replace('caller', ''));
      const others = CALLER_HZ.filter((_, k) => k !== i);
      await judge(t, `${a.name} hears caller ${i}`, phones[a.name as 'alice' | 'bob'].engine, 0, [CALLER_HZ[i]!], [...others, MUSIC]);
      await judge(t, `caller ${i} hears ${a.name}`, pool.engine, lines[i]!, [AGENT_HZ[a.name]!], [MUSIC, ...Object.values(AGENT_HZ).filter((f) => f !== AGENT_HZ[a.name])]);
    }
  };
  await check();

  // the first caller hangs up; after wrap-up that agent takes the third caller
  const first = agentOf(s1, 'alice').caller === 'caller0' ? 'alice' : 'bob';
  t.is(await pool.engine.terminateCall(lines[0]!, true, 5000), T.SipSuccess);
  t.true(await until(() => agentOf(center.snapshot(), first).caller === 'caller2' && agentOf(center.snapshot(), first).state === 'talking', 20000), `${first} takes the third caller`);
  sendTone(phones[first].engine, 0, AGENT_HZ[first]!, 60); // a new call: the last one's channel closed with it
  await check();

  for (const i of [1, 2]) t.is(await pool.engine.terminateCall(lines[i]!, true, 5000), T.SipSuccess);
  t.true(await until(() => ended.length === 3, 15000), 'three calls ended');

  // the log: queue, agent, times, wait, outcome, MOS and a two-channel recording of both parties
  const rows = center.log.recent(10).sort((a, b) => a.caller.localeCompare(b.caller));
  t.deepEqual(
    rows.map((x) => [x.caller, x.queue, x.outcome]),
    [
      ['caller0', 'sales', 'answered'],
      ['caller1', 'support', 'answered'],
      ['caller2', 'sales', 'answered'],
    ],
  );
  for (const [i, row] of rows.entries()) {
    t.truthy(row.agent);
    t.true(row.answerMs! >= row.startMs && row.endMs! >= row.answerMs!);
    t.true(row.waitMs! > 0);
    t.true(row.mos! > 3.5, `MOS ${row.mos}`);
    t.truthy(row.recordingPath);
    const wav = readWav(row.recordingPath!);
    t.is(wav.channels.length, 2, 'two channels');
    // a second of talk, a second and a half after the agent answered: placed by the wall clock,
    // unless the recording is shorter (a loaded machine records media time, less than wall
    // time), then the second ending half a second before the recording does, still in the talk
    const length = wav.channels[0]!.length;
    const from = Math.max(0, Math.min(Math.round(((row.answerMs! - row.startMs) / 1000 + 1.5) * wav.rate), length - Math.round(1.5 * wav.rate)));
    const left = wav.channels[0]!.subarray(from, from + wav.rate);
    const right = wav.channels[1]!.subarray(from, from + wav.rate);
    const agentHz = AGENT_HZ[row.agent!]!;
    t.log(`${row.id} ${row.caller} ${row.recordingPath}: left ${toneLevelDb(left, wav.rate, CALLER_HZ[i]!).toFixed(1)} dB caller, right ${toneLevelDb(right, wav.rate, agentHz).toFixed(1)} dB agent`);
    t.true(toneLevelDb(left, wav.rate, CALLER_HZ[i]!) > PRESENT, 'the left channel is the caller');
    t.true(toneLevelDb(left, wav.rate, agentHz) < ABSENT, 'the left channel has no agent');
    t.true(toneLevelDb(right, wav.rate, agentHz) > PRESENT, 'the right channel is the agent');
    t.true(toneLevelDb(right, wav.rate, CALLER_HZ[i]!) < ABSENT, 'the right channel has no caller');
  }
  const today = center.log.figures();
  t.like(today, { calls: 3, answered: 3, abandoned: 0 });
  t.true(today.averageWaitMs > 0 && today.averageMos > 3.5);
});

test('supervisor: a queued call transferred to a chosen agent, then listen, whisper, barge and stop, judged by tones', async (t) => {
  const r = await rig(t, { agents: [{ name: 'alice', skills: ['sales'] }], supervisors: ['sue'] });
  const { center, pool } = r;
  const alice = r.phone('alice');
  const sue = r.phone('sue');
  t.is(await alice.start(center.sipPort), T.SipSuccess);
  t.is(await sue.start(center.sipPort), T.SipSuccess);
  t.true(await loggedIn(center, 'alice'), 'alice is logged in');

  // support has no agent: the call waits until the supervisor gives it to alice
  const line = await pool.call(center.sipPort, { name: 'carl', choice: '2', stayMs: 600000, voice: null, dialAfterMs: 800 });
  t.true(line >= 0);
  t.true(await until(() => center.snapshot().queues.some((q) => q.name === 'support' && q.waiting.length === 1), 20000), 'carl waits for support');
  const id = center.snapshot().queues.find((q) => q.name === 'support')!.waiting[0]!.id;
  t.deepEqual(await center.act({ action: 'transfer', agent: 'alice', call: id }), { ok: true });
  t.true(await until(() => agentOf(center.snapshot(), 'alice').state === 'talking', 15000), 'alice answers the transferred call');

  const C = CALLER_HZ[0]!;
  const A = AGENT_HZ.alice!;
  const S = SUPERVISOR_HZ;
  sendTone(pool.engine, line, C, 90);
  sendTone(alice.engine, 0, A, 90);

  t.deepEqual(await center.act({ action: 'listen', agent: 'alice' }), { ok: true }, 'listen');
  t.deepEqual(agentOf(center.snapshot(), 'alice').supervisor, { name: 'sue', mode: 'listen' });
  sendTone(sue.engine, 0, S, 90);
  await judge(t, 'listen: supervisor', sue.engine, 0, [C, A], []);
  await judge(t, 'listen: caller', pool.engine, line, [A], [S]);
  await judge(t, 'listen: agent', alice.engine, 0, [C], [S]);

  t.deepEqual(await center.act({ action: 'whisper', agent: 'alice' }), { ok: true }, 'whisper');
  await judge(t, 'whisper: agent', alice.engine, 0, [C, S], []);
  await judge(t, 'whisper: caller', pool.engine, line, [A], [S]);
  await judge(t, 'whisper: supervisor', sue.engine, 0, [C, A], []);

  t.deepEqual(await center.act({ action: 'barge', agent: 'alice' }), { ok: true }, 'barge');
  await judge(t, 'barge: caller', pool.engine, line, [A, S], []);
  await judge(t, 'barge: agent', alice.engine, 0, [C, S], []);
  await judge(t, 'barge: supervisor', sue.engine, 0, [C, A], []);

  t.deepEqual(await center.act({ action: 'stop', agent: 'alice' }), { ok: true }, 'stop');
  t.true(await until(() => agentOf(center.snapshot(), 'alice').supervisor === null && sue.engine.getNumActiveCalls().numActiveCalls === 0, 10000), 'the supervisor left');
  await judge(t, 'after stop: caller', pool.engine, line, [A], [S]);

  // take-over: the supervisor's phone is called again and replaces the agent, who goes to wrap-up
  t.deepEqual(await center.act({ action: 'takeover', agent: 'alice' }), { ok: true }, 'takeover');
  t.true(await until(() => agentOf(center.snapshot(), 'alice').state !== 'talking', 10000), 'alice leaves the call');
  sendTone(sue.engine, 0, S, 90); // the supervisor's new call
  await judge(t, 'takeover: caller', pool.engine, line, [S], [A]);
  await judge(t, 'takeover: supervisor', sue.engine, 0, [C], [A]);
  t.is(await pool.engine.terminateCall(line, true, 5000), T.SipSuccess);
  t.true(await until(() => sue.engine.getNumActiveCalls().numActiveCalls === 0, 10000), 'the caller\'s hang-up ends the supervisor\'s call');
  const row = center.log.recent(1)[0]!;
  t.like(row, { caller: 'carl', queue: 'support', agent: 'alice', outcome: 'answered' });
});

test('an agent who does not answer: the call goes to the next agent; a caller leaves a message', async (t) => {
  const r = await rig(t, { agents: [{ name: 'alice', skills: ['sales'] }, { name: 'bob', skills: ['sales'] }], ringTimeoutMs: 1500 });
  const { center, pool } = r;
  const info: string[] = [];
  center.on('info', (text) => info.push(text));
  // alice is logged in first, so she is the longest idle, but her phone is never answered
  const alice = r.phone('alice', { answers: false });
  t.is(await alice.start(center.sipPort), T.SipSuccess);
  t.true(await loggedIn(center, 'alice'));
  const bob = r.phone('bob');
  t.is(await bob.start(center.sipPort), T.SipSuccess);
  t.true(await loggedIn(center, 'bob'));

  const line = await pool.call(center.sipPort, { name: 'erin', choice: '1', stayMs: 600000, voice: null, dialAfterMs: 800 });
  t.true(line >= 0);
  t.true(await until(() => agentOf(center.snapshot(), 'bob').state === 'talking', 20000), 'bob gets the call after alice did not answer');
  t.true(info.some((x) => x.startsWith('alice did not answer erin')), info.join(' | '));
  t.is(agentOf(center.snapshot(), 'alice').state, 'idle', 'alice is idle again (and now the last in line)');
  t.is(await pool.engine.terminateCall(line, true, 5000), T.SipSuccess);

  // a message: 9 in the menu, the prompt, a tone as the message, # to finish
  const m = await pool.call(center.sipPort, { name: 'fred', choice: '9', stayMs: 600000, voice: null, dialAfterMs: 800 });
  t.true(m >= 0);
  t.true(await until(() => center.snapshot().calls.some((c) => c.caller === 'fred' && c.stage === 'message'), 20000), 'fred is leaving a message');
  await until(() => center.log.recent(1)[0]?.messagePath !== null, 10000); // after the prompt
  sendTone(pool.engine, m, CALLER_HZ[2]!, 30);
  await new Promise((res) => setTimeout(res, 2000));
  t.is(pool.engine.sendDtmf(m, '#'), T.SipSuccess);
  t.true(await until(() => center.log.recent(1)[0]?.outcome === 'message', 20000), 'the center hangs up after the goodbye');
  const row = center.log.recent(1)[0]!;
  t.like(row, { caller: 'fred', outcome: 'message', agent: null });
  const wav = readWav(row.messagePath!);
  t.is(wav.channels.length, 1);
  const pcm = wav.channels[0]!;
  t.log(`message ${row.messagePath}: ${(pcm.length / wav.rate).toFixed(1)} s, ${CALLER_HZ[2]} Hz at ${toneLevelDb(pcm, wav.rate, CALLER_HZ[2]!).toFixed(1)} dB`);
  t.true(pcm.length > wav.rate, 'over a second of message');
  t.true(toneLevelDb(pcm, wav.rate, CALLER_HZ[2]!) > PRESENT, 'the message holds the caller');
});

test('act() refuses bad input with a clear error and changes nothing', async (t) => {
  const r = await rig(t, { agents: [{ name: 'alice', skills: ['sales'] }, { name: 'bob', skills: ['sales'] }], supervisors: ['sue'] });
  const { center, pool } = r;
  const alice = r.phone('alice');
  t.is(await alice.start(center.sipPort), T.SipSuccess);
  t.true(await loggedIn(center, 'alice'));
  // a caller waits in support, which nobody serves
  const line = await pool.call(center.sipPort, { name: 'dora', choice: '2', stayMs: 600000, voice: null, dialAfterMs: 800 });
  t.true(line >= 0);
  t.true(await until(() => center.snapshot().queues.some((q) => q.name === 'support' && q.waiting.length === 1), 20000));
  const before = floor(center);

  const bad: Array<[unknown, RegExp]> = [
    [null, /JSON object/],
    ['listen alice', /JSON object/],
    [[{ action: 'listen', agent: 'alice' }], /JSON object/],
    [{}, /"action" must be one of/],
    [{ action: 'dance', agent: 'alice' }, /"action" must be one of/],
    [{ action: 'listen' }, /"agent"/],
    [{ action: 'listen', agent: 42 }, /"agent"/],
    [{ action: 'listen', agent: 'alice', supervisorLine: 'one' }, /"supervisorLine"/],
    [{ action: 'listen', agent: 'alice', supervisorLine: -1 }, /"supervisorLine"/],
    [{ action: 'listen', agent: 'alice', volume: 3 }, /unknown field "volume"/],
    [{ action: 'transfer', agent: 'alice' }, /"call"/],
    [{ action: 'listen', agent: 'zoe' }, /unknown agent "zoe"/],
    [{ action: 'listen', agent: 'alice' }, /alice is idle, not in a call/],
    [{ action: 'whisper', agent: 'bob' }, /bob is offline, not in a call/],
    [{ action: 'barge', agent: 'alice', supervisor: 'mallory' }, /alice is idle/],
    [{ action: 'takeover', agent: 'alice' }, /alice is idle/],
    [{ action: 'stop', agent: 'alice' }, /no supervisor is on alice's call/],
    [{ action: 'transfer', agent: 'alice', call: 'c999' }, /no queued call "c999"/],
    [{ action: 'transfer', agent: 'bob', call: center.snapshot().queues[1]!.waiting[0]!.id }, /bob is offline, not idle/],
  ];
  for (const [req, error] of bad) {
    const res = await center.act(req);
    t.false(res.ok, `${JSON.stringify(req)} is refused`);
    if (!res.ok) t.regex(res.error, error, JSON.stringify(req));
  }
  t.is(floor(center), before, 'nothing changed on the floor');
  t.is(supervisorCalls(center), 0, 'no supervisor was called');
  t.is(await pool.engine.terminateCall(line, true, 5000), T.SipSuccess);
});

test('outbound: an agent calls a number over the trunk; both hear each other, recorded in stereo and logged as outbound', async (t) => {
  const r = await rig(t, { agents: [{ name: 'alice', skills: ['sales'] }] });
  const { center, pool } = r;
  const alice = r.phone('alice');
  t.is(await alice.start(center.sipPort), T.SipSuccess);
  t.true(await loggedIn(center, 'alice'), 'alice is logged in');
  center.outboundTrunk = { address: '127.0.0.1', port: pool.engine.getSipPort() };
  const ended: CallRecord[] = [];
  center.on('ended', (row) => ended.push(row));
  const answered = new Promise<number>((resolve) => pool.engine.once('SipIncomingCallConnected', (n) => resolve(n.phoneLine)));

  t.deepEqual(await center.act({ action: 'call', agent: 'alice', number: '5550100' }), { ok: true });
  const far = await answered;
  t.true(await until(() => center.snapshot().calls.some((c) => c.direction === 'outbound' && c.stage === 'talking'), 20000), 'the number answered and is joined with alice');
  t.like(agentOf(center.snapshot(), 'alice'), { state: 'talking', caller: '5550100', direction: 'outbound' });
  t.like(center.snapshot().today, { calls: 0, answered: 0, outbound: 1 }, 'the inbound figures leave outbound calls out');

  const FAR = CALLER_HZ[1]!;
  const A = AGENT_HZ.alice!;
  sendTone(pool.engine, far, FAR, 60);
  sendTone(alice.engine, 0, A, 60);
  await judge(t, 'alice hears the number called', alice.engine, 0, [FAR], [MUSIC]);
  await judge(t, 'the number called hears alice', pool.engine, far, [A], [MUSIC]);
  // busy: a second call for alice is refused and changes nothing
  const before = floor(center);
  const busy = await center.act({ action: 'call', agent: 'alice', number: '5550101' });
  t.false(busy.ok);
  if (!busy.ok) t.regex(busy.error, /alice is talking, not idle/);
  t.is(floor(center), before, 'a refused call changes nothing');
  await new Promise((res) => setTimeout(res, 1500)); // talk to record

  t.is(await pool.engine.terminateCall(far, true, 5000), T.SipSuccess);
  t.true(await until(() => ended.length === 1, 15000), 'the call ended');
  const row = ended[0]!;
  t.like(row, { direction: 'outbound', caller: '5550100', agent: 'alice', queue: null, outcome: 'answered', waitMs: null });
  t.true(row.answerMs! >= row.startMs && row.endMs! >= row.answerMs!);
  t.truthy(row.recordingPath);
  const wav = readWav(row.recordingPath!);
  t.is(wav.channels.length, 2, 'two channels');
  // the recording starts at the number's answer, the tones a moment later (however loaded the
  // machine) and run to the hang-up: judge the last second but the hang-up's fifth of one
  const n = wav.channels[0]!.length;
  t.true(n >= wav.rate * 1.5, `${(n / wav.rate).toFixed(2)} s recorded`);
  const left = wav.channels[0]!.subarray(n - wav.rate * 1.2, n - wav.rate * 0.2);
  const right = wav.channels[1]!.subarray(n - wav.rate * 1.2, n - wav.rate * 0.2);
  t.log(`${row.recordingPath}: left ${toneLevelDb(left, wav.rate, FAR).toFixed(1)} dB far end, right ${toneLevelDb(right, wav.rate, A).toFixed(1)} dB agent`);
  t.true(toneLevelDb(left, wav.rate, FAR) > PRESENT, 'the left channel is the number called');
  t.true(toneLevelDb(left, wav.rate, A) < ABSENT, 'the left channel has no agent');
  t.true(toneLevelDb(right, wav.rate, A) > PRESENT, 'the right channel is the agent');
  t.true(toneLevelDb(right, wav.rate, FAR) < ABSENT, 'the right channel has no far end');
  t.true(await until(() => agentOf(center.snapshot(), 'alice').state === 'idle', 10000), 'alice is idle after wrap-up');
  t.true(await until(() => center.engine.getLineStatus(0).state === LineState.OnHook, 10000), 'the trunk line is free again');
});

test('answered counts at the answer: a call in progress is in today\'s figures, and once only after it ends', async (t) => {
  const r = await rig(t, { agents: [{ name: 'alice', skills: ['sales'] }] });
  const { center, pool } = r;
  const alice = r.phone('alice');
  t.is(await alice.start(center.sipPort), T.SipSuccess);
  t.true(await loggedIn(center, 'alice'), 'alice is logged in');
  const ended: CallRecord[] = [];
  center.on('ended', (row) => ended.push(row));
  const line = await pool.call(center.sipPort, { name: 'gina', choice: '1', stayMs: 600000, voice: null, dialAfterMs: 800 });
  t.true(line >= 0);
  t.true(await until(() => agentOf(center.snapshot(), 'alice').state === 'talking', 20000), 'alice answers');
  t.like(center.snapshot().today, { calls: 1, answered: 1, abandoned: 0 }, 'answered while talking');
  t.like(center.log.figures(), { calls: 1, answered: 1 });
  t.is(await pool.engine.terminateCall(line, true, 5000), T.SipSuccess);
  t.true(await until(() => ended.length === 1, 15000));
  t.like(center.log.figures(), { calls: 1, answered: 1, abandoned: 0 }, 'not counted twice at the end');
});

test('outbound calls refused: no trunk, unknown agent, an agent not idle, no free trunk line, a bad number; nothing changes', async (t) => {
  const r = await rig(t, { agents: [{ name: 'alice', skills: ['sales'] }, { name: 'bob', skills: ['sales'] }], trunkLines: 1 });
  const { center, pool } = r;
  const alice = r.phone('alice');
  t.is(await alice.start(center.sipPort), T.SipSuccess);
  t.true(await loggedIn(center, 'alice'));
  const noTrunk = await center.act({ action: 'call', agent: 'alice', number: '5550100' });
  t.false(noTrunk.ok);
  if (!noTrunk.ok) t.regex(noTrunk.error, /no outbound trunk is configured/);
  center.outboundTrunk = { address: '127.0.0.1', port: pool.engine.getSipPort() };
  // the only trunk line: a caller waits in support, which nobody serves
  const line = await pool.call(center.sipPort, { name: 'dora', choice: '2', stayMs: 600000, voice: null, dialAfterMs: 800 });
  t.true(line >= 0);
  t.true(await until(() => center.snapshot().queues.some((q) => q.name === 'support' && q.waiting.length === 1), 20000));
  const before = floor(center);
  const figures = JSON.stringify(center.log.figures());
  const bad: Array<[unknown, RegExp]> = [
    [{ action: 'call', agent: 'zoe', number: '5550100' }, /unknown agent "zoe"/],
    [{ action: 'call', agent: 'bob', number: '5550100' }, /bob is offline, not idle/],
    [{ action: 'call', agent: 'alice', number: '5550100' }, /no free trunk line/],
    [{ action: 'call', agent: 'alice' }, /"number"/],
    [{ action: 'call', agent: 'alice', number: '' }, /"number"/],
    [{ action: 'call', agent: 'alice', number: '555@evil.example' }, /"number"/],
    [{ action: 'call', agent: 'alice', number: '555;transport=tcp' }, /"number"/],
    [{ action: 'call', agent: 'alice', number: 5550100 }, /"number"/],
    [{ action: 'call', agent: 'alice', number: '5550100', supervisor: 'sue' }, /unknown field "supervisor"/],
  ];
  for (const [req, error] of bad) {
    const res = await center.act(req);
    t.false(res.ok, `${JSON.stringify(req)} is refused`);
    if (!res.ok) t.regex(res.error, error, JSON.stringify(req));
  }
  t.is(floor(center), before, 'nothing changed on the floor');
  t.is(JSON.stringify(center.log.figures()), figures, 'nothing logged');
  t.is(await pool.engine.terminateCall(line, true, 5000), T.SipSuccess);
});

/** Calls the call center placed to supervisors (their lines follow the agents'). */
function supervisorCalls(center: CallCenter): number {
  const n = center.engine.getNumPhoneLines().numPhoneLines;
  let calls = 0;
  for (let l = 4 + 2; l < n; l++) if (center.engine.getLineStatus(l).state !== LineState.OnHook) calls++;
  return calls;
}

test('parseActRequest: the shapes it accepts', (t) => {
  t.deepEqual(parseActRequest({ action: 'listen', agent: 'a' }), { action: 'listen', agent: 'a' });
  t.deepEqual(parseActRequest({ action: 'barge', agent: 'a', supervisor: 's', supervisorLine: 3 }), { action: 'barge', agent: 'a', supervisor: 's', supervisorLine: 3 });
  t.deepEqual(parseActRequest({ action: 'transfer', agent: 'a', call: 'c1' }), { action: 'transfer', agent: 'a', call: 'c1' });
  t.deepEqual(parseActRequest({ action: 'stop', agent: 'a' }), { action: 'stop', agent: 'a' });
  t.deepEqual(parseActRequest({ action: 'call', agent: 'a', number: '+4930123*9#' }), { action: 'call', agent: 'a', number: '+4930123*9#' });
  t.true('error' in parseActRequest({ action: 'stop', agent: 'a', supervisor: 's' }));
  t.true('error' in parseActRequest({ action: 'listen', agent: '' }));
});
