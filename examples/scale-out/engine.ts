/**
 * One LineScape engine process of the scale-out example (`examples/scale-out/`): the stand-in
 * for a call-center application behind Kamailio's dispatcher. It
 * - starts an engine on a fixed SIP port (the one listed in Kamailio's dispatcher list),
 * - uses Kamailio as its proxy, so its outbound calls go through Kamailio,
 * - registers its per-line names to Kamailio's registrar: `--agents 2=agent42` names line 2
 *   `agent42`; every other line carries the engine's own name (`--name`), so Kamailio can reach
 *   an agent's line whichever engine holds it,
 * - answers every incoming call and plays a 440 Hz tone on it (an application would run its
 *   IVR or queue here),
 * - reports on stdout, one JSON object a line: `ready`, `registered`, `answered` (with the line,
 *   the dialled user and its running count), `ended`, `callResult`, `draining`, `stopped`,
 * - takes commands on stdin, one JSON object a line: `{"cmd":"call","uri":"sip:agent42@…"}`
 *   places a call through the proxy; `{"cmd":"stop"}` stops it,
 * - on SIGTERM or SIGINT drains: new calls are refused with 503 (Kamailio moves them to another
 *   engine), calls in progress finish (at most `--drain-seconds`), then the engine stops.
 *
 * `node dist/examples/scale-out/engine.js --name e1 --port 5071 --proxy 127.0.0.1:5060
 *  [--lines 64] [--agents 2=agent42,3=agent43] [--rtp 20000-20999] [--expires 60]
 *  [--tone 440] [--drain-seconds 30]`
 * @module
 */
import { isIP } from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import wavefile from 'wavefile';
import { VoipMediaEngine, TelephonyReturnValue as T } from '../../index.js';

/** The runner's options, from the command line. */
interface RunnerOptions {
  /** The engine's name: its From user and the registered name of its lines without an agent. */
  name: string;
  /** SIP port on 127.0.0.1 (the one in Kamailio's dispatcher list). */
  port: number;
  /** Kamailio's address and port. */
  proxyHost: string;
  /** Kamailio's port. */
  proxyPort: number;
  /** Phone lines. */
  lines: number;
  /** Per-line agent names: line index -> name. */
  agents: Map<number, string>;
  /** RTP port range. */
  rtpMin: number;
  /** Upper end of the RTP port range. */
  rtpMax: number;
  /** Registration expiry asked of Kamailio, in seconds (refreshed at half of it). */
  expires: number;
  /** Frequency of the tone played on answered calls; 0 = none. */
  toneHz: number;
  /** Longest wait for calls in progress when draining, in seconds. */
  drainSeconds: number;
}

/** Reads `--key value` pairs. */
function parseArgs(argv: readonly string[]): RunnerOptions {
  const a = new Map<string, string>();
  for (let i = 0; i < argv.length - 1; i += 2) a.set(String(argv[i]).replace(/^--/, ''), String(argv[i + 1]));
  const num = (k: string, d: number): number => {
    const v = Number(a.get(k));
    return Number.isFinite(v) && a.has(k) ? v : d;
  };
  const [proxyHost = '127.0.0.1', proxyPort = '5060'] = (a.get('proxy') ?? '127.0.0.1:5060').split(':');
  const [rtpMin = '20000', rtpMax = '20999'] = (a.get('rtp') ?? '20000-20999').split('-');
  const agents = new Map<number, string>();
  for (const pair of (a.get('agents') ?? '').split(',').filter((s) => s !== '')) {
    const [line, name] = pair.split('=');
    if (line !== undefined && name !== undefined) agents.set(Number(line), name);
  }
  return {
    name: a.get('name') ?? 'engine',
    port: num('port', 5071),
    proxyHost,
    proxyPort: Number(proxyPort),
    lines: num('lines', 64),
    agents,
    rtpMin: Number(rtpMin),
    rtpMax: Number(rtpMax),
    expires: num('expires', 60),
    toneHz: num('tone', 440),
    drainSeconds: num('drain-seconds', 30),
  };
}

