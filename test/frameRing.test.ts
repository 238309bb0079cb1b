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
