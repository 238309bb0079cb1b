/**
 * Overload benchmark: calls per second an engine handles (answered 200) against calls per second
 * SIPp offers for a few seconds (`test/sipp/uac-call-storm.xml`, 1 s calls; 100 lines carry about
 * 100 calls/s), beside what it refuses (486 busy,
 * 503 shed with Retry-After) and what SIPp saw fail (no answer, Timer B, unexpected message),
 * with the overload guard on (the defaults) and with its lag watch off, side by side.
 *
 *   npm run build --silent && node dist/bench/overload.js [seconds-per-rate] [rate,rate,...]
 *
 * The engine runs in this process (100 lines, answering at once); SIPp in its own.
 * @module
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { VoipMediaEngine, TelephonyReturnValue as T, LineState } from '../index.js';
import { runSipp, sippScenario } from '../test/helpers/peers.js';
import { freePorts } from '../test/helpers/ports.js';

/** One row of the table. */
interface Row {
  guard: string;
  offered: number;
  calls: number;
  handledPerSec: number;
  ok: number;
  busy: number;
  shed: number;
  failed: number;
  drainMs: number;
  episodes: number;
}

const LINES = 100;

/** Counts of each response of the scenario from SIPp's final screen (first row of each status). */
function responsesSeen(stdout: string): Map<number, number> {
  const start = stdout.lastIndexOf('Scenario Screen');
  const screen = start >= 0 ? stdout.slice(start) : stdout;
  const seen = new Map<number, number>();
  for (const row of screen.split('\n')) {
    const m = /^\s*(\d{3})\s+<-{3,}\s+(?:E-RTD\d\s+)?(\d+)/.exec(row);
    if (m && !seen.has(Number(m[1]))) seen.set(Number(m[1]), Number(m[2]));
  }
  return seen;
}

async function runOne(rate: number, seconds: number, lagWatch: boolean): Promise<Row> {
  const rtp = await freePorts(LINES + 10, { even: true });
  const engine = new VoipMediaEngine();
  let episodes = 0;
  engine.on('SipOverloadShedding', () => episodes++);
  engine.on('SipOkToAnswerCall', (n) => engine.goOffHook(n.phoneLine));
  const rc = await engine.startSipTelephony({
    ipAddressOfThisHost: '127.0.0.1',
    sipPort: 0,
    numPhoneLinesRequested: LINES,
    minLocalRtpPort: rtp[0]!,
    maxLocalRtpPort: rtp[0]! + 2 * (LINES + 10) - 1,
    mediaTimeoutSeconds: 5,
    callConferenceEnabled: false,
    maxEventLoopLagMs: lagWatch ? 500 : 0,
  });
  if (rc !== T.SipSuccess) throw new Error(`start: ${T[rc]}`);
  const [sipPort] = await freePorts(1);
  const [mediaPort] = await freePorts(2, { even: true });
  const calls = rate * seconds;
  try {
    const res = await runSipp(
      [
        `127.0.0.1:${engine.getSipPort()}`, '-sf', sippScenario('uac-call-storm.xml'), '-s', 'bench',
        '-p', String(sipPort), '-mp', String(mediaPort), '-r', String(rate), '-l', '20000', '-m', String(calls), '-d', '1000',
        '-timeout', String(seconds + 120) + 's', '-max_recv_loops', '10000',
      ],
      { timeoutMs: (seconds + 140) * 1000 },
    );
    const t0 = Date.now();
    while (Array.from({ length: LINES }, (_, i) => engine.getLineStatus(i).state).some((s) => s !== LineState.OnHook)) {
      await new Promise((r) => setTimeout(r, 100));
      if (Date.now() - t0 > 30_000) break;
    }
    const seen = responsesSeen(res.stdout);
    const ok = seen.get(200) ?? 0;
    return {
      guard: lagWatch ? 'on' : 'lag off',
      offered: rate,
      calls,
      // over the offered window (calls / rate): the calls answered while the storm lasted
      handledPerSec: Math.round((ok / seconds) * 10) / 10,
      ok,
      busy: seen.get(486) ?? 0,
      shed: seen.get(503) ?? 0,
      failed: res.stats?.failed ?? calls,
      drainMs: Date.now() - t0,
      episodes,
    };
  } finally {
    await engine.stopSipTelephony();
  }
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 5);
  const rates = (process.argv[3] ?? '50,200,800').split(',').map(Number);
  const rows: Row[] = [];
  for (const rate of rates) {
    for (const lagWatch of [true, false]) {
      const row = await runOne(rate, seconds, lagWatch);
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  }
  console.log('\n| offered calls/s | guard | handled calls/s (200) | 486 | 503 | failed at SIPp | lines on hook after |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.offered} | ${r.guard} | ${r.handledPerSec} | ${r.busy} | ${r.shed} | ${r.failed} of ${r.calls} | ${r.drainMs} ms |`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
