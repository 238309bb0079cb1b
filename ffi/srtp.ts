/**
 * libsrtp2 through koffi: SRTP and SRTCP (RFC 3711) for one direction of one RTP session, with
 * keys from SDES (RFC 4568, see `sip/sdes.ts`).
 *
 * Loading is lazy (see `ffi/loader.ts`): nothing native is touched until the first
 * {@link SrtpContext.create}, which returns an {@link SrtpResult} and never throws; when the
 * library is missing the failure's `code` is `'library-missing'` (the engine's
 * `SipNativeLibraryMissing`). One libsrtp2 is loaded per process, the first of: the file named
 * by {@link setSrtpLibraryPath} or {@link SRTP_LIBRARY_ENV}; the package's own OpenSSL build
 * ({@link PACKAGED_SRTP_LIBRARY}, `npm run build:libsrtp2`); the system `libsrtp2.so.1`.
 * Debian's `libsrtp2-1` is built with NSS, which sets up a PKCS#11 context for every packet;
 * the OpenSSL build keeps its cipher contexts, so SRTP costs much less CPU with it.
 * {@link srtpStatus} says which file is in use and its crypto backend. `srtp_init` runs once.
 *
 * Per packet ({@link SrtpContext.protectRtp} and friends) the caller's buffer is transformed in
 * place: protecting appends the authentication tag (and SRTCP index, and MKI), so the buffer must
 * have {@link SrtpContext.trailerBytes} of room after the packet; unprotecting shortens it. The
 * length travels through an `Int32Array` preallocated per context, so a packet allocates nothing.
 * Replay protection is libsrtp's own (a 128-packet window for SRTP, RFC 3711 §3.3.2).
 *
 * Every suite of RFC 4568 / RFC 7714 that LineScape negotiates is tried at run time by
 * {@link srtpSuiteSupported}: a libsrtp2 built without OpenSSL or NSS has no AES-GCM (Debian's
 * 2.5.0 is built with NSS and has all four).
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { elfNeededLibraries } from './elf.js';
import { DISABLE_NATIVE_ENV, isNativeLibraryDisabled, loadLibraryFiles, NATIVE_LIBRARY_FILES, type NativeFunction, type NativeLibraryHandle } from './loader.js';

/** The SRTP crypto suites LineScape can use, by their SDES names (RFC 4568 §6.2, RFC 7714 §14.2). */
export type SrtpSuite = 'AES_CM_128_HMAC_SHA1_80' | 'AES_CM_128_HMAC_SHA1_32' | 'AEAD_AES_128_GCM' | 'AEAD_AES_256_GCM';

/** Every {@link SrtpSuite}, in LineScape's order of preference (strongest tag first, then GCM). */
export const SRTP_SUITES: readonly SrtpSuite[] = ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32', 'AEAD_AES_128_GCM', 'AEAD_AES_256_GCM'];

/** Facts about one suite: libsrtp's profile number and the master key and salt lengths, bytes. */
export interface SrtpSuiteInfo {
  /** `srtp_profile_t` value. */
  readonly profile: number;
  /** Master key bytes. */
  readonly keyBytes: number;
  /** Master salt bytes. */
  readonly saltBytes: number;
  /** Authentication tag bytes appended to each SRTP packet. */
  readonly tagBytes: number;
  /** Authentication tag bytes of SRTCP (80 bits for both AES-CM suites, RFC 4568 §6.2.2). */
  readonly rtcpTagBytes: number;
}

/** The {@link SrtpSuiteInfo} of each suite (srtp.h `srtp_profile_t`; RFC 3711, RFC 7714). */
export const SRTP_SUITE_INFO: Readonly<Record<SrtpSuite, SrtpSuiteInfo>> = {
  AES_CM_128_HMAC_SHA1_80: { profile: 1, keyBytes: 16, saltBytes: 14, tagBytes: 10, rtcpTagBytes: 10 },
  AES_CM_128_HMAC_SHA1_32: { profile: 2, keyBytes: 16, saltBytes: 14, tagBytes: 4, rtcpTagBytes: 10 },
  AEAD_AES_128_GCM: { profile: 7, keyBytes: 16, saltBytes: 12, tagBytes: 16, rtcpTagBytes: 16 },
  AEAD_AES_256_GCM: { profile: 8, keyBytes: 32, saltBytes: 12, tagBytes: 16, rtcpTagBytes: 16 },
};

