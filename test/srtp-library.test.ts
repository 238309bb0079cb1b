/**
 * Which libsrtp2 is loaded (ffi/srtp): the explicit file (LINESCAPE_LIBSRTP2, start parameter
 * srtpLibraryPath), the package's OpenSSL build (`npm run build:libsrtp2`), the system library;
 * its crypto backend read from the file's DT_NEEDED (ffi/elf). One libsrtp2 serves a process,
 * so the choices are checked in child processes.
 * @module
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { elfNeededLibraries } from '../ffi/elf.js';
import { describeSrtpLibrary, packagedSrtpLibraryPath, SRTP_LIBRARY_ENV, srtpStatus, type SrtpAvailable } from '../ffi/srtp.js';
import { resolveStartParams } from '../engine/startParams.js';
import { TelephonyReturnValue as T } from '../engine/returnCodes.js';
import { native, peerTest } from './helpers/env.js';

const SRTP = [native('srtp2')];
const srtpModule = pathToFileURL(path.join(import.meta.dirname, '..', 'ffi', 'srtp.js')).href;

/** srtpStatus() of a fresh process with `env` added (the library choice is made once per process). */
async function statusIn(env: Record<string, string>): Promise<SrtpAvailable> {
  const script = `const m = await import(${JSON.stringify(srtpModule)}); const s = m.srtpStatus(); console.log(JSON.stringify({ ...s, suites: m.supportedSrtpSuites() }));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...env } });
  const status = JSON.parse(stdout) as SrtpAvailable | { ok: false; reason: string };
  if (!status.ok) throw new Error(`libsrtp2 did not load: ${status.reason}`);
  return status;
}

peerTest('the libsrtp2 in use is named, with its source and crypto backend', SRTP, (t) => {
  const status = srtpStatus();
  if (!status.ok) {
    t.fail(status.reason);
    return;
  }
  t.log(`libsrtp2 in use: ${describeSrtpLibrary(status)}`);
  t.regex(status.version, /^libsrtp2? ?2\./);
  const override = process.env[SRTP_LIBRARY_ENV] ?? '';
  if (override === 'system') t.is(status.source, 'system');
  else if (override !== '') t.true(status.source === 'explicit' || status.skipped.length > 0, 'the named file, or a reason why not');
  else t.is(status.source, existsSync(packagedSrtpLibraryPath()) ? 'package' : 'system');
  if (status.source === 'package') t.is(status.backend, 'openssl', 'the package build is the OpenSSL one');
  if (process.platform === 'linux') t.not(status.backend, 'unknown');
});

peerTest('LINESCAPE_LIBSRTP2=system loads the system libsrtp2 and says its backend', SRTP, async (t) => {
  const s = await statusIn({ [SRTP_LIBRARY_ENV]: 'system' });
  t.log(describeSrtpLibrary(s));
  t.is(s.source, 'system');
  t.deepEqual(s.skipped, []);
  if (process.platform === 'linux') t.true(['nss', 'openssl', 'builtin'].includes(s.backend), s.backend);
});

peerTest('an explicit libsrtp2 file that does not load is skipped with its reason, the next one is used', SRTP, async (t) => {
  const bad = path.join(tmpdir(), `linescape-not-a-library-${process.pid}.so`);
  writeFileSync(bad, 'not an ELF file');
  const s = await statusIn({ [SRTP_LIBRARY_ENV]: bad });
  t.not(s.source, 'explicit');
  t.is(s.skipped.length, 1);
  t.regex(s.skipped[0] ?? '', /^explicit: .*linescape-not-a-library/);
});

peerTest('an explicit libsrtp2 path is loaded first', SRTP, async (t) => {
  const system = await statusIn({ [SRTP_LIBRARY_ENV]: 'system' });
  if (!system.path.startsWith('/')) {
    t.pass('the system library has no path here');
    return;
  }
  const s = await statusIn({ [SRTP_LIBRARY_ENV]: system.path });
  t.is(s.source, 'explicit');
  t.is(s.path, system.path);
  t.is(s.backend, system.backend);
});

test('the ELF reader lists DT_NEEDED, and is undefined for what is not ELF', (t) => {
  if (process.platform === 'linux') {
    const needed = elfNeededLibraries(process.execPath);
    t.truthy(needed);
    t.true((needed ?? []).some((n) => n.startsWith('libc.so')), JSON.stringify(needed));
  }
  t.is(elfNeededLibraries(path.join(tmpdir(), 'linescape-absent-file.so')), undefined);
  const text = path.join(tmpdir(), `linescape-text-${process.pid}.so`);
  writeFileSync(text, 'x'.repeat(200));
  t.is(elfNeededLibraries(text), undefined);
  const truncated = path.join(tmpdir(), `linescape-truncated-${process.pid}.so`);
  writeFileSync(truncated, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, ...new Array<number>(60).fill(0xff)]));
  t.is(elfNeededLibraries(truncated), undefined);
});

test('the start parameter srtpLibraryPath is a string', (t) => {
  t.not(typeof resolveStartParams({ srtpLibraryPath: '/opt/lib/libsrtp2.so.1' }), 'number');
  t.not(typeof resolveStartParams({ srtpLibraryPath: 'system' }), 'number');
  for (const bad of [5, null, {}, 'a\0b', 'x'.repeat(5000)]) t.is(resolveStartParams({ srtpLibraryPath: bad }), T.SipBadParameter, JSON.stringify(bad));
});
