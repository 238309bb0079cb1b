/**
 * The message part of the `npm start` demo: instant messages (RFC 3428) between the demo's two
 * engines. The pbx pages the desk out of dialog (text, then binary with NUL bytes), the desk
 * refuses a type it does not take (415), then the pbx calls extension 101 and both sides chat
 * inside the call before it hangs up. Notifications are printed by the engines' callbacks.
 * @module
 */
import { VoipMediaEngine, TelephonyReturnValue as T, type Notification, type RecvMessageData } from '../index.js';

function say(text: string): void {
  console.log(`            ${text}`);
}

/** Resolves with the next notification `event` of `engine` (rejects after `timeoutMs`). */
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

function ok(what: string, rc: T): void {
  say(`${what} -> ${T[rc]}`);
  if (rc !== T.SipSuccess) throw new Error(`${what} failed: ${T[rc]}`);
}

function text(n: Notification): string {
  return (n.data as unknown as RecvMessageData).messageData.toString('utf8');
}

/**
 * Runs the message exchange. `desk` must answer incoming calls on its own (the main demo's
 * handler does) and have a line registered as `101` or a free line.
 *
 * @param pbx the engine that pages and calls
 * @param desk the engine that receives
 */
export async function demoMessaging(pbx: VoipMediaEngine, desk: VoipMediaEngine): Promise<void> {
  say('--- instant messages (RFC 3428) ---');
  const deskUri = `sip:100@127.0.0.1:${desk.getSipPort()}`;
  ok("desk.setAcceptedMessageMimeTypes(['text/plain', 'application/octet-stream'])", desk.setAcceptedMessageMimeTypes(['text/plain', 'application/octet-stream']));

  let received = next(desk, T.SipRecvOutOfDialogMessage);
  let sent = next(pbx, T.SipSendOutOfDialogMessageSuccess);
  const page = pbx.sendOutOfDialogMessage(deskUri, 'text', 'plain', 'Meeting at 3 pm, room 2');
  ok(`pbx.sendOutOfDialogMessage(text) messageId=${page.messageId}`, page.result);
  say(`desk reads: "${text(await received)}"`);
  await sent;

  const blob = Buffer.from([0x4c, 0x53, 0x00, 0x01, 0x00, 0xff]);
  received = next(desk, T.SipRecvOutOfDialogMessage);
  sent = next(pbx, T.SipSendOutOfDialogMessageSuccess);
  ok('pbx.sendOutOfDialogMessage(binary with NUL bytes)', pbx.sendOutOfDialogMessage(deskUri, 'application', 'octet-stream', blob).result);
  const got = (await received).data as unknown as RecvMessageData;
  say(`desk got ${got.messageData.length} bytes, identical: ${got.messageData.equals(blob)}`);
  await sent;

  const refused = next(pbx, T.SipSendOutOfDialogMessageFailure);
  ok('pbx.sendOutOfDialogMessage(image/png)', pbx.sendOutOfDialogMessage(deskUri, 'image', 'png', blob).result);
  const why = (await refused).data as unknown as { code: number; reason: string };
  say(`the desk refused it: ${why.code} ${why.reason}`);

  // A chat inside a call: the pbx dials 101, the desk answers.
  const deskConnected = next(desk, T.SipIncomingCallConnected);
  ok('pbx.makeCall(101)', await pbx.makeCall('101', '127.0.0.1', desk.getSipPort(), 1, true, 5000));
  const deskLine = (await deskConnected).phoneLine;
  const atDesk = next(desk, T.SipRecvMessage);
  ok('pbx.sendMessage(line 1)', pbx.sendMessage(1, 'text', 'plain', 'Can you hear me?').result);
  say(`desk line ${deskLine} reads: "${text(await atDesk)}"`);
  const atPbx = next(pbx, T.SipRecvMessage);
  ok(`desk.sendMessage(line ${deskLine})`, desk.sendMessage(deskLine, 'text', 'plain', 'Loud and clear.').result);
  say(`pbx line 1 reads: "${text(await atPbx)}"`);
  const deskOnHook = next(desk, T.SipOnHook);
  ok('pbx.terminateCall(1)', await pbx.terminateCall(1, true, 3000));
  await deskOnHook;
}
