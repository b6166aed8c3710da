/**
 * Repository databases from a local path or an HTTP(S) URL, cached with conditional GET.
 * The cached copy is only ever replaced by a body that was received completely and parsed as a sync
 * database (temp file + rename in the cache directory), so a failed or truncated download can never
 * leave a half-written database behind the way `wget -O` did.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSyncDatabase, type SyncDatabase } from '../syncdb';
import type { RepositorySource } from './config';

export type FetchStatus =
  /** read from a local path */
  | 'local'
  /** 200: new body, cache replaced */
  | 'downloaded'
  /** 304: the cached copy is current */
  | 'not-modified'
  /** cache used without asking the server (offline / dry run) */
  | 'cached'
  /** downloaded into memory only (dry run with nothing cached) */
  | 'memory'
  /** the fetch failed and allowFailure: the cached copy is used */
  | 'fallback-cache'
  /** the fetch failed and allowFailure, nothing cached: the repository counts as empty */
  | 'fallback-empty';

export interface FetchOptions {
  cacheDir: string;
  /** a failure warns and falls back to the cached copy or an empty repository instead of throwing */
  allowFailure?: boolean;
  /** never write anything: use the cached copy when there is one, otherwise download into memory */
  dryRun?: boolean;
  /** never touch the network: the cached copy or an error */
  offline?: boolean;
  /** label packages with this repository name instead of `source.name` (testing -> stable) */
  repoLabel?: string;
  timeoutMs?: number;
  warn?: (message: string) => void;
}

export interface FetchedDatabase {
  source: RepositorySource;
  status: FetchStatus;
  /** the cached (or local) file the database was read from, if any */
  file?: string;
  database: SyncDatabase;
  /** what went wrong, when status is a fallback */
  warning?: string;
}

export interface CacheValidators {
  url: string;
  etag?: string;
  lastModified?: string;
  fetchedAt: string;
}

export class DatabaseFetchError extends Error {
  constructor(
    readonly location: string,
    message: string,
  ) {
    super(`${location}: ${message}`);
    this.name = 'DatabaseFetchError';
  }
}

/** Cache file for a URL: readable name plus a hash, since upstream and target both have a `core`. */
export function cachePathFor(cacheDir: string, source: RepositorySource): string {
  const key = source.url ?? source.path ?? source.name;
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 12);
  return join(cacheDir, `${source.name}-${hash}.db`);
}

function validatorsPath(file: string): string {
  return `${file}.validators.json`;
}

function readValidators(file: string): CacheValidators | undefined {
  try {
    return JSON.parse(readFileSync(validatorsPath(file), 'utf8')) as CacheValidators;
  } catch {
    return undefined;
  }
}

