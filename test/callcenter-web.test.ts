/**
 * The call center's supervisor page (examples/callcenter/supervisorServer.ts and web/): its API
 * over a real WebSocket and real HTTP refuses bad input with a clear error and changes nothing;
 * and in headless Chromium (the system's, driven by puppeteer-core, never a downloaded one)
 * the page follows a live call, its **listen** button is clicked, and the supervisor's phone
 * hears the call (judged by tones, as in callcenter.test.ts); Stop is pressed from the keyboard,
 * a queued call is transferred to the agent from the page, and the agent calls a number out
 * over the trunk from the page's call form (typed, then Enter).
 *
 * The browser test saves a screenshot of the page during the call in `LINESCAPE_ARTIFACT_DIR`
 * (.ci/run points it at its log directory), else in a fresh temporary directory; the path is
 * in the test's log.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import puppeteer, { type Browser } from 'puppeteer-core';
import { TelephonyReturnValue as T, LineState } from '../index.js';
import { CallCenter, type CallCenterOptions, type FloorSnapshot } from '../examples/callcenter/callCenter.js';
import { CallerPool, SimPhone } from '../examples/callcenter/simulator.js';
import { SupervisorServer, type ServerMessage } from '../examples/callcenter/supervisorServer.js';
import { sendTone } from './helpers/audio.js';
import { until } from './helpers/observe.js';
import { agentOf, floor, judge, loggedIn, testCallCenter } from './helpers/callCenter.js';
import { peerTest } from './helpers/env.js';

const MUSIC = 523;
const CALLER_HZ = 650;
const AGENT_HZ = 1250;
const SUPERVISOR_HZ = 450;
const TRUNK_LINES = 4;

interface Rig {
  center: CallCenter;
  server: SupervisorServer;
  pool: CallerPool;
  phone(name: string): SimPhone;
}

/** A call center with synthetic prompts and a steady note as music, its page, and a callers' engine. */
async function rig(t: ExecutionContext, options: Pick<CallCenterOptions, 'agents' | 'supervisors'>): Promise<Rig> {
  const { dir, center } = testCallCenter('linescape-ccweb-', MUSIC, { trunkLines: TRUNK_LINES, ...options });
  const server = new SupervisorServer(center);
  const pool = new CallerPool(2);
  const phones: SimPhone[] = [];
  t.teardown(async () => {
    await server.stop();
    await pool.stop();
    for (const p of phones) await p.stop();
    await center.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  t.is(await center.start(), T.SipSuccess, 'the call center starts');
  await server.start();
  t.is(await pool.start(), T.SipSuccess, 'the callers engine starts');
  return {
    center,
    server,
    pool,
    phone: (name) => {
      const p = new SimPhone(name, { answerDelayMs: 200, voice: null });
      phones.push(p);
      return p;
    },
  };
}

/** Calls the call center placed to supervisors (their lines follow the agents'). */
function supervisorCalls(center: CallCenter, agents: number): number {
  const n = center.engine.getNumPhoneLines().numPhoneLines;
  let calls = 0;
  for (let l = TRUNK_LINES + agents; l < n; l++) if (center.engine.getLineStatus(l).state !== LineState.OnHook) calls++;
  return calls;
}

/** A WebSocket client of the page's API that keeps every message. */
async function client(url: string): Promise<{ ws: WebSocket; next: (pred: (m: ServerMessage) => boolean) => Promise<ServerMessage> }> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}ws`);
  const seen: ServerMessage[] = [];
  const waiters: Array<{ pred: (m: ServerMessage) => boolean; resolve: (m: ServerMessage) => void }> = [];
  ws.on('message', (data: Buffer) => {
    const m = JSON.parse(data.toString('utf8')) as ServerMessage;
    const i = waiters.findIndex((w) => w.pred(m));
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(m);
    else seen.push(m);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const next = (pred: (m: ServerMessage) => boolean): Promise<ServerMessage> => {
    const i = seen.findIndex(pred);
    if (i >= 0) return Promise.resolve(seen.splice(i, 1)[0]!);
    return new Promise((resolve) => waiters.push({ pred, resolve }));
  };
  return { ws, next };
}

/** A raw HTTP request (fetch cannot set Host), answered with status and body. */
function request(url: string, method: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), type: String(res.headers['content-type'] ?? '') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('the page\'s API over a real WebSocket and HTTP: bad input gets a clear error and changes nothing', async (t) => {
  const r = await rig(t, { agents: [{ name: 'alice', skills: ['sales'] }, { name: 'bob', skills: ['sales'] }], supervisors: ['sue'] });
  const { center, server, pool } = r;
  const alice = r.phone('alice');
  t.is(await alice.start(center.sipPort), T.SipSuccess);
  t.true(await loggedIn(center, 'alice'), 'alice is logged in');
  // a caller waits in support, which nobody serves
  const line = await pool.call(center.sipPort, { name: 'dora', choice: '2', stayMs: 600000, voice: null, dialAfterMs: 800 });
  t.true(line >= 0);
  t.true(await until(() => center.snapshot().queues.some((q) => q.name === 'support' && q.waiting.length === 1), 20000), 'dora waits');
  const queued = center.snapshot().queues.find((q) => q.name === 'support')!.waiting[0]!.id;

  // the page and its files, and the floor as JSON
  const page = await request(server.url, 'GET', {});
  t.is(page.status, 200);
  t.regex(page.type, /^text\/html/);
  t.regex(page.body, /<script type="module" src="app.mjs">/);
  for (const [file, type] of [['app.mjs', /^text\/javascript/], ['style.css', /^text\/css/]] as const) {
    const res = await request(`${server.url}${file}`, 'GET', {});
    t.is(res.status, 200, file);
    t.regex(res.type, type, file);
  }
  t.is((await request(`${server.url}../package.json`, 'GET', {})).status, 404, 'nothing else is served');
  const floorJson = JSON.parse((await request(`${server.url}api/floor`, 'GET', {})).body) as FloorSnapshot;
  t.deepEqual(floorJson.queues.find((q) => q.name === 'support')!.waiting.map((w) => w.caller), ['dora']);

  const before = floor(center);

  // over the WebSocket: the floor comes first, then each action gets its result
  const { ws, next } = await client(server.url);
  t.teardown(() => ws.terminate());
  const first = await next(() => true);
  t.is(first.type, 'floor', 'the floor comes first');
  const result = (ref: string | number | null) => (m: ServerMessage): boolean => m.type === 'result' && m.ref === ref;
  const badSocket: Array<[string, string | number | null, RegExp]> = [
    ['{"action": "listen", agent: alice}', null, /^malformed JSON/],
    ['', null, /^malformed JSON/],
    ['[1, 2]', null, /JSON object/],
    ['{"ref": {}, "action": "listen", "agent": "alice"}', null, /"ref" must be a string or a number/],
    ['{"ref": 1, "action": "listen", "agent": "zoe"}', 1, /unknown agent "zoe"/],
    ['{"ref": 2, "action": "listen", "agent": "alice"}', 2, /alice is idle, not in a call/],
    ['{"ref": "w", "action": "whisper", "agent": "bob"}', 'w', /bob is offline, not in a call/],
    ['{"ref": 3, "action": "stop", "agent": "alice"}', 3, /no supervisor is on alice's call/],
    ['{"ref": 4, "action": "transfer", "agent": "alice", "call": "c999"}', 4, /no queued call "c999"/],
    [`{"ref": 5, "action": "transfer", "agent": "bob", "call": "${queued}"}`, 5, /bob is offline, not idle/],
    ['{"ref": 6, "action": "dance", "agent": "alice"}', 6, /"action" must be one of/],
    ['{"ref": 7, "action": "call", "agent": "alice", "number": "5550100"}', 7, /no outbound trunk is configured/],
    ['{"ref": 8, "action": "call", "agent": "alice", "number": "sip:x@evil.example"}', 8, /"number" must be a number/],
  ];
  for (const [text, ref, error] of badSocket) {
    ws.send(text);
    const m = await next(result(ref));
    t.true(m.type === 'result' && !m.ok && error.test(m.error), `WebSocket ${text}: ${JSON.stringify(m)}`);
  }
  ws.send(Buffer.from('{"action":"listen","agent":"alice"}'), { binary: true });
  const bin = await next(result(null));
  t.true(bin.type === 'result' && !bin.ok && /JSON text/.test(bin.error), 'a binary message is refused');

  // over HTTP: the same answers, with a status
  const json = { 'Content-Type': 'application/json' };
  const act = `${server.url}api/act`;
  const badHttp: Array<[string, Record<string, string>, string, number, RegExp]> = [
    ['POST', json, '{"action": "listen", "agent": ', 400, /^malformed JSON/],
    ['POST', json, '{"action": "listen", "agent": "zoe"}', 400, /unknown agent "zoe"/],
    ['POST', json, '{"action": "barge", "agent": "alice"}', 400, /alice is idle, not in a call/],
    ['POST', json, '{"action": "takeover", "agent": "alice", "volume": 3}', 400, /unknown field "volume"/],
    ['POST', json, JSON.stringify({ action: 'transfer', agent: 'alice', call: 'x'.repeat(5000) }), 413, /at most 4096 bytes/],
    ['POST', { 'Content-Type': 'text/plain' }, '{"action": "listen", "agent": "alice"}', 415, /application\/json/],
    ['GET', {}, '', 405, /POST an action/],
  ];
  for (const [method, headers, body, status, error] of badHttp) {
    const res = await request(act, method, headers, body || undefined);
    t.is(res.status, status, `${method} ${body}`);
    const parsed = JSON.parse(res.body) as { ok: boolean; error: string };
    t.false(parsed.ok);
    t.regex(parsed.error, error, `${method} ${body}`);
  }
  // another site (its Origin) or a DNS-rebound name (its Host) is refused before anything
  const host = new URL(server.url).host;
  const foreign = await request(act, 'POST', { ...json, Origin: 'http://evil.example' }, '{"action": "listen", "agent": "alice"}');
  t.is(foreign.status, 403, 'a POST from another site');
  t.is((await request(server.url, 'GET', { Host: `rebound.example:${new URL(server.url).port}` })).status, 403, 'another host name');
  t.is((await request(server.url, 'GET', { Host: host, Origin: `http://${host}` })).status, 200, 'the page\'s own origin');
  const refusedWs = new WebSocket(`${server.url.replace(/^http/, 'ws')}ws`, { origin: 'http://evil.example' });
  const status = await new Promise<number>((resolve) => {
    refusedWs.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    refusedWs.once('open', () => resolve(101));
    refusedWs.once('error', () => resolve(-1));
  });
  refusedWs.terminate();
  t.is(status, 403, 'a WebSocket from another site');

  t.is(floor(center), before, 'nothing changed on the floor');
  t.is(supervisorCalls(center, 2), 0, 'no supervisor was called');
  t.is(await pool.engine.terminateCall(line, true, 5000), T.SipSuccess);
});

