import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseStateRepo, syncStateRepo, versionTag } from '../../tools/src/upstream';
import { hasCommand } from '../helpers/env';

const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.org', '-c', 'init.defaultBranch=main', ...args], { cwd, encoding: 'utf8' });

/** A bare "remote" plus a work tree that pushes state files to it. */
function makeRemote(): { bare: string; work: string; put: (dir: string, pkgbase: string, version: string) => void; push: (msg: string) => void } {
  const root = mkdtempSync(join(tmpdir(), 'pkgnx-staterepo-'));
  const bare = join(root, 'state.git');
  const work = join(root, 'work');
  git(root, 'init', '--quiet', '--bare', bare);
  git(root, 'init', '--quiet', work);
  const put = (dir: string, pkgbase: string, version: string): void => {
    mkdirSync(join(work, dir), { recursive: true });
    writeFileSync(join(work, dir, pkgbase), `${pkgbase} ${version} ${versionTag(version)} ${'ab'.repeat(20)}\n`);
  };
  const push = (msg: string): void => {
    git(work, 'add', '-A');
    git(work, 'commit', '--quiet', '-m', msg);
    git(work, 'push', '--quiet', bare, 'HEAD:main');
  };
  return { bare, work, put, push };
}

test('state repo: clone, update (fetch + reset, local edits discarded), re-clone when corrupted', { skip: !hasCommand('git') }, async () => {
  const remote = makeRemote();
  remote.put('core-x86_64', 'glibc', '2.36-3');
  remote.put('extra-any', 'python-requests', '2.28.1-1');
  remote.push('initial');
  const dir = join(mkdtempSync(join(tmpdir(), 'pkgnx-stateclone-')), 'state');

  const first = await syncStateRepo(remote.bare, dir);
  assert.equal(first.action, 'cloned');
  assert.equal(parseStateRepo(dir).get('glibc')?.version, '2.36-3');

  remote.put('core-x86_64', 'glibc', '2.37-1');
  remote.put('extra-x86_64', 'vim', '2:9.0.0354-1');
  remote.push('update');
  writeFileSync(join(dir, 'core-x86_64', 'glibc'), 'local edit that must not survive\n');
  writeFileSync(join(dir, 'stray-file'), 'x');
  const second = await syncStateRepo(remote.bare, dir);
  assert.equal(second.action, 'updated', second.reason);
  assert.equal(second.head, git(remote.work, 'rev-parse', 'HEAD').trim());
  const state = parseStateRepo(dir, { arches: ['x86_64', 'any'] });
  assert.equal(state.get('glibc')?.version, '2.37-1');
  assert.equal(state.get('vim')?.tag, '2-9.0.0354-1');
  assert.ok(!existsSync(join(dir, 'stray-file')));

  // corrupt the clone: remove its object store
  rmSync(join(dir, '.git', 'objects'), { recursive: true, force: true });
  const third = await syncStateRepo(remote.bare, dir);
  assert.equal(third.action, 'recloned');
  assert.ok(third.reason);
  assert.equal(parseStateRepo(dir).get('glibc')?.version, '2.37-1');

  // a directory that is not a git checkout at all is replaced too
  rmSync(join(dir, '.git'), { recursive: true, force: true });
  const fourth = await syncStateRepo(remote.bare, dir);
  assert.equal(fourth.action, 'recloned');
  assert.deepEqual(readdirSync(dir).sort(), ['.git', 'core-x86_64', 'extra-any', 'extra-x86_64']);
});
