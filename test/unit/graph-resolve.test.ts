import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildProvisionIndex, resolveDependency } from '../../tools/src/graph/resolve';

const index = buildProvisionIndex([
  { project: 'llvm', version: '15.0.7-1', packages: [{ name: 'llvm', provides: [] }, { name: 'llvm-libs', provides: ['libLLVM-15.so=15-64'] }] },
  { project: 'libhello', version: '1.2.0-1', packages: [{ name: 'libhello', provides: ['hello-api=1.2', 'hello-any'] }] },
  { project: 'sh-a', version: '1-1', packages: [{ name: 'sh-a', provides: ['sh'] }] },
  { project: 'sh-b', version: '1-1', packages: [{ name: 'sh-b', provides: ['sh'] }] },
]);

test('a split package name resolves to its pkgbase', () => {
  const r = resolveDependency('llvm-libs', 'mesa', index);
  assert.deepEqual(r, { kind: 'workspace', project: 'llvm', via: 'pkgname', pkgname: 'llvm-libs', candidates: ['llvm'] });
});

test('versioned dependencies: pkgrel is ignored when the dependency has none, > is strict', () => {
  assert.equal(resolveDependency('libhello>=1.2', 'x', index).kind, 'workspace');
  assert.equal(resolveDependency('libhello=1.2.0', 'x', index).kind, 'workspace');
  assert.equal(resolveDependency('libhello>1.2.0', 'x', index).kind, 'external');
  const r = resolveDependency('libhello>=2', 'x', index);
  assert.equal(r.kind, 'external');
  assert.match((r as { unsatisfiedInWorkspace: string }).unsatisfiedInWorkspace, /libhello builds libhello 1\.2\.0-1/);
});

test('a versioned dependency is satisfied only by a versioned provision', () => {
  assert.equal(resolveDependency('hello-api>=1.0', 'x', index).kind, 'workspace');
  assert.equal(resolveDependency('hello-any', 'x', index).kind, 'workspace');
  assert.equal(resolveDependency('hello-any>=1', 'x', index).kind, 'external');
  assert.equal(resolveDependency('libLLVM-15.so=15-64', 'x', index).kind, 'workspace');
  assert.equal(resolveDependency('libLLVM-15.so=16-64', 'x', index).kind, 'external');
});

test('several providers: a deterministic choice, all of them named', () => {
  const r = resolveDependency('sh', 'x', index);
  assert.deepEqual(r, { kind: 'workspace', project: 'sh-a', via: 'provides', pkgname: 'sh-a', candidates: ['sh-a', 'sh-b'] });
});

test('a dependency on a package of the same pkgbase is not an edge; unknown names are external', () => {
  assert.deepEqual(resolveDependency('llvm-libs', 'llvm', index), { kind: 'self', satisfiedBy: 'builds llvm-libs 15.0.7-1' });
  assert.deepEqual(resolveDependency('glibc', 'llvm', index), { kind: 'external' });
});
