/**
 * Real Arch build roots made with pacman, end to end: a small pacman repository made in the test by the
 * real makepkg (as the build user) from this machine's own files (test/helpers/arch-repo.ts: filesystem,
 * base-tools in group base-devel, a stand-in toolchain package), signed with a test GnuPG key (packages
 * and database) and served over HTTP like a mirror. `pkgnx root create` installs it with pacman in the
 * sandbox under `SigLevel = Required`; `root check`, `root update`, and the plugin option rootInput with
 * real Nx builds in that root (rootfs backend, bubblewrap).
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { baseSet, MAKEPKG_CONF, serve, signedRepo, tempDir, toolchainPackage } from '../helpers/arch-repo';
import { NX_ENV, createWorkspace, type Workspace } from '../helpers/build-workspace';
import { hasCommand } from '../helpers/env';
import { generateTestKey, type TestKey } from '../helpers/pacman-client';
import { publishTestPrerequisites, runPkgnx, type CliResult } from '../helpers/pkgnx-cli';

function prerequisites(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (pacman -Sy, the build sandbox mounts)';
  for (const cmd of ['bwrap', 'unshare', 'setpriv', 'dpkg', 'ldd']) if (!hasCommand(cmd)) return `${cmd} is not installed`;
  return publishTestPrerequisites({ pacman: true, tools: ['repo-add'] });
}

const skip = prerequisites();

const HELLO = `pkgname=hello-root
pkgver=1.0
pkgrel=1
pkgdesc='built in the test root'
arch=(x86_64)
license=(0BSD)
package() {
  install -Dm644 /dev/null "$pkgdir/usr/share/hello-root/built"
}
`;

function pacmanConf(url: string, repo = 'core'): string {
  return `[options]
Architecture = x86_64
SigLevel = Required DatabaseRequired
LocalFileSigLevel = Optional

[${repo}]
Server = ${url}/${repo}
`;
}

describe('build roots from a signed pacman repository', { skip }, () => {
  let work: string;
  let key: TestKey;
  let otherKey: TestKey;
  let base: string[];
  let server: { url: string; close(): Promise<void> };
  let ws: Workspace;
  let root: string;
  const cli = (args: string[]): Promise<CliResult> => runPkgnx(args, { cwd: ws.dir });
  const republish = async (toolchainVersion: string): Promise<void> => {
    rmSync(join(work, 'srv', 'core'), { recursive: true, force: true });
    signedRepo(join(work, 'srv'), 'core', [...base, ...(await toolchainPackage(work, toolchainVersion))], key);
  };
  const setNxOptions = (plugin: Record<string, unknown>): void => {
    const nxJson = JSON.parse(readFileSync(join(ws.dir, 'nx.json'), 'utf8')) as { plugins: { options: Record<string, unknown> }[] };
    nxJson.plugins[0].options = { rebuildPolicy: 'abi', validateExternal: false, ...plugin };
    writeFileSync(join(ws.dir, 'nx.json'), JSON.stringify(nxJson, null, 2));
  };

  before(async () => {
    work = tempDir('pkgnx-roots-');
    key = generateTestKey('pkgnx roots test');
    otherKey = generateTestKey('pkgnx roots stranger');
    base = await baseSet(work);
    await republish('1.0');
    server = await serve(join(work, 'srv'));
    ws = createWorkspace({}, { 'hello-root': { PKGBUILD: HELLO } }, { backend: 'rootfs', copyMethod: 'copy', rootfs: '.pkgnx/rootfs/{arch}' });
    mkdirSync(join(ws.dir, 'chroot-config', 'x86_64'), { recursive: true });
    writeFileSync(join(ws.dir, 'chroot-config', 'x86_64', 'pacman.conf'), pacmanConf(server.url));
    writeFileSync(join(ws.dir, 'chroot-config', 'x86_64', 'makepkg.conf'), MAKEPKG_CONF);
    mkdirSync(join(ws.dir, 'keys', 'pacman'), { recursive: true });
    copyFileSync(key.publicKeyFile, join(ws.dir, 'keys', 'pacman', 'pkgnx-roots-test.asc'));
    root = join(ws.dir, '.pkgnx', 'rootfs', 'x86_64');
  });

  after(async () => {
    await server?.close();
    if (!process.env.PKGNX_KEEP_TEST_DIRS) for (const d of [work, ws?.dir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  test('a repository signed by a key the workspace does not trust is refused, with a clear error and nothing left behind', async () => {
    const stranger = join(work, 'stranger-srv');
    signedRepo(stranger, 'core', [...base, ...(await toolchainPackage(work, '1.0'))], otherKey);
    const s = await serve(stranger);
    const strangerWs = join(work, 'stranger-ws');
    try {
      mkdirSync(join(strangerWs, 'chroot-config', 'x86_64'), { recursive: true });
      mkdirSync(join(strangerWs, 'keys', 'pacman'), { recursive: true });
      writeFileSync(join(strangerWs, 'chroot-config', 'x86_64', 'pacman.conf'), pacmanConf(s.url));
      copyFileSync(key.publicKeyFile, join(strangerWs, 'keys', 'pacman', 'pkgnx-roots-test.asc'));
      const r = await runPkgnx(['root', 'create', '--arch', 'x86_64', '--keyring', 'none', '--workspace', strangerWs], { cwd: strangerWs });
      console.log(r.stderr.trim().split('\n').slice(-4).join('\n'));
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /create the x86_64 root: pacman -Sy base-devel/);
      assert.match(r.stderr, /unknown public key|key .* could not be looked up|required key missing from keyring|invalid or corrupted database/i);
      const left = readdirSync(join(strangerWs, '.pkgnx', 'rootfs'));
      assert.deepEqual(left.filter((f) => !f.endsWith('.pkgnx-lock')), [], 'no root, no half-made root');
    } finally {
      await s.close();
    }
  });

  test('a package whose signature does not match is refused, with a clear error', async () => {
    const bad = join(work, 'bad-srv');
    const repo = signedRepo(bad, 'core', [...base, ...(await toolchainPackage(work, '1.0'))], key);
    // the signature of another file: what a tampered package or a corrupt mirror looks like
    const tool = readdirSync(repo).find((f) => f.startsWith('base-tools-') && f.endsWith('.pkg.tar.zst'))!;
    const fs = readdirSync(repo).find((f) => f.startsWith('filesystem-') && f.endsWith('.pkg.tar.zst'))!;
    copyFileSync(join(repo, `${fs}.sig`), join(repo, `${tool}.sig`));
    // the database carries each package's signature: add base-tools again with the wrong one
    execFileSync('repo-add', ['-q', '-s', '-k', key.fingerprint, join(repo, 'core.db.tar.zst'), join(repo, tool)], { env: { ...process.env, GNUPGHOME: key.gnupgHome }, stdio: 'ignore' });
    const s = await serve(bad);
    const badWs = join(work, 'bad-ws');
    try {
      mkdirSync(join(badWs, 'chroot-config', 'x86_64'), { recursive: true });
      mkdirSync(join(badWs, 'keys', 'pacman'), { recursive: true });
      writeFileSync(join(badWs, 'chroot-config', 'x86_64', 'pacman.conf'), pacmanConf(s.url));
      copyFileSync(key.publicKeyFile, join(badWs, 'keys', 'pacman', 'pkgnx-roots-test.asc'));
      const r = await runPkgnx(['root', 'create', '--arch', 'x86_64', '--keyring', 'none', '--workspace', badWs], { cwd: badWs });
      console.log(r.stderr.trim().split('\n').slice(-4).join('\n'));
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /base-tools.*(signature|corrupted)/i);
      assert.deepEqual(readdirSync(join(badWs, '.pkgnx', 'rootfs')).filter((f) => !f.endsWith('.pkgnx-lock')), []);
    } finally {
      await s.close();
    }
  });

  test('root create installs base-devel with pacman under SigLevel = Required; root check finds nothing wrong', async () => {
    const r = await cli(['root', 'create', '--arch', 'x86_64', '--keyring', 'none', '--package', 'base-devel', '--package', 'pkgnx-toolchain']);
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /created .*rootfs\/x86_64 \(x86_64, from pacman: base-devel pkgnx-toolchain\)/);
    assert.ok(existsSync(join(root, 'usr/bin/pacman')));
    const check = await cli(['root', 'check', '--arch', 'x86_64']);
    console.log(check.stdout.trim());
    assert.equal(check.status, 0, check.stdout);
    assert.match(check.stdout, /an Arch root: 3 packages installed/);
    assert.match(check.stdout, /signatures required/);
    const pkgs = await cli(['root', 'packages', '--arch', 'x86_64', '--all']);
    assert.deepEqual(pkgs.stdout.trim().split('\n'), ['x86_64: base-tools 1-1', 'x86_64: filesystem 1-1', 'x86_64: pkgnx-toolchain 1.0-1']);
  });

  test('root check reports what is wrong, each with its fix', async () => {
    const conf = join(ws.dir, 'chroot-config', 'x86_64', 'pacman.conf');
    const good = readFileSync(conf, 'utf8');
    const lsign = join(ws.dir, 'keys', 'pacman', 'late.asc');
    try {
      writeFileSync(conf, good.replace('SigLevel = Required DatabaseRequired', 'SigLevel = Optional TrustAll'));
      copyFileSync(otherKey.publicKeyFile, lsign);
      const check = await cli(['root', 'check', '--arch', 'x86_64', '--json']);
      assert.equal(check.status, 1);
      const [report] = JSON.parse(check.stdout) as { problems: { problem: string; fix: string }[] }[];
      for (const p of report.problems) console.log(`problem: ${p.problem}\n    fix: ${p.fix}`);
      assert.ok(report.problems.some((p) => /stale keyring: keys\/pacman\/late\.asc/.test(p.problem) && /root update/.test(p.fix)));
      assert.ok(report.problems.some((p) => /unsigned source: .*\[core\] \(SigLevel = Optional TrustAll\)/.test(p.problem) && /SigLevel = Required/.test(p.fix)));
      const bare = join(work, 'bare-root');
      const made = await cli(['root', 'create', '--arch', 'x86_64', '--keyring', 'none', '--package', 'filesystem', '--dir', bare]);
      assert.equal(made.status, 0, made.stderr);
      const noDevel = await cli(['root', 'check', '--arch', 'x86_64', '--dir', bare]);
      console.log(noDevel.stdout.split('\n').filter((l) => /PROBLEM|fix:/.test(l)).slice(0, 4).join('\n'));
      assert.equal(noDevel.status, 1);
      assert.match(noDevel.stdout, /PROBLEM: no base-devel: [^\n]*\n\s+fix: npx pkgnx root create --arch x86_64 --replace \(base-devel brings pacman and makepkg\)/);
      assert.match(noDevel.stdout, /PROBLEM: no \/usr\/bin\/pacman: builds cannot run in it/);
      const wrong = await cli(['root', 'check', '--arch', 'aarch64', '--dir', root]);
      assert.equal(wrong.status, 1);
      assert.match(wrong.stdout, /wrong architecture: its \/usr\/bin\/bash is built for x86_64/);
      assert.match(wrong.stdout, /wrong architecture: 3 installed package\(s\) are not for aarch64/);
    } finally {
      writeFileSync(conf, good);
      rmSync(lsign, { force: true });
    }
  });

  test('root update picks up a new version, under the root lock (refused while a build holds it with --wait 0)', async () => {
    await republish('1.1');
    const holder = execFileSync('bash', ['-c', `flock -s ${root}.pkgnx-lock -c 'echo locked; sleep 30' >/dev/null 2>&1 & echo $!`], { encoding: 'utf8' }).trim();
    await new Promise((r) => setTimeout(r, 500));
    try {
      const busy = await cli(['root', 'update', '--arch', 'x86_64', '--wait', '0']);
      assert.equal(busy.status, 1);
      assert.match(busy.stderr, /not updated: .* is in use by running builds/);
    } finally {
      process.kill(Number(holder));
    }
    await new Promise((r) => setTimeout(r, 300));
    const r = await cli(['root', 'update', '--arch', 'x86_64']);
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    const pkgs = await cli(['root', 'packages', '--arch', 'x86_64', '--package', 'pkgnx-toolchain']);
    assert.equal(pkgs.stdout.trim(), 'x86_64: pkgnx-toolchain 1.1-1');
  });

  test('rootInput: with it off a toolchain update in the root rebuilds nothing; with "toolchain" it rebuilds the dependent builds', async () => {
    // asynchronous: the repository's HTTP server runs in this process
    const build = async (): Promise<{ output: string; cached: boolean }> => {
      const child = spawn(join(ws.dir, 'node_modules/.bin/nx'), ['run', 'hello-root:build:x86_64', '--outputStyle=stream'], { cwd: ws.dir, env: NX_ENV });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(status, 0, output);
      return { output, cached: /existing outputs match the cache|\[local cache\]/.test(output) };
    };
    setNxOptions({ rootInput: 'none' });
    const first = await build();
    assert.equal(first.cached, false);
    assert.doesNotMatch(first.output, /STAND-IN/, 'a real Arch root: no stand-in warning');
    assert.ok(readdirSync(join(ws.dir, 'dist', 'x86_64', 'hello-root')).some((f) => f.startsWith('hello-root-1.0-1-x86_64.pkg.tar')));
    await republish('1.2');
    assert.equal((await cli(['root', 'update', '--arch', 'x86_64'])).status, 0);
    const off = await build();
    console.log(`rootInput none, toolchain 1.1 -> 1.2: ${off.cached ? 'cache hit' : 'rebuilt'}`);
    assert.equal(off.cached, true);

    setNxOptions({ rootInput: 'toolchain', toolchainPackages: ['pkgnx-toolchain'] });
    await build();
    const same = await build();
    console.log(`rootInput toolchain, unchanged root: ${same.cached ? 'cache hit' : 'rebuilt'}`);
    assert.equal(same.cached, true);
    await republish('1.3');
    assert.equal((await cli(['root', 'update', '--arch', 'x86_64'])).status, 0);
    const on = await build();
    console.log(`rootInput toolchain, toolchain 1.2 -> 1.3: ${on.cached ? 'cache hit' : 'rebuilt'}`);
    assert.equal(on.cached, false);
  });

  test('bootstrap in the Arch root: stage 2 builds against stage 1\'s toolchain, which replaces the root\'s installed one of the same version', async () => {
    // the workspace's own pkgnx-toolchain 1.3, the version the root has: stage 2 must still get the workspace's
    ws.write('pkgbuilds/pkgnx-toolchain/PKGBUILD', `pkgname=pkgnx-toolchain
pkgver=1.3
pkgrel=1
arch=(x86_64)
license=(0BSD)
package() { install -Dm644 /dev/null "$pkgdir/usr/share/pkgnx-toolchain/from-workspace"; }
`);
    ws.write('pkgbuilds/uses-toolchain/PKGBUILD', `pkgname=uses-toolchain
pkgver=1.0
pkgrel=1
arch=(x86_64)
license=(0BSD)
build() { ls /usr/share/pkgnx-toolchain > seen; }
package() { install -Dm644 seen "$pkgdir/usr/share/uses-toolchain/seen"; }
`);
    ws.write('bootstrap/mini.json', JSON.stringify({ stages: [{ name: 'stage1', pkgbases: ['pkgnx-toolchain'] }, { name: 'stage2', pkgbases: ['uses-toolchain'] }] }));
    const r = await runPkgnx(['bootstrap', '--plan', 'bootstrap/mini.json'], { cwd: ws.dir, env: { NX_DAEMON: 'false', NX_NO_CLOUD: 'true', CI: 'true', NX_TUI: 'false', FORCE_COLOR: '0' } });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    console.log(r.stderr.trim().split('\n').filter((l) => l.startsWith('bootstrap:')).join('\n'));
    const logs = readdirSync(join(ws.dir, 'logs', 'uses-toolchain')).filter((f) => f.endsWith('.log'));
    const log = readFileSync(join(ws.dir, 'logs', 'uses-toolchain', logs[0]), 'utf8');
    console.log(log.split('\n').find((l) => l.includes('replacing installed packages')));
    assert.match(log, /replacing installed packages with the workspace's builds: pkgnx-workspace\/pkgnx-toolchain/);
    const pkg = readdirSync(join(ws.dir, 'dist', 'x86_64', 'uses-toolchain')).find((f) => f.includes('.pkg.tar'))!;
    const seen = execFileSync('bsdtar', ['-xOf', join(ws.dir, 'dist', 'x86_64', 'uses-toolchain', pkg), 'usr/share/uses-toolchain/seen'], { encoding: 'utf8' });
    assert.equal(seen, 'from-workspace\n', 'the build saw stage 1\'s toolchain, not the root\'s 1.3');
    const rootPkgs = await cli(['root', 'packages', '--arch', 'x86_64', '--package', 'pkgnx-toolchain']);
    assert.equal(rootPkgs.stdout.trim(), 'x86_64: pkgnx-toolchain 1.3-1');
    assert.ok(existsSync(join(root, 'usr/share/pkgnx-toolchain/1.3')), 'the root itself is untouched: only the build\'s copy was changed');
  });
});
