/**
 * The generators through the real CLI (`npx nx g ./tools:<name>`), in a temp workspace built from
 * this one (tools/, tsconfig, package.json, chroot-config; node_modules symlinked), with a local AUR
 * RPC server and local bare git repositories standing in for the AUR and Arch's GitLab.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WORKSPACE_ROOT, hasCommand } from '../helpers/env';
import { checkoutGit, checkoutGitDir, createFixtureHost, git, tempDir, type FixtureHost } from '../helpers/git-fixtures';
import { startAurServer, type AurServer } from '../helpers/aur-server';
import { writeSyncDatabase } from '../helpers/syncdb-writer';

let ws: string;
let aurGit: FixtureHost;
let gitlab: FixtureHost;
let aur: AurServer;
const env = { ...process.env, NX_DAEMON: 'false', CI: 'true', NX_NO_CLOUD: 'true', NX_SKIP_FORMAT: 'true', NX_TUI: 'false', FORCE_COLOR: '0', NO_COLOR: '1' };

/** async: the AUR server answers from this process, so the event loop must keep running */
function nx(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('npx', ['nx', ...args], { cwd: ws, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      // eslint-disable-next-line no-control-regex
      resolve({ code: code ?? -1, out: out.replace(/\x1b\[[0-9;]*m/g, '') });
    });
  });
}

type Graph = { nodes: Record<string, unknown>; dependencies: Record<string, { source: string; target: string; type: string }[]> };

async function graph(): Promise<Graph> {
  rmSync(join(ws, 'graph.json'), { force: true });
  const r = await nx(['graph', '--file=graph.json']);
  assert.equal(r.code, 0, r.out);
  return (JSON.parse(readFileSync(join(ws, 'graph.json'), 'utf8')) as { graph: Graph }).graph;
}

const edges = (g: Graph, from: string): string[] => (g.dependencies[from] ?? []).map((d) => d.target).filter((t) => !t.startsWith('pkgnx:')).sort();

before(async () => {
  ws = tempDir('pkgnx-gen-ws-');
  for (const f of ['tools', 'tsconfig.base.json', 'tsconfig.json', 'package.json', 'chroot-config']) {
    if (existsSync(join(WORKSPACE_ROOT, f))) cpSync(join(WORKSPACE_ROOT, f), join(ws, f), { recursive: true });
  }
  symlinkSync(join(WORKSPACE_ROOT, 'node_modules'), join(ws, 'node_modules'));
  const plugins = existsSync(join(WORKSPACE_ROOT, 'tools/plugin/nx-entry.js')) ? [{ plugin: './tools/plugin/nx-entry.js', options: {} }] : [];
  writeFileSync(
    join(ws, 'nx.json'),
    JSON.stringify({ useDaemonProcess: false, cacheDirectory: '.nx/cache', plugins, sync: { globalGenerators: ['./tools:sync-srcinfo'] } }, null, 2),
  );
  git(ws, 'init', '-q');

  aurGit = createFixtureHost('pkgnx-gen-aur-');
  aurGit.publish('yay', 'yay', [{ version: '12.4.2-1', tag: false, depends: ['libalpm-go', 'demo', 'git'] }], 'master');
  aurGit.publish('libalpm-go', 'libalpm-go', [{ version: '2.1-1', tag: false }], 'master');
  aur = await startAurServer([
    { name: 'yay', version: '12.4.2-1', depends: ['libalpm-go', 'demo', 'git'], makedepends: ['go'] },
    { name: 'libalpm-go', version: '2.1-1', depends: ['glibc'] },
    { name: 'broken-deps', version: '1-1', depends: ['no-such-thing'] },
  ]);
  await writeSyncDatabase(join(ws, 'repos', 'core.db'), [
    { name: 'glibc', version: '2.40-1' },
    { name: 'git', version: '2.47.0-1' },
    { name: 'go', version: '2:1.23.0-1' },
  ]);
  gitlab = createFixtureHost('pkgnx-gen-gitlab-');
  gitlab.publish('zsh', 'zsh', [{ version: '5.9-4' }, { version: '5.9-5' }]);
});

