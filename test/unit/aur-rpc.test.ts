import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { aurInfo, batchInfoRequests, resolveAurDependencies, AurRpcError } from '../../tools/src/aur/rpc';
import { firstSatisfier, repositorySatisfier, workspaceSatisfier } from '../../tools/src/aur/satisfiers';
import { pkg, repoSetFrom } from '../fixtures/upstream/scenario';
import { startAurServer, type AurServer } from '../helpers/aur-server';

let server: AurServer;

before(async () => {
  server = await startAurServer([
    { name: 'yay', version: '12.4.2-1', depends: ['pacman>6.1', 'git', 'libalpm-go>=2'], makedepends: ['go>=1.21'] },
    { name: 'libalpm-go', version: '2.1-1', depends: ['helper-a'] },
    { name: 'helper-a', version: '1.0-1', checkdepends: ['test-thing'] },
    { name: 'test-thing', version: '3-1' },
    // split AUR base: two names, one base
    { name: 'python-foo', base: 'foo', version: '1-1', depends: ['foo-common'] },
    { name: 'foo-common', base: 'foo', version: '1-1' },
    { name: 'app', version: '1-1', depends: ['python-foo', 'virtual-thing>=2', 'old-lib>=5'] },
    { name: 'provider-of-virtual', version: '1-1', provides: ['virtual-thing=2.5'] },
    { name: 'virtual-thing', version: '1.0-1' },
    { name: 'old-lib', version: '4-1' },
    { name: 'needs-provider', version: '1-1', depends: ['provider-of-virtual', 'virtual-thing>=2'] },
    { name: 'cyc-a', version: '1-1', depends: ['cyc-b'] },
    { name: 'cyc-b', version: '1-1', makedepends: ['cyc-a'] },
  ]);
});
after(() => server.close());

test('info: real v5 format, absent names left out', async () => {
  const info = await aurInfo(['yay', 'nope'], { baseUrl: server.baseUrl });
  assert.deepEqual([...info.keys()], ['yay']);
  const yay = info.get('yay')!;
  assert.equal(yay.PackageBase, 'yay');
  assert.deepEqual(yay.MakeDepends, ['go>=1.21']);
  assert.equal(yay.CheckDepends, undefined);
  assert.match(server.requests.at(-1)!, /^\/rpc\/v5\/info\?arg\[\]=yay&arg\[\]=nope$/);
});

test('batching by count and URL length', () => {
  const names = Array.from({ length: 250 }, (_, i) => `package-${i}`);
  const urls = batchInfoRequests(names, { baseUrl: 'http://x' });
  assert.equal(urls.length, 3);
  const long = Array.from({ length: 100 }, (_, i) => `${'x'.repeat(90)}${i}`);
  const byLen = batchInfoRequests(long, { baseUrl: 'http://x', maxUrlLength: 4000 });
  assert.ok(byLen.length > 1 && byLen.every((u) => u.length <= 4000));
  assert.equal(byLen.flatMap((u) => u.split('&')).length, 100);
});

test('errors are AurRpcError with the AUR message', async () => {
  await assert.rejects(aurInfo(['x'], { baseUrl: `${server.baseUrl}/bad` }), AurRpcError);
});

test('recursive resolution: repos and workspace satisfy, dependency order', async () => {
  const repo = repositorySatisfier(
    await repoSetFrom({ core: [pkg('pacman', '7.0.0-1', { provides: ['libalpm.so=15-64'] })], extra: [pkg('git', '2.47-1'), pkg('go', '2:1.23-1')] }),
  );
  const ws = workspaceSatisfier({ projects: [{ project: 'test-thing', version: '3-1', packages: [{ name: 'test-thing', provides: [] }] }], unreadable: [] });
  const r = await resolveAurDependencies(['yay'], { baseUrl: server.baseUrl, satisfiedBy: firstSatisfier(ws, repo) });
  assert.deepEqual(r.bases.map((b) => b.pkgbase), ['helper-a', 'libalpm-go', 'yay']);
  assert.deepEqual(r.unresolved, []);
  assert.equal(r.external.get('pacman>6.1'), 'repo core: pacman');
  assert.equal(r.external.get('go>=1.21'), 'repo extra: go');
  assert.equal(r.external.get('test-thing'), 'workspace: test-thing');
  assert.ok(r.bases.find((b) => b.pkgbase === 'yay')!.target);
  assert.deepEqual(r.bases.find((b) => b.pkgbase === 'yay')!.dependsOn, ['libalpm-go']);
});

