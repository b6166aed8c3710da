/**
 * `pkgnx bootstrap` end to end: a 3-stage plan over 4 small C packages, each entry a real `nx run` of the
 * build target (rootfs backend, bubblewrap, pacman, makepkg) in the Debian build root of the rootfs tests:
 *   stage1: libbase (a shared library), app (linked against it)
 *   stage2: libextra (runs stage 1's app while it builds; slow, so it is interrupted), app again
 *   stage3: meta (checks both)
 * Order, stage 2 against stage 1's outputs (app rebuilt, never a cache hit), the pacman cache emptied per
 * build, SIGINT then a resume at the interrupted build, a concurrent run refused naming its holder, a
 * stale lock taken over, --start-from / --stage confined to what they say.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createWorkspace, type Workspace } from '../helpers/build-workspace';
import { hasCommand } from '../helpers/env';
import { collect, runPkgnx, spawnPkgnx, type CliResult } from '../helpers/pkgnx-cli';
import { ensureRootfs } from '../helpers/rootfs';

function prerequisites(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (the build sandbox mounts)';
  for (const cmd of ['bwrap', 'unshare', 'repo-add', 'bsdtar', 'readelf']) if (!hasCommand(cmd)) return `${cmd} is not installed`;
  return undefined;
}

const rootfs = prerequisites() ? {} : ensureRootfs('x86_64');
const skip = prerequisites() ?? rootfs.skipReason;

const NX_ENV: Record<string, string> = { NX_DAEMON: 'false', NX_NO_CLOUD: 'true', CI: 'true', NX_TUI: 'false', FORCE_COLOR: '0' };

const PACKAGES: Record<string, Record<string, string>> = {
  libbase: {
    PKGBUILD: `pkgname=libbase
pkgver=1.0
pkgrel=1
arch=(x86_64)
license=(0BSD)
makedepends=(gcc)
source=(base.c)
sha256sums=(SKIP)
build() { gcc -shared -fPIC -Wl,-soname,libbase.so.1 -o libbase.so.1 base.c; }
package() {
  install -Dm755 libbase.so.1 "$pkgdir/usr/lib/libbase.so.1"
  ln -s libbase.so.1 "$pkgdir/usr/lib/libbase.so"
}
`,
    'base.c': 'int base_value(void) { return 42; }\n',
  },
  app: {
    PKGBUILD: `pkgname=app
pkgver=1.0
pkgrel=1
arch=(x86_64)
license=(0BSD)
depends=(libbase)
makedepends=(gcc)
source=(main.c)
sha256sums=(SKIP)
build() {
  gcc -o app main.c -lbase
  # what it was linked against, and whether a later package of the workspace leaked into its build
  { pacman -Q libbase; pacman -Q libextra 2>/dev/null || echo 'no libextra'; } > built-against
}
package() {
  install -Dm755 app "$pkgdir/usr/bin/app"
  install -Dm644 built-against "$pkgdir/usr/share/app/built-against"
}
`,
    'main.c': '#include <stdio.h>\nint base_value(void);\nint main(void) { printf("app %d\\n", base_value()); return 0; }\n',
  },
  libextra: {
    PKGBUILD: `pkgname=libextra
pkgver=1.0
pkgrel=1
arch=(x86_64)
license=(0BSD)
depends=(app)
build() {
  echo 'libextra: building slowly'
  sleep 12
  app > value
}
package() { install -Dm644 value "$pkgdir/usr/share/libextra/value"; }
`,
  },
  meta: {
    PKGBUILD: `pkgname=meta
pkgver=1.0
pkgrel=1
arch=(x86_64)
license=(0BSD)
depends=(app libextra)
build() {
  [ "$(app)" = 'app 42' ] && grep -qx 'app 42' /usr/share/libextra/value
  cat /usr/share/app/built-against > seen
}
package() { install -Dm644 seen "$pkgdir/usr/share/meta/seen"; }
`,
  },
};

const PLAN = {
  name: 'demo',
  stages: [
    { name: 'stage1', nocheck: true, pkgbases: ['libbase', 'app'] },
    { name: 'stage2', pkgbases: ['libextra', 'app'] },
    { name: 'stage3', pkgbases: ['meta'] },
  ],
};

/** `[i/n] stage S: pkgbase` lines, as `S/pkgbase` */
function builtOrder(stderr: string): string[] {
  return [...stderr.matchAll(/^bootstrap: \[\d+\/\d+\] stage (\S+): (\S+?)[ ,]/gm)].map((m) => `${m[1]}/${m[2]}`);
}

