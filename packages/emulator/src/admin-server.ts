/**
 * The admin HTTP API and web console (`--admin-port`): JSON over `node:http`, on loopback unless
 * `adminHost` says otherwise (and then only with a token). It drives the emulator through its
 * public methods only ({@link AdminTarget}), so anything it does a program can do in process.
 * Routes: see the package README ("Admin API").
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { AdminEvents, type EventSourceTarget } from './admin-events.js';
import {
  HttpError, badField, intField, isLoopback, readJson, requestToken, sendError, sendJson, stringField, tokenMatches,
} from './admin-http.js';
import { EmulatorError } from './errors.js';
import type { Faults } from './faults.js';
import type { Delivery, LedgerTotals } from './ledger.js';
import type { DeviceSpec, DeviceState } from './registry.js';
import type { ConnectionInfo, DeviceInfo } from './status.js';
import type { UpstreamInput } from './upstream-source.js';

/** The emulator as the admin API sees it: its public methods, nothing else. */
export interface AdminTarget extends EventSourceTarget {
  senderIds(): string[];
  connections(): ConnectionInfo[];
  ledger(): LedgerTotals;
  deliveredTo(token: string): Delivery[];
  devices(senderId?: string): DeviceInfo[];
  device(token: string): DeviceInfo | undefined;
  addDevice(token: string, spec?: DeviceSpec): void;
  injectUpstream(senderId: string, msg?: UpstreamInput): string;
  drain(target?: { senderId?: string; connectionId?: number }): number;
  setFaults(faults: Faults, target?: { connectionId?: number }): void;
  faults(target?: { connectionId?: number }): Faults | undefined;
  reset(): void;
}

/** Where the admin API listens. */
export interface AdminOptions {
  host: string;
  port: number;
  /** Required on every request when set (`Authorization: Bearer T` or `?token=T`). */
  token: string | undefined;
}

type Handler = (req: IncomingMessage, url: URL, res: ServerResponse) => Promise<unknown> | unknown;

const DEVICE_STATES: readonly DeviceState[] = ['valid', 'unregistered', 'bad'];
const CONSOLE_FILES: Record<string, string> = {
  '/': 'console.html',
  '/console.js': 'console.js',
  '/console.css': 'console.css',
};
const CONTENT_TYPES: Record<string, string> = { html: 'text/html', js: 'text/javascript', css: 'text/css' };
const CONSOLE_DIR = new URL('../../console/', import.meta.url);

/** The admin HTTP server of one emulator. */
export class AdminServer {
  /** `http://host:port`, once listening. */
  url = '';
  readonly #target: AdminTarget;
  readonly #o: AdminOptions;
  readonly #server: Server;
  readonly #events: AdminEvents;
  readonly #sockets = new Set<Socket>();
  readonly #routes = new Map<string, Map<string, Handler>>();
  readonly #assets = new Map<string, Buffer>();

