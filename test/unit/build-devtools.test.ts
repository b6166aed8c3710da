import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BuildRequest, PlannedCommand } from '../../tools/src/packaging/backends/backend';
import { devtoolsBackend, formatPlan } from '../../tools/src/packaging/backends/devtools';
import { pacmanConfWithRepos, workspaceBuildRepository } from '../../tools/src/packaging/backends/shared';
import { parseBuildOptions } from '../../tools/src/packaging/build-options';
import { makeRequest, makeWorkspace, STANDIN_DIR, type TestWorkspace } from '../fixtures/devtools-standin/request';

interface Recorded {
  tool: string;
  argv: string[];
  cwd: string;
  pid: number;
  pgid: number;
  env: Record<string, string>;
}

function records(ws: TestWorkspace): Recorded[] {
  if (!existsSync(ws.record)) return [];
  return readFileSync(ws.record, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Recorded);
}

function byPurpose(cmds: PlannedCommand[], tool: string): PlannedCommand | undefined {
  return cmds.find((c) => c.argv.includes(tool));
}

function makechroot(cmds: PlannedCommand[]): PlannedCommand {
  const c = cmds.find((x) => x.argv[0] === 'makechrootpkg');
  assert.ok(c, 'a makechrootpkg step');
  return c;
}

/** makepkg arguments: everything after makechrootpkg's `--` */
function makepkgArgs(cmds: PlannedCommand[]): string[] {
  const argv = makechroot(cmds).argv;
  return argv.slice(argv.indexOf('--') + 1);
}

/** stand-ins first on PATH, recording into the workspace's record file */
function withStandins<T>(ws: TestWorkspace, fn: () => Promise<T>): Promise<T> {
  const saved = { PATH: process.env.PATH, REC: process.env.PKGNX_STANDIN_RECORD };
  process.env.PATH = `${STANDIN_DIR}:${process.env.PATH}`;
  process.env.PKGNX_STANDIN_RECORD = ws.record;
  return fn().finally(() => {
    process.env.PATH = saved.PATH;
    if (saved.REC === undefined) delete process.env.PKGNX_STANDIN_RECORD;
    else process.env.PKGNX_STANDIN_RECORD = saved.REC;
  });
}

/** true when someone holds a conflicting flock on `file` */
function lockHeld(file: string, mode: '-x' | '-s' = '-x'): boolean {
  return spawnSync('flock', ['-n', mode, file, 'true']).status !== 0;
}

