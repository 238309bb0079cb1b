/**
 * The registration client over a stream (fake transaction layer, VirtualClock): a TLS failure
 * is a SipRegisterError naming its reason and is retried at the retry pace; the registrar's
 * connection closing brings every registered name back at once, except right after a success
 * (a server dropping each connection gets the retry pace, not a loop).
 */
import test from 'ava';
import { EventEmitter } from 'node:events';
import { VirtualClock } from '../sip/clock.js';
import type { SipStack } from '../sip/stack.js';
import { TlsError } from '../sip/tlsTransport.js';
import { RegistrationClient } from '../engine/registration.js';
import { TelephonyReturnValue as T } from '../engine/returnCodes.js';
import { fakeContext } from './helpers/fakeContext.js';
import { fakeUac, settle } from './helpers/fakeSip.js';

const REGISTRAR = { protocol: 'TLS' as const, host: '127.0.0.2', port: 5061, serverName: 'pbx.example.com' };
const RETRY_MS = 10_000;

function harness() {
  const clock = new VirtualClock();
  const uac = fakeUac(clock);
  const transport = new EventEmitter();
  const raised: Array<{ event: T; data: Record<string, unknown> }> = [];
  const ctx = fakeContext({
    clock,
    uac: uac.services,
    runStack: { transport } as unknown as SipStack,
    contactUri: (name) => `sip:${name}@127.0.0.1:5061;transport=tls`,
    advertisedAddress: () => ({ host: '127.0.0.1', port: 5061, protocol: 'TLS' }),
    notifyGlobal: (event, data) => raised.push({ event, data: data as Record<string, unknown> }),
  });
  const client = new RegistrationClient(
    ctx,
    { publicAddressDetected: () => undefined },
    {
      names: ['500', '501'],
      linesByName: new Map(),
      destination: REGISTRAR,
      requestUri: 'sip:pbx.example.com',
      aorDomain: 'pbx.example.com',
      updateIntervalSeconds: 3600,
      expireSeconds: 3600,
      timeOutMs: 4000,
      natAutoDetect: false,
    },
    RETRY_MS,
  );
  const of = (event: T) => raised.filter((r) => r.event === event).map((r) => r.data);
  return { clock, uac, transport, client, of };
}

test('a TLS failure of the REGISTER: SipRegisterError 503 "TLS unknown-ca" with tlsReason, then a retry after the retry time', async (t) => {
  const h = harness();
  h.client.start();
  await settle();
  t.is(h.uac.of('REGISTER').length, 2);
  for (const s of h.uac.of('REGISTER')) s.user.onTransportError(new TlsError('unknown-ca', '127.0.0.2:5061', 'SELF_SIGNED_CERT_IN_CHAIN'));
  await settle();
  t.deepEqual(
    h.of(T.SipRegisterError).map((d) => [d['name'], d['statusCode'], d['reasonPhrase'], d['tlsReason']]),
    [['500', 503, 'TLS unknown-ca', 'unknown-ca'], ['501', 503, 'TLS unknown-ca', 'unknown-ca']],
  );
  t.is(h.of(T.SipRegisterTimeOut).length, 0);
  h.clock.advance(RETRY_MS - 1);
  await settle();
  t.is(h.uac.of('REGISTER').length, 2);
  h.clock.advance(1);
  await settle();
  t.is(h.uac.of('REGISTER').length, 4, 'both names tried again');
  h.client.dispose();
});

test('the registrar connection closing re-registers every registered name at once; right after a success, at the retry pace', async (t) => {
  const h = harness();
  h.client.start();
  await settle();
  for (const s of h.uac.of('REGISTER')) s.reply(200, { headers: [['Expires', '3600']] });
  await settle();
  t.is(h.of(T.SipRegisterSuccess).length, 2);
  h.clock.advance(5000);
  // another connection closing is none of its business
  h.transport.emit('connectionClosed', { protocol: 'TLS', host: '127.0.0.3', port: 5061, connectionId: 7 });
  await settle();
  t.is(h.uac.of('REGISTER').length, 2);
  h.transport.emit('connectionClosed', { protocol: 'TLS', host: '127.0.0.2', port: 5061, connectionId: 1 });
  await settle();
  t.is(h.uac.of('REGISTER').length, 4, 'both names at once');
  t.deepEqual(h.uac.of('REGISTER').slice(2).map((s) => s.dest), [REGISTRAR, REGISTRAR]);
  for (const s of h.uac.of('REGISTER').slice(2)) s.reply(200, { headers: [['Expires', '3600']] });
  await settle();
  // closed again straight after the 200s: no loop, the retry pace
  h.transport.emit('connectionClosed', { protocol: 'TLS', host: '127.0.0.2', port: 5061, connectionId: 2 });
  await settle();
  t.is(h.uac.of('REGISTER').length, 4);
  h.clock.advance(RETRY_MS);
  await settle();
  t.is(h.uac.of('REGISTER').length, 6);
  // once disposed, closing connections change nothing
  h.client.dispose();
  t.is(h.transport.listenerCount('connectionClosed'), 0);
});
