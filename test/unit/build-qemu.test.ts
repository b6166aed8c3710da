import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BuildRequest, PlannedCommand } from '../../tools/src/packaging/backends/backend';
import { planQemu, qemuBackend } from '../../tools/src/packaging/backends/qemu';
import { checkBinfmt, QEMU_ARCH_MAP, qemuNameFor } from '../../tools/src/packaging/backends/shared';
import { makeRequest, makeWorkspace, STANDIN_DIR, type TestWorkspace } from '../fixtures/devtools-standin/request';
import { tempDir } from '../helpers/env';

/** a fake /proc/sys/fs/binfmt_misc with one qemu registration */
function fakeBinfmt(opts: { name?: string; flags?: string; enabled?: boolean; mounted?: boolean } = {}): string {
  const dir = tempDir('pkgnx-binfmt-');
  if (opts.mounted === false) return dir;
  writeFileSync(join(dir, 'status'), 'enabled\n');
  writeFileSync(join(dir, 'register'), '');
  if (opts.name !== undefined || opts.flags !== undefined || opts.enabled !== undefined) {
    writeFileSync(
      join(dir, `qemu-${opts.name ?? 'aarch64'}`),
      `${opts.enabled === false ? 'disabled' : 'enabled'}\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\n` +
        `flags: ${opts.flags ?? 'PF'}\noffset 0\nmagic 7f454c460201010000000000000000000200b700\n`,
    );
  }
  return dir;
}

function qemuRequest(ws: TestWorkspace, binfmtDir: string, over: Partial<BuildRequest> & { pkgArch?: string[] } = {}): BuildRequest {
  const req = makeRequest(ws, { arch: 'aarch64', pkgArch: ['x86_64'], ...over });
  const aliasDir = join(ws.root, 'setarch-aliases.d');
  req.binfmtDir = binfmtDir;
  req.qemu = { setarchAliasDir: aliasDir, qemuStatic: '/usr/bin/qemu-aarch64-static' };
  return req;
}

const mkarchroot = (cmds: PlannedCommand[]): string[] => {
  const c = cmds.find((x) => x.argv.includes('mkarchroot'));
  assert.ok(c);
  return c.argv.slice(c.argv.indexOf('mkarchroot'));
};

test('one table maps pacman architectures to qemu names', () => {
  const expected: Record<string, string> = {
    aarch64: 'aarch64', armv7h: 'arm', armv6h: 'arm', armv7l: 'arm', arm: 'arm', riscv64: 'riscv64',
    loong64: 'loongarch64', i686: 'i386', pentium4: 'i386', ppc64le: 'ppc64le', s390x: 's390x',
    x86_64: 'x86_64', x86_64_v2: 'x86_64', x86_64_v3: 'x86_64', x86_64_v4: 'x86_64',
  };
  for (const [arch, name] of Object.entries(expected)) {
    assert.equal(qemuNameFor(arch), name, arch);
    assert.equal(QEMU_ARCH_MAP[arch], name);
  }
  assert.throws(() => qemuNameFor('vax'), /no qemu-user mapping for architecture 'vax'/);
});

test('checkBinfmt reads the registration: F flag, enabled, disabled, missing, not mounted', () => {
  const f = checkBinfmt('aarch64', { binfmtDir: fakeBinfmt({ flags: 'POCF' }) });
  assert.equal(f.fixBinary, true);
  assert.equal(f.credentials, true);
  assert.deepEqual(f.warnings, []);
  const noF = checkBinfmt('aarch64', { binfmtDir: fakeBinfmt({ flags: 'P' }) });
  assert.equal(noF.fixBinary, false);
  assert.match(noF.warnings.join('\n'), /no F flag/);
  assert.throws(() => checkBinfmt('aarch64', { binfmtDir: fakeBinfmt({ enabled: false }) }), /is disabled\. Fix: update-binfmts --enable qemu-aarch64/);
  assert.throws(
    () => checkBinfmt('armv7h', { binfmtDir: fakeBinfmt({ flags: 'PF' }) }),
    (e: Error) =>
      /no binfmt_misc registration .*qemu-arm for armv7h/.test(e.message) &&
      e.message.includes('apt-get install qemu-user-static binfmt-support && update-binfmts --enable qemu-arm') &&
      e.message.includes('pacman -S qemu-user-static qemu-user-static-binfmt'),
  );
  assert.throws(() => checkBinfmt('aarch64', { binfmtDir: fakeBinfmt({ mounted: false }) }), /binfmt_misc is not mounted .* Fix: mount -t binfmt_misc binfmt_misc/);
});

