/**
 * The conference part of the `npm start` demo: the pbx calls extensions 100, 101 and 102 of the
 * desk from three lines; the desk joins the three calls into one conference and records line 0
 * to a WAV. Each pbx line plays its own tone and the demo shows, by frequency, that every party
 * hears the other two and not itself.
 * @module
 */
import os from 'node:os';
import type { Readable } from 'node:stream';
import { VoipMediaEngine, TelephonyReturnValue as T } from '../index.js';
import { toneLevelDb } from '../test/helpers/analysis.js';
import { check, nextEvent, nextEvents, say } from './demoKit.js';

const TONES = [400, 600, 1050];

function listen(channel: Readable, ms: number): Promise<Int16Array> {
  const chunks: Buffer[] = [];
  channel.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((r) =>
    setTimeout(() => {
      const b = Buffer.concat(chunks);
      r(new Int16Array(b.buffer.slice(b.byteOffset, b.byteOffset + (b.length & ~1))));
    }, ms),
  );
}

/** Runs the conference demo between the pbx (3 lines) and the desk (registered as 100..103). */
export async function conferenceDemo(pbx: VoipMediaEngine, desk: VoipMediaEngine): Promise<void> {
  say('--- three-party conference on the desk, recorded');
  const connected = nextEvents(desk, T.SipIncomingCallConnected, 3, 8000);
  for (const [line, ext] of ['100', '101', '102'].entries()) check(`pbx.makeCall(${ext}) on line ${line}`, await pbx.makeCall(ext, '127.0.0.1', desk.getSipPort(), line, true, 5000));
  const lines = (await connected).map((n) => n.phoneLine).sort();
  for (const l of lines) check(`desk.conferenceLine(${l}, true)`, desk.conferenceLine(l, true));
  const recorded = nextEvent(desk, T.SipCallRecordComplete, undefined, 8000);
  check('desk.startPhoneLineRecording(line 0)', desk.startPhoneLineRecording(lines[0]!, true, false, os.tmpdir()));
  // each pbx line talks (a tone) and listens
  const heard: Promise<Int16Array>[] = [];
  for (let i = 0; i < 3; i++) {
    const tone = new Int16Array(8000 * 3);
    for (let k = 0; k < tone.length; k++) tone[k] = Math.round(5000 * Math.sin((2 * Math.PI * TONES[i]! * k) / 8000));
    pbx.openTxIvrChannel(i, { sampleRate: 8000 }).channel!.write(Buffer.from(tone.buffer));
  }
  await new Promise((r) => setTimeout(r, 800));
  for (let i = 0; i < 3; i++) heard.push(listen(pbx.openRxIvrChannel(i, { sampleRate: 8000 }).channel!, 1200));
  const pcm = await Promise.all(heard);
  pcm.forEach((p, i) => {
    const levels = TONES.map((f) => `${f} Hz ${toneLevelDb(p, 8000, f) > -20 ? 'heard' : 'silent'}`).join(', ');
    say(`pbx line ${i} plays ${TONES[i]} Hz and hears: ${levels}`);
  });
  check('desk.stopPhoneLineRecording(line 0)', desk.stopPhoneLineRecording(lines[0]!));
  const info = (await recorded).data as { path: string; samples: number; sampleRate: number };
  say(`recording: ${info.path} (${(info.samples / info.sampleRate).toFixed(1)} s at ${info.sampleRate} Hz, both directions)`);
  const onHook = nextEvents(desk, T.SipOnHook, 3, 8000);
  for (let i = 0; i < 3; i++) check(`pbx.terminateCall(${i})`, await pbx.terminateCall(i, true, 3000));
  await onHook;
}