after(async () => {
  await aur?.close();
  aurGit?.cleanup();
  gitlab?.cleanup();
  if (ws && !process.env.PKGNX_KEEP_TEST_WORKSPACE) rmSync(ws, { recursive: true, force: true });
});

test('package: --dry-run writes nothing; real run writes PKGBUILD and the .SRCINFO makepkg prints', async () => {
  const dry = await nx(['g', './tools:package', 'demo', '--template=split', '--dry-run']);
  assert.equal(dry.code, 0, dry.out);
  assert.match(dry.out, /CREATE pkgbuilds\/demo\/PKGBUILD/);
  assert.match(dry.out, /CREATE pkgbuilds\/demo\/\.SRCINFO/);
  assert.ok(!existsSync(join(ws, 'pkgbuilds')));

  const real = await nx(['g', './tools:package', 'demo', '--template=split', '--depends=zlib']);
  assert.equal(real.code, 0, real.out);
  const dir = join(ws, 'pkgbuilds', 'demo');
  const srcinfo = readFileSync(join(dir, '.SRCINFO'), 'utf8');
  assert.match(srcinfo, /^pkgbase = demo\n/);
  assert.match(srcinfo, /\npkgname = demo-docs\n/);

  if (hasCommand('makepkg') && spawnSync('id', ['builder']).status === 0) {
    // makepkg refuses root and wants writable *DEST dirs (test-environment.md)
    const scratch = tempDir('pkgnx-makepkg-');
    cpSync(join(dir, 'PKGBUILD'), join(scratch, 'PKGBUILD'));
    chmodSync(scratch, 0o777);
    const d = { BUILDDIR: scratch, PKGDEST: scratch, SRCDEST: scratch, SRCPKGDEST: scratch, LOGDEST: scratch };
    const r = spawnSync('runuser', ['-u', 'builder', '--', 'env', ...Object.entries(d).map(([k, v]) => `${k}=${v}`), 'makepkg', '--printsrcinfo'], { cwd: scratch, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(srcinfo, r.stdout, '.SRCINFO byte-identical to makepkg --printsrcinfo');
    rmSync(scratch, { recursive: true, force: true });
  }

  const again = await nx(['g', './tools:package', 'demo']);
  assert.notEqual(again.code, 0);
  assert.match(again.out, /pkgbuilds\/demo already exists/);
  const bad = await nx(['g', './tools:package', 'Bad_Name']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.out, /invalid package name 'Bad_Name'/);
  assert.ok(!existsSync(join(ws, 'pkgbuilds', 'Bad_Name')));

  const vcs = await nx(['g', './tools:package', 'tool', '--template=vcs']);
  assert.equal(vcs.code, 0, vcs.out);
  assert.match(readFileSync(join(ws, 'pkgbuilds', 'tool-git', 'PKGBUILD'), 'utf8'), /^pkgver\(\) \{/m);

  const g = await graph();
  assert.ok('demo' in g.nodes && 'tool-git' in g.nodes, Object.keys(g.nodes).join(' '));
});

test('aur: dependencies resolved over RPC v5, workspace and repository packages left out', async () => {
  const args = ['g', './tools:aur', 'yay', `--rpcUrl=${aur.baseUrl}`, `--gitUrlTemplate=${aurGit.urlTemplate}`, '--repoDb=repos/core.db'];
  const dry = await nx([...args, '--dry-run']);
  assert.equal(dry.code, 0, dry.out);
  assert.match(dry.out, /AUR packages in dependency order: libalpm-go 2\.1-1, yay 12\.4\.2-1/);
  assert.match(dry.out, /CREATE pkgbuilds\/yay\/PKGBUILD/);
  assert.match(dry.out, /CREATE pkgbuilds\/libalpm-go\/\.SRCINFO/);
  assert.match(dry.out, /demo: workspace: demo/);
  assert.match(dry.out, /git: repo core: git/);
  assert.ok(!existsSync(join(ws, 'pkgbuilds', 'yay')));
  assert.ok(!existsSync(join(ws, '.pkgnx-fetch-tmp')), 'dry run leaves no temp clones');

  const real = await nx(args);
  assert.equal(real.code, 0, real.out);
  for (const p of ['yay', 'libalpm-go']) {
    assert.ok(existsSync(join(ws, 'pkgbuilds', p, 'PKGBUILD')));
    assert.ok(!existsSync(join(ws, 'pkgbuilds', p, '.git')), `${p}: no nested repository`);
    assert.ok(existsSync(join(checkoutGitDir(join(ws, 'pkgbuilds', p)), 'HEAD')), `${p}: git dir in .pkgnx/git`);
    assert.equal(checkoutGit(join(ws, 'pkgbuilds', p), 'status', '--porcelain').trim(), '');
  }
  assert.ok(!existsSync(join(ws, '.pkgnx-fetch-tmp')));
  const g = await graph();
  assert.deepEqual(edges(g, 'yay'), ['demo', 'libalpm-go']);
});

test('aur: an unresolvable dependency fails before anything is written', async () => {
  const r = await nx(['g', './tools:aur', 'broken-deps', `--rpcUrl=${aur.baseUrl}`, `--gitUrlTemplate=${aurGit.urlTemplate}`, '--repoDb=repos/core.db']);
  assert.notEqual(r.code, 0);
  assert.match(r.out, /no-such-thing \(needed by broken-deps\)/);
  assert.ok(!existsSync(join(ws, 'pkgbuilds', 'broken-deps')));
  const missing = await nx(['g', './tools:aur', 'not-in-aur', `--rpcUrl=${aur.baseUrl}`]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.out, /not in the AUR: not-in-aur/);
});

test('official: version tag checked out, overlay applied; a failed fetch writes nothing', async () => {
  mkdirSync(join(ws, 'overlays', 'riscv64'), { recursive: true });
  writeFileSync(
    join(ws, 'overlays', 'riscv64', 'zsh.patch'),
    ['--- PKGBUILD', '+++ PKGBUILD', '@@ -6,3 +6,3 @@', " arch=('x86_64')", " license=('MIT')", "-depends=('glibc')", "+depends=('glibc' 'riscv-compat')", ''].join('\n'),
  );
  const args = ['g', './tools:official', 'zsh', '--targetVersion=5.9-4', `--urlTemplate=${gitlab.urlTemplate}`, '--carch=riscv64'];
  const dry = await nx([...args, '--dry-run']);
  assert.equal(dry.code, 0, dry.out);
  assert.match(dry.out, /Processing zsh \(fetching 5\.9-4\)\.\.\./);
  assert.match(dry.out, /CREATE pkgbuilds\/zsh\/PKGBUILD/);
  assert.ok(!existsSync(join(ws, 'pkgbuilds', 'zsh')));

  const real = await nx(args);
  assert.equal(real.code, 0, real.out);
  const dir = join(ws, 'pkgbuilds', 'zsh');
  assert.equal(checkoutGit(dir, 'describe', '--tags').trim(), '5.9-4');
  assert.match(readFileSync(join(dir, 'PKGBUILD'), 'utf8'), /riscv-compat/);

  const fail = await nx(['g', './tools:official', 'nonexistent', '--targetVersion=1-1', `--urlTemplate=${gitlab.urlTemplate}`]);
  assert.notEqual(fail.code, 0);
  assert.match(fail.out, /nothing was written/);
  assert.ok(!existsSync(join(ws, 'pkgbuilds', 'nonexistent')));
  assert.ok(!existsSync(join(ws, '.pkgnx-fetch-tmp')));
});

test('sync-srcinfo: nx sync:check fails on a stale .SRCINFO, nx sync fixes it', async () => {
  const pkgbuild = join(ws, 'pkgbuilds', 'demo', 'PKGBUILD');
  writeFileSync(pkgbuild, readFileSync(pkgbuild, 'utf8').replace(/^pkgrel=1$/m, 'pkgrel=2'));
  const byHand = await nx(['g', './tools:srcinfo', '--dry-run']);
  assert.equal(byHand.code, 0, byHand.out);
  assert.match(byHand.out, /UPDATE pkgbuilds\/demo\/\.SRCINFO/);
  const check = await nx(['sync:check']);
  assert.notEqual(check.code, 0, check.out);
  assert.match(check.out, /pkgbuilds\/demo\/\.SRCINFO is stale/);
  const sync = await nx(['sync']);
  assert.equal(sync.code, 0, sync.out);
  assert.match(readFileSync(join(ws, 'pkgbuilds', 'demo', '.SRCINFO'), 'utf8'), /\tpkgrel = 2\n/);
  const ok = await nx(['sync:check']);
  assert.equal(ok.code, 0, ok.out);
});

// with a few directories the generator globs their own files, with more than 64 the whole of pkgbuilds/; the
// ignored file at the top of the package directory, or in a subdirectory that also holds a tracked file
for (const [others, conf] of [[0, 'local.conf'], [64, 'local.conf'], [0, 'files/local.conf']] as const) {
  test(`sync-srcinfo: a PKGBUILD that sources a git-ignored file of its directory: sync:check sees that file change (${conf}, ${others} more packages)`, async () => {
    // Nx's hashes leave the ignored file out; the sandbox shows it to the PKGBUILD, so the check must read it
    const dir = join(ws, 'pkgbuilds', 'localconf');
    const extra = Array.from({ length: others }, (_, i) => join(ws, 'pkgbuilds', `extra-${i}`));
    const gitignore = join(ws, '.gitignore');
    const ignoredBefore = existsSync(gitignore) ? readFileSync(gitignore, 'utf8') : undefined;
    try {
      for (const [i, d] of extra.entries()) {
        mkdirSync(d, { recursive: true });
        writeFileSync(join(d, 'PKGBUILD'), `pkgname=extra-${i}\npkgver=1\npkgrel=1\narch=(any)\npackage() { :; }\n`);
      }
      mkdirSync(join(dir, 'files'), { recursive: true });
      writeFileSync(join(dir, 'files', 'fix.patch'), 'a tracked file beside the ignored one\n');
      writeFileSync(gitignore, `${ignoredBefore ?? ''}\npkgbuilds/localconf/${conf}\n`);
      writeFileSync(join(dir, conf), 'VER=1.0\n');
      writeFileSync(join(dir, 'PKGBUILD'), `. "$startdir/${conf}"\npkgname=localconf\npkgver=$VER\npkgrel=1\narch=(any)\npackage() { :; }\n`);
      const sync = await nx(['sync']);
      assert.equal(sync.code, 0, sync.out);
      assert.match(readFileSync(join(dir, '.SRCINFO'), 'utf8'), /\tpkgver = 1\.0\n/);
      const ok = await nx(['sync:check']);
      assert.equal(ok.code, 0, ok.out);
      writeFileSync(join(dir, conf), 'VER=2.0\n');
      const check = await nx(['sync:check']);
      assert.notEqual(check.code, 0, check.out);
      assert.match(check.out, /pkgbuilds\/localconf\/\.SRCINFO is stale/);
      assert.match(check.out, /1 \.SRCINFO file\(s\) do not match/);
      assert.equal((await nx(['sync'])).code, 0);
      assert.match(readFileSync(join(dir, '.SRCINFO'), 'utf8'), /\tpkgver = 2\.0\n/);
    } finally {
      for (const d of [dir, ...extra]) rmSync(d, { recursive: true, force: true });
      if (ignoredBefore === undefined) rmSync(gitignore, { force: true });
      else writeFileSync(gitignore, ignoredBefore);
    }
  });
}
