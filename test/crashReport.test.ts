/**
 * The crash report CI relies on (test/helpers/crashReport.ts): a process that dies of SIGSEGV in
 * native code leaves `crash-<pid>.log` with the native stack in `LINESCAPE_ARTIFACT_DIR`, and
 * without that directory nothing is registered.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { peerTest, type ProbedRequirement } from './helpers/env.js';

/** segfault-handler's addon, built by `npm ci` (a pinned dev dependency). */
function segfaultHandler(): ProbedRequirement {
  let missing: string | undefined;
  try {
    createRequire(import.meta.url)('segfault-handler');
  } catch (err) {
    missing = err instanceof Error ? err.message : String(err);
  }
  return { probed: 'segfault-handler addon', missing, aptPackages: ['build-essential', 'python3'], then: 'npm rebuild segfault-handler' };
}

const HANDLER = segfaultHandler();
const helper = new URL('./helpers/crashReport.js', import.meta.url).href;

/** A child that loads the helper the way ava's `require` does and then segfaults on purpose. */
function crashChild(env: NodeJS.ProcessEnv, cwd: string): { signal: NodeJS.Signals | null; stderr: string } {
  const src = `await import(${JSON.stringify(helper)}); (await import('node:module')).createRequire(${JSON.stringify(import.meta.url)})('segfault-handler').causeSegfault();`;
  // in a directory of its own: a core file, where the system writes one, lands there
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', src], { env, cwd, encoding: 'utf8', timeout: 30_000 });
  return { signal: r.signal, stderr: r.stderr };
}

peerTest('a test process that segfaults leaves crash-<pid>.log with the native stack in LINESCAPE_ARTIFACT_DIR', [HANDLER], (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'linescape-crash-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const r = crashChild({ ...process.env, LINESCAPE_ARTIFACT_DIR: dir }, dir);
  t.is(r.signal, 'SIGSEGV', 'the child still dies of the signal');
  const files = fs.readdirSync(dir).filter((f) => /^crash-\d+\.log$/.test(f));
  t.is(files.length, 1, `one report: ${files.join(', ')}`);
  const report = fs.readFileSync(path.join(dir, files[0]!), 'utf8');
  t.regex(report, /received SIGSEGV/);
  t.regex(report, /segfault-handler\.node|node\(/, 'native frames listed');
});

peerTest('without LINESCAPE_ARTIFACT_DIR no handler is registered: the process dies silently, no report', [HANDLER], (t) => {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'linescape-crash-'));
  t.teardown(() => fs.rmSync(cwd, { recursive: true, force: true }));
  const env = { ...process.env };
  delete env.LINESCAPE_ARTIFACT_DIR;
  const r = crashChild(env, cwd);
  t.is(r.signal, 'SIGSEGV');
  t.notRegex(r.stderr, /received SIGSEGV/, 'no handler printed a stack');
  t.deepEqual(fs.readdirSync(cwd).filter((f) => f.endsWith('.log')), [], 'nothing written');
});
