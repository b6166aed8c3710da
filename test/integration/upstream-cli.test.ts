import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BLACKLIST_TEXT, deriveTarget, upstreamPath } from '../fixtures/upstream/derive';
import { WORKSPACE_ROOT } from '../helpers/env';

let ws: string;
let config: string;

function run(verb: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--require', require.resolve('@swc-node/register'), join(WORKSPACE_ROOT, 'tools/src/cli', `${verb}.ts`), ...args], {
    cwd: ws, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, env: { ...process.env, SWC_NODE_PROJECT: join(WORKSPACE_ROOT, 'tsconfig.json') },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(async () => {
  ws = mkdtempSync(join(tmpdir(), 'pkgnx-ws-'));
  const { paths } = await deriveTarget(join(ws, 'target-dbs'));
  writeFileSync(join(ws, 'blacklist.txt'), BLACKLIST_TEXT);
  config = join(ws, 'pkgnx.config.json');
  writeFileSync(config, JSON.stringify({
    upstream: {
      upstreamArch: 'x86_64',
      targetArch: 'aarch64',
      upstreamRepos: ['core', 'extra', 'multilib'].map((name) => ({ name, path: upstreamPath(name) })),
      targetRepos: Object.entries(paths).map(([name, path]) => ({ name, path })),
      blacklist: 'blacklist.txt',
      cacheDir: 'cache',
      stateRepo: { url: join(ws, 'no-such-remote.git'), dir: 'state' },
    },
  }, null, 2));
});

const listing = (): string[] => readdirSync(ws).sort();

test('outdated --dry-run prints the categories and writes nothing (no list, no cache, no git)', () => {
  const before = listing();
  const r = run('outdated', '--dry-run', '--state');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /==> Upgrades \(5\)\n  lib32-zlib 1\.2\.11-1 -> 1\.2\.12-1 \[multilib\]/);
  assert.match(r.stdout, /==> 'any' packages to sync \(reported, not built\) \(1\)\n  python-requests 2\.27\.0-1 -> 2\.28\.1-1/);
  assert.match(r.stdout, /firefox 104\.0\.2-1: provided by firefox-bin 104\.0\.2-1/);
  assert.match(r.stdout, /\[stage 0\] gpm not found -> .* — depends for gvim, depends for vim, makedepends for vim/);
  assert.match(r.stderr, /-> x86_64 core: 261 packages \(local\)/);
  assert.match(r.stderr, /dry run: .*packages_to_build\.json not written \(3 entries\)/);
  assert.deepEqual(listing(), before);
});

test('outdated writes packages_to_build.json atomically with the predecessor fields', () => {
  const r = run('outdated', '--quiet');
  assert.equal(r.status, 0, r.stderr);
  const doc = JSON.parse(readFileSync(join(ws, 'packages_to_build.json'), 'utf8'));
  assert.equal(doc._command, 'outdated --quiet');
  assert.ok(!Number.isNaN(Date.parse(doc._timestamp)));
  assert.deepEqual(doc.packages.map((p: { name: string }) => p.name), ['gpm', 'zstd', 'vim']);
  const vim = doc.packages[2];
  for (const key of ['name', 'basename', 'version', 'current_version', 'repo', 'depends', 'makedepends', 'checkdepends', 'provides', 'force_latest', 'use_aur', 'use_local', 'build_stage', 'cycle_group', '_sequence', 'forced', 'reason']) {
    assert.ok(key in vim, key);
  }
  assert.equal(doc.packages[0].added_reason, 'depends for gvim, depends for vim, makedepends for vim');
  assert.deepEqual(readdirSync(ws).filter((f) => f.includes('.tmp-')), []);
});

test('outdated --packages forces a blacklisted package; --json; unknown names exit 1; bad config exits 2', () => {
  const r = run('outdated', '--packages', 'lib32-zlib', '--json', '--output', join(ws, 'forced.json'));
  assert.equal(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(doc.packages.map((p: { name: string; forced: boolean }) => [p.name, p.forced]), [['lib32-zlib', true]]);
  assert.match(doc.packages[0].reason, /overrides blacklist: 'lib32-zlib' matches blacklist pattern 'lib32-\*'/);
  assert.ok(existsSync(join(ws, 'forced.json')));

  const unknown = run('outdated', '--dry-run', '--packages', 'definitely-not-a-package');
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /--packages definitely-not-a-package: no such pkgname or pkgbase upstream/);

  writeFileSync(join(ws, 'bad.json'), JSON.stringify({ upstream: { upstreamArch: 'x86_64', targetArch: 'aarch64', upstreamRepos: [], targetRepos: [] } }));
  const bad = run('outdated', '--config', 'bad.json');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /bad\.json: upstream\.upstreamRepos: expected at least one repository/);
  const flag = run('outdated', '--frobnicate');
  assert.equal(flag.status, 2);
});

