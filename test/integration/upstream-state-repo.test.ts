import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseStateRepo, STATE_CLONE_MARKER, stateParseOptions, syncStateRepo } from '../../tools/src/upstream';
import { versionToTag as versionTag } from '../../tools/src/git/arch-repos';
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

  // a directory that is not a git checkout at all is NOT replaced: an error names it, nothing is deleted
  rmSync(join(dir, '.git'), { recursive: true, force: true });
  await assert.rejects(syncStateRepo(remote.bare, dir), (e: Error) => e.message.startsWith(`${dir}: not a state repository clone made by pkgnx`));
  assert.deepEqual(readdirSync(dir).sort(), ['core-x86_64', 'extra-any', 'extra-x86_64']);
});

test('state repo: an unreachable remote keeps the clone (throws, or warns with allowFailure)', { skip: !hasCommand('git') }, async () => {
  const remote = makeRemote();
  remote.put('core-x86_64', 'glibc', '2.36-3');
  remote.push('initial');
  const dir = join(mkdtempSync(join(tmpdir(), 'pkgnx-stateclone-')), 'state');
  const first = await syncStateRepo(remote.bare, dir);
  assert.equal(first.action, 'cloned');
  assert.ok(existsSync(join(dir, '.git', STATE_CLONE_MARKER)));
  rmSync(remote.bare, { recursive: true, force: true }); // the remote is gone (network down)
  await assert.rejects(syncStateRepo(remote.bare, dir), /cannot fetch .*the existing clone is kept/);
  assert.equal(parseStateRepo(dir).get('glibc')?.version, '2.36-3', 'the clone survives');
  assert.equal(git(dir, 'rev-parse', 'HEAD').trim(), first.head);
  const warnings: string[] = [];
  const kept = await syncStateRepo(remote.bare, dir, { allowFailure: true, warn: (m) => warnings.push(m) });
  assert.equal(kept.action, 'kept');
  assert.equal(kept.head, first.head);
  assert.match(warnings.join('\n'), /using the existing clone/);
  assert.equal(parseStateRepo(dir).get('glibc')?.version, '2.36-3');
});

test('state repo: never deletes a directory pkgnx did not clone (workspace repo, pkgbuilds, foreign clone)', { skip: !hasCommand('git') }, async () => {
  const remote = makeRemote();
  remote.put('core-x86_64', 'glibc', '2.36-3');
  remote.push('initial');
  // a workspace repository with user data
  const ws = mkdtempSync(join(tmpdir(), 'pkgnx-ws-'));
  git(ws, 'init', '--quiet');
  writeFileSync(join(ws, 'precious'), 'user data\n');
  git(ws, 'add', '-A');
  git(ws, 'commit', '--quiet', '-m', 'user commit');
  const wsHead = git(ws, 'rev-parse', 'HEAD').trim();
  await assert.rejects(syncStateRepo(remote.bare, ws), (e: Error) => e.message.startsWith(`${ws}: not a state repository clone made by pkgnx`));
  assert.equal(git(ws, 'rev-parse', 'HEAD').trim(), wsHead);
  assert.ok(existsSync(join(ws, 'precious')));
  // a plain directory with files inside the workspace (e.g. stateRepo.dir = "pkgbuilds")
  const pkgbuilds = join(ws, 'pkgbuilds');
  mkdirSync(join(pkgbuilds, 'vim'), { recursive: true });
  writeFileSync(join(pkgbuilds, 'vim', 'PKGBUILD'), 'pkgname=vim\n');
  await assert.rejects(syncStateRepo(remote.bare, pkgbuilds), /not a state repository clone made by pkgnx/);
  assert.ok(existsSync(join(pkgbuilds, 'vim', 'PKGBUILD')));
  // a damaged pkgnx clone whose origin is another URL is not removed either
  const dir = join(mkdtempSync(join(tmpdir(), 'pkgnx-stateclone-')), 'state');
  await syncStateRepo(remote.bare, dir);
  rmSync(join(dir, '.git', 'objects'), { recursive: true, force: true });
  await assert.rejects(syncStateRepo(`${remote.bare}-other`, dir), /damaged state repository clone .*not removing it/);
  assert.ok(existsSync(join(dir, 'core-x86_64', 'glibc')));
});

test('state repo: GIT_DIR/GIT_WORK_TREE in the environment do not redirect git', { skip: !hasCommand('git') }, async () => {
  const remote = makeRemote();
  remote.put('core-x86_64', 'glibc', '2.36-3');
  remote.push('initial');
  const other = mkdtempSync(join(tmpdir(), 'pkgnx-other-'));
  git(other, 'init', '--quiet');
  writeFileSync(join(other, 'keep'), 'x');
  const saved = { GIT_DIR: process.env.GIT_DIR, GIT_WORK_TREE: process.env.GIT_WORK_TREE };
  process.env.GIT_DIR = join(other, '.git');
  process.env.GIT_WORK_TREE = other;
  try {
    const dir = join(mkdtempSync(join(tmpdir(), 'pkgnx-stateclone-')), 'state');
    assert.equal((await syncStateRepo(remote.bare, dir)).action, 'cloned');
    assert.equal((await syncStateRepo(remote.bare, dir)).action, 'updated');
    assert.equal(parseStateRepo(dir).get('glibc')?.version, '2.36-3');
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  assert.ok(existsSync(join(other, 'keep')), 'the other repository was not cleaned');
});

test('state repo: repos filter of the configured upstream repositories (testing only when enabled)', () => {
  const root = mkdtempSync(join(tmpdir(), 'pkgnx-statefilter-'));
  const put = (sub: string, name: string, version: string): void => {
    mkdirSync(join(root, sub), { recursive: true });
    writeFileSync(join(root, sub, name), `${name} ${version} ${versionTag(version)} ${'cd'.repeat(20)}\n`);
  };
  put('core-x86_64', 'glibc', '2.36-3');
  put('core-staging-x86_64', 'glibc', '2.38-1');
  put('core-testing-x86_64', 'glibc', '2.37-1');
  const config = {
    upstreamArch: 'x86_64',
    upstreamRepos: [{ name: 'core' }],
    upstreamTestingRepos: [{ name: 'core-testing' }],
  };
  assert.equal(parseStateRepo(root, stateParseOptions(config)).get('glibc')?.version, '2.36-3');
  assert.equal(parseStateRepo(root, stateParseOptions(config, true)).get('glibc')?.version, '2.37-1', 'staging never, testing when enabled');
});
