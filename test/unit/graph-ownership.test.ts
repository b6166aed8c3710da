// Project names and ownership (tools/src/graph/ownership.ts) through loadWorkspaceGraph: the same pkgbase in several
// directories, a pkgname built by several pkgbases, broken directories next to good ones; and build dependencies
// only the package itself provides (self-cycles).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadWorkspaceGraph, type MetadataLoader, type WorkspaceGraph } from '../../tools/src/graph/workspace-graph';
import { resolvePluginOptions } from '../../tools/src/graph/plugin-options';
import { formatSelfCycles } from '../../tools/src/graph/cycles';
import { parseSrcinfo } from '../../tools/src/srcinfo';
import type { MetadataResult } from '../../tools/src/metadata';
import { writeSyncDatabase } from '../helpers/syncdb-writer';
import { tempDir } from '../helpers/env';

/** metadata by directory name (the last path component); a missing one is a broken PKGBUILD */
function loaderFrom(srcinfos: Record<string, string>): MetadataLoader {
  return async (dirs, archs) => {
    const byDir = new Map(
      dirs.map((d): [string, MetadataResult] => {
        const name = d.split('/').pop()!;
        const text = srcinfos[name];
        return [d, text ? { srcinfo: parseSrcinfo(text), warnings: [] } : { error: `pkgbuilds/${name}/PKGBUILD: pkgrel is not allowed to be empty.` }];
      }),
    );
    return new Map(archs.map((a) => [a, byDir]));
  };
}

/** a pkgbase with split packages: `packages` = name -> extra lines of its section */
function srcinfo(pkgbase: string, lines: string[] = [], packages: Record<string, string[]> = { [pkgbase]: [] }, version = '1.0'): string {
  const body = lines.map((l) => `\t${l}\n`).join('');
  const pkgs = Object.entries(packages).map(([n, ls]) => `\npkgname = ${n}\n${ls.map((l) => `\t${l}\n`).join('')}`).join('');
  return `pkgbase = ${pkgbase}\n\tpkgver = ${version}\n\tpkgrel = 1\n\tarch = x86_64\n${body}${pkgs}`;
}

async function graphOf(metadata: Record<string, string>, order?: string[], rawOptions: Record<string, unknown> = {}, workspaceRoot = '/nonexistent'): Promise<WorkspaceGraph> {
  return loadWorkspaceGraph({
    workspaceRoot,
    pkgbuildFiles: (order ?? Object.keys(metadata)).map((n) => `pkgbuilds/${n}/PKGBUILD`),
    options: resolvePluginOptions(rawOptions, ['x86_64']),
    loadMetadata: loaderFrom(metadata),
  });
}

const names = (g: WorkspaceGraph): Record<string, string> => Object.fromEntries(g.projects.map((p) => [p.root, p.name]));
const edges = (g: WorkspaceGraph): string[] => g.edges.map((e) => `${e.source}->${e.target}`).sort();

test('the same pkgbase in several directories: one project each, a warning naming every directory, dependents ordered after the primary', async () => {
  const kernel = srcinfo('linux', [], { linux: [], 'linux-headers': ['depends = linux'] });
  const metadata = { 'linux-x64v2': kernel, 'linux-x64v3': kernel, 'linux-x64v4': kernel, app: srcinfo('app', ['depends = linux', 'makedepends = linux-headers']) };
  const g = await graphOf(metadata);
  assert.deepEqual(names(g), { 'pkgbuilds/app': 'app', 'pkgbuilds/linux-x64v2': 'linux', 'pkgbuilds/linux-x64v3': 'linux-x64v3', 'pkgbuilds/linux-x64v4': 'linux-x64v4' });
  assert.ok(g.projects.every((p) => !p.error), JSON.stringify(g.projects.map((p) => p.error)));
  const warning =
    'pkgbase "linux" is defined in 3 directories: pkgbuilds/linux-x64v2/PKGBUILD (project "linux"), pkgbuilds/linux-x64v3/PKGBUILD (project "linux-x64v3"), ' +
    'pkgbuilds/linux-x64v4/PKGBUILD (project "linux-x64v4"); each is its own project, and dependents on their packages are ordered after "linux"';
  assert.deepEqual(g.warnings, [warning]);
  for (const n of ['linux', 'linux-x64v3', 'linux-x64v4']) assert.deepEqual(g.projects.find((p) => p.name === n)!.warnings, [warning]);
  // the split package's runtime dependency on its own package is no edge; the dependent goes to the primary only
  assert.deepEqual(edges(g), ['app->linux']);
  // whatever order the directories come in
  assert.deepEqual(names(await graphOf(metadata, ['linux-x64v4', 'app', 'linux-x64v3', 'linux-x64v2'])), names(g));
});

