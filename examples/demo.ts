/**
 * The `npm start` demo: two LineScape engines on 127.0.0.1, no external server needed.
 * The "pbx" engine plays registrar; the 4-line "desk" engine registers one name per line
 * (100..103) with it, the demo shows where incoming calls for each name would land, then
 * unregisters and stops. Every notification is printed as a readable line.
 * @module
 */
import {
  VoipMediaEngine,
  TelephonyReturnValue as T,
  NotifyType,
  getTelephonyStatusString,
  type Notification,
  type RegisterReceivedData,
} from '../index.js';

const started = Date.now();

function print(who: string, n: Notification): void {
  const kind = n.notifyType === NotifyType.GlobalNotification ? 'global' : n.notifyType === NotifyType.ImmediateNotification ? 'immediate' : `line ${n.phoneLine}`;
  const data = n.data ? ` ${JSON.stringify(n.data)}` : '';
  console.log(`${String(Date.now() - started).padStart(5)} ms  ${who.padEnd(5)} ${kind.padEnd(9)} ${T[n.event]}${data}`);
}

function check(what: string, rc: T): void {
  console.log(`            ${what} -> ${T[rc]} (${getTelephonyStatusString(rc)})`);
  if (rc !== T.SipSuccess) throw new Error(`${what} failed: ${T[rc]}`);
}

function waitFor(engine: VoipMediaEngine, event: T, count: number, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = 0;
    const name = T[event]!;
    const timer = setTimeout(() => {
      engine.off(name, on);
      reject(new Error(`timed out waiting for ${count} x ${name}`));
    }, timeoutMs);
    const on = (): void => {
      if (++seen >= count) {
        clearTimeout(timer);
        engine.off(name, on);
        resolve();
      }
    };
    engine.on(name, on);
  });
}

async function main(): Promise<void> {
  const pbx = new VoipMediaEngine();
  const desk = new VoipMediaEngine();

  check('pbx.startSipTelephony', await pbx.startSipTelephony({
    numPhoneLinesRequested: 2, ipAddressOfThisHost: '127.0.0.1', sipPort: 0, phoneName: 'pbx',
    userNotifyCallbackProc: (n) => {
      print('pbx', n);
      if (n.event === T.SipRegisterReceived) {
        const d = n.data as unknown as RegisterReceivedData;
        // The application decides: accept the desk's extensions 100..199 only.
        d.acceptRegistration = /^1\d\d$/.test(d.user);
      }
    },
  }));
  const pbxPort = pbx.getSipPort();
  console.log(`            pbx listens on 127.0.0.1:${pbxPort}`);

  check('desk.startSipTelephony', await desk.startSipTelephony({
    numPhoneLinesRequested: 4, ipAddressOfThisHost: '127.0.0.1', sipPort: 0, phoneName: 'desk', phoneDisplayName: 'Front Desk',
    userNotifyCallbackProc: (n) => print('desk', n),
  }));

  const registered = waitFor(desk, T.SipRegisterSuccess, 4);
  check('desk.enableSipRegisterServer', await desk.enableSipRegisterServer('100,101,102,103', true, false, '127.0.0.1', pbxPort, 60, 60, 4000, true));
  await registered;

  const { bindings } = pbx.getRegistrarBindings();
  console.log('            pbx bindings:');
  for (const b of bindings) console.log(`              ${b.user} -> ${b.contact} (expires in ${b.expiresIn} s)`);
  for (const name of ['100', '101', '102', '103']) {
    console.log(`            a call for ${name} would ring desk line ${desk.lineForIncomingCall(name)}`);
  }
  const { registrations } = desk.getRegistrationStatus();
  console.log(`            desk registrations: ${registrations.map((r) => `${r.name}=${r.state}`).join(' ')}`);

  check('desk.disableSipRegisterServer', await desk.disableSipRegisterServer());
  console.log(`            pbx bindings after unregister: ${pbx.getRegistrarBindings().bindings.length}`);

  check('desk.stopSipTelephony', await desk.stopSipTelephony());
  check('pbx.stopSipTelephony', await pbx.stopSipTelephony());
  console.log('            demo finished');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
