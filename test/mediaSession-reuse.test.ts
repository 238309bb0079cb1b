/**
 * Sessions reused from a thread's shelf (`MediaSession.release`, then `MediaSession.open`): what a
 * media floor does with every call it ends, so that a set-up storm's short calls leave nothing
 * for the collector. A revived session must be a new session in every field but its buffers:
 * these tests dirty one in every way a call can (Opus, DTMF both ways, detection, a tone, gain,
 * loopback, silence suppression, keep-alives, a second source), give it back, and compare what
 * comes out of `open` with a session made new.
 */
import test from 'ava';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { dominantFrequency, rms } from './helpers/analysis.js';
import { MediaClock } from '../media/mediaClock.js';
import { isMediaSessionError, MediaSession, type DtmfMethod, type MediaSessionOptions } from '../media/session.js';
import { allocator, Capture, HOST, near, params, sleep } from './helpers/sessionPair.js';
import { until } from './helpers/observe.js';
import type { RtpPortAllocator } from '../media/rtpSocket.js';
import { openLineMedia, type LineMedia } from '../lines/lineMedia.js';
import { PhoneLine } from '../lines/phoneLine.js';
import { defaultFormat, type NegotiatedMedia } from '../sip/sdp.js';

/** Fields that differ between any two sessions: their identity, random starts, ports. */
const PER_SESSION = new Set(['ssrc', 'cname', 'txSeq', 'txTs', 'rtcpCountdown', 'localPort', 'localRtcpPort', 'wavToken']);

/**
 * `open` of helpers/sessionPair without its teardown stop: a session given back is the next one's,
 * and a stop left for the end of the test would end that life. The tests stop their own.
 */
async function openSession(clock: MediaClock, alloc: RtpPortAllocator, extra: Partial<MediaSessionOptions> = {}): Promise<MediaSession> {
  const s = await MediaSession.open({ clock, allocator: alloc, localAddress: HOST, ...extra });
  if (isMediaSessionError(s)) throw new Error(s.message);
  return s;
}

/** An offer/answer's result: PCMU both ways with `port` on HOST. */
function negotiated(port: number): NegotiatedMedia {
  return {
    remoteAddress: HOST,
    remotePort: port,
    remoteRtcpAddress: HOST,
    remoteRtcpPort: port + 1,
    codec: defaultFormat('PCMU'),
    receivePayloadType: 0,
    remoteDirection: 'sendrecv',
    localDirection: 'sendrecv',
    sending: true,
    receiving: true,
    remoteHold: false,
    ptime: 20,
    rtcpMux: false,
    sessionVersion: '1',
    sessionId: '1',
  };
}

/** A session's fields holding a number, string, boolean, null or undefined. */
function plainFields(s: MediaSession): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) if (!PER_SESSION.has(k) && (v === null || (typeof v !== 'object' && typeof v !== 'function'))) out[k] = v;
  return out;
}

/** What a session's statistics say, without its identity. */
function statsText(s: MediaSession): string {
  return JSON.stringify(s.stats());
}

test.serial('a released session comes back from open as a new one, and carries audio and DTMF', async (t) => {
  const clock = new MediaClock();
  t.teardown(() => clock.stop());
  const alloc = await allocator(8);
  const digitsA: [string, DtmfMethod][] = [];
  // the first life: Opus, then G.711, every feature touched
  const a = await openSession(clock, alloc, { dtmfDetect: true, onDtmf: (d, m) => digitsA.push([d, m]) });
  const b = await openSession(clock, alloc, { dtmfDetect: true });
  t.true(a.configure(params('opus', b.localPort)));
  t.true(b.configure(params('opus', a.localPort)));
  clock.start();
  a.start();
  b.start();
  a.setOpusSettings({ bitrate: 24000, fec: true });
  a.setVolume(150, 60);
  a.setSilenceSuppression(true);
  a.setKeepAlive(100);
  t.true(b.playTone([1000]));
  await sleep(300);
  t.true(a.configure(params('PCMU', b.localPort)));
  t.true(b.configure(params('PCMU', a.localPort)));
  t.is(b.sendDtmf('159', 'rfc4733', 60), 'rfc4733');
  t.is(a.sendDtmf('2', 'inband', 80), 'inband');
  a.setLoopback(true);
  // a second source: reported, dropped, counted
  const stranger = dgram.createSocket('udp4');
  stranger.bind(0, HOST);
  await once(stranger, 'listening');
  stranger.send(Buffer.from('80000001000000000000beef' + 'ff'.repeat(160), 'hex'), a.localPort, HOST);
  t.true(await until(() => digitsA.length >= 3, 8000));
  await sleep(200);
  t.true(a.stats().rx.received > 10 && a.stats().tx.packets > 10);
  stranger.close();
  await Promise.all([a.stop(), b.stop()]);
  b.release();
  a.release();

  // both come back: the last one given back first
  const c = await openSession(clock, alloc, { dtmfDetect: true });
  const d = await openSession(clock, alloc);
  t.is(c, a);
  t.is(d, b);
  const fresh = await openSession(clock, alloc, { dtmfDetect: true });
  t.not(fresh, a);
  t.not(fresh, b);
  t.deepEqual(plainFields(c), plainFields(fresh));
  t.is(statsText(c), statsText(fresh));
  t.not(c.ssrc, 0);
  t.is(c.closed, false);
  t.is(c.running, false);

  // the second life works like a first: a tone both ways and DTMF, counted from zero
  const digitsD: [string, DtmfMethod][] = [];
  await fresh.stop();
  await d.stop();
  const e = await openSession(clock, alloc, { onDtmf: (dg, m) => digitsD.push([dg, m]) });
  t.not(e, d); // d was stopped, not released: a new session
  t.teardown(() => Promise.all([c.stop(), e.stop()]));
  t.true(c.configure(params('PCMU', e.localPort)));
  t.true(e.configure(params('PCMU', c.localPort)));
  c.start();
  e.start();
  const cap = new Capture(e.openRx(8000));
  t.true(c.playTone([700]));
  await sleep(300);
  const pcm = await cap.record(500);
  t.true(rms(pcm) > 1000, `level ${rms(pcm)}`);
  near(t, dominantFrequency(pcm, 8000), 700, 'the revived session sends');
  t.is(c.sendDtmf('47', 'rfc4733', 60), 'rfc4733');
  t.true(await until(() => digitsD.length >= 2, 8000));
  t.is(digitsD.map((x) => x[0]).join(''), '47');
  const st = c.stats();
  t.is(st.mediaConflicts, 0);
  t.is(st.tx.keepAlives, 0);
  t.is(st.codec, 'PCMU');
});

