/**
 * Registration of tests that need the local audio backend (naudiodon + ALSA): skipped with the
 * install command on a developer machine without it, failing under CI. Tests are serial, since
 * the test files share one file-plugin sound card per process.
 * @module
 */
import test, { type ExecutionContext } from 'ava';
import { listAudioDevices } from '../../media/audioDevice.js';
import { isCI } from './env.js';

/** Registers one device test. */
export type DeviceTest = (title: string, fn: (t: ExecutionContext) => Promise<void>) => void;

/**
 * Probe the backend once (after the ALSA configuration is applied to the process) and return
 * the registration function.
 */
export async function deviceTests(): Promise<DeviceTest> {
  // whether naudiodon can be loaded at all (an optional dependency needing libasound2)
  const probe = await listAudioDevices();
  const unavailable = !probe.ok && /naudiodon/.test(probe.reason) ? probe.reason : undefined;
  return (title, fn) => {
    if (unavailable !== undefined && !isCI) {
      test.serial.skip(`${title} [skipped: ${unavailable}; apt-get install -y libasound2 && npm rebuild naudiodon]`, () => undefined);
      return;
    }
    test.serial(title, async (t) => {
      if (unavailable !== undefined) t.fail(`audio backend unavailable under CI: ${unavailable}`);
      await fn(t);
    });
  };
}
