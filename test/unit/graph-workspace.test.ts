import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadWorkspaceGraph, type MetadataLoader, type WorkspaceGraph } from '../../tools/src/graph/workspace-graph';
import { resolvePluginOptions } from '../../tools/src/graph/plugin-options';
import { parseSrcinfo } from '../../tools/src/srcinfo';
import type { MetadataResult } from '../../tools/src/metadata';
import { writeSyncDatabase } from '../helpers/syncdb-writer';
import { tempDir } from '../helpers/env';

/** Metadata straight from .SRCINFO texts: the graph logic without the sandbox. */
function loaderFrom(srcinfos: Record<string, string>): MetadataLoader {
  return async (dirs, archs) => {
    const byDir = new Map(dirs.map((d): [string, MetadataResult] => {
      const name = d.split('/').pop()!;
      const text = srcinfos[name];
      return [d, text ? { srcinfo: parseSrcinfo(text), warnings: [] } : { error: `pkgbuilds/${name}/PKGBUILD: missing` }];
    }));
    return new Map(archs.map((a) => [a, byDir]));
  };
}
const srcinfo = (name: string, lines: string[] = [], version = '1.0', arch = 'x86_64'): string =>
  `pkgbase = ${name}\n\tpkgver = ${version}\n\tpkgrel = 1\n\tarch = ${arch}\n${lines.map((l) => `\t${l}\n`).join('')}\npkgname = ${name}\n`;

test('a cycle is broken at the edge whose dependency the target repository already has, and external deps are validated', async () => {
  const ws = tempDir('pkgnx-graph-');
  await writeSyncDatabase(join(ws, 'repos', 'core.db.tar.gz'), [
    { name: 'gcc', version: '12.2.0-1' },
    { name: 'glibc', version: '2.36-3', provides: ['libc.so=6-64'] },
  ]);
  const metadata = {
    gcc: srcinfo('gcc', ['depends = glibc>=2.36', 'makedepends = binutils']),
    glibc: srcinfo('glibc', ['makedepends = gcc']),
    binutils: srcinfo('binutils', ['depends = glibc', 'depends = zlib-not-anywhere']),
  };
  const options = resolvePluginOptions({ targetRepositories: { x86_64: ['repos/core.db.tar.gz'] }, validateExternal: true }, ['x86_64']);
  const g = await loadWorkspaceGraph({
    workspaceRoot: ws,
    pkgbuildFiles: Object.keys(metadata).map((n) => `pkgbuilds/${n}/PKGBUILD`),
    options,
    loadMetadata: loaderFrom(metadata),
  });
  assert.equal(g.cycles.removed.length, 1);
  assert.equal(g.cycles.removed[0].reason, 'binary-available');
  assert.match(g.cycles.removed[0].explanation, /core\/(gcc|glibc) /);
  assert.equal(g.cycles.forced.length, 0);
  assert.ok(g.warnings.includes('binutils needs zlib-not-anywhere (depends, x86_64): not provided by the workspace or the target repositories'), g.warnings.join('\n'));
  assert.deepEqual(g.projects.map((p) => p.name), ['binutils', 'gcc', 'glibc']);
});

test('architecture-specific dependencies count for their architecture; edges are the union', async () => {
  const metadata = {
    app: srcinfo('app', ['arch = aarch64', 'depends_aarch64 = neon-lib', 'depends_x86_64 = sse-lib']),
    'neon-lib': srcinfo('neon-lib', [], '1', 'any'),
    'sse-lib': srcinfo('sse-lib', [], '1', 'any'),
  };
  const g = await loadWorkspaceGraph({
    workspaceRoot: '/nonexistent',
    pkgbuildFiles: Object.keys(metadata).map((n) => `pkgbuilds/${n}/PKGBUILD`),
    options: resolvePluginOptions({}, ['aarch64', 'x86_64']),
    loadMetadata: loaderFrom(metadata),
  });
  assert.deepEqual(g.edges.map((e) => `${e.source}->${e.target}`).sort(), ['app->neon-lib', 'app->sse-lib']);
  const only = await loadWorkspaceGraph({
    workspaceRoot: '/nonexistent',
    pkgbuildFiles: Object.keys(metadata).map((n) => `pkgbuilds/${n}/PKGBUILD`),
    options: resolvePluginOptions({ architectures: ['aarch64'] }, ['aarch64', 'x86_64']),
    loadMetadata: loaderFrom(metadata),
  });
  assert.deepEqual(only.edges.map((e) => `${e.source}->${e.target}`), ['app->neon-lib']);
});

