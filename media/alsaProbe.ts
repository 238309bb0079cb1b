/**
 * ALSA probing and the device list: what PortAudio (on ALSA) sees, the LanScape device ids
 * (`PREFERRED_AUDIO_DEVICE`, `AUDIO_DEVICE_NOT_USED`) resolved against it, and the guard that
 * keeps PortAudio 19.6 from aborting the process on an ALSA configuration without a `default`
 * PCM. The probing calls run under `silenced` (`media/audioSilence`).
 * @module
 */
import fs from 'node:fs';
import { errorText, loadBackend, settlePendingCloses, type NaudiodonBinding } from './audioBackend.js';
import { silenced } from './audioSilence.js';

/**
 * Device id meaning "PortAudio's default device" for that direction. Same value as the engine's
 * `SIP_USE_PREFERED_AUDIO_DEVICE` (LanScape's name).
 */
export const PREFERRED_AUDIO_DEVICE = -1;

/**
 * Device id meaning "this direction is not used": nothing is opened for it. Same value as the
 * engine's `SIP_AUDIO_DEVICE_NOT_USED`.
 */
export const AUDIO_DEVICE_NOT_USED = -2;

/** One audio device as PortAudio reports it. */
export interface AudioDeviceInfo {
  /** Zero-based PortAudio device index: the id `openLocalAudio` takes. */
  readonly id: number;
  /** Device name (on ALSA, the PCM name: `default`, `sysdefault`, `hw:0,0`, …). */
  readonly name: string;
  /** Capture channels; 0 for an output-only device. */
  readonly maxInputChannels: number;
  /** Playback channels; 0 for an input-only device. */
  readonly maxOutputChannels: number;
  /** The device's preferred sample rate in Hz. */
  readonly defaultSampleRate: number;
  /** Name of the PortAudio host API the device belongs to (`ALSA`, `OSS`, `Core Audio`, …). */
  readonly hostApi: string;
  /** True for the device `PREFERRED_AUDIO_DEVICE` selects for capture. */
  readonly isDefaultInput: boolean;
  /** True for the device `PREFERRED_AUDIO_DEVICE` selects for playback. */
  readonly isDefaultOutput: boolean;
}

/** What `listAudioDevices` found, or why it could not look. */
export type AudioDeviceListResult =
  | {
      /** The listing worked. */
      readonly ok: true;
      /** Every device PortAudio sees, in id order (empty without sound cards). */
      readonly devices: readonly AudioDeviceInfo[];
    }
  | {
      /** The backend could not be loaded or PortAudio failed. */
      readonly ok: false;
      /** Why, in words. */
      readonly reason: string;
    };

/** Options of `listAudioDevices`. */
export interface AudioBackendOptions {
  /**
   * Run the synchronous calls into PortAudio with stdout and stderr pointed at `/dev/null`, so
   * ALSA's probing messages and naudiodon's `printf`s do not reach the console (default true).
   */
  readonly quiet?: boolean;
}


/**
 * PortAudio 19.6's ALSA device enumeration asserts (aborting the process) when the configuration
 * defines no `default` PCM. The system configuration always does; an `ALSA_CONFIG_PATH` naming
 * only missing or unrelated files does not. Returns a reason to refuse, or `undefined`.
 */
export function alsaConfigHazard(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  const env = process.env.ALSA_CONFIG_PATH;
  if (env === undefined || env === '') return undefined;
  const files = env.split(':').filter((f) => f !== '');
  for (const f of files) {
    try {
      const text = fs.readFileSync(f, 'utf8');
      // a `default` PCM defined here, or an include (`<…>`) that may define it
      if (/\bdefault\b/.test(text) || /<[^>]+>/.test(text)) return undefined;
    } catch {
      // missing or unreadable: keep looking
    }
  }
  return (
    `ALSA_CONFIG_PATH=${env} defines no "default" PCM; PortAudio 19.6 would abort the process ` +
    'while enumerating devices, so the audio backend was not initialised'
  );
}


/** Devices plus the host API's default ids, read under {@link silenced}. */
export function queryDevices(binding: NaudiodonBinding, quiet: boolean): AudioDeviceInfo[] {
  const { devices, hostApis } = silenced(quiet, () => ({ devices: binding.getDevices(), hostApis: binding.getHostAPIs() }));
  const host = hostApis.HostAPIs[hostApis.defaultHostAPI];
  const defIn = host?.defaultInput ?? -1;
  const defOut = host?.defaultOutput ?? -1;
  return devices.map((d) => ({
    id: d.id,
    name: d.name,
    maxInputChannels: d.maxInputChannels,
    maxOutputChannels: d.maxOutputChannels,
    defaultSampleRate: d.defaultSampleRate,
    hostApi: d.hostAPIName,
    isDefaultInput: d.id === defIn,
    isDefaultOutput: d.id === defOut,
  }));
}

/**
 * List the audio devices PortAudio sees. Loads naudiodon on first use. On Linux without a sound
 * card this is typically `{ ok: true, devices: [] }`; never throws.
 */
export async function listAudioDevices(options: AudioBackendOptions = {}): Promise<AudioDeviceListResult> {
  const quiet = options.quiet ?? true;
  const hazard = alsaConfigHazard();
  if (hazard !== undefined) return { ok: false, reason: hazard };
  const lib = loadBackend();
  if (!lib.ok) return lib;
  await settlePendingCloses();
  try {
    return { ok: true, devices: queryDevices(lib.binding, quiet) };
  } catch (err) {
    return { ok: false, reason: `PortAudio could not list devices: ${errorText(err)}` };
  }
}

/** Resolve a LanScape-style device id for one direction against the device list. */
export function resolveDevice(
  id: number,
  devices: readonly AudioDeviceInfo[],
  input: boolean,
): { ok: true; device: AudioDeviceInfo } | { ok: false; reason: string } {
  const dir = input ? 'capture' : 'playback';
  if (id === PREFERRED_AUDIO_DEVICE) {
    const d = devices.find((x) => (input ? x.isDefaultInput : x.isDefaultOutput));
    if (d === undefined) return { ok: false, reason: `no default ${dir} device (PortAudio sees ${devices.length} device(s))` };
    return { ok: true, device: d };
  }
  const d = devices.find((x) => x.id === id);
  if (d === undefined) {
    return { ok: false, reason: `no ${dir} device with id ${id} (PortAudio sees ${devices.length} device(s): ids 0..${devices.length - 1})` };
  }
  if ((input ? d.maxInputChannels : d.maxOutputChannels) < 1) {
    return { ok: false, reason: `device ${id} (${d.name}) has no ${input ? 'input' : 'output'} channels` };
  }
  return { ok: true, device: d };
}

/** A device id `openLocalAudio` may be given: a zero-based id, or one of the two special ids. */
export function validDeviceId(id: unknown): id is number {
  return typeof id === 'number' && Number.isInteger(id) && id >= AUDIO_DEVICE_NOT_USED;
}