/** Longest MKI accepted, bytes (RFC 4568 allows 128; real offers use 1 to 4). */
export const SRTP_MAX_MKI_BYTES = 16;

/**
 * Whether libsrtp2 handles an MKI with `suite`. Not with `AES_CM_128_HMAC_SHA1_32`: libsrtp 2.x
 * looks for the MKI of an SRTCP packet using the RTP tag length (4) instead of SRTCP's (10), so
 * every SRTCP packet would fail; such crypto lines are treated as unusable.
 */
export function srtpMkiSupported(suite: SrtpSuite): boolean {
  return suite !== 'AES_CM_128_HMAC_SHA1_32';
}

/** Why a `SrtpContext.create` failed. */
export type SrtpErrorCode =
  /** libsrtp2 (or koffi) could not be loaded: `TelephonyReturnValue.SipNativeLibraryMissing`. */
  | 'library-missing'
  /** A key of the wrong length, an MKI too long, an unknown suite. */
  | 'invalid-argument'
  /** libsrtp refused the policy (a suite this build lacks). */
  | 'init-failed';

/** A failed create: a code to map to a return value and a sentence for logs (never the key). */
export interface SrtpFailure {
  /** Always false. */
  readonly ok: false;
  /** Machine-readable cause. */
  readonly code: SrtpErrorCode;
  /** Human-readable detail. */
  readonly reason: string;
}

/** A successful create. */
export interface SrtpSuccess<T> {
  /** Always true. */
  readonly ok: true;
  /** The new object; call its `close()` when done. */
  readonly value: T;
}

/** The result of a create: the object, or a {@link SrtpFailure}. Never thrown. */
export type SrtpResult<T> = SrtpSuccess<T> | SrtpFailure;

/** `srtp_err_status_t` values a packet transform reports (srtp.h). */
export const SRTP_ERR = {
  /** Nothing wrong. */
  ok: 0,
  /** Bad parameter (a packet too short to be SRTP). */
  badParam: 2,
  /** Authentication failed: tampered, or another key. */
  authFail: 7,
  /** Cipher failure (GCM: authentication failed). */
  cipherFail: 8,
  /** The packet index was seen before (a replay). */
  replayFail: 9,
  /** The packet index is older than the replay window. */
  replayOld: 10,
  /** No stream for this SSRC (not our context). */
  noCtx: 13,
  /** The MKI in the packet is not ours. */
  badMki: 25,
} as const;

/** Whether a negative transform result (minus `srtp_err_status_t`) means a replayed packet. */
export function isSrtpReplay(result: number): boolean {
  return result === -SRTP_ERR.replayFail || result === -SRTP_ERR.replayOld;
}

/** Which way a context works: `send` protects outgoing packets, `receive` unprotects incoming ones. */
export type SrtpDirection = 'send' | 'receive';

/** The koffi calls this module makes beyond the loader's `func`: struct declarations. */
interface KoffiStructs {
  struct(name: string, def: Record<string, unknown>): unknown;
}

interface SrtpApi {
  readonly create: NativeFunction;
  readonly dealloc: NativeFunction;
  readonly profileRtp: NativeFunction;
  readonly profileRtcp: NativeFunction;
  readonly protect: NativeFunction;
  readonly unprotect: NativeFunction;
  readonly protectRtcp: NativeFunction;
  readonly unprotectRtcp: NativeFunction;
  readonly version: string;
}

/** Where the loaded libsrtp2 came from (see {@link srtpStatus}). */
export type SrtpLibrarySource =
  /** The file named by the start parameter `srtpLibraryPath` (`setSrtpLibraryPath`) or {@link SRTP_LIBRARY_ENV}. */
  | 'explicit'
  /** The package's own OpenSSL build, `native/libsrtp2/libsrtp2.so.1` (`npm run build:libsrtp2`). */
  | 'package'
  /** The system library by its soname (Debian: `libsrtp2-1`). */
  | 'system';

/**
 * The crypto code the loaded libsrtp2 was built with, judged by the libraries its file links:
 * `openssl` (libcrypto; AES-NI, contexts kept between packets), `nss` (libnss3; Debian's
 * `libsrtp2-1`, a PKCS#11 context per packet), `builtin` (neither: libsrtp's own AES and SHA-1,
 * no AES-GCM), `unknown` (the file could not be read, or not an ELF file).
 */
