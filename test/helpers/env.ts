/**
 * Test environment facts: where the project and the shared peers live, whether this is CI,
 * and what the machine offers: peer binaries (Kamailio, SIPp, baresip, sox, ...), native
 * libraries (libspeexdsp) and the sound card backend (naudiodon on ALSA).
 *
 * Every test that needs one of these is registered with {@link peerTest}: when a piece is
 * missing on a developer machine the test is registered as skipped (the install command is in
 * its title); under `CI=true` it runs and fails with the install command in the message.
 * `LINESCAPE_PEER_PATH` hides peers ({@link PEER_PATH_ENV}); `LINESCAPE_DISABLE_NATIVE` hides
 * native libraries and the sound card backend.
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

/**
 * Environment variable that, when set and not empty, is the whole search path for peer binaries
 * (and the `PATH` handed to peer scripts), instead of `PATH` plus the sbin directories. It lets a
 * run hide the peers: `LINESCAPE_PEER_PATH=/some/dir/without/peers` finds none of them, even
 * those in `/usr/sbin`.
 */
export const PEER_PATH_ENV = 'LINESCAPE_PEER_PATH';

/** Directories searched after `PATH`; Kamailio and kamcmd live in `/usr/sbin`. */
const EXTRA_BIN_DIRS: readonly string[] = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/**
 * The `PATH` to hand to peer processes and scripts, and the directories {@link findBinary}
 * searches: `LINESCAPE_PEER_PATH` when set, else the current `PATH` plus the sbin directories
 * (so scripts that call `kamailio` or `kamcmd` work for non-root users too). Scripts get exactly
 * this, so a peer hidden from {@link findBinary} is hidden from them as well.
 */
export const peerPath: string = (
  process.env[PEER_PATH_ENV] !== undefined && process.env[PEER_PATH_ENV] !== ''
    ? process.env[PEER_PATH_ENV].split(path.delimiter)
    : [...(process.env.PATH ?? '').split(path.delimiter), ...EXTRA_BIN_DIRS]
)
  .filter((d, i, all) => d !== '' && all.indexOf(d) === i)
  .join(path.delimiter);

/**
 * Finds an executable by name in {@link peerPath}.
 *
 * @param name - bare executable name, e.g. `"kamailio"`
 * @returns its absolute path, or `undefined` when it is not installed (or hidden)
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
  soxi: 'sox',
  tshark: 'tshark',
  ss: 'iproute2',
  tc: 'iproute2',
  ip: 'iproute2',
  dnsmasq: 'dnsmasq-base',
  openssl: 'openssl',
  chromium: 'chromium',
};

/**
 * What the shared peer scripts call besides the peer itself, so a test naming the peer cannot
 * start a script that dies half-way: Kamailio's `start.sh` waits for it with a SIPp OPTIONS ping
 * and its registrations are read with `kamcmd`; baresip's `start.sh` prepares the microphone
 * file with `sox` and `soxi`.
 */
export const PEER_IMPLIES: Readonly<Record<string, readonly string[]>> = {
  kamailio: ['kamcmd', 'sipp'],
  baresip: ['sox', 'soxi'],
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
  opus: 'libopus0',
  srtp2: 'libsrtp2-1',
};

/** A native library a test needs (loaded through `ffi/loader.ts`), and its Debian package. */
export interface NativeRequirement {
  /** The library's name in `ffi/loader.ts`. */
  readonly native: NativeLibraryName;
  /** Debian package providing it, e.g. `"libspeexdsp1"`. */
  readonly aptPackage: string;
}

/**
 * A requirement the test file probed itself before registering its tests, for pieces that can
 * only be probed asynchronously or at a particular moment (the sound card backend, after the
 * file's ALSA configuration is applied). See {@link audioBackend}.
 */
export interface ProbedRequirement {
  /** What it is, for the message, e.g. `"audio backend naudiodon"`. */
  readonly probed: string;
  /** Why it is unusable, or `undefined` when it is present. */
  readonly missing: string | undefined;
  /** Debian packages that install it. */
  readonly aptPackages: readonly string[];
  /** A command to run after the packages are installed, e.g. `npm rebuild naudiodon`. */
  readonly then?: string;
}

/**
 * Anything a test can need from the machine: a peer binary (bare name or {@link PeerBinary}), a
 * native library ({@link native}) or a probed piece ({@link ProbedRequirement}).
 */
