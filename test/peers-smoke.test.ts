// Smoke tests of the peer harness: Kamailio and SIPp start, talk and stop through the helpers,
// and each of the project's SIPp UAS scenarios (test/sipp/) passes against its UAC counterpart
// and fails against a UA that misbehaves.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { peerTest, projectRoot, sharedDir } from './helpers/env.js';
import {
  parseRegistrations,
  parseSippStats,
  peerFile,
  runSipp,
  sippScenario,
  startKamailio,
  startSipp,
  waitForUdpPort,
  type SippResult,
} from './helpers/peers.js';
import { freePort, freePorts } from './helpers/ports.js';

test('env: project root and shared folder are found', (t) => {
  t.true(fs.existsSync(path.join(projectRoot, 'package.json')));
  t.is(sharedDir, path.resolve(projectRoot, '../shared'));
});

/**
 * Runs `checkRequirements` in a child process (the search path is fixed when env.ts loads) with
 * `LINESCAPE_PEER_PATH` set to `dir` and libspeexdsp disabled.
 */
function requirementsIn(dir: string, needs: string): Promise<{ peerPath: string; missing: string | undefined; found: Record<string, string> }> {
  const env = new URL('./helpers/env.js', import.meta.url).href;
  const script = `const m = await import(${JSON.stringify(env)});
const r = m.checkRequirements([${needs}]);
console.log(JSON.stringify({ peerPath: m.peerPath, missing: r.missing, found: r.found }));`;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script],
      { env: { ...process.env, LINESCAPE_PEER_PATH: dir, LINESCAPE_DISABLE_NATIVE: 'speexdsp' }, encoding: 'utf8' },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout) as { peerPath: string; missing: string | undefined; found: Record<string, string> })),
    );
  });
}

test('env: LINESCAPE_PEER_PATH is the only place peers are looked for; a peer brings what its scripts call', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'linescape-peerpath-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const none = await requirementsIn(dir, "'kamailio', 'baresip', m.native('speexdsp')");
  t.is(none.peerPath, dir, 'no PATH, no sbin directories');
  t.is(
    none.missing,
    'missing library speexdsp, peer kamailio, peer kamcmd, peer sipp, peer baresip, peer sox, peer soxi: ' +
      'apt-get install -y libspeexdsp1 kamailio sip-tester baresip-core sox',
  );
  // a Kamailio without SIPp is not enough: its start script pings it with SIPp
  for (const b of ['kamailio', 'kamcmd']) fs.writeFileSync(path.join(dir, b), '#!/bin/sh\n', { mode: 0o755 });
  const kamOnly = await requirementsIn(dir, "'kamailio'");
  t.is(kamOnly.missing, 'missing peer sipp: apt-get install -y sip-tester');
  t.deepEqual(kamOnly.found, { kamailio: path.join(dir, 'kamailio'), kamcmd: path.join(dir, 'kamcmd') });
});

test('ports: blocks are even, spaced, free and never handed out twice', async (t) => {
  const seen = new Set<number>();
  for (let i = 0; i < 10; i++) {
    const rtp = await freePorts(3, { even: true });
    t.is(rtp.length, 3);
    for (const [k, p] of rtp.entries()) {
      t.is(p % 2, 0);
      t.is(p, (rtp[0] as number) + 2 * k);
    }
    const spaced = await freePorts(2, { spacing: 4 });
    t.is((spaced[1] as number) - (spaced[0] as number), 4);
    const one = await freePort();
    for (const p of [...rtp, ...spaced, one]) {
      t.false(seen.has(p), `port ${p} handed out twice`);
      seen.add(p);
    }
  }
  await t.throwsAsync(freePorts(2, { even: true, spacing: 3 }), { instanceOf: RangeError });
});

test('parseRegistrations reads dump-registrations.sh lines', (t) => {
  const regs = parseRegistrations(
    '100 sip:100@127.0.0.1:5060;transport=UDP expires=3598 received=- socket=udp:127.0.0.1:5090\n' +
      'alice sip:alice@127.0.0.1:5060;transport=TCP expires=3598 received=sip:127.0.0.1:34021;transport=tcp socket=tcp:127.0.0.1:5090\n',
  );
  t.deepEqual(regs, [
    {
      aor: '100',
      contact: 'sip:100@127.0.0.1:5060;transport=UDP',
      expires: 3598,
      received: undefined,
      socket: 'udp:127.0.0.1:5090',
    },
    {
      aor: 'alice',
      contact: 'sip:alice@127.0.0.1:5060;transport=TCP',
      expires: 3598,
      received: 'sip:127.0.0.1:34021;transport=tcp',
      socket: 'tcp:127.0.0.1:5090',
    },
  ]);
});