async function waitFor(cond: () => boolean, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('native x86_64, arch=(x86_64): exact mkarchroot and makechrootpkg command lines, env, no --ignorearch', () => {
  const ws = makeWorkspace();
  const req = makeRequest(ws);
  const cmds = devtoolsBackend.plan(req);
  const root = join(ws.chrootDir, 'root');
  const mk = byPurpose(cmds, 'mkarchroot');
  assert.ok(mk, 'mkarchroot planned because root is missing');
  assert.deepEqual(mk.argv, [
    'flock', join(ws.chrootDir, 'root.lock'), 'sh', '-ec', '[ -e "$0/.arch-chroot" ] || exec "$@"', root,
    'mkarchroot', '-C', join(ws.chrootDir, 'pkgnx-pacman.conf'), '-M', req.makepkgConf, '-c', req.pacmanCacheDir, root, 'base-devel',
  ]);
  const m = makechroot(cmds);
  assert.deepEqual(m.argv, [
    'makechrootpkg', '-r', ws.chrootDir, '-l', req.copyName, '-c', '-u',
    '-D', `${req.workspaceRepo.dir}:${req.workspaceRepo.dir}`, '-t', '/tmp:size=50%', '--',
  ]);
  assert.equal(m.cwd, req.pkgdir);
  assert.equal(m.env?.PKGDEST, req.pkgdest);
  assert.equal(m.env?.SRCDEST, join(ws.root, 'srcdest'));
  assert.equal(m.env?.LOGDEST, join(ws.root, 'logs', 'foo', 'makepkg'));
  assert.equal(m.env?.GNUPGHOME, join(ws.root, 'gnupg'));
  assert.equal(m.env?.SOURCE_DATE_EPOCH, '1700000000');
  assert.ok(!cmds.some((c) => c.argv.includes('setarch')), 'setarch never run by us');
  assert.ok(!cmds.some((c) => c.argv.includes('sudo')));
});

test('--ignorearch only when the target is not in arch=() and never for any', () => {
  const ws = makeWorkspace();
  assert.deepEqual(makepkgArgs(devtoolsBackend.plan(makeRequest(ws, { arch: 'aarch64', pkgArch: ['x86_64'] }))), ['--ignorearch']);
  assert.deepEqual(makepkgArgs(devtoolsBackend.plan(makeRequest(ws, { arch: 'aarch64', pkgArch: ['x86_64', 'aarch64'] }))), []);
  assert.deepEqual(makepkgArgs(devtoolsBackend.plan(makeRequest(ws, { arch: 'aarch64', pkgArch: ['any'] }))), []);
  // run-build's decision is respected, but a needless request is dropped
  assert.deepEqual(makepkgArgs(devtoolsBackend.plan(makeRequest(ws, { arch: 'x86_64', pkgArch: ['x86_64'], ignoreArch: true }))), []);
});

test('--nocheck and user makepkg args go after --; extra binds, ccache and tmpfs size', () => {
  const ws = makeWorkspace();
  const req = makeRequest(ws, {
    arch: 'aarch64',
    pkgArch: ['x86_64'],
    nocheck: true,
    makepkgArgs: ['--skippgpcheck', '--nocheck'],
  });
  req.devtools = { ...req.devtools, ccacheDir: '/var/cache/ccache', bindRo: ['/srv/a'], bindRw: ['/srv/b:/b'], tmpfsSize: '8G' };
  const cmds = devtoolsBackend.plan(req);
  assert.deepEqual(makepkgArgs(cmds), ['--ignorearch', '--nocheck', '--skippgpcheck']);
  const argv = makechroot(cmds).argv;
  assert.deepEqual(argv.slice(argv.indexOf('-u') + 1, argv.indexOf('--')), [
    '-D', `${req.workspaceRepo.dir}:${req.workspaceRepo.dir}`,
    '-d', '/var/cache/ccache:/build/.ccache', '-d', '/srv/b:/b', '-D', '/srv/a', '-t', '/tmp:size=8G',
  ]);
});

test('two concurrent requests get distinct copies; mkarchroot only while root is missing', () => {
  const ws = makeWorkspace();
  const a = makeRequest(ws, { pkgbase: 'a', copyName: 'pkgnx-a-1' });
  const b = makeRequest(ws, { pkgbase: 'b', copyName: 'pkgnx-b-2' });
  const la = makechroot(devtoolsBackend.plan(a)).argv;
  const lb = makechroot(devtoolsBackend.plan(b)).argv;
  assert.notEqual(la[la.indexOf('-l') + 1], lb[lb.indexOf('-l') + 1]);
  mkdirSync(join(ws.chrootDir, 'root'), { recursive: true });
  writeFileSync(join(ws.chrootDir, 'root', '.arch-chroot'), 'v6\n');
  const cmds = devtoolsBackend.plan(a);
  assert.equal(byPurpose(cmds, 'mkarchroot'), undefined);
  const refresh = cmds.find((c) => c.argv.includes(join(ws.chrootDir, 'root', 'etc', 'pacman.conf')));
  assert.deepEqual(refresh?.argv, [
    'flock', join(ws.chrootDir, 'root.lock'), 'install', '-m', '0644', join(ws.chrootDir, 'pkgnx-pacman.conf'),
    join(ws.chrootDir, 'root', 'etc', 'pacman.conf'),
  ]);
});

test('the chroot pacman.conf puts [pkgnx-workspace] before the official repos and uses the per-arch cache', () => {
  const text = pacmanConfWithRepos(
    '[options]\nArchitecture = aarch64\nCacheDir = /var/cache/pacman/pkg/\n\n[core]\nInclude = /etc/pacman.d/mirrorlist\n',
    [workspaceBuildRepository({ name: 'pkgnx-workspace', dir: '/w/dist/aarch64/repo' })],
    '/var/cache/pacman/pkg-aarch64',
  );
  assert.ok(!text.includes('CacheDir = /var/cache/pacman/pkg/'));
  assert.ok(text.indexOf('CacheDir = /var/cache/pacman/pkg-aarch64') < text.indexOf('[pkgnx-workspace]'));
  assert.ok(text.indexOf('[pkgnx-workspace]') < text.indexOf('[core]'));
  assert.match(text, /\[pkgnx-workspace\]\nSigLevel = Optional TrustAll\nServer = file:\/\/\/w\/dist\/aarch64\/repo\n/);
});

test('preflight: CARCH vs Architecture mismatch names both files; auto is accepted', async () => {
  const ws = makeWorkspace({ pacmanArch: { x86_64: 'aarch64' } });
  await withStandins(ws, async () => {
    const req = makeRequest(ws);
    await assert.rejects(devtoolsBackend.preflight(req), (e: Error) => {
      assert.match(e.message, /CARCH=x86_64/);
      assert.ok(e.message.includes(req.makepkgConf) && e.message.includes(req.pacmanConf), e.message);
      return true;
    });
    const ws2 = makeWorkspace({ pacmanArch: { x86_64: 'auto' } });
    await devtoolsBackend.preflight(makeRequest(ws2));
  });
  const req = makeRequest(makeWorkspace());
  const savedPath = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    await assert.rejects(devtoolsBackend.preflight(req), /makechrootpkg, mkarchroot, arch-nspawn not found/);
  } finally {
    process.env.PATH = savedPath;
  }
});