test.serial('release before the stop has resolved, or twice, shelves nothing', async (t) => {
  const clock = new MediaClock();
  t.teardown(() => clock.stop());
  const alloc = await allocator(6);
  const s = await openSession(clock, alloc);
  const stopping = s.stop();
  s.release(); // too early: the socket is still closing
  await stopping;
  const other = await openSession(clock, alloc);
  t.not(other, s);
  s.release();
  s.release(); // once only
  const again = await openSession(clock, alloc);
  t.is(again, s);
  const next = await openSession(clock, alloc);
  t.not(next, s);
  // a session in use is never shelved by a stray release
  again.release();
  const last = await openSession(clock, alloc);
  t.not(last, again);
  await Promise.all([other.stop(), again.stop(), next.stop(), last.stop()]);
});

test.serial("a line's media on the main thread gives its session back once stopped, and whoever still holds it meets a stopped session", async (t) => {
  const clock = new MediaClock();
  t.teardown(() => clock.stop());
  const alloc = await allocator(8);
  const open = async (line: PhoneLine): Promise<LineMedia> => {
    const m = await openLineMedia({ clock, allocator: alloc, localAddress: HOST, line, dtmfDetect: false, rtpKeepAliveMs: 0, onDtmf: () => undefined, onMediaConflict: () => undefined });
    if (m === undefined) throw new Error('no media');
    return m;
  };
  const far = await openSession(clock, alloc);
  t.teardown(() => far.stop());
  const old = await open(new PhoneLine(0));
  t.true(old.configure(negotiated(far.localPort)));
  t.true(far.configure(params('PCMU', old.localPort)));
  clock.start();
  old.start();
  far.start();
  t.true(far.playTone([900]));
  t.true(await until(() => old.stats().rx.received > 5, 4000));
  const port = old.localPort;
  await old.stop();
  await new Promise<void>((r) => setImmediate(r));
  const final = old.stats();
  t.true(final.rx.received > 5);
  t.is((old as unknown as { s: unknown }).s, null, 'the session was given back');

  // the next call's media gets the same session back: the old holder must not reach it
  const next = await open(new PhoneLine(1));
  t.true(next.configure(negotiated(far.localPort)));
  next.start();
  old.setFramePort(null);
  old.setRecorder(null);
  old.setLevelTap(null);
  old.setVolume(0, 0);
  old.setLoopback(true);
  old.stopWave();
  t.false(old.sendDtmf('1', 'rfc4733'));
  t.false(old.configure(negotiated(far.localPort)));
  t.is(old.localPort, port);
  t.is(old.stats(), final, 'the figures kept at the release');
  const rx = old.openRx(8000).resume();
  await once(rx, 'end');
  t.true(await until(() => next.stats().rx.received > 5, 4000), 'the new call hears the far end');
  t.true(next.stats().tx.packets > 0);
  t.is(old.stats(), final, 'still the old figures');
  await next.stop();
});

test.serial("openingStats is what a session just opened reports, new or revived, for each jitter setting (a floor's call shows it until the floor's first figures)", async (t) => {
  const clock = new MediaClock();
  const alloc = await allocator(2);
  for (const [jitterMs, jitterEnabled] of [[60, true], [45, true], [200, false], [20, true]] as const) {
    for (let life = 0; life < 2; life++) {
      const s = await openSession(clock, alloc, { jitterMs, jitterEnabled });
      t.deepEqual(MediaSession.openingStats(jitterMs, jitterEnabled), s.stats(), `jitter ${jitterMs} ms ${jitterEnabled ? 'on' : 'off'}, life ${life}`);
      await s.stop();
      s.release();
    }
  }
  const s = await openSession(clock, alloc);
  t.deepEqual(MediaSession.openingStats(), s.stats(), 'the defaults');
  await s.stop();
});
