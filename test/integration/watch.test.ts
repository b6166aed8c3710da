/**
 * `npx pkgnx watch` end to end, without the Nx daemon: real chokidar, Nx, bubblewrap and makepkg in a temporary
 * workspace. Saving a PKGBUILD rebuilds that project and what depends on it, nothing else; saves during the
 * debounce make one build; Ctrl-C (SIGINT) during a build leaves no process, no build copy and no staging
 * directory, checked from outside (the process table, the directories).
 */
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCommand } from '../helpers/env';
import { ensureRootfs, rootfsPath } from '../helpers/rootfs';
import { createWorkspace } from '../helpers/build-workspace';
import { spawnPkgnx } from '../helpers/pkgnx-cli';

function prerequisites(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (bubblewrap roots, overlay mounts)';
  for (const cmd of ['bwrap', 'repo-add', 'bsdtar', 'unshare']) if (!hasCommand(cmd)) return `${cmd} is not installed`;
  return undefined;
}

const PKG = (name: string, opts: { pkgrel?: number; depends?: string[]; build?: string } = {}) => `pkgname=${name}
pkgver=1.0
pkgrel=${opts.pkgrel ?? 1}
arch=(x86_64)
license=(0BSD)
depends=(${(opts.depends ?? []).join(' ')})
build() {
  ${opts.build ?? ':'}
}
package() {
  install -Dm644 /dev/null "$pkgdir/usr/share/${name}/done"
}
`;

/** every process whose command line mentions `needle` (the process table, as ps sees it) */
function processesMentioning(needle: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmd.includes(needle)) found.push(`${pid}: ${cmd.slice(0, 200)}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

const skip = prerequisites();
const workspaces: string[] = [];
after(() => {
  if (!process.env.PKGNX_KEEP_TEST_WS) for (const d of workspaces) rmSync(d, { recursive: true, force: true });
});

test('watch: a saved PKGBUILD rebuilds only what it affects; Ctrl-C during a build leaves no process, copy or staging directory', { skip, timeout: 900_000 }, async (t) => {
  const x = ensureRootfs('x86_64');
  if (!x.root) return t.skip(x.skipReason);
  const ws = createWorkspace({ x86_64: x.root }, { 'w-lib': { PKGBUILD: PKG('w-lib') }, 'w-app': { PKGBUILD: PKG('w-app', { depends: ['w-lib'] }) }, 'w-other': { PKGBUILD: PKG('w-other') } }, { backend: 'rootfs', rootfs: rootfsPath('{arch}') });
  workspaces.push(ws.dir);
  const first = ws.nx(['run-many', '-t', 'build', '--outputStyle=static'], 600_000);
  assert.equal(first.status, 0, first.output);

  const child = spawnPkgnx(['watch', '--debounce', '500'], { cwd: ws.dir, env: { NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', CI: 'true', FORCE_COLOR: '0' } });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = async (re: RegExp, from: number, ms = 300_000): Promise<string> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = re.exec(out.slice(from));
      if (m) return m[0];
      assert.ok(Date.now() < deadline, `timed out waiting for ${re} in:\n${out.slice(from)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  /** the end of the next build that starts after `from` */
  const nextBuild = async (from: number): Promise<string> => {
    await waitFor(/: building \(/, from);
    return waitFor(/(done|failed): [^\n]*/, out.indexOf(': building (', from));
  };
  const statusLines = (from: number): string[] => out.slice(from).split('\n').filter((l) => l.startsWith('pkgnx watch '));
  try {
    await waitFor(/watching pkgbuilds\//, 0, 60_000);

    // one save: that project is rebuilt, its dependency comes from the cache, the unrelated one is not in the run
    let mark = out.length;
    ws.write('pkgbuilds/w-app/PKGBUILD', PKG('w-app', { pkgrel: 2, depends: ['w-lib'] }));
    await waitFor(/queued: pkgbuilds\/w-app\/PKGBUILD/, mark);
    const done = await nextBuild(mark);
    assert.match(done, /^done: built w-app:x86_64; restored w-lib:x86_64$/, out.slice(mark));
    assert.ok(statusLines(mark).some((l) => /building \(pkgbuilds\/w-app\/PKGBUILD\)/.test(l)), out.slice(mark));
    assert.doesNotMatch(out.slice(mark), /w-other/);

    // saves within the debounce make one build; a dependency's save rebuilds it and takes its dependents along
    mark = out.length;
    ws.write('pkgbuilds/w-lib/PKGBUILD', PKG('w-lib', { build: 'true' }));
    ws.write('pkgbuilds/w-lib/PKGBUILD', PKG('w-lib', { pkgrel: 2 }));
    const second = await nextBuild(mark);
    assert.match(second, /^done: built w-lib:x86_64/, out.slice(mark));
    assert.match(second, /w-app:x86_64/, 'the dependent is in the run');
    assert.doesNotMatch(second, /w-other/);
    assert.equal(statusLines(mark).filter((l) => /: building \(/.test(l)).length, 1, out.slice(mark));
    assert.equal(JSON.parse(readFileSync(join(ws.dir, 'dist/summary.json'), 'utf8')).built.map((b: { project: string }) => b.project).join(' '), 'w-lib');

    // a long build, then Ctrl-C
    mark = out.length;
    ws.write('pkgbuilds/w-other/PKGBUILD', PKG('w-other', { pkgrel: 2, build: 'sleep 600' }));
    await waitFor(/Starting build\(\)/, mark);
    const copies = join(ws.dir, '.pkgnx/chroots/x86_64');
    assert.equal(readdirSync(copies).length, 1, 'a build copy exists while building');
    assert.notDeepEqual(processesMentioning('w-other-x86_64-p'), [], 'the build runs');
    child.kill('SIGINT');
    assert.equal(await exited, 130, out.slice(mark));
    // from outside, right after the watch exited: nothing of the build is left
    assert.deepEqual(processesMentioning(ws.dir), [], 'no process of the workspace');
    assert.deepEqual(processesMentioning('w-other-x86_64-p'), [], 'no build process');
    assert.deepEqual(readdirSync(copies), [], 'no build copy');
    for (const d of readdirSync(join(ws.dir, 'dist'))) {
      if (existsSync(join(ws.dir, 'dist', d)) && !d.includes('.')) assert.deepEqual(readdirSync(join(ws.dir, 'dist', d)).filter((n) => n.startsWith('.staging') || n.startsWith('.old')), [], `dist/${d}`);
    }
    assert.match(out.slice(mark), /stopping/);
    t.diagnostic(statusLines(0).join('\n'));
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