export type Requirement = string | PeerBinary | NativeRequirement | ProbedRequirement;

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
 * Probes the local sound card backend (naudiodon, which needs ALSA's `libasound2`) by listing the
 * devices, for {@link peerTest}. Call it at the top of a test file AFTER applying the file's ALSA
 * configuration: listing initialises PortAudio, which reads the configuration only then.
 * Only a backend that does not load (or `LINESCAPE_DISABLE_NATIVE` naming `naudiodon` or `all`)
 * counts as missing; a listing that fails for another reason (a bad ALSA configuration) is left
 * to the tests, which then fail.
 *
 * @returns the requirement, with the reason when the backend is unusable
 */
export async function audioBackend(): Promise<ProbedRequirement> {
  // imported here, not at the top, so test files that never probe do not load the media code
  const { listAudioDevices } = await import('../../media/audioDevice.js');
  const probe = await listAudioDevices();
  const missing = !probe.ok && /naudiodon/.test(probe.reason) ? probe.reason : undefined;
  return { probed: 'audio backend naudiodon', missing, aptPackages: ['libasound2'], then: 'npm rebuild naudiodon' };
}

/** One requirement that is absent: what it is, how to install it, and the details. */
interface Missing {
  /** E.g. `peer sipp`, `library speexdsp`. */
  readonly what: string;
  /** Debian packages that install it. */
  readonly aptPackages: readonly string[];
  /** A command to run after installing the packages. */
  readonly then?: string;
  /** The loader's or the probe's reason, for the failure message under CI. */
  readonly detail?: string;
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
 * The install command for a list of absent requirements: one `apt-get install` of every package,
 * then the extra commands.
 *
 * @param missing - the absent requirements
 * @returns e.g. `apt-get install -y kamailio sip-tester`
 */
function installCommand(missing: readonly Missing[]): string {
  const packages = [...new Set(missing.flatMap((m) => m.aptPackages))];
  const then = [...new Set(missing.flatMap((m) => (m.then === undefined ? [] : [m.then])))];
  return [`apt-get install -y ${packages.join(' ')}`, ...then].join(' && ');
}

/**
 * Checks a set of requirements: peer binaries (with what their scripts need, see
 * {@link PEER_IMPLIES}), native libraries and probed pieces.
 *
 * @param needs - the requirements
 * @returns `found` maps each present binary to its absolute path (libraries and probed pieces
 *   are not listed); `missing` is `undefined` when everything is present, else one line naming
 *   every absent piece and the command that installs them all, e.g.
 *   `missing peer kamailio, peer sipp: apt-get install -y kamailio sip-tester`; `details` adds
 *   the loaders' reasons
 */
export function checkRequirements(needs: ReadonlyArray<Requirement>): {
  found: Record<string, string>;
  missing: string | undefined;
  details: string;
} {
  const found: Record<string, string> = {};
  const missing: Missing[] = [];
  const binaries: PeerBinary[] = [];
  const addBinary = (b: PeerBinary): void => {
    if (binaries.some((x) => x.binary === b.binary)) return;
    binaries.push(b);
    for (const implied of PEER_IMPLIES[b.binary] ?? []) addBinary(toPeerBinary(implied));
  };
  for (const need of needs) {
    if (typeof need !== 'string' && 'native' in need) {
      const loaded = loadNativeLibrary(need.native);
      if (!loaded.ok) missing.push({ what: `library ${need.native}`, aptPackages: [need.aptPackage], detail: loaded.reason });
    } else if (typeof need !== 'string' && 'probed' in need) {
      if (need.missing !== undefined) {
        missing.push({ what: need.probed, aptPackages: need.aptPackages, then: need.then, detail: need.missing });
      }
    } else {
      addBinary(toPeerBinary(need));
    }
  }
  for (const b of binaries) {
    const where = findBinary(b.binary);
    if (where === undefined) missing.push({ what: `peer ${b.binary}`, aptPackages: [b.aptPackage], detail: `not in ${peerPath}` });
    else found[b.binary] = where;
  }
  if (missing.length === 0) return { found, missing: undefined, details: '' };
  return {
    found,
    missing: `missing ${missing.map((m) => m.what).join(', ')}: ${installCommand(missing)}`,
    details: missing.map((m) => `${m.what}: ${m.detail ?? ''}`).join('; '),
  };
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
 * Registers an ava test that needs something from the machine (peer binaries, native libraries,
 * the sound card backend). This is the one way tests declare such needs, so a fresh machine
 * skips exactly what it lacks:
 * - all present: a normal test; `fn` receives the binaries' paths;
 * - any missing, not CI: a `test.skip` whose title ends with
 *   `[skipped: missing peer X, library Y: apt-get install -y X-pkg Y-pkg]`;
 * - any missing, `CI=true`: a normal test that fails with that message and the loaders' reasons.
 *
 * The requirements are checked when the test is registered, so a test that itself disables a
 * library does not skip its neighbours. `peerTest.serial` does the same with `test.serial`.
 * Only usable in ava test files.
 *
 * @param title - the test title
 * @param needs - bare binary names (see {@link APT_PACKAGES}), {@link PeerBinary} records,
 *   {@link native} libraries or probed pieces ({@link audioBackend}); empty for a plain test
 * @param fn - the test body
 */
export function peerTest(title: string, needs: ReadonlyArray<Requirement>, fn: PeerTestFn): void {
  registerPeerTest(false, title, needs, fn);
}

/**
 * Like {@link peerTest}, but the test runs serially (`test.serial`) within its file.
 *
 * @param title - the test title
 * @param needs - as for {@link peerTest}
 * @param fn - the test body
 */
peerTest.serial = function serialPeerTest(title: string, needs: ReadonlyArray<Requirement>, fn: PeerTestFn): void {
  registerPeerTest(true, title, needs, fn);
};

/**
 * Shared registration logic of {@link peerTest} and `peerTest.serial`.
 *
 * @param serial - register with `test.serial`
 * @param title - the test title
 * @param needs - the requirements
 * @param fn - the test body
 */
function registerPeerTest(serial: boolean, title: string, needs: ReadonlyArray<Requirement>, fn: PeerTestFn): void {
  const test = avaTest;
  if (test === undefined) throw new Error('peerTest() can only be used in ava test files');
  const { found, missing, details } = checkRequirements(needs);
  if (missing !== undefined && !isCI) {
    const skipTitle = `${title} [skipped: ${missing}]`;
    if (serial) test.serial.skip(skipTitle, () => undefined);
    else test.skip(skipTitle, () => undefined);
    return;
  }
  const impl = async (t: ExecutionContext): Promise<void> => {
    if (missing !== undefined) {
      t.fail(`${missing} (CI=true, so this fails instead of skipping; ${details})`);
      return;
    }
    await fn(t, found);
  };
  if (serial) test.serial(title, impl);
  else test(title, impl);
}