test('a directory named after its pkgbase is the primary even when another directory of that pkgbase sorts first', async () => {
  const hello = srcinfo('hello');
  const g = await graphOf({ aaa: hello, hello, app: srcinfo('app', ['depends = hello']) });
  assert.deepEqual(names(g), { 'pkgbuilds/aaa': 'aaa', 'pkgbuilds/app': 'app', 'pkgbuilds/hello': 'hello' });
  assert.deepEqual(edges(g), ['app->hello']);
  assert.match(g.warnings.join('\n'), /dependents on their packages are ordered after "hello"/);
});

test('a broken directory never takes a good project\'s name: it gets a name derived from its path', async () => {
  // pkgbuilds/aaa cannot be read; pkgbuilds/zzz has pkgbase aaa
  const g = await graphOf({ aaa: '', zzz: srcinfo('aaa'), app: srcinfo('app', ['depends = aaa']) });
  assert.deepEqual(names(g), { 'pkgbuilds/aaa': 'pkgbuilds-aaa', 'pkgbuilds/app': 'app', 'pkgbuilds/zzz': 'aaa' });
  assert.match(g.projects.find((p) => p.root === 'pkgbuilds/aaa')!.error!, /^pkgbuilds\/aaa\/PKGBUILD: /);
  assert.deepEqual(edges(g), ['app->aaa']);
  // once fixed, pkgbuilds/aaa is the directory named after pkgbase aaa: it is the primary, zzz the second directory
  const fixed = await graphOf({ aaa: srcinfo('aaa'), zzz: srcinfo('aaa') });
  assert.deepEqual(names(fixed), { 'pkgbuilds/aaa': 'aaa', 'pkgbuilds/zzz': 'zzz' });
});

test('package names built by several pkgbases: every conflict is reported at once, naming every directory and package', async () => {
  const g = await graphOf({
    a: srcinfo('a', [], { a: [], x: [], y: [] }),
    b: srcinfo('b', [], { b: [], x: [], y: [] }),
    c: srcinfo('c', [], { c: [], x: [] }),
    d: srcinfo('d'),
  });
  const err = (root: string): string | undefined => g.projects.find((p) => p.root === `pkgbuilds/${root}`)!.error;
  assert.equal(err('a'), undefined);
  assert.equal(err('d'), undefined);
  assert.equal(
    err('b'),
    'pkgbuilds/b/PKGBUILD: packages "x" (also built by pkgbuilds/a/PKGBUILD (pkgbase a, keeps it), pkgbuilds/c/PKGBUILD (pkgbase c)), ' +
      '"y" (also built by pkgbuilds/a/PKGBUILD (pkgbase a, keeps it)): a package name can come from only one pkgbase; rename or remove them here or there',
  );
  assert.equal(
    err('c'),
    'pkgbuilds/c/PKGBUILD: package "x" (also built by pkgbuilds/a/PKGBUILD (pkgbase a, keeps it), pkgbuilds/b/PKGBUILD (pkgbase b)): ' +
      'a package name can come from only one pkgbase; rename or remove it here or there',
  );
  assert.deepEqual(names(g), { 'pkgbuilds/a': 'a', 'pkgbuilds/b': 'b', 'pkgbuilds/c': 'c', 'pkgbuilds/d': 'd' });
});

