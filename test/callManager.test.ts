/**
 * The call manager (lines/callManager.ts) with a fake host and a VirtualClock, over the real stack,
 * dialog router and transactions on a socket-less transport: choosing the line of a new INVITE
 * (by the called user, the application's answer to SipIncomingCallAssignPhoneLine, 486 when busy),
 * CANCEL matching (481 for none), in-dialog requests by dialog id through the router (OPTIONS,
 * INFO to the INFO handler, companion usages), dialogs detached when calls end, and the called
 * user of an INVITE.
 */
import test from 'ava';
import { parseMessage } from '../sip/parser.js';
import type { SipRequest } from '../sip/message.js';
import { calledUserOf } from '../lines/callManager.js';
import { CallState } from '../lines/callState.js';
import { TelephonyReturnValue as T } from '../engine/returnCodes.js';
import { callRig } from './helpers/callRig.js';
import { FarEndCall, farEndSdp, flush } from './helpers/fakeSipStack.js';

test('a new INVITE rings the line registered for the called user; the assignment is raised at once with its details', async (t) => {
  const rig = await callRig({ lines: 3 });
  rig.lines[1]!.registrationName = 'bob';
  rig.lines[2]!.registrationName = 'carol';
  new FarEndCall(rig.peer, 'carol').start();
  await flush();
  t.is(rig.lines[2]!.call?.state, CallState.Ringing);
  t.is(rig.lines[0]!.call, undefined);
  const assign = rig.events.find((e) => e.event === T.SipIncomingCallAssignPhoneLine);
  t.like(assign, { line: -1, data: { phoneLine: 2, calledUser: 'carol', rejectStatusCode: 0 } });
  t.deepEqual(rig.manager.calls(), [rig.lines[2]!.call]);
  t.is(rig.manager.dialogCount, 1);
  t.deepEqual(rig.bugs, []);
});

test('the application moves the call to another line, or refuses it with its own status', async (t) => {
  const rig = await callRig({ lines: 2 });
  rig.assign = (d) => {
    d.phoneLine = 1;
  };
  new FarEndCall(rig.peer).start();
  await flush();
  t.truthy(rig.lines[1]!.call);
  t.is(rig.lines[0]!.call, undefined);

  rig.assign = (d) => {
    d.rejectStatusCode = 603;
    d.rejectReasonPhrase = 'Not Today';
  };
  const refused = new FarEndCall(rig.peer);
  refused.start();
  await flush();
  const res = refused.inviteResponses().find((r) => r.status >= 200);
  t.is(res?.status, 603);
  t.is(res?.reason, 'Not Today');
  t.is(rig.lines[0]!.call, undefined);
});

test('every line busy: 486 Busy Here, and no call', async (t) => {
  const rig = await callRig({ lines: 1 });
  new FarEndCall(rig.peer).start();
  await flush();
  const second = new FarEndCall(rig.peer);
  second.start();
  await flush();
  t.is(second.inviteResponses().find((r) => r.status >= 200)?.status, 486);
  t.is(rig.manager.calls().length, 1);
});

test('a CANCEL matching no INVITE gets 481; one matching a ringing call gets 200 with the call\'s tag', async (t) => {
  const rig = await callRig();
  const stray = rig.peer.send('CANCEL', 'sip:bob@127.0.0.1:5060', { from: '<sip:alice@127.0.0.2>;tag=zz', to: '<sip:bob@127.0.0.1>', callId: 'nothing@here', cseq: 1 });
  await flush();
  t.is(rig.peer.responses().find((r) => r.headers.get('Call-ID') === 'nothing@here' && r.headers.get('CSeq') === stray.headers.get('CSeq'))?.status, 481);

  const far = new FarEndCall(rig.peer);
  far.start();
  await flush();
  const call = rig.lines[0]!.call!;
  const cancel = far.cancel();
  await flush();
  const ok = far.answersTo(cancel)[0]!;
  t.is(ok.status, 200);
  t.true((ok.headers.get('To') ?? '').includes(`tag=${call.tag}`));
  t.true(call.isEnded);
  t.is(rig.manager.dialogCount, 0);
});

test('in-dialog requests go by dialog id: OPTIONS answered with Allow, INFO to the INFO handler', async (t) => {
  const rig = await callRig();
  const infos: string[] = [];
  rig.manager.setInfoHandler((call, req, tx) => {
    infos.push(`${call.line.index}:${req.body.toString()}`);
    tx.respond(rig.stack.createResponse(req, 200, 'OK'));
  });
  const far = new FarEndCall(rig.peer);
  far.start();
  await flush();
  const call = rig.lines[0]!.call!;
  call.answer();
  far.ack();
  await flush();
  const options = far.request('OPTIONS');
  await flush();
  const allow = far.answersTo(options)[0]?.headers.getAll('Allow').join(', ') ?? '';
  t.regex(allow, /INVITE.*BYE.*INFO/);
  // issue 10 item 3: calls implement UPDATE (RFC 3311) now, so Allow lists it
  t.true(allow.includes('UPDATE'));
  const info = far.request('INFO', { headers: [['Content-Type', 'application/dtmf-relay']] });
  await flush();
  t.is(far.answersTo(info)[0]?.status, 200);
  t.deepEqual(infos, ['0:']);
  t.is(rig.manager.callForRequest(info), call);
  t.deepEqual(rig.bugs, []);
});

