/**
 * arch=(any) packages built once for every architecture (packaging/any-package.ts, plugin/targets.ts), end to end
 * with real Nx, bubblewrap, makepkg, repo-add, pacman and qemu-user: built natively in the x86_64 run, restored
 * from Nx's cache in the aarch64 run and placed (no build, no emulation), while an aarch64 package that
 * depends on it installs it from dist/aarch64/repo/ in its (emulated) build. The opt-out gives the ordinary target.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCommand } from '../helpers/env';
import { ensureRootfs, rootfsPath } from '../helpers/rootfs';
import { createWorkspace, type Workspace } from '../helpers/build-workspace';

function prerequisites(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (bubblewrap roots, overlay mounts)';
  for (const cmd of ['bwrap', 'repo-add', 'bsdtar', 'unshare']) if (!hasCommand(cmd)) return `${cmd} is not installed`;
  if (!existsSync('/proc/sys/fs/binfmt_misc/qemu-aarch64')) return 'qemu-aarch64 is not registered in binfmt_misc';
  return undefined;
}

const ANY_DATA = `pkgname=any-data
pkgver=1.0
pkgrel=1
pkgdesc='architecture-independent data'
arch=(any)
license=(0BSD)
build() {
  # the machine the one build ran on, for the test to read back
  uname -m > built-on
}
package() {
  install -Dm644 built-on "$pkgdir/usr/share/any-data/built-on"
}
`;

/** an architecture-specific package that needs any-data installed (from the workspace repository) to build */
const DATA_USER = `pkgname=data-user
pkgver=1.0
pkgrel=1
pkgdesc='uses any-data'
arch=(x86_64 aarch64)
license=(0BSD)
depends=(any-data)
build() {
  echo "any-data built on $(cat /usr/share/any-data/built-on), installed on $(uname -m)" > seen
}
package() {
  install -Dm644 seen "$pkgdir/usr/share/data-user/seen"
}
`;

const ROOTFS_OPTIONS = { backend: 'rootfs', rootfs: rootfsPath('{arch}') };

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

function packageIn(ws: Workspace, dir: string): string {
  const d = join(ws.dir, dir);
  const f = readdirSync(d).find((n) => n.includes('.pkg.tar.'));
  assert.ok(f, `no package in ${d}`);
  return join(d, f);
}

function summary(ws: Workspace): { built: { project: string; target: string; configuration?: string }[]; restored: { project: string; target: string; configuration?: string }[] } {
  return JSON.parse(readFileSync(join(ws.dir, 'dist', 'summary.json'), 'utf8'));
}

const ids = (entries: { project: string; target: string; configuration?: string }[]): string[] => entries.map((e) => `${e.project}:${e.target}:${e.configuration}`).sort();

const skip = prerequisites();
const workspaces: string[] = [];
after(() => {
  if (!process.env.PKGNX_KEEP_TEST_WS) for (const d of workspaces) rmSync(d, { recursive: true, force: true });
});

