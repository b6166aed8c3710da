/**
 * The pipeline exported for the whole 2,618-pkgbase synthetic distribution, checked independently of the code
 * that wrote it: every task in exactly one job, needs that exist, at most 50 a job, no cycle, and every task's
 * dependencies finished before its job starts (GitLab, one job per task and binned); every task once in the
 * GitHub levels, after all of its dependencies. (The time it takes is measured by bench/pipeline.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { makeTempWorkspace } from '../helpers/nx-workspace';
import { SHARED, SHARED_DATA, WORKSPACE_ROOT, sharedAvailable } from '../helpers/env';

type Job = { needs?: string[]; script?: string[]; stage?: string };

function pipeline(cwd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ['--require', '@swc-node/register', join(WORKSPACE_ROOT, 'tools', 'bin', 'pkgnx.ts'), 'pipeline', ...args], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    env: { ...process.env, SWC_NODE_PROJECT: join(WORKSPACE_ROOT, 'tsconfig.json') },
  });
}

/** GitLab's rules, checked on the YAML: returns the job of every task */
function checkGitlab(doc: Record<string, Job>, deps: Record<string, string[]>): Map<string, string> {
  const jobs = Object.entries(doc).filter(([, j]) => j && typeof j === 'object' && Array.isArray(j.script)) as [string, Job][];
  const names = new Set(jobs.map(([n]) => n));
  const jobOf = new Map<string, string>();
  for (const [name, job] of jobs) {
    assert.ok((job.needs ?? []).length <= 50, `${name} needs ${job.needs?.length} jobs`);
    for (const n of job.needs ?? []) assert.ok(names.has(n), `${name} needs unknown ${n}`);
    const m = /farm-job (?!--all)(.*)$/.exec(job.script?.[0] ?? '');
    if (!m) continue;
    for (const t of m[1].split(' ')) {
      assert.ok(!jobOf.has(t), `${t} in ${jobOf.get(t)} and ${name}`);
      jobOf.set(t, name);
    }
  }
  assert.deepEqual([...jobOf.keys()].sort(), Object.keys(deps).sort(), 'every task in exactly one job');
  // no cycle: Kahn's algorithm consumes every job
  const indegree = new Map(jobs.map(([n, j]) => [n, (j.needs ?? []).length]));
  const users = new Map<string, string[]>();
  for (const [n, j] of jobs) for (const d of j.needs ?? []) users.set(d, [...(users.get(d) ?? []), n]);
  const queue = [...indegree].filter(([, d]) => d === 0).map(([n]) => n);
  const order: string[] = [];
  while (queue.length) {
    const n = queue.pop() as string;
    order.push(n);
    for (const u of users.get(n) ?? []) {
      indegree.set(u, (indegree.get(u) as number) - 1);
      if (indegree.get(u) === 0) queue.push(u);
    }
  }
  assert.equal(order.length, jobs.length, 'the needs have no cycle');
  // a task's dependencies are done before its job starts: their jobs are among its job's (transitive) needs
  const needsOf = new Map(jobs.map(([n, j]) => [n, j.needs ?? []]));
  const closure = new Map<string, Set<string>>();
  for (const n of order) {
    const c = new Set<string>();
    for (const d of needsOf.get(n) ?? []) {
      c.add(d);
      for (const x of closure.get(d) ?? []) c.add(x);
    }
    closure.set(n, c);
  }
  for (const [t, ds] of Object.entries(deps)) for (const d of ds) assert.ok(closure.get(jobOf.get(t) as string)?.has(jobOf.get(d) as string), `${t} may start before ${d}`);
  return jobOf;
}

test('the pipeline of the 2,618-package synthetic distribution is valid, for GitLab and GitHub', { skip: !sharedAvailable && 'needs ../shared', timeout: 900_000 }, (t) => {
  const ws = makeTempWorkspace({ prefix: 'pkgnx-farm-full-' });
  t.after(() => rmSync(ws.root, { recursive: true, force: true }));
  const dbs = ['core', 'extra', 'multilib'].map((r) => join(SHARED_DATA, 'syncdb', 'arch-x86_64-2022', `${r}.db.tar.gz`));
  const gen = spawnSync(process.execPath, [join(SHARED, 'bench', 'synth-distro.mjs'), '--out', join(ws.root, 'pkgbuilds'), ...dbs], { encoding: 'utf8' });
  assert.equal(gen.status, 0, gen.stderr);
  const r = ws.nx(['run-many', '-t', 'build', '--graph=tasks.json']);
  assert.equal(r.status, 0, r.stderr.slice(-4000));
  const graph = JSON.parse(readFileSync(join(ws.root, 'tasks.json'), 'utf8')) as { tasks: { dependencies: Record<string, { id: string }[]> } };
  const deps = Object.fromEntries(Object.entries(graph.tasks.dependencies).map(([t, ds]) => [t, ds.map((d) => d.id)]));
  // one build task per pkgbase, and for arch=(any) ones their one build (build-any) too
  const taskCount = Object.keys(deps).length;
  assert.equal(Object.keys(deps).filter((t) => t.split(':')[1] !== 'build-any').length, 2618);

  const farm = { architectures: { x86_64: { gitlabTags: ['x86_64'], githubRunsOn: ['ubuntu-latest'] } }, github: { levels: 200 }, publish: { command: 'true' } };
  for (const maxJobs of [5000, 1000]) {
    writeFileSync(join(ws.root, 'pkgnx.config.json'), JSON.stringify({ farm: { ...farm, maxJobs } }));
    const out = pipeline(ws.root, ['--from', 'tasks.json', '--gitlab', 'child.yml']);
    assert.equal(out.status, 0, out.stderr);
    const doc = parse(readFileSync(join(ws.root, 'child.yml'), 'utf8')) as Record<string, Job>;
    const jobOf = checkGitlab(doc, deps);
    const buildJobs = new Set(jobOf.values());
    if (maxJobs === 5000) assert.equal(buildJobs.size, taskCount, 'one job per task');
    else assert.ok(buildJobs.size <= 1000, `${buildJobs.size} build jobs`);
    // one job per task: the publish job and the widest jobs need more than 50 jobs, through fan-in jobs (binned,
    // the publish job's reduced needs may fit in 50; checkGitlab holds every job to the limit either way)
    if (maxJobs === 5000) assert.ok(Object.keys(doc).some((n) => n.startsWith('fan-in:')), 'the publish job and the widest jobs need fan-in jobs');
  }

  const plan = pipeline(ws.root, ['--from', 'tasks.json', '--github-plan']);
  assert.equal(plan.status, 0, plan.stderr);
  const levelOf = new Map<string, number>();
  for (const line of plan.stdout.trim().split('\n')) {
    const m = /^level_(\d+)=(.*)$/.exec(line);
    if (!m) continue;
    const entries = JSON.parse(m[2]) as { tasks: string }[];
    assert.ok(entries.length <= 256, `level ${m[1]}: ${entries.length} matrix entries`);
    for (const e of entries)
      for (const t of e.tasks.split(' ')) {
        assert.ok(!levelOf.has(t), `${t} twice`);
        levelOf.set(t, Number(m[1]));
      }
  }
  assert.equal(levelOf.size, taskCount);
  for (const [t, ds] of Object.entries(deps)) for (const d of ds) assert.ok((levelOf.get(d) as number) < (levelOf.get(t) as number), `${t} not after ${d}`);
});