function pkgFile(ws: Workspace, pkgbase: string): string {
  const dir = join(ws.dir, 'dist', 'x86_64', pkgbase);
  return join(dir, readdirSync(dir).find((f) => f.includes('.pkg.tar'))!);
}

function fileInPackage(ws: Workspace, pkgbase: string, path: string): string {
  return spawnSync('bsdtar', ['-xOf', pkgFile(ws, pkgbase), path], { encoding: 'utf8' }).stdout;
}

describe('pkgnx bootstrap: a plan of stages', { skip }, () => {
  let ws: Workspace;
  const bootstrap = (args: string[]): Promise<CliResult> => runPkgnx(['bootstrap', ...args], { cwd: ws.dir, env: NX_ENV });

  before(() => {
    ws = createWorkspace({ x86_64: rootfs.root! }, PACKAGES, { backend: 'rootfs', rootfs: rootfs.root });
    ws.write('bootstrap/demo.json', `${JSON.stringify(PLAN, null, 2)}\n`);
  });

  after(() => {
    if (ws && !process.env.PKGNX_KEEP_TEST_DIRS) spawnSync('rm', ['-rf', ws.dir]);
  });

  test('dry run: the plan in order; --start-from with a pkgbase of two stages must name the stage', async () => {
    const r = await bootstrap(['--plan', 'bootstrap/demo.json', '--dry-run']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(
      [...r.stderr.matchAll(/^bootstrap: (\S+): would build/gm)].map((m) => m[1]),
      ['stage1/libbase', 'stage1/app', 'stage2/libextra', 'stage2/app', 'stage3/meta'],
    );
    const ambiguous = await bootstrap(['--plan', 'bootstrap/demo.json', '--dry-run', '--start-from', 'app']);
    console.log(ambiguous.stderr.trim());
    assert.equal(ambiguous.status, 2);
    assert.match(ambiguous.stderr, /app is in 2 stages \(stage1, stage2\): say which, e\.g\. --start-from stage1\/app/);
  });

  test('SIGINT mid-stage 2 stops the run; a concurrent run meanwhile is refused naming the holder; the rerun resumes at the interrupted build and finishes in order', async () => {
    const first = spawnPkgnx(['bootstrap', '--plan', 'bootstrap/demo.json'], { cwd: ws.dir, env: NX_ENV });
    let out = '';
    first.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const done = collect(first);
    // wait until stage 2's first build is sleeping in makepkg
    const deadline = Date.now() + 600_000;
    while (!/libextra: building slowly/.test(out)) {
      assert.ok(Date.now() < deadline, 'libextra never started');
      assert.equal(first.exitCode, null, `the run ended early:\n${out}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const second = await bootstrap(['--plan', 'bootstrap/demo.json']);
    console.log(second.stderr.trim());
    assert.equal(second.status, 1);
    assert.match(second.stderr, new RegExp(`another bootstrap run holds \\S+run\\.lock: pid ${first.pid} on host ${hostname()}, started \\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z \\(pkgnx bootstrap --plan bootstrap/demo\\.json\\); wait for it to finish`));
    first.kill('SIGINT');
    const r1 = await done;
    console.log(r1.stderr.trim().split('\n').filter((l) => l.startsWith('bootstrap:')).join('\n'));
    assert.equal(r1.status, 130, r1.stderr);
    assert.deepEqual(builtOrder(r1.stderr), ['stage1/libbase', 'stage1/app', 'stage2/libextra']);
    assert.match(r1.stderr, /interrupted at stage2\/libextra: the next run resumes there/);
    assert.equal(existsSync(join(ws.dir, '.pkgnx', 'bootstrap', 'run.lock')), false, 'the lock is released');
    assert.equal(readdirSync(join(ws.dir, '.pkgnx', 'chroots', 'x86_64')).length, 0, 'no build copy left behind');

    const r2 = await bootstrap(['--plan', 'bootstrap/demo.json']);
    console.log(r2.stderr.trim().split('\n').filter((l) => l.startsWith('bootstrap:')).join('\n'));
    assert.equal(r2.status, 0, `${r2.stdout}\n${r2.stderr}`);
    assert.match(r2.stderr, /resuming: 2 build\(s\) done by an earlier run \(stage1\/libbase, stage1\/app\)/);
    assert.deepEqual(builtOrder(r2.stderr), ['stage2/libextra', 'stage2/app', 'stage3/meta']);
    assert.match(r2.stdout, /bootstrap: 3 built, 2 done before, 0 skipped/);
  });

  test('stage 2 built against stage 1: libextra ran stage 1\'s app, app was rebuilt (not a cache hit) linked against stage 1\'s libbase; the pacman cache was emptied per build', () => {
    assert.equal(fileInPackage(ws, 'libextra', 'usr/share/libextra/value'), 'app 42\n');
    // stage 1's libbase from the workspace repository; libextra (stage 2, no dependency of app) not put in
    assert.equal(fileInPackage(ws, 'app', 'usr/share/app/built-against'), 'libbase 1.0-1\nno libextra\n');
    assert.equal(fileInPackage(ws, 'meta', 'usr/share/meta/seen'), 'libbase 1.0-1\nno libextra\n');
    const bin = join(ws.dir, 'app.bin');
    writeFileSync(bin, spawnSync('bsdtar', ['-xOf', pkgFile(ws, 'app'), 'usr/bin/app']).stdout);
    const needed = spawnSync('readelf', ['-d', bin], { encoding: 'utf8' }).stdout;
    assert.match(needed, /\[libbase\.so\.1\]/);
    const appLogs = readdirSync(join(ws.dir, 'logs', 'app')).filter((f) => f.endsWith('.log'));
    assert.equal(appLogs.length, 2, `app built twice (stage 1 and stage 2): ${appLogs.join(' ')}`);
    const stage2Log = readFileSync(join(ws.dir, 'logs', 'app', appLogs.sort()[1]), 'utf8');
    assert.match(stage2Log, /noCache: emptying/);
    assert.match(stage2Log, /libbase: from pkgnx-workspace\/libbase|installing dependencies with pacman: .*libbase/);
    assert.match(stage2Log, /NON-ARCH STAND-IN build root/, 'the Debian root says so in every log');
  });

  test('a stale lock (dead pid of this host) is taken over, saying so; a finished plan builds nothing', async () => {
    writeFileSync(join(ws.dir, '.pkgnx', 'bootstrap', 'run.lock'), JSON.stringify({ pid: 2 ** 22 + 7, host: hostname(), startedAt: '2026-01-01T00:00:00.000Z', command: 'pkgnx bootstrap (crashed)' }));
    const r = await bootstrap(['--plan', 'bootstrap/demo.json']);
    console.log(r.stderr.trim());
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`took over the stale lock of pid ${2 ** 22 + 7} on ${hostname()} from 2026-01-01T00:00:00.000Z: pid ${2 ** 22 + 7} is not running`));
    assert.match(r.stderr, /nothing to build: every selected build is done/);
    assert.equal(existsSync(join(ws.dir, '.pkgnx', 'bootstrap', 'run.lock')), false);
  });

  test('--start-from and --stage skip only what they say, never another stage', async () => {
    const from = await bootstrap(['--plan', 'bootstrap/demo.json', '--dry-run', '--start-from', 'stage2/app']);
    assert.equal(from.status, 0, from.stderr);
    assert.deepEqual([...from.stderr.matchAll(/^bootstrap: (\S+): skipped/gm)].map((m) => m[1]), ['stage1/libbase', 'stage1/app', 'stage2/libextra']);
    assert.deepEqual([...from.stderr.matchAll(/^bootstrap: (\S+): would build/gm)].map((m) => m[1]), ['stage2/app', 'stage3/meta']);
    const r = await bootstrap(['--plan', 'bootstrap/demo.json', '--stage', 'stage2', '--start-from', 'app']);
    console.log(r.stderr.trim().split('\n').filter((l) => l.startsWith('bootstrap:')).join('\n'));
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(builtOrder(r.stderr), ['stage2/app'], 'stage 2 from app: neither stage 1\'s app nor stage 3');
    assert.match(r.stdout, /bootstrap: 1 built, 0 done before, 1 skipped/);
  });
});