test('checkBinfmt on this machine: the real qemu-aarch64 registration (flags PF)', (t) => {
  if (!existsSync('/proc/sys/fs/binfmt_misc/qemu-aarch64')) {
    t.skip('no qemu-aarch64 binfmt registration on this machine');
    return;
  }
  const s = checkBinfmt('aarch64');
  assert.equal(s.path, '/proc/sys/fs/binfmt_misc/qemu-aarch64');
  assert.equal(s.enabled, true);
  assert.match(s.flags, /F/);
  assert.equal(s.fixBinary, true);
  assert.ok(s.interpreter.length > 0);
});

test('plan: mkarchroot -s, per-arch cache, -f only without the F flag, --ignorearch, setarch alias, never setarch', () => {
  const ws = makeWorkspace();
  const req = qemuRequest(ws, fakeBinfmt({ flags: 'PF' }), { pacmanCacheDir: '/var/cache/pacman/pkg' });
  const withF = planQemu(req, { fixBinary: true });
  const root = join(ws.chrootDir, 'root');
  assert.deepEqual(mkarchroot(withF), [
    'mkarchroot', '-s', '-C', join(ws.chrootDir, 'pkgnx-pacman.conf'), '-M', req.makepkgConf, '-c', '/var/cache/pacman/pkg-aarch64', root, 'base-devel',
  ]);
  assert.deepEqual(mkarchroot(planQemu(req, { fixBinary: false })), [
    'mkarchroot', '-s', '-f', '/usr/bin/qemu-aarch64-static', '-C', join(ws.chrootDir, 'pkgnx-pacman.conf'), '-M', req.makepkgConf,
    '-c', '/var/cache/pacman/pkg-aarch64', root, 'base-devel',
  ]);
  // a cache path that is already per-arch is kept
  const own = qemuRequest(ws, fakeBinfmt({ flags: 'PF' }));
  assert.ok(mkarchroot(planQemu(own, { fixBinary: true })).includes(own.pacmanCacheDir));
  const mk = withF.find((c) => c.argv[0] === 'makechrootpkg');
  assert.deepEqual(mk?.argv.slice(mk.argv.indexOf('--')), ['--', '--ignorearch']);
  const alias = withF.find((c) => c.purpose.includes('setarch alias'));
  assert.deepEqual(alias?.argv, ['sh', '-ec', 'mkdir -p "$0" && printf "%s\\n" "$1" > "$0/$2"', join(ws.root, 'setarch-aliases.d'), 'x86_64', 'aarch64']);
  assert.ok(!withF.some((c) => c.argv.includes('setarch')), 'setarch <foreign arch> never runs on the host');
  // updateRoot uses arch-nspawn -s
  req.devtools = { ...req.devtools, updateRoot: true };
  const upd = planQemu(req, { fixBinary: true }).find((c) => c.argv.includes('arch-nspawn'));
  assert.deepEqual(upd?.argv.slice(2), ['arch-nspawn', '-s', '-c', '/var/cache/pacman/pkg-aarch64', root, 'pacman', '-Syuu', '--noconfirm']);
  // once the alias is in place it is not planned again
  mkdirSync(join(ws.root, 'setarch-aliases.d'), { recursive: true });
  writeFileSync(join(ws.root, 'setarch-aliases.d', 'aarch64'), 'x86_64\n');
  assert.ok(!planQemu(req, { fixBinary: true }).some((c) => c.purpose.includes('setarch alias')));
  // arch=(x86_64 aarch64) and any: no --ignorearch
  for (const pkgArch of [['x86_64', 'aarch64'], ['any']]) {
    const c = planQemu(qemuRequest(makeWorkspace(), fakeBinfmt({ flags: 'PF' }), { pkgArch }), { fixBinary: true }).find((x) => x.argv[0] === 'makechrootpkg');
    assert.deepEqual(c?.argv.slice(c.argv.indexOf('--')), ['--']);
  }
});

