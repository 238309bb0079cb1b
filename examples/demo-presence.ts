/**
 * The presence part of the `npm start` demo: the pbx engine watches the desk engine's presence.
 * The desk authorizes the watcher, changes its status twice, goes offline, and the pbx
 * unsubscribes. Both engines must be started; their notifications are printed by demo.ts.
 * @module
 */
import { VoipMediaEngine, TelephonyReturnValue as T } from '../index.js';
import { check, nextEvent, say } from './demoKit.js';

/**
 * Runs the presence demo between two started engines: `watcher` subscribes to the presence of
 * `presentity` (reached at 127.0.0.1 on its SIP port, user `presentityUser`).
 */
export async function demoPresence(watcher: VoipMediaEngine, presentity: VoipMediaEngine, presentityUser: string): Promise<void> {
  say('--- presence: the pbx watches the desk');
  const contact = `sip:${presentityUser}@127.0.0.1:${presentity.getSipPort()}`;
  const asked = nextEvent(presentity, T.SipPresenceRecvSubscribe);
  check(`pbx.presenceSubscribe(${contact})`, await watcher.presenceSubscribe(contact, 'Is the desk staffed?'));
  const request = (await asked).data;
  say(`desk: ${request.from} asks to watch ("${request.subject}")`);
  check('desk.setPresenceStatus("At the front desk")', presentity.setPresenceStatus('At the front desk'));
  let online = nextEvent(watcher, T.SipPresenceOnline);
  check(`desk.presenceAcceptSubscribe(${request.subscribeId})`, presentity.presenceAcceptSubscribe(request.subscribeId));
  say(`pbx sees the desk online: "${(await online).data?.stateText}"`);
  online = nextEvent(watcher, T.SipPresenceOnline);
  check('desk.setPresenceStatus("On a break, back at 3")', presentity.setPresenceStatus('On a break, back at 3'));
  say(`pbx sees: "${(await online).data?.stateText}"`);
  const offline = nextEvent(watcher, T.SipPresenceOffline);
  check('desk.presenceOffline', presentity.presenceOffline());
  await offline;
  say('pbx sees the desk offline');
  check('pbx.presenceUnsubscribe', await watcher.presenceUnsubscribe(contact));
  say(`desk watchers left: ${presentity.getPresenceWatchers().watchers.length}`);
}
