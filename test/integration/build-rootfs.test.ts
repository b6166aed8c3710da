/**
 * The build executor with the rootfs backend, end to end: real debootstrap roots, bubblewrap, pacman,
 * makepkg, repo-add and `nx run-many` in a temporary workspace that uses the real plugin and executor.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCommand } from '../helpers/env';
import { ensureRootfs, rootfsPath } from '../helpers/rootfs';
import { NX_ENV, createWorkspace, type Workspace } from '../helpers/build-workspace';


function prerequisites(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (debootstrap, overlay mounts)';
  for (const cmd of ['bwrap', 'debootstrap', 'repo-add', 'bsdtar', 'readelf', 'unshare']) if (!hasCommand(cmd)) return `${cmd} is not installed`;
  return undefined;
}

const LIBDEMO = (soversion: number, pkgrel: number, extra = '') => `pkgname=libdemo
pkgver=1.0
pkgrel=${pkgrel}
_soversion=${soversion}
pkgdesc='demo shared library'
arch=(x86_64 aarch64)
license=(0BSD)
depends=(glibc)
makedepends=(gcc)
provides=("libdemo.so=\${_soversion}-64")
source=(demo.c demo.h)
sha256sums=(SKIP SKIP)
${extra}
build() {
  gcc -shared -fPIC -Wl,-soname,libdemo.so.$_soversion -o libdemo.so.$_soversion demo.c
}
package() {
  install -Dm755 libdemo.so.$_soversion "$pkgdir/usr/lib/libdemo.so.$_soversion"
  ln -s libdemo.so.$_soversion "$pkgdir/usr/lib/libdemo.so"
  install -Dm644 demo.h "$pkgdir/usr/include/demo.h"
}
`;

const DEMO_CLI = (extra = '') => `pkgname=demo-cli
pkgver=1.0
pkgrel=1
pkgdesc='demo program linked against libdemo'
arch=(x86_64 aarch64)
license=(0BSD)
depends=(libdemo glibc)
makedepends=(gcc)
source=(main.c)
sha256sums=(SKIP)
${extra}
build() {
  gcc -o demo-cli main.c -ldemo
}
check() {
  ./demo-cli | grep -q 'demo 42'
}
package() {
  install -Dm755 demo-cli "$pkgdir/usr/bin/demo-cli"
}
`;

const DEMO_META = `pkgname=demo-meta
pkgver=1.0
pkgrel=1
pkgdesc='depends on the demo program'
arch=(any)
license=(0BSD)
depends=(demo-cli)
package() {
  install -Dm644 /dev/null "$pkgdir/usr/share/demo-meta/README"
}
`;

const SIMPLE = (name: string, body: string, depends: string[] = []) => `pkgname=${name}
pkgver=1.0
pkgrel=1
arch=(x86_64 aarch64)
license=(0BSD)
depends=(${depends.join(' ')})
build() {
${body}
}
package() {
  install -Dm644 /dev/null "$pkgdir/usr/share/${name}/done"
}
`;

/** build options in nx.json targetDefaults: the cached debootstrap roots, one per architecture */
const ROOTFS_OPTIONS = { backend: 'rootfs', rootfs: rootfsPath('{arch}') };

const CHAIN = {
  libdemo: {
    PKGBUILD: LIBDEMO(1, 1),
    'demo.c': '#include "demo.h"\nint demo_value(void) { return 42; }\n',
    'demo.h': 'int demo_value(void);\n',
  },
  'demo-cli': {
    PKGBUILD: DEMO_CLI(),
    'main.c': '#include <stdio.h>\n#include <demo.h>\nint main(void) { printf("demo %d\\n", demo_value()); return 0; }\n',
  },
  'demo-meta': { PKGBUILD: DEMO_META },
};

function packageFile(ws: Workspace, arch: string, pkgbase: string): string {
  const dir = join(ws.dir, 'dist', arch, pkgbase);
  const f = readdirSync(dir).find((n) => n.includes('.pkg.tar.'));
  assert.ok(f, `no package in ${dir}`);
  return join(dir, f);
}

/** a file extracted from a package archive */
function extract(pkg: string, member: string): string {
  const out = mkdtempSync(join(tmpdir(), 'pkgnx-x-'));
  execFileSync('bsdtar', ['-xf', pkg, '-C', out, member]);
  return join(out, member);
}