/** Writes one report line. */
function report(ev: string, data: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ ev, ...data })}\n`);
}

/** Writes a 1 s looping tone as an 8 kHz mono WAV in a temp folder; returns its path. */
function toneFile(hz: number): string {
  const samples = new Int16Array(8000);
  for (let i = 0; i < samples.length; i++) samples[i] = Math.round(6000 * Math.sin((2 * Math.PI * hz * i) / 8000));
  const wav = new wavefile.WaveFile();
  wav.fromScratch(1, 8000, '16', samples);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'linescape-scale-'));
  const file = path.join(dir, `tone${hz}.wav`);
  fs.writeFileSync(file, wav.toBuffer());
  return file;
}

/** Runs the engine until it is told to stop. */
async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const engine = new VoipMediaEngine();
  const rc = await engine.startSipTelephony({
    ipAddressOfThisHost: '127.0.0.1',
    sipPort: o.port,
    numPhoneLinesRequested: o.lines,
    phoneName: o.name,
    minLocalRtpPort: o.rtpMin,
    maxLocalRtpPort: o.rtpMax,
    dtmfEnabled: true,
    callAnswerTimeoutSeconds: 60,
    // every request comes from Kamailio: its address alone may reach the engine, and the
    // per-source rate limit (which would count the whole site as one source) is off
    ...(isIP(o.proxyHost) ? { allowedSourceNetworks: [`${o.proxyHost}/${isIP(o.proxyHost) === 4 ? 32 : 128}`], allowedSourceScope: 'all' as const } : {}),
    requestRatePerSource: 0,
  });
  if (rc !== T.SipSuccess) {
    report('error', { step: 'startSipTelephony', rc: T[rc] });
    process.exit(1);
  }
  const tone = o.toneHz > 0 ? toneFile(o.toneHz) : undefined;
  let draining = false;
  let answered = 0;
  // the dialled user of each ringing line (from SipIncomingCallStart), reported on answer
  const dialled = new Map<number, string>();

  engine.on('SipIncomingCallStart', (n) => {
    dialled.set(n.phoneLine, /^sips?:([^@;>]+)@/.exec(n.data.requestUri)?.[1] ?? '');
  });
  engine.on('SipOkToAnswerCall', (n) => {
    if (draining) {
      // 503: Kamailio's failure route sends the call to the next engine
      engine.abortIncomingCall(n.phoneLine, 503, 'Draining');
      return;
    }
    // reported before the 200 OK leaves, so a process killed right after still counted it
    answered++;
    report('answered', { line: n.phoneLine, user: dialled.get(n.phoneLine) ?? '', count: answered });
    const rc = engine.goOffHook(n.phoneLine);
    if (rc !== T.SipSuccess) report('error', { step: 'goOffHook', line: n.phoneLine, rc: T[rc] });
  });
  engine.on('SipIncomingCallConnected', (n) => {
    if (tone !== undefined) engine.playWaveFile(n.phoneLine, tone, true);
  });
  engine.on('SipCallComplete', (n) => {
    dialled.delete(n.phoneLine);
    report('ended', { line: n.phoneLine, reason: n.data.reason });
  });
  engine.on('SipRegisterSuccess', (n) => report('registered', { name: n.data.name, expires: n.data.expires }));

  // outbound calls go through Kamailio
  await engine.enableSipProxyServer(o.proxyHost, o.proxyPort);
  const names = Array.from({ length: o.lines }, (_, i) => o.agents.get(i) ?? o.name).join(',');
  const reg = await engine.enableSipRegisterServer(names, true, false, o.proxyHost, o.proxyPort, Math.max(1, Math.floor(o.expires / 2)), o.expires, 8000, false);
  if (reg !== T.SipSuccess) report('error', { step: 'enableSipRegisterServer', rc: T[reg] });
  report('ready', { name: o.name, port: engine.getSipPort(), pid: process.pid });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      draining = true;
      report('draining', { active: engine.getNumActiveCalls().numActiveCalls ?? 0 });
      // answer the dispatcher's probes with 503 from now on: the engine leaves the set at the next probe
      engine.enableSipMessageHook(true);
      engine.on('SipModifySipMessage', (n) => {
        const d = n.data;
        if (d.direction === 'sent' && d.message.startsWith('SIP/2.0 200 ') && /\r\nCSeq:\s*\d+\s+OPTIONS\r\n/i.test(d.message)) {
          d.message = `SIP/2.0 503 Service Unavailable${d.message.slice(d.message.indexOf('\r\n'))}`;
        }
      });
      const deadline = Date.now() + o.drainSeconds * 1000;
      while ((engine.getNumActiveCalls().numActiveCalls ?? 0) > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
      }
      await engine.stopSipTelephony();
      if (tone !== undefined) fs.rmSync(path.dirname(tone), { recursive: true, force: true });
      report('stopped', { answered });
      process.exit(0);
    })());
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());

  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    let cmd: { cmd?: string; uri?: string };
    try {
      cmd = JSON.parse(line) as typeof cmd;
    } catch {
      return;
    }
    if (cmd.cmd === 'stop') void stop();
    if (cmd.cmd === 'call' && typeof cmd.uri === 'string') {
      const uri = cmd.uri;
      void engine.makeCallUri(uri, true, -1, true, 15_000).then((r) => report('callResult', { uri, rc: T[r] }));
    }
  });
}

void main();