export type SrtpCryptoBackend = 'openssl' | 'nss' | 'builtin' | 'unknown';

/** Which libsrtp2 this process uses. */
export interface SrtpLibraryInfo {
  /** Which candidate it was. */
  readonly source: SrtpLibrarySource;
  /** The file loaded (on Linux the real path, also when loaded by soname; else as given). */
  readonly path: string;
  /** `srtp_get_version_string()`, e.g. `libsrtp2 2.5.0`. */
  readonly version: string;
  /** Its crypto backend. */
  readonly backend: SrtpCryptoBackend;
  /** Candidates tried before it that failed, each with its reason (empty normally). */
  readonly skipped: readonly string[];
}

/**
 * Environment variable naming the libsrtp2 file to load before the others (a path or a soname),
 * or `system` to skip the package's own build and load the system library. The start parameter
 * `srtpLibraryPath` (`setSrtpLibraryPath`) wins over it.
 */
export const SRTP_LIBRARY_ENV = 'LINESCAPE_LIBSRTP2';

/** The package's own libsrtp2 build, relative to the package root (`scripts/build-libsrtp2.sh`). */
export const PACKAGED_SRTP_LIBRARY = 'native/libsrtp2/libsrtp2.so.1';

/** Absolute path of {@link PACKAGED_SRTP_LIBRARY} (this module is `dist/ffi/srtp.js` in the package). */
export function packagedSrtpLibraryPath(): string {
  return fileURLToPath(new URL(`../../${PACKAGED_SRTP_LIBRARY}`, import.meta.url));
}

let explicitPath: string | undefined;

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The loaded library: its bound functions and facts, or why none could be loaded. */
let bound: { choice: string; result: { api: SrtpApi; info: SrtpLibraryInfo } | SrtpFailure } | undefined;

/**
 * Names the libsrtp2 file to load first (start parameter `srtpLibraryPath`), or `undefined` to
 * go back to {@link SRTP_LIBRARY_ENV} and the defaults. libsrtp2 is loaded and initialised once
 * per process, so this only takes effect before the first SRTP use (or after a failed load);
 * false when another library is already in use.
 */
export function setSrtpLibraryPath(path: string | undefined): boolean {
  explicitPath = path === '' ? undefined : path;
  return bound === undefined || !('api' in bound.result) || bound.choice === currentChoice();
}

function currentChoice(): string {
  return explicitPath ?? process.env[SRTP_LIBRARY_ENV] ?? '';
}

/** The files to try, in order: the explicit one, the package's build if present, the system soname. */
function candidates(choice: string): { source: SrtpLibrarySource; files: readonly string[] }[] {
  const out: { source: SrtpLibrarySource; files: readonly string[] }[] = [];
  if (choice !== '' && choice !== 'system') out.push({ source: 'explicit', files: [choice] });
  if (choice !== 'system' && process.platform === 'linux') {
    const pkg = packagedSrtpLibraryPath();
    if (existsSync(pkg)) out.push({ source: 'package', files: [pkg] });
  }
  out.push({ source: 'system', files: NATIVE_LIBRARY_FILES.srtp2 });
  return out;
}

/** The real path of the mapped libsrtp2 file, from /proc/self/maps (Linux); `fallback` elsewhere. */
function mappedPath(fallback: string): string {
  if (fallback.includes('/')) return fallback;
  try {
    for (const line of readFileSync('/proc/self/maps', 'latin1').split('\n')) {
      const at = line.indexOf('/');
      if (at > 0 && /\/libsrtp2[^/]*$/.test(line)) return line.slice(at);
    }
  } catch {
    // not Linux: the soname is all we know
  }
  return fallback;
}

function backendOf(path: string): SrtpCryptoBackend {
  const needed = elfNeededLibraries(path);
  if (needed === undefined) return 'unknown';
  if (needed.some((n) => n.startsWith('libcrypto.'))) return 'openssl';
  if (needed.some((n) => n.startsWith('libnss3.'))) return 'nss';
  return 'builtin';
}

let structsDeclared = false;