const jdk = (pkgbase: string, major: number, lines: string[]): string =>
  srcinfo(pkgbase, lines, { [`jdk${major}-openjdk`]: [`provides = java-environment=${major}`, `depends = jre${major}-openjdk`], [`jre${major}-openjdk`]: [`provides = java-runtime=${major}`] }, `${major}.0.1`);

test('a makedepends only the package itself satisfies resolves to another project that provides it', async () => {
  const g = await graphOf({
    'java24-openjdk': jdk('java24-openjdk', 24, ['makedepends = java-environment>=23']),
    'java23-openjdk': jdk('java23-openjdk', 23, ['makedepends = java-environment<24']),
  });
  // java24 builds after java23; java23 only satisfies itself: a self-cycle
  assert.deepEqual(edges(g), ['java24-openjdk->java23-openjdk']);
  assert.deepEqual(g.cycles.removed, []);
  assert.deepEqual(g.selfCycles.map((c) => `${c.project} ${c.kind} ${c.dep}`), ['java23-openjdk makedepends java-environment<24']);
});

test('... or to the target repository; otherwise it is a self-cycle that needs a bootstrap, in the warnings and in pkgnx cycles', async () => {
  const ws = tempDir('pkgnx-selfcycle-');
  await writeSyncDatabase(join(ws, 'repos', 'extra.db.tar.gz'), [{ name: 'jdk23-openjdk', version: '23.0.2-1', provides: ['java-environment=23'] }]);
  const metadata = {
    'java24-openjdk': jdk('java24-openjdk', 24, ['makedepends = java-environment>=23', 'checkdepends = jre24-openjdk']),
    rust: srcinfo('rust', ['makedepends = rust', 'depends = gcc-libs'], { rust: [] }),
  };
  const withRepo = await graphOf(metadata, undefined, { targetRepositories: { x86_64: ['repos/extra.db.tar.gz'] } }, ws);
  assert.deepEqual(edges(withRepo), []);
  // the JDK comes from the target repository; rust and java24's checkdepends on its own jre have no other provider
  assert.deepEqual(withRepo.selfCycles.map((c) => `${c.project} ${c.kind} ${c.dep}`), ['java24-openjdk checkdepends jre24-openjdk', 'rust makedepends rust']);
  assert.ok(
    withRepo.warnings.includes(
      "rust (x86_64) makedepends 'rust': a self-cycle, only rust itself builds rust 1.0-1; no other project and no target repository provides it: its first build needs a bootstrap (a binary of rust in the build root)",
    ),
    withRepo.warnings.join('\n'),
  );
  const without = await graphOf(metadata);
  const java = without.selfCycles.find((c) => c.dep === 'java-environment>=23')!;
  assert.deepEqual(java, { project: 'java24-openjdk', kind: 'makedepends', dep: 'java-environment>=23', satisfiedBy: 'provides java-environment=24', archs: ['x86_64'], targetRepositories: [] });
  const report = formatSelfCycles(without.selfCycles);
  assert.match(report, /^3 build dependencies only the package itself provides/);
  assert.match(report, /java24-openjdk \(x86_64\) makedepends 'java-environment>=23': a self-cycle, only java24-openjdk itself provides java-environment=24; no other project provides it \(no targetRepositories for x86_64\)/);
  assert.match(report, /checkdepends 'jre24-openjdk'.*, or --nocheck\)/);
});

test('a package\'s own runtime depends satisfied by itself stays self: no edge, no self-cycle', async () => {
  const g = await graphOf({ 'java24-openjdk': jdk('java24-openjdk', 24, ['depends = java-runtime>=24']) });
  assert.deepEqual(edges(g), []);
  assert.deepEqual(g.selfCycles, []);
  assert.deepEqual(g.warnings, []);
});
