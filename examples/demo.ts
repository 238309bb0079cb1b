/**
 * The `npm start` demo: two LineScape engines on 127.0.0.1, no external server needed.
 * The "pbx" engine plays registrar and, like every LineScape registrar, binds nobody without a
 * password: it challenges each REGISTER and checks the answer against its own user table. The
 * 4-line "desk" engine registers one name per line (100..103) with it, answering the challenges
 * with its credentials, and the demo shows where incoming calls for each name land. Then the pbx
 * calls extension 102: the desk answers on line 2, a 1 kHz tone travels pbx -> desk and is
 * measured there, the pbx sends DTMF, holds and resumes, and hangs up. Finally the desk
 * joins three pbx calls into a recorded conference (examples/demo-conference.ts), unregisters
 * and both stop. Every notification is printed as a readable line.
 * @module
 */
import {
  VoipMediaEngine,
  TelephonyReturnValue as T,
  NotifyType,
  DtmfMethod,
  type Notification,
} from '../index.js';
import { dominantFrequency } from '../test/helpers/analysis.js';
import { conferenceDemo } from './demo-conference.js';
import { demoMessaging } from './demo-messaging.js';
import { demoPresence } from './demo-presence.js';
import { demoTransfer } from './demo-transfer.js';
import { check, nextEvent, nextEvents, say } from './demoKit.js';

const started = Date.now();

function print(who: string, n: Notification): void {
  const kind = n.notifyType === NotifyType.GlobalNotification ? 'global' : n.notifyType === NotifyType.ImmediateNotification ? 'immediate' : `line ${n.phoneLine}`;
  const data = n.data ? ` ${JSON.stringify(n.data)}` : '';
  console.log(`${String(Date.now() - started).padStart(5)} ms  ${who.padEnd(5)} ${kind.padEnd(9)} ${T[n.event]}${data}`);
}

const quiet = new Set<T>([T.SipInCall]);

/** The pbx's user table: extension -> password (a demo's; a real one keeps hashes elsewhere). */
const USERS = new Map(['100', '101', '102', '103'].map((ext) => [ext, `secret-${ext}`]));

async function main(): Promise<void> {
  const pbx = new VoipMediaEngine();
  const desk = new VoipMediaEngine();

  check('pbx.startSipTelephony', await pbx.startSipTelephony({
    numPhoneLinesRequested: 3, ipAddressOfThisHost: '127.0.0.1', sipPort: 0, phoneName: 'pbx',
    userNotifyCallbackProc: (n) => {
      if (!quiet.has(n.event)) print('pbx', n);
      if (n.event === T.SipIncomingAuthentication) {
        // The engine checks the digest with the password the application gives (never printed:
        // the data is printed above before it is set, and the engine removes it after the check).
        const password = USERS.get(n.data.userName);
        if (password !== undefined) n.data.password = password;
      }
      if (n.event === T.SipRegisterReceived) {
        const d = n.data;
        // The application decides: accept the desk's extensions 100..199 only (each proved its password).
        d.acceptRegistration = /^1\d\d$/.test(d.user);
      }
    },
  }));
  const pbxPort = pbx.getSipPort();
  say(`pbx listens on 127.0.0.1:${pbxPort}`);

  check('desk.startSipTelephony', await desk.startSipTelephony({
    numPhoneLinesRequested: 4, ipAddressOfThisHost: '127.0.0.1', sipPort: 0, phoneName: 'desk', phoneDisplayName: 'Front Desk',
    userNotifyCallbackProc: (n) => {
      if (!quiet.has(n.event)) print('desk', n);
    },
  }));

  // The desk answers the pbx's challenges (realm: the pbx's address) with each extension's password.
  for (const [ext, password] of USERS) check(`desk.addAuthorizationCredentials(${ext})`, desk.addAuthorizationCredentials(ext, password, '127.0.0.1'));
  const registered = nextEvents(desk, T.SipRegisterSuccess, 4);
  check('desk.enableSipRegisterServer', await desk.enableSipRegisterServer('100,101,102,103', true, false, '127.0.0.1', pbxPort, 60, 60, 4000, true));
  await registered;

  const { bindings } = pbx.getRegistrarBindings();
  say('pbx bindings:');
  for (const b of bindings) say(`  ${b.user} -> ${b.contact} (expires in ${b.expiresIn} s)`);
  for (const name of ['100', '101', '102', '103']) {
    say(`a call for ${name} would ring desk line ${desk.lineForIncomingCall(name)}`);
  }
  const { registrations } = desk.getRegistrationStatus();
  say(`desk registrations: ${registrations.map((r) => `${r.name}=${r.state}`).join(' ')}`);

  // A call: the pbx dials extension 102 at the desk; the desk application answers.
  desk.on('SipOkToAnswerCall', (n: Notification) => check(`desk.goOffHook(${n.phoneLine})`, desk.goOffHook(n.phoneLine)));
  const deskConnected = nextEvent(desk, T.SipIncomingCallConnected);
  check('pbx.makeCall(102)', await pbx.makeCall('102', '127.0.0.1', desk.getSipPort(), 0, true, 5000));
  await deskConnected;
  const rx = desk.openRxIvrChannel(2, { sampleRate: 8000 }).channel!;
  const heard: Buffer[] = [];
  rx.on('data', (c: Buffer) => heard.push(c));
  const tone = new Int16Array(8000);
  for (let i = 0; i < tone.length; i++) tone[i] = Math.round(8000 * Math.sin((2 * Math.PI * 1000 * i) / 8000));
  pbx.openTxIvrChannel(0, { sampleRate: 8000 }).channel!.write(Buffer.from(tone.buffer));
  await new Promise((r) => setTimeout(r, 800));
  const pcm = Buffer.concat(heard);
  const samples = new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length >> 1);
  say(`desk line 2 hears ${dominantFrequency(samples.subarray(-2048), 8000).toFixed(0)} Hz (the pbx sends 1000 Hz)`);
  desk.closeRxIvrChannel(rx);
  const digits = nextEvents(desk, T.SipDtmfDigitEvent, 4);
  check('pbx.sendDtmf("1234")', pbx.sendDtmf(0, '1234', DtmfMethod.Rfc4733));
  await digits;
  check('pbx.holdLine(on)', await pbx.holdLine(0, true));
  check('pbx.holdLine(off)', await pbx.holdLine(0, false));
  const deskOnHook = nextEvent(desk, T.SipOnHook);
  check('pbx.terminateCall', await pbx.terminateCall(0, true, 3000));
  await deskOnHook;

  await demoMessaging(pbx, desk);
  await demoPresence(pbx, desk, 'desk');
  await demoTransfer();
  // last: the recorded three-party conference
  await conferenceDemo(pbx, desk);

  check('desk.disableSipRegisterServer', await desk.disableSipRegisterServer());
  say(`pbx bindings after unregister: ${pbx.getRegistrarBindings().bindings.length}`);

  check('desk.stopSipTelephony', await desk.stopSipTelephony());
  check('pbx.stopSipTelephony', await pbx.stopSipTelephony());
  say('demo finished');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
