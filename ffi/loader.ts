/**
 * Lazy loading of the native libraries the `ffi/` bindings wrap. Nothing native is touched at
 * import time: koffi itself and each shared library are loaded on the first request, by trying a
 * list of sonames in order, and the outcome (success or the reason for failure) is cached so later
 * requests cost a map look-up. Every entry point returns a result object and never throws, so a
 * machine without `libspeexdsp` simply runs without echo cancellation instead of crashing.
 *
 * Tests (and operators) can pretend a library is absent: set the environment variable
 * {@link DISABLE_NATIVE_ENV} to a comma-separated list of library names (`speexdsp`, or `all`),
 * or call {@link setNativeLibraryDisabled}.
 * @module
 */
import { createRequire } from 'node:module';

/** A native function bound through koffi: called like a JS function, with C-typed arguments. */
export type NativeFunction = (...args: unknown[]) => unknown;

/**
 * The part of a loaded koffi library handle the bindings use: `func` declares a function from a
 * C-like prototype (`'int speex_echo_ctl(void *st, int request, void *ptr)'`) and returns a
 * callable; it throws if the symbol is not exported.
 */
export interface NativeLibraryHandle {
  /** Bind the exported function described by a C prototype string. */
  func(prototype: string): NativeFunction;
}

/** Names of the native libraries the engine knows how to load. */
export type NativeLibraryName = 'speexdsp' | 'spandsp' | 'bcg729' | 'gsm' | 'opus' | 'srtp2';

/**
 * The outcome of loading a native library: the handle, or a human-readable reason (the sonames
 * tried and the loader's last error, or "disabled by …"). Engine entry points map the failure to
 * `TelephonyReturnValue.SipNativeLibraryMissing`.
 */
export type NativeLoadResult = NativeLoadSuccess | NativeLoadFailure;

/** A library that loaded. */
export interface NativeLoadSuccess {
  /** Always true. */
  readonly ok: true;
  /** The koffi handle to bind functions from. */
  readonly lib: NativeLibraryHandle;
}

/** A library that could not be loaded (or is disabled). */
export interface NativeLoadFailure {
  /** Always false. */
  readonly ok: false;
  /** Why: the files tried and the loader's errors, or which switch disabled it. */
  readonly reason: string;
}

/**
 * Environment variable listing native libraries to treat as missing, comma-separated
 * (`LINESCAPE_DISABLE_NATIVE=speexdsp`, or `all`). Read on every load request, so a test can set
 * it at run time.
 */
export const DISABLE_NATIVE_ENV = 'LINESCAPE_DISABLE_NATIVE';

/**
 * File names tried, in order, for each library on the current platform. The versioned soname
 * comes first (it is what the runtime package installs, e.g. Debian's `libspeexdsp1`); the
 * unversioned name only exists when the development package is installed.
 */
export const NATIVE_LIBRARY_FILES: Readonly<Record<NativeLibraryName, readonly string[]>> = {
  speexdsp:
    process.platform === 'darwin'
      ? ['libspeexdsp.1.dylib', 'libspeexdsp.dylib']
      : process.platform === 'win32'
        ? ['libspeexdsp-1.dll', 'libspeexdsp.dll', 'speexdsp.dll']
        : ['libspeexdsp.so.1', 'libspeexdsp.so'],
  spandsp:
    process.platform === 'darwin'
      ? ['libspandsp.2.dylib', 'libspandsp.dylib']
      : process.platform === 'win32'
        ? ['libspandsp-2.dll', 'libspandsp.dll', 'spandsp.dll']
        : ['libspandsp.so.2', 'libspandsp.so'],
  bcg729:
    process.platform === 'darwin'
      ? ['libbcg729.0.dylib', 'libbcg729.dylib']
      : process.platform === 'win32'
        ? ['libbcg729.dll', 'bcg729.dll']
        : ['libbcg729.so.0', 'libbcg729.so'],
  gsm:
    process.platform === 'darwin'
      ? ['libgsm.1.dylib', 'libgsm.dylib']
      : process.platform === 'win32'
        ? ['libgsm.dll', 'gsm.dll']
        : ['libgsm.so.1', 'libgsm.so'],
  opus:
    process.platform === 'darwin'
      ? ['libopus.0.dylib', 'libopus.dylib']
      : process.platform === 'win32'
        ? ['libopus-0.dll', 'libopus.dll', 'opus.dll']
        : ['libopus.so.0', 'libopus.so'],
  srtp2:
    process.platform === 'darwin'
      ? ['libsrtp2.1.dylib', 'libsrtp2.dylib']
      : process.platform === 'win32'
        ? ['libsrtp2-1.dll', 'libsrtp2.dll', 'srtp2.dll']
        : ['libsrtp2.so.1', 'libsrtp2.so'],
};

