/**
 * The engine facade on its own and two engines on loopback: start/stop, return codes for bad
 * input, the registrar role, per-line names, OPTIONS, garbage on the socket.
 */
import test from 'ava';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  VoipMediaEngine,
  TelephonyReturnValue as T,
  NotifyType,
  LineState,
  CallDirection,
  MAX_REGISTRATION_WORKERS,
  MAX_PHONE_LINES,
  type RegisterReceivedData,
} from '../index.js';
import { parseMessage } from '../sip/parser.js';
import type { SipResponse } from '../sip/message.js';
import { startEngine, sleep } from './helpers/engine.js';
import { captureLog } from './helpers/log.js';

async function udpSocket(): Promise<Socket> {
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  return s;
}

/**
 * Sends a datagram and resolves with the first SIP response to it (same Call-ID) coming back.
 * Like any UDP client (RFC 3261 timer E) it retransmits from 500 ms, doubling up to 4 s, so a
 * busy engine still working through a queue, or a datagram the kernel dropped, is no failure;
 * it gives up after 64 x T1 (timer F).
 */
async function udpRequest(sock: Socket, port: number, text: string, timeoutMs = 32000): Promise<SipResponse> {
  const callId = /\r\nCall-ID: ([^\r]*)/.exec(text)?.[1];
  let retransmit: NodeJS.Timeout | undefined;
  const send = (interval: number): void => {
    sock.send(Buffer.from(text), port, '127.0.0.1');
    retransmit = setTimeout(() => send(Math.min(interval * 2, 4000)), interval);
  };
  const reply = new Promise<SipResponse>((resolve, reject) => {
    const timer = setTimeout(() => {
      clearTimeout(retransmit);
      reject(new Error('no answer'));
    }, timeoutMs);
    const on = (buf: Buffer): void => {
      try {
        const m = parseMessage(buf);
        // Late answers to earlier datagrams (the flood) are not the answer to this one.
        if (m.type === 'response' && (callId === undefined || m.headers.get('Call-ID') === callId)) {
          clearTimeout(timer);
          clearTimeout(retransmit);
          sock.off('message', on);
          resolve(m);
        }
      } catch {
        /* not a response: keep waiting */
      }
    };
    sock.on('message', on);
  });
  send(500);
  return reply;
}

function options(sock: Socket, branch: string, extra = ''): string {
  const port = sock.address().port;
  return (
    `OPTIONS sip:engine@127.0.0.1 SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK${branch};rport\r\n` +
    `Max-Forwards: 70\r\nFrom: <sip:tester@127.0.0.1>;tag=t${branch}\r\nTo: <sip:engine@127.0.0.1>\r\n` +
    `Call-ID: ${branch}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\n${extra}Content-Length: 0\r\n\r\n`
  );
}

test('start, stop, double start and calls on a stopped engine return codes', async (t) => {
  const engine = new VoipMediaEngine();
  t.is(engine.getNumPhoneLines().result, T.SipMediaEngineNotInitialized);
  t.is(await engine.enableSipRegisterServer('a', false, false, '127.0.0.1', 5060, 60, 60, 1000, false), T.SipMediaEngineNotInitialized);
  t.is(await engine.stopSipTelephony(), T.SipMediaEngineNotInitialized);
  t.is(await engine.startSipTelephony({ numPhoneLinesRequested: 3, ipAddressOfThisHost: '127.0.0.1', sipPort: 0 }), T.SipSuccess);
  t.true(engine.getSipPort() > 0);
  t.is(await engine.startSipTelephony({ sipPort: 0 }), T.SipMediaEngineAlreadyInitialized);
  t.deepEqual(engine.getNumPhoneLines(), { result: T.SipSuccess, numPhoneLines: 3 });
  t.deepEqual(engine.getLineStatus(2), { result: T.SipSuccess, state: LineState.OnHook, callDirection: CallDirection.None, callRecordingActive: false });
  t.is(engine.getLineStatus(3).result, T.SipBadPhoneLine);
  t.is(engine.getLineStatus(-1).result, T.SipBadPhoneLine);
  t.is(engine.getLineStatus(1.5).result, T.SipBadPhoneLine);
  t.is(engine.getMediaEngineVersionInfo().result, T.SipSuccess);
  const clock = engine.getMediaClockStatistics();
  t.is(clock.result, T.SipSuccess);
  t.true(clock.running === true && typeof clock.ticks === 'number');
  t.is(await engine.stopSipTelephony(), T.SipSuccess);
  t.is(engine.getSipPort(), 0);
  t.is(engine.getMediaClockStatistics().result, T.SipMediaEngineNotInitialized);
  // and it starts again
  t.is(await engine.startSipTelephony({ ipAddressOfThisHost: '127.0.0.1', sipPort: 0 }), T.SipSuccess);
  t.is(await engine.stopSipTelephony(), T.SipSuccess);
});

