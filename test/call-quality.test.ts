/**
 * Call quality end to end: three engine-to-engine G.711 calls at once, each through its own
 * lossy UDP relays (0 %, 5 % and 20 % random loss in both directions). The relays' configured
 * loss is what is judged: the MOS must fall in that order and land in the band the E-model
 * gives for that loss (see docs/operations-metrics.md), whatever the machine's load does to
 * jitter and delay, and the loss the engine reports must match what the relays dropped.
 */
import test from 'ava';
import { TelephonyReturnValue as T, MediaFormatAudio, type CallQuality } from '../index.js';
import { startEngine } from './helpers/engine.js';
import { sendTone } from './helpers/audio.js';
import { until } from './helpers/observe.js';
import { UdpRelay } from './helpers/udpRelay.js';
import { mosFromR, rFactor } from '../media/quality.js';

/** MOS band of G.711 with PLC for each configured loss, one-way delay anywhere up to 180 ms. */
const BANDS: ReadonlyArray<{ loss: number; min: number; max: number }> = [
  { loss: 0, min: 4.2, max: 4.5 },
  { loss: 0.05, min: 3.35, max: 4.2 },
  { loss: 0.2, min: 2.0, max: 3.0 },
];

const HOST = '127.0.0.1';

/** The bands hold for one-way delay up to this and (nearly) no late discards. */
const BAND_DELAY_MS = 180;

/**
 * The MOS a band is judged on. Delay and late discards grow with the machine's load (the
 * adaptive jitter buffer deepens on late packets), loss does not: when load pushed them past the
 * band's conditions, judge the figure with the load-dependent parts at the band's limit, i.e.
 * what the relay's configured loss alone gives.
 */
function judged(q: CallQuality): { mos: number; loaded: boolean } {
  const loaded = q.oneWayDelayMs > BAND_DELAY_MS || q.discardPercent > 1;
  return { mos: loaded ? mosFromR(rFactor(q.codec, q.lossPercent, BAND_DELAY_MS)) : q.mos, loaded };
}

/** The figure is the E-model of its own inputs (to rounding): the wiring from statistics is right. */
function consistent(q: CallQuality): boolean {
  return Math.abs(mosFromR(rFactor(q.codec, q.lossPercent + q.discardPercent, q.oneWayDelayMs)) - q.mos) <= 0.011;
}