function bind(lib: NativeLibraryHandle): SrtpApi | string {
  if (!structsDeclared) {
    // koffi type names are process-wide: declared once, whichever library is bound
    declareStructs(createRequire(import.meta.url)('koffi') as KoffiStructs);
    structsDeclared = true;
  }
  const init = lib.func('int srtp_init(void)');
  const versionString = lib.func('const char *srtp_get_version_string(void)');
  const api: SrtpApi = {
    create: lib.func('int srtp_create(_Out_ void **session, const srtp_policy_t *policy)'),
    dealloc: lib.func('int srtp_dealloc(void *session)'),
    profileRtp: lib.func('int srtp_crypto_policy_set_from_profile_for_rtp(_Out_ srtp_crypto_policy_t *p, int profile)'),
    profileRtcp: lib.func('int srtp_crypto_policy_set_from_profile_for_rtcp(_Out_ srtp_crypto_policy_t *p, int profile)'),
    protect: lib.func('int srtp_protect_mki(void *ctx, uint8_t *hdr, _Inout_ int *len, unsigned int use_mki, unsigned int mki_index)'),
    unprotect: lib.func('int srtp_unprotect_mki(void *ctx, uint8_t *hdr, _Inout_ int *len, unsigned int use_mki)'),
    protectRtcp: lib.func('int srtp_protect_rtcp_mki(void *ctx, uint8_t *hdr, _Inout_ int *len, unsigned int use_mki, unsigned int mki_index)'),
    unprotectRtcp: lib.func('int srtp_unprotect_rtcp_mki(void *ctx, uint8_t *hdr, _Inout_ int *len, unsigned int use_mki)'),
    version: String(versionString()),
  };
  const rc = init() as number;
  // srtp_init is once per process: in a media worker (mediaWorkers) the main thread has done it
  // before starting the worker, and the repeat answers srtp_err_status_bad_param (2)
  if (rc !== 0 && !(rc === 2 && !isMainThread)) return `srtp_init failed (error ${rc})`;
  return api;
}

function declareStructs(koffi: KoffiStructs): void {
  // srtp.h of libsrtp 2.x (ABI stable across 2.x: srtp_policy_t is 128 bytes on LP64)
  koffi.struct('srtp_crypto_policy_t', {
    cipher_type: 'uint32_t',
    cipher_key_len: 'int',
    auth_type: 'uint32_t',
    auth_key_len: 'int',
    auth_tag_len: 'int',
    sec_serv: 'int',
  });
  koffi.struct('srtp_ssrc_t', { type: 'int', value: 'uint32_t' });
  koffi.struct('srtp_master_key_t', { key: 'uint8_t *', mki_id: 'uint8_t *', mki_size: 'unsigned int' });
  koffi.struct('srtp_policy_t', {
    ssrc: 'srtp_ssrc_t',
    rtp: 'srtp_crypto_policy_t',
    rtcp: 'srtp_crypto_policy_t',
    key: 'uint8_t *',
    keys: 'srtp_master_key_t **',
    num_master_keys: 'unsigned long',
    deprecated_ekt: 'void *',
    window_size: 'unsigned long',
    allow_repeat_tx: 'int',
    enc_xtn_hdr: 'void *',
    enc_xtn_hdr_count: 'int',
    next: 'void *',
  });
}

/** Loads the first candidate that loads and binds, or says why none did. */
function loadFirst(choice: string): { api: SrtpApi; info: SrtpLibraryInfo } | SrtpFailure {
  const skipped: string[] = [];
  for (const c of candidates(choice)) {
    const loaded = loadLibraryFiles(c.files, 'srtp2');
    if (!loaded.ok) {
      skipped.push(`${c.source}: ${loaded.reason}`);
      continue;
    }
    let api: SrtpApi | string;
    try {
      api = bind(loaded.lib);
    } catch (err) {
      api = `libsrtp2 lacks a symbol: ${errorText(err)}`;
    }
    if (typeof api === 'string') {
      skipped.push(`${c.source} ${c.files.join(', ')}: ${api}`);
      continue;
    }
    const path = mappedPath(c.files.length === 1 ? (c.files[0] ?? '') : (NATIVE_LIBRARY_FILES.srtp2[0] ?? ''));
    return { api, info: { source: c.source, path, version: api.version, backend: backendOf(path), skipped } };
  }
  return { ok: false, code: 'library-missing', reason: `no usable libsrtp2 (${skipped.join('; ')})` };
}

/**
 * Load, bind and initialise libsrtp2 once per process, or say why not. Never throws. A failed
 * load is tried again when the explicit choice changes.
 */
