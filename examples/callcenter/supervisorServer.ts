/**
 * The supervisor's web page of the call center: a small `node:http` server that serves one
 * static page (`web/index.html`, `web/app.mjs`, `web/style.css`, no build step), the floor as
 * JSON, and a WebSocket (`ws`) that pushes the floor as it changes and takes the supervisor's
 * actions. An action is the JSON of `CallCenter.act()`, sent over the WebSocket or POSTed to
 * `/api/act`; a malformed or refused one gets the error back and changes nothing.
 *
 * Routes: `GET /` (the page), `GET /app.mjs`, `GET /style.css`, `GET /api/floor` (the
 * snapshot), `POST /api/act` (an action; 200 `{ ok: true }` or 400 `{ ok: false, error }`),
 * WebSocket `/ws`.
 *
 * The page can listen to calls, so the server answers only requests addressed to its own
 * loopback host name (a DNS-rebinding site cannot reach it), refuses WebSockets and POSTs whose
 * `Origin` is another site's, and takes only `application/json` bodies (a cross-site form
 * cannot send one without a preflight this server never grants).
 * @module
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import type { ActResult } from './actions.js';
import type { CallCenter, LevelsView } from './callCenter.js';

/** Options of a {@link SupervisorServer}. */
export interface SupervisorServerOptions {
  /** Address to listen on. Default `127.0.0.1`. */
  host?: string;
  /** Port (0 picks a free one; `url` tells). Default 0. */
  port?: number;
  /** Folder of the page's files. Default: `web/` beside this module's source. */
  webDir?: string;
}

/** What the server sends over the WebSocket. */
export type ServerMessage =
  | { type: 'floor'; floor: ReturnType<CallCenter['snapshot']> }
  | ({ type: 'levels' } & LevelsView)
  | { type: 'info'; text: string }
  | ({ type: 'result'; ref: string | number | null } & ActResult);

/** The page's files and their types; nothing else is served from disk. */
const FILES: Record<string, [file: string, type: string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/app.mjs': ['app.mjs', 'text/javascript; charset=utf-8'],
  '/style.css': ['style.css', 'text/css; charset=utf-8'],
};

/** Largest action accepted, bytes (an action is a few dozen). */
const MAX_BODY = 4096;
/** A client further behind than this misses floor updates until it catches up. */
const MAX_BUFFERED = 1 << 20;
/** Floor changes within this many ms go out as one snapshot. */
const COALESCE_MS = 50;

/**
 * The `web/` folder: beside this module when run from source, else (run from `dist/`) the
 * source tree's, found from the package root, since tsc copies no HTML.
 */
function defaultWebDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const beside = path.join(here, 'web');
  if (fs.existsSync(path.join(beside, 'index.html'))) return beside;
  for (let dir = here; ; ) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return path.join(dir, 'examples', 'callcenter', 'web');
    const up = path.dirname(dir);
    if (up === dir) return beside;
    dir = up;
  }
}

/** Serves the supervisor's page for one {@link CallCenter}. `start()`, then `stop()`. */
export class SupervisorServer {
  private readonly http: http.Server;
  private readonly wss: WebSocketServer;
  private readonly host: string;
  private readonly port: number;
  private readonly webDir: string;
  private floorTimer: NodeJS.Timeout | null = null;
  private allowedHosts = new Set<string>();
  private readonly onFloorChange = (): void => this.scheduleFloor();
  private readonly onLevels = (v: LevelsView): void => this.broadcast({ type: 'levels', ...v });
  private readonly onInfo = (text: string): void => this.broadcast({ type: 'info', text });

