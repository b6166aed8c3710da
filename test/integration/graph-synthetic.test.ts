/**
 * The 2,618-pkgbase synthetic distribution (real Arch 2022 names, versions, split packages and
 * dependency relations) loads, Nx gets an acyclic task graph over every package, and the cycle report
 * lists the removed edges.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { makeTempWorkspace } from '../helpers/nx-workspace';
import { SHARED, SHARED_DATA, WORKSPACE_ROOT, sharedAvailable } from '../helpers/env';
import { stronglyConnectedComponents, type GraphEdge } from '../../tools/src/graph/cycles';

test('the synthetic distribution gives an acyclic task graph over all 2,618 pkgbases', { skip: !sharedAvailable && 'needs ../shared', timeout: 900_000 }, () => {
  const ws = makeTempWorkspace({ prefix: 'pkgnx-synth-' });
  const dbs = ['core', 'extra', 'multilib'].map((r) => join(SHARED_DATA, 'syncdb', 'arch-x86_64-2022', `${r}.db.tar.gz`));
  const gen = spawnSync(process.execPath, [join(SHARED, 'bench', 'synth-distro.mjs'), '--out', join(ws.root, 'pkgbuilds'), ...dbs], { encoding: 'utf8' });
  assert.equal(gen.status, 0, gen.stderr);
  const pkgbases = readdirSync(join(ws.root, 'pkgbuilds'));
  assert.equal(pkgbases.length, 2618);

  const r = ws.nx(['run-many', '-t', 'build', '--graph=tasks.json']);
  assert.equal(r.status, 0, r.stderr.slice(-4000));
  const tasks = JSON.parse(readFileSync(join(ws.root, 'tasks.json'), 'utf8')) as {
    tasks: { tasks: Record<string, unknown>; dependencies: Record<string, ({ id: string } | string)[]> };
  };
  const ids = Object.keys(tasks.tasks.tasks);
  // one build task per pkgbase, and for arch=(any) ones their one build (build-any) too
  const anyBuilds = ids.filter((t) => t.split(':')[1] === 'build-any');
  assert.equal(ids.length - anyBuilds.length, 2618);
  assert.ok(anyBuilds.length > 100, `${anyBuilds.length} arch=(any) builds`);
  const edges: GraphEdge[] = Object.entries(tasks.tasks.dependencies).flatMap(([source, deps]) =>
    deps.map((d) => ({ source, target: typeof d === 'string' ? d : d.id, kinds: ['depends'], deps: [] })),
  );
  assert.ok(edges.length > 5000, `only ${edges.length} task dependencies`);
  const cyclic = stronglyConnectedComponents(ids, edges).filter((c) => c.length > 1);
  assert.deepEqual(cyclic, [], 'the task graph must be acyclic');

  const report = spawnSync(process.execPath, ['--require', '@swc-node/register', join(WORKSPACE_ROOT, 'tools', 'bin', 'pkgnx.ts'), 'cycles', '--workspace', ws.root], {
    cwd: WORKSPACE_ROOT,
    encoding: 'utf8',
    env: { ...process.env, SWC_NODE_PROJECT: join(WORKSPACE_ROOT, 'tsconfig.json') },
    maxBuffer: 1 << 28,
  });
  assert.equal(report.status, 0, report.stderr);
  const first = report.stdout.split('\n')[0];
  assert.match(first, /dependency cycle group\(s\) \(strongly connected components; largest has (\d+) packages\)/);
  const largest = Number(/largest has (\d+)/.exec(first)![1]);
  assert.ok(largest > 700, `largest cycle group has ${largest} packages`);
  assert.match(report.stdout, /checkdepends edges inside a cycle \(\d+\):/);
  assert.match(report.stdout, / -> .* \((depends|makedepends|checkdepends)[^)]*\)\n {6}why: .*\n {6}cycle: \S+ -> /);
  const removed = Number(/(\d+) edge\(s\) were removed/.exec(report.stdout)![1]);
  assert.ok(removed > 0);
  // every removed edge is listed once with its reason
  assert.equal((report.stdout.match(/\n {6}why: /g) ?? []).length, removed);
});
