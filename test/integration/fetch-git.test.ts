/**
 * The fetch module against local bare repositories standing in for Arch's GitLab and the AUR.
 * Every git invocation is counted through the runner's observer.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tree } from '@nx/devkit';
import { fetchPackages, removeStaleTempClones, TEMP_DIR_NAME, type FetchOptions, type FetchRequest, type FetchResult } from '../../tools/src/fetch';
import { fetchIntoTree } from '../../tools/generators/aur/import-checkouts';
import { checkoutGit, checkoutGitDir, createFixtureHost, git, tempDir, type FixtureHost } from '../helpers/git-fixtures';

let host: FixtureHost;
let aur: FixtureHost;

before(() => {
  host = createFixtureHost('pkgnx-gitlab-');
  aur = createFixtureHost('pkgnx-aur-');
  host.publish('vim', 'vim', [{ version: '9.1.1730-1' }, { version: '9.1.1734-1' }, { version: '9.1.1735-1', tag: false }]);
  // GitLab path of `libc++` is `libcplusplus`
  host.publish('libcplusplus', 'libc++', [{ version: '19.1.0-1' }]);
  host.publish('tilde', 'tilde', [{ version: '2:1.0~rc1-1' }]);
  aur.publish('yay', 'yay', [{ version: '12.0.0-1', tag: false }, { version: '12.1.0-1', tag: false }], 'master');
});
const workspaces: string[] = [];
after(() => {
  host.cleanup();
  aur.cleanup();
  for (const w of workspaces) rmSync(w, { recursive: true, force: true });
});

function setup(extra: Partial<FetchOptions> = {}): { options: FetchOptions; lines: string[]; gitCalls: string[][]; dir: string } {
  const dir = tempDir('pkgnx-ws-');
  workspaces.push(dir);
  const lines: string[] = [];
  const gitCalls: string[][] = [];
  const options: FetchOptions = {
    pkgbuildsDir: join(dir, 'pkgbuilds'),
    officialUrlTemplate: host.urlTemplate,
    aurUrlTemplate: aur.urlTemplate,
    log: (l) => lines.push(l),
    onGitCommand: (args) => gitCalls.push([...args]),
    ...extra,
  };
  return { options, lines, gitCalls, dir };
}

function one(results: FetchResult[]): FetchResult {
  assert.equal(results.length, 1);
  return results[0];
}

const vim = (version: string, extra: Partial<FetchRequest> = {}): FetchRequest => ({ pkgbase: 'vim', version, ...extra });

test('fetch new at a tag, then already up to date without any git command', async () => {
  const { options, lines, gitCalls } = setup();
  const r = one(await fetchPackages([vim('9.1.1730-1')], options));
  assert.equal(r.error, undefined);
  assert.equal(r.action, 'fetched');
  assert.equal(r.version, '9.1.1730-1');
  assert.deepEqual(lines, ['Processing vim (fetching 9.1.1730-1)...']);
  // the git metadata lives outside the package directory, which holds only the package files
  assert.ok(!existsSync(join(options.pkgbuildsDir, 'vim', '.git')));
  assert.ok(existsSync(join(checkoutGitDir(join(options.pkgbuildsDir, 'vim')), 'HEAD')));
  assert.ok(!existsSync(join(options.pkgbuildsDir, '..', '.pkgnx-fetch-tmp')), 'temp clone dir removed');

  gitCalls.length = 0;
  lines.length = 0;
  const again = one(await fetchPackages([vim('9.1.1730-1')], options));
  assert.equal(again.action, 'up-to-date');
  assert.deepEqual(lines, ['Processing vim (already up to date: 9.1.1730-1)...']);
  assert.deepEqual(gitCalls, [], 'no git at all when up to date');

  lines.length = 0;
  const upd = one(await fetchPackages([vim('9.1.1734-1')], options));
  assert.equal(upd.error, undefined);
  assert.equal(upd.action, 'updated');
  assert.equal(upd.version, '9.1.1734-1');
  assert.deepEqual(lines, ['Processing vim (updating 9.1.1730-1 -> 9.1.1734-1)...']);

  lines.length = 0;
  gitCalls.length = 0;
  const no = one(await fetchPackages([vim('9.1.1735-1')], { ...options, noUpdate: true }));
  assert.equal(no.action, 'up-to-date');
  assert.deepEqual(lines, ['Processing vim (no update, current: 9.1.1734-1)...']);
  assert.deepEqual(gitCalls, []);

  lines.length = 0;
  const latest = one(await fetchPackages([vim('9.1.1734-1', { useLatest: true })], options));
  assert.equal(latest.error, undefined);
  assert.equal(latest.version, '9.1.1735-1');
  assert.deepEqual(lines, ['Processing vim (updating to latest commit)...']);
  // HTTPS/file URL kept as given: never rewritten to SSH
  assert.equal(checkoutGit(join(options.pkgbuildsDir, 'vim'), 'remote', 'get-url', 'origin').trim(), host.urlTemplate.replace('{pkgbase}', 'vim'));
});

test('use-latest on a new package clones the default branch head', async () => {
  const { options, lines } = setup();
  const r = one(await fetchPackages([{ pkgbase: 'vim', useLatest: true }], options));
  assert.equal(r.version, '9.1.1735-1');
  assert.deepEqual(lines, ['Processing vim (fetching latest commit)...']);
});

test('AUR fetch: latest commit, then update', async () => {
  const { options, lines } = setup();
  const r = one(await fetchPackages([{ pkgbase: 'yay', source: 'aur' }], options));
  assert.equal(r.error, undefined);
  assert.equal(r.version, '12.1.0-1');
  assert.deepEqual(lines, ['Processing yay (fetching from AUR)...']);
  aur.publish('yay', 'yay', [{ version: '12.2.0-1', tag: false }], 'master');
  lines.length = 0;
  const u = one(await fetchPackages([{ pkgbase: 'yay', source: 'aur' }], options));
  assert.equal(u.error, undefined);
  assert.equal(u.version, '12.2.0-1');
  assert.deepEqual(lines, ['Processing yay (updating to latest commit)...']);
  // with the AUR's version known (RPC), an up-to-date checkout runs no git
  lines.length = 0;
  const same = one(await fetchPackages([{ pkgbase: 'yay', source: 'aur', version: '12.2.0-1' }], options));
  assert.equal(same.action, 'up-to-date');
});

test('override URL and branch', async () => {
  const fork = createFixtureHost('pkgnx-fork-');
  try {
    fork.publish('myvim', 'vim', [{ version: '9.1.2000-1', tag: false }], 'port');
    const { options } = setup({ overrides: { vim: { url: `file://${fork.root}/myvim.git`, branch: 'port' } } });
    const r = one(await fetchPackages([vim('9.1.1734-1')], options));
    assert.equal(r.error, undefined);
    assert.equal(r.version, '9.1.2000-1');
    fork.publish('myvim', 'vim', [{ version: '9.1.2001-1', tag: false }], 'port');
    const u = one(await fetchPackages([vim('9.1.1734-1')], options));
    assert.equal(u.error, undefined);
    assert.equal(u.version, '9.1.2001-1');
    assert.equal(checkoutGit(join(options.pkgbuildsDir, 'vim'), 'rev-parse', '--abbrev-ref', 'HEAD').trim(), 'port');
  } finally {
    fork.cleanup();
  }
});

test('++ in a pkgbase maps to the GitLab path; ~ and : are normalised in tags', async () => {
  const { options } = setup();
  const results = await fetchPackages([{ pkgbase: 'libc++', version: '19.1.0-1' }, { pkgbase: 'tilde', version: '2:1.0~rc1-1' }], options);
  for (const r of results) assert.equal(r.error, undefined);
  assert.equal(results[0].version, '19.1.0-1');
  assert.ok(existsSync(join(options.pkgbuildsDir, 'libc++', 'PKGBUILD')));
  assert.equal(results[1].version, '2:1.0~rc1-1');
  assert.equal(checkoutGit(join(options.pkgbuildsDir, 'tilde'), 'describe', '--tags').trim(), '2-1.0.rc1-1');
});

test('missing tag: clear failure and nothing written', async () => {
  const { options } = setup();
  const r = one(await fetchPackages([vim('9.9.9-1')], options));
  assert.equal(r.action, 'failed');
  assert.match(r.error ?? '', /vim: none of the refs 9\.9\.9-1/);
  assert.ok(!existsSync(join(options.pkgbuildsDir, 'vim')));
  assert.deepEqual(readdirSync(options.pkgbuildsDir), []);
});

test('a failed clone leaves no pkgbuilds/<pkgbase> and no temp dir', async () => {
  const { options } = setup();
  const r = one(await fetchPackages([{ pkgbase: 'nonexistent', version: '1-1' }], options));
  assert.equal(r.action, 'failed');
  assert.match(r.error ?? '', /nonexistent: git clone/);
  assert.deepEqual(readdirSync(options.pkgbuildsDir), []);
});

test('stale temp clones of dead processes are removed; the target never exists half-written', async () => {
  const { options } = setup();
  const stale = join(options.pkgbuildsDir, '..', '.pkgnx-fetch-tmp', 'vim.999999999.0');
  mkdirSync(stale, { recursive: true });
  writeFileSync(join(stale, 'PKGBUILD'), 'half');
  await fetchPackages([vim('9.1.1730-1')], options);
  assert.ok(!existsSync(stale));
  assert.ok(!existsSync(join(options.pkgbuildsDir, '..', '.pkgnx-fetch-tmp')));
});

test('dirty tree is refused by default, naming the files; --stash keeps the edits', async () => {
  const { options, lines } = setup();
  await fetchPackages([vim('9.1.1730-1')], options);
  const dir = join(options.pkgbuildsDir, 'vim');
  writeFileSync(join(dir, 'extra.txt'), 'untracked is fine\n');
  checkoutGit(dir, 'add', 'extra.txt');
  const r = one(await fetchPackages([vim('9.1.1734-1')], options));
  assert.equal(r.action, 'failed');
  assert.match(r.error ?? '', /uncommitted changes in .*vim\/extra\.txt.*--stash/);
  // says where the edits live (the checkout and its git dir) and how to keep them
  assert.match(r.error ?? '', /git dir .*\.pkgnx\/git\/vim\.git/);
  assert.match(r.error ?? '', /the edits are in the checkout .*\/pkgbuilds\/vim, .*to keep them across the update re-run with --stash/);
  assert.equal(readFileSync(join(dir, '.SRCINFO'), 'utf8').includes('9.1.1730'), true, 'not updated');

  lines.length = 0;
  const s = one(await fetchPackages([vim('9.1.1734-1')], { ...options, stash: true }));
  assert.equal(s.error, undefined);
  assert.equal(s.version, '9.1.1734-1');
  assert.equal(readFileSync(join(dir, 'extra.txt'), 'utf8'), 'untracked is fine\n');
  assert.equal(checkoutGit(dir, 'stash', 'list').trim(), '');
});

test('--stash with a conflicting edit restores the previous state and reports', async () => {
  const { options } = setup();
  await fetchPackages([vim('9.1.1730-1')], options);
  const dir = join(options.pkgbuildsDir, 'vim');
  const before = readFileSync(join(dir, 'PKGBUILD'), 'utf8');
  const edited = before.replace('pkgver=9.1.1730', 'pkgver=9.1.1730.local');
  writeFileSync(join(dir, 'PKGBUILD'), edited);
  const headBefore = checkoutGit(dir, 'rev-parse', 'HEAD').trim();
  const r = one(await fetchPackages([vim('9.1.1734-1')], { ...options, stash: true }));
  assert.equal(r.action, 'failed');
  assert.match(r.error ?? '', /conflict with the update in PKGBUILD; restored the previous state \(9\.1\.1730-1\)/);
  assert.equal(checkoutGit(dir, 'rev-parse', 'HEAD').trim(), headBefore);
  assert.equal(readFileSync(join(dir, 'PKGBUILD'), 'utf8'), edited, 'the edit is back');
  assert.equal(checkoutGit(dir, 'diff', '--name-only', '--diff-filter=U').trim(), '', 'no half-merged files');
  assert.equal(checkoutGit(dir, 'stash', 'list').trim(), '');
});

const OVERLAY = ['--- PKGBUILD', '+++ PKGBUILD', '@@ -6,3 +6,3 @@', " arch=('x86_64')", " license=('MIT')", "-depends=('glibc')", "+depends=('glibc' 'riscv-support')", ''].join('\n');

test('overlay patch in the checkout: applied after update, kept, re-applied; git status ignores it', async () => {
  const { options, gitCalls } = setup({ carch: 'riscv64' });
  await fetchPackages([vim('9.1.1730-1')], options);
  const dir = join(options.pkgbuildsDir, 'vim');
  writeFileSync(join(dir, 'riscv64.patch'), OVERLAY);
  // up to date, overlay not yet applied: applied without any git command
  gitCalls.length = 0;
  const r = one(await fetchPackages([vim('9.1.1730-1')], options));
  assert.equal(r.overlay?.status, 'applied');
  assert.deepEqual(gitCalls, []);
  assert.match(readFileSync(join(dir, 'PKGBUILD'), 'utf8'), /riscv-support/);
  // again: already in place, nothing happens
  const again = one(await fetchPackages([vim('9.1.1730-1')], options));
  assert.equal(again.overlay?.status, 'unchanged');
  // update: our own modification is not "dirty", the patch survives the checkout and is re-applied
  const u = one(await fetchPackages([vim('9.1.1734-1')], options));
  assert.equal(u.error, undefined);
  assert.equal(u.overlay?.status, 'applied');
  assert.equal(u.version, '9.1.1734-1');
  assert.ok(existsSync(join(dir, 'riscv64.patch')));
  assert.match(readFileSync(join(dir, 'PKGBUILD'), 'utf8'), /riscv-support/);
  assert.doesNotMatch(checkoutGit(dir, 'status', '--porcelain'), /riscv64\.patch/);
});

test('overlay from overlays/<arch>/<pkgbase>.patch is applied to a fresh clone', async () => {
  const { options, dir: ws } = setup({ carch: 'riscv64' });
  const overlaysDir = join(ws, 'overlays');
  mkdirSync(join(overlaysDir, 'riscv64'), { recursive: true });
  writeFileSync(join(overlaysDir, 'riscv64', 'vim.patch'), OVERLAY);
  const r = one(await fetchPackages([vim('9.1.1730-1')], { ...options, overlaysDir }));
  assert.equal(r.overlay?.status, 'applied');
  assert.match(readFileSync(join(options.pkgbuildsDir, 'vim', 'PKGBUILD'), 'utf8'), /riscv-support/);
});

test('an overlay that no longer applies is reported; the tree is clean upstream, the patch kept', async () => {
  const { options } = setup({ carch: 'riscv64' });
  host.publish('rotten', 'rotten', [{ version: '1.0-1' }, { version: '2.0-1', extra: '# upstream moved things' }]);
  await fetchPackages([{ pkgbase: 'rotten', version: '1.0-1' }], options);
  const dir = join(options.pkgbuildsDir, 'rotten');
  const patch = ['--- PKGBUILD', '+++ PKGBUILD', '@@ -8,2 +8,2 @@', "-depends=('glibc')", "-", "+depends=('glibc' 'x')", "+", ''].join('\n');
  writeFileSync(join(dir, 'riscv64.patch'), patch);
  const first = one(await fetchPackages([{ pkgbase: 'rotten', version: '1.0-1' }], options));
  assert.equal(first.overlay?.status, 'applied', first.error);
  const r = one(await fetchPackages([{ pkgbase: 'rotten', version: '2.0-1' }], options));
  assert.equal(r.version, '2.0-1');
  assert.equal(r.overlay?.status, 'failed');
  assert.match(r.error ?? '', /rotten: overlay .*riscv64\.patch no longer applies: PKGBUILD hunk #1 @@ -8,2 \+8,2 @@/);
  assert.equal(checkoutGit(dir, 'status', '--porcelain', '--untracked-files=no').trim(), '', 'clean upstream state');
  assert.ok(existsSync(join(dir, 'riscv64.patch')));
  assert.ok(!existsSync(join(dir, 'PKGBUILD.rej')) && !existsSync(join(dir, 'PKGBUILD.orig')));
});

test('dry run: no git, no files, the same lines', async () => {
  const { options, lines, gitCalls } = setup({ dryRun: true });
  const results = await fetchPackages([vim('9.1.1730-1'), { pkgbase: 'yay', source: 'aur' }], options);
  assert.deepEqual(lines, ['Processing vim (fetching 9.1.1730-1)...', 'Processing yay (fetching from AUR)...']);
  assert.deepEqual(gitCalls, []);
  assert.ok(!existsSync(options.pkgbuildsDir));
  assert.ok(results.every((r) => r.action === 'dry-run'));
});

test('local packages and plain directories: no git at all', async () => {
  const { options, lines, gitCalls } = setup();
  mkdirSync(join(options.pkgbuildsDir, 'mine'), { recursive: true });
  // a .SRCINFO as makepkg writes it (read with the one .SRCINFO parser, which needs the pkgname section)
  writeFileSync(join(options.pkgbuildsDir, 'mine', '.SRCINFO'), 'pkgbase = mine\n\tpkgver = 1\n\tpkgrel = 1\n\tarch = any\n\npkgname = mine\n');
  const r = await fetchPackages([{ pkgbase: 'mine', source: 'local' }, { pkgbase: 'mine2', source: 'local' }], options);
  assert.equal(r[0].action, 'local');
  assert.equal(r[1].action, 'failed');
  assert.deepEqual(lines.sort(), ['Processing mine (local package, current: 1-1)...', 'Processing mine2 (local package, missing)...']);
  assert.deepEqual(gitCalls, []);
});

test('bounded parallelism fetches several packages', async () => {
  const { options } = setup({ jobs: 2 });
  const r = await fetchPackages([vim('9.1.1734-1'), { pkgbase: 'libc++', version: '19.1.0-1' }, { pkgbase: 'yay', source: 'aur' }], options);
  assert.deepEqual(r.map((x) => [x.pkgbase, x.action, x.error]), [
    ['vim', 'fetched', undefined],
    ['libc++', 'fetched', undefined],
    ['yay', 'fetched', undefined],
  ]);
});

test('no nested repository: the workspace repository sees and can commit the fetched files', async () => {
  const { options, dir: ws } = setup();
  writeFileSync(join(ws, '.gitignore'), '.pkgnx/\n.pkgnx-fetch-tmp/\n');
  git(ws, 'init', '-q', '-b', 'main');
  git(ws, 'add', '-A');
  git(ws, 'commit', '-q', '-m', 'init');
  const r = one(await fetchPackages([vim('9.1.1730-1')], options));
  assert.equal(r.error, undefined);
  const pkg = join(options.pkgbuildsDir, 'vim');
  assert.ok(!existsSync(join(pkg, '.git')), 'pkgbuilds/vim/.git does not exist');
  // listed file by file (a nested repository would show as one `pkgbuilds/vim/` entry, or a gitlink)
  const status = git(ws, 'status', '--porcelain', '--untracked-files=all').split('\n').filter(Boolean).sort();
  assert.deepEqual(status, ['?? pkgbuilds/vim/.SRCINFO', '?? pkgbuilds/vim/PKGBUILD']);
  git(ws, 'add', 'pkgbuilds');
  git(ws, 'commit', '-q', '-m', 'vim 9.1.1730-1');
  assert.deepEqual(git(ws, 'ls-files', 'pkgbuilds').split('\n').filter(Boolean).sort(), ['pkgbuilds/vim/.SRCINFO', 'pkgbuilds/vim/PKGBUILD']);

  // an update is a plain modification in the workspace repository; the checkout itself stays clean
  const u = one(await fetchPackages([vim('9.1.1734-1')], options));
  assert.equal(u.error, undefined);
  assert.deepEqual(git(ws, 'diff', '--name-only').split('\n').filter(Boolean).sort(), ['pkgbuilds/vim/.SRCINFO', 'pkgbuilds/vim/PKGBUILD']);
  assert.equal(checkoutGit(pkg, 'status', '--porcelain').trim(), '');
  // the checkout's repository never saw the workspace's commits, nor the workspace its
  assert.equal(git(ws, 'log', '--format=%s', '-1').trim(), 'vim 9.1.1730-1');
});

test('a legacy nested .git is moved to .pkgnx/git on the next fetch; a dry run leaves it', async () => {
  const { options, dir: ws, gitCalls } = setup();
  const pkg = join(options.pkgbuildsDir, 'vim');
  mkdirSync(options.pkgbuildsDir, { recursive: true });
  // what the previous fetch code made: a plain clone inside pkgbuilds/
  git(options.pkgbuildsDir, 'clone', '-q', host.urlTemplate.replace('{pkgbase}', 'vim'), 'vim');
  git(pkg, '-c', 'advice.detachedHead=false', 'checkout', '-q', '9.1.1730-1');
  writeFileSync(join(pkg, 'PKGBUILD'), readFileSync(join(pkg, 'PKGBUILD'), 'utf8').replace("license=('MIT')", "license=('MIT') # local"));

  await fetchPackages([vim('9.1.1734-1')], { ...options, dryRun: true });
  assert.deepEqual(gitCalls, []);
  assert.ok(existsSync(join(pkg, '.git', 'HEAD')), 'dry run: untouched');

  // migrated, and the user's edit is still seen as dirty against the upstream checkout
  const dirty = one(await fetchPackages([vim('9.1.1734-1')], options));
  assert.equal(dirty.action, 'failed');
  assert.match(dirty.error ?? '', /uncommitted changes in .*vim\/PKGBUILD/);
  assert.ok(!existsSync(join(pkg, '.git')));
  assert.ok(existsSync(join(ws, '.pkgnx', 'git', 'vim.git', 'HEAD')));

  const s = one(await fetchPackages([vim('9.1.1734-1')], { ...options, stash: true }));
  assert.equal(s.error, undefined);
  assert.equal(s.version, '9.1.1734-1');
  assert.match(readFileSync(join(pkg, 'PKGBUILD'), 'utf8'), /# local/);
  assert.equal(checkoutGit(pkg, 'describe', '--tags').trim(), '9.1.1734-1');
});

test('a git dir left without its package directory (interrupted clone) is replaced', async () => {
  const { options, dir: ws } = setup();
  const stale = join(ws, '.pkgnx', 'git', 'vim.git');
  mkdirSync(stale, { recursive: true });
  writeFileSync(join(stale, 'HEAD'), 'garbage\n');
  const r = one(await fetchPackages([vim('9.1.1730-1')], options));
  assert.equal(r.error, undefined);
  assert.equal(r.action, 'fetched');
  assert.equal(checkoutGit(join(options.pkgbuildsDir, 'vim'), 'describe', '--tags').trim(), '9.1.1730-1');
});

test('commits made in a checkout (detached HEAD or override branch) are refused, never dropped', async () => {
  const { options } = setup();
  await fetchPackages([vim('9.1.1730-1')], options);
  const dir = join(options.pkgbuildsDir, 'vim');
  writeFileSync(join(dir, 'PKGBUILD'), `${readFileSync(join(dir, 'PKGBUILD'), 'utf8')}# port fix\n`);
  checkoutGit(dir, 'commit', '-q', '-am', 'port: my local fix');
  const mine = checkoutGit(dir, 'rev-parse', 'HEAD').trim();
  const r = one(await fetchPackages([vim('9.1.1734-1')], options));
  assert.equal(r.action, 'failed');
  assert.match(r.error ?? '', new RegExp(`^vim: 1 local commit\\(s\\) in the checkout \\(git dir .*\\.pkgnx/git/vim\\.git\\).*${mine.slice(0, 7)}[0-9a-f]* port: my local fix.*format-patch`));
  assert.equal(checkoutGit(dir, 'rev-parse', 'HEAD').trim(), mine, 'the commit is still checked out');
  assert.match(readFileSync(join(dir, 'PKGBUILD'), 'utf8'), /# port fix/);

  const fork = createFixtureHost('pkgnx-fork-');
  try {
    fork.publish('myvim', 'vim', [{ version: '9.1.2000-1', tag: false }], 'port');
    const o = setup({ overrides: { vim: { url: `file://${fork.root}/myvim.git`, branch: 'port' } } });
    await fetchPackages([vim('9.1.1734-1')], o.options);
    const odir = join(o.options.pkgbuildsDir, 'vim');
    writeFileSync(join(odir, 'notes'), 'mine\n');
    checkoutGit(odir, 'add', 'notes');
    checkoutGit(odir, 'commit', '-q', '-m', 'notes on the override branch');
    fork.publish('myvim', 'vim', [{ version: '9.1.2001-1', tag: false }], 'port');
    const u = one(await fetchPackages([vim('9.1.1734-1')], o.options));
    assert.equal(u.action, 'failed');
    assert.match(u.error ?? '', /local commit.*notes on the override branch/);
    assert.equal(readFileSync(join(odir, 'notes'), 'utf8'), 'mine\n');
  } finally {
    fork.cleanup();
  }
});

test('an overlay that creates a new file: later updates delete it and re-apply, and it is recorded', async () => {
  const { options } = setup({ carch: 'riscv64' });
  await fetchPackages([vim('9.1.1730-1')], options);
  const dir = join(options.pkgbuildsDir, 'vim');
  const patch = [OVERLAY, '--- /dev/null', '+++ riscv64-fix.sh', '@@ -0,0 +1 @@', '+echo fix', ''].join('\n').replace('\n\n---', '\n---');
  writeFileSync(join(dir, 'riscv64.patch'), patch);
  const a = one(await fetchPackages([vim('9.1.1730-1')], options));
  assert.equal(a.overlay?.status, 'applied', a.error);
  assert.equal(readFileSync(join(dir, 'riscv64-fix.sh'), 'utf8'), 'echo fix\n');
  const state = JSON.parse(readFileSync(join(checkoutGitDir(dir), 'pkgnx-overlay.json'), 'utf8'));
  assert.deepEqual(state.created, ['riscv64-fix.sh']);
  // a changed overlay in the up-to-date case: undone (created file deleted), then re-applied
  writeFileSync(join(dir, 'riscv64.patch'), `${patch}`.replace('+echo fix', '+echo fix2'));
  const b = one(await fetchPackages([vim('9.1.1730-1')], options));
  assert.equal(b.overlay?.status, 'applied', b.error);
  assert.equal(readFileSync(join(dir, 'riscv64-fix.sh'), 'utf8'), 'echo fix2\n');
  // an update
  const u = one(await fetchPackages([vim('9.1.1734-1')], options));
  assert.equal(u.error, undefined);
  assert.equal(u.version, '9.1.1734-1');
  assert.equal(u.overlay?.status, 'applied');
  assert.equal(readFileSync(join(dir, 'riscv64-fix.sh'), 'utf8'), 'echo fix2\n');
  // and another one: the file is not in HEAD, so it is deleted even without the record
  const rec = JSON.parse(readFileSync(join(checkoutGitDir(dir), 'pkgnx-overlay.json'), 'utf8'));
  delete rec.created;
  writeFileSync(join(checkoutGitDir(dir), 'pkgnx-overlay.json'), JSON.stringify(rec));
  const back = one(await fetchPackages([vim('9.1.1730-1')], options));
  assert.equal(back.error, undefined);
  assert.equal(back.version, '9.1.1730-1');
  assert.equal(checkoutGit(dir, 'status', '--porcelain', '--untracked-files=no').trim().split('\n').filter(Boolean).length, 1, 'only the overlay\'s PKGBUILD edit');
});

test('a state tag that does not belong to the requested version is not used', async () => {
  const { options } = setup();
  // a stale build list entry: version 9.1.1734-1 but the state tag/commit of 9.1.1730-1
  const r = one(await fetchPackages([vim('9.1.1734-1', { tag: '9.1.1730-1' })], options));
  assert.equal(r.error, undefined);
  assert.equal(r.version, '9.1.1734-1');
  // a matching tag is still used first
  const { options: o2 } = setup();
  const m = one(await fetchPackages([{ pkgbase: 'tilde', version: '2:1.0~rc1-1', tag: '2-1.0.rc1-1' }], o2));
  assert.equal(m.error, undefined);
  assert.equal(m.version, '2:1.0~rc1-1');
});

test('temp dir entries that are not <name>.<pid>.<n> of a dead process are left alone', async () => {
  const { options } = setup();
  const tmp = join(options.pkgbuildsDir, '..', '.pkgnx-fetch-tmp');
  const running = join(tmp, 'generator-abc123');
  const live = join(tmp, `generator.${process.pid}.7`);
  mkdirSync(running, { recursive: true });
  mkdirSync(live, { recursive: true });
  writeFileSync(join(running, 'x'), 'x');
  await fetchPackages([vim('9.1.1730-1')], options);
  assert.ok(existsSync(running), 'a name without .<pid>.<n> is not ours to remove');
  assert.ok(existsSync(live), "this process's entry that it does not track is left alone");
});

test('generator temp dirs: named <name>.<pid>.<n>, survive a fetch run, and a missing git dir fails the callback loudly', async () => {
  const root = tempDir('pkgnx-gen-');
  workspaces.push(root);
  const written = new Map<string, Buffer>();
  const tree = { root, write: (p: string, c: Buffer) => written.set(p, c) } as unknown as Tree;
  const { callback } = await fetchIntoTree(tree, 'pkgbuilds', [vim('9.1.1730-1')], { officialUrlTemplate: host.urlTemplate, log: () => undefined });
  assert.ok(written.has('pkgbuilds/vim/PKGBUILD'));
  const tmpRoot = join(root, TEMP_DIR_NAME);
  const entries = readdirSync(tmpRoot);
  assert.equal(entries.length, 1);
  assert.match(entries[0], new RegExp(`^generator\\.${process.pid}\\.\\d+$`));
  // a fetch run meanwhile (same process here; another process sees a live pid) leaves it alone
  assert.deepEqual(removeStaleTempClones(tmpRoot), []);
  assert.ok(existsSync(join(tmpRoot, entries[0], 'git', 'vim.git')));
  rmSync(join(tmpRoot, entries[0], 'git', 'vim.git'), { recursive: true, force: true });
  assert.throws(() => callback(), /git dir\(s\) of vim disappeared .*delete pkgbuilds\/vim and run the generator again/);
  assert.ok(!existsSync(tmpRoot), 'temp dir cleaned up');
});
