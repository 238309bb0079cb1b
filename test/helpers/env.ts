/**
 * Test environment facts: where the project and the shared peers live, whether this is CI,
 * and how to find peer binaries (Kamailio, SIPp, baresip, sox, ...).
 *
 * Peer tests are registered with {@link peerTest}: when a peer binary is missing on a
 * developer machine the test is registered as skipped (the install command is in its title);
 * under `CI=true` it runs and fails with the install command in the message.
 *
 * @module
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import type { ExecutionContext, TestFn } from 'ava';
import { loadNativeLibrary, type NativeLibraryName } from '../../ffi/loader.js';

/**
 * ava's `test`, loaded only inside an ava worker: importing `ava` anywhere else (a benchmark
 * that reuses these helpers) makes ava print an error and exit the process.
 */
let avaTest: TestFn | undefined;
if (typeof process.send === 'function' || !isMainThread) {
  try {
    avaTest = (await import('ava')).default;
  } catch {
    avaTest = undefined;
  }
}

/**
 * Walks up from `start` to the first directory holding a `package.json`.
 *
 * @param start - directory to start from (inclusive)
 * @returns that directory
 * @throws Error when no `package.json` is found up to the filesystem root
 */
function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${start}`);
    dir = parent;
  }
}

/**
 * Absolute path of the project root (the directory with the project's `package.json`),
 * found by walking up from this file, so it is the same whether this runs from
 * `dist/test/helpers/` or from `test/helpers/`.
 */
export const projectRoot: string = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));

/**
 * Absolute path of the `shared/` folder beside the project root (`<projectRoot>/../shared`),
 * which holds the peers (`peers/kamailio`, `peers/sipp`, `peers/baresip`, `peers/audio`).
 * `LINESCAPE_SHARED_DIR` overrides it.
 */
export const sharedDir: string = path.resolve(
  projectRoot,
  process.env.LINESCAPE_SHARED_DIR ?? '../shared',
);

/** Absolute path of the shared peers folder (`<sharedDir>/peers`). */
export const peersDir: string = path.join(sharedDir, 'peers');

/** Absolute path of the project's own SIPp scenarios (`<projectRoot>/test/sipp`). */
export const sippScenarioDir: string = path.join(projectRoot, 'test', 'sipp');

/** True when running under CI (`CI=true`): missing peers then fail instead of skipping. */
export const isCI: boolean = process.env.CI === 'true';

/** Directories searched after `PATH`; Kamailio and kamcmd live in `/usr/sbin`. */
const EXTRA_BIN_DIRS: readonly string[] = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/**
 * The `PATH` to hand to peer processes and scripts: the current `PATH` plus the sbin
 * directories, so scripts that call `kamailio` or `kamcmd` work for non-root users too.
 */
export const peerPath: string = [
  ...(process.env.PATH ?? '').split(path.delimiter).filter((d) => d !== ''),
  ...EXTRA_BIN_DIRS,
]
  .filter((d, i, all) => all.indexOf(d) === i)
  .join(path.delimiter);

/**
 * Finds an executable by name on `PATH`, then in `/usr/local/sbin`, `/usr/sbin` and `/sbin`.
 *
 * @param name - bare executable name, e.g. `"kamailio"`
 * @returns its absolute path, or `undefined` when it is not installed
 */
export function findBinary(name: string): string | undefined {
  for (const dir of peerPath.split(path.delimiter)) {
    const candidate = path.join(dir, name);
    try {
      const st = fs.statSync(candidate);
      if (st.isFile()) {
        fs.accessSync(candidate, fs.constants.X_OK);
        return candidate;
      }
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A peer binary a test needs, and the Debian package that installs it. */
export interface PeerBinary {
  /** Executable name, e.g. `"sipp"`. */
  readonly binary: string;
  /** Debian package providing it, e.g. `"sip-tester"`. */
  readonly aptPackage: string;
}

/**
 * Debian packages of the peer binaries this project uses, so {@link peerTest} can take bare
 * names.
 */
export const APT_PACKAGES: Readonly<Record<string, string>> = {
  kamailio: 'kamailio',
  kamcmd: 'kamailio',
  sipp: 'sip-tester',
  baresip: 'baresip-core',
  sox: 'sox',
  tshark: 'tshark',
  ss: 'iproute2',
  tc: 'iproute2',
  ip: 'iproute2',
};

/**
 * Debian package of each native library the `ffi/` layer loads, for the install command in a
 * skipped test's title. Typed by {@link NativeLibraryName} so a new binding cannot forget it.
 */
export const NATIVE_APT_PACKAGES: Readonly<Record<NativeLibraryName, string>> = {
  speexdsp: 'libspeexdsp1',
  spandsp: 'libspandsp2',
  bcg729: 'libbcg729-0',
  gsm: 'libgsm1',
};

/** A native library a test needs (loaded through `ffi/loader.ts`), and its Debian package. */
export interface NativeRequirement {
  /** The library's name in `ffi/loader.ts`. */
  readonly native: NativeLibraryName;
  /** Debian package providing it, e.g. `"libspeexdsp1"`. */
  readonly aptPackage: string;
}

/** Anything a test can need from the machine: a peer binary or a native library. */
export type Requirement = string | PeerBinary | NativeRequirement;

/**
 * A native-library requirement for {@link peerTest}: `peerTest(title, [native('speexdsp')], fn)`.
 * It counts as missing when the library does not load, including when `LINESCAPE_DISABLE_NATIVE`
 * disables it.
 *
 * @param lib - the library's name in `ffi/loader.ts`
 * @returns the requirement, with its Debian package from {@link NATIVE_APT_PACKAGES}
 */
export function native(lib: NativeLibraryName): NativeRequirement {
  return { native: lib, aptPackage: NATIVE_APT_PACKAGES[lib] };
}

/**
 * Normalises a binary given by name (package looked up in {@link APT_PACKAGES}) or in full.
 *
 * @param b - a bare name or a {@link PeerBinary}
 * @returns the {@link PeerBinary}
 */
function toPeerBinary(b: string | PeerBinary): PeerBinary {
  return typeof b === 'string' ? { binary: b, aptPackage: APT_PACKAGES[b] ?? b } : b;
}

/**
 * The message used when a peer binary is missing.
 *
 * @param b - the missing binary
 * @returns e.g. `missing peer sipp: apt-get install -y sip-tester`
 */
export function missingPeerMessage(b: string | PeerBinary): string {
  const p = toPeerBinary(b);
  return `missing peer ${p.binary}: apt-get install -y ${p.aptPackage}`;
}

/**
 * Checks a set of requirements: peer binaries and native libraries.
 *
 * @param needs - bare binary names (see {@link APT_PACKAGES}), {@link PeerBinary} records or
 *   {@link native} requirements
 * @returns `found` maps each present binary to its absolute path (native libraries are not
 *   listed); `missing` lists one message with its install command per absent requirement
 */
export function checkPeers(needs: ReadonlyArray<Requirement>): {
  found: Record<string, string>;
  missing: string[];
} {
  const found: Record<string, string> = {};
  const missing: string[] = [];
  for (const need of needs) {
    if (typeof need !== 'string' && 'native' in need) {
      const loaded = loadNativeLibrary(need.native);
      if (!loaded.ok) missing.push(`missing library ${need.native}: apt-get install -y ${need.aptPackage}`);
      continue;
    }
    const b = toPeerBinary(need);
    const where = findBinary(b.binary);
    if (where === undefined) missing.push(missingPeerMessage(b));
    else found[b.binary] = where;
  }
  return { found, missing };
}

/**
 * In-test check for one binary, for tests not registered through {@link peerTest}.
 * Present: returns its path. Missing under CI: throws (the test fails with the install
 * command). Missing on a developer machine: logs the reason, records a passing assertion so
 * the test does not fail for lack of assertions, and returns `undefined`; the caller should
 * then `return` at once.
 *
 * @param t - the running test
 * @param name - executable name
 * @param aptPackage - Debian package providing it
 * @returns the binary's absolute path, or `undefined` (developer machine, missing)
 */
export function requireBinary(
  t: ExecutionContext,
  name: string,
  aptPackage: string,
): string | undefined {
  const where = findBinary(name);
  if (where !== undefined) return where;
  const message = missingPeerMessage({ binary: name, aptPackage });
  if (isCI) throw new Error(message);
  t.log(`skipped: ${message}`);
  t.pass();
  return undefined;
}

/**
 * Body of a {@link peerTest}: the ava context plus the absolute paths of the requested
 * binaries, keyed by executable name.
 */
export type PeerTestFn = (
  t: ExecutionContext,
  bins: Readonly<Record<string, string>>,
) => void | Promise<void>;

/**
 * Registers an ava test that needs peer binaries.
 * - all present: a normal test; `fn` receives their paths;
 * - any missing, not CI: a `test.skip` whose title ends with
 *   `[skipped: missing peer X: apt-get install -y Y]`;
 * - any missing, `CI=true`: a normal test that fails with that message.
 *
 * `peerTest.serial` does the same with `test.serial`. Only usable in ava test files.
 *
 * @param title - the test title
 * @param binaries - bare names (see {@link APT_PACKAGES}), {@link PeerBinary} records or {@link native} libraries
 * @param fn - the test body
 */
export function peerTest(
  title: string,
  binaries: ReadonlyArray<Requirement>,
  fn: PeerTestFn,
): void {
  registerPeerTest(false, title, binaries, fn);
}

/**
 * Like {@link peerTest}, but the test runs serially (`test.serial`) within its file.
 *
 * @param title - the test title
 * @param binaries - bare names (see {@link APT_PACKAGES}), {@link PeerBinary} records or {@link native} libraries
 * @param fn - the test body
 */
peerTest.serial = function serialPeerTest(
  title: string,
  binaries: ReadonlyArray<Requirement>,
  fn: PeerTestFn,
): void {
  registerPeerTest(true, title, binaries, fn);
};

/**
 * Shared registration logic of {@link peerTest} and `peerTest.serial`.
 *
 * @param serial - register with `test.serial`
 * @param title - the test title
 * @param binaries - needed binaries
 * @param fn - the test body
 */
function registerPeerTest(
  serial: boolean,
  title: string,
  binaries: ReadonlyArray<Requirement>,
  fn: PeerTestFn,
): void {
  const test = avaTest;
  if (test === undefined) throw new Error('peerTest() can only be used in ava test files');
  const { found, missing } = checkPeers(binaries);
  const reason = missing.join('; ');
  if (missing.length > 0 && !isCI) {
    const skipTitle = `${title} [skipped: ${reason}]`;
    if (serial) test.serial.skip(skipTitle, () => undefined);
    else test.skip(skipTitle, () => undefined);
    return;
  }
  const impl = async (t: ExecutionContext): Promise<void> => {
    if (missing.length > 0) throw new Error(reason);
    await fn(t, found);
  };
  if (serial) test.serial(title, impl);
  else test(title, impl);
}
