/**
 * A subscriber against a SIPp notifier (issue 10, item 11): a `multipart/mixed` NOTIFY hands the
 * package the part it accepts (and gets 415 with Accept when no part is understood), and the
 * final NOTIFY after our unsubscribe gets 200 even when it overtakes the 200 of the
 * unsubscribing SUBSCRIBE.
 */
import { TelephonyReturnValue as T } from '../index.js';
import { startEngine } from './helpers/engine.js';
import { peerTest } from './helpers/env.js';
import { sippScenario, startSipp, waitForUdpPort } from './helpers/peers.js';
import { freeUdpTcpPort } from './helpers/ports.js';

peerTest('message-summary: a multipart NOTIFY gives the summary part, one with no usable part gets 415, the final NOTIFY after unsubscribing gets 200', ['sipp'], async (t) => {
  const port = await freeUdpTcpPort();
  const sipp = startSipp(['-sf', sippScenario('uas-notify-multipart.xml'), '-p', String(port), '-m', '1', '-timeout', '20s', '-timeout_error']);
  t.teardown(() => sipp.kill());
  t.true(await waitForUdpPort(port));
  const e = await startEngine(t, { phoneName: 'watcher' });
  t.is(e.engine.enableSipMessageHook(true), T.SipSuccess);
  const { result, handle } = await e.engine.startEventSubscription(`sip:vm@127.0.0.1:${port}`, 'message-summary', 'application/simple-message-summary', 60);
  t.is(result, T.SipSuccess);
  const first = await e.waitFor(T.SipEventNotifyReceived, (n) => n.data.handle === handle && n.data.subscriptionState === 'active');
  t.is(first.data.contentType, 'application/simple-message-summary');
  t.regex(first.data.body.toString('latin1'), /^Messages-Waiting: yes\r\nVoice-Message: 2\/8 \(0\/2\)/);
  t.notRegex(first.data.body.toString('latin1'), /mwi-boundary|You have mail/);
  // SIPp takes the unsubscribe only after the 415 to its second NOTIFY.
  const refused = await e.waitFor(T.SipModifySipMessage, (n) => n.data.direction === 'sent' && n.data.message.startsWith('SIP/2.0 415 '));
  t.regex(refused.data.message, /\r\nAccept: application\/simple-message-summary\r\n/);
  t.is(e.engine.stopEventSubscription(handle), T.SipSuccess);
  const res = await sipp.wait();
  t.is(res.code, 0, res.summary);
  t.is(e.of(T.SipEventNotifyReceived).filter((n) => n.data.subscriptionState === 'active').length, 1, 'the NOTIFY without a usable part reached no one');
});
