import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempWorkspace, simplePkgbuild, type TempWorkspace } from '../helpers/nx-workspace';

interface GraphJson {
  graph: { nodes: Record<string, { data: { root: string; tags: string[]; metadata: { pkgnx: { pkgnames: string[]; version: string; error?: string } } } }>; dependencies: Record<string, { source: string; target: string; type: string }[]> };
}

function edgesOf(g: GraphJson): string[] {
  return Object.values(g.graph.dependencies)
    .flat()
    .filter((d) => !d.target.startsWith('pkgnx:'))
    .map((d) => `${d.source} -> ${d.target} (${d.type})`)
    .sort();
}

test('nx graph lists the example packages with the expected edges, without the daemon', () => {
  const ws = makeTempWorkspace({ copyExamples: true });
  const r = ws.nx(['graph', '--file=graph.json']);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const g = JSON.parse(readFileSync(join(ws.root, 'graph.json'), 'utf8')) as GraphJson;
  assert.deepEqual(Object.keys(g.graph.nodes).sort(), ['greet-utils', 'hello-cli', 'hello-fr', 'libhello', 'tap-fixtures', 'tap-runner']);
  assert.deepEqual(edgesOf(g), [
    'greet-utils -> hello-cli (static)', // split package: package_greet-utils() depends + checkdepends
    'hello-cli -> libhello (static)', // libhello>=1.2 and the versioned provision libhello.so=1-64
    'hello-fr -> libhello (static)', // hello-api>=1.0 through provides=(hello-api=1.2)
    'tap-fixtures -> tap-runner (static)', // tap-runner -> tap-fixtures (checkdepends) was removed: the cycle
  ]);
  assert.deepEqual(g.graph.nodes['greet-utils'].data.metadata.pkgnx.pkgnames, ['greet-utils', 'greet-utils-doc']);
  assert.ok(g.graph.nodes['greet-utils'].data.tags.includes('split'));
  assert.ok(g.graph.nodes['hello-fr'].data.tags.includes('arch:any'));
  const shown = ws.nx(['show', 'projects']);
  assert.equal(shown.status, 0);
  assert.deepEqual(shown.stdout.trim().split('\n').sort(), Object.keys(g.graph.nodes).sort());
  const project = JSON.parse(ws.nx(['show', 'project', 'tap-runner', '--json']).stdout) as { targets: { build: { options: { nocheck?: boolean } } } };
  assert.equal(project.targets.build.options.nocheck, true, 'the package whose checkdepends edge was cut builds with --nocheck');
});

test('bad input: a duplicate pkgbase is a second project with a warning, a duplicate pkgname names both files, the other projects load', () => {
  const ws = makeTempWorkspace({
    pkgbuilds: {
      'pkgbuilds/alpha/PKGBUILD': simplePkgbuild('alpha', "depends=('beta')"),
      'pkgbuilds/beta/PKGBUILD': simplePkgbuild('beta'),
      'pkgbuilds/beta-copy/PKGBUILD': simplePkgbuild('beta'),
      'pkgbuilds/gamma/PKGBUILD': `pkgbase=gamma\npkgname=(gamma alpha)\npkgver=1\npkgrel=1\narch=(any)\npackage_gamma() { :; }\npackage_alpha() { :; }\n`,
      'pkgbuilds/broken/PKGBUILD': 'pkgname=broken\npkgver=1\narch=(any)\n',
    },
  });
  const r = ws.nx(['graph', '--file=graph.json']);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const g = JSON.parse(readFileSync(join(ws.root, 'graph.json'), 'utf8')) as GraphJson;
  assert.deepEqual(Object.keys(g.graph.nodes).sort(), ['alpha', 'beta', 'beta-copy', 'broken', 'gamma']);
  const err = (name: string): string => g.graph.nodes[name].data.metadata.pkgnx.error ?? '';
  // a second directory of pkgbase beta is its own project, with a warning; alpha's dependency goes to the primary
  assert.equal(err('beta-copy'), '');
  assert.match(r.stderr + r.stdout, /pkgbase "beta" is defined in 2 directories: pkgbuilds\/beta\/PKGBUILD \(project "beta"\), pkgbuilds\/beta-copy\/PKGBUILD \(project "beta-copy"\)/);
  assert.match(err('gamma'), /pkgbuilds\/gamma\/PKGBUILD: package "alpha" \(also built by pkgbuilds\/alpha\/PKGBUILD \(pkgbase alpha, keeps it\)\)/);
  assert.match(err('broken'), /pkgbuilds\/broken\/PKGBUILD.*pkgrel/);
  assert.equal(err('alpha'), '');
  assert.deepEqual(edgesOf(g), ['alpha -> beta (static)']);
  assert.match(r.stderr + r.stdout, /could not be read/);
  const build = ws.nx(['run', 'broken:build']);
  assert.notEqual(build.status, 0);
  assert.match(build.stdout + build.stderr, /pkgrel/);
});

