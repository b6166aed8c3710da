import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, test } from 'node:test';
import { readSyncDatabase } from '../../tools/src/syncdb';
import { addPackages, evictStaleCachedPackages, registeredPackages, registerOutputs, repoDbPath, workspaceRepository } from '../../tools/src/packaging/workspace-repo';
import { WORKSPACE_ROOT, hasCommand, tempDir } from '../helpers/env';

const skip = hasCommand('repo-add') && hasCommand('bsdtar') && hasCommand('flock') ? undefined : 'repo-add, bsdtar or flock missing';
const tmp = tempDir('pkgnx-repo-test-');
after(() => rmSync(tmp, { recursive: true, force: true }));

function fakePackage(outDir: string, name: string, version = '1.0-1'): string {
  const dir = mkdtempSync(join(tmp, 'src-'));
  writeFileSync(join(dir, '.PKGINFO'), `pkgname = ${name}\npkgbase = ${name}\npkgver = ${version}\npkgdesc = test\narch = x86_64\nbuilddate = 1\nsize = 1\n`);
  mkdirSync(join(dir, 'usr/share', name), { recursive: true });
  writeFileSync(join(dir, 'usr/share', name, 'f'), name);
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${name}-${version}-x86_64.pkg.tar.zst`);
  execFileSync('bsdtar', ['--zstd', '-cf', file, '-C', dir, '.PKGINFO', 'usr']);
  return file;
}

async function names(ws: string): Promise<string[]> {
  const db = await readSyncDatabase(repoDbPath(workspaceRepository(ws, 'x86_64')), 'pkgnx-workspace');
  return db.packages.map((p) => `${p.name}-${p.version}`).sort();
}

test('4 concurrent adds from separate processes lose nothing', { skip }, async () => {
  const ws = join(tmp, 'ws-concurrent');
  const files = ['a', 'b', 'c', 'd'].map((n) => fakePackage(join(ws, 'dist/x86_64', n), n));
  const script = `require('${join(WORKSPACE_ROOT, 'tools/src/packaging/workspace-repo.ts')}').addPackages({ name: 'pkgnx-workspace', dir: process.argv[1] }, [process.argv[2]]).then((a) => console.log(a.join(' ')))`;
  const runs = files.map(
    (f) =>
      new Promise<string>((resolve, reject) => {
        const c = spawn(process.execPath, ['--require', '@swc-node/register', '-e', script, join(ws, 'dist/x86_64/repo'), f], { cwd: WORKSPACE_ROOT, env: { ...process.env, SWC_NODE_PROJECT: 'tsconfig.json' } });
        let out = '';
        c.stdout.on('data', (d: Buffer) => (out += d.toString()));
        c.stderr.on('data', (d: Buffer) => (out += d.toString()));
        c.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(out))));
      }),
  );
  await Promise.all(runs);
  assert.deepEqual(await names(ws), ['a-1.0-1', 'b-1.0-1', 'c-1.0-1', 'd-1.0-1']);
  for (const n of ['a', 'b', 'c', 'd']) assert.ok(readdirSync(join(ws, 'dist/x86_64/repo')).includes(`${n}-1.0-1-x86_64.pkg.tar.zst`));
});

test('registerOutputs adds restored outputs once, and a new version replaces the old file', { skip }, async () => {
  const ws = join(tmp, 'ws-register');
  fakePackage(join(ws, 'dist/x86_64/lib'), 'lib');
  fakePackage(join(ws, 'dist/x86_64/app'), 'app');
  assert.deepEqual((await registerOutputs(ws, 'x86_64', ['lib', 'app', 'missing'])).sort(), ['app-1.0-1-x86_64.pkg.tar.zst', 'lib-1.0-1-x86_64.pkg.tar.zst']);
  assert.deepEqual(await registerOutputs(ws, 'x86_64', ['lib', 'app']), [], 'same file and checksum: skipped');
  rmSync(join(ws, 'dist/x86_64/lib'), { recursive: true });
  fakePackage(join(ws, 'dist/x86_64/lib'), 'lib', '1.0-2');
  assert.deepEqual(await registerOutputs(ws, 'x86_64', ['lib']), ['lib-1.0-2-x86_64.pkg.tar.zst']);
  assert.deepEqual(await names(ws), ['app-1.0-1', 'lib-1.0-2']);
  assert.ok(!readdirSync(join(ws, 'dist/x86_64/repo')).includes('lib-1.0-1-x86_64.pkg.tar.zst'), 'old file removed (repo-add -R)');
  assert.deepEqual(await addPackages(workspaceRepository(ws, 'x86_64'), []), []);
});

test('a cached copy of a rebuilt workspace package (same file name, other bytes) is evicted; an identical one is kept', { skip }, async () => {
  const ws = join(tmp, 'ws-evict');
  const a = fakePackage(join(ws, 'dist/x86_64/evict-a'), 'evict-a');
  const b = fakePackage(join(ws, 'dist/x86_64/evict-b'), 'evict-b');
  const repo = workspaceRepository(ws, 'x86_64');
  await addPackages(repo, [a, b]);
  const cache = join(ws, 'cache');
  mkdirSync(cache);
  copyFileSync(a, join(cache, basename(a)));
  writeFileSync(join(cache, basename(b)), 'an older build of evict-b');
  assert.deepEqual(await evictStaleCachedPackages([await registeredPackages(repo)], cache), [basename(b)]);
  assert.ok(existsSync(join(cache, basename(a))));
  assert.ok(!existsSync(join(cache, basename(b))));
});

test('with several repositories the first one naming a file name decides which bytes the cache may hold', { skip }, async () => {
  const cache = mkdtempSync(join(tmp, 'cache-order-'));
  writeFileSync(join(cache, 'x-1-1-any.pkg.tar.zst'), 'published bytes');
  const sha = (text: string): string => execFileSync('sha256sum', { input: text, encoding: 'utf8' }).split(' ')[0];
  const workspace = new Map([['x-1-1-any.pkg.tar.zst', sha('workspace bytes')]]);
  const published = new Map([['x-1-1-any.pkg.tar.zst', sha('published bytes')]]);
  assert.deepEqual(await evictStaleCachedPackages([published, workspace], cache), [], 'the published repository comes first: its copy stays');
  assert.deepEqual(await evictStaleCachedPackages([workspace, published], cache), ['x-1-1-any.pkg.tar.zst'], 'the workspace repository comes first: the published copy goes');
});
