/**
 * SDES offer/answer edge cases as SIPp UAC scenarios against an engine with SRTP optional (and
 * one with SRTP mandatory): several crypto attributes (the first usable one is answered), an
 * unknown suite only, a missing key, a duplicated tag, a lower-case suite name, RTP/SAVP versus
 * RTP/AVP with crypto. The scenarios check the answer's m= line and crypto line with `ereg`.
 * @module
 */
import type { ExecutionContext } from 'ava';
import { TelephonyReturnValue as T, type SrtpPolicy } from '../index.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';
import { native, peerTest } from './helpers/env.js';
import { runSippUac } from './helpers/peers.js';

const PHONE_NAME = 'sdes';

/** An engine answering every call, recording whether each call was encrypted when it connected. */
async function answeringEngine(t: ExecutionContext, policy: SrtpPolicy): Promise<EngineUnderTest & { encrypted: (boolean | undefined)[] }> {
  const e = await startEngine(t, { phoneName: PHONE_NAME, srtpPolicy: policy });
  const encrypted: (boolean | undefined)[] = [];
  e.engine.on('SipOkToAnswerCall', (n) => e.engine.goOffHook(n.phoneLine));
  e.engine.on('SipIncomingCallConnected', (n) => encrypted.push(e.engine.getActiveCallInfo(n.phoneLine).encrypted));
  return { ...e, encrypted };
}

/** Scenario, the engine's policy, and the final status the engine must send. */
const CASES: [string, SrtpPolicy, number][] = [
  ['uac-srtp-several-crypto.xml', 'optional', 200],
  ['uac-srtp-duplicate-tag.xml', 'optional', 200],
  ['uac-srtp-lowercase-suite.xml', 'optional', 200],
  ['uac-srtp-avp-crypto.xml', 'optional', 200],
  ['uac-srtp-avp-crypto.xml', 'mandatory', 200],
  ['uac-srtp-unknown-suite.xml', 'optional', 488],
  ['uac-srtp-missing-key.xml', 'optional', 488],
  ['uac-srtp-savp-no-crypto.xml', 'mandatory', 488],
];

for (const [scenario, policy, status] of CASES) {
  peerTest(`SDES ${scenario} against SRTP ${policy}: ${status}`, ['sipp', native('srtp2')], async (t) => {
    const e = await answeringEngine(t, policy);
    const r = await runSippUac(e.port, scenario, PHONE_NAME);
    t.is(r.code, 0, r.summary);
    if (status === 200) {
      await e.waitFor(T.SipIncomingCallConnected);
      t.deepEqual(e.encrypted, [true], 'the call connected with SRTP');
      await e.waitFor(T.SipCallComplete);
    } else {
      const aborted = await e.waitFor(T.SipIncomingCallAborted);
      t.is(Number(aborted.data.statusCode), status);
      t.is(e.of(T.SipOkToAnswerCall).length, 0, 'a refused offer never rings');
    }
  });
}
