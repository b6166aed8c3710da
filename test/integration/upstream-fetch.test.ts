import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cachePathFor, DatabaseFetchError, fetchRepositoryDatabase, type RepositorySource } from '../../tools/src/upstream';
import { upstreamPath } from '../fixtures/upstream/derive';

const core = readFileSync(upstreamPath('core'));
const extra = readFileSync(upstreamPath('extra'));
let server: Server;
let base: string;
/** what /repo.db serves right now */
let mode: 'core' | 'extra' | 'truncated' | 'garbage' | 'error' = 'core';
const seen: { path: string; ifNoneMatch?: string; ifModifiedSince?: string; status: number }[] = [];

before(async () => {
  server = createServer((req, res) => {
    const log = { path: req.url ?? '', ifNoneMatch: req.headers['if-none-match'], ifModifiedSince: req.headers['if-modified-since'], status: 200 };
    seen.push(log);
    const body = mode === 'extra' ? extra : core;
    const etag = mode === 'extra' ? '"extra-v1"' : '"core-v1"';
    if (mode === 'error') {
      log.status = 500;
      res.writeHead(500).end('boom');
      return;
    }
    if (mode === 'garbage') {
      res.writeHead(200, { 'content-type': 'text/html', 'content-length': 21 }).end('<html>mirror ad</html'.slice(0, 21));
      return;
    }
    if (mode === 'truncated') {
      // announce the whole body, send half, then drop the connection
      res.writeHead(200, { 'content-length': body.length, etag: '"truncated"' });
      res.write(body.subarray(0, body.length >> 1), () => res.socket?.destroy());
      return;
    }
    if (req.headers['if-none-match'] === etag) {
      log.status = 304;
      res.writeHead(304, { etag }).end();
      return;
    }
    res.writeHead(200, { 'content-length': body.length, etag, 'last-modified': 'Sat, 10 Sep 2022 00:00:00 GMT' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

const quiet = { warn: (): void => undefined };

test('download, then a conditional GET answered 304 reuses the cache; a new ETag replaces it', async () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'pkgnx-cache-'));
  const source: RepositorySource = { name: 'core', url: `${base}/core/os/x86_64/core.db` };
  mode = 'core';
  const first = await fetchRepositoryDatabase(source, { cacheDir, ...quiet });
  assert.equal(first.status, 'downloaded');
  assert.equal(first.database.packages.length, 261);
  const file = cachePathFor(cacheDir, source);
  assert.deepEqual(readFileSync(file), core);
  const validators = JSON.parse(readFileSync(`${file}.validators.json`, 'utf8'));
  assert.equal(validators.etag, '"core-v1"');
  assert.equal(validators.lastModified, 'Sat, 10 Sep 2022 00:00:00 GMT');

  const second = await fetchRepositoryDatabase(source, { cacheDir, ...quiet });
  assert.equal(second.status, 'not-modified');
  assert.equal(second.database.packages.length, 261);
  const last = seen[seen.length - 1];
  assert.equal(last.ifNoneMatch, '"core-v1"');
  assert.equal(last.ifModifiedSince, 'Sat, 10 Sep 2022 00:00:00 GMT');
  assert.equal(last.status, 304);

  mode = 'extra';
  const third = await fetchRepositoryDatabase(source, { cacheDir, ...quiet });
  assert.equal(third.status, 'downloaded');
  assert.equal(third.database.packages.length, 3029);
  assert.deepEqual(readdirSync(cacheDir).filter((f) => f.includes('.tmp-')), [], 'no temp files left');
});

test('a truncated download is a hard error naming the URL and leaves the cached copy intact', async () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'pkgnx-cache-'));
  const source: RepositorySource = { name: 'core', url: `${base}/trunc/core.db` };
  mode = 'core';
  await fetchRepositoryDatabase(source, { cacheDir, ...quiet });
  const file = cachePathFor(cacheDir, source);
  mode = 'truncated';
  await assert.rejects(fetchRepositoryDatabase(source, { cacheDir, ...quiet }), (e: Error) => e instanceof DatabaseFetchError && e.message.startsWith(`${source.url}: `));
  assert.deepEqual(readFileSync(file), core, 'cache unchanged');
  mode = 'garbage';
  await assert.rejects(fetchRepositoryDatabase(source, { cacheDir, ...quiet }), /trunc\/core\.db: not a readable sync database|trunc\/core\.db: .*truncated/);
  assert.deepEqual(readFileSync(file), core, 'cache unchanged');
  mode = 'error';
  await assert.rejects(fetchRepositoryDatabase(source, { cacheDir, ...quiet }), /trunc\/core\.db: HTTP 500/);
  assert.deepEqual(readdirSync(cacheDir).filter((f) => f.includes('.tmp-')), []);
});

test('allowFailure warns and uses the cached copy, or an empty repository, saying so', async () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'pkgnx-cache-'));
  const source: RepositorySource = { name: 'core', url: `${base}/allow/core.db` };
  mode = 'core';
  await fetchRepositoryDatabase(source, { cacheDir, ...quiet });
  mode = 'truncated';
  const warnings: string[] = [];
  const fallback = await fetchRepositoryDatabase(source, { cacheDir, allowFailure: true, warn: (m) => warnings.push(m) });
  assert.equal(fallback.status, 'fallback-cache');
  assert.equal(fallback.database.packages.length, 261);
  assert.match(warnings[0], /allow\/core\.db: .*allowFailure: using the cached copy/);

  const other: RepositorySource = { name: 'extra', url: `${base}/never-cached/extra.db` };
  const empty = await fetchRepositoryDatabase(other, { cacheDir, allowFailure: true, warn: (m) => warnings.push(m) });
  assert.equal(empty.status, 'fallback-empty');
  assert.equal(empty.database.packages.length, 0);
  assert.match(warnings[1], /never-cached\/extra\.db: .*no usable cached copy, repository 'extra' counts as empty/);
  assert.ok(!existsSync(cachePathFor(cacheDir, other)));
});

test('dry run writes nothing: cached copy used without asking, otherwise an in-memory download', async () => {
  const cacheDir = join(mkdtempSync(join(tmpdir(), 'pkgnx-cache-')), 'not-created');
  const source: RepositorySource = { name: 'core', url: `${base}/dry/core.db` };
  mode = 'core';
  const before = seen.length;
  const r = await fetchRepositoryDatabase(source, { cacheDir, dryRun: true, ...quiet });
  assert.equal(r.status, 'memory');
  assert.equal(r.database.packages.length, 261);
  assert.equal(seen.length, before + 1);
  assert.ok(!existsSync(cacheDir), 'cache directory not even created');
  await assert.rejects(fetchRepositoryDatabase(source, { cacheDir, offline: true, ...quiet }), /dry\/core\.db: offline and not cached/);
});

test('local paths are read directly; a missing one is an error naming the path', async () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'pkgnx-cache-'));
  const r = await fetchRepositoryDatabase({ name: 'chaotic-aur', path: join(upstreamPath('core'), '..', '..', 'chaotic-aur-2022', 'chaotic-aur.db.tar.xz') }, { cacheDir });
  assert.equal(r.status, 'local');
  assert.equal(r.database.compression, 'zstd');
  await assert.rejects(fetchRepositoryDatabase({ name: 'x', path: '/nonexistent/x.db' }, { cacheDir }), /\/nonexistent\/x\.db: cannot read/);
  const soft = await fetchRepositoryDatabase({ name: 'x', path: '/nonexistent/x.db' }, { cacheDir, allowFailure: true, ...quiet });
  assert.equal(soft.status, 'fallback-empty');
  assert.deepEqual(readdirSync(cacheDir), []);
});