test('several providers give a warning naming them; a versioned dependency the workspace cannot satisfy is external', async () => {
  const metadata = {
    consumer: srcinfo('consumer', ['depends = sh', 'depends = libx>=2']),
    'sh-a': srcinfo('sh-a', ['provides = sh']),
    'sh-b': srcinfo('sh-b', ['provides = sh']),
    libx: srcinfo('libx', [], '1.5'),
  };
  const g = await loadWorkspaceGraph({
    workspaceRoot: '/nonexistent',
    pkgbuildFiles: Object.keys(metadata).map((n) => `pkgbuilds/${n}/PKGBUILD`),
    options: resolvePluginOptions({}, ['x86_64']),
    loadMetadata: loaderFrom(metadata),
  });
  assert.deepEqual(g.edges.map((e) => `${e.source}->${e.target}`), ['consumer->sh-a']);
  assert.ok(g.warnings.some((w) => /consumer \(x86_64\) depends 'sh': provided by several projects \(sh-a, sh-b\); using sh-a/.test(w)), g.warnings.join('\n'));
  assert.ok(g.warnings.some((w) => /consumer \(x86_64\) depends 'libx>=2': not satisfied by the workspace \(libx builds libx 1\.5-1\)/.test(w)), g.warnings.join('\n'));
});

test('an earlier graph\'s resolution is reused exactly when its input is the same: a version counts only where a dependency constrains it', async () => {
  const files = (m: Record<string, string>): string[] => Object.keys(m).map((n) => `pkgbuilds/${n}/PKGBUILD`);
  const options = resolvePluginOptions({}, ['x86_64', 'aarch64']);
  const load = (m: Record<string, string>, previous?: WorkspaceGraph): Promise<WorkspaceGraph> =>
    loadWorkspaceGraph({ workspaceRoot: '/nonexistent', pkgbuildFiles: files(m), options, loadMetadata: loaderFrom(m), previous });
  const base: Record<string, string> = {
    app: srcinfo('app', ['depends = lib>=1.1', 'depends = tool', 'makedepends = sh']),
    lib: srcinfo('lib', [], '1.0', 'any'),
    tool: srcinfo('tool', ['makedepends = app'], '1.0', 'any'),
    shell: srcinfo('shell', ['provides = sh'], '1.0', 'any'),
    // builds with itself: the self-cycle report names its version
    selfy: srcinfo('selfy', ['makedepends = selfy'], '1.0', 'any'),
  };
  const first = await load(base);
  assert.ok(first.warnings.some((w) => /'lib>=1\.1': not satisfied by the workspace \(lib builds lib 1\.0-1\)/.test(w)), first.warnings.join('\n'));
  assert.ok(first.selfCycles.some((c) => c.project === 'selfy' && /1\.0-1/.test(c.satisfiedBy)));
  const edits: [string, Record<string, string>, 'same' | 'other'][] = [
    ['a version nothing constrains', { tool: srcinfo('tool', ['makedepends = app'], '2.0', 'any') }, 'same'],
    ['a provider\'s version, unversioned dependents', { shell: srcinfo('shell', ['provides = sh'], '3.0', 'any') }, 'same'],
    ['a constrained version', { lib: srcinfo('lib', [], '1.1', 'any') }, 'other'],
    ['the version of a package its own base depends on', { selfy: srcinfo('selfy', ['makedepends = selfy'], '1.1', 'any') }, 'other'],
    ['a new dependency', { shell: srcinfo('shell', ['provides = sh', 'depends = lib'], '1.0', 'any') }, 'other'],
    ['a new provision', { lib: srcinfo('lib', ['provides = sh'], '1.0', 'any') }, 'other'],
  ];
  for (const [what, change, expected] of edits) {
    const edited = { ...base, ...change };
    const reused = await load(edited, first);
    const fresh = await load(edited);
    assert.equal(reused.resolutionKey === first.resolutionKey, expected === 'same', what);
    assert.deepEqual(reused, fresh, `${what}: the graph built on the earlier one is the graph computed afresh`);
    if (expected === 'same') assert.equal(reused.edges, first.edges, `${what}: the earlier resolution was taken`);
  }
});