function srtpApi(): { ok: true; api: SrtpApi; info: SrtpLibraryInfo } | SrtpFailure {
  if (isNativeLibraryDisabled('srtp2')) {
    return { ok: false, code: 'library-missing', reason: `native library srtp2 is disabled (${DISABLE_NATIVE_ENV} or setNativeLibraryDisabled)` };
  }
  const choice = currentChoice();
  if (bound === undefined || (!('api' in bound.result) && bound.choice !== choice)) bound = { choice, result: loadFirst(choice) };
  const r = bound.result;
  return 'api' in r ? { ok: true, api: r.api, info: r.info } : r;
}

/** libsrtp2 is usable: which library it is. */
export interface SrtpAvailable extends SrtpLibraryInfo {
  /** Always true. */
  readonly ok: true;
}

/**
 * Whether libsrtp2 loads here, and which one (loads and initialises it on first call): its
 * version, file, source and crypto backend. Never throws.
 */
export function srtpStatus(): SrtpAvailable | SrtpFailure {
  const r = srtpApi();
  return r.ok ? { ok: true, ...r.info } : r;
}

/** One line naming the library in use, e.g. `libsrtp2 2.5.0, OpenSSL backend (package: /…/libsrtp2.so.1)`. */
export function describeSrtpLibrary(info: SrtpLibraryInfo): string {
  const backend = { openssl: 'OpenSSL', nss: 'NSS', builtin: 'built-in', unknown: 'unknown' }[info.backend];
  return `${info.version}, ${backend} backend (${info.source}: ${info.path})`;
}

const suiteSupport = new Map<SrtpSuite, boolean>();

/**
 * Whether this libsrtp2 build can run `suite` (tried once by creating a context with a dummy
 * key): the AES-GCM suites need libsrtp2 built with OpenSSL or NSS. False without the library.
 */
export function srtpSuiteSupported(suite: SrtpSuite): boolean {
  const known = suiteSupport.get(suite);
  if (known !== undefined) return known;
  const status = srtpApi();
  if (!status.ok) return false;
  const info = SRTP_SUITE_INFO[suite];
  const r = SrtpContext.create(suite, new Uint8Array(info.keyBytes + info.saltBytes), 'send');
  if (r.ok) r.value.close();
  suiteSupport.set(suite, r.ok);
  return r.ok;
}

/** The suites {@link srtpSuiteSupported} accepts, in {@link SRTP_SUITES} order (empty without the library). */
export function supportedSrtpSuites(): SrtpSuite[] {
  return SRTP_SUITES.filter(srtpSuiteSupported);
}

/** Native contexts of dropped, unclosed objects. */
const finalizer = new FinalizationRegistry<{ api: SrtpApi; ctx: unknown }>((held) => {
  try {
    held.api.dealloc(held.ctx);
  } catch {
    // nothing useful to do in a finalizer
  }
});

/**
 * One direction of SRTP + SRTCP for a session: a libsrtp `srtp_t` with one template stream
 * (`ssrc_any_outbound` to send, `ssrc_any_inbound` to receive), so any SSRC the peer or we use
 * gets a stream. Transform methods return the new packet length, or minus libsrtp's error code
 * ({@link SRTP_ERR}); they never throw.
 */
export class SrtpContext {
  /** Bytes a protect may append: the (larger, SRTCP) tag, the SRTCP index (4) and the MKI. */
  readonly trailerBytes: number;
  private readonly len = new Int32Array(1);
  private closed = false;

  private constructor(
    private readonly api: SrtpApi,
    private ctx: unknown,
    /** The suite in use. */
    readonly suite: SrtpSuite,
    private readonly useMki: number,
    mkiBytes: number,
  ) {
    this.trailerBytes = SRTP_SUITE_INFO[suite].rtcpTagBytes + 4 + mkiBytes;
    finalizer.register(this, { api, ctx }, this);
  }

