// Task graph -> pipeline plan: reduction, levels, fan-in beyond 50 needs, binning, runners per architecture,
// configuration errors naming the key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { validateFarmConfig, type FarmConfig } from '../../tools/src/farm/farm-config';
import { planGithubLevels, planPipeline, validatePlan } from '../../tools/src/farm/plan';
import { githubPlanOutputs, githubWorkflow, gitlabPipeline } from '../../tools/src/farm/emit';
import { parseTaskGraph, taskLevels, transitiveReduction, type FarmTaskGraph } from '../../tools/src/farm/task-graph';

const FILE = 'pkgnx.config.json';
const config = (farm: Record<string, unknown>): FarmConfig => validateFarmConfig(farm, FILE);
const BASIC = { architectures: { x86_64: { gitlabTags: ['x86'], githubRunsOn: ['ubuntu-latest'] } } };

/** Nx 24's --graph file: tasks.tasks and tasks.dependencies with {id} edges */
function nxGraph(edges: Record<string, string[]>, arch = 'x86_64'): unknown {
  const names = [...new Set([...Object.keys(edges), ...Object.values(edges).flat()])];
  const id = (p: string): string => `${p}:build:${arch}`;
  return {
    graph: { nodes: {} },
    tasks: {
      tasks: Object.fromEntries(names.map((p) => [id(p), { id: id(p), target: { project: p, target: 'build', configuration: arch } }])),
      dependencies: Object.fromEntries(names.map((p) => [id(p), (edges[p] ?? []).map((d) => ({ id: id(d) }))])),
    },
  };
}

test('the task graph file: Nx 24 {id} edges and plain ids; errors name the file and key', () => {
  const g = parseTaskGraph(nxGraph({ b: ['a'] }), 't.json');
  assert.deepEqual(g.deps.get('b:build:x86_64'), ['a:build:x86_64']);
  const old = parseTaskGraph({ tasks: { tasks: { 'a:build': { target: { project: 'a', target: 'build' } } }, dependencies: { 'a:build': [] } } }, 't.json');
  assert.equal(old.tasks[0].project, 'a');
  assert.throws(() => parseTaskGraph({ graph: {} }, 't.json'), /t\.json: no key 'tasks\.tasks'/);
  assert.throws(() => parseTaskGraph({ tasks: { tasks: { x: { target: {} } } } }, 't.json'), /t\.json: tasks\.tasks\["x"\]\.target/);
  const bad = nxGraph({ b: ['a'] }) as { tasks: { dependencies: Record<string, unknown[]> } };
  bad.tasks.dependencies['b:build:x86_64'] = [{ id: 'ghost:build:x86_64' }];
  assert.throws(() => parseTaskGraph(bad, 't.json'), /dependencies\["b:build:x86_64"\]\[0\]: unknown task 'ghost:build:x86_64'/);
});

test('transitive reduction keeps only edges no other path implies; levels; a cycle is named', () => {
  const deps = new Map([['c', ['a', 'b']], ['b', ['a']], ['a', []], ['d', ['c', 'a', 'b']]]);
  const r = transitiveReduction(['a', 'b', 'c', 'd'], deps);
  assert.deepEqual(Object.fromEntries(r), { a: [], b: ['a'], c: ['b'], d: ['c'] });
  assert.deepEqual(Object.fromEntries(taskLevels(['a', 'b', 'c', 'd'], r)), { a: 0, b: 1, c: 2, d: 3 });
  assert.throws(() => transitiveReduction(['x', 'y'], new Map([['x', ['y']], ['y', ['x']]])), /cycle: (x -> y -> x|y -> x -> y)/);
});