test('graph warnings are printed once per change of the graph, not on every command', () => {
  const ws = makeTempWorkspace({
    pkgbuilds: {
      'pkgbuilds/alpha/PKGBUILD': simplePkgbuild('alpha'),
      'pkgbuilds/broken/PKGBUILD': 'pkgname=broken\npkgver=1\narch=(any)\n',
    },
  });
  const first = ws.nx(['show', 'projects']);
  assert.equal(first.status, 0, first.stderr + first.stdout);
  assert.match(first.stderr + first.stdout, /could not be read/);
  const again = ws.nx(['show', 'projects']);
  assert.equal(again.status, 0, again.stderr + again.stdout);
  assert.doesNotMatch(again.stderr + again.stdout, /could not be read/);
  // an edit that leaves the graph as it was says nothing new; a new project is a new graph
  ws.write('pkgbuilds/alpha/PKGBUILD', simplePkgbuild('alpha', "depends=('glibc')"));
  assert.doesNotMatch(ws.nx(['show', 'projects']).stderr, /could not be read/);
  ws.write('pkgbuilds/gamma/PKGBUILD', simplePkgbuild('gamma'));
  const changed = ws.nx(['show', 'projects']);
  assert.match(changed.stderr + changed.stdout, /could not be read/);
});

/** the workspace's edges as `nx graph --file=<name>` writes them */
function graphEdges(ws: TempWorkspace, name: string): string[] {
  const r = ws.nx(['graph', `--file=${name}`]);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  return edgesOf(JSON.parse(readFileSync(join(ws.root, name), 'utf8')) as GraphJson);
}

test('editing a provider updates the dependents\' edges (no stale file-level cache)', () => {
  const ws = makeTempWorkspace({
    pkgbuilds: {
      'pkgbuilds/app/PKGBUILD': simplePkgbuild('app', "depends=('virtual-thing')"),
      'pkgbuilds/impl-a/PKGBUILD': simplePkgbuild('impl-a', "provides=('virtual-thing')"),
      'pkgbuilds/impl-b/PKGBUILD': simplePkgbuild('impl-b'),
    },
  });
  assert.deepEqual(graphEdges(ws, 'g1.json'), ['app -> impl-a (static)']);
  ws.write('pkgbuilds/impl-a/PKGBUILD', simplePkgbuild('impl-a'));
  ws.write('pkgbuilds/impl-b/PKGBUILD', simplePkgbuild('impl-b', "provides=('virtual-thing')"));
  assert.deepEqual(graphEdges(ws, 'g2.json'), ['app -> impl-b (static)']);
});

test('the next process builds on the cached graph: its resolution while the input is the same, its cycle breaks while the edges are; else computed again', () => {
  const ws = makeTempWorkspace({
    pkgbuilds: {
      'pkgbuilds/alpha/PKGBUILD': simplePkgbuild('alpha', "depends=('beta>=1.0')"),
      'pkgbuilds/beta/PKGBUILD': simplePkgbuild('beta', "makedepends=('alpha')"),
      'pkgbuilds/gamma/PKGBUILD': simplePkgbuild('gamma'),
    },
  });
  const file = join(ws.root, '.nx', 'workspace-data', 'pkgnx', 'graph-nx.json');
  type Cached = { key: string; graph: { resolutionKey: string; cycles: { key: string; removed: { source: string; target: string }[]; components: string[][] } } };
  const cached = (): Cached => JSON.parse(readFileSync(file, 'utf8')) as Cached;
  assert.deepEqual(graphEdges(ws, 'g1.json'), ['alpha -> beta (static)']);
  const first = cached();
  assert.deepEqual(first.graph.cycles.removed.map((e) => `${e.source} -> ${e.target}`), ['beta -> alpha']);
  // a marker no computation makes: it survives only while the next process takes the cached result
  first.graph.cycles.components = [...first.graph.cycles.components, ['marker']];
  writeFileSync(file, JSON.stringify(first));

  // a version nothing constrains: the same resolution input
  ws.write('pkgbuilds/gamma/PKGBUILD', simplePkgbuild('gamma', '', '1.1'));
  assert.deepEqual(graphEdges(ws, 'g2.json'), ['alpha -> beta (static)']);
  const second = cached();
  assert.notEqual(second.key, first.key, 'an edited PKGBUILD is another graph');
  assert.equal(second.graph.resolutionKey, first.graph.resolutionKey);
  assert.deepEqual(second.graph.cycles.components.at(-1), ['marker'], 'the resolution was taken from the cached graph');

  // a constrained version: resolved again, to the same edges, so the cycle breaks are the cached ones
  ws.write('pkgbuilds/beta/PKGBUILD', simplePkgbuild('beta', "makedepends=('alpha')", '1.1'));
  assert.deepEqual(graphEdges(ws, 'g3.json'), ['alpha -> beta (static)']);
  const third = cached();
  assert.notEqual(third.graph.resolutionKey, second.graph.resolutionKey);
  assert.equal(third.graph.cycles.key, first.graph.cycles.key);
  assert.deepEqual(third.graph.cycles.components.at(-1), ['marker'], 'the cycle breaks were taken from the cached graph');

  // the edge set changes: computed again, nothing of the cached result stays
  ws.write('pkgbuilds/beta/PKGBUILD', simplePkgbuild('beta', '', '1.1'));
  assert.deepEqual(graphEdges(ws, 'g4.json'), ['alpha -> beta (static)']);
  const fourth = cached();
  assert.notEqual(fourth.graph.cycles.key, first.graph.cycles.key);
  assert.deepEqual(fourth.graph.cycles.removed, []);
  assert.deepEqual(fourth.graph.cycles.components, []);
});