test('bad start parameters return SipBadParameter; a port in use returns SipCallFailure', async (t) => {
  const engine = new VoipMediaEngine();
  const bad: Array<Record<string, unknown>> = [
    { numPhoneLinesRequested: 0 },
    { numPhoneLinesRequested: 2.5 },
    { numPhoneLinesRequested: MAX_PHONE_LINES + 1 },
    { ipAddressOfThisHost: 'not an ip' },
    { sipPort: 70000 },
    { sipPort: -1 },
    { minLocalRtpPort: 30000, maxLocalRtpPort: 20000 },
    { phoneName: 'has space' },
    { userNotifyCallbackProc: 'nope' },
    { zeroBasedAudioInDeviceId: -7 },
    { sipTransport: 'SCTP' },
    { dtmfEnabled: 'yes' },
    { lineMode: 9 },
    { keepCallAfterTransfer: 'yes' },
    { holdMethod: 'info' },
  ];
  for (const p of bad) {
    t.is(await engine.startSipTelephony({ sipPort: 0, ...p }), T.SipBadParameter, JSON.stringify(p));
  }
  t.is(await engine.startSipTelephony(null as never), T.SipBadParameter);

  const taken = await udpSocket();
  t.teardown(() => taken.close());
  t.is(await engine.startSipTelephony({ ipAddressOfThisHost: '127.0.0.1', sipPort: taken.address().port }), T.SipCallFailure);
  // nothing was left half-started
  t.is(engine.getNumPhoneLines().result, T.SipMediaEngineNotInitialized);
});

test('an engine takes MAX_PHONE_LINES lines (4096), each addressable', async (t) => {
  const { engine } = await startEngine(t, { numPhoneLinesRequested: MAX_PHONE_LINES });
  t.is(MAX_PHONE_LINES, 4096);
  t.deepEqual(engine.getNumPhoneLines(), { result: T.SipSuccess, numPhoneLines: MAX_PHONE_LINES });
  t.is(engine.busyOutLine(MAX_PHONE_LINES - 1, true), T.SipSuccess);
  t.is(engine.busyOutLine(MAX_PHONE_LINES, true), T.SipBadPhoneLine);
});

test('line procedures validate lines and values', async (t) => {
  const { engine } = await startEngine(t, { numPhoneLinesRequested: 2 });
  t.is(engine.busyOutLine(5, true), T.SipBadPhoneLine);
  t.is(engine.busyOutLine(0, 'yes' as never), T.SipBadParameter);
  t.is(engine.busyOutLine(0, true), T.SipSuccess);
  t.is(engine.getLineStatus(0).state, LineState.BusyOut);
  t.is(engine.lineForIncomingCall(), 1, 'a busied-out line takes no call');
  t.is(engine.setOutgoingLineOnly(1, true), T.SipSuccess);
  t.is(engine.lineForIncomingCall(), -1, 'no line left for incoming calls');
  t.is(engine.busyOutLine(0, false), T.SipSuccess);
  t.is(engine.lineForIncomingCall(), 0);
  t.is(engine.setPhoneName(0, 'bad name'), T.SipBadParameter);
  t.is(engine.setPhoneName(0, 'agent7'), T.SipSuccess);
  t.is(engine.setFromHeaderUserName(1, 'sales'), T.SipSuccess);
  t.is(engine.setCallAnswerTimeout(0), T.SipBadParameter);
  t.is(engine.setCallAnswerTimeout(30), T.SipSuccess);
  t.is(engine.setCallStateRecording(0, true), T.SipSuccess);
  engine.busyOutLine(0, true);
  engine.busyOutLine(0, false);
  t.deepEqual(engine.getRecordedCallStates(0).states.map((s) => s.state), [LineState.BusyOut, LineState.OnHook]);
  t.is(engine.clearRecordedCallStates(0), T.SipSuccess);
  t.is(engine.getRecordedCallStates(0).states.length, 0);
  t.deepEqual(engine.getNumActiveCalls(), { result: T.SipSuccess, numActiveCalls: 0 });
  t.is(engine.randomlyAssignIncomingCallsToPhoneLines('x' as never), T.SipBadParameter);
});