test('dry run: the plan is printable and nothing runs', () => {
  const ws = makeWorkspace();
  const savedPath = process.env.PATH;
  process.env.PATH = `${STANDIN_DIR}:${savedPath}`;
  process.env.PKGNX_STANDIN_RECORD = ws.record;
  try {
    const text = formatPlan(devtoolsBackend.plan(makeRequest(ws)));
    assert.match(text, /mkarchroot -C /);
    assert.match(text, /cd \S+\/pkgbuilds\/foo && .*PKGDEST=\S+ .*makechrootpkg -r /);
  } finally {
    process.env.PATH = savedPath;
    delete process.env.PKGNX_STANDIN_RECORD;
  }
  assert.equal(existsSync(ws.record), false, 'no stand-in was called');
  assert.equal(existsSync(join(ws.chrootDir, 'root')), false);
  assert.equal(existsSync(join(ws.chrootDir, 'pkgnx-pacman.conf')), false, 'plan writes no files');
});

test('stand-ins: a normal build runs mkarchroot then makechrootpkg in the PKGBUILD dir with the env, and cleans its copy', async () => {
  const ws = makeWorkspace();
  const req = makeRequest(ws);
  const outcome = await withStandins(ws, () => devtoolsBackend.build(req));
  assert.deepEqual(outcome, { success: true });
  const rec = records(ws);
  assert.deepEqual(rec.map((r) => r.tool), ['mkarchroot', 'makechrootpkg']);
  assert.deepEqual(rec[0].argv, ['-C', join(ws.chrootDir, 'pkgnx-pacman.conf'), '-M', req.makepkgConf, '-c', req.pacmanCacheDir, join(ws.chrootDir, 'root'), 'base-devel']);
  assert.deepEqual(rec[1].argv, makechroot(devtoolsBackend.plan(req)).argv.slice(1).map((a) => a));
  assert.equal(rec[1].cwd, req.pkgdir);
  assert.deepEqual(rec[1].env, {
    PKGDEST: req.pkgdest,
    LOGDEST: join(ws.root, 'logs', 'foo', 'makepkg'),
    SRCDEST: join(ws.root, 'srcdest'),
    SOURCE_DATE_EPOCH: '1700000000',
    GNUPGHOME: join(ws.root, 'gnupg'),
  });
  assert.deepEqual(readdirSync(req.pkgdest), ['foo-1.0-1-x86_64.pkg.tar.zst']);
  // the workspace repo is in the root's pacman.conf, so every copy has it
  assert.match(readFileSync(join(ws.chrootDir, 'root', 'etc', 'pacman.conf'), 'utf8'), /\[pkgnx-workspace\]\nSigLevel = Optional TrustAll\nServer = file:\/\//);
  assert.equal(existsSync(join(ws.chrootDir, req.copyName)), false, 'our copy removed');
  assert.equal(existsSync(join(ws.chrootDir, `${req.copyName}.lock`)), false, 'our copy lock removed');
  assert.equal(existsSync(join(ws.chrootDir, 'root.lock')), true, 'root.lock is never deleted');
  assert.match(readFileSync(req.logFile, 'utf8'), /Making package: foo/);
});

test('stand-ins: two concurrent builds use distinct copies and locks, root is created once, neither removes the other', async () => {
  const ws = makeWorkspace();
  const a = makeRequest(ws, { pkgbase: 'a', copyName: 'pkgnx-a-1', env: { SOURCE_DATE_EPOCH: '1', PKGNX_STANDIN_SLEEP: '1.5' } });
  const b = makeRequest(ws, { pkgbase: 'b', copyName: 'pkgnx-b-2', env: { SOURCE_DATE_EPOCH: '1', PKGNX_STANDIN_SLEEP: '4' } });
  await withStandins(ws, async () => {
    const pa = devtoolsBackend.build(a);
    const pb = devtoolsBackend.build(b);
    const building = (r: BuildRequest): string => join(ws.chrootDir, r.copyName, '.building');
    await waitFor(() => existsSync(building(a)) && existsSync(building(b)));
    assert.ok(lockHeld(join(ws.chrootDir, 'pkgnx-a-1.lock')), 'a holds its copy lock');
    assert.ok(lockHeld(join(ws.chrootDir, 'pkgnx-b-2.lock')), 'b holds its copy lock');
    assert.ok(lockHeld(join(ws.chrootDir, 'root.lock'), '-x'), 'root.lock is held shared: no exclusive taker');
    assert.ok(!lockHeld(join(ws.chrootDir, 'root.lock'), '-s'), 'and other readers may share it');
    assert.deepEqual(await pa, { success: true });
    // a is done and cleaned up; b is still building with its copy and lock intact
    assert.equal(existsSync(join(ws.chrootDir, 'pkgnx-a-1')), false);
    assert.ok(existsSync(building(b)));
    assert.ok(lockHeld(join(ws.chrootDir, 'pkgnx-b-2.lock')));
    assert.deepEqual(await pb, { success: true });
  });
  const rec = records(ws);
  assert.equal(rec.filter((r) => r.tool === 'mkarchroot').length, 1, 'the second creator found root under the lock');
  const copies = rec.filter((r) => r.tool === 'makechrootpkg').map((r) => r.argv[r.argv.indexOf('-l') + 1]).sort();
  assert.deepEqual(copies, ['pkgnx-a-1', 'pkgnx-b-2']);
  assert.deepEqual(readdirSync(a.pkgdest), ['a-1.0-1-x86_64.pkg.tar.zst']);
  assert.deepEqual(readdirSync(b.pkgdest), ['b-1.0-1-x86_64.pkg.tar.zst']);
  assert.ok(existsSync(join(ws.chrootDir, 'root.lock')));
});

test('stand-ins: abort during the build ends the process group, removes our copy and leaves no output', async () => {
  const ws = makeWorkspace();
  const ctl = new AbortController();
  const req = makeRequest(ws, {
    env: { SOURCE_DATE_EPOCH: '1', PKGNX_STANDIN_SLEEP: '60', PKGNX_STANDIN_EARLY_OUTPUT: '1' },
    signal: ctl.signal,
  });
  // a second, unrelated copy of another process must survive our cleanup
  mkdirSync(join(ws.chrootDir, 'someone-else'), { recursive: true });
  writeFileSync(join(ws.chrootDir, 'someone-else.lock'), '');
  const started = Date.now();
  const outcome = await withStandins(ws, async () => {
    const p = devtoolsBackend.build(req);
    await waitFor(() => existsSync(join(ws.chrootDir, req.copyName, '.building')));
    assert.equal(readdirSync(req.pkgdest).length, 1, 'the stand-in wrote a partial package');
    ctl.abort();
    return p;
  });
  assert.equal(outcome.success, false);
  assert.match(outcome.error ?? '', /aborted/);
  assert.ok(Date.now() - started < 20000, 'did not wait for the 60 s build');
  const mk = records(ws).find((r) => r.tool === 'makechrootpkg');
  assert.ok(mk);
  assert.throws(() => process.kill(-mk.pgid, 0), /ESRCH/, 'process group ended');
  assert.equal(existsSync(join(ws.chrootDir, req.copyName)), false, 'our copy removed');
  assert.equal(existsSync(join(ws.chrootDir, `${req.copyName}.lock`)), false);
  assert.deepEqual(readdirSync(req.pkgdest), [], 'no output');
  assert.ok(existsSync(join(ws.chrootDir, 'someone-else')) && existsSync(join(ws.chrootDir, 'someone-else.lock')));
  assert.ok(existsSync(join(ws.chrootDir, 'root.lock')));
});

test('stand-ins: a failed build keeps the copy for inspection, empties pkgdest, and names the step', async () => {
  const ws = makeWorkspace();
  const req = makeRequest(ws, { env: { SOURCE_DATE_EPOCH: '1', PKGNX_STANDIN_FAIL: '1', PKGNX_STANDIN_EARLY_OUTPUT: '1' } });
  const outcome = await withStandins(ws, () => devtoolsBackend.build(req));
  assert.equal(outcome.success, false);
  assert.match(outcome.error ?? '', /makechrootpkg failed \(exit code 4\)/);
  assert.deepEqual(readdirSync(req.pkgdest), []);
  assert.ok(existsSync(join(ws.chrootDir, req.copyName)), 'kept (cleanupOnFailure=false)');
  assert.match(readFileSync(req.logFile, 'utf8'), /A failure occurred in build\(\)/);
  const req2 = makeRequest(ws, { pkgbase: 'bar', copyName: 'c2', env: { SOURCE_DATE_EPOCH: '1', PKGNX_STANDIN_FAIL: '1' } });
  req2.devtools = { ...req2.devtools, cleanupOnFailure: true };
  assert.equal((await withStandins(ws, () => devtoolsBackend.build(req2))).success, false);
  assert.equal(existsSync(join(ws.chrootDir, 'c2')), false, 'removed with cleanupOnFailure');
});

test('stand-ins are real executables with the devtools option letters', () => {
  const out = execFileSync(join(STANDIN_DIR, 'arch-nspawn'), ['-s', '/x', 'true'], { env: { ...process.env, PKGNX_STANDIN_RECORD: '' } });
  assert.equal(out.length, 0);
});

test('as non-root: root-only steps get sudo, makechrootpkg does not (it re-execs itself with sudo); PGP keys are imported', () => {
  const ws = makeWorkspace();
  const req = makeRequest(ws, { pgpKeys: ['/w/keys/pgp/A.asc'], noCache: true });
  req.devtools = { ...req.devtools, sudo: true };
  const cmds = devtoolsBackend.plan(req);
  assert.equal(byPurpose(cmds, 'mkarchroot')?.argv[0], 'sudo');
  assert.equal(makechroot(cmds).argv[0], 'makechrootpkg');
  assert.ok(cmds.filter((c) => c.purpose.startsWith('remove our copy')).every((c) => c.argv[0] === 'sudo'));
  assert.deepEqual(cmds.find((c) => c.argv[0] === 'gpg')?.argv, ['gpg', '--homedir', join(ws.root, 'gnupg'), '--batch', '--quiet', '--import', '/w/keys/pgp/A.asc']);
  assert.ok(cmds.some((c) => c.argv.includes('find') && c.argv.includes(req.pacmanCacheDir)), 'noCache empties the cache');
  assert.throws(() => parseBuildOptions({ arch: 'x86_64', tmpfsSize: 8 }), /build option "tmpfsSize" must be a string, got 8/);
});
