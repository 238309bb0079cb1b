/**
 * The presence part of the `npm start` demo: the pbx engine watches the desk engine's presence.
 * The desk authorizes the watcher, changes its status twice, goes offline, and the pbx
 * unsubscribes. Both engines must be started; their notifications are printed by demo.ts.
 * @module
 */
import { VoipMediaEngine, TelephonyReturnValue as T, getTelephonyStatusString, type Notification, type PresenceRecvSubscribeData } from '../index.js';

function check(what: string, rc: T): void {
  console.log(`            ${what} -> ${T[rc]} (${getTelephonyStatusString(rc)})`);
  if (rc !== T.SipSuccess) throw new Error(`${what} failed: ${T[rc]}`);
}

function next(engine: VoipMediaEngine, event: T, timeoutMs = 5000): Promise<Notification> {
  return new Promise((resolve, reject) => {
    const name = T[event]!;
    const timer = setTimeout(() => {
      engine.off(name, on);
      reject(new Error(`timed out waiting for ${name}`));
    }, timeoutMs);
    const on = (n: Notification): void => {
      clearTimeout(timer);
      engine.off(name, on);
      resolve(n);
    };
    engine.on(name, on);
  });
}

/**
 * Runs the presence demo between two started engines: `watcher` subscribes to the presence of
 * `presentity` (reached at 127.0.0.1 on its SIP port, user `presentityUser`).
 */
export async function demoPresence(watcher: VoipMediaEngine, presentity: VoipMediaEngine, presentityUser: string): Promise<void> {
  console.log('            --- presence: the pbx watches the desk');
  const contact = `sip:${presentityUser}@127.0.0.1:${presentity.getSipPort()}`;
  const asked = next(presentity, T.SipPresenceRecvSubscribe);
  check(`pbx.presenceSubscribe(${contact})`, await watcher.presenceSubscribe(contact, 'Is the desk staffed?'));
  const request = (await asked).data as unknown as PresenceRecvSubscribeData;
  console.log(`            desk: ${request.from} asks to watch ("${request.subject}")`);
  check('desk.setPresenceStatus("At the front desk")', presentity.setPresenceStatus('At the front desk'));
  let online = next(watcher, T.SipPresenceOnline);
  check(`desk.presenceAcceptSubscribe(${request.subscribeId})`, presentity.presenceAcceptSubscribe(request.subscribeId));
  console.log(`            pbx sees the desk online: "${(await online).data?.stateText}"`);
  online = next(watcher, T.SipPresenceOnline);
  check('desk.setPresenceStatus("On a break, back at 3")', presentity.setPresenceStatus('On a break, back at 3'));
  console.log(`            pbx sees: "${(await online).data?.stateText}"`);
  const offline = next(watcher, T.SipPresenceOffline);
  check('desk.presenceOffline', presentity.presenceOffline());
  await offline;
  console.log('            pbx sees the desk offline');
  check('pbx.presenceUnsubscribe', await watcher.presenceUnsubscribe(contact));
  console.log(`            desk watchers left: ${presentity.getPresenceWatchers().watchers.length}`);
}