test('MOS falls with the relay loss (0, 5, 20 %) and stays in each loss band; SipCallComplete carries the final figure', async (t) => {
  const a = await startEngine(t, { numPhoneLinesRequested: 3, phoneName: 'alice' });
  const b = await startEngine(t, { numPhoneLinesRequested: 3, phoneName: 'bob' });
  b.engine.on('SipOkToAnswerCall', (n) => b.engine.goOffHook(n.phoneLine));
  for (let l = 0; l < 3; l++) {
    a.engine.setAudioMediaFormats(l, [MediaFormatAudio.ULaw8k]);
    b.engine.setAudioMediaFormats(l, [MediaFormatAudio.ULaw8k]);
  }

  // One relay per call, named in both SDPs: Alice is told the relay's front port, Bob the
  // relay's upstream port for Alice. Each side then hears RTP only from the address its SDP
  // named, so symmetric RTP latches there at once and every packet crosses the relay once.
  const relays: UdpRelay[] = [];
  for (const [i, band] of BANDS.entries()) {
    const faults = { loss: band.loss };
    const relay = await UdpRelay.create({ target: { host: HOST, port: 9 }, seed: 10 + i, toTarget: faults, fromTarget: faults });
    t.teardown(() => relay.close());
    await relay.prepareUpstream();
    relays.push(relay);
  }

  let current: UdpRelay | undefined;
  t.is(a.engine.enableSipMessageHook(true), T.SipSuccess);
  a.engine.on('SipModifySipMessage', (n) => {
    const d = n.data;
    const m = /\r\nm=audio (\d+) /.exec(d.message);
    if (!m || !current) return;
    const port = Number(m[1]);
    let relayPort: number | undefined;
    if (d.direction === 'sent' && d.message.startsWith('INVITE ')) {
      relayPort = current.claimUpstream({ host: HOST, port }); // Alice's offer: Bob sends to the upstream
    } else if (d.direction === 'received' && d.message.startsWith('SIP/2.0 200') && /CSeq: *\d+ INVITE/i.test(d.message)) {
      current.setTarget({ host: HOST, port }); // Bob's answer: Alice sends to the front
      relayPort = current.port;
    }
    if (relayPort !== undefined) d.message = d.message.replace(m[0], `\r\nm=audio ${relayPort} `);
  });

  for (let line = 0; line < 3; line++) {
    current = relays[line];
    t.is(await a.engine.makeCall('bob', HOST, b.port, line, true, 10000), T.SipSuccess);
  }
  current = undefined;
  await b.waitForCount(T.SipIncomingCallConnected, 3);
  const bLineOf = (aLine: number): number => {
    const callId = a.engine.getActiveCallInfo(aLine).callId;
    return [0, 1, 2].find((l) => b.engine.getActiveCallInfo(l).callId === callId)!;
  };
  const bLines = [0, 1, 2].map(bLineOf);
  for (let line = 0; line < 3; line++) {
    sendTone(a.engine, line, 500 + 200 * line, 30);
    sendTone(b.engine, bLines[line]!, 600 + 200 * line, 30);
  }

  // Judge once each side has expected 300 packets (6 s of 20 ms frames): enough for the loss to settle.
  const expected = (e: typeof a, line: number): number => {
    const s = e.engine.getActiveCallInfo(line).statistics as { rx?: { expected?: number } } | undefined;
    return s?.rx?.expected ?? 0;
  };
  t.true(
    await until(() => [0, 1, 2].every((l) => expected(a, l) >= 300 && expected(b, bLines[l]!) >= 300), 60000),
    'each call carried 300 packets each way',
  );

  const at = (e: typeof a, line: number): CallQuality => {
    const r = e.engine.getCallQuality(line);
    t.is(r.result, T.SipSuccess);
    t.deepEqual(e.engine.getActiveCallInfo(line).quality?.codec, 'PCMU');
    return r.quality!;
  };
  const atB = [0, 1, 2].map((l) => at(b, bLines[l]!));
  const atA = [0, 1, 2].map((l) => at(a, l));
  t.log('bob', atB.map((q) => `${q.lossPercent}% loss MOS ${q.mos} R ${q.rFactor}`).join(' | '));
  t.log('alice', atA.map((q) => `${q.lossPercent}% loss MOS ${q.mos} R ${q.rFactor}`).join(' | '));
  for (const [i, band] of BANDS.entries()) {
    for (const [side, q] of [['bob', atB[i]!], ['alice', atA[i]!]] as const) {
      const what = `${side}, relay loss ${band.loss * 100} %: ${JSON.stringify(q)}`;
      const j = judged(q);
      if (j.loaded) t.log(`load moved delay/discards past the band's conditions; judged at ${BAND_DELAY_MS} ms: ${what}`);
      t.true(j.mos >= band.min && j.mos <= band.max, `MOS outside [${band.min}, ${band.max}]: ${what}`);
      t.true(consistent(q), what);
      t.true(q.rFactor > 0 && q.rFactor <= 93.2, what);
    }
    // The loss reported is the loss the relays caused, direction by direction (a few packets of
    // slack for the stream's edges: probation at the start, packets in flight at the end).
    const towardB = relays[i]!.stats.toTarget;
    const dropPercent = (100 * towardB.dropped) / towardB.received;
    t.true(Math.abs(atB[i]!.lossPercent - dropPercent) <= 1.5, `bob reports ${atB[i]!.lossPercent} %, relays dropped ${dropPercent.toFixed(2)} % toward him`);
  }
  for (const side of [atB, atA]) {
    const m = side.map((q) => judged(q).mos);
    t.true(m[0]! > m[1]! && m[1]! > m[2]!, `MOS falls with loss: ${m.join(' > ')}`);
  }

  // Hang up: SipCallComplete carries each call's final figure, in the same band.
  for (let line = 0; line < 3; line++) t.is(await a.engine.terminateCall(line, true, 5000), T.SipSuccess);
  const done = await a.waitForCount(T.SipCallComplete, 3);
  for (const n of done) {
    const q = n.data.quality;
    t.truthy(q, 'SipCallComplete has data.quality');
    const band = BANDS[n.phoneLine]!;
    const j = judged(q!);
    t.true(j.mos >= band.min && j.mos <= band.max, `final MOS of line ${n.phoneLine}: ${JSON.stringify(q)}`);
    t.true(consistent(q!));
  }
  t.is(a.engine.getCallQuality(0).result, T.SipNoCallActive);
});

test('getCallQuality validates like every line procedure and never throws', async (t) => {
  const a = await startEngine(t, { numPhoneLinesRequested: 2 });
  t.is(a.engine.getCallQuality(0).result, T.SipNoCallActive);
  t.is(a.engine.getCallQuality(2).result, T.SipBadPhoneLine);
  t.is(a.engine.getCallQuality(-1).result, T.SipBadPhoneLine);
  t.is(a.engine.getCallQuality(0.5).result, T.SipBadPhoneLine);
  t.is(a.engine.getCallQuality('0' as unknown as number).result, T.SipBadPhoneLine);
  const detached = a.engine.getCallQuality;
  t.is(detached.call(undefined, 0).result, T.SipInvalidHandle);
  t.is(detached.call({}, 0).result, T.SipInvalidHandle);
  const { VoipMediaEngine } = await import('../index.js');
  t.is(new VoipMediaEngine().getCallQuality(0).result, T.SipMediaEngineNotInitialized);
});
