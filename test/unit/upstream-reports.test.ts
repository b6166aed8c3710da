import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readSyncDatabase } from '../../tools/src/syncdb';
import { analyzeRepositories, ANALYSIS_SECTIONS, findDependents, formatAnalysis, parseBlacklist, selectSections, type RepoAnalysis } from '../../tools/src/upstream';
import { RepoSet } from '../../tools/src/repo-set';
import { BLACKLIST_TEXT, deriveTarget, upstreamPath, UPSTREAM_REPOS } from '../fixtures/upstream/derive';
import { pkg, repoSetFrom } from '../fixtures/upstream/scenario';

let upstream: RepoSet;
let target: RepoSet;
let analysis: RepoAnalysis;

before(async () => {
  const { paths } = await deriveTarget();
  upstream = new RepoSet(await Promise.all(UPSTREAM_REPOS.map(async (r) => ({ database: await readSyncDatabase(upstreamPath(r)) }))));
  target = new RepoSet(await Promise.all(Object.values(paths).map(async (p) => ({ database: await readSyncDatabase(p) }))));
  analysis = analyzeRepositories(upstream, target, parseBlacklist(`${BLACKLIST_TEXT}\n`));
});

test('scenario 13: SONAME drift and broken dependencies', async () => {
  const up = await repoSetFrom({ extra: [pkg('foo', '1-1', { depends: ['libbar.so=5-64'] }), pkg('bar', '6-1', { provides: ['libbar.so=6-64'] })] });
  const tg = await repoSetFrom({
    extra: [
      pkg('foo', '1-1', { arch: 'aarch64', depends: ['libbar.so=5-64', 'nothing-provides-this'] }),
      pkg('bar', '6-1', { arch: 'aarch64', provides: ['libbar.so=6-64'] }),
      pkg('baz', '1-1', { arch: 'aarch64', depends: ['bar>=7'] }),
    ],
  });
  const a = analyzeRepositories(up, tg);
  const text = formatAnalysis(a, ['unsatisfied-deps', 'broken-deps'], { upstream: 'x86_64', target: 'aarch64' });
  assert.ok(text.includes("[SONAME drift] foo needs 'libbar.so=5-64' — target has: bar provides libbar.so=6-64"), text);
  assert.ok(text.includes("baz needs 'bar>=7' — target has: bar 6-1"), text);
  assert.ok(!text.includes('[SONAME drift] baz'));
  assert.deepEqual(a.brokenDeps.map((b) => [b.pkg, b.dependency]), [['foo', 'nothing-provides-this']]);
});

test('derived target: SONAME drift of zstd found on real dependents (curl, qemu, ...)', () => {
  const drift = analysis.unsatisfiedDeps.filter((u) => u.dependency === 'libzstd.so=1-64');
  assert.ok(drift.some((u) => u.pkg === 'curl' && u.soname && u.candidates.includes('zstd provides libzstd.so=2-64')));
  assert.ok(drift.length >= 20, `${drift.length}`);
  const gpmBroken = analysis.brokenDeps.filter((b) => b.dependency === 'gpm').map((b) => b.pkg);
  assert.ok(gpmBroken.includes('vim') && gpmBroken.includes('gvim'));
  assert.ok(analysis.brokenDeps.some((b) => b.pkg === 'port-broken' && b.dependency === 'no-such-lib'));
  // a versioned dependency with no provider at all is broken, not "unsatisfied"
  assert.ok(analysis.brokenDeps.some((b) => b.pkg === 'port-tool' && b.dependency === 'does-not-exist>=2'));
});

test('derived target: repository issues, target-newer, target-only with -bin, orphans, name mismatches', () => {
  assert.deepEqual(analysis.repoMismatches, [{ pkgbase: 'nano', upstreamRepo: 'core', targetRepos: ['extra'] }]);
  assert.deepEqual(analysis.duplicatePkgbases, [{ name: 'less', repos: ['core', 'extra'] }]);
  assert.deepEqual(analysis.duplicatePkgnames, [{ name: 'less', repos: ['core', 'extra'] }]);
  assert.deepEqual(analysis.targetNewer.map((v) => v.pkgbase), ['bash']);
  assert.deepEqual(analysis.targetOnly.map((t) => [t.pkgbase, t.bin?.status ?? null]), [['firefox-bin', 'MATCHES'], ['port-broken', null], ['port-tool', null]]);
  assert.deepEqual(analysis.orphaned.map((o) => [o.name, o.pkgbase]), [['zstd-static', 'zstd']]);
  assert.deepEqual(analysis.nameMismatches.map((m) => [m.pkgbase, m.targetOnly]), [['zstd', ['zstd-static']]]);
});