test('plan() reads the binfmt flags: F → no -f, no F → -f', () => {
  const ws = makeWorkspace();
  assert.ok(!mkarchroot(qemuBackend.plan(qemuRequest(ws, fakeBinfmt({ flags: 'PF' })))).includes('-f'));
  assert.ok(mkarchroot(qemuBackend.plan(qemuRequest(ws, fakeBinfmt({ flags: 'P' })))).includes('-f'));
});

function withStandins<T>(ws: TestWorkspace, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.PATH;
  process.env.PATH = `${STANDIN_DIR}:${saved}`;
  process.env.PKGNX_STANDIN_RECORD = ws.record;
  return fn().finally(() => {
    process.env.PATH = saved;
    delete process.env.PKGNX_STANDIN_RECORD;
  });
}

test('stand-ins: an emulated aarch64 build (no F flag) copies qemu in, writes the alias, uses the per-arch cache', async (t) => {
  if (!existsSync('/usr/bin/qemu-aarch64-static')) {
    t.skip('qemu-user-static not installed');
    return;
  }
  const ws = makeWorkspace();
  const req = qemuRequest(ws, fakeBinfmt({ flags: 'P' }));
  const outcome = await withStandins(ws, () => qemuBackend.build(req));
  assert.deepEqual(outcome, { success: true });
  const rec = readFileSync(ws.record, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { tool: string; argv: string[] });
  assert.deepEqual(rec.map((r) => r.tool), ['mkarchroot', 'makechrootpkg']);
  assert.deepEqual(rec[0].argv.slice(0, 3), ['-s', '-f', '/usr/bin/qemu-aarch64-static']);
  assert.ok(existsSync(join(ws.chrootDir, 'root', 'usr', 'bin', 'qemu-aarch64-static')));
  assert.equal(readFileSync(join(ws.root, 'setarch-aliases.d', 'aarch64'), 'utf8'), 'x86_64\n');
  assert.match(readFileSync(join(ws.chrootDir, 'root', 'etc', 'pacman.conf'), 'utf8'), new RegExp(`CacheDir = ${req.pacmanCacheDir}\\n`));
  assert.deepEqual(rec[1].argv.slice(rec[1].argv.indexOf('--')), ['--', '--ignorearch']);
  assert.ok(existsSync(join(req.pkgdest, 'foo-1.0-1-aarch64.pkg.tar.zst')));
});

test('stand-ins: missing binfmt fails before any command runs (the record stays empty), with the fix', async () => {
  const ws = makeWorkspace();
  const req = qemuRequest(ws, fakeBinfmt()); // mounted, but no qemu-aarch64
  await assert.rejects(withStandins(ws, () => qemuBackend.preflight(req)), /update-binfmts --enable qemu-aarch64/);
  const outcome = await withStandins(ws, () => qemuBackend.build(req));
  assert.equal(outcome.success, false);
  assert.match(outcome.error ?? '', /no binfmt_misc registration .*qemu-aarch64.*apt-get install qemu-user-static binfmt-support/);
  assert.equal(existsSync(ws.record), false, 'no stand-in was called');
  assert.equal(existsSync(join(ws.chrootDir, 'root')), false);
  assert.equal(existsSync(join(ws.root, 'setarch-aliases.d')), false);
  assert.match(readFileSync(req.logFile, 'utf8'), /no binfmt_misc registration/);
});