  constructor(target: AdminTarget, options: AdminOptions) {
    this.#target = target;
    this.#o = options;
    this.#events = new AdminEvents(target);
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.once('close', () => this.#sockets.delete(s));
    });
    this.#defineRoutes();
  }

  /** Listens; resolves with the URL. @throws {EmulatorError} `EMU_ERR_ADMIN`. */
  async start(): Promise<string> {
    const server = this.#server;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.#o.port, this.#o.host, () => {
          server.removeListener('error', reject);
          resolve();
        });
      });
    } catch (err) {
      throw new EmulatorError('EMU_ERR_ADMIN', `cannot listen on ${this.#o.host}:${this.#o.port}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
    }
    const { port } = server.address() as AddressInfo;
    const host = this.#o.host.includes(':') ? `[${this.#o.host}]` : this.#o.host;
    this.url = `http://${host}:${port}`;
    return this.url;
  }

  /** Ends the event streams and closes every connection; resolves once the server is closed. */
  stop(): Promise<void> {
    this.#events.closeAll();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const s of this.#sockets) s.destroy();
    return closed;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://admin');
      this.#checkAccess(req, url);
      const byMethod = this.#routes.get(url.pathname);
      if (byMethod === undefined) throw new HttpError(404, 'NOT_FOUND', `no route ${url.pathname}`);
      const handler = byMethod.get(req.method ?? 'GET');
      if (handler === undefined) {
        res.setHeader('allow', [...byMethod.keys()].join(', '));
        throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${req.method ?? ''} ${url.pathname}: use ${[...byMethod.keys()].join(' or ')}`);
      }
      if ((req.method === 'POST' || req.method === 'PUT') && !/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
        // Also what keeps a web page from posting here: a cross-site form or fetch cannot send this type without a preflight, which gets no answer.
        throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the body as content-type: application/json');
      }
      const body = await handler(req, url, res);
      if (body !== undefined && !res.headersSent) sendJson(res, res.statusCode, body);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendError(res, toHttpError(err));
    }
  }

  #checkAccess(req: IncomingMessage, url: URL): void {
    const token = this.#o.token;
    if (token !== undefined && !tokenMatches(requestToken(req, url), token)) {
      throw new HttpError(401, 'UNAUTHORIZED', 'a valid admin token is required (Authorization: Bearer TOKEN)');
    }
    // On loopback without a token, refuse a Host that is not loopback: a page on another site
    // reached through DNS rebinding names its own host.
    if (token === undefined) {
      const host = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
      if (!isLoopback(host)) throw new HttpError(403, 'FORBIDDEN_HOST', 'the admin API answers loopback host names only');
    }
  }

  #route(method: string, path: string, handler: Handler): void {
    let byMethod = this.#routes.get(path);
    if (!byMethod) this.#routes.set(path, (byMethod = new Map()));
    byMethod.set(method, handler);
  }

  #defineRoutes(): void {
    const t = this.#target;
    for (const path of Object.keys(CONSOLE_FILES)) this.#route('GET', path, (_req, _url, res) => this.#serveAsset(path, res));
    // Browsers ask for it on their own; there is none.
    this.#route('GET', '/favicon.ico', (_req, _url, res) => void res.writeHead(204).end());
    this.#route('GET', '/api/status', () => t.status());
    this.#route('GET', '/api/connections', () => t.connections());
    this.#route('GET', '/api/ledger', (_req, url) => {
      const to = url.searchParams.get('to');
      if (to === null) return t.ledger();
      if (to === '') throw badField('to', 'to must be a token, /topics/NAME or condition:EXPR');
      return { to, deliveries: t.deliveredTo(to) };
    });
    this.#route('GET', '/api/devices', (_req, url) => {
      const senderId = url.searchParams.get('senderId') ?? undefined;
      if (senderId !== undefined) this.#sender(senderId, 'senderId');
      return t.devices(senderId);
    });
    this.#route('POST', '/api/devices', async (req, _url, res) => this.#postDevice(await readJson(req), res));
    this.#route('POST', '/api/upstream', async (req, _url, res) => {
      const b = await readJson(req);
      const senderId = this.#sender(stringField('senderId', b['senderId']) ?? t.senderIds()[0] as string, 'senderId');
      const msg: UpstreamInput = {};
      const from = stringField('from', b['from']);
      if (from !== undefined) msg.from = from;
      const category = stringField('category', b['category']);
      if (category !== undefined) msg.category = category;
      const messageId = stringField('message_id', b['message_id']);
      if (messageId !== undefined) msg.message_id = messageId;
      if (b['data'] !== undefined) {
        if (typeof b['data'] !== 'object' || b['data'] === null || Array.isArray(b['data'])) throw badField('data', 'data must be a JSON object');
        msg.data = b['data'];
      }
      const id = t.injectUpstream(senderId, msg);
      res.statusCode = 201;
      return { message_id: id, senderId };
    });
    this.#route('POST', '/api/drain', async (req) => {
      const b = await readJson(req);
      const connectionId = this.#connection(intField('connectionId', b['connectionId'], 1));
      const senderId = stringField('senderId', b['senderId']);
      if (senderId !== undefined) this.#sender(senderId, 'senderId');
      return { draining: t.drain({ ...(connectionId === undefined ? {} : { connectionId }), ...(senderId === undefined ? {} : { senderId }) }) };
    });
    this.#route('GET', '/api/faults', (_req, url) => {
      const connectionId = this.#connection(intField('connectionId', url.searchParams.get('connectionId') ?? undefined, 1));
      return { ...(connectionId === undefined ? {} : { connectionId }), faults: t.faults(connectionId === undefined ? {} : { connectionId }) };
    });
    this.#route('PUT', '/api/faults', async (req) => {
      const b = await readJson(req);
      const faults = b['faults'];
      if (typeof faults !== 'object' || faults === null || Array.isArray(faults)) throw badField('faults', 'faults must be a JSON object (`{}` clears)');
      const connectionId = this.#connection(intField('connectionId', b['connectionId'], 1));
      t.setFaults(faults as Faults, connectionId === undefined ? {} : { connectionId });
      return { ...(connectionId === undefined ? {} : { connectionId }), faults: t.faults(connectionId === undefined ? {} : { connectionId }) };
    });
    this.#route('POST', '/api/reset', () => {
      t.reset();
      return { reset: true };
    });
    this.#route('GET', '/api/events', (req, url, res) => {
      const typesParam = url.searchParams.get('types');
      const types = typesParam === null ? undefined : new Set(typesParam.split(',').map((s) => s.trim()).filter((s) => s !== ''));
      if (types !== undefined && types.size === 0) throw badField('types', 'types must list event types, comma-separated');
      const connectionId = intField('connectionId', url.searchParams.get('connectionId') ?? undefined, 1);
      this.#events.open(req, res, types, connectionId);
      return undefined;
    });
  }

  #postDevice(b: Record<string, unknown>, res: ServerResponse): DeviceInfo {
    const t = this.#target;
    const token = stringField('token', b['token']);
    if (token === undefined) throw badField('token', 'token is required');
    const old = t.device(token);
    const spec: DeviceSpec = {};
    const senderId = stringField('senderId', b['senderId']) ?? old?.senderId;
    if (senderId !== undefined) spec.senderId = this.#sender(senderId, 'senderId');
    const state = b['state'] ?? old?.state;
    if (state !== undefined) {
      if (!DEVICE_STATES.includes(state as DeviceState)) throw badField('state', `state must be one of ${DEVICE_STATES.join(', ')}`);
      spec.state = state as DeviceState;
    }
    const canonicalId = b['canonicalId'] === null ? undefined : stringField('canonicalId', b['canonicalId']) ?? old?.canonicalId;
    if (canonicalId !== undefined) spec.canonicalId = canonicalId;
    const max = b['maxPerSecond'];
    if (max !== undefined && max !== null && (typeof max !== 'number' || !(max >= 0))) throw badField('maxPerSecond', 'maxPerSecond must be a number ≥ 0');
    const maxPerSecond = max === null ? undefined : (max as number | undefined) ?? old?.maxPerSecond;
    if (maxPerSecond !== undefined) spec.maxPerSecond = maxPerSecond;
    t.addDevice(token, spec);
    res.statusCode = old === undefined ? 201 : 200;
    return t.device(token) as DeviceInfo;
  }

  #sender(senderId: string, field: string): string {
    if (!this.#target.senderIds().includes(senderId)) throw new HttpError(404, 'UNKNOWN_SENDER', `no sender ${JSON.stringify(senderId)}`, field);
    return senderId;
  }

  #connection(id: number | undefined): number | undefined {
    if (id !== undefined && !this.#target.connections().some((c) => c.id === id)) {
      throw new HttpError(404, 'CONNECTION_NOT_FOUND', `no open connection ${id}`, 'connectionId');
    }
    return id;
  }

  #serveAsset(path: string, res: ServerResponse): undefined {
    const file = CONSOLE_FILES[path] as string;
    let body = this.#assets.get(file);
    if (body === undefined) {
      body = readFileSync(new URL(file, CONSOLE_DIR));
      this.#assets.set(file, body);
    }
    const ext = file.slice(file.lastIndexOf('.') + 1);
    res.writeHead(200, {
      'content-type': `${CONTENT_TYPES[ext] ?? 'application/octet-stream'}; charset=utf-8`,
      'content-length': body.length,
      'cache-control': 'no-store',
      // Everything the console needs comes from here: no CDN, no inline script, no other origin.
      'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'",
    });
    res.end(body);
    return undefined;
  }
}

/** Maps what a handler threw to an HTTP answer: the emulator's own errors keep their code and field. */
function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof EmulatorError) {
    if (err.code === 'EMU_ERR_UPSTREAM_FULL') return new HttpError(429, err.code, err.message);
    if (err.code === 'EMU_ERR_UNKNOWN_SENDER') return new HttpError(404, err.code, err.message, 'senderId');
    return new HttpError(400, err.code, err.message, err.field === undefined ? undefined : `faults.${err.field}`);
  }
  return new HttpError(500, 'INTERNAL', err instanceof Error ? err.message : String(err));
}
