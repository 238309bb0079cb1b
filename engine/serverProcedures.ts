/**
 * The bodies of the facade's server procedures: the SIP proxy, outbound proxy and domain,
 * credentials, registration with a registrar (LanScape's EnableSipRegisterServer and its
 * rules), keep-alives and the public address behind a NAT. The facade keeps each procedure's
 * signature, TSDoc and guard; the registration cycles are engine/registration.ts, keep-alive
 * timers and NAT engine/keepAlive.ts.
 * @module
 */
import { isIP } from 'node:net';
import type { Endpoint, TransportProtocol } from '../sip/transport.js';
import { defaultSipPort, uriTransport } from '../sip/tlsTransport.js';
import { parseUri } from '../sip/grammar.js';
import type { EngineState } from './engineState.js';
import { hostPort, isPort, isSipUser } from './hosts.js';
import { RegistrationClient } from './registration.js';
import type { RegistrationStatusResult } from './results.js';
import { TelephonyReturnValue as T } from './returnCodes.js';
import type { RunningEngine } from './runningEngine.js';
import type { SipServer } from '../lines/context.js';
import { isUint } from './startParams.js';

/** Most unique names one engine registers at once (one registration worker each). */
export const MAX_REGISTRATION_WORKERS = 1024;

/** registrationErrorRetryTime: allowed while stopped (it outlives runs); applies at once to a running registration. */
export function setRegistrationRetryTime(state: EngineState, run: RunningEngine | undefined, ms: number): T {
  if (!isUint(ms) || ms < 100) return T.SipBadParameter;
  state.registrationRetryMs = ms;
  run?.registration?.setRetryTime(ms);
  return T.SipSuccess;
}

/** Server, registration and keep-alive procedures of one run. */
export class ServerProcedures {
  /** @param run the running engine */
  constructor(private readonly run: RunningEngine) {}

  /**
   * A server the application names: port 0 means "none given" (RFC 3263 NAPTR/SRV find it),
   * otherwise every address of the name on that port. Located once now (an unknown name is
   * SipUnknownHost) and again, through the DNS cache, for each request.
   */
  private async server(address: string, port: number, transport?: TransportProtocol, secure = false): Promise<SipServer | T> {
    if (typeof address !== 'string' || !address || (port !== 0 && !isPort(port))) return T.SipBadParameter;
    if (port === 0 && transport === undefined && isIP(address.replace(/^\[|\]$/g, ''))) return T.SipBadParameter; // an address has no SRV records
    const givenPort = port === 0 ? undefined : port;
    const targets = (): Promise<readonly Endpoint[]> => this.run.locate({ host: address, port: givenPort, transport, secure });
    const first = (await targets().catch(() => []))[0];
    if (!first) return T.SipUnknownHost;
    return { host: first.host, port: first.port, given: address, givenPort, targets, protocol: first.protocol };
  }

  /** enableSipProxyServer and enableOutboundSipProxyServer: the address may be a name. */
  async enableServer(which: 'proxy' | 'outboundProxy', address: string, port: number): Promise<T> {
    const s = await this.server(address, port);
    if (typeof s === 'number') return s;
    this.run[which] = s;
    this.run.keepAlive.refreshNatKeepAlive();
    return T.SipSuccess;
  }

  /** disableSipProxyServer and disableOutboundSipProxyServer. */
  disableServer(which: 'proxy' | 'outboundProxy'): T {
    this.run[which] = undefined;
    return T.SipSuccess;
  }

  /** enableSipDomain. */
  enableSipDomain(domain: string): T {
    if (typeof domain !== 'string' || !/^[A-Za-z0-9.\-[\]:]{1,255}$/.test(domain)) return T.SipBadParameter;
    this.run.domain = domain;
    return T.SipSuccess;
  }

  /** disableSipDomain. */
  disableSipDomain(): T {
    this.run.domain = undefined;
    return T.SipSuccess;
  }

  /** addAuthorizationCredentials. */
  addAuthorizationCredentials(userName: string, password: string, realm: string): T {
    if (typeof userName !== 'string' || !userName || typeof password !== 'string' || (realm !== undefined && typeof realm !== 'string')) {
      return T.SipBadParameter;
    }
    return this.run.state.credentials.add(userName, password, realm ?? '') ? T.SipSuccess : T.SipBadParameter;
  }

