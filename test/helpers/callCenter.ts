/**
 * The call-center example as the tests build it: synthetic prompts, a steady note as music,
 * recordings and the call log in a fresh temporary directory, short timers.
 * @module
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CallCenter, type CallCenterOptions } from '../../examples/callcenter/callCenter.js';
import { tone, writeMonoWav, writeSyntheticPrompts } from '../../examples/callcenter/audioFiles.js';

/**
 * A call center (not started) with 4 trunk lines unless `options` says otherwise, whose music
 * is a steady `musicHz` note (8 kHz), in a new directory named after `prefix`.
 */
export function testCallCenter(prefix: string, musicHz: number, options: Partial<CallCenterOptions> & Pick<CallCenterOptions, 'agents'>): { dir: string; center: CallCenter } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const prompts = writeSyntheticPrompts(path.join(dir, 'prompts'), 3);
  prompts.music = path.join(dir, 'prompts', 'test-music.wav');
  writeMonoWav(prompts.music, tone(musicHz, 3, 8000, 6000));
  const center = new CallCenter({
    trunkLines: 4,
    prompts,
    recordingDir: path.join(dir, 'recordings'),
    callLogFile: path.join(dir, 'calls.sqlite'),
    ringTimeoutMs: 8000,
    wrapUpMs: 300,
    announceEveryMs: 120000,
    menuTimeoutMs: 20000,
    ...options,
  });
  return { dir, center };
}
