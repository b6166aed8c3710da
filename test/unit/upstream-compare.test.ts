import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readSyncDatabase } from '../../tools/src/syncdb';
import { vercmp } from '../../tools/src/version';
import { analyzeRepositories, compareRepositories, parseBlacklist, type WorkPlan } from '../../tools/src/upstream';
import { RepoSet } from '../../tools/src/repo-set';
import { BLACKLIST_TEXT, CHANGES, deriveTarget, upstreamPath, UPSTREAM_REPOS } from '../fixtures/upstream/derive';
import { pkg, repoSetFrom } from '../fixtures/upstream/scenario';
import { tempDir } from '../helpers/env';

const names = (plan: WorkPlan): string[] => plan.entries.map((e) => e.name);
const entry = (plan: WorkPlan, name: string) => {
  const e = plan.entries.find((x) => x.name === name);
  assert.ok(e, `${name} in the build list (${names(plan).join(' ')})`);
  return e;
};

test('scenario 1: one entry per pkgbase with split packages; the any package is reported, not built', async () => {
  const upstream = await repoSetFrom({
    extra: [
      pkg('foo', '1.2-1', { base: 'foo', depends: ['foo-libs=1.2-1'] }),
      pkg('foo-libs', '1.2-1', { base: 'foo' }),
      pkg('python-bar', '2.0-1', { arch: 'any' }),
    ],
  });
  const target = await repoSetFrom({
    extra: [
      pkg('foo', '1.1-3', { arch: 'aarch64', depends: ['foo-libs=1.1-3'] }),
      pkg('foo-libs', '1.1-3', { base: 'foo', arch: 'aarch64' }),
      pkg('python-bar', '1.0-1', { arch: 'any' }),
    ],
  });
  const plan = compareRepositories(upstream, target);
  assert.deepEqual(names(plan), ['foo']);
  const foo = entry(plan, 'foo');
  assert.equal(foo.basename, 'foo');
  assert.equal(foo.version, '1.2-1');
  assert.equal(foo.current_version, '1.1-3');
  assert.equal(foo.repo, 'extra');
  assert.deepEqual(foo.pkgnames, ['foo', 'foo-libs']);
  assert.deepEqual(plan.anyPackages.map((c) => [c.pkgbase, c.status]), [['python-bar', 'upgrade']]);
  const analysis = analyzeRepositories(upstream, target);
  assert.deepEqual(analysis.outdatedAny, [{ name: 'python-bar', pkgbase: 'python-bar', upstreamVersion: '2.0-1', targetVersion: '1.0-1' }]);
});

test('scenario 2: alpm version semantics decide what is rebuilt; target-newer is listed, not rebuilt', async () => {
  assert.equal(vercmp('1:1.0-1', '2.0-5'), 1);
  assert.equal(vercmp('1.0-2', '1.0-1'), 1);
  assert.equal(vercmp('0.9.1_p10-1', '0.9.1_p2-1'), 1);
  assert.equal(vercmp('1.0a', '1.0'), -1);
  assert.equal(vercmp('1.0.r10.gabc-1', '1.0-1'), 1);
  const upstream = await repoSetFrom({
    core: [pkg('epochy', '1:1.0-1'), pkg('relbump', '1.0-2'), pkg('patchy', '0.9.1_p10-1'), pkg('alpha', '1.0a-1'), pkg('gitver', '1.0.r10.gabc-1'), pkg('newer', '2.0-1')],
  });
  const target = await repoSetFrom({
    core: [pkg('epochy', '2.0-5'), pkg('relbump', '1.0-1'), pkg('patchy', '0.9.1_p2-1'), pkg('alpha', '1.0-1'), pkg('gitver', '1.0-1'), pkg('newer', '2.1-1')],
  });
  const plan = compareRepositories(upstream, target);
  assert.deepEqual(names(plan), ['epochy', 'gitver', 'patchy', 'relbump']);
  assert.deepEqual(plan.targetNewer.map((c) => c.pkgbase).sort(), ['alpha', 'newer']);
  assert.deepEqual(analyzeRepositories(upstream, target).targetNewer.map((v) => [v.pkgbase, v.targetVersion]), [['alpha', '1.0-1'], ['newer', '2.1-1']]);
});

