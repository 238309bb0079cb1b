/**
 * The message part of the `npm start` demo: instant messages (RFC 3428) between the demo's two
 * engines. The pbx pages the desk out of dialog (text, then binary with NUL bytes), the desk
 * refuses a type it does not take (415), then the pbx calls extension 101 and both sides chat
 * inside the call before it hangs up. Notifications are printed by the engines' callbacks.
 * @module
 */
import { VoipMediaEngine, TelephonyReturnValue as T, type Notification, type RecvMessageData } from '../index.js';
import { check, nextEvent, say } from './demoKit.js';

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
  check("desk.setAcceptedMessageMimeTypes(['text/plain', 'application/octet-stream'])", desk.setAcceptedMessageMimeTypes(['text/plain', 'application/octet-stream']));

  let received = nextEvent(desk, T.SipRecvOutOfDialogMessage);
  let sent = nextEvent(pbx, T.SipSendOutOfDialogMessageSuccess);
  const page = pbx.sendOutOfDialogMessage(deskUri, 'text', 'plain', 'Meeting at 3 pm, room 2');
  check(`pbx.sendOutOfDialogMessage(text) messageId=${page.messageId}`, page.result);
  say(`desk reads: "${text(await received)}"`);
  await sent;

  const blob = Buffer.from([0x4c, 0x53, 0x00, 0x01, 0x00, 0xff]);
  received = nextEvent(desk, T.SipRecvOutOfDialogMessage);
  sent = nextEvent(pbx, T.SipSendOutOfDialogMessageSuccess);
  check('pbx.sendOutOfDialogMessage(binary with NUL bytes)', pbx.sendOutOfDialogMessage(deskUri, 'application', 'octet-stream', blob).result);
  const got = (await received).data as unknown as RecvMessageData;
  say(`desk got ${got.messageData.length} bytes, identical: ${got.messageData.equals(blob)}`);
  await sent;

  const refused = nextEvent(pbx, T.SipSendOutOfDialogMessageFailure);
  check('pbx.sendOutOfDialogMessage(image/png)', pbx.sendOutOfDialogMessage(deskUri, 'image', 'png', blob).result);
  const why = (await refused).data as unknown as { code: number; reason: string };
  say(`the desk refused it: ${why.code} ${why.reason}`);

  // A chat inside a call: the pbx dials 101, the desk answers.
  const deskConnected = nextEvent(desk, T.SipIncomingCallConnected);
  check('pbx.makeCall(101)', await pbx.makeCall('101', '127.0.0.1', desk.getSipPort(), 1, true, 5000));
  const deskLine = (await deskConnected).phoneLine;
  const atDesk = nextEvent(desk, T.SipRecvMessage);
  check('pbx.sendMessage(line 1)', pbx.sendMessage(1, 'text', 'plain', 'Can you hear me?').result);
  say(`desk line ${deskLine} reads: "${text(await atDesk)}"`);
  const atPbx = nextEvent(pbx, T.SipRecvMessage);
  check(`desk.sendMessage(line ${deskLine})`, desk.sendMessage(deskLine, 'text', 'plain', 'Loud and clear.').result);
  say(`pbx line 1 reads: "${text(await atPbx)}"`);
  const deskOnHook = nextEvent(desk, T.SipOnHook);
  check('pbx.terminateCall(1)', await pbx.terminateCall(1, true, 3000));
  await deskOnHook;
}