/** Where the screenshot goes: .ci/run's log directory, else a fresh temporary one. */
function artifactDir(): string {
  const dir = process.env.LINESCAPE_ARTIFACT_DIR;
  if (dir) {
    fs.mkdirSync(dir, { recursive: true });
    return dir;
  }
  return fs.mkdtempSync(path.join(os.tmpdir(), 'linescape-artifacts-'));
}

/** Generous: the machine is shared and loaded; the DOM is waited for, never timed. */
const DOM_WAIT = { timeout: 20000, polling: 50 };

peerTest('the supervisor page in headless Chromium follows a live call, its listen button lets the supervisor hear it, it transfers a queued call, and its call form places an outbound call from the keyboard', ['chromium'], async (t, bins) => {
  const r = await rig(t, { agents: [{ name: 'alice', skills: ['sales'] }], supervisors: ['sue'] });
  const { center, server, pool } = r;
  const alice = r.phone('alice');
  const sue = r.phone('sue');
  t.is(await alice.start(center.sipPort), T.SipSuccess);
  t.is(await sue.start(center.sipPort), T.SipSuccess);
  t.true(await loggedIn(center, 'alice'), 'alice is logged in');

  const browser: Browser = await puppeteer.launch({
    executablePath: bins.chromium,
    headless: true,
    // root in a container has no user namespaces for the sandbox; the page is our own, on loopback
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
    timeout: 60000,
    protocolTimeout: 60000,
  });
  t.teardown(() => browser.close());
  t.log(`browser: ${await browser.version()} (${bins.chromium})`);
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
  await page.setViewport({ width: 1200, height: 800 });
  await page.goto(server.url, { waitUntil: 'load', timeout: 30000 });
  const row = 'tr[data-agent="alice"]';
  // page-side code as strings: this project compiles without the DOM's types
  const text = (cell: string): string => `document.querySelector('${row} .${cell}')?.textContent`;
  await page.waitForFunction(`${text('state')} === 'idle'`, DOM_WAIT);
  t.is(await page.evaluate(`document.querySelector('${row} button[data-action="listen"]').disabled`), true, 'listen is disabled while alice is idle');

  // a caller for sales: alice answers, and the page shows her talking
  let answeredAt = 0;
  center.on('agent', (a) => {
    if (a.name === 'alice' && a.state === 'talking' && !answeredAt) answeredAt = Date.now();
  });
  const line = await pool.call(center.sipPort, { name: 'carl', choice: '1', stayMs: 600000, voice: null, dialAfterMs: 800 });
  t.true(line >= 0, 'the IVR answers carl');
  t.true(await until(() => answeredAt > 0, 20000), 'alice answers');
  await page.waitForFunction(`${text('state')} === 'talking' && ${text('caller')} === 'carl'`, DOM_WAIT);
  t.log(`the page showed alice talking with carl ${Date.now() - answeredAt} ms after the answer (measured, not asserted)`);

  sendTone(pool.engine, line, CALLER_HZ, 90);
  sendTone(alice.engine, 0, AGENT_HZ, 90);
  // the VU meters move with the call's audio
  await page.waitForFunction(`document.querySelector('${row} meter')?.value > 0`, DOM_WAIT);

  // listen, clicked: the call center rings sue's phone, which answers and hears both
  await page.click(`${row} button[data-action="listen"]`);
  await page.waitForFunction(`${text('supervisor')} === 'listen (sue)'`, DOM_WAIT);
  t.deepEqual(agentOf(center.snapshot(), 'alice').supervisor, { name: 'sue', mode: 'listen' });
  sendTone(sue.engine, 0, SUPERVISOR_HZ, 90); // sue's phone has a call now
  await judge(t, 'listen: the supervisor', sue.engine, 0, [CALLER_HZ, AGENT_HZ], []);
  await judge(t, 'listen: the caller', pool.engine, line, [AGENT_HZ], [SUPERVISOR_HZ]);

  const shot = path.join(artifactDir(), 'callcenter-web.png');
  await page.screenshot({ path: shot, fullPage: true });
  t.log(`screenshot: ${shot}`);
  t.true(fs.statSync(shot).size > 0);

  // stop, with the keyboard: focus the button and press Enter
  await page.focus(`${row} button[data-action="stop"]`);
  await page.keyboard.press('Enter');
  t.true(await until(() => agentOf(center.snapshot(), 'alice').supervisor === null && sue.engine.getNumActiveCalls().numActiveCalls === 0, 10000), 'the supervisor left');
  await page.waitForFunction(`${text('supervisor')} === ''`, DOM_WAIT);
  const log = String(await page.evaluate(`document.getElementById('status').textContent`));
  t.regex(log, /alice talking with carl/, 'the live region told of the change');
  t.is(await pool.engine.terminateCall(line, true, 5000), T.SipSuccess);
  await page.waitForFunction(`${text('state')} === 'idle'`, DOM_WAIT);

  // a caller for support, which alice does not serve, waits until the page gives the call to her
  const second = await pool.call(center.sipPort, { name: 'dora', choice: '2', stayMs: 600000, voice: null, dialAfterMs: 800 });
  t.true(second >= 0, 'the IVR answers dora');
  const waiting = 'section[data-queue="support"] li';
  await page.waitForFunction(`document.querySelector('${waiting} .who')?.textContent === 'dora'`, DOM_WAIT);
  await page.select(`${waiting} select`, 'alice');
  await page.click(`${waiting} button[data-action="transfer"]`);
  await page.waitForFunction(`${text('state')} === 'talking' && ${text('caller')} === 'dora'`, DOM_WAIT);
  t.is(agentOf(center.snapshot(), 'alice').caller, 'dora', 'the transfer reached the call center');
  t.is(await pool.engine.terminateCall(second, true, 5000), T.SipSuccess);
  await page.waitForFunction(`${text('state')} === 'idle'`, DOM_WAIT);

  // alice calls out, from the keyboard: the number in its field, Enter submits the form
  center.outboundTrunk = { address: '127.0.0.1', port: pool.engine.getSipPort() };
  const answered = new Promise<number>((resolve) => pool.engine.once('SipIncomingCallConnected', (n) => resolve(n.phoneLine)));
  t.is(await page.evaluate(`document.getElementById('call-agent').value`), 'alice');
  await page.focus('#call-number');
  await page.keyboard.type('5550100');
  await page.keyboard.press('Enter');
  const far = await answered;
  await page.waitForFunction(`${text('state')} === 'talking' && ${text('caller')} === 'to 5550100'`, DOM_WAIT);
  t.like(center.snapshot().today, { outbound: 1 });
  await page.waitForFunction(`document.getElementById('fig-outbound').textContent === '1'`, DOM_WAIT);
  t.deepEqual(pageErrors, [], 'no error in the page');
  t.is(await pool.engine.terminateCall(far, true, 5000), T.SipSuccess);
});
