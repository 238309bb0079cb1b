/**
 * Our own offers and answers as text: `writeSdp`, sdp-transform's `write` byte for byte for the
 * fields they use. A module of its own because its signature names sdp-transform's types, which
 * the package's public declarations must not reach (sdp-transform's types are a dev dependency).
 * @module
 */
import sdpTransform from 'sdp-transform';
import type { SessionDescription } from 'sdp-transform';

/** The fields {@link writeSdp} writes itself, per level; anything else goes to sdp-transform. */
const OWN_SESSION_KEYS: ReadonlySet<string> = new Set(['version', 'origin', 'name', 'connection', 'timing', 'media']);
const OWN_MEDIA_KEYS: ReadonlySet<string> = new Set(['type', 'port', 'protocol', 'payloads', 'rtp', 'fmtp', 'ptime', 'direction', 'rtcpMux', 'invalid']);

function onlyKeys(o: object, allowed: ReadonlySet<string>): boolean {
  for (const k in o) if (!allowed.has(k)) return false;
  return true;
}

/** Whether every field of `sdp` is one {@link writeSdp} writes itself (our offers and answers are). */
function ownShape(sdp: SessionDescription): boolean {
  if (!onlyKeys(sdp, OWN_SESSION_KEYS) || sdp.version == null || sdp.name == null || sdp.origin == null || sdp.timing == null) return false;
  for (const m of sdp.media) {
    if (!onlyKeys(m, OWN_MEDIA_KEYS) || m.payloads == null || m.rtp == null || m.fmtp == null) return false;
  }
  return true;
}

/**
 * `sdpTransform.write(sdp)`, byte for byte, at a tenth of its cost for the fields our offers and
 * answers use (v, o, s, c, t; m with rtpmap, fmtp, ptime, direction, rtcp-mux and raw lines):
 * sdp-transform walks its whole grammar and formats every line through a regular expression,
 * about 20 us per answer here, a twentieth of a call set-up's CPU. Any other field, and any
 * missing one sdp-transform would fill in, goes to sdp-transform itself; test/sdp-write.test.ts
 * holds the two to the same output. The same formatting rules: `%d` fields through `Number`, `%s`
 * through `String`, the grammar's line order.
 */
export function writeSdp(sdp: SessionDescription): string {
  if (!ownShape(sdp)) return sdpTransform.write(sdp);
  const o = sdp.origin;
  let out = `v=${String(sdp.version)}\r\no=${String(o.username)} ${String(o.sessionId)} ${Number(o.sessionVersion)} ${String(o.netType)} IP${Number(o.ipVer)} ${String(o.address)}\r\ns=${String(sdp.name)}\r\n`;
  const c = sdp.connection;
  if (c != null) out += `c=IN IP${Number(c.version)} ${String(c.ip)}\r\n`;
  out += `t=${Number(sdp.timing.start)} ${Number(sdp.timing.stop)}\r\n`;
  for (const m of sdp.media) {
    out += `m=${String(m.type)} ${Number(m.port)} ${String(m.protocol)} ${String(m.payloads)}\r\n`;
    for (const r of m.rtp) {
      out += r.encoding
        ? `a=rtpmap:${Number(r.payload)} ${String(r.codec)}/${String(r.rate)}/${String(r.encoding)}\r\n`
        : r.rate
          ? `a=rtpmap:${Number(r.payload)} ${String(r.codec)}/${String(r.rate)}\r\n`
          : `a=rtpmap:${Number(r.payload)} ${String(r.codec)}\r\n`;
    }
    for (const f of m.fmtp) out += `a=fmtp:${Number(f.payload)} ${String(f.config)}\r\n`;
    if (m.ptime != null) out += `a=ptime:${Number(m.ptime)}\r\n`;
    if (m.direction != null) out += `a=${String(m.direction)}\r\n`;
    if (m.rtcpMux != null) out += `a=${String(m.rtcpMux)}\r\n`;
    if (m.invalid != null) for (const x of m.invalid) out += `a=${String(x.value)}\r\n`;
  }
  return out;
}