  /** deleteAuthorizationCredentials. */
  deleteAuthorizationCredentials(userName: string, realm?: string): T {
    if (typeof userName !== 'string' || !userName) return T.SipBadParameter;
    return this.run.state.credentials.delete(userName, realm) ? T.SipSuccess : T.SipBadParameter;
  }

  /** enableSipRegisterServer: the seed's rules and codes, then a new registration client (the old one is dropped). */
  async enableSipRegisterServer(
    namesToRegister: string,
    registerPhoneLines: boolean,
    registerThroughProxy: boolean,
    registrationServerAddress: string,
    registrationServerPort: number,
    registrationUpdateIntervalSeconds: number,
    registrationExpireTimeSeconds: number,
    timeOutMs: number,
    registerNatAutoDetectEnabled: boolean,
  ): Promise<T> {
    const run = this.run;
    if (typeof namesToRegister !== 'string') return T.SipBadParameter;
    const names = namesToRegister.split(',').map((s) => s.trim());
    if (!names.length || names.some((n) => !isSipUser(n))) return T.SipRegisterBadNameList;
    if (registerPhoneLines && names.length !== run.lines.length) return T.SipRegisterBadNameList;
    if (!isUint(registrationUpdateIntervalSeconds) || !isUint(registrationExpireTimeSeconds) || !isUint(timeOutMs)) return T.SipBadParameter;
    if (registrationUpdateIntervalSeconds === 0) return T.SipRegisterIntervalError;
    if (registrationExpireTimeSeconds === 0 || registrationExpireTimeSeconds < registrationUpdateIntervalSeconds) return T.SipRegisterIntervalError;
    if (timeOutMs === 0) return T.SipBadParameter;
    if (registerThroughProxy && !run.proxy) return T.SipProxyNotEnabled;
    if (registerThroughProxy && !run.domain) return T.SipDomainNameNotDefined;
    if (typeof registrationServerAddress !== 'string' || !registrationServerAddress) return T.SipBadParameter;
    if (registrationServerPort !== 0 && !isPort(registrationServerPort)) return T.SipBadParameter;
    const given = registrarUri(registrationServerAddress, registrationServerPort);
    if (!given) return T.SipBadParameter;
    // A sips: registrar (or transport=tls) is reached over TLS only: an engine without TLS, or a
    // path through a proxy it does not reach over TLS, cannot register there (RFC 5630 §5.1.1).
    if (given.transport === 'TLS' && !run.stack.transport.tlsEnabled) return T.SipSecureTransportRequired;
    const registrar = await this.server(given.host, given.port, given.transport, given.secure);
    if (typeof registrar === 'number') return registrar;
    if (run.isStopped) return T.SipMediaEngineNotInitialized; // stopped while resolving

    const unique = [...new Set(names)];
    // Each unique name holds a registration worker (timers, a dialog); past the limit the
    // engine cannot create more, LanScape's SipThreadCreationError.
    if (unique.length > MAX_REGISTRATION_WORKERS) return T.SipThreadCreationError;
    const linesByName = new Map<string, number[]>();
    for (const l of run.lines) l.registrationName = undefined;
    if (registerPhoneLines) {
      names.forEach((n, i) => {
        linesByName.set(n, [...(linesByName.get(n) ?? []), i]);
        run.lines[i]!.registrationName = n;
      });
    }
    const via = run.outboundProxy ?? (registerThroughProxy ? run.proxy : undefined);
    const server = via ?? registrar;
    // The transport the server was located on (a sips: registrar, a NAPTR naming TLS), else sipTransport.
    const protocol = server.protocol ?? run.params.sipTransport;
    if (given.secure && protocol !== 'TLS') return T.SipSecureTransportRequired;
    const destination: Endpoint = { protocol, host: server.host, port: server.port };
    // Over TLS the server's certificate is checked against the name the application gave.
    if (protocol === 'TLS') destination.serverName = server.given;
    const port = given.port === defaultSipPort(given.transport ?? protocol) || given.port === 0 ? undefined : given.port;
    const scheme = given.secure ? 'sips' : 'sip';
    const requestUri = run.domain ? `${scheme}:${run.domain}` : `${scheme}:${hostPort(given.host, port)}${given.transport && !given.secure ? `;transport=${given.transport.toLowerCase()}` : ''}`;

    run.registration?.dispose();
    run.registration = new RegistrationClient(
      run.context,
      run.registrationExtras(),
      {
        names: unique,
        linesByName,
        destination,
        targets: server.targets,
        requestUri,
        aorDomain: run.domain ?? given.host,
        updateIntervalSeconds: registrationUpdateIntervalSeconds,
        expireSeconds: registrationExpireTimeSeconds,
        timeOutMs,
        natAutoDetect: registerNatAutoDetectEnabled === true,
      },
      run.state.registrationRetryMs,
    );
    run.registration.start();
    run.keepAlive.refreshNatKeepAlive();
    return T.SipSuccess;
  }