test('enableSipRegisterServer returns each validation code of the seed', async (t) => {
  const { engine } = await startEngine(t, { numPhoneLinesRequested: 4 });
  const reg = (names: string, perLine = true, proxy = false, addr = '127.0.0.1', port = 5060, interval = 60, expire = 60, timeout = 1000) =>
    engine.enableSipRegisterServer(names, perLine, proxy, addr, port, interval, expire, timeout, false);
  t.is(await reg('100,101,102'), T.SipRegisterBadNameList, 'three names for four lines');
  t.is(await reg('100,101,102,103,104'), T.SipRegisterBadNameList);
  t.is(await reg('100,,102,103'), T.SipRegisterBadNameList, 'an empty name');
  t.is(await reg('100,1 1,102,103'), T.SipRegisterBadNameList, 'a name that is no SIP user');
  t.is(await reg('100,101,102,103', true, false, '127.0.0.1', 5060, 0, 60), T.SipRegisterIntervalError, 'zero interval');
  t.is(await reg('100,101,102,103', true, false, '127.0.0.1', 5060, 120, 60), T.SipRegisterIntervalError, 'expiry shorter than the interval');
  t.is(await reg('100,101,102,103', true, true), T.SipProxyNotEnabled);
  t.is(await engine.enableSipProxyServer('127.0.0.1', 5060), T.SipSuccess);
  t.is(await reg('100,101,102,103', true, true), T.SipDomainNameNotDefined);
  t.is(await reg('100,101,102,103', true, false, 'nosuchhost.invalid'), T.SipUnknownHost);
  t.is(await reg('100,101,102,103', true, false, '127.0.0.1', 0), T.SipBadParameter, 'port 0');
  t.is(await reg('100,101,102,103', true, false, '127.0.0.1', 5060, 60, 60, 0), T.SipBadParameter, 'no time-out');
  t.is(await reg(null as never), T.SipBadParameter);
  const many = Array.from({ length: MAX_REGISTRATION_WORKERS + 1 }, (_, i) => `u${i}`).join(',');
  t.is(await reg(many, false), T.SipThreadCreationError, 'more names than registration workers');
  // A procedure called with a foreign `this` (a detached method) reports a bad handle.
  const detached = engine.enableSipRegisterServer;
  t.is(await detached.call({} as never, '100', false, false, '127.0.0.1', 5060, 60, 60, 1000, false), T.SipInvalidHandle);
  t.is(VoipMediaEngine.prototype.triggerRegistration.call(undefined as never), T.SipInvalidHandle);
  t.is(await engine.enableSipProxyServer('nosuchhost.invalid', 5060), T.SipUnknownHost);
  t.is(await engine.enableSipProxyServer('127.0.0.1', 0), T.SipBadParameter);
  t.is(engine.enableSipDomain('bad domain'), T.SipBadParameter);
  t.is(engine.triggerRegistration(), T.SipCallFailure, 'nothing to trigger');
  t.is(engine.registrationErrorRetryTime(-1), T.SipBadParameter);
  t.is(engine.setWanIpAddress('nope'), T.SipBadParameter);
  t.is(engine.addAuthorizationCredentials('', 'x', 'r'), T.SipBadParameter);
});