describe('arch=(any) packages built once', { skip }, () => {
  test('built natively once, restored for aarch64 without emulation; the aarch64 dependent installs it from dist/aarch64/repo', (t) => {
    const x = ensureRootfs('x86_64');
    const a = ensureRootfs('aarch64');
    if (!x.root || !a.root) return t.skip(x.skipReason ?? a.skipReason);
    const ws = createWorkspace({ x86_64: x.root, aarch64: a.root }, { 'any-data': { PKGBUILD: ANY_DATA }, 'data-user': { PKGBUILD: DATA_USER } }, ROOTFS_OPTIONS);
    workspaces.push(ws.dir);

    const first = ws.nx(['run-many', '-t', 'build', '-c', 'x86_64', '--outputStyle=static'], 900_000);
    assert.equal(first.status, 0, first.output);
    assert.deepEqual(ids(summary(ws).built), ['any-data:build-any:any', 'any-data:build:x86_64', 'data-user:build:x86_64']);
    const once = packageIn(ws, 'dist/any/any-data');
    assert.match(once, /any-data-1\.0-1-any\.pkg\.tar\.zst$/);
    const built = readFileSync(join(ws.dir, 'dist/any/any-data/build.log'), 'utf8');
    assert.match(built, /built once for every architecture, natively on x86_64/);
    assert.doesNotMatch(built, /qemu/i);
    const onceHash = sha256(once);

    const second = ws.nx(['run-many', '-t', 'build', '-c', 'aarch64', '--outputStyle=static'], 900_000);
    assert.equal(second.status, 0, second.output);
    const s = summary(ws);
    // the one build is not run again: Nx restores it (same hash in both runs); only the placement and the dependent run
    assert.deepEqual(ids(s.restored), ['any-data:build-any:any']);
    assert.deepEqual(ids(s.built), ['any-data:build:aarch64', 'data-user:build:aarch64']);
    assert.match(second.output, /any-data:build-any.*\[local cache\]|Nx read the output from the cache instead of running the command for 1 out of 3 tasks/s);

    // the aarch64 placement: the very file the x86_64 run built (hard link), no build, no emulation
    const placed = packageIn(ws, 'dist/aarch64/any-data');
    assert.equal(sha256(placed), onceHash);
    assert.equal(statSync(placed).ino, statSync(packageIn(ws, 'dist/any/any-data')).ino, 'hard-linked from dist/any/');
    const placeLog = readFileSync(join(ws.dir, 'dist/aarch64/any-data/build.log'), 'utf8');
    assert.match(placeLog, /placing the packages built once for every architecture .*no build, no emulation/);
    assert.doesNotMatch(placeLog.split('==> pkgnx: the build, from')[0], /qemu|bwrap|makepkg/);
    // logs: one build (any), two placements; no aarch64 build of any-data
    const logs = readdirSync(join(ws.dir, 'logs', 'any-data')).sort();
    assert.deepEqual(logs.map((l) => l.replace(/^.*-(\w+)\.log$/, '$1')).sort(), ['aarch64', 'any', 'x86_64'], logs.join(' '));

    // the dependent, built for aarch64 under qemu, installed any-data from the aarch64 workspace repository
    const repoDb = join(ws.dir, 'dist/aarch64/repo');
    assert.ok(readdirSync(repoDb).some((n) => /^any-data-1\.0-1-any\.pkg\.tar\.zst$/.test(n)), readdirSync(repoDb).join(' '));
    const userLog = readFileSync(join(ws.dir, 'dist/aarch64/data-user/build.log'), 'utf8');
    assert.match(userLog, /any-data: from pkgnx-workspace\/any-data/);
    assert.match(userLog, /installing any-data/);
    const user = packageIn(ws, 'dist/aarch64/data-user');
    assert.match(user, /-aarch64\.pkg\.tar\.zst$/);
    const seen = execFileSync('bsdtar', ['-xOf', user, 'usr/share/data-user/seen'], { encoding: 'utf8' }).trim();
    assert.equal(seen, 'any-data built on x86_64, installed on aarch64');
  });

  test('shareAny false in the project.json gives the ordinary per-architecture target; a dry run of a shared one changes nothing', (t) => {
    const x = ensureRootfs('x86_64');
    const a = ensureRootfs('aarch64');
    if (!x.root || !a.root) return t.skip(x.skipReason ?? a.skipReason);
    const ws = createWorkspace({ x86_64: x.root, aarch64: a.root }, { 'any-data': { PKGBUILD: ANY_DATA }, 'any-own': { PKGBUILD: ANY_DATA.replace(/any-data/g, 'any-own'), 'project.json': JSON.stringify({ targets: { build: { options: { shareAny: false } } } }) } }, ROOTFS_OPTIONS);
    workspaces.push(ws.dir);
    const show = (p: string): { targets: Record<string, { dependsOn?: unknown[]; outputs?: string[] }> } => {
      const r = ws.nx(['show', 'project', p, '--json']);
      assert.equal(r.status, 0, r.output);
      return JSON.parse(r.output.slice(r.output.indexOf('{')));
    };
    const shared = show('any-data');
    assert.deepEqual(Object.keys(shared.targets).sort(), ['build', 'build-any', 'publish']);
    assert.deepEqual(shared.targets['build-any'].outputs, ['{workspaceRoot}/dist/any/any-data']);
    // a dry run reaches the one build too (its parameters are forwarded) and changes nothing
    const dry = ws.nx(['run', 'any-data:build', '--dryRun', '--skip-nx-cache', '--outputStyle=static']);
    assert.equal(dry.status, 0, dry.output);
    assert.match(dry.output, /dry run: any-data for any on x86_64 with the rootfs backend/);
    assert.match(dry.output, /built once for every architecture, natively on x86_64/);
    assert.match(dry.output, /dry run: any-data for x86_64: place the packages built once in .*dist\/any\/any-data/);
    assert.ok(!existsSync(join(ws.dir, 'dist', 'any')) && !existsSync(join(ws.dir, 'dist', 'x86_64', 'any-data')), 'nothing built or placed');
    const own = show('any-own');
    assert.deepEqual(Object.keys(own.targets).sort(), ['build', 'publish']);
    assert.deepEqual(own.targets.build.dependsOn, ['^build']);
  });
});