test('repo-analyze sections and --json', () => {
  const r = run('repo-analyze', '--unsatisfied-deps', '--blocked-by-blacklist');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\[SONAME drift\] curl needs 'libzstd\.so=1-64' — target has: zstd provides libzstd\.so=2-64/);
  assert.match(r.stdout, /usbguard -> libsodium \[matches 'libsodium'\]/);
  assert.ok(!r.stdout.includes('orphaned'));
  const j = run('repo-analyze', '--orphaned', '--target-newer', '--json');
  assert.equal(j.status, 0, j.stderr);
  const doc = JSON.parse(j.stdout);
  assert.deepEqual(Object.keys(doc).sort(), ['orphaned', 'targetNewer']);
  assert.equal(doc.orphaned[0].name, 'zstd-static');
});

test('dependents: direct and -r rebuild order, unknown package exits 1', () => {
  const r = run('dependents', 'gpm', '--side', 'upstream');
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.trim().split(' ').includes('vim'));
  const order = run('dependents', '-r', '--depth', '1', 'zstd', '--json');
  assert.equal(order.status, 0, order.stderr);
  assert.ok(JSON.parse(order.stdout).order.includes('curl'));
  const missing = run('dependents', 'no-such-pkg');
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no-such-pkg: no such package or pkgbase \(target repositories\)/);
});

test('outdated --state --offline reads the existing clone without syncing; only matching versions get tags', () => {
  const plan = JSON.parse(run('outdated', '--dry-run', '--json').stdout) as { packages: { name: string; version: string; repo: string }[] };
  const by = new Map(plan.packages.map((p) => [p.name, p]));
  const state = join(ws, 'state');
  const sha = (c: string): string => c.repeat(40);
  const put = (sub: string, name: string, version: string, commit: string): void => {
    mkdirSync(join(state, sub), { recursive: true });
    writeFileSync(join(state, sub, name), `${name} ${version} ${version.replaceAll(':', '-')} ${commit}\n`);
  };
  const vim = by.get('vim')!, gpm = by.get('gpm')!, zstd = by.get('zstd')!;
  put(`${vim.repo}-x86_64`, 'vim', vim.version, sha('a'));
  put(`${gpm.repo}-x86_64`, 'gpm', '0.1-1', sha('b')); // stale: no tag, a warning
  put(`${zstd.repo}-x86_64`, 'zstd', zstd.version, sha('c'));
  put(`${zstd.repo}-staging-x86_64`, 'zstd', '999-1', sha('d')); // staging is not a configured repository
  const out = join(ws, 'state-list.json');
  const r = run('outdated', '--state', '--offline', '--output', out);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /offline: state repository not synced/);
  assert.match(r.stderr, /warning: state repository: gpm is 0\.1-1 there .*no state_tag\/state_commit/);
  const doc = JSON.parse(readFileSync(out, 'utf8')) as { packages: { name: string; state_tag?: string; state_commit?: string }[] };
  const got = new Map(doc.packages.map((p) => [p.name, p]));
  assert.equal(got.get('vim')?.state_commit, sha('a'));
  assert.equal(got.get('zstd')?.state_commit, sha('c'));
  assert.equal(got.get('gpm')?.state_tag, undefined);
  assert.ok(!existsSync(join(state, '.git')), 'nothing cloned or synced');

  // without --offline, a directory pkgnx did not clone is an error naming it, and it is left intact
  const s = run('outdated', '--state', '--output', out);
  assert.notEqual(s.status, 0);
  assert.match(s.stderr, /state: not a state repository clone made by pkgnx/);
  assert.ok(existsSync(join(state, `${vim.repo}-x86_64`, 'vim')));
});