test('two engines: per-line names register with an engine in the registrar role', async (t) => {
  const pbx = await startEngine(t, { numPhoneLinesRequested: 1, phoneName: 'pbx' });
  const desk = await startEngine(t, { numPhoneLinesRequested: 4, phoneName: 'desk' });
  const received: RegisterReceivedData[] = [];
  pbx.engine.on('SipRegisterReceived', (n) => {
    t.is(n.notifyType, NotifyType.ImmediateNotification);
    received.push({ ...n.data });
  });
  // duplicate names are registered once
  t.is(await desk.engine.enableSipRegisterServer('100,101,102,102', true, false, '127.0.0.1', pbx.port, 60, 60, 2000, true), T.SipSuccess);
  const ok = await desk.waitForCount(T.SipRegisterSuccess, 3);
  for (const n of ok) {
    t.is(n.notifyType, NotifyType.GlobalNotification);
    t.is(n.phoneLine, -1);
  }
  t.deepEqual(ok.map((n) => n.data.name).sort(), ['100', '101', '102']);
  t.deepEqual(ok.find((n) => n.data.name === '102')!.data.phoneLines, [2, 3]);
  t.is(received.length, 3);
  const bindings = pbx.engine.getRegistrarBindings().bindings;
  t.deepEqual(bindings.map((b) => b.user).sort(), ['100', '101', '102']);
  for (const b of bindings) t.is(b.contact, `sip:${b.user}@127.0.0.1:${desk.port}`);
  // calls for a name land on the line of that name
  t.is(desk.engine.lineForIncomingCall('100'), 0);
  t.is(desk.engine.lineForIncomingCall('101'), 1);
  t.is(desk.engine.lineForIncomingCall('102'), 2);
  desk.engine.busyOutLine(2, true);
  t.is(desk.engine.lineForIncomingCall('102'), 3, 'the second line of a duplicated name');
  t.is(desk.engine.lineForIncomingCall('999'), 0, 'an unknown name takes any free line');
  t.deepEqual(
    desk.engine.getRegistrationStatus().registrations.map((r) => [r.name, r.state]),
    [['100', 'registered'], ['101', 'registered'], ['102', 'registered']],
  );
  // NAT auto-detect sees received=127.0.0.1 = our own address: no change is raised
  t.is(desk.of(T.SipWanIpAddressChange).length, 0);
  t.is(await desk.engine.disableSipRegisterServer(), T.SipSuccess);
  t.is(pbx.engine.getRegistrarBindings().bindings.length, 0, 'Expires: 0 removed every binding');
  await desk.waitForCount(T.SipUnRegisterSuccess, 3);
  t.is(desk.of(T.SipUnRegisterTrying).length, 3);
});

test('the registrar application refuses a registration: SipRegisterError with the status', async (t) => {
  const pbx = await startEngine(t, { phoneName: 'pbx' });
  pbx.engine.on('SipRegisterReceived', (n) => {
    const d = n.data;
    if (d.user === 'intruder') {
      d.acceptRegistration = false;
      d.rejectStatusCode = 404;
    }
  });
  const desk = await startEngine(t, {});
  t.is(desk.engine.registrationErrorRetryTime(60_000), T.SipSuccess);
  t.is(await desk.engine.enableSipRegisterServer('intruder', false, false, '127.0.0.1', pbx.port, 60, 60, 2000, false), T.SipSuccess);
  const n = await desk.waitFor(T.SipRegisterError);
  t.like(n.data, { name: 'intruder', statusCode: 404 });
  t.is(pbx.engine.getRegistrarBindings().bindings.length, 0);
});

test('a registrar that never answers gives SipRegisterTimeOut after timeOutMs', async (t) => {
  const silent = await udpSocket();
  t.teardown(() => silent.close());
  let requests = 0;
  silent.on('message', () => requests++);
  const desk = await startEngine(t, {});
  desk.engine.registrationErrorRetryTime(60_000);
  t.is(await desk.engine.enableSipRegisterServer('200', false, false, '127.0.0.1', silent.address().port, 60, 60, 700, false), T.SipSuccess);
  const n = await desk.waitFor(T.SipRegisterTimeOut);
  t.like(n.data, { name: '200', timeOutMs: 700 });
  t.true(requests >= 2, 'the REGISTER was retransmitted over UDP before the time-out');
});

