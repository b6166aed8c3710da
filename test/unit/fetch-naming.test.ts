import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { aurRepoUrl, gitlabProjectPath, isValidPkgbase, officialRepoUrl, versionToTag } from '../../tools/src/git/arch-repos';
import { readCheckoutVersion, versionFromSrcinfoText } from '../../tools/src/fetch/checkout-version';
import { patchTargets } from '../../tools/src/fetch/overlay';
import { mapPool } from '../../tools/src/fetch/pool';
import { tempDir } from '../helpers/git-fixtures';

test('GitLab project paths follow devtools rules', () => {
  assert.equal(gitlabProjectPath('libc++'), 'libcplusplus');
  assert.equal(gitlabProjectPath('libsigc++'), 'libsigcplusplus');
  assert.equal(gitlabProjectPath('dvd+rw-tools'), 'dvd-rw-tools');
  assert.equal(gitlabProjectPath('tree'), 'unix-tree');
  assert.equal(gitlabProjectPath('python-foo__bar'), 'python-foo-bar');
  assert.equal(gitlabProjectPath('vim'), 'vim');
  assert.equal(gitlabProjectPath('gtk2'), 'gtk2');
});

test('tags normalise : and ~', () => {
  assert.equal(versionToTag('9.1.1734-1'), '9.1.1734-1');
  assert.equal(versionToTag('1:2.0-3'), '1-2.0-3');
  assert.equal(versionToTag('2:1.0~rc1-2'), '2-1.0.rc1-2');
});

test('official URLs stay HTTPS and use the project path', () => {
  assert.equal(officialRepoUrl('libc++'), 'https://gitlab.archlinux.org/archlinux/packaging/packages/libcplusplus.git');
  assert.equal(officialRepoUrl('vim', 'file:///x/{pkgbase}.git'), 'file:///x/vim.git');
  assert.equal(aurRepoUrl('yay'), 'https://aur.archlinux.org/yay.git');
  assert.ok(!officialRepoUrl('vim').startsWith('git@'));
});

test('pkgbase validation keeps names usable as directories', () => {
  assert.ok(isValidPkgbase('libc++'));
  assert.ok(!isValidPkgbase('../x'));
  assert.ok(!isValidPkgbase('a/b'));
  assert.ok(!isValidPkgbase('-x'));
});

test('.SRCINFO version reading: pkgbase section only, epoch', async () => {
  const text = 'pkgbase = foo\n\tpkgver = 1.2\n\tpkgrel = 3\n\tepoch = 2\n\npkgname = foo\n\tpkgver = 9\n';
  assert.equal(versionFromSrcinfoText(text), '2:1.2-3');
  assert.equal(versionFromSrcinfoText('pkgbase = foo\n'), undefined);
  const d = tempDir();
  assert.equal(await readCheckoutVersion(d), undefined);
  writeFileSync(join(d, 'PKGBUILD'), 'pkgver=$(rm -rf /)\n');
  // no .SRCINFO: the workspace's metadata reader is asked; the PKGBUILD is never sourced here
  assert.equal(await readCheckoutVersion(d, async (dir) => (dir === d ? '7-1' : undefined)), '7-1');
  rmSync(d, { recursive: true, force: true });
});

test('patch targets', () => {
  assert.deepEqual(patchTargets('--- PKGBUILD\n+++ PKGBUILD\n@@ -1 +1 @@\n-a\n+b\n--- x.install\t2020\n+++ x.install\t2021\n'), ['PKGBUILD', 'x.install']);
});

test('mapPool bounds parallelism and keeps order', async () => {
  let inFlight = 0;
  let max = 0;
  const out = await mapPool([1, 2, 3, 4, 5, 6], 2, async (n) => {
    inFlight++;
    max = Math.max(max, inFlight);
    await new Promise((r) => setTimeout(r, 5));
    inFlight--;
    return n * 2;
  });
  assert.deepEqual(out, [2, 4, 6, 8, 10, 12]);
  assert.equal(max, 2);
});
