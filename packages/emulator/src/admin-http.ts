/**
 * The small HTTP pieces of the admin API (node:http, no framework): JSON bodies read with a size
 * limit, JSON answers, errors that name the field, the token check and what counts as loopback.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';

/** Largest request body accepted (413 above): every route takes a few small fields. */
export const MAX_BODY_BYTES = 64 * 1024;

/** An answer other than 2xx: status, a stable code and, for a bad request, the field at fault. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;

  constructor(status: number, code: string, message: string, field?: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/** A 400 naming `field`. */
export function badField(field: string, message: string): HttpError {
  return new HttpError(400, 'BAD_REQUEST', message, field);
}

/** Writes `body` as JSON with `status`. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

/** Writes an error as `{"error":{"code","message","field"?}}`. */
export function sendError(res: ServerResponse, err: HttpError): void {
  sendJson(res, err.status, { error: { code: err.code, message: err.message, ...(err.field === undefined ? {} : { field: err.field }) } });
}

/**
 * Reads a JSON object body, at most `MAX_BODY_BYTES` (413 past it, without reading the rest).
 * An empty body is `{}`. @throws {HttpError} 400 for bad JSON or a non-object, 413.
 */
export function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) {
      reject(new HttpError(413, 'BODY_TOO_LARGE', `the body is over ${MAX_BODY_BYTES} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        failed = true;
        chunks.length = 0;
        reject(new HttpError(413, 'BODY_TOO_LARGE', `the body is over ${MAX_BODY_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', (err) => {
      if (!failed) reject(new HttpError(400, 'BAD_REQUEST', `the request failed: ${err.message}`));
      failed = true;
    });
    req.on('end', () => {
      if (failed) return;
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return resolve({});
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return reject(new HttpError(400, 'BAD_JSON', 'the body is not valid JSON'));
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return reject(new HttpError(400, 'BAD_JSON', 'the body must be a JSON object'));
      resolve(value as Record<string, unknown>);
    });
  });
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * Whether `given` is the token, in time independent of where they differ (both are hashed first,
 * so neither their contents nor the length of the secret leak through timing).
 */
export function tokenMatches(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  return timingSafeEqual(digest(given), digest(token));
}

/** The token a request carries: `Authorization: Bearer T`, else `?token=T` (for EventSource and the console URL, which cannot set headers). */
export function requestToken(req: IncomingMessage, url: URL): string | undefined {
  const auth = req.headers.authorization;
  if (auth !== undefined && auth.startsWith('Bearer ')) return auth.slice(7);
  return url.searchParams.get('token') ?? undefined;
}

/** True for 127.0.0.0/8, ::1 and `localhost`: addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '0:0:0:0:0:0:0:1';
}

/** An optional integer query or body field; `undefined` when absent. @throws {HttpError} 400 naming it. */
export function intField(name: string, v: unknown, min = 0): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min) throw badField(name, `${name} must be an integer ≥ ${min}`);
  return n;
}

/** An optional non-empty string field. @throws {HttpError} 400 naming it. */
export function stringField(name: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw badField(name, `${name} must be a non-empty string`);
  return v;
}
