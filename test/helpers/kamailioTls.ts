/**
 * Kamailio with TLS for the TLS interop tests: the shared configuration
 * (../shared/peers/kamailio/kamailio.cfg, left untouched) included from a test-local one that
 * loads `tls.so` (Debian's kamailio-tls-modules) and adds two TLS listeners on 127.0.0.1: one
 * presenting the test server certificate (for 127.0.0.1 and localhost), one presenting a
 * certificate for another host name, so one Kamailio serves both the good and the
 * host-name-mismatch cases. Started through the shared start.sh: a second `-f` names our
 * configuration (Kamailio takes the last one).
 * @module
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { peersDir, type ProbedRequirement } from './env.js';
import { freePorts } from './ports.js';
import { startKamailio, type KamailioHandle } from './peers.js';
import type { TestPki } from './tlsPki.js';

/** Where Debian installs Kamailio's modules (kamailio-tls-modules adds tls.so there). */
const MODULE_DIRS = ['/usr/lib/x86_64-linux-gnu/kamailio/modules', '/usr/lib/aarch64-linux-gnu/kamailio/modules', '/usr/lib/kamailio/modules'];

/** The Kamailio TLS module as a {@link ProbedRequirement} of peerTest. */
export function kamailioTlsModule(): ProbedRequirement {
  const found = MODULE_DIRS.some((d) => fs.existsSync(path.join(d, 'tls.so')));
  return { probed: 'Kamailio TLS module tls.so', missing: found ? undefined : 'tls.so not found', aptPackages: ['kamailio-tls-modules'] };
}

/** A Kamailio with TLS listeners. */
export interface KamailioTls {
  /** The running Kamailio (UDP+TCP on `handle.port`). */
  handle: KamailioHandle;
  /** TLS port presenting the good server certificate. */
  tlsPort: number;
  /** TLS port presenting the certificate for `wrong.example`. */
  wrongNamePort: number;
  /** Starts it again on the same ports (after `handle.stop()`); updates `handle`. */
  restart(): Promise<void>;
}

/** Options of {@link startKamailioTls}. */
export interface KamailioTlsOptions {
  /** Extra kamailio arguments (e.g. `['-A', 'NO_PROXY_AUTH']`). */
  args?: readonly string[];
}

/**
 * Starts Kamailio with TLS (see the module comment), ports chosen free; the caller stops it
 * (`t.teardown(() => k.handle.stop())`).
 */
export async function startKamailioTls(pki: TestPki, opts: KamailioTlsOptions = {}): Promise<KamailioTls> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'linescape-kamtls-'));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const [port, tlsPort, wrongNamePort] = (await freePorts(3)) as [number, number, number];
  const tlsCfg = path.join(dir, 'tls.cfg');
  fs.writeFileSync(
    tlsCfg,
    [
      '[server:default]',
      'method = TLSv1.2+',
      'verify_certificate = no',
      'require_certificate = no',
      `certificate = ${pki.server.certFile}`,
      `private_key = ${pki.server.keyFile}`,
      `ca_list = ${pki.ca.certFile}`,
      '',
      `[server:127.0.0.1:${wrongNamePort}]`,
      'method = TLSv1.2+',
      'verify_certificate = no',
      'require_certificate = no',
      `certificate = ${pki.wrongName.certFile}`,
      `private_key = ${pki.wrongName.keyFile}`,
      '',
      '[client:default]',
      'method = TLSv1.2+',
      'verify_certificate = no',
      'require_certificate = no',
      '',
    ].join('\n'),
  );
  const cfg = path.join(dir, 'kamailio-tls.cfg');
  fs.writeFileSync(
    cfg,
    [
      '#!KAMAILIO',
      '# test-local: TLS listeners in front of the shared test configuration',
      'enable_tls=yes',
      `listen=tls:127.0.0.1:${tlsPort}`,
      `listen=tls:127.0.0.1:${wrongNamePort}`,
      // RFC 5923: send requests for a client back over the connection its Via alias names
      'tcp_accept_aliases=yes',
      'loadmodule "tls.so"',
      `modparam("tls", "config", "${tlsCfg}")`,
      `include_file "${path.join(peersDir, 'kamailio', 'kamailio.cfg')}"`,
      '',
    ].join('\n'),
  );
  const start = () => startKamailio({ port, args: ['-f', cfg, ...(opts.args ?? [])] });
  const k: KamailioTls = {
    handle: await start(),
    tlsPort,
    wrongNamePort,
    restart: async () => {
      k.handle = await start();
    },
  };
  return k;
}