  /**
   * A context for `suite` keyed with `masterKey` (key then salt, as SDES carries it) and, when
   * given, the MKI the packets carry (RFC 3711 §3.1). Never throws; the key is not kept by this
   * object (libsrtp derives its session keys at once).
   */
  static create(suite: SrtpSuite, masterKey: Uint8Array, direction: SrtpDirection, mki?: Uint8Array): SrtpResult<SrtpContext> {
    const info = (SRTP_SUITE_INFO as Partial<Record<string, SrtpSuiteInfo>>)[suite];
    if (info === undefined) return { ok: false, code: 'invalid-argument', reason: `unknown SRTP suite ${String(suite)}` };
    if (!(masterKey instanceof Uint8Array) || masterKey.length !== info.keyBytes + info.saltBytes) {
      return { ok: false, code: 'invalid-argument', reason: `${suite} needs a ${info.keyBytes + info.saltBytes}-byte master key and salt` };
    }
    if (mki !== undefined && (mki.length < 1 || mki.length > SRTP_MAX_MKI_BYTES)) {
      return { ok: false, code: 'invalid-argument', reason: `MKI of ${mki.length} bytes (1..${SRTP_MAX_MKI_BYTES} supported)` };
    }
    if (mki !== undefined && !srtpMkiSupported(suite)) return { ok: false, code: 'invalid-argument', reason: `libsrtp2 cannot use an MKI with ${suite}` };
    const loaded = srtpApi();
    if (!loaded.ok) return loaded;
    const { api } = loaded;
    try {
      const rtp = {};
      const rtcp = {};
      if ((api.profileRtp(rtp, info.profile) as number) !== 0 || (api.profileRtcp(rtcp, info.profile) as number) !== 0) {
        return { ok: false, code: 'init-failed', reason: `this libsrtp2 build has no ${suite}` };
      }
      const key = Buffer.from(masterKey);
      const policy = {
        ssrc: { type: direction === 'send' ? 3 : 2, value: 0 }, // ssrc_any_outbound / ssrc_any_inbound
        rtp,
        rtcp,
        key: mki === undefined ? key : null,
        keys: mki === undefined ? null : [{ key, mki_id: Buffer.from(mki), mki_size: mki.length }],
        num_master_keys: mki === undefined ? 0 : 1,
        deprecated_ekt: null,
        window_size: 128,
        allow_repeat_tx: 0,
        enc_xtn_hdr: null,
        enc_xtn_hdr_count: 0,
        next: null,
      };
      const out: unknown[] = [null];
      const rc = api.create(out, policy) as number;
      key.fill(0); // our copy of the master key; libsrtp keeps only what it derived
      if (rc !== 0 || out[0] === null || out[0] === undefined) return { ok: false, code: 'init-failed', reason: `srtp_create failed for ${suite} (error ${rc})` };
      return { ok: true, value: new SrtpContext(api, out[0], suite, mki === undefined ? 0 : 1, mki?.length ?? 0) };
    } catch (err) {
      return { ok: false, code: 'init-failed', reason: `srtp_create threw: ${errorText(err)}` };
    }
  }

  private run(fn: NativeFunction, buf: Uint8Array, length: number, withIndex: boolean): number {
    if (this.closed) return -SRTP_ERR.noCtx;
    this.len[0] = length;
    const rc = (withIndex ? fn(this.ctx, buf, this.len, this.useMki, 0) : fn(this.ctx, buf, this.len, this.useMki)) as number;
    return rc === 0 ? (this.len[0] ?? 0) : -rc;
  }

  /** Encrypts and authenticates the RTP packet `buf[0..length)` in place; `buf` needs {@link trailerBytes} of room after it. */
  protectRtp(buf: Uint8Array, length: number): number {
    if (buf.length < length + this.trailerBytes) return -SRTP_ERR.badParam;
    return this.run(this.api.protect, buf, length, true);
  }

  /** Checks and decrypts the SRTP packet `buf[0..length)` in place: the plain length, or minus the error. */
  unprotectRtp(buf: Uint8Array, length: number): number {
    return this.run(this.api.unprotect, buf, length, false);
  }

  /** Protects the RTCP compound packet `buf[0..length)` in place (SRTCP). */
  protectRtcp(buf: Uint8Array, length: number): number {
    if (buf.length < length + this.trailerBytes) return -SRTP_ERR.badParam;
    return this.run(this.api.protectRtcp, buf, length, true);
  }

  /** Checks and decrypts the SRTCP packet `buf[0..length)` in place. */
  unprotectRtcp(buf: Uint8Array, length: number): number {
    return this.run(this.api.unprotectRtcp, buf, length, false);
  }

  /** Frees the native context (its keys are wiped by libsrtp). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    finalizer.unregister(this);
    try {
      this.api.dealloc(this.ctx);
    } catch {
      // a failed free leaks one context; nothing else to do
    }
    this.ctx = null;
  }
}