test('parseSippStats reads the final screens of a UAC and a UAS', (t) => {
  const uac = [
    '------------------------------ Scenario Screen -------- [1-9]: Change Screen --',
    '  Call rate (length)   Port   Total-time  Total-calls  Remote-host',
    '  2000.0(0 ms)/1.000s   27091      5.00 s        10000  127.0.0.1:27090(UDP)',
    '',
    '                                 Messages  Retrans   Timeout   Unexpected-Msg',
    '      REGISTER ---------->         10000     7         1                         ',
    '           200 <----------         9999      0         0         0               ',
    '------------------------------ Test Terminated --------------------------------',
    '----------------------------- Statistics Screen ------- [1-9]: Change Screen --',
    '  Successful call        |        0                  |     9999                 ',
    '  Failed call            |        0                  |        1                 ',
  ].join('\n');
  t.deepEqual(parseSippStats(uac), {
    successful: 9999,
    failed: 1,
    totalTimeSec: 5,
    retransmissions: 7,
    timeouts: 1,
  });
  const uas = [
    '------------------------------ Scenario Screen -------- [1-9]: Change Screen --',
    '  Port   Total-time  Total-calls  Transport',
    '  27090      8.00 s            3  UDP',
    '  ----------> REGISTER           3         2         0         0               ',
    '  <---------- 200                3         0                                   ',
    '----------------------------- Statistics Screen ------- [1-9]: Change Screen --',
    '  Successful call        |        1                  |        3                 ',
    '  Failed call            |        0                  |        0                 ',
  ].join('\n');
  t.deepEqual(parseSippStats(uas), {
    successful: 3,
    failed: 0,
    totalTimeSec: 8,
    retransmissions: 2,
    timeouts: 0,
  });
  t.is(parseSippStats('no screen here'), undefined);
});

peerTest('kamailio: SIPp registers user 150, registrations() lists it', ['kamailio', 'kamcmd', 'sipp'], async (t) => {
  const kam = await startKamailio();
  t.teardown(() => kam.stop());
  const res = await runSipp(
    [
      `127.0.0.1:${kam.port}`,
      '-sf',
      peerFile('kamailio', 'register-auth.xml'),
      '-s',
      '150',
      '-ap',
      'secret-150',
      '-p',
      String(await freePort()),
      '-m',
      '1',
      '-timeout',
      '15s',
      '-timeout_error',
    ],
    { traceMessages: true },
  );
  t.is(res.code, 0, `${res.summary}\n--- kamailio.log\n${kam.log()}`);
  const regs = await kam.registrations();
  const mine = regs.filter((r) => r.aor === '150');
  t.is(mine.length, 1, JSON.stringify(regs));
  t.regex(mine[0]?.contact ?? '', /^sip:150@127\.0\.0\.1:\d+/);
  t.true((mine[0]?.expires ?? 0) > 3000);
  t.regex(mine[0]?.socket ?? '', new RegExp(`^udp:127\\.0\\.0\\.1:${kam.port}$`));
  await kam.stop();
  await kam.stop(); // idempotent
  t.false(fs.existsSync(kam.rundir));
  t.true(kam.log().length > 0, 'the log stays readable after stop()');
});

/** Outcome of one UAS-vs-UAC pair run. */
interface PairResult {
  /** The UAS (scenario under test). */
  readonly uas: SippResult;
  /** The UAC counterpart. */
  readonly uac: SippResult;
}

/**
 * Runs a UAS scenario (background, `-m calls`) against a UAC scenario on free ports.
 *
 * @param t - test context (teardown registration)
 * @param uasFile - UAS scenario path
 * @param uacFile - UAC scenario path
 * @param calls - number of calls both sides make
 * @param uacExtra - extra UAC arguments, e.g. `['-r', '100']`
 * @returns both results
 */
async function runPair(
  t: ExecutionContext,
  uasFile: string,
  uacFile: string,
  calls = 1,
  uacExtra: readonly string[] = [],
): Promise<PairResult> {
  const [uasPort, uacPort] = [await freePort(), await freePort()];
  const uasHandle = startSipp(
    ['-sf', uasFile, '-p', String(uasPort), '-m', String(calls), '-timeout', '20s', '-timeout_error'],
    { traceMessages: true },
  );
  t.teardown(() => uasHandle.kill());
  t.true(await waitForUdpPort(uasPort), `UAS did not bind ${uasPort}`);
  const uac = await runSipp(
    [
      `127.0.0.1:${uasPort}`,
      '-sf',
      uacFile,
      '-s',
      '150',
      '-p',
      String(uacPort),
      '-m',
      String(calls),
      '-timeout',
      '10s',
      '-timeout_error',
      ...uacExtra,
    ],
    { traceMessages: true },
  );
  const uas = await Promise.race([
    uasHandle.wait(),
    new Promise<SippResult>((resolve) => setTimeout(() => resolve(uasHandle.kill()), 5000)),
  ]);
  return { uas, uac };
}

