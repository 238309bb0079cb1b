/**
 * playWaveFile between two engines: the code comes back at once from the header alone, the
 * file loads in the background, and a file whose header passed but which cannot be played after
 * all raises the line notification SipBadAudioDataType.
 */
import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TelephonyReturnValue as T, type Notification } from '../index.js';
import { startEngine, type EngineUnderTest } from './helpers/engine.js';

async function connected(t: Parameters<typeof startEngine>[0]): Promise<[EngineUnderTest, EngineUnderTest]> {
  const a = await startEngine(t, { phoneName: 'alice' });
  const b = await startEngine(t, { phoneName: 'bob' });
  b.engine.on('SipOkToAnswerCall', (n: Notification) => b.engine.goOffHook(n.phoneLine));
  t.is(await a.engine.makeCall('bob', '127.0.0.1', b.port, 0, true, 5000), T.SipSuccess);
  await b.waitFor(T.SipIncomingCallConnected);
  return [a, b];
}

test('a WAV file that fails after its header was accepted raises SipBadAudioDataType on the line', async (t) => {
  const [a] = await connected(t);
  const dir = mkdtempSync(path.join(tmpdir(), 'linescape-wav-async-'));
  // RIFF/WAVE with a data chunk and no fmt chunk: the header probe finds samples, the decoder
  // cannot say what they are
  const data = Buffer.alloc(320, 1);
  const head = Buffer.alloc(20);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(4 + 8 + data.length, 4);
  head.write('WAVE', 8, 'latin1');
  head.write('data', 12, 'latin1');
  head.writeUInt32LE(data.length, 16);
  const file = path.join(dir, 'nofmt.wav');
  writeFileSync(file, Buffer.concat([head, data]));
  const failed = a.waitFor(T.SipBadAudioDataType);
  t.is(a.engine.playWaveFile(0, file, false), T.SipSuccess, 'the header alone looks fine');
  const n = await failed;
  t.is(n.phoneLine, 0);
  t.deepEqual(n.data, { path: file, reason: 'bad-format' });
});

test('a non-looping WAV file that plays to its end raises SipWaveFileComplete; a stopped or replaced one does not', async (t) => {
  const [a] = await connected(t);
  const dir = mkdtempSync(path.join(tmpdir(), 'linescape-wav-end-'));
  const wav = (name: string, ms: number): string => {
    const n = (8000 * ms) / 1000;
    const head = Buffer.alloc(44);
    head.write('RIFF', 0, 'latin1');
    head.writeUInt32LE(36 + n * 2, 4);
    head.write('WAVEfmt ', 8, 'latin1');
    head.writeUInt32LE(16, 16);
    head.writeUInt16LE(1, 20); // PCM
    head.writeUInt16LE(1, 22); // mono
    head.writeUInt32LE(8000, 24);
    head.writeUInt32LE(16000, 28);
    head.writeUInt16LE(2, 32);
    head.writeUInt16LE(16, 34);
    head.write('data', 36, 'latin1');
    head.writeUInt32LE(n * 2, 40);
    const file = path.join(dir, name);
    writeFileSync(file, Buffer.concat([head, Buffer.alloc(n * 2, 0x10)]));
    return file;
  };
  const long = wav('long.wav', 5000);
  const replaced = wav('replaced.wav', 5000);
  const short = wav('short.wav', 300);
  const ends: string[] = [];
  a.engine.on('SipWaveFileComplete', (n) => {
    t.is(n.phoneLine, 0);
    ends.push(n.data.path);
  });
  // stopped: no notification
  t.is(a.engine.playWaveFile(0, long, false), T.SipSuccess);
  await new Promise((r) => setTimeout(r, 200));
  t.is(a.engine.stopWaveFile(0), T.SipSuccess);
  // replaced by the short one, which plays to its end
  t.is(a.engine.playWaveFile(0, replaced, false), T.SipSuccess);
  await new Promise((r) => setTimeout(r, 200));
  t.is(a.engine.playWaveFile(0, short, false), T.SipSuccess);
  const n = await a.waitFor(T.SipWaveFileComplete);
  t.deepEqual(n.data, { path: short });
  t.deepEqual(ends, [short], 'only the file that played to its end');
});
