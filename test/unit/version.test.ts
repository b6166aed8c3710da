import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { vercmp, parseEvr, maxVersion } from '../../tools/src/version';
import { dependencyName, parseDependency } from '../../tools/src/depends';
import { buildProvisionIndex, resolveDependency } from '../../tools/src/graph/resolve';
import { RepoSet } from '../../tools/src/repo-set';
import type { SyncPackage } from '../../tools/src/syncdb';

const syncPackage = (name: string, version: string, provides: string[]): SyncPackage => ({
  repo: 'r', name, base: name, version, desc: '', arch: 'x86_64', filename: `${name}-${version}-x86_64.pkg.tar.zst`,
  groups: [], license: [], replaces: [], conflicts: [], provides, depends: [], optdepends: [], makedepends: [], checkdepends: [], xdata: [], raw: {},
});
import { SHARED_DATA, hasCommand } from '../helpers/env';
import { readSyncDatabase } from '../../tools/src/syncdb';

function oracleRows(file: string): [string, string, number][] {
  return readFileSync(`${SHARED_DATA}/oracles/${file}`, 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'))
    .map((l) => {
      const [a, b, e] = l.trim().split(/\s+/);
      return [a, b, Number(e)];
    });
}

for (const file of ['vercmp_cases.txt', 'vercmp_cases_alpm_types.txt']) {
  test(`vercmp agrees with every row of ${file}`, () => {
    const rows = oracleRows(file);
    assert.ok(rows.length >= 33);
    for (const [a, b, expected] of rows) assert.equal(vercmp(a, b), expected, `vercmp(${a}, ${b})`);
  });
}

test('dependency satisfaction agrees with every row of depsatisfy_cases.txt', () => {
  const rows = readFileSync(`${SHARED_DATA}/oracles/depsatisfy_cases.txt`, 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'));
  assert.equal(rows.length, 15);
  for (const row of rows) {
    const [dep, pkg, provides, expected] = row.split('\t');
    const [name, version] = pkg.split('=');
    const provided = provides === '-' ? [] : [provides];
    // both resolvers: the graph's (workspace projects) and RepoSet's (repository databases)
    const index = buildProvisionIndex([{ project: 'p', version, packages: [{ name, provides: provided }] }]);
    assert.equal(resolveDependency(dep, 'other', index).kind === 'workspace', expected === '1', `graph: ${row}`);
    const repos = new RepoSet([{ database: { repo: 'r', packages: [syncPackage(name, version, provided)] } }]);
    assert.equal(repos.isSatisfied(parseDependency(dep)), expected === '1', `RepoSet: ${row}`);
  }
});

test('predecessor acceptance scenario 2: alpm version semantics', () => {
  assert.equal(vercmp('1:1.0-1', '2.0-5'), 1);
  assert.equal(vercmp('1.0-2', '1.0-1'), 1);
  assert.equal(vercmp('0.9.1_p10-1', '0.9.1_p2-1'), 1);
  assert.equal(vercmp('1.0a', '1.0'), -1);
  assert.equal(vercmp('1.0.r10.gabc-1', '1.0-1'), 1);
  assert.deepEqual(parseEvr('2:1.0-3'), { epoch: '2', version: '1.0', release: '3' });
  assert.equal(maxVersion(['1.0-1', '1:0.1-1', '2.0-1']), '1:0.1-1');
});

test('parseDependency reads operators and optdepends descriptions', () => {
  assert.deepEqual(parseDependency('foo>=1.2-3'), { name: 'foo', op: '>=', version: '1.2-3' });
  assert.deepEqual(parseDependency('libfoo.so=1-64'), { name: 'libfoo.so', op: '=', version: '1-64' });
  assert.deepEqual(parseDependency('bar<2'), { name: 'bar', op: '<', version: '2' });
  assert.deepEqual(parseDependency('python-x: for the y plugin'), { name: 'python-x', op: '', version: '', description: 'for the y plugin' });
});

test('vercmp matches the real vercmp binary on random pairs of real database versions', { skip: !hasCommand('vercmp') }, async () => {
  const versions = new Set<string>();
  for (const db of ['arch-x86_64-2022/core.db.tar.gz', 'arch-x86_64-2022/extra.db.tar.gz', 'chaotic-aur-2022/chaotic-aur.db.tar.xz']) {
    for (const p of (await readSyncDatabase(`${SHARED_DATA}/syncdb/${db}`)).packages) versions.add(p.version);
  }
  const all = [...versions];
  // deterministic pseudo-random pairs (LCG), plus neighbours that share prefixes
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const pairs: [string, string][] = [];
  for (let i = 0; i < 600; i++) pairs.push([all[Math.floor(next() * all.length)], all[Math.floor(next() * all.length)]]);
  const sorted = [...all].sort();
  for (let i = 0; i + 1 < sorted.length && pairs.length < 1000; i += 7) pairs.push([sorted[i], sorted[i + 1]]);
  // one vercmp process for all pairs: a bash loop inside a single process keeps this fast
  const script = pairs.map(([a, b]) => `vercmp '${a}' '${b}'`).join('\n');
  const out = execFileSync('bash', ['-c', script], { encoding: 'utf8', maxBuffer: 1 << 24 }).trim().split('\n');
  assert.equal(out.length, pairs.length);
  const mismatches = pairs.filter(([a, b], i) => vercmp(a, b) !== Math.sign(Number(out[i])));
  assert.deepEqual(mismatches, []);
  assert.ok(pairs.length >= 1000);
});

test('dependencyName is the name parseDependency reads', () => {
  for (const d of ['foo', 'foo>=1.2-3', 'libfoo.so=1-64', 'bar<2', 'baz: needed for x>=2', 'qux>1: why: because', 'sh: a shell'])
    assert.equal(dependencyName(d), parseDependency(d).name, d);
});
