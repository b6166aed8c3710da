/**
 * The README's main job on this Debian machine after the set-up command: `nx run-many -t build` on the
 * example packages with the default backend (auto: devtools is absent, so the rootfs backend in the
 * root that scripts/setup.sh made).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, symlinkSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { makeTempWorkspace } from '../helpers/nx-workspace';
import { ensureRootfs } from '../helpers/rootfs';
import { WORKSPACE_ROOT, hasCommand } from '../helpers/env';

const root = ensureRootfs('x86_64');

test('the main job builds every example package in order, in clean copies, with the default backend', { skip: root.skipReason, timeout: 900_000 }, () => {
  const ws = makeTempWorkspace({ copyExamples: true, prefix: 'pkgnx-main-job-' });
  // the workspace's chroot-config/<arch>/rootfs points at .pkgnx/rootfs/<arch>, which setup.sh made
  mkdirSync(join(ws.root, '.pkgnx'), { recursive: true });
  symlinkSync(join(WORKSPACE_ROOT, '.pkgnx', 'rootfs'), join(ws.root, '.pkgnx', 'rootfs'));
  const r = ws.nx(['run-many', '-t', 'build', '--outputStyle=static']);
  const out = r.stdout + r.stderr;
  assert.equal(r.status, 0, out.slice(-6000));
  assert.equal(hasCommand('makechrootpkg'), false);
  assert.match(out, /backend rootfs: a root filesystem is configured/);

  const dist = join(ws.root, 'dist', 'x86_64');
  const expected = ['greet-utils', 'hello-cli', 'hello-fr', 'libhello', 'tap-fixtures', 'tap-runner'];
  for (const p of expected) assert.ok(readdirSync(join(dist, p)).some((f) => f.endsWith('.pkg.tar.zst')), `${p} has no package`);
  assert.deepEqual(readdirSync(join(dist, 'greet-utils')).filter((f) => f.endsWith('.pkg.tar.zst')).sort(), ['greet-utils-2.1-1-any.pkg.tar.zst', 'greet-utils-doc-2.1-1-any.pkg.tar.zst']);

  // hello-cli was compiled against libhello installed from the workspace repository
  const cliLog = readFileSync(join(dist, 'hello-cli', 'build.log'), 'utf8');
  assert.match(cliLog, /libhello>=1\.2: from pkgnx-workspace\/libhello/);
  const listing = execFileSync('bsdtar', ['-xOf', join(dist, 'hello-cli', 'hello-cli-1.0.0-1-x86_64.pkg.tar.zst'), 'usr/bin/hello']);
  assert.ok(listing.includes(Buffer.from('libhello.so.1')), 'hello links libhello.so.1');
  // tap-runner's checkdepends edge was cut to break the cycle: it builds with --nocheck
  assert.match(readFileSync(join(dist, 'tap-runner', 'build.log'), 'utf8'), /--nocheck/);
  // greet-utils' check() ran hello from hello-cli, with libhello pulled in as its runtime dependency
  assert.match(readFileSync(join(dist, 'greet-utils', 'build.log'), 'utf8'), /Starting check\(\)/);
  assert.match(readFileSync(join(dist, 'libhello', 'abi.json'), 'utf8'), /libhello\.so\.1/);

  const summary = JSON.parse(readFileSync(join(ws.root, 'dist', 'summary.json'), 'utf8')) as { counts: { built: number; failed: number } };
  // 6 projects; the four arch=(any) ones are two tasks each (the one build, the placement into x86_64)
  assert.equal(summary.counts.built, 10);
  assert.equal(summary.counts.failed, 0);
  assert.ok(existsSync(join(dist, 'repo', 'pkgnx-workspace.db')));
  assert.deepEqual(readdirSync(join(ws.root, '.pkgnx', 'chroots', 'x86_64')), [], 'no chroot copy is left behind');

  // the second run is all cache hits, and restored packages are back in the workspace repository
  const again = ws.nx(['run-many', '-t', 'build', '--outputStyle=static']);
  assert.equal(again.status, 0);
  assert.match(again.stdout, /Nx read the output from the cache instead of running the command for 10 out of 10 tasks/);
});