function buildLog(ws: Workspace, arch: string, pkgbase: string): string {
  return readFileSync(join(ws.dir, 'dist', arch, pkgbase, 'build.log'), 'utf8');
}

function logTimes(log: string): { start: number; end: number } {
  const start = /build started: .* (\S+Z)$/m.exec(log)?.[1];
  const end = /build finished: \S+ (\S+Z) \[SUCCESS\]/m.exec(log)?.[1];
  assert.ok(start && end, `no start/end in log:\n${log.slice(0, 500)}`);
  return { start: Date.parse(start), end: Date.parse(end) };
}

function logCount(ws: Workspace, pkgbase: string): number {
  const d = join(ws.dir, 'logs', pkgbase);
  return existsSync(d) ? readdirSync(d).filter((f) => f.endsWith('.log')).length : 0;
}

const skip = prerequisites();
const workspaces: string[] = [];
after(() => {
  if (!process.env.PKGNX_KEEP_TEST_WS) for (const d of workspaces) rmSync(d, { recursive: true, force: true });
});

describe('build executor, rootfs backend (x86_64)', { skip }, () => {
  let root: string | undefined;
  let rootSkip: string | undefined;
  before(() => {
    const r = ensureRootfs('x86_64');
    root = r.root;
    rootSkip = r.skipReason;
  });

  test('a 3-package chain builds in order, links against the workspace repo, caches, and rebuilds by ABI', (t) => {
    if (!root) return t.skip(rootSkip);
    const ws = createWorkspace({ x86_64: root }, CHAIN, ROOTFS_OPTIONS);
    workspaces.push(ws.dir);

    const first = ws.nx(['run-many', '-t', 'build', '--outputStyle=static', '--parallel=2']);
    assert.equal(first.status, 0, first.output);
    const lib = logTimes(buildLog(ws, 'x86_64', 'libdemo'));
    const cli = logTimes(buildLog(ws, 'x86_64', 'demo-cli'));
    // demo-meta is arch=(any): built once into dist/any/ (build-any), then placed into dist/x86_64/
    const meta = logTimes(readFileSync(join(ws.dir, 'dist/any/demo-meta/build.log'), 'utf8'));
    assert.ok(lib.end <= cli.start && cli.end <= meta.start, 'built in dependency order');
    const cliLog = buildLog(ws, 'x86_64', 'demo-cli');
    assert.match(cliLog, /pkgnx-workspace\/libdemo/, 'libdemo comes from the workspace repository');
    assert.match(cliLog, /installing libdemo/);
    const binary = extract(packageFile(ws, 'x86_64', 'demo-cli'), 'usr/bin/demo-cli');
    assert.match(execFileSync('readelf', ['-d', binary], { encoding: 'utf8' }), /NEEDED.*\[libdemo\.so\.1\]/);
    assert.match(execFileSync('file', [binary], { encoding: 'utf8' }), /x86-64/);
    const abi = JSON.parse(readFileSync(join(ws.dir, 'dist/x86_64/libdemo/abi.json'), 'utf8'));
    assert.deepEqual(abi, { packages: ['libdemo'], sonames: ['libdemo.so.1'], provides: ['libdemo.so=1-64'] });
    assert.ok(existsSync(join(ws.dir, 'dist/x86_64/repo/pkgnx-workspace.db')), 'workspace repository exists');
    assert.deepEqual(readdirSync(join(ws.dir, '.pkgnx/chroots/x86_64')), [], 'copies removed');

    const second = ws.nx(['run-many', '-t', 'build', '--outputStyle=static']);
    assert.equal(second.status, 0, second.output);
    assert.match(second.output, /from the cache instead of running the command for 4 out of 4 tasks/);

    // the program's PKGBUILD changes: only the program is rebuilt (its ABI is unchanged, so demo-meta stays)
    ws.write('pkgbuilds/demo-cli/PKGBUILD', DEMO_CLI('# edited'));
    const before3 = { lib: logCount(ws, 'libdemo'), cli: logCount(ws, 'demo-cli'), meta: logCount(ws, 'demo-meta') };
    const third = ws.nx(['run-many', '-t', 'build', '--outputStyle=static']);
    assert.equal(third.status, 0, third.output);
    assert.deepEqual({ lib: logCount(ws, 'libdemo'), cli: logCount(ws, 'demo-cli'), meta: logCount(ws, 'demo-meta') }, { ...before3, cli: before3.cli + 1 });

    // pkgrel-only rebuild of the library: abi.json byte-identical, dependents stay cached
    const abiBefore = readFileSync(join(ws.dir, 'dist/x86_64/libdemo/abi.json'));
    ws.write('pkgbuilds/libdemo/PKGBUILD', LIBDEMO(1, 2));
    const fourth = ws.nx(['run-many', '-t', 'build', '--outputStyle=static']);
    assert.equal(fourth.status, 0, fourth.output);
    assert.deepEqual(readFileSync(join(ws.dir, 'dist/x86_64/libdemo/abi.json')), abiBefore);
    assert.match(fourth.output, /for 3 out of 4 tasks/);
    assert.match(packageFile(ws, 'x86_64', 'libdemo'), /libdemo-1\.0-2-/);

    // soname bump: the program is rebuilt against libdemo.so.2 from the workspace repository
    ws.write('pkgbuilds/libdemo/PKGBUILD', LIBDEMO(2, 3));
    const cliLogs = logCount(ws, 'demo-cli');
    const fifth = ws.nx(['run-many', '-t', 'build', '--outputStyle=static']);
    assert.equal(fifth.status, 0, fifth.output);
    assert.equal(logCount(ws, 'demo-cli'), Math.min(3, cliLogs + 1));
    assert.match(buildLog(ws, 'x86_64', 'demo-cli'), /build started/);
    const binary2 = extract(packageFile(ws, 'x86_64', 'demo-cli'), 'usr/bin/demo-cli');
    assert.match(execFileSync('readelf', ['-d', binary2], { encoding: 'utf8' }), /NEEDED.*\[libdemo\.so\.2\]/);
    assert.match(fifth.output, /for 2 out of 4 tasks/, 'demo-meta (arch=any: links against nothing, only its own files count) stays cached');
  });

  test('independent packages build in parallel in distinct copies; a failure skips its dependents only', (t) => {
    if (!root) return t.skip(rootSkip);
    const ws = createWorkspace(
      { x86_64: root },
      {
        'par-a': { PKGBUILD: SIMPLE('par-a', '  sleep 4') },
        'par-b': { PKGBUILD: SIMPLE('par-b', '  sleep 4') },
        broken: { PKGBUILD: SIMPLE('broken', '  echo failing on purpose; false') },
        'needs-broken': { PKGBUILD: SIMPLE('needs-broken', '  true', ['broken']) },
      },
      ROOTFS_OPTIONS,
    );
    workspaces.push(ws.dir);
    const r = ws.nx(['run-many', '-t', 'build', '--outputStyle=static', '--parallel=2', '--projects=par-a,par-b']);
    assert.equal(r.status, 0, r.output);
    const a = buildLog(ws, 'x86_64', 'par-a');
    const b = buildLog(ws, 'x86_64', 'par-b');
    const copyA = /copy (par-a-x86_64-\S+)/.exec(a)?.[1];
    const copyB = /copy (par-b-x86_64-\S+)/.exec(b)?.[1];
    assert.ok(copyA && copyB && copyA !== copyB, 'distinct copies');
    const ta = logTimes(a);
    const tb = logTimes(b);
    assert.ok(ta.start < tb.end && tb.start < ta.end, `builds overlapped: a ${JSON.stringify(ta)} b ${JSON.stringify(tb)}`);

    const f = ws.nx(['run-many', '-t', 'build', '--outputStyle=static', '--parallel=2']);
    assert.notEqual(f.status, 0);
    assert.match(f.output, /failing on purpose/);
    assert.ok(!existsSync(join(ws.dir, 'dist/x86_64/broken')), 'no output for the failed build');
    assert.ok(!existsSync(join(ws.dir, 'dist/x86_64/needs-broken')), 'dependent not built');
    assert.match(f.output, /Failed tasks:[\s\S]*broken:build/);
    assert.doesNotMatch(f.output, /needs-broken:build:x86_64 *\n?.*Successfully/);
    assert.match(f.output, /needs-broken/);
    assert.ok(existsSync(join(ws.dir, 'dist/x86_64/par-a')) && existsSync(join(ws.dir, 'dist/x86_64/par-b')));
  });

  test('SIGINT during a build leaves no copy and no output; the rerun succeeds', async (t) => {
    if (!root) return t.skip(rootSkip);
    const ws = createWorkspace({ x86_64: root }, { slow: { PKGBUILD: SIMPLE('slow', '  sleep 120') } }, ROOTFS_OPTIONS);
    workspaces.push(ws.dir);
    const child = spawn(join(ws.dir, 'node_modules/.bin/nx'), ['run', 'slow:build', '--outputStyle=stream'], { cwd: ws.dir, env: NX_ENV });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 120_000;
    while (!/Starting build\(\)/.test(output) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    assert.match(output, /Starting build\(\)/, 'the build reached build()');
    const copies = join(ws.dir, '.pkgnx/chroots/x86_64');
    assert.equal(readdirSync(copies).length, 1, 'a copy exists while building');
    child.kill('SIGINT');
    await exited;
    // the executor cleans up after nx has returned; give it a moment
    const until = Date.now() + 20_000;
    while (Date.now() < until && (readdirSync(copies).length > 0 || readdirSync(join(ws.dir, 'dist/x86_64')).some((n) => n.startsWith('.staging')))) {
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.deepEqual(readdirSync(copies), [], 'no chroot copy left');
    assert.ok(!existsSync(join(ws.dir, 'dist/x86_64/slow')), 'no output dir');
    assert.deepEqual(readdirSync(join(ws.dir, 'dist/x86_64')).filter((n) => n.startsWith('.')), [], 'no staging dir');
    assert.equal(spawnSync('pgrep', ['-f', `slow-x86_64-p`]).status, 1, 'no build process left');

    ws.write('pkgbuilds/slow/PKGBUILD', SIMPLE('slow', '  sleep 1'));
    const rerun = ws.nx(['run', 'slow:build', '--outputStyle=static']);
    assert.equal(rerun.status, 0, rerun.output);
    assert.ok(existsSync(join(ws.dir, 'dist/x86_64/slow/abi.json')));
  });

  test('dry run prints the commands and changes nothing', (t) => {
    if (!root) return t.skip(rootSkip);
    const ws = createWorkspace({ x86_64: root }, { libdemo: CHAIN.libdemo }, ROOTFS_OPTIONS);
    workspaces.push(ws.dir);
    const r = ws.nx(['run', 'libdemo:build', '--outputStyle=static', '--dryRun', '--skip-nx-cache', '--excludeTaskDependencies']);
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /unshare --mount/);
    assert.match(r.output, /setpriv --reuid=\d+ --regid=\d+ --clear-groups -- bwrap --userns 3 --uid 0 --gid 0 --bind \/run\/pkgnx\/root \//);
    assert.ok(!existsSync(join(ws.dir, 'dist')) && !existsSync(join(ws.dir, 'logs')) && !existsSync(join(ws.dir, '.pkgnx')));
  });
});

describe('build executor, rootfs backend (aarch64 under qemu-user)', { skip: skip ?? (existsSync('/proc/sys/fs/binfmt_misc/qemu-aarch64') ? undefined : 'qemu-aarch64 is not registered in binfmt_misc') }, () => {
  test('the library and the program build as aarch64 packages', (t) => {
    const x = ensureRootfs('x86_64');
    const a = ensureRootfs('aarch64');
    if (!x.root || !a.root) return t.skip(x.skipReason ?? a.skipReason);
    const ws = createWorkspace({ x86_64: x.root, aarch64: a.root }, { libdemo: CHAIN.libdemo, 'demo-cli': CHAIN['demo-cli'] }, ROOTFS_OPTIONS);
    workspaces.push(ws.dir);
    const r = ws.nx(['run-many', '-t', 'build', '-c', 'aarch64', '--outputStyle=static'], 900_000);
    assert.equal(r.status, 0, r.output);
    const pkg = packageFile(ws, 'aarch64', 'demo-cli');
    assert.match(pkg, /-aarch64\.pkg\.tar\.zst$/);
    const binary = extract(pkg, 'usr/bin/demo-cli');
    assert.match(execFileSync('file', [binary], { encoding: 'utf8' }), /ARM aarch64/);
    assert.match(execFileSync('readelf', ['-d', binary], { encoding: 'utf8' }), /NEEDED.*\[libdemo\.so\.1\]/);
    assert.match(buildLog(ws, 'aarch64', 'demo-cli'), /pkgnx-workspace\/libdemo/);
    assert.match(buildLog(ws, 'aarch64', 'demo-cli'), /\(aarch64\)/, 'uname -m in the copy is aarch64');
  });
});
