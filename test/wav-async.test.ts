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
