/**
 * What the wire sees (issue 12 items 0 and 1): the media clock's per-send lateness and packet
 * spacing figures, proved in virtual time, and the pump's phase groups (lines spread over the
 * tick, conferenced lines around the mix). Then two engines on real time: an event loop blocked
 * on purpose shows in the new figures (asserted as "at least the block", never an upper bound).
 */
import test from 'ava';
import { SendTiming } from '../media/sendTiming.js';
import { MediaClock } from '../media/mediaClock.js';
import { MediaPump, type MediaNode } from '../media/mediaPump.js';
import { ConferenceBridge } from '../mixer/index.js';
import { TelephonyReturnValue as T, MediaFormatAudio as F } from '../index.js';
import { startEngine } from './helpers/engine.js';

test('send timing in virtual time: lateness, spacing p99 and max, gaps, and the window', (t) => {
  let now = 0;
  const st = new SendTiming({ now: () => now, windowSeconds: 5 });
  // five streams of 20 ms packets, sent 0.2 ms apart in each tick
  const last = [-1, -1, -1, -1, -1];
  for (let tick = 0; tick < 200; tick++) {
    const ideal = tick * 20;
    st.idealMs = ideal;
    for (let k = 0; k < 5; k++) {
      // tick 100: the last stream's send is held up 30 ms (a stall in the middle of the tick)
      now = ideal + k * 0.2 + (tick === 100 && k === 4 ? 30 : 0);
      last[k] = st.onSend(last[k]!, tick === 0 ? -1 : 20);
    }
  }
  const s = st.stats();
  t.is(s.sendSamples, 1000);
  t.is(s.sendSpacingSamples, 995);
  // the stall: one interval of 50 ms (+30) and the next of −10 ms (|−30|)
  t.true(Math.abs(s.sendSpacingMaxMs - 30) < 1e-9, `spacing max ${s.sendSpacingMaxMs}`);
  t.is(s.sendGaps, 2, 'two deviations over 20 ms');
  t.true(Math.abs(s.sendLatenessMaxMs - 30.8) < 1e-9, `lateness max ${s.sendLatenessMaxMs}`);
  // 2 of 995 spacing samples are 30 ms: beyond the 99th percentile's rank
  t.true(s.sendSpacingP99Ms <= 0.05, `spacing p99 ${s.sendSpacingP99Ms}`);
  t.true(s.sendLatenessP99Ms >= 0.8 && s.sendLatenessP99Ms < 0.851, `lateness p99 ${s.sendLatenessP99Ms}`);
  // a DTX gap is judged against what the timestamps call for: 5 ticks → 100 ms, exact
  st.idealMs = 199 * 20 + 100;
  now = st.idealMs;
  last[0] = st.onSend(last[0]!, 100);
  t.true(Math.abs(st.stats().sendSpacingMaxMs - 30) < 1e-9, 'a gap the timestamps announce is no deviation');
  // ten quiet seconds later the window has forgotten the stall
  now += 10_000;
  t.is(st.stats().sendSamples, 0);
  t.is(st.stats().sendSpacingMaxMs, 0);
});

/** A node that sends one packet per tick through the pump's send timing and logs its phases. */
class SendingNode implements MediaNode {
  last = -1;
  readonly log: string[];
  constructor(
    readonly name: string,
    private readonly pump: MediaPump,
    log: string[],
  ) {
    this.log = log;
  }
  produce(tick: number): void {
    this.log.push(`${this.name} produce ${tick}`);
  }
  consume(tick: number): void {
    this.log.push(`${this.name} consume ${tick}`);
    this.last = this.pump.timing!.onSend(this.last, this.last < 0 ? -1 : 20);
  }
}

test('phase groups: nodes spread over the groups, each sent at its own offset; mixed nodes run around the mix in group 0', (t) => {
  const clock = MediaClock.manual({ phases: 4 });
  const pump = MediaPump.attach(clock);
  const log: string[] = [];
  pump.setMixer({ mix: (tick) => log.push(`mix ${tick}`) });
  const nodes = Array.from({ length: 8 }, (_, i) => new SendingNode(`n${i}`, pump, log));
  for (const n of nodes) pump.add(n);
  t.deepEqual(pump.groupSizes(), [2, 2, 2, 2], 'spread evenly');
  // a node joining a conference moves to group 0 at the next tick's start
  const conf = nodes.find((n) => pump.groupOf(n) === 3)!;
  pump.setMixed(conf, true);
  t.is(pump.groupOf(conf), 3, 'not in the middle of things');
  clock.start();
  clock.tickOnce();
  t.is(pump.groupOf(conf), 0);
  const order = log.filter((l) => l.startsWith(`${conf.name} `) || l.startsWith('mix'));
  t.deepEqual(order, [`${conf.name} produce 0`, 'mix 0', `${conf.name} consume 0`], 'put before the mix, take after it');
  // each group's sends happen at its phase: phase k is k × 5 ms into the tick
  log.length = 0;
  const phaseOf = new Map<string, number>();
  for (const n of nodes) phaseOf.set(n.name, pump.groupOf(n)!);
  clock.tickOnce();
  const consumes = log.filter((l) => l.includes('consume')).map((l) => phaseOf.get(l.split(' ')[0]!)!);
  t.deepEqual(consumes, [...consumes].sort((a, b) => a - b), 'groups run in phase order');
  // virtual sends exactly at their ideal times: no lateness, no spacing deviation beyond the move
  const s = clock.stats();
  t.is(s.phases, 4);
  t.is(s.sendLatenessMaxMs, 0);
  t.is(s.sendSpacingMaxMs, 0);
  t.is(s.sendSamples, 16);
});