/** The koffi module surface used here (its `load` function). */
interface KoffiModule {
  load(path: string): NativeLibraryHandle;
  /** The calling thread's `errno` as the last native call left it. */
  errno?(): number;
  /** The address a Buffer's bytes start at (stable: Node never moves a Buffer's bytes). */
  address?(value: unknown): bigint;
}

let koffiModule: KoffiModule | null | undefined;
let koffiError = '';
const cache = new Map<NativeLibraryName, NativeLoadResult>();
const disabledByCall = new Set<NativeLibraryName | 'udp' | 'all'>();

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Load koffi once, synchronously, through `require` so importing this module loads nothing native. */
function getKoffi(): KoffiModule | null {
  if (koffiModule === undefined) {
    try {
      const req = createRequire(import.meta.url);
      const mod = req('koffi') as Partial<KoffiModule> & { default?: Partial<KoffiModule> };
      const load = typeof mod.load === 'function' ? mod : mod.default;
      if (load === undefined || typeof load.load !== 'function') throw new Error('the koffi module has no load() function');
      koffiModule = load as KoffiModule;
    } catch (err) {
      koffiModule = null;
      koffiError = errorText(err);
    }
  }
  return koffiModule;
}

/**
 * The `errno` the last native call of this thread left (koffi keeps it per call), or 0 when
 * koffi did not load.
 */
export function nativeErrno(): number {
  return getKoffi()?.errno?.() ?? 0;
}

/**
 * The address of `buf`'s first byte, for C structures that point at other buffers (an
 * `iovec`, a `msghdr`). Throws when koffi did not load (callers have loaded a library first).
 * The buffer must not be one V8 may keep inside its heap (64 bytes or less made by
 * `Buffer.alloc` or `Buffer.allocUnsafeSlow`): make what C keeps pointers to larger than that, or
 * over an ArrayBuffer of its own (`Buffer.from(new ArrayBuffer(n))`).
 */
export function nativeAddress(buf: Buffer): bigint {
  const k = getKoffi();
  if (k?.address === undefined) throw new Error(`koffi (the FFI module) failed to load: ${koffiError}`);
  return k.address(buf);
}

/**
 * {@link nativeAddress} as a number, for functions declared with `uintptr_t` parameters (koffi
 * then skips looking the Buffer up at every call). Exact: user-space addresses on x86-64 and
 * arm64 are below 2^48, well inside a double's 2^53. Same rule for the buffer, and the caller
 * keeps it alive as long as the address is used.
 */
export function nativeAddressNumber(buf: Buffer): number {
  return Number(nativeAddress(buf));
}

/**
 * Whether `name` is currently treated as missing, by {@link setNativeLibraryDisabled} or by the
 * {@link DISABLE_NATIVE_ENV} environment variable.
 */
export function isNativeLibraryDisabled(name: NativeLibraryName | 'udp'): boolean {
  if (disabledByCall.has('all') || disabledByCall.has(name)) return true;
  const env = process.env[DISABLE_NATIVE_ENV];
  if (env === undefined || env === '') return false;
  for (const part of env.split(',')) {
    const p = part.trim().toLowerCase();
    if (p === name || p === 'all') return true;
  }
  return false;
}

/**
 * Treat a native library as missing (`disabled` true) or available again, without touching the
 * environment. Meant for tests of the "library not installed" path; objects already created keep
 * working, only new load requests are affected.
 * @param name - a library name, or `'all'` for every native library.
 */
export function setNativeLibraryDisabled(name: NativeLibraryName | 'udp' | 'all', disabled: boolean): void {
  if (disabled) disabledByCall.add(name);
  else disabledByCall.delete(name);
}

/**
 * Forget cached load results, so the next request tries the sonames again (for instance after
 * installing a package while the process runs). Loaded libraries stay mapped while objects use them.
 */
