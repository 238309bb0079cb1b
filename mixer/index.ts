/**
 * The conference bridge floor: ports, mix-minus, conference groups, gains, hold, VU and
 * recording taps. Works on 16-bit PCM frames only; knows nothing of RTP or SIP.
 * @module
 */
export { ConferenceBridge } from './bridge.js';
export type { ConferenceBridgeOptions, ConferenceBridgeStats } from './bridge.js';
export { Port, GAIN_UNITY, GAIN_MAX } from './port.js';
export type { AddPortOptions, EdgeResamplerOptions, EdgeResamplerFactory, MixerRate, PortLevels, RecordTap, LevelTap } from './port.js';