  /** Nothing listens until `start()`. */
  constructor(
    private readonly center: CallCenter,
    options: SupervisorServerOptions = {},
  ) {
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? 0;
    this.webDir = options.webDir ?? defaultWebDir();
    this.http = http.createServer((req, res) => void this.onRequest(req, res));
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BODY });
    this.http.on('upgrade', (req, socket, head) => {
      const refused = this.refuse(req) ?? (new URL(req.url ?? '/', 'http://x').pathname === '/ws' ? null : 'no WebSocket here');
      if (refused) {
        socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${refused}\n`);
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws));
    });
  }

  /** The page's address, e.g. `http://127.0.0.1:8090/` (after `start()`). */
  get url(): string {
    const a = this.http.address() as AddressInfo | null;
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `http://${host}:${a?.port ?? this.port}/`;
  }

  /** Listens, and follows the call center's events. Rejects when the port is taken. */
  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.port, this.host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const port = (this.http.address() as AddressInfo).port;
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    this.allowedHosts = new Set([`${host}:${port}`, `localhost:${port}`]);
    for (const e of ['agent', 'call', 'queue', 'ended'] as const) this.center.on(e, this.onFloorChange);
    this.center.on('levels', this.onLevels);
    this.center.on('info', this.onInfo);
  }

  /** Closes every WebSocket and the server, and stops following the call center. */
  async stop(): Promise<void> {
    for (const e of ['agent', 'call', 'queue', 'ended'] as const) this.center.off(e, this.onFloorChange);
    this.center.off('levels', this.onLevels);
    this.center.off('info', this.onInfo);
    if (this.floorTimer) clearTimeout(this.floorTimer);
    this.floorTimer = null;
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  /** Why a request must be refused (another site's Host or Origin), or null. */
  private refuse(req: http.IncomingMessage): string | null {
    if (!this.allowedHosts.has(req.headers.host ?? '')) return `unknown host "${req.headers.host ?? ''}"`;
    const origin = req.headers.origin;
    if (origin !== undefined && !this.allowedHosts.has(origin.replace(/^http:\/\//, ''))) return `requests from ${origin} are not accepted`;
    return null;
  }

  // ---------------------------------------------------------------- HTTP

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const refused = this.refuse(req);
    if (refused) return send(res, 403, 'text/plain; charset=utf-8', `${refused}\n`);
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/api/act') {
      if (req.method !== 'POST') return sendJson(res, 405, { ok: false, error: 'POST an action as JSON' }, { Allow: 'POST' });
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/json') return sendJson(res, 415, { ok: false, error: 'the body must be application/json' });
      const body = await readBody(req);
      if (body === null) return sendJson(res, 413, { ok: false, error: `the body must be at most ${MAX_BODY} bytes` });
      const result = await this.actOn(body);
      return sendJson(res, result.ok ? 200 : 400, result);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain; charset=utf-8', 'GET only\n', { Allow: 'GET, HEAD' });
    if (url.pathname === '/api/floor') return sendJson(res, 200, this.center.snapshot());
    if (url.pathname === '/favicon.ico') return send(res, 204, 'image/x-icon', ''); // no icon, and no 404 in the console
    const file = FILES[url.pathname];
    if (!file) return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    // read on each request: editing the page needs a reload, not a restart
    fs.readFile(path.join(this.webDir, file[0]), (err, data) => {
      if (err) send(res, 500, 'text/plain; charset=utf-8', `cannot read ${file[0]}: ${err.code ?? err.message}\n`);
      else send(res, 200, file[1], req.method === 'HEAD' ? '' : data);
    });
  }

  /** Parses an action's JSON and hands it to `act()`; malformed JSON never reaches the call center. */
  private async actOn(text: string): Promise<ActResult> {
    let request: unknown;
    try {
      request = JSON.parse(text);
    } catch (e) {
      return { ok: false, error: `malformed JSON: ${(e as Error).message}` };
    }
    return this.center.act(request);
  }

  // ---------------------------------------------------------------- WebSocket

  private onSocket(ws: WebSocket): void {
    this.sendTo(ws, { type: 'floor', floor: this.center.snapshot() });
    ws.on('message', (data: RawData, isBinary: boolean) => void this.onMessage(ws, data, isBinary));
    ws.on('error', () => ws.terminate());
  }

  /**
   * One action: the JSON of `act()`, with an optional `ref` (a string or number) that the
   * result echoes, since results come back in the order the actions finish.
   */
  private async onMessage(ws: WebSocket, data: RawData, isBinary: boolean): Promise<void> {
    if (isBinary) return this.sendTo(ws, { type: 'result', ref: null, ok: false, error: 'send the action as JSON text' });
    const text = Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]).toString('utf8');
    let request: unknown;
    try {
      request = JSON.parse(text);
    } catch (e) {
      return this.sendTo(ws, { type: 'result', ref: null, ok: false, error: `malformed JSON: ${(e as Error).message}` });
    }
    let ref: string | number | null = null;
    if (typeof request === 'object' && request !== null && !Array.isArray(request) && 'ref' in request) {
      const { ref: r, ...rest } = request as Record<string, unknown>;
      if (typeof r !== 'string' && typeof r !== 'number') return this.sendTo(ws, { type: 'result', ref: null, ok: false, error: '"ref" must be a string or a number' });
      ref = r;
      request = rest;
    }
    const result = await this.center.act(request);
    this.sendTo(ws, { type: 'result', ref, ...result });
  }

  /** A change on the floor: one snapshot for every change within COALESCE_MS. */
  private scheduleFloor(): void {
    if (this.floorTimer || this.wss.clients.size === 0) return;
    this.floorTimer = setTimeout(() => {
      this.floorTimer = null;
      this.broadcast({ type: 'floor', floor: this.center.snapshot() });
    }, COALESCE_MS);
  }

  private broadcast(msg: ServerMessage): void {
    if (this.wss.clients.size === 0) return;
    const text = JSON.stringify(msg);
    for (const ws of this.wss.clients) if (ws.readyState === ws.OPEN && ws.bufferedAmount < MAX_BUFFERED) ws.send(text);
  }

  private sendTo(ws: WebSocket, msg: ServerMessage): void {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
  }
}

/** The body as text, or null when it is larger than MAX_BODY. */
function readBody(req: http.IncomingMessage): Promise<string | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(null));
  });
}

function send(res: http.ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    // the page loads only its own files and talks only to this server
    'Content-Security-Policy': "default-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    ...headers,
  });
  res.end(body);
}

function sendJson(res: http.ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value), headers);
}