test('checkdepends followed unless disabled', async () => {
  const r = await resolveAurDependencies(['helper-a'], { baseUrl: server.baseUrl });
  assert.deepEqual(r.bases.map((b) => b.pkgbase), ['test-thing', 'helper-a']);
  const n = await resolveAurDependencies(['helper-a'], { baseUrl: server.baseUrl, checkDepends: false });
  assert.deepEqual(n.bases.map((b) => b.pkgbase), ['helper-a']);
});

test('split bases, versioned deps (libalpm rules), unresolved with reasons', async () => {
  const r = await resolveAurDependencies(['app'], { baseUrl: server.baseUrl });
  const foo = r.bases.find((b) => b.pkgbase === 'foo')!;
  assert.deepEqual(foo.names.sort(), ['foo-common', 'python-foo']);
  assert.equal(r.bases.filter((b) => b.pkgbase === 'foo').length, 1);
  // virtual-thing 1.0 does not satisfy >=2; old-lib 4 does not satisfy >=5
  assert.deepEqual(
    r.unresolved.map((u) => [u.dep, u.reason]).sort(),
    [
      ['old-lib>=5', 'the AUR has old-lib 4-1'],
      ['virtual-thing>=2', 'the AUR has virtual-thing 1.0-1'],
    ],
  );
  assert.deepEqual(r.bases.map((b) => b.pkgbase), ['foo', 'app']);
});

test('a chosen AUR package\'s versioned Provides satisfies later dependencies (no fetch)', async () => {
  const r = await resolveAurDependencies(['needs-provider'], { baseUrl: server.baseUrl });
  assert.deepEqual(r.unresolved, []);
  assert.deepEqual(r.bases.map((b) => b.pkgbase), ['provider-of-virtual', 'needs-provider']);
  // provider chosen in an earlier round: virtual-thing is never asked for
  const seen = server.requests.length;
  const r2 = await resolveAurDependencies(['provider-of-virtual', 'needs-provider'], { baseUrl: server.baseUrl });
  assert.deepEqual(r2.unresolved, []);
  assert.ok(!server.requests.slice(seen).some((q) => q.includes('arg[]=virtual-thing')), server.requests.slice(seen).join(' '));
});

test('cycles are reported, order still complete', async () => {
  const r = await resolveAurDependencies(['cyc-a'], { baseUrl: server.baseUrl });
  assert.deepEqual(r.bases.map((b) => b.pkgbase), ['cyc-b', 'cyc-a']);
  assert.deepEqual(r.cycles, [['cyc-a', 'cyc-b']]);
});

test('unknown target reported', async () => {
  const r = await resolveAurDependencies(['does-not-exist'], { baseUrl: server.baseUrl });
  assert.deepEqual(r.bases, []);
  assert.equal(r.unresolved[0].dep, 'does-not-exist');
});

test('maxRounds exhausted: the still-pending dependencies are reported unresolved, not dropped', async () => {
  const repo = repositorySatisfier(await repoSetFrom({ core: [pkg('pacman', '7.0.0-1')], extra: [pkg('git', '2.47-1'), pkg('go', '2:1.23-1')] }));
  const r = await resolveAurDependencies(['yay'], { baseUrl: server.baseUrl, satisfiedBy: repo, maxRounds: 1 });
  assert.deepEqual(r.bases.map((b) => b.pkgbase).sort(), ['libalpm-go', 'yay']);
  assert.equal(r.unresolved.length, 1);
  assert.equal(r.unresolved[0].dep, 'helper-a');
  assert.deepEqual([...r.unresolved[0].requiredBy], ['libalpm-go']);
  assert.match(r.unresolved[0].reason, /not resolved within 1 rounds/);
});

test('the workspace answers as the graph resolves: libalpm provision rules, unreadable directories keep their name', () => {
  const ws = workspaceSatisfier({
    projects: [{ project: 'jdk', version: '24-1', packages: [{ name: 'jdk24-openjdk', provides: ['java-environment=24', 'java-runtime'] }] }],
    unreadable: ['broken-thing'],
  });
  const dep = (name: string, op: '' | '>=' | '=' = '', version = '') => ({ name, op, version });
  assert.equal(ws(dep('java-environment', '>=', '21')), 'workspace: jdk');
  assert.equal(ws(dep('java-runtime', '>=', '21')), undefined, 'an unversioned provision never satisfies a versioned dependency');
  assert.equal(ws(dep('jdk24-openjdk', '=', '24-1')), 'workspace: jdk');
  assert.equal(ws(dep('broken-thing')), 'workspace: broken-thing');
  assert.equal(ws(dep('nothing')), undefined);
});
