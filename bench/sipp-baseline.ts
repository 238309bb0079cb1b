/**
 * SIPp-vs-SIPp REGISTER baseline: the peer figure that LineScape's REGISTER-rate benchmark is
 * compared against. SIPp's `uac-register-load.xml` (one REGISTER per call, distinct users)
 * drives SIPp's `uas-register-loop.xml` (200 OK to everything) over UDP on 127.0.0.1.
 *
 * Achieved rate = successful calls / the UAC's "Total-time" (as in `shared/peers/sipp`).
 *
 * Run: `node dist/bench/sipp-baseline.js [RATE=2000] [CALLS=RATE*10]`, or several rates:
 * `node dist/bench/sipp-baseline.js 1000,2000,4000`.
 *
 * @module
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { runSipp, sippScenario, startSipp, waitForUdpPort } from '../test/helpers/peers.js';
import { freePort } from '../test/helpers/ports.js';

/** Result of one {@link sippRegisterBaseline} run. */
export interface SippRegisterBaseline {
  /** Successful REGISTER transactions per second (UAC successful / UAC Total-time). */
  readonly achievedPerSec: number;
  /** Calls the UAC counted as failed (timeouts, unexpected replies). */
  readonly failed: number;
  /** Calls the UAC counted as successful. */
  readonly successful: number;
  /** REGISTER retransmissions the UAC sent (0 on a clean run). */
  readonly retransmissions: number;
  /** The UAC's Total-time in seconds. */
  readonly seconds: number;
  /** The UAC's exit code (0 = every call succeeded). */
  readonly uacExit: number;
}

/**
 * Runs SIPp's REGISTER load scenario against SIPp's looping registrar on free loopback ports.
 *
 * @param rate - target REGISTERs per second (`-r`)
 * @param calls - REGISTERs to send (`-m`); `rate * 10` gives a 10 s run
 * @returns the achieved rate and the failure count (plus details)
 * @throws Error when SIPp prints no statistics (it failed to start)
 */
export async function sippRegisterBaseline(
  rate: number,
  calls: number,
): Promise<SippRegisterBaseline> {
  const [uasPort, uacPort] = [await freePort(), await freePort()];
  const limitMs = Math.max(60_000, Math.ceil((calls / rate) * 1000) * 3 + 30_000);
  const uas = startSipp(
    ['-sf', sippScenario('uas-register-loop.xml'), '-p', String(uasPort), '-max_recv_loops', '10000'],
    { timeoutMs: limitMs + 10_000 },
  );
  try {
    if (!(await waitForUdpPort(uasPort))) throw new Error(`SIPp UAS did not bind ${uasPort}`);
    const uac = await runSipp(
      [
        `127.0.0.1:${uasPort}`,
        '-sf',
        sippScenario('uac-register-load.xml'),
        '-p',
        String(uacPort),
        '-r',
        String(rate),
        '-m',
        String(calls),
        '-l',
        String(Math.max(1000, rate * 10)),
        '-max_recv_loops',
        '10000',
        '-timeout',
        `${Math.ceil(limitMs / 1000)}s`,
      ],
      { timeoutMs: limitMs + 5000 },
    );
    const stats = uac.stats;
    if (stats === undefined || stats.totalTimeSec === undefined) {
      throw new Error(`SIPp UAC printed no statistics\n${uac.summary}`);
    }
    const seconds = stats.totalTimeSec;
    return {
      achievedPerSec: seconds > 0 ? stats.successful / seconds : 0,
      failed: stats.failed,
      successful: stats.successful,
      retransmissions: stats.retransmissions,
      seconds,
      uacExit: uac.code,
    };
  } finally {
    await uas.kill();
  }
}

/**
 * Command-line entry: `[RATES=2000] [CALLS=RATE*10]`, RATES comma-separated.
 *
 * @param argv - arguments after the script name
 */
async function main(argv: readonly string[]): Promise<void> {
  const rates = (argv[0] ?? '2000').split(',').map((r) => Number.parseInt(r, 10));
  for (const rate of rates) {
    if (!Number.isInteger(rate) || rate <= 0) throw new Error(`bad rate ${String(rate)}`);
    const calls = argv[1] !== undefined ? Number.parseInt(argv[1], 10) : rate * 10;
    const r = await sippRegisterBaseline(rate, calls);
    console.log(
      `sipp REGISTER baseline: target=${rate}/s calls=${calls} achieved=${r.achievedPerSec.toFixed(1)}/s ` +
        `ok=${r.successful} failed=${r.failed} retrans=${r.retransmissions} ` +
        `time=${r.seconds.toFixed(2)}s uac_exit=${r.uacExit}`,
    );
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
