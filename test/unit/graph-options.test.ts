import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolvePluginOptions } from '../../tools/src/graph/plugin-options';
import { buildTargetConfiguration } from '../../tools/plugin/targets';

test('defaults: architectures from chroot-config, x86_64 first choice, abi policy', () => {
  const o = resolvePluginOptions(undefined, ['aarch64', 'x86_64']);
  assert.deepEqual(o.architectures, ['aarch64', 'x86_64']);
  assert.equal(o.defaultArchitecture, 'x86_64');
  assert.equal(o.rebuildPolicy, 'abi');
  assert.equal(o.metadataSource, 'pkgbuild');
});

test('errors name the key', () => {
  assert.throws(() => resolvePluginOptions({ rebuildPolicy: 'sometimes' }, []), /option "rebuildPolicy".*must be one of "local", "abi", "transitive", got "sometimes"/);
  assert.throws(() => resolvePluginOptions({ architectures: ['x86_64'], defaultArchitecture: 'aarch64' }, ['x86_64']), /option "defaultArchitecture"/);
  assert.throws(() => resolvePluginOptions({ breakEdges: ['a b'] }, []), /option "breakEdges" \(nx.json plugins\[\]\.options\): "a b" must look like/);
  assert.throws(() => resolvePluginOptions({ targetRepositories: { riscv64: [] } }, ['x86_64']), /option "targetRepositories.riscv64"/);
  assert.throws(() => resolvePluginOptions({ colour: 'blue' }, []), /option "colour".*is not a known option/);
});

test('the build target: one configuration per architecture, no npm inputs, policy-specific inputs', () => {
  const abi = buildTargetConfiguration('libhello', resolvePluginOptions({}, ['aarch64', 'x86_64']));
  assert.ok(abi.configurations && abi.inputs);
  assert.deepEqual(Object.keys(abi.configurations), ['aarch64', 'x86_64']);
  assert.equal(abi.defaultConfiguration, 'x86_64');
  assert.deepEqual(abi.dependsOn, ['^build']);
  assert.deepEqual(abi.outputs, ['{workspaceRoot}/dist/{options.arch}/libhello']);
  assert.ok(abi.inputs.some((i) => typeof i === 'object' && Array.isArray((i as { externalDependencies?: unknown }).externalDependencies) && (i as { externalDependencies: unknown[] }).externalDependencies.length === 0));
  assert.ok(abi.inputs.some((i) => typeof i === 'object' && (i as { dependentTasksOutputFiles?: string }).dependentTasksOutputFiles === '**/abi.json'));
  const local = buildTargetConfiguration('x', resolvePluginOptions({ rebuildPolicy: 'local' }, []));
  assert.ok(!local.inputs?.some((i) => typeof i === 'object' && 'dependentTasksOutputFiles' in i));
  const transitive = buildTargetConfiguration('x', resolvePluginOptions({ rebuildPolicy: 'transitive' }, []));
  assert.ok(transitive.inputs?.some((i) => typeof i === 'object' && (i as { transitive?: boolean }).transitive === true));
  const nocheck = buildTargetConfiguration('tap-runner', resolvePluginOptions({}, []), ['tap-fixtures']);
  assert.equal(nocheck.options?.nocheck, true);
});

test('architectures may only name architectures with a chroot-config/<arch>/makepkg.conf; the error names the key and the directory', () => {
  assert.throws(
    () => resolvePluginOptions({ architectures: ['x86_64', 'riscv64'] }, ['aarch64', 'x86_64']),
    /^PluginOptionsError: pkgnx plugin option "architectures" \(nx\.json plugins\[\]\.options\): "riscv64" has no chroot-config\/riscv64\/makepkg\.conf \(found there: aarch64, x86_64\)/,
  );
  assert.throws(() => resolvePluginOptions({ architectures: ['x86_64'] }, []), /"x86_64" has no chroot-config\/x86_64\/makepkg\.conf \(chroot-config\/ has none\)/);
  assert.deepEqual(resolvePluginOptions({ architectures: ['aarch64'] }, ['aarch64', 'x86_64']).defaultArchitecture, 'aarch64');
});

test('without chroot-config/x86_64 the default does not silently become another architecture: an error saying what was found and what to set', () => {
  assert.throws(
    () => resolvePluginOptions({}, ['aarch64', 'riscv64']),
    /option "defaultArchitecture" .*: not set, and chroot-config\/x86_64\/makepkg\.conf does not exist \(found there: aarch64, riscv64\): the default configuration would silently become aarch64; set "defaultArchitecture": "aarch64"/,
  );
  assert.equal(resolvePluginOptions({ defaultArchitecture: 'riscv64' }, ['aarch64', 'riscv64']).defaultArchitecture, 'riscv64');
  // no chroot-config at all: the graph still loads for x86_64 (a build refuses, see build-run-build.test.ts)
  assert.deepEqual(resolvePluginOptions({}, []).architectures, ['x86_64']);
});