test('setWanIpAddress re-registers with the public Contact and removes the old binding', async (t) => {
  const pbx = await startEngine(t, { phoneName: 'pbx' });
  const desk = await startEngine(t, {});
  await desk.engine.enableSipRegisterServer('300', false, false, '127.0.0.1', pbx.port, 60, 60, 2000, false);
  await desk.waitForCount(T.SipRegisterSuccess, 1);
  t.is(desk.engine.setWanIpAddress('127.0.0.9'), T.SipSuccess);
  await desk.waitForCount(T.SipRegisterSuccess, 2);
  const contacts = pbx.engine.getRegistrarBindings().bindings.map((b) => b.contact);
  t.deepEqual(contacts, [`sip:300@127.0.0.9:${desk.port}`]);
});

test('OPTIONS gets 200 with Allow, Accept and Supported; unknown methods get 501', async (t) => {
  const { port } = await startEngine(t, {});
  const sock = await udpSocket();
  t.teardown(() => sock.close());
  const res = await udpRequest(sock, port, options(sock, 'opt1'));
  t.is(res.status, 200);
  t.truthy(res.headers.get('Allow'));
  t.regex(res.headers.getAll('Allow').join(','), /OPTIONS/);
  t.truthy(res.headers.get('Accept'));
  t.truthy(res.headers.get('Supported'));
  t.regex(res.headers.get('To') ?? '', /;tag=/);
  const viaParams = res.headers.get('Via') ?? '';
  t.regex(viaParams, new RegExp(`rport=${sock.address().port}`));
  const unknown = await udpRequest(sock, port, options(sock, 'opt2').replace(/OPTIONS/g, 'FROBNICATE'));
  t.is(unknown.status, 501);
});

test('garbage on the SIP socket: 400 when answerable, a parse-error notification, and the engine keeps serving', async (t) => {
  const e = await startEngine(t, {});
  const sock = await udpSocket();
  t.teardown(() => sock.close());
  // A request without Call-ID can still be answered statelessly.
  const broken = options(sock, 'bad1').replace(/Call-ID: [^\r]*\r\n/, '');
  const res = await udpRequest(sock, e.port, broken);
  t.is(res.status, 400);
  const n = await e.waitFor(T.SipReceivedSipMessageParseError);
  t.is(n.notifyType, NotifyType.GlobalNotification);
  t.truthy(n.data.reason);
  // A flood of random and mutated datagrams (seeded, reproducible).
  let seed = 12345;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const valid = Buffer.from(options(sock, 'flood'));
  for (let i = 0; i < 5000; i++) {
    let buf: Buffer;
    if (i % 3 === 0) {
      buf = Buffer.alloc(1 + Math.floor(rnd() * 600));
      for (let j = 0; j < buf.length; j++) buf[j] = Math.floor(rnd() * 256);
    } else {
      buf = Buffer.from(valid);
      const edits = 1 + Math.floor(rnd() * 8);
      for (let k = 0; k < edits; k++) buf[Math.floor(rnd() * buf.length)] = Math.floor(rnd() * 256);
      if (i % 5 === 0) buf = buf.subarray(0, Math.floor(rnd() * buf.length));
    }
    sock.send(buf, e.port, '127.0.0.1');
    if (i % 200 === 0) await sleep(5);
  }
  await sleep(200);
  const after = await udpRequest(sock, e.port, options(sock, 'after'));
  t.is(after.status, 200, 'still serving after the flood');
  t.true(e.of(T.SipReceivedSipMessageParseError).length > 100);
});

test('notifications reach the callback, the notification event and the named event; a throwing handler is contained', async (t) => {
  const viaCallback: T[] = [];
  const pbx = await startEngine(t, {});
  // The engine reports a throwing handler to its logger; the warnings are read from there.
  const log = captureLog();
  const desk = await startEngine(t, { userNotifyCallbackProc: (n) => viaCallback.push(n.event), logger: log.logger });
  const named: T[] = [];
  desk.engine.on('SipRegisterSuccess', (n) => named.push(n.event));
  desk.engine.on('SipRegisterTrying', () => {
    throw new Error('application bug');
  });
  await desk.engine.enableSipRegisterServer('400', false, false, '127.0.0.1', pbx.port, 60, 60, 2000, false);
  await desk.waitFor(T.SipRegisterSuccess);
  await sleep(20);
  t.true(viaCallback.includes(T.SipRegisterTrying));
  t.true(viaCallback.includes(T.SipRegisterSuccess));
  t.deepEqual(named, [T.SipRegisterSuccess]);
  const warnings = log.records.map((r) => r.msg);
  t.true(warnings.some((w) => w.includes('SipRegisterTrying')));
});

