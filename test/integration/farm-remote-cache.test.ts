/**
 * Nx 24 with `pkgnx cache-server` on versitygw, as two machines see it: a first clone builds the examples
 * (rootfs backend) and uploads; a second clone's `nx run-many -t build` is all remote hits and its workspace
 * repository holds the packages; a read-only token cannot write; an existing record is never overwritten;
 * an unreachable or silent server gives the documented behaviour.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { makeTempWorkspace, type TempWorkspace } from '../helpers/nx-workspace';
import { ensureRootfs } from '../helpers/rootfs';
import { WORKSPACE_ROOT } from '../helpers/env';
import { cloneWorkspace, RO_TOKEN, RW_TOKEN, startCacheServerProcess, type CacheServerProcess } from '../helpers/farm';
import { startVersitygw, type S3TestServer, versitygwSkip } from '../helpers/s3-server';

const root = ensureRootfs('x86_64');
const skip = root.skipReason || versitygwSkip();
const BUCKET = 'pkgnx-nx-cache';
const EXAMPLES = ['greet-utils', 'hello-cli', 'hello-fr', 'libhello', 'tap-fixtures', 'tap-runner'];
/** every project's build, and the one build of each arch=(any) project (one cache entry each) */
const TASKS = [...EXAMPLES.map((p) => `${p}:build:x86_64`), ...['greet-utils', 'hello-fr', 'tap-fixtures', 'tap-runner'].map((p) => `${p}:build-any:any`)];
let s3: S3TestServer;
let cache: CacheServerProcess;
let first: TempWorkspace;
/** the clones, removed at the end */
const made: string[] = [];
const clone = (prefix: string): ReturnType<typeof cloneWorkspace> => {
  const c = cloneWorkspace(first.root, prefix);
  made.push(c.dir);
  return c;
};

before(async () => {
  if (skip) return;
  s3 = await startVersitygw();
  await s3.createBucket(BUCKET);
  cache = await startCacheServerProcess(s3, BUCKET);
  first = makeTempWorkspace({ copyExamples: true, prefix: 'pkgnx-farm-first-' });
  mkdirSync(join(first.root, '.pkgnx'), { recursive: true });
  symlinkSync(join(WORKSPACE_ROOT, '.pkgnx', 'rootfs'), join(first.root, '.pkgnx', 'rootfs'));
});

after(async () => {
  if (skip) return;
  for (const dir of [first.root, ...made]) rmSync(dir, { recursive: true, force: true });
  await cache.stop();
  await s3.stop();
});

const rw = (): Record<string, string> => ({ NX_SELF_HOSTED_REMOTE_CACHE_SERVER: cache.url, NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: RW_TOKEN });

/** file name -> sha256 of every package in a workspace repository */
function repoPackages(dir: string): Record<string, string> {
  const repo = join(dir, 'dist', 'x86_64', 'repo');
  const out: Record<string, string> = {};
  for (const f of readdirSync(repo).filter((n) => n.endsWith('.pkg.tar.zst')).sort()) out[f] = createHash('sha256').update(readFileSync(join(repo, f))).digest('hex');
  return out;
}

/** the package names pacman would see in the repository database */
function repoDbNames(dir: string): string[] {
  const listing = execFileSync('bsdtar', ['-tf', join(dir, 'dist', 'x86_64', 'repo', 'pkgnx-workspace.db.tar.zst')], { encoding: 'utf8' });
  return listing.split('\n').filter((l) => l.endsWith('/desc')).map((l) => l.replace(/-[^-]+-[^-]+\/desc$/, '')).sort();
}

test('a first clone builds and uploads; a second clone is all remote hits and its workspace repository holds the packages', { skip, timeout: 1_200_000 }, async () => {
  const r = first.nx(['run-many', '-t', 'build', '--outputStyle=static'], rw());
  assert.equal(r.status, 0, (r.stdout + r.stderr).slice(-5000));
  const puts = cache.requests().filter((q) => q.method === 'PUT');
  assert.equal(puts.length, TASKS.length, JSON.stringify(puts));
  assert.ok(puts.every((q) => q.status === 200));
  assert.equal((await s3.keys(BUCKET)).length, TASKS.length);

  const second = clone('pkgnx-farm-second-');
  const s = second.nx(['run-many', '-t', 'build'], rw());
  assert.equal(s.status, 0, s.out.slice(-5000));
  assert.match(s.out, /Nx read the output from the cache instead of running the command for 10 out of 10 tasks/);
  for (const id of TASKS) assert.match(s.out, new RegExp(`nx run ${id} +\\[remote cache\\]`), id);
  const summary = JSON.parse(readFileSync(join(second.dir, 'dist', 'summary.json'), 'utf8')) as { restored: { project: string; target: string; configuration: string; from: string }[]; counts: { built: number } };
  assert.equal(summary.counts.built, 0);
  assert.deepEqual(summary.restored.map((e) => `${e.project}:${e.target}:${e.configuration} ${e.from}`).sort(), TASKS.map((id) => `${id} remote-cache`).sort());
  // the plugin's postTasksExecution put the restored packages into the second machine's workspace repository
  assert.deepEqual(repoPackages(second.dir), repoPackages(first.root));
  assert.deepEqual(repoDbNames(second.dir), ['greet-utils', 'greet-utils-doc', 'hello-cli', 'hello-fr', 'libhello', 'tap-fixtures', 'tap-runner']);
});

