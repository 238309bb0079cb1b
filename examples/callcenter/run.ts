/**
 * `npm run callcenter`: the call center with simulated agents and callers on loopback, the
 * floor printed as it changes, a line per event. Options: `--seconds N` (stop after N seconds;
 * default: run until Ctrl-C), `--port P` (SIP port, default 5090; agents' own phones register
 * here), `--http-port H` (the supervisor's page on http://127.0.0.1:H/, default 8090; 0 picks a
 * free port), `--dir D` (recordings and the call log, default `callcenter-data` under the system's
 * temporary directory), `--no-sim` (no simulated traffic: bring your own phones), `--trunk
 * HOST:PORT` (where agents' outbound calls go; default with the simulator: its callers engine,
 * which answers every number; without it none).
 * @module
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { TelephonyReturnValue as T } from '../../index.js';
import { CallCenter, type AgentConfig } from './callCenter.js';
import { writeSyntheticPrompts } from './audioFiles.js';
import { Simulator } from './simulator.js';
import { SupervisorServer } from './supervisorServer.js';

const AGENTS: AgentConfig[] = [
  { name: 'alice', skills: ['sales'] },
  { name: 'bob', skills: ['sales', 'support'] },
  { name: 'carol', skills: ['support'] },
];

const { values } = parseArgs({
  options: {
    seconds: { type: 'string' },
    port: { type: 'string', default: '5090' },
    'http-port': { type: 'string', default: '8090' },
    dir: { type: 'string', default: path.join(os.tmpdir(), 'callcenter-data') },
    'no-sim': { type: 'boolean', default: false },
    trunk: { type: 'string' },
  },
});

const started = Date.now();
function line(text: string): void {
  const s = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  console.log(`${s}s  ${text}`);
}

const dir = values.dir;
const center = new CallCenter({
  sipPort: Number(values.port),
  trunkLines: 8,
  agents: AGENTS,
  supervisors: ['sue'],
  prompts: writeSyntheticPrompts(path.join(dir, 'prompts')),
  recordingDir: path.join(dir, 'recordings'),
  callLogFile: path.join(dir, 'calls.sqlite'),
  ringTimeoutMs: 12000,
  wrapUpMs: 4000,
  announceEveryMs: 15000,
});

center.on('agent', (a) => line(`agent  ${a.name.padEnd(6)} ${a.state}${a.caller ? ` (${a.caller})` : ''}${a.supervisor ? ` [${a.supervisor.mode} by ${a.supervisor.name}]` : ''}`));
center.on('call', (c) => {
  const where = c.stage === 'queued' ? ` in ${c.queue}` : c.agent ? ` ${c.direction === 'outbound' ? 'from' : 'with'} ${c.agent}` : '';
  line(`call   ${c.id.padEnd(6)} ${c.caller} ${c.stage}${where}`);
});
center.on('queue', (q) => line(`queue  ${q.name.padEnd(6)} ${q.waiting.length} waiting${q.waiting.length ? `, longest ${(q.longestWaitMs / 1000).toFixed(0)} s` : ''}`));
center.on('ended', (r) => {
  const wait = r.waitMs === null ? '' : `, waited ${(r.waitMs / 1000).toFixed(1)} s`;
  const mos = r.mos === null ? '' : `, MOS ${r.mos.toFixed(2)}`;
  line(`log    ${r.id.padEnd(6)} ${r.direction === 'outbound' ? 'to ' : ''}${r.caller} ${r.outcome ?? '?'}${r.agent ? ` by ${r.agent}` : ''}${wait}${mos}${r.recordingPath ? `, ${r.recordingPath}` : ''}`);
});
center.on('info', (text) => line(`info   ${text}`));

if (values.trunk !== undefined) {
  const m = /^(.+):(\d{1,5})$/.exec(values.trunk);
  if (!m) {
    console.error('--trunk takes HOST:PORT');
    process.exit(1);
  }
  center.outboundTrunk = { address: m[1]!, port: Number(m[2]) };
}

let sim: Simulator | null = null;
let dialer: NodeJS.Timeout | null = null;
let web: SupervisorServer | null = null;
let stopping = false;
async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  line('stopping');
  if (dialer) clearInterval(dialer);
  await sim?.stop();
  await web?.stop();
  const today = center.log.figures();
  await center.stop();
  console.log(
    `today: ${today.calls} calls in, ${today.answered} answered, ${today.abandoned} abandoned, average wait ${(today.averageWaitMs / 1000).toFixed(1)} s, average MOS ${today.averageMos.toFixed(2)}; ${today.outbound} calls out`,
  );
  console.log(`recordings and the call log: ${dir}`);
  process.exit(code);
}

process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

const rc = await center.start();
if (rc !== T.SipSuccess) {
  console.error(`the call center did not start: ${T[rc]}`);
  await center.stop();
  process.exit(1);
}
line(`call center on sip:support@127.0.0.1:${center.sipPort}; agents ${AGENTS.map((a) => `${a.name} (${a.skills.join('+')})`).join(', ')}; supervisor sue`);
line('menu: 1 sales, 2 support, 9 leave a message');
web = new SupervisorServer(center, { port: Number(values['http-port']) });
try {
  await web.start();
  line(`supervisor's page: ${web.url}`);
} catch (e) {
  web = null;
  console.error(`the supervisor's page did not start: ${(e as Error).message} (another --http-port?)`);
  await shutdown(1);
}
if (!values['no-sim']) {
  sim = new Simulator(center.sipPort, { agents: AGENTS.map((a) => a.name), supervisors: ['sue'], meanArrivalMs: 5000 });
  const src = await sim.start();
  if (src !== T.SipSuccess) {
    console.error(`the simulator did not start: ${T[src]}`);
    await shutdown(1);
  }
  center.outboundTrunk ??= { address: '127.0.0.1', port: sim.pool.engine.getSipPort() };
  line('simulated callers arriving (Ctrl-C stops)');
  // now and then an idle agent whose queues are empty calls a customer back, through the page's own action
  let n = 0;
  dialer = setInterval(() => {
    const floor = center.snapshot();
    const waiting = new Set(floor.queues.filter((q) => q.waiting.length > 0).map((q) => q.name));
    const idle = floor.agents.find((a) => a.state === 'idle' && !a.skills.some((s) => waiting.has(s)));
    if (!idle) return;
    const number = `55501${String(n++ % 100).padStart(2, '0')}`;
    void center.act({ action: 'call', agent: idle.name, number }).then((r) => {
      if (!r.ok) line(`info   ${idle.name} could not call ${number}: ${r.error}`);
    });
  }, 10000);
}
if (values.seconds !== undefined) setTimeout(() => void shutdown(0), Number(values.seconds) * 1000);
