/**
 * The remote cache server against a real S3 server (versitygw: conditional writes like AWS S3): Nx's wire
 * protocol, tokens, 409 on an existing record decided by the storage, truncated uploads, storage trouble,
 * and the `pkgnx cache-server` command's start-up errors.
 */
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { startCacheServer, type RunningCacheServer } from '../../tools/src/farm/cache-server';
import { s3CacheStore, type CacheStore } from '../../tools/src/farm/cache-store';
import { WORKSPACE_ROOT } from '../helpers/env';
import { RO_TOKEN, RW_TOKEN } from '../helpers/farm';
import { startVersitygw, type S3TestServer, versitygwSkip } from '../helpers/s3-server';

const farmS3Skip = versitygwSkip();

const BUCKET = 'nx-cache-test';
let s3: S3TestServer;
let server: RunningCacheServer;
let store: CacheStore;
const log: { method: string; path: string; status: number; error?: string }[] = [];

function storeFor(endpoint: string): CacheStore {
  Object.assign(process.env, s3.env);
  return s3CacheStore({ bucket: BUCKET, prefix: 'nx/', endpoint, region: 'us-east-1', forcePathStyle: true, timeoutMs: 5000 });
}

before(async () => {
  if (farmS3Skip) return;
  s3 = await startVersitygw();
  await s3.createBucket(BUCKET);
  store = storeFor(s3.endpoint);
  server = await startCacheServer({ store, host: '127.0.0.1', port: 0, readWriteTokens: [RW_TOKEN], readOnlyTokens: [RO_TOKEN], maxUploadBytes: 64 * 1024 * 1024, log: (r) => log.push(r) });
});

after(async () => {
  if (farmS3Skip) return;
  await server.close();
  store.close();
  await s3.stop();
});

const auth = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
const put = (hash: string, body: Uint8Array, token = RW_TOKEN): Promise<Response> =>
  fetch(`${server.url}/v1/cache/${hash}`, { method: 'PUT', body, headers: { ...auth(token), 'content-type': 'application/octet-stream' } });
const get = (hash: string, token = RW_TOKEN): Promise<Response> => fetch(`${server.url}/v1/cache/${hash}`, { headers: { ...auth(token), accept: 'application/octet-stream' } });

test('a miss is 404; no token or an unknown one is 401 with a text/plain message', { skip: farmS3Skip }, async () => {
  const miss = await get('12345678901234567890');
  assert.equal(miss.status, 404);
  const none = await fetch(`${server.url}/v1/cache/1`);
  assert.equal(none.status, 401);
  assert.match(none.headers.get('content-type') ?? '', /^text\/plain/);
  assert.equal((await get('1', 'not-a-token-but-long-enough')).status, 401);
  assert.equal((await get('../etc')).status, 404, 'no route outside /v1/cache/{hash}');
  assert.equal((await get('a%2Fb')).status, 400);
  assert.equal((await fetch(`${server.url}/v1/cache/1`, { method: 'DELETE', headers: auth(RW_TOKEN) })).status, 405);
});

test('PUT is 200 exactly, GET returns the same bytes, a second PUT is 409 and changes nothing', { skip: farmS3Skip }, async () => {
  const body = randomBytes(300_000);
  const first = await put('1111', body);
  assert.equal(first.status, 200);
  const again = await put('1111', randomBytes(10));
  assert.equal(again.status, 409);
  assert.match(await again.text(), /existing record/);
  const r = await get('1111');
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/octet-stream');
  assert.ok(Buffer.from(await r.arrayBuffer()).equals(body));
  assert.deepEqual(await s3.keys(BUCKET, 'nx/1111'), ['nx/1111']);
});

test('a read-only token reads but cannot write (403, nothing stored)', { skip: farmS3Skip }, async () => {
  assert.equal((await get('1111', RO_TOKEN)).status, 200);
  const r = await put('2222', randomBytes(100), RO_TOKEN);
  assert.equal(r.status, 403);
  assert.deepEqual(await s3.keys(BUCKET, 'nx/2222'), []);
});

test('racing writers of one hash: the storage lets exactly one write, the others get 409', { skip: farmS3Skip }, async () => {
  const bodies = Array.from({ length: 12 }, () => randomBytes(200_000));
  const answers = await Promise.all(bodies.map((b) => put('3333', b)));
  const statuses = answers.map((a) => a.status);
  assert.equal(statuses.filter((s) => s === 200).length, 1, String(statuses));
  assert.equal(statuses.filter((s) => s === 409).length, bodies.length - 1, String(statuses));
  const stored = Buffer.from(await (await get('3333')).arrayBuffer());
  assert.ok(stored.equals(bodies[statuses.indexOf(200)]), 'the stored record is the winner\'s, whole');
});

/** a PUT that sends `sent` bytes of a declared `declared`, then closes the connection */
function truncatedPut(hash: string, declared: number, sent: number): Promise<string> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), hostname, () => {
      sock.write(`PUT /v1/cache/${hash} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${RW_TOKEN}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${declared}\r\n\r\n`);
      sock.write(randomBytes(sent), () => setTimeout(() => sock.end(), 200));
    });
    let answer = '';
    sock.on('data', (d: Buffer) => (answer += d.toString()));
    sock.on('close', () => resolve(answer));
    sock.on('error', reject);
  });
}