test('scenario 3: blacklist with wildcards and comments; --packages forces a blacklisted package end to end', async () => {
  const upstream = await repoSetFrom({
    core: [pkg('glibc', '2.36-3'), pkg('lib32-glibc', '2.36-3'), pkg('dmd', '2.100-1'), pkg('foo', '1.2-1', { makedepends: ['dmd'] }), pkg('bar', '1.1-1')],
  });
  const target = await repoSetFrom({
    core: [pkg('glibc', '2.36-3'), pkg('lib32-glibc', '2.35-1'), pkg('dmd', '2.099-1'), pkg('foo', '1.1-1', { makedepends: ['dmd'] }), pkg('bar', '1.0-1')],
  });
  const blacklist = parseBlacklist('# comment\nlib32-*\ndmd   # needs a D bootstrap\n\n');
  const plan = compareRepositories(upstream, target, { blacklist });
  assert.deepEqual(names(plan), ['bar']);
  const skipped = Object.fromEntries(plan.skipped.map((s) => [s.pkgbase, s.reason]));
  assert.match(skipped['lib32-glibc'], /matches blacklist pattern 'lib32-\*'/);
  assert.match(skipped.dmd, /'dmd' matches blacklist pattern 'dmd' \(line 3: needs a D bootstrap\)/);
  assert.match(skipped.foo, /makedepends 'dmd' is blacklisted/);

  const forced = compareRepositories(upstream, target, { blacklist, packages: ['dmd'] });
  assert.deepEqual(names(forced), ['dmd']);
  assert.equal(entry(forced, 'dmd').forced, true);
  assert.match(entry(forced, 'dmd').reason, /forced with --packages; overrides blacklist: 'dmd' matches blacklist pattern 'dmd'/);
  const unknown = compareRepositories(upstream, target, { packages: ['no-such-thing'] });
  assert.deepEqual(unknown.notFound, ['no-such-thing']);
});

test('scenario 4: a missing dependency is pulled in before its dependent; a blacklisted one is not, and its chain is reported', async () => {
  const upstream = await repoSetFrom({
    extra: [
      pkg('vim', '9.0-2', { depends: ['libsodium', 'glibc'], makedepends: ['libsodium'] }),
      pkg('gvim', '9.0-2', { base: 'vim', depends: ['libsodium'] }),
      pkg('libsodium', '1.0.18-2', { depends: ['glibc'], makedepends: ['minisign'] }),
      pkg('minisign', '0.10-1'),
      pkg('glibc', '2.36-3'),
    ],
  });
  const target = await repoSetFrom({ extra: [pkg('vim', '9.0-1', { depends: ['glibc'] }), pkg('gvim', '9.0-1', { base: 'vim' }), pkg('glibc', '2.36-3')] });
  const blacklist = parseBlacklist('mini*\n');
  const plan = compareRepositories(upstream, target, { blacklist });
  assert.deepEqual(names(plan), ['libsodium', 'vim']);
  assert.equal(entry(plan, 'libsodium').added_reason, 'depends for gvim, depends for vim, makedepends for vim');
  assert.equal(entry(plan, 'libsodium').current_version, 'not found');
  assert.ok(entry(plan, 'libsodium').build_stage < entry(plan, 'vim').build_stage);
  assert.deepEqual(entry(plan, 'vim').after.map((a) => [a.name, a.kind]), [['libsodium', 'depends'], ['libsodium', 'makedepends']]);
  assert.deepEqual(plan.blockedDependencies.map((b) => [b.dependency, b.kind, b.neededBy, b.cause]), [['minisign', 'makedepends', 'libsodium', 'blacklist']]);
  const chains = analyzeRepositories(upstream, target, blacklist).blockedByBlacklist;
  assert.deepEqual(chains.map((c) => `${c.chain.join(' -> ')} [matches '${c.pattern}']`), ["libsodium -> minisign [matches 'mini*']"]);
});

test('a dependency whose target version is too old is pulled in with its current version (not "not found")', async () => {
  const upstream = await repoSetFrom({ extra: [pkg('app', '2.0-1', { depends: ['lib>=2'] }), pkg('lib', '2.1-1')] });
  const target = await repoSetFrom({ extra: [pkg('app', '1.0-1'), pkg('lib', '1.9-1')] });
  // lib is outdated anyway; force only app and see lib pulled in by the versioned constraint
  const plan = compareRepositories(upstream, target, { packages: ['app'] });
  assert.deepEqual(names(plan), ['lib', 'app']);
  assert.equal(entry(plan, 'lib').current_version, '1.9-1');
  assert.equal(entry(plan, 'lib').added_reason, 'depends for app');
});

