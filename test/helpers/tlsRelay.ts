/**
 * A TLS<->TCP relay for the SIPp-over-TLS tests. Debian's SIPp is built without TLS and no
 * socat/stunnel is installed, so SIPp talks plain TCP (`-t t1`) to this relay and the relay
 * talks TLS to the engine, one TLS connection per TCP connection, bytes passed unchanged.
 * Either side may be the listener:
 * - `tcpToTls`: SIPp (UAC) connects here over TCP; the relay dials the engine over TLS;
 * - `tlsToTcp`: the engine (UAC) connects here over TLS; the relay dials SIPp over TCP.
 * @module
 */
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';

/** A running relay. */
export interface TlsRelay {
  /** The port the relay listens on (TCP for `tcpToTls`, TLS for `tlsToTcp`). */
  port: number;
  /** Connections relayed so far. */
  connections(): number;
  /** Stops listening and drops every relayed connection. */
  close(): Promise<void>;
}

/** Where the relay listens and where it dials. */
export type TlsRelayOptions =
  | { mode: 'tcpToTls'; target: number; ca: string }
  | { mode: 'tlsToTcp'; target: number; cert: string; key: string };

/** Starts a relay on 127.0.0.1 (a free port). */
export async function startTlsRelay(o: TlsRelayOptions): Promise<TlsRelay> {
  const sockets = new Set<net.Socket>();
  let count = 0;
  const pipe = (inbound: net.Socket): void => {
    count++;
    const outbound: net.Socket =
      o.mode === 'tcpToTls' ? tls.connect({ host: '127.0.0.1', port: o.target, ca: o.ca }) : net.connect({ host: '127.0.0.1', port: o.target });
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  };
  const server: net.Server =
    o.mode === 'tcpToTls'
      ? net.createServer(pipe)
      : tls.createServer({ cert: o.cert, key: o.key }, pipe);
  server.on('tlsClientError', () => undefined);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
