/**
 * Pipeline export benchmark: how long `pkgnx pipeline` takes for the whole 2,618-pkgbase synthetic distribution
 * (target: <= 10 s), from the task graph file to the written pipeline, command start-up included.
 *
 *   node --require @swc-node/register bench/pipeline.ts
 *
 * The task graph is written once by `nx run-many -t build --graph=tasks.json` (not timed: it is the graph
 * computation bench/graph.ts measures). Median of 3 runs each.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempWorkspace } from '../test/helpers/nx-workspace';
import { SHARED, SHARED_DATA, WORKSPACE_ROOT } from '../test/helpers/env';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function timed(cwd: string, args: string[]): { seconds: number; stderr: string } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--require', '@swc-node/register', join(WORKSPACE_ROOT, 'tools', 'bin', 'pkgnx.ts'), 'pipeline', ...args], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    env: { ...process.env, SWC_NODE_PROJECT: join(WORKSPACE_ROOT, 'tsconfig.json') },
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return { seconds: (performance.now() - t0) / 1000, stderr: r.stderr.trim() };
}

function main(): void {
  const ws = makeTempWorkspace({ prefix: 'pkgnx-bench-pipeline-' });
  try {
    const dbs = ['core', 'extra', 'multilib'].map((r) => join(SHARED_DATA, 'syncdb', 'arch-x86_64-2022', `${r}.db.tar.gz`));
    spawnSync(process.execPath, [join(SHARED, 'bench', 'synth-distro.mjs'), '--out', join(ws.root, 'pkgbuilds'), ...dbs], { encoding: 'utf8' });
    const g = ws.nx(['run-many', '-t', 'build', '--graph=tasks.json']);
    if (g.status !== 0) throw new Error(g.stderr);
    const tasks = Object.keys((JSON.parse(readFileSync(join(ws.root, 'tasks.json'), 'utf8')) as { tasks: { tasks: object } }).tasks.tasks).length;
    console.log(`task graph: ${tasks} tasks`);
    const farm = { architectures: { x86_64: { gitlabTags: ['x86_64'], githubRunsOn: ['ubuntu-latest'] } }, github: { levels: 200 }, publish: { command: 'true' } };
    const rows: string[][] = [['what', 'median s (3 runs)', 'target', 'result']];
    const cases: [string, Record<string, unknown>, string[]][] = [
      ['GitLab, one job per task', { ...farm, maxJobs: 5000 }, ['--gitlab', 'child.yml']],
      ['GitLab, binned to 1000 jobs', { ...farm, maxJobs: 1000 }, ['--gitlab', 'child.yml']],
      ['GitHub plan (levels)', farm, ['--github-plan']],
    ];
    for (const [what, config, args] of cases) {
      writeFileSync(join(ws.root, 'pkgnx.config.json'), JSON.stringify({ farm: config }));
      const runs = [0, 1, 2].map(() => timed(ws.root, ['--from', 'tasks.json', ...args]));
      const s = median(runs.map((r) => r.seconds));
      rows.push([what, s.toFixed(2), '<= 10 s', s <= 10 ? 'ok' : 'OVER']);
      console.log(`  ${what}: ${runs[0].stderr}`);
    }
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const r of rows) console.log(`  ${r.map((c, i) => c.padEnd(widths[i])).join('  ')}`);
  } finally {
    rmSync(ws.root, { recursive: true, force: true });
  }
}

main();