test('bootstrap-only packages are skipped unless forced, also as dependencies', async () => {
  const upstream = await repoSetFrom({ core: [pkg('gcc', '12.2-1'), pkg('binutils', '2.39-1'), pkg('zlib', '1.2.13-1', { makedepends: ['binutils'] })] });
  const target = await repoSetFrom({ core: [pkg('gcc', '12.1-1'), pkg('zlib', '1.2.12-1')] });
  const plan = compareRepositories(upstream, target);
  assert.deepEqual(names(plan), ['zlib']);
  assert.equal(plan.skipped.find((s) => s.pkgbase === 'gcc')?.kind, 'bootstrap');
  assert.deepEqual(plan.blockedDependencies.map((b) => [b.dependency, b.cause]), [['binutils', 'bootstrap']]);
  assert.deepEqual(names(compareRepositories(upstream, target, { packages: ['gcc'] })), ['gcc']);
  assert.deepEqual(names(compareRepositories(upstream, target, { forceBootstrap: true })), ['binutils', 'gcc', 'zlib']);
});

test('cycles are kept together after their dependencies; a checkdepends-only loop is not placed before its deps', async () => {
  const upstream = await repoSetFrom({
    extra: [
      pkg('a', '2-1', { depends: ['b'] }), pkg('b', '2-1', { makedepends: ['a'] }), pkg('c', '2-1', { depends: ['a'] }),
      pkg('x', '2-1', { depends: ['dep0'], checkdepends: ['y'] }), pkg('y', '2-1', { depends: ['x'] }), pkg('dep0', '2-1'),
    ],
  });
  const target = await repoSetFrom({ extra: ['a', 'b', 'c', 'x', 'y', 'dep0'].map((n) => pkg(n, '1-1')) });
  const plan = compareRepositories(upstream, target);
  const pos = (n: string): number => names(plan).indexOf(n);
  assert.ok(pos('a') < pos('c') && pos('b') < pos('c'));
  assert.ok(pos('dep0') < pos('x') && pos('x') < pos('y'), names(plan).join(' '));
  assert.deepEqual(plan.cycles.map((c) => [c.members, c.checkdependsOnly]), [[['a', 'b'], false], [['x', 'y'], true]]);
  assert.equal(entry(plan, 'a').cycle_group, entry(plan, 'b').cycle_group);
  assert.equal(entry(plan, 'c').cycle_group, null);
  // --no-check: the checkdepends loop disappears and checkdepends are cleared
  const nocheck = compareRepositories(upstream, target, { noCheck: true });
  assert.deepEqual(nocheck.cycles.map((c) => c.members), [['a', 'b']]);
  assert.deepEqual(entry(nocheck, 'x').checkdepends, []);
});

test('--missing-packages and --rebuild-repo select pkgbases; results are deterministic', async () => {
  const upstream = await repoSetFrom({ core: [pkg('one', '1-1'), pkg('two', '1-1'), pkg('doc', '1-1', { arch: 'any' })], extra: [pkg('three', '1-1')] });
  const target = await repoSetFrom({ core: [pkg('one', '1-1')], extra: [pkg('three', '1-1')] });
  assert.deepEqual(names(compareRepositories(upstream, target)), []);
  assert.deepEqual(names(compareRepositories(upstream, target, { includeMissing: true })), ['two']);
  assert.deepEqual(names(compareRepositories(upstream, target, { rebuildRepo: 'core' })), ['one', 'two']);
  assert.deepEqual(JSON.stringify(compareRepositories(upstream, target, { rebuildRepo: 'core' })), JSON.stringify(compareRepositories(upstream, target, { rebuildRepo: 'core' })));
});

