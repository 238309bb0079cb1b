/**
 * FrameRing (media/mediaFloorProtocol.ts): the conference audio crossing between a media worker
 * and the bridge counts what it loses, frames read from an empty ring after the first and frames
 * overwritten unread, so a call's statistics can show it (`conferenceFramesLost`).
 */
import test from 'ava';
import { FrameRing } from '../media/mediaFloorProtocol.js';

const frame = (v: number): Int16Array => new Int16Array(160).fill(v);

test('a ring loses nothing while the reader keeps up, and counts a dry read only after its first frame', (t) => {
  const sab = new SharedArrayBuffer(FrameRing.BYTES);
  const w = new FrameRing(sab, 0);
  const r = new FrameRing(sab, 0);
  const out = new Int16Array(FrameRing.FRAME);
  t.false(r.read(out, 160), 'nothing written yet');
  t.is(r.lostFrames, 0, 'waiting for the first frames is not a loss');
  w.write(frame(1), 160);
  w.write(frame(2), 160);
  for (let i = 3; i < 40; i++) {
    t.true(r.read(out, 160));
    w.write(frame(i), 160);
  }
  t.is(r.lostFrames, 0);
  t.true(r.read(out, 160));
  t.true(r.read(out, 160));
  t.false(r.read(out, 160), 'the writer fell behind');
  t.is(w.lostFrames, 1, 'one dry read after the first frame, seen from either side');
});

test('frames overwritten unread count as lost, and the other direction of the buffer stays apart', (t) => {
  const sab = new SharedArrayBuffer(FrameRing.BYTES);
  const up = new FrameRing(sab, 0);
  const down = new FrameRing(sab, 1);
  const out = new Int16Array(FrameRing.FRAME);
  for (let i = 0; i < FrameRing.FRAMES + 3; i++) up.write(frame(i), 160);
  t.is(up.lostFrames, 3, 'the reader was a whole ring behind three times');
  t.true(up.read(out, 160));
  t.is(out[0], 3, 'the reader skipped to the oldest frame still there');
  t.is(down.lostFrames, 0);
});

test('a stalled reader catching up loses nothing: the ring holds what its clock missed', (t) => {
  const sab = new SharedArrayBuffer(FrameRing.BYTES);
  const w = new FrameRing(sab, 0);
  const r = new FrameRing(sab, 0);
  const out = new Int16Array(FrameRing.FRAME);
  let next = 0;
  let expected = 0;
  const readOne = (): void => {
    t.true(r.read(out, 160));
    t.is(out[0], expected++, 'frames in order, none skipped');
  };
  w.write(frame(next++), 160);
  w.write(frame(next++), 160);
  for (let i = 0; i < 20; i++) {
    readOne();
    w.write(frame(next++), 160);
  }
  // the reader's thread stalls 200 ms (10 ticks), then its clock runs the missed ticks back to back
  for (let i = 0; i < 10; i++) w.write(frame(next++), 160);
  for (let i = 0; i < 10; i++) readOne();
  for (let i = 0; i < 20; i++) {
    readOne();
    w.write(frame(next++), 160);
  }
  t.is(r.lostFrames, 0);
  t.is(r.cushion, FrameRing.MIN_CUSHION, 'no dry spell, no larger cushion');
});

test('a stalled writer: the dry spell is counted, the cushion grows by one, and the backlog its catch-up leaves is drained', (t) => {
  const sab = new SharedArrayBuffer(FrameRing.BYTES);
  const w = new FrameRing(sab, 1);
  const r = new FrameRing(sab, 1);
  const out = new Int16Array(FrameRing.FRAME);
  let next = 0;
  w.write(frame(next++), 160);
  w.write(frame(next++), 160);
  const steady = (ticks: number): void => {
    for (let i = 0; i < ticks; i++) {
      r.read(out, 160);
      w.write(frame(next++), 160);
    }
  };
  steady(20);
  // the writer's thread stalls 120 ms: the reader uses its two frames, then finds nothing
  let dry = 0;
  for (let i = 0; i < 6; i++) if (!r.read(out, 160)) dry++;
  t.is(dry, 4);
  t.is(r.lostFrames, 4, 'four ticks of silence');
  t.is(r.cushion, FrameRing.MIN_CUSHION + 1, 'one dry spell, one frame more of cushion');
  // the writer runs its 6 missed ticks at once: the reader resumes, and what is buffered
  // beyond the cushion is dropped, one frame per DRAIN_READS reads
  for (let i = 0; i < 6; i++) w.write(frame(next++), 160);
  const buffered = (): number => next - 1 - out[0]!;
  steady(2 * FrameRing.DRAIN_READS + 2);
  t.true(r.read(out, 160));
  t.true(buffered() <= r.cushion, `${buffered()} frames left buffered after a read, cushion ${r.cushion}`);
  t.is(r.lostFrames, 6, 'the four silent ticks and two dropped frames');
  // ten calm seconds give the frame of cushion back
  steady(FrameRing.SHRINK_READS);
  t.is(r.cushion, FrameRing.MIN_CUSHION);
});
