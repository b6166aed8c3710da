import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { BuildRequest } from '../../tools/src/packaging/backends/backend';
import { hostBackend } from '../../tools/src/packaging/backends/host';
import { parseBuildOptions } from '../../tools/src/packaging/build-options';
import { rootfsBackend } from '../../tools/src/packaging/backends/rootfs';
import { pacmanConfWithRepos, workspaceBuildRepository } from '../../tools/src/packaging/backends/shared';
import { chooseBackend, sourceDateEpoch } from '../../tools/src/packaging/build-package';
import { metadataLoader } from '../../tools/src/graph/cached-graph';
import { buildInputsFor } from '../../tools/src/model';
import { resolvePluginOptions } from '../../tools/src/graph/plugin-options';
import { loadWorkspaceGraph, projectMetadata } from '../../tools/src/graph/workspace-graph';
import { resolveRootfs } from '../../tools/src/roots/locate';
import { hasCommand } from '../helpers/env';

const tmp = mkdtempSync(join(tmpdir(), 'pkgnx-run-build-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('rootfs resolution: option with {arch}, chroot-config/<arch>/rootfs as directory or file', () => {
  const ws = join(tmp, 'ws1');
  assert.equal(resolveRootfs(ws, 'aarch64', '/srv/{arch}'), '/srv/aarch64');
  assert.equal(resolveRootfs(ws, 'aarch64', 'roots/{arch}'), join(ws, 'roots/aarch64'));
  assert.equal(resolveRootfs(ws, 'x86_64'), undefined);
  mkdirSync(join(ws, 'chroot-config/x86_64'), { recursive: true });
  writeFileSync(join(ws, 'chroot-config/x86_64/rootfs'), '# the root\n/srv/alarm\n');
  assert.equal(resolveRootfs(ws, 'x86_64'), '/srv/alarm');
  mkdirSync(join(ws, 'chroot-config/aarch64'), { recursive: true });
  symlinkSync('/srv/x', join(ws, 'chroot-config/aarch64/rootfs'));
  mkdirSync(join(ws, 'chroot-config/riscv64/rootfs'), { recursive: true });
  assert.equal(resolveRootfs(ws, 'riscv64'), join(ws, 'chroot-config/riscv64/rootfs'));
});

test('backend choice', () => {
  const o = parseBuildOptions({ arch: 'x86_64' });
  const makechrootpkg = hasCommand('makechrootpkg');
  const r = chooseBackend(o, 'x86_64', 'x86_64', '/srv/root');
  assert.equal(r.name, makechrootpkg ? 'devtools' : 'rootfs');
  if (!makechrootpkg) assert.equal(chooseBackend(o, 'x86_64', 'x86_64', undefined).name, 'host');
  assert.equal(chooseBackend(parseBuildOptions({ arch: 'x86_64', backend: 'host' }), 'x86_64', 'x86_64', '/srv').name, 'host');
});

test('auto never falls back to the host backend for an architecture without chroot-config/<arch>/makepkg.conf', { skip: hasCommand('makechrootpkg') ? 'makechrootpkg present: auto picks devtools' : undefined }, () => {
  const o = parseBuildOptions({ arch: 'riscv64' });
  const conf = join(tmp, 'ws-noconf', 'chroot-config', 'riscv64', 'makepkg.conf');
  assert.throws(() => chooseBackend(o, 'riscv64', 'x86_64', undefined, conf), new RegExp(`${conf} does not exist: riscv64 has no build configuration .*refusing to fall back to the unisolated host backend`));
  // a root filesystem, or an explicit backend, is still a choice
  assert.equal(chooseBackend(o, 'riscv64', 'x86_64', '/srv/riscv64', conf).name, 'rootfs');
  assert.equal(chooseBackend(parseBuildOptions({ arch: 'riscv64', backend: 'host' }), 'riscv64', 'x86_64', undefined, conf).name, 'host');
  mkdirSync(join(conf, '..'), { recursive: true });
  writeFileSync(conf, 'CARCH=riscv64\n');
  assert.equal(chooseBackend(o, 'riscv64', 'x86_64', undefined, conf).name, 'host');
});

test('SOURCE_DATE_EPOCH from the environment first', () => {
  assert.equal(sourceDateEpoch(tmp, { SOURCE_DATE_EPOCH: '1234' }), '1234');
  const now = Math.floor(Date.now() / 1000);
  assert.ok(Math.abs(Number(sourceDateEpoch(tmp, {})) - now) < 5, 'not in git: now');
});