test('real 2022 databases against a derived aarch64 target: categories, blacklist, missing deps, -bin, any', async () => {
  const { paths } = await deriveTarget();
  const upstream = new RepoSet(await Promise.all(UPSTREAM_REPOS.map(async (r) => ({ database: await readSyncDatabase(upstreamPath(r)) }))));
  const target = new RepoSet(await Promise.all(Object.values(paths).map(async (p) => ({ database: await readSyncDatabase(p) }))));
  assert.equal(upstream.packages.length, 3568);
  const blacklist = parseBlacklist(BLACKLIST_TEXT);
  const plan = compareRepositories(upstream, target, { blacklist });

  assert.deepEqual(plan.upgrades.map((c) => c.pkgbase), ['lib32-zlib', 'php', 'vim', 'xf86-video-amdgpu', 'zstd']);
  assert.deepEqual(plan.missing.map((c) => c.pkgbase), ['gpm', 'libsodium', 'usbguard']);
  assert.deepEqual(plan.targetNewer.map((c) => c.pkgbase), ['bash']);
  assert.deepEqual(plan.replacedByBin.map((b) => [b.pkgbase, b.binPackage, b.comparison]), [['firefox', 'firefox-bin', 0]]);
  assert.deepEqual(plan.anyPackages.filter((c) => c.status !== 'up-to-date').map((c) => [c.pkgbase, c.status]), [['python-requests', 'upgrade']]);
  assert.deepEqual(plan.targetOnly.map((t) => t.pkgbase), ['firefox-bin', 'port-broken', 'port-tool']);
  const skipped = Object.fromEntries(plan.skipped.map((s) => [s.pkgbase, s.kind]));
  assert.deepEqual(skipped, { 'lib32-zlib': 'blacklist', php: 'blacklisted-dependency', 'xf86-video-amdgpu': 'blacklist' });

  // vim (split vim, gvim, vim-runtime) needs gpm, which the target lacks: pulled in first, with every reason
  assert.deepEqual(names(plan), ['gpm', 'zstd', 'vim']);
  assert.equal(entry(plan, 'gpm').added_reason, 'depends for gvim, depends for vim, makedepends for vim');
  assert.equal(entry(plan, 'vim').current_version, CHANGES.lowered.vim);
  assert.equal(entry(plan, 'vim').version, '9.0.0354-1');
  assert.deepEqual(entry(plan, 'vim').pkgnames, ['gvim', 'vim', 'vim-runtime']);
  assert.ok(entry(plan, 'gpm').build_stage < entry(plan, 'vim').build_stage);
  for (const e of plan.entries) assert.ok(!e.name.startsWith('python-requests') && e.arch.every((a) => a !== 'any'));

  // forcing php overrides its blacklisted dependency; libsodium itself stays out and is reported
  const forced = compareRepositories(upstream, target, { blacklist, packages: ['php-sodium'] });
  assert.deepEqual(names(forced), ['php']);
  assert.equal(entry(forced, 'php').forced, true);
  assert.ok(forced.blockedDependencies.some((b) => b.dependency === 'libsodium' && b.pkgbase === 'libsodium' && b.cause === 'blacklist'));
});

test('a testing repository labelled with its stable name: the newer package wins, labelled with the stable repo', async () => {
  const { readSyncDatabase: read } = await import('../../tools/src/syncdb');
  const { writeSyncDatabase } = await import('../helpers/syncdb-writer');
  const { join } = await import('node:path');
  const dir = tempDir('pkgnx-testing-');
  const core = await read(await writeSyncDatabase(join(dir, 'core.db.tar.gz'), [pkg('glibc', '2.36-3'), pkg('zlib', '1.2.13-1')]));
  const testing = await read(await writeSyncDatabase(join(dir, 'core-testing.db.tar.gz'), [pkg('glibc', '2.37-1'), pkg('zlib', '1.2.12-1')]));
  const set = new RepoSet([{ database: core }, { database: testing, label: 'core' }]);
  assert.deepEqual(set.packages.map((p) => [p.name, p.version, p.repo]), [['glibc', '2.37-1', 'core'], ['zlib', '1.2.13-1', 'core']]);
  assert.deepEqual(set.repoNames, ['core']);
});

test('state tag/commit are attached only when the state version is the entry version (vercmp)', async () => {
  const upstream = await repoSetFrom({ extra: [pkg('foo', '1:1.2-1'), pkg('bar', '2.0-1'), pkg('baz', '3.0-1')] });
  const target = await repoSetFrom({ extra: [pkg('foo', '1:1.1-1', { arch: 'aarch64' }), pkg('bar', '1.0-1', { arch: 'aarch64' }), pkg('baz', '1.0-1', { arch: 'aarch64' })] });
  const st = (pkgbase: string, version: string, repo = 'extra') => ({ pkgbase, version, tag: version.replace(':', '-'), commit: pkgbase[0].repeat(40), repo, arch: 'x86_64' });
  const state = new Map([
    ['foo', st('foo', '1:1.2-1')],
    ['bar', st('bar', '2.1-1', 'extra-staging')], // newer (staging): not this version
    ['baz', st('baz', '2.9-1')], // stale
  ]);
  const warnings: string[] = [];
  const plan = compareRepositories(upstream, target, { state, warn: (m) => warnings.push(m) });
  assert.equal(entry(plan, 'foo').state_tag, '1-1.2-1');
  assert.equal(entry(plan, 'foo').state_commit, 'f'.repeat(40));
  for (const n of ['bar', 'baz']) {
    assert.equal(entry(plan, n).state_tag, undefined, n);
    assert.equal(entry(plan, n).state_commit, undefined, n);
  }
  assert.equal(warnings.length, 2);
  assert.match(warnings.join('\n'), /bar is 2\.1-1 there \(extra-staging-x86_64\), the build list has 2\.0-1/);
  assert.equal(vercmp('1:1.2-1', '1:1.2-1'), 0);
});
