/**
 * Nx's self-hosted remote cache API (`GET`/`PUT /v1/cache/{hash}`, spec "Nx custom remote cache
 * specification" 1.0.0) over a CacheStore, as Nx 24.0.6's client needs it:
 *   - bearer tokens, read-write and read-only; 401 with a text/plain body (Nx prints it) for a missing or
 *     unknown token, 403 for an upload with a read-only token (Nx carries on silently);
 *   - PUT answers 200 exactly (Nx 24 treats 201/202 as errors and uploads twice), 409 when the record
 *     exists (written once: the store's conditional write decides between racing writers);
 *   - a GET miss is a quick 404, and so is a GET the storage cannot answer (a miss only costs a rebuild;
 *     a 5xx fails the whole Nx run); an upload the storage cannot take is a 503 (Nx retries, then fails
 *     the task: in a build farm a silently lost upload would fail the dependants instead);
 *   - an upload shorter than its Content-Length stores nothing; bodies stream in both directions.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { ShortBodyError, type CacheStore } from './cache-store';

export const HASH_RE = /^[A-Za-z0-9_-]{1,128}$/;

export interface CacheServerOptions {
  store: CacheStore;
  readWriteTokens: readonly string[];
  readOnlyTokens: readonly string[];
  maxUploadBytes: number;
  /** one record per request (JSON lines on stdout in the CLI) */
  log?: (record: RequestRecord) => void;
}

export interface RequestRecord {
  method: string;
  path: string;
  status: number;
  access?: 'rw' | 'ro';
  bytes?: number;
  ms: number;
  error?: string;
}

export interface RunningCacheServer {
  server: Server;
  url: string;
  /** stops accepting, aborts uploads in flight (they store nothing), waits for the rest */
  close(): Promise<void>;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

function tokenChecker(readWrite: readonly string[], readOnly: readonly string[]): (token: string) => 'rw' | 'ro' | undefined {
  const rw = readWrite.map(digest);
  const ro = readOnly.map(digest);
  return (token) => {
    const d = digest(token);
    // compare against every token, so the time taken says nothing about which one matched
    let found: 'rw' | 'ro' | undefined;
    for (const t of rw) if (timingSafeEqual(t, d)) found = 'rw';
    for (const t of ro) if (timingSafeEqual(t, d)) found ??= 'ro';
    return found;
  };
}

function text(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

export function createCacheServer(o: CacheServerOptions): { server: Server; inFlight: Set<AbortController> } {
  const access = tokenChecker(o.readWriteTokens, o.readOnlyTokens);
  const inFlight = new Set<AbortController>();

  const handle = async (req: IncomingMessage, res: ServerResponse, rec: RequestRecord, controller: AbortController): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) return text(res, 200, 'ok\n');
    const m = /^\/v1\/cache\/([^/]+)$/.exec(path);
    if (!m) return text(res, 404, 'not found: this server answers /v1/cache/{hash}\n');
    if (!HASH_RE.test(m[1])) return text(res, 400, 'invalid hash\n');
    if (req.method !== 'GET' && req.method !== 'PUT') return text(res, 405, 'method not allowed\n', { allow: 'GET, PUT' });
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    const role = bearer ? access(bearer[1]) : undefined;
    if (!role) return text(res, 401, 'missing or invalid token\n');
    rec.access = role;
    const hash = m[1];

    if (req.method === 'GET') {
      let obj;
      try {
        obj = await o.store.get(hash, controller.signal);
      } catch (e) {
        rec.error = `storage: ${(e as Error).name}: ${(e as Error).message}`;
        return text(res, 404, 'The record was not found (storage unavailable)\n');
      }
      if (!obj) return text(res, 404, 'The record was not found\n');
      res.writeHead(200, { 'content-type': 'application/octet-stream', ...(obj.length !== undefined ? { 'content-length': String(obj.length) } : {}) });
      let bytes = 0;
      obj.body.on('data', (c: Buffer) => (bytes += c.length));
      try {
        await pipeline(obj.body, res);
      } finally {
        rec.bytes = bytes;
      }
      return;
    }

    if (role !== 'rw') return text(res, 403, 'read-only token: uploads are not allowed\n');
    const lengthHeader = req.headers['content-length'];
    if (lengthHeader === undefined || !/^\d+$/.test(lengthHeader)) return text(res, 411, 'Content-Length required\n');
    const length = Number(lengthHeader);
    if (length > o.maxUploadBytes) return text(res, 413, `artifact too large: ${length} bytes, at most ${o.maxUploadBytes}\n`, { connection: 'close' });
    rec.bytes = length;
    let result: 'stored' | 'exists';
    try {
      result = await o.store.putIfAbsent(hash, req, length, controller.signal);
    } catch (e) {
      rec.error = `${(e as Error).name}: ${(e as Error).message}`;
      // the client is gone or sent a short body (probably nobody to answer); otherwise the storage failed
      if (e instanceof ShortBodyError) return text(res, 400, 'incomplete upload: nothing stored\n', { connection: 'close' });
      return text(res, 503, 'storage unavailable: nothing stored\n');
    }
    if (result === 'exists') return text(res, 409, 'Cannot override an existing record\n');
    return text(res, 200, 'stored\n');
  };

  const server = createServer((req, res) => {
    const t0 = performance.now();
    const rec: RequestRecord = { method: req.method ?? '?', path: (req.url ?? '').split('?')[0], status: 0, ms: 0 };
    const controller = new AbortController();
    inFlight.add(controller);
    // the client hung up before the answer: stop the storage request
    res.once('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    handle(req, res, rec, controller)
      .catch((e: unknown) => {
        rec.error = `${(e as Error).name}: ${(e as Error).message}`;
        if (!res.headersSent) text(res, 500, 'internal error\n');
        else res.destroy();
      })
      .finally(() => {
        inFlight.delete(controller);
        rec.status = res.statusCode;
        rec.ms = Math.round(performance.now() - t0);
        o.log?.(rec);
      });
  });
  // Nx uploads whole artifacts in one request; allow slow links, but not a request that never ends
  server.requestTimeout = 15 * 60_000;
  server.headersTimeout = 30_000;
  return { server, inFlight };
}

export async function startCacheServer(o: CacheServerOptions & { host: string; port: number }): Promise<RunningCacheServer> {
  const { server, inFlight } = createCacheServer(o);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    server,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of inFlight) c.abort();
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
