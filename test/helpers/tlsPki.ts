/**
 * A throw-away PKI for the TLS tests, made with the openssl CLI at test time (node:crypto
 * makes keys but cannot issue X.509 certificates): a test CA, a server certificate for
 * 127.0.0.1 and `localhost` signed by it, one for another host name, a client certificate, and
 * a second CA nobody trusts. EC P-256 keys: made in milliseconds, and every peer here takes them.
 * @module
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A certificate and its key, as file paths and PEM text. */
export interface CertPair {
  /** Path of the certificate (PEM). */
  certFile: string;
  /** Path of the private key (PEM). */
  keyFile: string;
  /** The certificate's PEM text. */
  cert: string;
  /** The key's PEM text. */
  key: string;
}

/** The test PKI of {@link testPki}. */
export interface TestPki {
  /** Directory holding every file. */
  dir: string;
  /** The trusted test CA. */
  ca: CertPair;
  /** A CA nobody is told to trust ("wrong CA"). */
  otherCa: CertPair;
  /** Server certificate for IP 127.0.0.1 and DNS localhost, signed by {@link ca}. */
  server: CertPair;
  /** Server certificate for `wrong.example` only (no IP entry), signed by {@link ca}. */
  wrongName: CertPair;
  /** Server certificate for 127.0.0.1 signed by {@link otherCa}. */
  untrusted: CertPair;
  /** Client certificate (CN linescape-client), signed by {@link ca}. */
  client: CertPair;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function pair(dir: string, name: string): CertPair {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  return { certFile, keyFile, cert: fs.readFileSync(certFile, 'utf8'), key: fs.readFileSync(keyFile, 'utf8') };
}

function makeCa(dir: string, name: string, cn: string): CertPair {
  openssl(dir, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return pair(dir, name);
}

function makeLeaf(dir: string, name: string, cn: string, san: string, ca: string, usage: string): CertPair {
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  fs.writeFileSync(path.join(dir, `${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=${usage}\nbasicConstraints=CA:FALSE\n`);
  openssl(dir, [
    'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial',
    '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`,
  ]);
  return pair(dir, name);
}

let made: TestPki | undefined;

/** Makes the PKI once per test process (removed when the process exits). */
export function testPki(): TestPki {
  if (made) return made;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'linescape-pki-'));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const ca = makeCa(dir, 'ca', 'LineScape Test CA');
  const otherCa = makeCa(dir, 'other-ca', 'Untrusted Test CA');
  made = {
    dir,
    ca,
    otherCa,
    server: makeLeaf(dir, 'server', 'localhost', 'IP:127.0.0.1,DNS:localhost', 'ca', 'serverAuth,clientAuth'),
    wrongName: makeLeaf(dir, 'wrong-name', 'wrong.example', 'DNS:wrong.example', 'ca', 'serverAuth,clientAuth'),
    untrusted: makeLeaf(dir, 'untrusted', 'localhost', 'IP:127.0.0.1,DNS:localhost', 'other-ca', 'serverAuth,clientAuth'),
    client: makeLeaf(dir, 'client', 'linescape-client', 'DNS:linescape-client', 'ca', 'clientAuth'),
  };
  return made;
}

/** Certificates revoked by the test CA and the CRL saying so (see {@link testCrl}). */
export interface TestCrl {
  /** Server certificate for 127.0.0.1 and localhost, signed by the test CA, then revoked. */
  revokedServer: CertPair;
  /** Client certificate signed by the test CA, then revoked. */
  revokedClient: CertPair;
  /** Path of the test CA's CRL (PEM), listing both revoked certificates and nothing else. */
  crlFile: string;
  /** A CRL of {@link TestPki.otherCa} (PEM path): a CRL, but not one of the test CA. */
  otherCrlFile: string;
}

/** A minimal `openssl ca` configuration: its database and CRL number in `dir`. */
function caConfig(dir: string, name: string): string {
  const file = path.join(dir, `${name}-ca.cnf`);
  fs.writeFileSync(path.join(dir, `${name}.index`), '');
  fs.writeFileSync(path.join(dir, `${name}.crlnumber`), '01\n');
  fs.writeFileSync(
    file,
    [
      '[ ca ]', `default_ca = ${name}`, `[ ${name} ]`, `database = ${name}.index`, `crlnumber = ${name}.crlnumber`,
      `certificate = ${name}.crt`, `private_key = ${name}.key`, 'default_md = sha256', 'default_crl_days = 2', '',
    ].join('\n'),
  );
  return file;
}

let crl: TestCrl | undefined;

/**
 * Revokes a server and a client certificate of the test CA with `openssl ca -revoke` and issues
 * the CA's CRL with `openssl ca -gencrl` (once per test process, in {@link testPki}'s directory).
 */
export function testCrl(): TestCrl {
  if (crl) return crl;
  const { dir } = testPki();
  const revokedServer = makeLeaf(dir, 'revoked-server', 'localhost', 'IP:127.0.0.1,DNS:localhost', 'ca', 'serverAuth,clientAuth');
  const revokedClient = makeLeaf(dir, 'revoked-client', 'revoked-client', 'DNS:revoked-client', 'ca', 'clientAuth');
  const conf = caConfig(dir, 'ca');
  for (const c of [revokedServer, revokedClient]) openssl(dir, ['ca', '-config', conf, '-revoke', c.certFile, '-crl_reason', 'keyCompromise']);
  openssl(dir, ['ca', '-config', conf, '-gencrl', '-out', 'ca.crl']);
  const otherConf = caConfig(dir, 'other-ca');
  openssl(dir, ['ca', '-config', otherConf, '-gencrl', '-out', 'other-ca.crl']);
  crl = { revokedServer, revokedClient, crlFile: path.join(dir, 'ca.crl'), otherCrlFile: path.join(dir, 'other-ca.crl') };
  return crl;
}
