/**
 * LineMixer in virtual time: phone lines with fake, RTP-free media on the engine's pump shape
 * (a virtual media clock, one MediaPump whose mixer is the LineMixer's bridge). A line gets a
 * bridge port only while conferenced with a connected call; conferenced lines hear each other
 * in the tick they speak; hold takes a line out of the mix; the end of a call or a codec rate
 * change removes (and remakes) its port.
 */
import test from 'ava';
import { LineState } from '../index.js';
import { LineMixer } from '../lines/lineMixer.js';
import type { LineMedia } from '../lines/lineMedia.js';
import { PhoneLine } from '../lines/phoneLine.js';
import { virtualMediaClock } from '../media/mediaClock.js';
import { MediaPump, type MediaNode } from '../media/mediaPump.js';
import type { MediaFramePort } from '../media/session.js';

/** The parts of a line's media the mixer touches, as a pump node putting a constant level. */
class FakeMedia implements MediaNode {
  sampleRate = 8000;
  level = 0;
  port: MediaFramePort | null = null;
  held = false;
  /** What the far end would be sent, by tick: the mix's last sample (the frames are constant). */
  readonly sent = new Map<number, number>();
  private frame = new Int16Array(160);

  setFramePort(p: MediaFramePort | null): void {
    this.port = p;
  }
  setHeld(on: boolean): void {
    this.held = on;
  }
  produce(): void {
    const p = this.port;
    if (p === null || p.rate !== this.sampleRate) return;
    if (this.frame.length !== p.rate / 50) this.frame = new Int16Array(p.rate / 50);
    this.frame.fill(this.level);
    p.putFrame(this.frame);
  }
  consume(tick: number): void {
    const p = this.port;
    this.sent.set(tick, p === null ? 0 : p.getFrame()[p.getFrame().length - 1]!);
  }
}

function setup(n: number): { mixer: LineMixer; lines: PhoneLine[]; media: FakeMedia[]; run: (ticks: number) => number } {
  const clock = virtualMediaClock();
  const pump = MediaPump.attach(clock);
  const mixer = new LineMixer({ pump, rate: 8000 });
  const lines: PhoneLine[] = [];
  const media: FakeMedia[] = [];
  for (let i = 0; i < n; i++) {
    const line = new PhoneLine(i);
    const m = new FakeMedia();
    // the fake carries only what LineMixer uses of a line's media
    line.media = m as unknown as LineMedia;
    mixer.track(line);
    pump.add(m);
    lines.push(line);
    media.push(m);
  }
  clock.start();
  return {
    mixer,
    lines,
    media,
    run: (ticks) => {
      for (let i = 0; i < ticks; i++) clock.tickOnce();
      return clock.tick - 1;
    },
  };
}

function set(mixer: LineMixer, line: PhoneLine, state: LineState, conferenced = line.conferenced): void {
  line.state = state;
  line.conferenced = conferenced;
  mixer.update(line);
}

test('conferenced lines hear each other in the tick they speak; a line outside the conference has no port', (t) => {
  const { mixer, lines, media, run } = setup(3);
  set(mixer, lines[0]!, LineState.InCall, true);
  set(mixer, lines[1]!, LineState.InCall, true);
  set(mixer, lines[2]!, LineState.InCall, false);
  t.is(mixer.bridge.ports.length, 2);
  t.is(media[2]!.port, null);
  media[0]!.level = 300;
  media[1]!.level = 40;
  media[2]!.level = 5;
  run(3);
  media[0]!.level = 600;
  const n = run(1);
  t.is(media[1]!.sent.get(n), 600, 'line 1 hears line 0 of this tick');
  t.is(media[0]!.sent.get(n), 40, 'line 0 hears line 1, not itself');
  t.is(media[2]!.sent.get(n), 0, 'line 2 is not in the conference');
});

test('hold takes a line out of the mix both ways; resume brings it back', (t) => {
  const { mixer, lines, media, run } = setup(3);
  for (const l of lines) set(mixer, l, LineState.InCall, true);
  media[0]!.level = 1;
  media[1]!.level = 10;
  media[2]!.level = 100;
  run(3);
  set(mixer, lines[1]!, LineState.OnHold);
  let n = run(2);
  t.is(media[0]!.sent.get(n), 100);
  t.is(media[1]!.sent.get(n), 0);
  set(mixer, lines[1]!, LineState.InCall);
  n = run(2);
  t.is(media[0]!.sent.get(n), 110);
  t.is(media[1]!.sent.get(n), 101);
});

test('groups: lines in different conference groups do not hear each other', (t) => {
  const { mixer, lines, media, run } = setup(4);
  lines[2]!.conferenceGroups = ['other'];
  lines[3]!.conferenceGroups = ['other'];
  for (const l of lines) set(mixer, l, LineState.InCall, true);
  media.forEach((m, i) => (m.level = 10 ** i));
  const n = run(3);
  t.is(media[0]!.sent.get(n), 10);
  t.is(media[2]!.sent.get(n), 1000);
});

test('the end of a call removes its port; a codec rate change remakes it at the new rate', (t) => {
  const { mixer, lines, media, run } = setup(2);
  for (const l of lines) set(mixer, l, LineState.InCall, true);
  run(2);
  const before = media[0]!.port;
  media[0]!.sampleRate = 16000;
  mixer.update(lines[0]!);
  t.is(media[0]!.port!.rate, 16000, 'a new port at the codec rate');
  t.not(media[0]!.port, before);
  media[0]!.level = 1000;
  media[1]!.level = 0;
  const n = run(4);
  t.true(Math.abs(media[1]!.sent.get(n)! - 1000) <= 100, `still heard, through the edge resampler (${media[1]!.sent.get(n)})`);
  set(mixer, lines[0]!, LineState.OnHook, false);
  t.is(media[0]!.port, null, 'the ended call leaves the bridge');
  run(2);
  t.is(mixer.bridge.ports.length, 1);
  mixer.close();
  t.is(media[1]!.port, null);
});

test('early media counts as connected while the call rings (Dialing or Ringing) and stops counting at any other state', (t) => {
  const line = new PhoneLine(0);
  line.media = { sampleRate: 8000 } as unknown as LineMedia;
  let changes = 0;
  line.onStateChange = () => changes++;
  line.setState(LineState.Dialing);
  t.false(LineMixer.connected(line));
  line.startEarlyMedia();
  t.is(changes, 2, 'the mixer is told at once');
  t.true(line.earlyMedia);
  t.true(LineMixer.connected(line));
  line.setState(LineState.InCall);
  t.false(line.earlyMedia, 'answered: an ordinary connected call');
  t.true(LineMixer.connected(line));
  line.setState(LineState.OnHook);
  line.setState(LineState.Ringing);
  t.false(line.earlyMedia, 'a new call starts without early media');
  t.false(LineMixer.connected(line));
});