test('derived target: any packages, arch changes, missing pkgbases, blocked-by-blacklist chain', () => {
  assert.deepEqual(analysis.outdatedAny.map((o) => o.name), ['python-requests']);
  assert.deepEqual(analysis.archChanges, [{ name: 'ca-certificates', upstreamArch: 'any', targetArch: 'aarch64' }]);
  assert.deepEqual(analysis.missingPkgbases, ['gpm', 'usbguard']);
  assert.deepEqual(analysis.providedByOther, [{ pkgbase: 'firefox', providers: ['firefox-bin'] }]);
  assert.deepEqual(analysis.missingAny, []);
  const chain = analysis.blockedByBlacklist.find((c) => c.root === 'usbguard');
  assert.ok(chain);
  const text = formatAnalysis(analysis, ['blocked-by-blacklist'], { upstream: 'x86_64', target: 'aarch64' });
  assert.ok(text.includes("usbguard -> libsodium [matches 'libsodium']"), text);
});

test('every section prints a headed block, and --json selects the same sections', () => {
  const text = formatAnalysis(analysis, ANALYSIS_SECTIONS, { upstream: 'x86_64', target: 'aarch64' });
  for (const title of ['only on aarch64', 'orphaned split packages', 'broken dependencies', 'unsatisfied versioned', 'blocked by the blacklist', "outdated 'any'", 'more than one aarch64 repository']) {
    assert.ok(text.includes(title), title);
  }
  assert.ok(!/AArch64/.test(text.replaceAll('aarch64', '')), 'no hard-coded architecture');
  assert.deepEqual(Object.keys(selectSections(analysis, ['orphaned', 'repo-issues'])).sort(), ['duplicatePkgbases', 'duplicatePkgnames', 'orphaned', 'repoMismatches']);
});

test('dependents are provides-aware; the rebuild order reports cycles instead of appending them', async () => {
  const set = await repoSetFrom({
    core: [
      pkg('zlib', '1-1', { provides: ['libz.so=1-64'] }),
      pkg('curl', '1-1', { depends: ['libz.so=1-64'] }),
      pkg('git', '1-1', { depends: ['curl'] }),
      pkg('p1', '1-1', { depends: ['p2', 'git'] }),
      pkg('p2', '1-1', { makedepends: ['p1'] }),
      pkg('docs', '1-1', { makedepends: ['zlib'] }),
    ],
  });
  const direct = findDependents(set, ['zlib']);
  assert.deepEqual(direct.dependents.map((d) => d.pkgbase), ['curl', 'docs']);
  assert.deepEqual(findDependents(set, ['zlib'], { kinds: ['depends'] }).dependents.map((d) => d.pkgbase), ['curl']);
  assert.deepEqual(findDependents(set, ['zlib'], { depth: 2 }).dependents.map((d) => [d.pkgbase, d.depth]), [['curl', 1], ['docs', 1], ['git', 2]]);
  const r = findDependents(set, ['zlib'], { rebuildOrder: true });
  assert.deepEqual(r.order, ['curl', 'docs', 'git', 'p1', 'p2']);
  assert.deepEqual(r.cycles?.map((c) => c.members), [['p1', 'p2']]);
  assert.throws(() => findDependents(set, ['nope']), /nope: no such package or pkgbase/);
});

test('dependents on the real 2022 databases: who needs zstd (through libzstd.so too)', () => {
  const r = findDependents(upstream, ['zstd'], { kinds: ['depends'] });
  const names = r.dependents.map((d) => d.pkgbase);
  assert.ok(names.includes('curl') && names.includes('qemu'));
  assert.ok(r.dependents.find((d) => d.pkgbase === 'curl')?.via.includes('depends libzstd.so=1-64'));
});
