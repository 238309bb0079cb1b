/**
 * media/audioBackend.ts `stopStream`: naudiodon runs each quit on a thread of libuv's pool, where
 * it closes its stream and calls `Pa_Terminate`, and PortAudio is not thread-safe. Two quits at
 * once crashed a test process (SIGSEGV inside `Pa_CloseStream`, called from `Pa_Terminate`), so
 * quits run one after another. These tests drive stopStream with streams whose quit the test
 * settles by hand: no sound card is needed.
 */
import test from 'ava';
import { CLOSE_TIMEOUT_MS, settlePendingCloses, stopStream, type NativeAudioIO } from '../media/audioBackend.js';

/** A stream whose `quit` is recorded and settled by the test. */
interface FakeStream {
  io: NativeAudioIO;
  /** Times quit was called. */
  quits: number;
  finish(): void;
  fail(): void;
}

function fakeStream(log: string[], name: string, quit?: () => Promise<void>): FakeStream {
  let settle: { resolve: () => void; reject: (e: Error) => void } | undefined;
  const s: FakeStream = {
    quits: 0,
    io: {
      quit: () => {
        s.quits++;
        log.push(`${name} quit`);
        if (quit !== undefined) return quit();
        return new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
      },
    } as unknown as NativeAudioIO,
    finish: () => {
      log.push(`${name} done`);
      settle?.resolve();
    },
    fail: () => {
      log.push(`${name} failed`);
      settle?.reject(new Error('PortAudio error'));
    },
  };
  return s;
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

test.serial('two streams stopped together: the second quit starts only once the first has finished', async (t) => {
  const log: string[] = [];
  const capture = fakeStream(log, 'capture');
  const playback = fakeStream(log, 'playback');
  const a = stopStream(capture.io);
  const b = stopStream(playback.io);
  await turn();
  t.deepEqual(log, ['capture quit'], 'the playback quit waits for its turn');
  capture.finish();
  await a;
  await turn();
  t.deepEqual(log, ['capture quit', 'capture done', 'playback quit']);
  let settled = false;
  const all = settlePendingCloses().then(() => (settled = true));
  await turn();
  t.false(settled, 'PortAudio is not re-entered while a quit runs');
  playback.finish();
  await b;
  await all;
  t.true(settled);
  t.is(capture.quits + playback.quits, 2);
});

test.serial('a quit that fails or throws does not hold the next one back', async (t) => {
  const log: string[] = [];
  const failing = fakeStream(log, 'failing');
  const throwing = fakeStream(log, 'throwing', () => {
    throw new Error('AudioIO Quit expects 1 argument');
  });
  const last = fakeStream(log, 'last');
  const a = stopStream(failing.io);
  const b = stopStream(throwing.io);
  const c = stopStream(last.io);
  await turn();
  failing.fail();
  await a;
  await b;
  await turn();
  last.finish();
  await c;
  await settlePendingCloses();
  t.deepEqual(log, ['failing quit', 'failing failed', 'throwing quit', 'last quit', 'last done']);
});

test.serial(`a quit that never finishes holds the next one back for CLOSE_TIMEOUT_MS (${CLOSE_TIMEOUT_MS} ms), not for ever`, async (t) => {
  const log: string[] = [];
  const stuck = fakeStream(log, 'stuck');
  const next = fakeStream(log, 'next');
  const a = stopStream(stuck.io);
  const b = stopStream(next.io);
  // the bound's timer is unreferenced (it must not keep an application alive): this one keeps
  // the test process up while it runs
  const alive = setInterval(() => undefined, 1000);
  try {
    await a; // settles by the bound: a stuck device does not hang its caller
  } finally {
    clearInterval(alive);
  }
  await turn();
  t.deepEqual(log, ['stuck quit', 'next quit'], 'the next stream is still stopped');
  next.finish();
  await b;
  await settlePendingCloses();
  stuck.finish(); // the stuck quit ending late changes nothing
  t.is(next.quits, 1);
});