test('a module\'s usage lives on every call\'s dialog beside the INVITE session, and leaves with it', async (t) => {
  const rig = await callRig();
  const got: SipRequest[] = [];
  rig.manager.extendDialogs((call) => ({
    name: 'refer',
    methods: ['REFER'],
    dialog: () => call.dialog,
    handle: (req, tx) => {
      got.push(req);
      tx.respond(rig.stack.createResponse(req, 202, 'Accepted'));
    },
  }));
  const far = new FarEndCall(rig.peer);
  far.start();
  await flush();
  rig.lines[0]!.call!.answer();
  far.ack();
  await flush();
  const refer = far.request('REFER', { headers: [['Refer-To', '<sip:carol@127.0.0.3>']] });
  await flush();
  t.is(far.answersTo(refer)[0]?.status, 202);
  t.is(got.length, 1);
  const bye = far.request('BYE');
  await flush();
  t.is(far.answersTo(bye)[0]?.status, 200);
  const late = far.request('REFER', { headers: [['Refer-To', '<sip:carol@127.0.0.3>']] });
  await flush();
  t.is(far.answersTo(late)[0]?.status, 481, 'the usage left with the call');
  t.is(got.length, 1);
  t.is(rig.manager.dialogCount, 0);
});

test('an outgoing call is found by its dialog (Replaces matching) until it ends', async (t) => {
  const rig = await callRig();
  const call = await rig.dial();
  const invite = rig.peer.last('INVITE');
  rig.peer.respond(invite, 200, 'p1', { sdp: farEndSdp(30000) });
  await flush();
  t.is(rig.manager.callForDialog(invite.headers.get('Call-ID')!, call.tag, 'p1'), call);
  t.is(call.remoteTag, 'p1');
  const done = call.hangUp();
  await flush();
  rig.peer.respond(rig.peer.last('BYE'), 200, undefined);
  await done;
  t.is(rig.manager.callForDialog(invite.headers.get('Call-ID')!, call.tag, 'p1'), undefined);
  t.is(rig.lines[0]!.call, undefined, 'the line is given back');
});

test('takeIncomingOnLine puts an INVITE on a given line, bypassing the assignment', async (t) => {
  const rig = await callRig({ lines: 2 });
  const far = new FarEndCall(rig.peer);
  // the router would hand this INVITE to the method table; take it over directly as transfer does
  rig.stack.onRequest = (req, tx, from) => void rig.manager.takeIncomingOnLine(rig.lines[1]!, req, tx, from);
  far.start();
  await flush();
  t.is(rig.lines[1]!.call?.state, CallState.Ringing);
  t.false(rig.events.some((e) => e.event === T.SipIncomingCallAssignPhoneLine));
});

test('the called user: the Request-URI user, else the To user, percent-decoded', (t) => {
  const req = (uri: string, to: string): SipRequest =>
    parseMessage(Buffer.from(`INVITE ${uri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2;branch=z9hG4bKx\r\nFrom: <sip:a@127.0.0.2>;tag=1\r\nTo: ${to}\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`)) as SipRequest;
  t.is(calledUserOf(req('sip:bob%20smith@127.0.0.1', '<sip:x@127.0.0.1>')), 'bob smith');
  t.is(calledUserOf(req('sip:127.0.0.1', '<sip:carol@127.0.0.1>')), 'carol');
  t.is(calledUserOf(req('sip:127.0.0.1', '<sip:127.0.0.1>')), undefined);
});

test('the called user of a tel: URI (or sip: with user=phone) is its number without visual separators', (t) => {
  const req = (uri: string, to: string): SipRequest =>
    parseMessage(Buffer.from(`INVITE ${uri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2;branch=z9hG4bKx\r\nFrom: <tel:+15550199>;tag=1\r\nTo: ${to}\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`)) as SipRequest;
  t.is(calledUserOf(req('tel:+1-555-0100', '<tel:+1-555-0100>')), '+15550100');
  t.is(calledUserOf(req('tel:1234;phone-context=example.com', '<tel:1234;phone-context=example.com>')), '1234');
  t.is(calledUserOf(req('sip:+1.555.(0100)@127.0.0.1;user=phone', '<sip:x@127.0.0.1>')), '+15550100');
  t.is(calledUserOf(req('sip:1-800-bob@127.0.0.1', '<sip:x@127.0.0.1>')), '1-800-bob', 'without user=phone a SIP user stays as written');
  t.is(calledUserOf(req('sip:127.0.0.1', '<tel:(555)%2D0100;phone-context=+1>')), '5550100', 'the To number when the Request-URI has no user');
});
