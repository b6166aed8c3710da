// arch=(any) packages built once (packaging/any-arch.ts): which qualify, and where the one build runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseAnyBuildArch, isAnyPackage } from '../../tools/src/packaging/any-arch';

const pkg = (arch: string[]) => ({ name: 'p', arch, depends: [], optdepends: [], provides: [], conflicts: [], replaces: [] });

test('isAnyPackage: arch=(any) only, and no split package with a real architecture', () => {
  assert.equal(isAnyPackage({ arch: ['any'], packages: [pkg([])] }), true);
  assert.equal(isAnyPackage({ arch: ['any'], packages: [pkg([]), pkg(['any'])] }), true);
  assert.equal(isAnyPackage({ arch: ['any'], packages: [pkg([]), pkg(['x86_64'])] }), false, 'a split package overriding arch depends on the target');
  assert.equal(isAnyPackage({ arch: ['x86_64', 'aarch64'], packages: [pkg([])] }), false);
  assert.equal(isAnyPackage({ arch: ['any', 'x86_64'], packages: [pkg([])] }), false);
});

test('chooseAnyBuildArch: natively whenever the host has what the build needs, else on the architecture Nx ordered', () => {
  const base = { host: 'x86_64', configured: ['x86_64', 'aarch64'] };
  assert.match(chooseAnyBuildArch({ ...base, orderedFor: 'aarch64', archDependencies: [] }).reason, /natively on x86_64: no architecture-specific/);
  const dep = { pkgbase: 'lib', version: '1.0-2' };
  assert.equal(chooseAnyBuildArch({ ...base, orderedFor: 'x86_64', archDependencies: [{ ...dep, builtOnHost: [] }] }).arch, 'x86_64');
  assert.equal(chooseAnyBuildArch({ ...base, orderedFor: undefined, archDependencies: [{ ...dep, builtOnHost: [] }] }).arch, 'x86_64');
  // an aarch64 run: Nx ordered the aarch64 builds of the dependencies; the host's copy is used only when current
  assert.equal(chooseAnyBuildArch({ ...base, orderedFor: 'aarch64', archDependencies: [{ ...dep, builtOnHost: ['1.0-2'] }] }).arch, 'x86_64');
  const emulated = chooseAnyBuildArch({ ...base, orderedFor: 'aarch64', archDependencies: [{ ...dep, builtOnHost: ['1.0-1'] }] });
  assert.equal(emulated.arch, 'aarch64');
  assert.match(emulated.reason, /dist\/x86_64\/ lacks lib 1\.0-2 \(build the x86_64 configuration first/);
  // a host that is not one of the workspace's architectures
  assert.equal(chooseAnyBuildArch({ host: 'riscv64', configured: ['x86_64', 'aarch64'], orderedFor: 'aarch64', archDependencies: [] }).arch, 'aarch64');
});