/** Write next to the destination, then rename: readers see the old file or the new one, never a mix. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

async function parseOrThrow(bytes: Uint8Array, repo: string, location: string): Promise<SyncDatabase> {
  if (bytes.length === 0) throw new DatabaseFetchError(location, 'empty database (a truncated download?)');
  try {
    return await parseSyncDatabase(bytes, repo);
  } catch (e) {
    throw new DatabaseFetchError(location, `not a readable sync database: ${(e as Error).message}`);
  }
}

function emptyDatabase(repo: string): SyncDatabase {
  return { repo, compression: 'none', packages: [], unknownKeys: [] };
}

async function download(
  url: string,
  validators: CacheValidators | undefined,
  timeoutMs: number,
): Promise<{ status: 304 } | { status: 200; body: Uint8Array; etag?: string; lastModified?: string }> {
  const headers: Record<string, string> = { 'user-agent': 'pkgnx', 'accept-encoding': 'identity' };
  if (validators?.etag) headers['if-none-match'] = validators.etag;
  if (validators?.lastModified) headers['if-modified-since'] = validators.lastModified;
  let res: Response;
  try {
    res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
  } catch (e) {
    throw new DatabaseFetchError(url, `request failed: ${(e as Error).message}`);
  }
  if (res.status === 304) return { status: 304 };
  if (res.status !== 200) throw new DatabaseFetchError(url, `HTTP ${res.status} ${res.statusText}`);
  let body: Uint8Array;
  try {
    body = new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    throw new DatabaseFetchError(url, `download interrupted: ${(e as Error).message}`);
  }
  const length = res.headers.get('content-length');
  // with a content-encoding the header counts encoded bytes, which fetch has already decoded
  if (length !== null && !res.headers.get('content-encoding') && Number(length) !== body.length) {
    throw new DatabaseFetchError(url, `truncated download: got ${body.length} of ${length} bytes`);
  }
  const out: { status: 200; body: Uint8Array; etag?: string; lastModified?: string } = { status: 200, body };
  const etag = res.headers.get('etag');
  const lastModified = res.headers.get('last-modified');
  if (etag) out.etag = etag;
  if (lastModified) out.lastModified = lastModified;
  return out;
}

/** Fetch (or read) one repository database. Throws DatabaseFetchError unless `allowFailure`. */
export async function fetchRepositoryDatabase(source: RepositorySource, options: FetchOptions): Promise<FetchedDatabase> {
  const repo = options.repoLabel ?? source.name;
  const warn = options.warn ?? ((m: string) => process.stderr.write(`warning: ${m}\n`));

  if (source.path !== undefined) {
    try {
      const bytes = await readFile(source.path).catch((e: Error) => {
        throw new DatabaseFetchError(source.path as string, `cannot read: ${e.message}`);
      });
      return { source, status: 'local', file: source.path, database: await parseOrThrow(bytes, repo, source.path) };
    } catch (e) {
      if (!options.allowFailure) throw e;
      const warning = `${(e as Error).message}; allowFailure: repository '${source.name}' counts as empty`;
      warn(warning);
      return { source, status: 'fallback-empty', database: emptyDatabase(repo), warning };
    }
  }

  const url = source.url as string;
  const file = cachePathFor(options.cacheDir, source);
  const cached = existsSync(file);
  const readCached = async (): Promise<SyncDatabase> => parseOrThrow(await readFile(file), repo, `${file} (cache of ${url})`);

  if (cached && (options.dryRun || options.offline)) {
    return { source, status: 'cached', file, database: await readCached() };
  }
  if (options.offline) {
    const err = new DatabaseFetchError(url, `offline and not cached (expected ${file})`);
    if (!options.allowFailure) throw err;
    const warning = `${err.message}; allowFailure: repository '${source.name}' counts as empty`;
    warn(warning);
    return { source, status: 'fallback-empty', database: emptyDatabase(repo), warning };
  }

  try {
    const validators = cached ? readValidators(file) : undefined;
    const res = await download(url, validators, options.timeoutMs ?? 120_000);
    if (res.status === 304) {
      try {
        return { source, status: 'not-modified', file, database: await readCached() };
      } catch {
        // the cached copy is unreadable although the server says it is current: fetch it whole
        const again = await download(url, undefined, options.timeoutMs ?? 120_000);
        if (again.status !== 200) throw new DatabaseFetchError(url, 'server answered 304 to an unconditional request');
        return await store(again);
      }
    }
    return await store(res);
  } catch (e) {
    if (!options.allowFailure) throw e;
    if (cached) {
      try {
        const database = await readCached();
        const warning = `${(e as Error).message}; allowFailure: using the cached copy ${file}`;
        warn(warning);
        return { source, status: 'fallback-cache', file, database, warning };
      } catch {
        // fall through to empty
      }
    }
    const warning = `${(e as Error).message}; allowFailure: no usable cached copy, repository '${source.name}' counts as empty`;
    warn(warning);
    return { source, status: 'fallback-empty', database: emptyDatabase(repo), warning };
  }

  async function store(res: { body: Uint8Array; etag?: string; lastModified?: string }): Promise<FetchedDatabase> {
    // parse before writing: a body that is not a database never replaces the cache
    const database = await parseOrThrow(res.body, repo, url);
    if (options.dryRun) return { source, status: 'memory', database };
    mkdirSync(options.cacheDir, { recursive: true });
    writeFileAtomic(file, res.body);
    const v: CacheValidators = { url, fetchedAt: new Date().toISOString() };
    if (res.etag) v.etag = res.etag;
    if (res.lastModified) v.lastModified = res.lastModified;
    writeFileAtomic(validatorsPath(file), `${JSON.stringify(v, null, 2)}\n`);
    return { source, status: 'downloaded', file, database };
  }
}