test('the build inputs per architecture come from the graph (project metadata), never from a second sourcing', async () => {
  const ws = join(tmp, 'ws-inputs');
  const dir = join(ws, 'pkgbuilds', 'x');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'PKGBUILD'), 'pkgname=x\npkgver=1\npkgrel=1\narch=(x86_64 aarch64)\ndepends=(a "b>=2")\ndepends_aarch64=(c)\nmakedepends=(m)\ncheckdepends_x86_64=(t)\npackage() { :; }\n');
  const options = resolvePluginOptions({ architectures: ['x86_64', 'aarch64'] }, ['aarch64', 'x86_64']);
  const graph = await loadWorkspaceGraph({ workspaceRoot: ws, pkgbuildFiles: ['pkgbuilds/x/PKGBUILD'], options, loadMetadata: metadataLoader(ws, options) });
  const meta = projectMetadata(graph.projects[0], 'x86_64');
  assert.deepEqual(meta.build.aarch64, { arch: ['x86_64', 'aarch64'], depends: ['a', 'b>=2', 'c'], makedepends: ['m'], checkdepends: [] });
  assert.deepEqual(buildInputsFor(meta, 'x86_64')?.checkdepends, ['t']);
});

test('an architecture with the same build inputs as another names it in the project metadata', async () => {
  const ws = join(tmp, 'ws-shared-inputs');
  const dir = join(ws, 'pkgbuilds', 'y');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'PKGBUILD'), 'pkgname=y\npkgver=1\npkgrel=1\narch=(x86_64 aarch64)\ndepends=(a)\npackage() { :; }\n');
  const options = resolvePluginOptions({ architectures: ['x86_64', 'aarch64'] }, ['aarch64', 'x86_64']);
  const graph = await loadWorkspaceGraph({ workspaceRoot: ws, pkgbuildFiles: ['pkgbuilds/y/PKGBUILD'], options, loadMetadata: metadataLoader(ws, options) });
  const meta = projectMetadata(graph.projects[0], 'x86_64');
  const [first, second] = Object.keys(meta.build);
  assert.equal(meta.build[second], first);
  assert.deepEqual(buildInputsFor(meta, second), { arch: ['x86_64', 'aarch64'], depends: ['a'], makedepends: [], checkdepends: [] });
  assert.equal(buildInputsFor(meta, 'riscv64'), undefined);
});