test('a job needing more than 50 jobs needs fan-in jobs instead; the plan stays valid', () => {
  const leaves = Array.from({ length: 180 }, (_, i) => `lib${String(i).padStart(3, '0')}`);
  const g = parseTaskGraph(nxGraph({ app: leaves, other: leaves.slice(0, 60) }), 't.json');
  const plan = planPipeline(g, config(BASIC), 'gitlab', FILE);
  assert.deepEqual(validatePlan(plan, g, 50), []);
  const app = plan.jobs.find((j) => j.name === 'build:app:x86_64');
  assert.ok(app && app.needs.length <= 50 && app.needs.every((n) => n.startsWith('fan-in:')), JSON.stringify(app?.needs));
  assert.equal(plan.jobs.filter((j) => j.kind === 'fan-in').length, plan.fanIns);
  // 180 = 50 + 50 + 50 + 30 for app; other's first 50 share app's first fan-in, its last 10 need one of their own
  assert.equal(plan.fanIns, 5);
  for (const j of plan.jobs) assert.ok(j.needs.length <= 50);
  const yml = parse(gitlabPipeline(plan, config(BASIC), { source: 't.json' })) as Record<string, { needs?: string[]; script?: string[] }>;
  assert.match(yml['build:app:x86_64'].script?.[0] ?? '', /farm-job app:build:x86_64$/);
  assert.equal(yml['fan-in:1'].needs?.length, 50);
});

test('an empty task graph (nothing affected) still gives GitLab a pipeline with one job', () => {
  const g = parseTaskGraph({ tasks: { tasks: {}, dependencies: {} } }, 't.json');
  const cfg = config({ ...BASIC, publish: { command: 'true' } });
  const yml = parse(gitlabPipeline(planPipeline(g, cfg, 'gitlab', FILE), cfg, { source: 't.json' })) as Record<string, { script?: string[] }>;
  assert.deepEqual(Object.keys(yml).filter((k) => yml[k]?.script), ['nothing-to-build']);
});

test('more tasks than maxJobs: bins of one level and one runner, still valid', () => {
  const edges: Record<string, string[]> = {};
  for (let i = 0; i < 40; i++) edges[`l1-${i}`] = [`l0-${i % 7}`];
  for (let i = 0; i < 7; i++) edges[`l0-${i}`] = [];
  const g = parseTaskGraph(nxGraph(edges), 't.json');
  const plan = planPipeline(g, config({ ...BASIC, maxJobs: 10 }), 'gitlab', FILE);
  assert.deepEqual(validatePlan(plan, g, 50), []);
  const builds = plan.jobs.filter((j) => j.kind === 'build');
  assert.ok(builds.length <= 10, `${builds.length} jobs`);
  assert.ok(plan.binSize > 1);
  const level = taskLevels(g.tasks.map((t) => t.id), g.deps);
  for (const j of builds) assert.equal(new Set(j.tasks.map((t) => level.get(t.id))).size, 1, `${j.name} mixes levels`);
});

test('runners: native tags, qemu fallback on another architecture, native-only packages, missing runners named', () => {
  const cfg = config({
    architectures: { x86_64: { gitlabTags: ['x86'], githubRunsOn: ['ubuntu-24.04'] }, aarch64: { gitlabTags: ['arm'], emulateOn: 'x86_64', emulate: true }, riscv64: { emulateOn: 'x86_64' } },
    nativeOnly: { aarch64: ['ghc'] },
  });
  const g = parseTaskGraph(nxGraph({ ghc: [], zlib: [] }, 'aarch64'), 't.json');
  const plan = planPipeline(g, cfg, 'gitlab', FILE);
  const byName = Object.fromEntries(plan.jobs.map((j) => [j.name, j.runner]));
  assert.deepEqual(byName['build:ghc:aarch64'], { labels: ['arm'], arch: 'aarch64' });
  assert.deepEqual(byName['build:zlib:aarch64'], { labels: ['x86'], arch: 'aarch64', emulatedOn: 'x86_64' });
  const yml = parse(gitlabPipeline(plan, cfg, { source: 't.json' })) as Record<string, { variables?: Record<string, string> }>;
  assert.equal(yml['build:zlib:aarch64'].variables?.PKGNX_EMULATED, 'aarch64 under qemu-user on x86_64');
  assert.throws(() => planPipeline(g, cfg, 'github', FILE), /pkgnx\.config\.json: farm\.architectures\.aarch64\.githubRunsOn: missing: ghc is in farm\.nativeOnly\.aarch64/);
  const ppc = parseTaskGraph(nxGraph({ a: [] }, 'ppc64le'), 't.json');
  assert.throws(() => planPipeline(ppc, cfg, 'gitlab', FILE), /farm\.architectures\.ppc64le: missing: the task graph has ppc64le tasks/);
  assert.throws(
    () => config({ architectures: { riscv64: { emulateOn: 'x86_64' }, x86_64: { gitlabTags: ['x'] } }, nativeOnly: { riscv64: ['ghc'] } }),
    /farm\.nativeOnly\.riscv64: riscv64 has no native runners/,
  );
});