test('a read-only token reads but never writes: the run is fine, the server refused the upload, the bucket is unchanged', { skip, timeout: 600_000 }, async () => {
  const before = await s3.keys(BUCKET);
  const c = clone('pkgnx-farm-ro-');
  // a change only this machine has: a task whose hash the cache has never seen
  writeFileSync(join(c.dir, 'pkgbuilds', 'hello-fr', 'fr.txt'), 'Salut, {name} !\n');
  execFileSync('bash', ['-c', "sed -i \"s/^sha256sums=.*/sha256sums=('$(sha256sum pkgbuilds/hello-fr/fr.txt | cut -d' ' -f1)')/\" pkgbuilds/hello-fr/PKGBUILD"], { cwd: c.dir });
  const n0 = cache.requests().length;
  const r = c.nx(['run-many', '-t', 'build'], { NX_SELF_HOSTED_REMOTE_CACHE_SERVER: cache.url, NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: RO_TOKEN });
  assert.equal(r.status, 0, r.out.slice(-5000));
  const reqs = cache.requests().slice(n0);
  assert.ok(reqs.some((q) => q.method === 'GET' && q.status === 200 && q.access === 'ro'), 'read with the read-only token');
  const puts = reqs.filter((q) => q.method === 'PUT');
  assert.ok(puts.length >= 1 && puts.every((q) => q.status === 403), JSON.stringify(puts));
  assert.deepEqual(await s3.keys(BUCKET), before);
  assert.match(r.out, /nx run hello-fr:build:x86_64\n/);
});

test('an existing record is never overwritten: a PUT to a stored hash is 409 and the record keeps its bytes', { skip }, async () => {
  const keys = await s3.keys(BUCKET);
  const hash = keys[0].slice('nx-cache/'.length);
  const original = Buffer.from(await (await fetch(`${cache.url}/v1/cache/${hash}`, { headers: { authorization: `Bearer ${RW_TOKEN}` } })).arrayBuffer());
  const r = await fetch(`${cache.url}/v1/cache/${hash}`, { method: 'PUT', body: Buffer.from('poisoned'), headers: { authorization: `Bearer ${RW_TOKEN}`, 'content-type': 'application/octet-stream' } });
  assert.equal(r.status, 409);
  const now = Buffer.from(await (await fetch(`${cache.url}/v1/cache/${hash}`, { headers: { authorization: `Bearer ${RW_TOKEN}` } })).arrayBuffer());
  assert.ok(now.equals(original));
});

test('an unreachable server: Nx 24 alone fails the run; with pkgnx the run goes on with the local cache and says why', { skip, timeout: 600_000 }, async () => {
  const dead = await new Promise<number>((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : 1));
    });
  });
  const c = clone('pkgnx-farm-down-');
  const env = { NX_SELF_HOSTED_REMOTE_CACHE_SERVER: `http://127.0.0.1:${dead}`, NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: RW_TOKEN };
  // the real behaviour of Nx 24.0.6, without pkgnx's probe: no task runs, exit 1
  const raw = c.nx(['run', 'tap-runner:build'], { ...env, PKGNX_REMOTE_CACHE_PROBE: 'off' });
  assert.equal(raw.status, 1);
  assert.match(raw.out, /Failed to send request/);
  assert.doesNotMatch(raw.out, /pkgnx build|build started/);
  // with the probe: a clear message, the task builds, exit 0
  const guarded = c.nx(['run', 'tap-runner:build'], env);
  assert.equal(guarded.status, 0, guarded.out.slice(-4000));
  assert.match(guarded.out, new RegExp(`pkgnx: remote cache http://127\\.0\\.0\\.1:${dead} is not usable: .*ECONNREFUSED`));
  assert.match(guarded.out, /this run reads and writes the local cache only \(NX_SKIP_REMOTE_CACHE\)/);
  assert.ok(readdirSync(join(c.dir, 'dist', 'x86_64', 'tap-runner')).some((f) => f.endsWith('.pkg.tar.zst')));

  // a server that accepts connections and never answers (Nx 24 alone would hang): the probe gives up after its timeout
  const silent = net.createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
  const port = (silent.address() as net.AddressInfo).port;
  try {
    const hung = c.nx(['run', 'tap-runner:build'], { NX_SELF_HOSTED_REMOTE_CACHE_SERVER: `http://127.0.0.1:${port}`, PKGNX_REMOTE_CACHE_PROBE_TIMEOUT: '1' });
    assert.equal(hung.status, 0, hung.out.slice(-3000));
    assert.match(hung.out, /is not usable: no answer within 1 s/);
  } finally {
    silent.close();
  }
});
