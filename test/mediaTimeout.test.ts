/**
 * The media time-out's sweep (lines/mediaTimeout.ts) in virtual time, with fake calls: a silent
 * call ends after the time-out, one whose counter moves (RTP or RTCP) stays, held calls stay
 * (ours, the far end's, a direction that sends us nothing) and get a full time-out after the
 * hold ends, 0 turns the check off, calls that are not Confirmed are not watched, and stop leaves
 * no timer behind.
 */
import test from 'ava';
import { VirtualClock } from '../sip/clock.js';
import { CallState } from '../lines/callState.js';
import { MediaTimeoutWatch, MEDIA_TIMEOUT_SWEEP_MS, type MediaWatchedCall } from '../lines/mediaTimeout.js';

class FakeCall implements MediaWatchedCall {
  state = CallState.Confirmed;
  localHold = false;
  farEndHold = false;
  negotiated = { receiving: true };
  packets = 0;
  endedWith: number[] = [];
  readonly media = { mediaActivity: () => this.packets };
  mediaTimedOut(seconds: number): void {
    this.endedWith.push(seconds);
    this.state = CallState.Terminating;
  }
}

function rig(seconds: number, ...calls: FakeCall[]) {
  const clock = new VirtualClock();
  const host = { timeout: seconds };
  const watch = new MediaTimeoutWatch({ clock: () => clock, calls: () => calls, timeoutSeconds: () => host.timeout });
  watch.start();
  return { clock, host, watch };
}

test('a silent call ends once the time-out has passed since it was first seen, with the seconds in force', (t) => {
  const c = new FakeCall();
  const { clock } = rig(5, c);
  clock.advance(MEDIA_TIMEOUT_SWEEP_MS); // first seen here
  clock.advance(4 * MEDIA_TIMEOUT_SWEEP_MS);
  t.deepEqual(c.endedWith, [], 'not before the time-out');
  clock.advance(MEDIA_TIMEOUT_SWEEP_MS);
  t.deepEqual(c.endedWith, [5]);
  clock.advance(10 * MEDIA_TIMEOUT_SWEEP_MS);
  t.deepEqual(c.endedWith, [5], 'ended once');
});

test('any received packet (RTP or RTCP, one counter) restarts the silence', (t) => {
  const c = new FakeCall();
  const { clock } = rig(3, c);
  for (let i = 0; i < 20; i++) {
    // one packet every 2 s, e.g. RTCP alone
    if (i % 2 === 0) c.packets++;
    clock.advance(MEDIA_TIMEOUT_SWEEP_MS);
  }
  t.deepEqual(c.endedWith, []);
  clock.advance(5 * MEDIA_TIMEOUT_SWEEP_MS);
  t.deepEqual(c.endedWith, [3], 'ends once the packets stop');
});

test('held calls are excepted (we hold, the far end holds, the far end sends nothing) and get a full time-out after the hold', (t) => {
  const ours = new FakeCall();
  ours.localHold = true;
  const theirs = new FakeCall();
  theirs.farEndHold = true;
  const inactive = new FakeCall();
  inactive.negotiated = { receiving: false };
  const { clock } = rig(2, ours, theirs, inactive);
  clock.advance(30 * MEDIA_TIMEOUT_SWEEP_MS);
  t.deepEqual([ours.endedWith, theirs.endedWith, inactive.endedWith], [[], [], []]);
  ours.localHold = false;
  clock.advance(MEDIA_TIMEOUT_SWEEP_MS);
  t.deepEqual(ours.endedWith, [], 'the silence is measured from the last sweep that saw the hold');
  clock.advance(MEDIA_TIMEOUT_SWEEP_MS);
  t.deepEqual(ours.endedWith, [2]);
});

test('0 turns the check off, also for calls already up; a new value applies at the next sweep', (t) => {
  const c = new FakeCall();
  const { clock, host } = rig(0, c);
  clock.advance(100 * MEDIA_TIMEOUT_SWEEP_MS);
  t.deepEqual(c.endedWith, []);
  host.timeout = 2;
  clock.advance(MEDIA_TIMEOUT_SWEEP_MS);
  clock.advance(2 * MEDIA_TIMEOUT_SWEEP_MS);
  t.deepEqual(c.endedWith, [2]);
});

test('calls that are not Confirmed or have no media counter are not watched; ended calls are forgotten', (t) => {
  const ringing = new FakeCall();
  ringing.state = CallState.Ringing;
  const noMedia = new FakeCall() as MediaWatchedCall & FakeCall;
  Object.defineProperty(noMedia, 'media', { value: undefined });
  const up = new FakeCall();
  const { clock, watch } = rig(1, ringing, noMedia, up);
  clock.advance(MEDIA_TIMEOUT_SWEEP_MS);
  t.is(watch.watched, 1);
  clock.advance(5 * MEDIA_TIMEOUT_SWEEP_MS);
  t.deepEqual([ringing.endedWith, noMedia.endedWith, up.endedWith], [[], [], [1]]);
  t.is(watch.watched, 0);
});

test('early media: a call in its 183 phase (either side) is not judged, however silent; once answered it gets a full time-out from the answer', (t) => {
  const caller = new FakeCall();
  caller.state = CallState.Proceeding;
  const callee = new FakeCall();
  callee.state = CallState.Ringing;
  caller.packets = callee.packets = 50; // the announcement played, then went quiet
  const { clock, watch } = rig(2, caller, callee);
  clock.advance(30 * MEDIA_TIMEOUT_SWEEP_MS);
  t.deepEqual([caller.endedWith, callee.endedWith], [[], []]);
  t.is(watch.watched, 0);
  caller.state = CallState.Confirmed;
  clock.advance(2 * MEDIA_TIMEOUT_SWEEP_MS);
  t.deepEqual(caller.endedWith, [], 'the silence before the answer does not count');
  clock.advance(MEDIA_TIMEOUT_SWEEP_MS);
  t.deepEqual(caller.endedWith, [2]);
});

test('stop clears the sweep timer and the calls', (t) => {
  const c = new FakeCall();
  const { clock, watch } = rig(1, c);
  clock.advance(MEDIA_TIMEOUT_SWEEP_MS);
  t.is(clock.pending, 1);
  watch.stop();
  t.is(clock.pending, 0);
  t.is(watch.watched, 0);
  clock.advance(10 * MEDIA_TIMEOUT_SWEEP_MS);
  t.deepEqual(c.endedWith, []);
});

test('a sweep that runs late (a stalled event loop) restarts the silence instead of ending calls', (t) => {
  const c = new FakeCall();
  const clock = new VirtualClock();
  const watch = new MediaTimeoutWatch({ clock: () => clock, calls: () => [c], timeoutSeconds: () => 2 });
  watch.sweep();
  // the loop was blocked for 5 s: the next sweep is the first chance to read the sockets
  clock.advance(5000);
  watch.sweep();
  t.deepEqual(c.endedWith, [], 'a late sweep does not judge');
  clock.advance(1000);
  watch.sweep();
  clock.advance(1000);
  watch.sweep();
  t.deepEqual(c.endedWith, [2], 'on-time sweeps do');
});