  /** disableSipRegisterServer: Expires: 0 for every name, then the client goes. */
  async disableSipRegisterServer(): Promise<T> {
    const reg = this.run.registration;
    if (!reg) return T.SipSuccess;
    this.run.registration = undefined;
    for (const l of this.run.lines) l.registrationName = undefined;
    const rc = await reg.stop();
    reg.dispose();
    this.run.keepAlive.refreshNatKeepAlive();
    return rc;
  }

  /** triggerRegistration. */
  triggerRegistration(name?: string): T {
    const reg = this.run.registration;
    if (!reg) return T.SipCallFailure;
    if (name !== undefined && typeof name !== 'string') return T.SipBadParameter;
    return reg.trigger(name) ? T.SipSuccess : T.SipBadParameter;
  }

  /** getRegistrationStatus. */
  getRegistrationStatus(): RegistrationStatusResult {
    return { result: T.SipSuccess, registrations: this.run.registration?.status() ?? [] };
  }

  /** setWanIpAddress (engine/keepAlive.ts re-registers with the new Contact). */
  setWanIpAddress(ipAddress: string): T {
    if (typeof ipAddress !== 'string' || !isIP(ipAddress)) return T.SipBadParameter;
    this.run.keepAlive.setWanIpAddress(this.run.stack, ipAddress);
    return T.SipSuccess;
  }

  /** sendSipKeepAlive. */
  async sendSipKeepAlive(host: string, port: number, enableState: boolean, keepAliveSeconds: number, protocol: 'UDP' | 'TCP' | 'TLS'): Promise<T> {
    if (typeof host !== 'string' || !host || !isPort(port) || typeof enableState !== 'boolean') return T.SipBadParameter;
    if (protocol !== 'UDP' && protocol !== 'TCP' && protocol !== 'TLS') return T.SipBadParameter;
    if (enableState && (!isUint(keepAliveSeconds) || keepAliveSeconds === 0)) return T.SipBadParameter;
    const ip = await this.run.locator.resolveHost(host);
    if (!ip) return T.SipUnknownHost;
    if (this.run.isStopped) return T.SipMediaEngineNotInitialized; // stopped while resolving
    this.run.keepAlive.sendSipKeepAlive(protocol, ip, port, enableState ? keepAliveSeconds : undefined);
    return T.SipSuccess;
  }

  /** enableKeepAliveTransmissions. */
  enableKeepAliveTransmissions(keepAliveSip: boolean, keepAliveRtp: boolean, natSessionTimeMs: number): T {
    if (typeof keepAliveSip !== 'boolean' || typeof keepAliveRtp !== 'boolean') return T.SipBadParameter;
    if ((keepAliveSip || keepAliveRtp) && (!isUint(natSessionTimeMs) || natSessionTimeMs < 100)) return T.SipBadParameter;
    this.run.keepAlive.enableKeepAliveTransmissions(keepAliveSip, keepAliveRtp, natSessionTimeMs);
    return T.SipSuccess;
  }
}

/**
 * The registrar as the application gave it: a host (name or address) with the port argument, or
 * a URI (`sips:pbx.example.com`, `sip:pbx.example.com:5070;transport=tls`) whose scheme and
 * transport pick TLS whatever `sipTransport` says (its port, when it has one, wins). Undefined
 * for a URI that does not parse or names a user.
 */
function registrarUri(address: string, port: number): { host: string; port: number; transport?: TransportProtocol; secure: boolean } | undefined {
  if (!/^sips?:/i.test(address)) return { host: address, port, secure: false };
  let uri;
  try {
    uri = parseUri(address.trim());
  } catch {
    return undefined;
  }
  if (!uri.host || uri.user !== undefined) return undefined;
  const secure = uri.scheme === 'sips';
  const named = uri.params['transport'] ?? undefined;
  return { host: uri.host, port: uri.port ?? port, transport: secure || named ? uriTransport(uri, 'UDP') : undefined, secure };
}