// One writer for every backend (the rootfs backend had a copy of its own that missed both cases below).
test('workspace repository section goes first in pacman.conf, whatever the indentation; a second one is an error', () => {
  const repo = [workspaceBuildRepository({ name: 'pkgnx-workspace', dir: '/ws/dist/aarch64/repo' })];
  const conf = pacmanConfWithRepos('[options]\nArchitecture = auto\n\n[core]\nInclude = /etc/pacman.d/mirrorlist\n', repo);
  assert.match(conf, /\[options\]\nArchitecture = auto\n\n# added by pkgnx[^\n]*\n\[pkgnx-workspace\]\nSigLevel = Optional TrustAll\nServer = file:\/\/\/ws\/dist\/aarch64\/repo\n\n\[core\]/);
  assert.match(pacmanConfWithRepos('[options]\n', [workspaceBuildRepository({ name: 'r', dir: '/d' })]), /\[options\]\n\n# added by pkgnx[^\n]*\n\[r\]\nSigLevel/);
  const indented = pacmanConfWithRepos('[options]\nArchitecture = auto\n  [core]\nInclude = /etc/pacman.d/mirrorlist\n', repo);
  assert.ok(indented.indexOf('[pkgnx-workspace]') < indented.indexOf('[core]'), indented);
  assert.throws(() => pacmanConfWithRepos('[options]\n[pkgnx-workspace]\nServer = file:///elsewhere\n[core]\n', repo), /already has a \[pkgnx-workspace\] section/);
});

function request(over: Partial<BuildRequest> = {}): BuildRequest {
  return {
    pkgbase: 'demo', pkgdir: join(tmp, 'pkg'), workspaceRoot: '/ws', arch: 'aarch64', hostArch: 'x86_64', pkgArch: ['x86_64'],
    depends: ['libdemo'], makedepends: ['gcc'], checkdepends: ['check'], ignoreArch: true, nocheck: true,
    pacmanConf: '/ws/chroot-config/aarch64/pacman.conf', makepkgConf: '/ws/chroot-config/aarch64/makepkg.conf',
    workspaceRepo: { name: 'pkgnx-workspace', dir: '/ws/dist/aarch64/repo' }, repos: [workspaceBuildRepository({ name: 'pkgnx-workspace', dir: '/ws/dist/aarch64/repo' })], pkgdest: '/ws/dist/aarch64/.staging-x', logFile: '/dev/null',
    pacmanCacheDir: '/var/cache/pacman/pkg-aarch64', noCache: false, pgpKeys: [], makepkgArgs: ['--holdver'], env: { SOURCE_DATE_EPOCH: '1' },
    copyMethod: 'auto', binfmtDir: '/proc/sys/fs/binfmt_misc', devtools: parseBuildOptions({ arch: 'aarch64' }).devtools, qemu: parseBuildOptions({ arch: 'aarch64' }).qemu,
    copyName: 'demo-aarch64-p1-x', signal: new AbortController().signal, rootfs: '/srv/alarm', buildUser: 'builder', network: false,
    copiesDir: '/ws/.pkgnx/chroots/aarch64', ...over,
  };
}

test('rootfs plan: overlay copy, host directories bound by root before bwrap enters the build user namespace, no network for makepkg, flags', () => {
  const plan = rootfsBackend.plan(request());
  assert.equal(plan.length, 4);
  const [create, setup, build, remove] = plan.map((c) => c.argv);
  assert.deepEqual(create.slice(0, 2), ['mkdir', '-p']);
  assert.deepEqual(setup.slice(0, 4), ['unshare', '--mount', '--propagation', 'private']);
  // the mount script's arguments: method, lower, upper, work, then source/destination/mode per bind
  const binds = (argv: string[]): string[][] => {
    const at = argv.indexOf('pkgnx-mounts');
    const n = Number(argv[at + 5]);
    return Array.from({ length: n }, (_, i) => argv.slice(at + 6 + 3 * i, at + 9 + 3 * i));
  };
  assert.deepEqual(binds(build), [
    ['/ws/dist/aarch64/repo', '/ws/dist/aarch64/repo', 'ro'],
    ['/var/cache/pacman/pkg-aarch64', '/var/cache/pacman/pkg', 'rw'],
    [join(tmp, 'pkg'), '/.pkgnx-startdir', 'ro'],
    ['/ws/dist/aarch64/.staging-x', '/pkgdest', 'rw'],
    ['/ws/.pkgnx/chroots/aarch64/demo-aarch64-p1-x/pkgnx', '/.pkgnx', 'rw'],
  ]);
  const joined = build.join(' ');
  assert.match(joined, /setpriv --reuid=\d+ --regid=\d+ --clear-groups -- bwrap --userns 3 --uid 0 --gid 0 --bind \/run\/pkgnx\/root \//);
  assert.match(joined, /--seccomp 4/);
  assert.match(joined, /--unshare-net/);
  assert.doesNotMatch(setup.join(' '), /--unshare-net/);
  assert.doesNotMatch(joined, /CAP_SYS_ADMIN|CAP_SYS_PTRACE/);
  assert.deepEqual(build.slice(-3), ['--nocheck', '--ignorearch', '--holdver']);
  const deps = setup[setup.indexOf('PKGNX_DEPS') + 1];
  assert.equal(deps, 'libdemo\ngcc', 'checkdepends left out with nocheck');
  assert.deepEqual(remove, ['rm', '-rf', '--one-file-system', '/ws/.pkgnx/chroots/aarch64/demo-aarch64-p1-x']);
  const withNet = rootfsBackend.plan(request({ network: true, nocheck: false }));
  assert.doesNotMatch(withNet[2].argv.join(' '), /--unshare-net/);
  assert.equal(withNet[1].argv[withNet[1].argv.indexOf('PKGNX_DEPS') + 1], 'libdemo\ngcc\ncheck');
});

test('host plan: makepkg as the build user with private directories', { skip: hasCommand('pacman') ? undefined : 'pacman missing' }, () => {
  const [, makepkg] = hostBackend.plan(request({ arch: 'x86_64', nocheck: false, ignoreArch: false }));
  assert.ok(makepkg.argv.includes('makepkg'));
  assert.ok(makepkg.argv.includes('PKGDEST=/ws/dist/aarch64/.staging-x'));
  if (process.getuid?.() === 0) assert.equal(makepkg.argv[0], 'setpriv');
  if (!hasCommand('makechrootpkg')) assert.ok(makepkg.argv.includes('--nodeps'), 'Debian host: dependencies unknown to pacman');
});

// The rootfs backend used to look for binfmt registrations under qemu-<pacman arch>: wrong for armv7h (qemu-arm)
// and for x86_64_v3 on x86_64 (native). It now shares the qemu backend's architecture map.
test('rootfs preflight: binfmt through the architecture map (armv7h -> qemu-arm; x86_64_v3 on x86_64 needs none)', { skip: process.getuid?.() === 0 ? undefined : 'the rootfs preflight needs root' }, async () => {
  const fake = mkdtempSync(join(tmpdir(), 'pkgnx-preflight-'));
  const root = join(fake, 'root');
  for (const f of ['usr/bin/pacman', 'usr/bin/makepkg', 'bin/bash']) {
    mkdirSync(join(root, f, '..'), { recursive: true });
    writeFileSync(join(root, f), '');
  }
  const binfmt = join(fake, 'binfmt');
  mkdirSync(binfmt);
  writeFileSync(join(binfmt, 'status'), 'enabled\n');
  writeFileSync(join(binfmt, 'qemu-arm'), 'enabled\ninterpreter /usr/libexec/qemu-binfmt/arm-binfmt-P\nflags: PF\noffset 0\n');
  await rootfsBackend.preflight(request({ arch: 'armv7h', hostArch: 'x86_64', rootfs: root, binfmtDir: binfmt }));
  await rootfsBackend.preflight(request({ arch: 'x86_64_v3', hostArch: 'x86_64', rootfs: root, binfmtDir: binfmt }));
  await assert.rejects(rootfsBackend.preflight(request({ arch: 'riscv64', hostArch: 'x86_64', rootfs: root, binfmtDir: binfmt })), /no binfmt_misc registration \S+\/qemu-riscv64 for riscv64/);
  rmSync(fake, { recursive: true, force: true });
});