export function resetNativeLibraryCache(): void {
  cache.clear();
}

/**
 * Load a native library by trying {@link NATIVE_LIBRARY_FILES} in order; cached after the first
 * attempt, successful or not. Never throws.
 */
export function loadNativeLibrary(name: NativeLibraryName): NativeLoadResult {
  if (isNativeLibraryDisabled(name)) {
    return { ok: false, reason: `native library ${name} is disabled (${DISABLE_NATIVE_ENV} or setNativeLibraryDisabled)` };
  }
  const cached = cache.get(name);
  if (cached !== undefined) return cached;
  const result = loadLibraryFiles(NATIVE_LIBRARY_FILES[name], name);
  cache.set(name, result);
  return result;
}

/**
 * Try `files` in order with koffi and return the first that loads; uncached, never throws. The
 * building block of {@link loadNativeLibrary}, exported for bindings of libraries not listed in
 * {@link NATIVE_LIBRARY_FILES} yet and for tests of the failure path.
 * @param label - the library's name in the failure reason (default: the first file name).
 */
export function loadLibraryFiles(files: readonly string[], label: string = files[0] ?? 'library'): NativeLoadResult {
  const koffi = getKoffi();
  if (koffi === null) return { ok: false, reason: `koffi (the FFI module) failed to load: ${koffiError}` };
  const errors: string[] = [];
  for (const file of files) {
    try {
      return { ok: true, lib: koffi.load(file) };
    } catch (err) {
      errors.push(`${file}: ${errorText(err)}`);
    }
  }
  return { ok: false, reason: `native library ${label} not found (tried ${errors.length > 0 ? errors.join('; ') : 'no file names'})` };
}

/**
 * Load libspeexdsp (echo canceller, preprocessor, resampler): `libspeexdsp.so.1`, then
 * `libspeexdsp.so` on Linux. Never throws; on failure the reason names the files tried.
 */
export function loadSpeexDsp(): NativeLoadResult {
  return loadNativeLibrary('speexdsp');
}

/** libc (`libc.so.6`), loaded once for every binding of it (see {@link libcBinder}). */
let libcLoaded: NativeLoadResult | undefined;

/**
 * {@link nativeBinder} for libc, which every Linux process has and which no switch disables: the
 * returned function binds `bindAll`'s functions the first time and hands them back, or the reason
 * they are unavailable (libc not loaded, or a symbol missing, prefixed with `missing`). Callers
 * check the platform first. Never throws.
 * @param missing - the start of the reason given when `bindAll` throws
 * @param bindAll - declares the functions from libc's handle (with `lib.func`)
 */
export function libcBinder<F>(missing: string, bindAll: (lib: NativeLibraryHandle) => F): () => F | string {
  let bound: F | string | undefined;
  return () => {
    if (bound !== undefined) return bound;
    libcLoaded ??= loadLibraryFiles(['libc.so.6'], 'libc');
    if (!libcLoaded.ok) return (bound = libcLoaded.reason);
    try {
      bound = bindAll(libcLoaded.lib);
    } catch (err) {
      bound = `${missing}: ${errorText(err)}`;
    }
    return bound;
  };
}

/**
 * A lazy binder for one native library: the returned function loads `name` (through
 * {@link loadNativeLibrary}, asked on every call so {@link DISABLE_NATIVE_ENV} takes effect at
 * once), binds the library's functions with `bindAll` the first time it loads, and hands back
 * the bound functions, or the reason they are unavailable. A symbol missing from the library is
 * remembered as that reason, prefixed with `missing` (e.g. "libgsm lacks a GSM function").
 * Never throws.
 * @param name - the library, as {@link loadNativeLibrary} knows it
 * @param missing - the start of the reason given when `bindAll` throws
 * @param bindAll - declares the functions from the loaded handle (with `lib.func`)
 */
export function nativeBinder<F>(name: NativeLibraryName, missing: string, bindAll: (lib: NativeLibraryHandle) => F): () => F | string {
  let bound: F | string | undefined;
  return () => {
    const loaded = loadNativeLibrary(name);
    if (!loaded.ok) return loaded.reason;
    if (bound === undefined) {
      try {
        bound = bindAll(loaded.lib);
      } catch (err) {
        bound = `${missing}: ${errorText(err)}`;
      }
    }
    return bound;
  };
}