test('configuration errors name the key', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{}, /farm\.architectures: expected an object/],
    [{ architectures: { x86_64: {} } }, /farm\.architectures\.x86_64: no runners/],
    [{ architectures: { x86_64: { gitlabTags: [] } } }, /farm\.architectures\.x86_64\.gitlabTags: expected a non-empty array/],
    [{ architectures: { aarch64: { emulateOn: 'x86_64' } } }, /farm\.architectures\.aarch64\.emulateOn: 'x86_64' is not in farm\.architectures/],
    [{ ...BASIC, maxNeeds: 80 }, /farm\.maxNeeds: must be an integer >= 2 and <= 50, got 80/],
    [{ ...BASIC, github: { levels: 0 } }, /farm\.github\.levels: must be an integer >= 1 and <= 200, got 0/],
    [{ ...BASIC, publish: { command: '' } }, /farm\.publish\.command: expected a shell command/],
    [{ ...BASIC, colour: 'red' }, /farm\.colour: is not a known key/],
    [{ architectures: { x86_64: { gitlabTags: ['x'], tag: 'y' } } }, /farm\.architectures\.x86_64\.tag: is not a known key/],
  ];
  for (const [raw, re] of cases) assert.throws(() => config(raw), (e: Error) => re.test(e.message) && e.message.startsWith(`${FILE}: `), JSON.stringify(raw));
});

test('GitHub: one matrix entry per task per level, bins beyond maxMatrix, too deep a graph named', () => {
  const chain: Record<string, string[]> = { b: ['a'], c: ['b'] };
  for (let i = 0; i < 10; i++) chain[`x${i}`] = ['a'];
  const g: FarmTaskGraph = parseTaskGraph(nxGraph(chain), 't.json');
  const cfg = config({ ...BASIC, github: { levels: 4, maxMatrix: 4 }, publish: { command: 'echo {arch}' } });
  const { levels, binSize } = planGithubLevels(g, cfg, FILE);
  assert.equal(levels.length, 3);
  assert.ok(levels[1].length <= 4 && binSize === 3, JSON.stringify(levels[1]));
  assert.deepEqual(levels[1].flatMap((e) => e.tasks.split(' ')).sort(), ['b', ...Array.from({ length: 10 }, (_, i) => `x${i}`)].map((p) => `${p}:build:x86_64`).sort());
  const out = githubPlanOutputs(levels, 4);
  assert.match(out, /^level_0=\[\{"name":"a x86_64","tasks":"a:build:x86_64","runsOn":\["ubuntu-latest"\],"arch":"x86_64"\}\]$/m);
  assert.match(out, /^level_3=\[\]$/m);
  const wf = parse(githubWorkflow(cfg, { graphCommands: ['npx nx run-many -t build --graph=g.json'], graphFiles: ['g.json'] })) as {
    jobs: Record<string, { needs?: string[]; concurrency?: { group: string }; strategy?: unknown; 'runs-on'?: unknown }>;
  };
  assert.deepEqual(Object.keys(wf.jobs), ['plan', 'level-0', 'level-1', 'level-2', 'level-3', 'publish-x86_64']);
  assert.deepEqual(wf.jobs['level-2'].needs, ['plan', 'level-1']);
  assert.equal(wf.jobs['level-1']['runs-on'], '${{ matrix.job.runsOn }}');
  assert.deepEqual(wf.jobs['publish-x86_64'].concurrency, { group: 'pkgnx-publish-x86_64', 'cancel-in-progress': false });
  assert.throws(() => planGithubLevels(g, config({ ...BASIC, github: { levels: 2 } }), FILE), /farm\.github\.levels: the task graph has 3 levels, the workflow 2/);
});
