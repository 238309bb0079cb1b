/**
 * Loaded by ava in every test process before its test file (package.json, `ava.require`): when
 * a test process dies of a signal inside native code (koffi's calls into libc, libopus or
 * libspeexdsp, the Opus binding, naudiodon and PortAudio), segfault-handler writes the native
 * stack to `crash-<pid>.log` in `LINESCAPE_ARTIFACT_DIR`, the directory `.ci/run` keeps its logs
 * in and prints such files from. ava alone says only "exited due to SIGSEGV". Without that
 * directory nothing is registered; without the addon a crash is reported as before.
 *
 * naudiodon registers the same handler for `crash.log` in the working directory when it loads,
 * which replaces this file name: `.ci/run` collects that file too.
 *
 * @module
 */
import { createRequire } from 'node:module';
import path from 'node:path';

/** segfault-handler's one call used here. */
interface SegfaultHandler {
  registerHandler(file: string): void;
}

const dir = process.env.LINESCAPE_ARTIFACT_DIR;
if (dir !== undefined && dir !== '') {
  try {
    const handler = createRequire(import.meta.url)('segfault-handler') as SegfaultHandler;
    handler.registerHandler(path.join(dir, `crash-${process.pid}.log`));
  } catch {
    // the addon is not built here: ava still reports the signal, without a native stack
  }
}