test('phase groups: a stalled phase shows in the figures of the sends behind it, not in the other groups', (t) => {
  // virtual time: each phase's ideal time, plus what a slow node in front has cost this phase
  let extra = 0;
  const clock = MediaClock.manual({ phases: 4, sendTimingNow: () => clock.idealMs + extra });
  const pump = MediaPump.attach(clock);
  clock.add({ onTick: () => (extra = 0), onPhase: () => (extra = 0) });
  const log: string[] = [];
  // a node whose work takes 12 virtual ms at tick 3, first of group 3
  const slow: MediaNode = {
    produce: () => undefined,
    consume: (tick) => {
      if (tick === 3) extra += 12;
    },
  };
  const nodes = Array.from({ length: 7 }, (_, i) => new SendingNode(`n${i}`, pump, log));
  pump.add(nodes[0]!);
  pump.add(nodes[1]!);
  pump.add(nodes[2]!);
  pump.add(slow);
  for (const n of nodes.slice(3)) pump.add(n);
  clock.start();
  for (let i = 0; i < 6; i++) clock.tickOnce();
  const s = clock.stats();
  t.is(s.sendLatenessMaxMs, 12, 'the node behind the slow one in its group left 12 ms late');
  t.is(s.sendSpacingMaxMs, 12);
  t.is(s.sendGaps, 0, 'not a gap: 12 ms off');
  const behind = nodes.filter((n) => pump.groupOf(n) === pump.groupOf(slow));
  t.is(behind.length, 1, 'one other node shares its group; the other groups saw nothing');
});

test('phase groups: conferenced ports hear each other in the tick they speak, whatever the phases', (t) => {
  const clock = MediaClock.manual({ phases: 4 });
  const pump = MediaPump.attach(clock);
  const bridge = new ConferenceBridge({ rate: 8000 });
  pump.setMixer(bridge);
  const heard: number[][] = [[], [], []];
  const ports = [0, 1, 2].map((i) => bridge.addPort({ name: `p${i}`, rate: 8000, groups: ['c'] }));
  const frame = new Int16Array(160);
  const nodes: MediaNode[] = ports.map((p, i) => ({
    produce: (tick: number) => {
      frame.fill(i === 0 ? 1000 + tick : 0);
      p.putFrame(frame);
    },
    consume: () => {
      heard[i]!.push(p.getFrame()[80]!);
    },
  }));
  // idle nodes fill the other groups first, so the conference would land elsewhere if not mixed
  for (let i = 0; i < 6; i++) pump.add({ produce: () => undefined, consume: () => undefined });
  for (const n of nodes) pump.add(n, true);
  for (const n of nodes) t.is(pump.groupOf(n), 0);
  clock.start();
  for (let i = 0; i < 6; i++) clock.tickOnce();
  // port 0 speaks 1000 + tick; after the one-frame fade-in, ports 1 and 2 hear it in the same tick
  t.is(heard[1]![5], 1005);
  t.is(heard[2]![5], 1005);
  t.is(heard[0]![5], 0, 'mix-minus: not itself');
});

test('two engines on real time: an event loop blocked for 60 ms shows in the send figures', async (t) => {
  const a = await startEngine(t, { phoneName: 'a', numPhoneLinesRequested: 1 });
  const b = await startEngine(t, { phoneName: 'b', numPhoneLinesRequested: 1 });
  b.engine.on('SipOkToAnswerCall', (n) => b.engine.goOffHook(n.phoneLine));
  t.is(a.engine.setAudioMediaFormats(0, [F.ULaw8k]), T.SipSuccess);
  t.is(await a.engine.makeCall('b', '127.0.0.1', b.port, 0, true, 5000), T.SipSuccess);
  await b.waitForCount(T.SipIncomingCallConnected, 1);
  // let both streams run, then hold the event loop (both engines share this process)
  await new Promise((r) => setTimeout(r, 300));
  const before = a.engine.getMediaClockStatistics();
  t.true((before.sendSamples ?? 0) > 0, 'sends are timed');
  const until = performance.now() + 60;
  while (performance.now() < until) {
    /* blocked on purpose */
  }
  await new Promise((r) => setTimeout(r, 200));
  for (const e of [a, b]) {
    const s = e.engine.getMediaClockStatistics();
    t.is(s.result, T.SipSuccess);
    // the packet after the block left at least 60 ms after the one before it: 40 ms off 20
    t.true((s.sendSpacingMaxMs ?? 0) >= 40, `spacing max ${s.sendSpacingMaxMs}`);
    t.true((s.sendGaps ?? 0) >= 1, 'counted as a gap');
    t.true((s.sendLatenessMaxMs ?? 0) >= 40, `lateness max ${s.sendLatenessMaxMs}`);
    t.true((s.sliceMaxMs ?? -1) >= 0);
    t.is(s.phases, 4, 'four phase groups by default');
  }
});
