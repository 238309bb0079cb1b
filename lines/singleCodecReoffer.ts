/**
 * Re-offering the one chosen codec (pjsua's policy, `PJSUA_CALL_REINVITE` after a multi-codec
 * answer; the `reofferSingleCodec` start option). RFC 3264 §6.1 lets an answer list several of
 * the offered codecs; the answerer may then send any of them, and switch at will, while we send
 * the first. Some gateways do switch, and a recorder or transcoder on the path then sees two
 * codecs. After such an answer to our INVITE the caller sends one re-INVITE offering only the
 * codec in use (plus telephone-event), so both sides are held to the same one.
 *
 * Pure: reads the answer's first `m=audio` line and its `a=rtpmap`s; the call (lines/call.ts)
 * sends the re-INVITE.
 * @module
 */
import type { AudioFormatSpec } from '../sip/sdp.js';

/** Encoding names that are not voice codecs: they ride beside the codec, not instead of it. */
const NOT_CODECS = new Set(['telephone-event', 'cn']);
/** Static payload type 13 is comfort noise (RFC 3551), with or without an rtpmap. */
const STATIC_CN = 13;

/**
 * The number of voice codecs an SDP answer lists on its first audio stream (telephone-event and
 * comfort noise not counted). 0 when it has no audio stream.
 * @param answerSdp the SDP answer
 */
export function answeredCodecCount(answerSdp: string): number {
  const lines = answerSdp.split(/\r?\n/);
  const at = lines.findIndex((l) => l.startsWith('m=audio '));
  if (at < 0) return 0;
  const payloads = (lines[at] ?? '').trim().split(/\s+/).slice(3);
  const names = new Map<string, string>();
  for (let i = at + 1; i < lines.length && !lines[i]!.startsWith('m='); i++) {
    const m = /^a=rtpmap:(\d+)\s+([^/\s]+)/.exec(lines[i]!);
    if (m) names.set(m[1]!, m[2]!.toLowerCase());
  }
  return payloads.filter((pt) => /^\d+$/.test(pt) && Number(pt) !== STATIC_CN && !NOT_CODECS.has(names.get(pt) ?? '')).length;
}

/**
 * The formats of the re-offer after `answerSdp`, or undefined when none is due: the option is
 * off, the answer lists one codec or fewer, or the codec in use is not one of ours.
 * @param enabled the `reofferSingleCodec` setting
 * @param answerSdp the SDP answer to our offer
 * @param formats the formats we offered
 * @param receivePayloadType our payload type of the negotiated codec (`NegotiatedMedia.receivePayloadType`)
 */
export function singleCodecReoffer(
  enabled: boolean,
  answerSdp: string,
  formats: readonly AudioFormatSpec[],
  receivePayloadType: number,
): AudioFormatSpec[] | undefined {
  if (!enabled || answeredCodecCount(answerSdp) < 2) return undefined;
  const chosen = formats.find((f) => f.payloadType === receivePayloadType);
  return chosen ? [chosen] : undefined;
}