/**
 * Copies a scenario into a temp dir with text replacements, for "misbehaving UA" variants.
 *
 * @param t - test context (removes the dir on teardown)
 * @param file - source scenario
 * @param replacements - [from, to] pairs; each `from` must occur
 * @returns the new file's path
 */
function variant(t: ExecutionContext, file: string, replacements: ReadonlyArray<[string, string]>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'linescape-sippvar-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  let text = fs.readFileSync(file, 'utf8');
  for (const [from, to] of replacements) {
    if (!text.includes(from)) throw new Error(`${path.basename(file)} has no "${from}"`);
    text = text.split(from).join(to);
  }
  const out = path.join(dir, path.basename(file));
  fs.writeFileSync(out, text);
  return out;
}

const bothPass = (t: ExecutionContext, r: PairResult): void => {
  t.is(r.uac.code, 0, r.uac.summary);
  t.is(r.uas.code, 0, r.uas.summary);
};

peerTest('sipp: uas-register-423 vs uac-register-423 (retry with Min-Expires)', ['sipp'], async (t) => {
  const r = await runPair(t, sippScenario('uas-register-423.xml'), sippScenario('uac-register-423.xml'));
  bothPass(t, r);
  t.is(r.uas.stats?.successful, 1, r.uas.summary);
});

peerTest('sipp: uas-register-423 fails a retry that ignores Min-Expires', ['sipp'], async (t) => {
  const bad = variant(t, sippScenario('uac-register-423.xml'), [
    ['Expires: [$min_expires]', 'Expires: 3600'],
    ['variables="granted"', 'variables="granted,min_expires"'],
  ]);
  const r = await runPair(t, sippScenario('uas-register-423.xml'), bad);
  t.not(r.uas.code, 0, r.uas.summary);
  t.regex(r.uas.errorLog, /Failed regexp match/, r.uas.summary);
  fs.rmSync(r.uas.logDir, { recursive: true, force: true }); // an expected failure: no logs kept
});

peerTest('sipp: uas-register-423 accepts ;expires=120 on the Contact', ['sipp'], async (t) => {
  const alt = variant(t, sippScenario('uac-register-423.xml'), [
    [
      'CSeq: 2 REGISTER\n      Contact: <sip:[service]@[local_ip]:[local_port];transport=[transport]>\n      Expires: [$min_expires]',
      'CSeq: 2 REGISTER\n      Contact: <sip:[service]@[local_ip]:[local_port];transport=[transport]>;expires=[$min_expires]',
    ],
    ['<ereg regexp="^[[:space:]]*120[[:space:]]*$" search_in="hdr" header="Expires:" check_it="true" assign_to="granted"/>', ''],
    ['variables="granted"', 'variables="min_expires"'],
  ]);
  const r = await runPair(t, sippScenario('uas-register-423.xml'), alt);
  bothPass(t, r);
});

peerTest('sipp: uas-register-received vs uac-register-received (re-register public Contact)', ['sipp'], async (t) => {
  const r = await runPair(
    t,
    sippScenario('uas-register-received.xml'),
    sippScenario('uac-register-received.xml'),
  );
  bothPass(t, r);
  const messages = fs.readFileSync(path.join(r.uas.logDir, 'messages.log'), 'utf8');
  t.regex(messages, /Via: SIP\/2\.0\/UDP 127\.0\.0\.1:\d+;branch=[^;\s]+;received=127\.0\.0\.2;rport=45060/);
  t.regex(messages, /Contact: <sip:150@127\.0\.0\.2:45060/);
});

peerTest('sipp: uas-register-received fails a UA that keeps its private Contact', ['sipp'], async (t) => {
  const bad = variant(t, sippScenario('uac-register-received.xml'), [
    ['Contact: <sip:[service]@[$public_ip]:[$public_port];', 'Contact: <sip:[service]@[local_ip]:[local_port];'],
    ['variables="received_param,rport_param"', 'variables="received_param,rport_param,public_ip,public_port"'],
  ]);
  const r = await runPair(t, sippScenario('uas-register-received.xml'), bad);
  t.not(r.uas.code, 0, r.uas.summary);
  t.regex(r.uas.errorLog, /Failed regexp match/, r.uas.summary);
  fs.rmSync(r.uas.logDir, { recursive: true, force: true }); // an expected failure: no logs kept
});

peerTest('sipp: uas-register-loop answers every REGISTER of uac-register-load', ['sipp'], async (t) => {
  const r = await runPair(t, sippScenario('uas-register-loop.xml'), sippScenario('uac-register-load.xml'), 20, [
    '-r',
    '200',
  ]);
  bothPass(t, r);
  t.is(r.uac.stats?.successful, 20, r.uac.summary);
  t.is(r.uas.stats?.successful, 20, r.uas.summary);
});