test('broken PKGBUILDs are cached like good ones: the next command sources nothing, and the CLI and Nx keep their own graph caches', { timeout: 300_000 }, () => {
  const ws = makeTempWorkspace({
    pluginOptions: { rebuildPolicy: 'abi', sandboxTimeoutSeconds: 2 },
    pkgbuilds: {
      'pkgbuilds/good/PKGBUILD': simplePkgbuild('good'),
      // loops at top level: killed after sandboxTimeoutSeconds
      'pkgbuilds/loops/PKGBUILD': 'pkgname=loops\npkgver=1\npkgrel=1\narch=(any)\nwhile :; do :; done\n',
      'pkgbuilds/norel/PKGBUILD': 'pkgname=norel\npkgver=1\narch=(any)\n',
    },
  });
  const data = join(ws.root, '.nx', 'workspace-data', 'pkgnx');
  const mtime = (f: string): number => statSync(join(data, f)).mtimeMs;
  const first = ws.nx(['show', 'projects']);
  assert.equal(first.status, 0, first.stderr);
  assert.deepEqual(first.stdout.trim().split('\n').sort(), ['good', 'loops', 'norel']);
  const srcinfoFile = readdirSync(join(data, 'metadata')).find((f) => f.startsWith('srcinfo-'))!;
  const cached = JSON.parse(readFileSync(join(data, 'metadata', srcinfoFile), 'utf8')) as { entries: Record<string, { error?: string }> };
  assert.equal(Object.values(cached.entries).filter((e) => e.error).length, 2, 'the timeout and the lint error are cached');
  const graphAt = mtime('graph-nx.json');
  const metaAt = mtime(join('metadata', srcinfoFile));

  // a CLI verb computes its own key: it writes its own file and leaves Nx's alone
  const cli = spawnSync(process.execPath, ['--require', '@swc-node/register', join(ws.root, 'tools', 'bin', 'pkgnx.ts'), 'graph'], { cwd: ws.root, encoding: 'utf8', env: { ...process.env, SWC_NODE_PROJECT: join(ws.root, 'tsconfig.json') } });
  assert.match(cli.stdout + cli.stderr, /loops\/PKGBUILD: sourcing it took longer than 2 s/);
  assert.ok(existsSync(join(data, 'graph-cli.json')));

  const second = ws.nx(['show', 'projects']);
  assert.equal(second.status, 0, second.stderr);
  assert.equal(mtime('graph-nx.json'), graphAt, 'the warm command reused the cached graph although two projects are broken');
  assert.equal(mtime(join('metadata', srcinfoFile)), metaAt, 'nothing was sourced again');
});

test('chroot-config: an architecture without one, or a missing chroot-config/x86_64, is an error naming the key and the directory', () => {
  const ws = makeTempWorkspace({ pkgbuilds: { 'pkgbuilds/alpha/PKGBUILD': simplePkgbuild('alpha') }, pluginOptions: { architectures: ['x86_64', 'riscv64'] } });
  const r = ws.nx(['show', 'projects']);
  assert.notEqual(r.status, 0);
  assert.match(r.stdout + r.stderr, /pkgnx plugin option "architectures" \(nx\.json plugins\[\]\.options\): "riscv64" has no chroot-config\/riscv64\/makepkg\.conf \(found there: aarch64, x86_64\)/);

  const ws2 = makeTempWorkspace({ pkgbuilds: { 'pkgbuilds/alpha/PKGBUILD': simplePkgbuild('alpha') } });
  rmSync(join(ws2.root, 'chroot-config', 'x86_64'), { recursive: true });
  const r2 = ws2.nx(['show', 'projects']);
  assert.notEqual(r2.status, 0);
  assert.match(r2.stdout + r2.stderr, /option "defaultArchitecture" .*not set, and chroot-config\/x86_64\/makepkg\.conf does not exist \(found there: aarch64\): the default configuration would silently become aarch64/);
  ws2.write('nx.json', JSON.stringify({ plugins: [{ plugin: './tools/plugin/nx-entry.js', options: { defaultArchitecture: 'aarch64' } }] }));
  const r3 = ws2.nx(['show', 'project', 'alpha', '--json']);
  assert.equal(r3.status, 0, r3.stderr);
  assert.equal((JSON.parse(r3.stdout) as { targets: { build: { defaultConfiguration: string } } }).targets.build.defaultConfiguration, 'aarch64');
});
