// Package directories that neither Nx nor pkgnx load are named, and Nx and the pkgnx CLI agree on them:
// a symbolic link to a package outside the workspace (Nx ignores it; the CLI used to source it), and a directory
// the user cannot read (Nx skips it without a word).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTempWorkspace, NX_TEST_ENV, simplePkgbuild } from '../helpers/nx-workspace';
import { BUILD_USER, WORKSPACE_ROOT, hasCommand } from '../helpers/env';

const PKGNX = join(WORKSPACE_ROOT, 'tools', 'bin', 'pkgnx.ts');

/** `npx pkgnx <args>` in `root`, optionally as the build user */
function pkgnx(root: string, args: string[], asUser?: string): { status: number; out: string } {
  const argv = ['--require', '@swc-node/register', PKGNX, ...args];
  const env = { ...process.env, SWC_NODE_PROJECT: join(WORKSPACE_ROOT, 'tsconfig.json') };
  const r = asUser
    ? spawnSync('runuser', ['-u', asUser, '--', 'env', `SWC_NODE_PROJECT=${env.SWC_NODE_PROJECT}`, `HOME=${root}`, process.execPath, ...argv], { cwd: root, encoding: 'utf8' })
    : spawnSync(process.execPath, argv, { cwd: root, encoding: 'utf8', env });
  return { status: r.status ?? 1, out: `${r.stdout}${r.stderr}` };
}

test('a package directory that is a symbolic link to outside the workspace: neither Nx nor pkgnx graph loads it, both name it', { skip: hasCommand('bwrap') ? false : 'bwrap not installed', timeout: 300_000 }, () => {
  const outside = mkdtempSync(join(tmpdir(), 'pkgnx-outside-'));
  mkdirSync(join(outside, 'evil'));
  writeFileSync(join(outside, 'evil', 'PKGBUILD'), simplePkgbuild('evil'));
  const ws = makeTempWorkspace({ pkgbuilds: { 'pkgbuilds/good/PKGBUILD': simplePkgbuild('good') } });
  symlinkSync(join(outside, 'evil'), join(ws.root, 'pkgbuilds', 'evil'));
  try {
    const shown = ws.nx(['show', 'projects']);
    assert.equal(shown.status, 0, shown.stderr);
    assert.deepEqual(shown.stdout.trim().split('\n'), ['good']);
    const warning = `pkgbuilds/evil: a symbolic link (to ${join(outside, 'evil')}), not loaded: Nx does not follow symbolic links`;
    assert.ok(shown.stderr.includes(warning), shown.stderr);

    const report = pkgnx(ws.root, ['graph', '--json']);
    assert.equal(report.status, 0, report.out);
    const json = JSON.parse(report.out.slice(report.out.indexOf('{'))) as { projects: string[]; notLoaded: string[]; errors: unknown[] };
    assert.deepEqual(json.projects, ['good'], 'the CLI does not source the linked PKGBUILD');
    assert.deepEqual(json.errors, []);
    assert.equal(json.notLoaded.length, 1);
    assert.ok(json.notLoaded[0].startsWith(warning), json.notLoaded[0]);
    assert.match(pkgnx(ws.root, ['graph']).out, /package directories not loaded \(1\):\n {2}- pkgbuilds\/evil: a symbolic link/);
  } finally {
    rmSync(outside, { recursive: true, force: true });
    rmSync(ws.root, { recursive: true, force: true });
  }
});

/** the build user runs this checkout's nx: a checkout in a directory only root can enter (mktemp -d) cannot be */
function buildUserReachesCheckout(): boolean {
  return spawnSync('runuser', ['-u', BUILD_USER, '--', 'test', '-x', join(WORKSPACE_ROOT, 'node_modules', '.bin', 'nx')]).status === 0;
}

test('an unreadable directory under pkgbuilds/ is named by Nx (plugin) and pkgnx graph, for a user who cannot read it', {
  skip: process.getuid?.() !== 0
    ? 'needs root to run as the build user'
    : !hasCommand('bwrap')
      ? 'bwrap not installed'
      : !buildUserReachesCheckout()
        ? `the build user ${BUILD_USER} cannot reach this checkout's node_modules (clone it where every user can traverse)`
        : false,
  timeout: 300_000,
}, () => {
  const ws = makeTempWorkspace({ pkgbuilds: { 'pkgbuilds/good/PKGBUILD': simplePkgbuild('good'), 'pkgbuilds/group/secret/PKGBUILD': simplePkgbuild('secret') } });
  try {
    spawnSync('chown', ['-R', BUILD_USER, ws.root]);
    chmodSync(ws.root, 0o755);
    chmodSync(join(ws.root, 'pkgbuilds', 'group'), 0o000);
    const env = Object.entries({ ...NX_TEST_ENV, HOME: ws.root }).map(([k, v]) => `${k}=${v}`);
    const r = spawnSync('runuser', ['-u', BUILD_USER, '--', 'env', ...env, join(WORKSPACE_ROOT, 'node_modules', '.bin', 'nx'), 'show', 'projects'], { cwd: ws.root, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['good']);
    assert.match(r.stderr, /pkgbuilds\/group: cannot be read by this user \(EACCES, uid \d+\): Nx skips unreadable directories without a word, so no PKGBUILD inside it is loaded/);
    const report = pkgnx(ws.root, ['graph'], BUILD_USER);
    assert.equal(report.status, 0, report.out);
    assert.match(report.out, /^good$/m);
    assert.match(report.out, /package directories not loaded \(1\):\n {2}- pkgbuilds\/group: cannot be read by this user/);
  } finally {
    chmodSync(join(ws.root, 'pkgbuilds', 'group'), 0o755);
    rmSync(ws.root, { recursive: true, force: true });
  }
});