test('logSipMessages writes one structured JSON line per SIP message to sipLogFile', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'linescape-log-'));
  const file = path.join(dir, 'sip.log');
  const pbx = await startEngine(t, {});
  const engine = new VoipMediaEngine();
  t.is(await engine.startSipTelephony({ sipPort: 0, logSipMessages: true, sipLogFile: '' }), T.SipBadParameter);
  t.is(await engine.startSipTelephony({ ipAddressOfThisHost: '127.0.0.1', sipPort: 0, logSipMessages: true, sipLogFile: file }), T.SipSuccess);
  const done = new Promise((r) => engine.once('SipRegisterSuccess', r));
  await engine.enableSipRegisterServer('600', false, false, '127.0.0.1', pbx.port, 60, 60, 2000, false);
  await done;
  await engine.stopSipTelephony();
  await sleep(100);
  const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
  const sent = lines.filter((l) => l['dir'] === 'send' && l['firstLine']!.startsWith('REGISTER'));
  const recv = lines.filter((l) => l['dir'] === 'recv' && l['firstLine'] === 'SIP/2.0 200 OK');
  t.true(sent.length >= 2, 'REGISTER and the Expires: 0 REGISTER at stop');
  t.true(recv.length >= 2);
  t.is(sent[0]!['proto'], 'UDP');
  t.is(sent[0]!['remote'], `127.0.0.1:${pbx.port}`);
  t.regex(sent[0]!['sip']!, /^REGISTER sip:/);
  t.is(sent[0]!['callId'], recv[0]!['callId']);
});

test('every public procedure called detached from its engine returns a code instead of throwing', async (t) => {
  // the public methods, as the built declaration file lists them (private members are marked there)
  const dts = readFileSync(new URL('../engine/VoipMediaEngine.d.ts', import.meta.url), 'utf8');
  const names = [...new Set([...dts.matchAll(/^ {4}(?!private |static |constructor)([a-zA-Z]+)\(/gm)].map((m) => m[1]!))];
  t.true(names.length > 80, `${names.length} public procedures`);
  const proto = VoipMediaEngine.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of names) {
    if (name === 'getAudioDeviceList') continue; // needs no engine: it lists the sound cards
    let r: unknown;
    try {
      r = await proto[name]!.call({}, 0, true, 0, 0);
    } catch (err) {
      t.fail(`${name} threw: ${(err as Error).message}`);
      continue;
    }
    const ok = typeof r === 'number' || (typeof r === 'object' && r !== null && typeof (r as { result?: unknown }).result === 'number');
    t.true(ok, `${name} answered ${JSON.stringify(r)}`);
  }
});

test('makeCall and makeCallUri to a user bound at our own registrar role call the registered contact', async (t) => {
  const pbx = await startEngine(t, { phoneName: 'pbx' });
  const desk = await startEngine(t, { phoneName: 'desk' });
  desk.engine.on('SipOkToAnswerCall', (n) => desk.engine.goOffHook(n.phoneLine));
  t.is(await desk.engine.enableSipRegisterServer('agent7', false, false, '127.0.0.1', pbx.port, 60, 60, 4000, false), T.SipSuccess);
  await desk.waitFor(T.SipRegisterSuccess);
  t.is(await pbx.engine.makeCall('agent7', '127.0.0.1', pbx.port, 0, true, 5000), T.SipSuccess, 'the AOR by name');
  await desk.waitFor(T.SipIncomingCallConnected);
  t.is(pbx.engine.getOutgoingCallInfo(0).result, T.SipSuccess);
  t.is(await pbx.engine.terminateCall(0, true, 5000), T.SipSuccess);
  await desk.waitForCount(T.SipCallComplete, 1);
  t.is(await pbx.engine.makeCallUri(`sip:agent7@127.0.0.1:${pbx.port}`, false, 0, true, 5000), T.SipSuccess, 'the AOR as a URI');
  await desk.waitForCount(T.SipIncomingCallConnected, 2);
  t.is(await pbx.engine.terminateCall(0, true, 5000), T.SipSuccess);
});