test('an upload shorter than its Content-Length stores nothing, in the bucket or on the S3 server\'s disk', { skip: farmS3Skip }, async () => {
  await truncatedPut('4444', 2_000_000, 700_000);
  // the server has finished with the request once it logged it
  for (let i = 0; i < 100 && !log.some((l) => l.method === 'PUT' && l.path.endsWith('/4444')); i++) await new Promise((r) => setTimeout(r, 50));
  const rec = log.find((l) => l.method === 'PUT' && l.path.endsWith('/4444'));
  assert.ok(rec?.error, `the truncated upload was logged as an error: ${JSON.stringify(rec)}`);
  assert.deepEqual(await s3.keys(BUCKET, 'nx/4444'), []);
  assert.equal((await get('4444')).status, 404);
  // versitygw keeps uploads in progress in <bucket>/.sgwtmp/: it must hold no file now
  const files = readdirSync(join(s3.dataDir, BUCKET), { recursive: true }).map(String).filter((f) => statSync(join(s3.dataDir, BUCKET, f)).isFile());
  const leftovers = files.filter((f) => f.includes('4444') || f.startsWith('.sgwtmp'));
  assert.deepEqual(leftovers, [], 'no partial or temporary file in the S3 server\'s storage');
  // and the hash can still be written whole
  assert.equal((await put('4444', randomBytes(1000))).status, 200);
});

test('a large artifact goes up in parts and becomes visible whole; cut short, it leaves no object and no upload', { skip: farmS3Skip }, async () => {
  const body = randomBytes(19 * 1024 * 1024);
  assert.equal((await put('6666', body)).status, 200);
  assert.ok(Buffer.from(await (await get('6666')).arrayBuffer()).equals(body));
  assert.equal((await put('6666', body)).status, 409);
  await truncatedPut('7777', 30 * 1024 * 1024, 20 * 1024 * 1024);
  for (let i = 0; i < 200 && !log.some((l) => l.method === 'PUT' && l.path.endsWith('/7777')); i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(await s3.keys(BUCKET, 'nx/7777'), []);
  const s3c = s3.client();
  try {
    const uploads = await s3c.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
    assert.deepEqual(uploads.Uploads ?? [], [], 'the multipart upload was aborted');
  } finally {
    s3c.destroy();
  }
  assert.equal(await store.sweepIncompleteUploads(0), 0);
});

test('storage trouble: a GET is a quick miss (404, never 5xx), an upload is 503 and stores nothing', { skip: farmS3Skip }, async () => {
  const deadPort = await new Promise<number>((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : 1));
    });
  });
  const deadStore = storeFor(`http://127.0.0.1:${deadPort}`);
  const dead = await startCacheServer({ store: deadStore, host: '127.0.0.1', port: 0, readWriteTokens: [RW_TOKEN], readOnlyTokens: [], maxUploadBytes: 1 << 20 });
  try {
    const g = await fetch(`${dead.url}/v1/cache/5555`, { headers: auth(RW_TOKEN) });
    assert.equal(g.status, 404);
    const p = await fetch(`${dead.url}/v1/cache/5555`, { method: 'PUT', body: randomBytes(10), headers: auth(RW_TOKEN) });
    assert.equal(p.status, 503);
    const big = await fetch(`${dead.url}/v1/cache/5556`, { method: 'PUT', body: randomBytes((1 << 20) + 1), headers: auth(RW_TOKEN) });
    assert.equal(big.status, 413);
  } finally {
    await dead.close();
    deadStore.close();
  }
});

test('`pkgnx cache-server` names what is wrong: a missing setting, a bad token, a bucket that does not exist', { skip: farmS3Skip }, () => {
  const run = (args: string[], env: Record<string, string>): { status: number | null; stderr: string } =>
    spawnSync(process.execPath, ['--require', '@swc-node/register', join(WORKSPACE_ROOT, 'tools', 'bin', 'pkgnx.ts'), 'cache-server', ...args], {
      encoding: 'utf8',
      env: { ...process.env, ...s3.env, SWC_NODE_PROJECT: join(WORKSPACE_ROOT, 'tsconfig.json'), PKGNX_CACHE_BUCKET: '', PKGNX_CACHE_RW_TOKENS: '', PKGNX_CACHE_RO_TOKENS: '', ...env },
      timeout: 60_000,
    });
  const noBucket = run(['--listen', '127.0.0.1:0'], { PKGNX_CACHE_RW_TOKENS: RW_TOKEN });
  assert.equal(noBucket.status, 2);
  assert.match(noBucket.stderr, /the bucket is required: --bucket or PKGNX_CACHE_BUCKET/);
  const shortToken = run(['--bucket', BUCKET], { PKGNX_CACHE_RO_TOKENS: 'short' });
  assert.equal(shortToken.status, 2);
  assert.match(shortToken.stderr, /PKGNX_CACHE_RO_TOKENS: a token must be at least 16/);
  const missing = run(['--bucket', 'no-such-bucket', '--endpoint', s3.endpoint, '--path-style', '--listen', '127.0.0.1:0'], { PKGNX_CACHE_RW_TOKENS: RW_TOKEN });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /S3 bucket 'no-such-bucket' at http:\/\/127\.0\.0\.1:\d+ is not usable: NoSuchBucket/);
});
