/**
 * Joins the phone lines (and the local sound card) to the engine's conference bridge. A line
 * gets a bridge port only while it needs one: while it is in the conference, or while it is the
 * line the local device talks on. Its groups follow from its state at every state change:
 * - in the conference with a connected call: its conference groups (default one group);
 * - the local device's current line (a connected call not in the conference): a private group
 *   with the device, so the operator talks on that call;
 * - on local hold the port is held: it leaves the mix (fading out over one frame) and comes
 *   back on resume;
 * - when the call ends, or the codec changes rate, the port is removed (and remade).
 * The device port joins every group in use by a conferenced line, plus its current line's
 * private group: the operator hears and is heard by the whole conference.
 * @module
 */
import { ConferenceBridge, type EdgeResamplerFactory, type MixerRate, type Port } from '../mixer/index.js';
import type { LocalAudioPort } from '../mixer/localAudioPort.js';
import type { MediaPump } from '../media/mediaPump.js';
import { CallDirection, LineState } from './lineState.js';
import type { LineMedia } from './lineMedia.js';
import type { PhoneLine } from './phoneLine.js';

/** Options of {@link LineMixer}. */
export interface LineMixerOptions {
  /** The engine's media pump; the bridge is its mixing phase. */
  readonly pump: MediaPump;
  /** Mixing rate. */
  readonly rate: MixerRate;
  /** Edge resamplers (libspeexdsp's when installed). */
  readonly resamplerFactory?: EdgeResamplerFactory | null;
}

interface LinePort {
  port: Port;
  media: LineMedia;
}

/** The engine's bridge and the ports of its lines. */
export class LineMixer {
  /** The conference bridge. */
  readonly bridge: ConferenceBridge;
  private readonly ports = new Map<PhoneLine, LinePort>();
  private deviceLine: PhoneLine | null = null;
  private device: LocalAudioPort | null = null;
  private readonly lines = new Set<PhoneLine>();

  constructor(private readonly opts: LineMixerOptions) {
    this.bridge = new ConferenceBridge({ rate: opts.rate, ...(opts.resamplerFactory ? { resamplerFactory: opts.resamplerFactory } : {}) });
    // the pump calls the bridge between the lines' produce and consume phases
    opts.pump.setMixer(this.bridge);
  }

  /** Know a line (the owner calls {@link LineMixer.update} after each of its state changes). */
  track(line: PhoneLine): void {
    this.lines.add(line);
  }

  /** Attach the local device's port (null detaches). */
  setDevice(device: LocalAudioPort | null): void {
    this.device = device;
    this.refreshDevice();
  }

  /** True when the line has a connected call whose media is negotiated. */
  static connected(line: PhoneLine): boolean {
    return (line.state === LineState.InCall || line.state === LineState.OnHold || line.earlyMedia) && line.media !== undefined && line.media.sampleRate > 0;
  }

  /** Re-derive a line's port and groups from its state (after any change). */
  update(line: PhoneLine): void {
    const connected = LineMixer.connected(line);
    if (this.device !== null) {
      // an outgoing call's early media (the far end's ringback) is heard like the call itself
      const heard = line.state === LineState.InCall || (line.earlyMedia && line.callDirection === CallDirection.Outgoing);
      if (connected && heard && !line.conferenced) this.deviceLine = line;
      else if (this.deviceLine === line && (!connected || line.conferenced)) this.deviceLine = null;
    }
    const groups: string[] = [];
    if (connected) {
      if (line.conferenced) groups.push(...line.conferenceGroups);
      else if (this.deviceLine === line) groups.push(privateGroup(line));
    }
    let lp = this.ports.get(line);
    if (lp !== undefined && (groups.length === 0 || lp.media !== line.media || lp.port.rate !== line.media.sampleRate)) {
      this.drop(line, lp);
      lp = undefined;
    }
    if (groups.length > 0) {
      if (lp === undefined) {
        const media = line.media!;
        const port = this.bridge.addPort({ name: `line ${line.index}`, rate: media.sampleRate as MixerRate });
        media.setFramePort(port);
        lp = { port, media };
        this.ports.set(line, lp);
      }
      lp.port.setGroups(groups);
      lp.port.held = line.state === LineState.OnHold;
    }
    this.refreshDevice();
  }

  private drop(line: PhoneLine, lp: LinePort): void {
    lp.media.setFramePort(null);
    this.bridge.removePort(lp.port);
    this.ports.delete(line);
  }

  private refreshDevice(): void {
    const d = this.device;
    if (d === null) return;
    const groups = new Set<string>();
    for (const l of this.lines) if (l.conferenced && LineMixer.connected(l)) for (const g of l.conferenceGroups) groups.add(g);
    if (this.deviceLine !== null) groups.add(privateGroup(this.deviceLine));
    d.port.setGroups([...groups]);
  }

  /** Remove every port and leave the pump. */
  close(): void {
    for (const [line, lp] of this.ports) this.drop(line, lp);
    this.lines.clear();
    this.opts.pump.setMixer(null);
  }
}

function privateGroup(line: PhoneLine): string {
  // a NUL cannot appear in an application's group id (setConferenceGroupIds refuses it)
  return `\u0000line ${line.index}`;
}
