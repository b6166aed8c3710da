/**
 * From a task graph and the farm configuration to CI jobs, independent of the CI system's file format:
 * which runner each task needs, one job per build task (or bins of tasks of one level when the graph has
 * more than `maxJobs` tasks), `needs` transitively reduced, fan-in jobs where a job would need more than
 * `maxNeeds` jobs, one serialised publish job per architecture; and, for GitHub Actions, the graph cut into
 * levels with at most `maxMatrix` matrix entries per level.
 */
import { ConfigError } from '../upstream/config';
import { ANY_DIST } from '../workspace-paths';
import type { FarmConfig } from './farm-config';
import { taskLevels, transitiveReduction, type FarmTask, type FarmTaskGraph } from './task-graph';

export type Platform = 'gitlab' | 'github';

export interface Runner {
  /** runner tags (GitLab) or runs-on labels (GitHub) */
  labels: string[];
  /** the task's architecture */
  arch: string;
  /** built under qemu-user on runners of this architecture */
  emulatedOn?: string;
}

export interface PlannedJob {
  name: string;
  kind: 'build' | 'fan-in' | 'publish';
  /** build: the tasks it runs; publish: the architecture's tasks */
  tasks: FarmTask[];
  needs: string[];
  runner: Runner;
}

export interface PipelinePlan {
  jobs: PlannedJob[];
  /** tasks per build job: 1 unless the graph had more than maxJobs tasks */
  binSize: number;
  fanIns: number;
}

function archOf(t: FarmTask, configFile: string): string {
  if (!t.configuration) throw new ConfigError(configFile, 'farm.architectures', `task ${t.id} has no configuration (architecture): export the graph with -c <arch>`);
  return t.configuration;
}

/**
 * The runner a task needs on `platform`: native, or the emulation host when configured; errors name the key.
 * An arch=(any) package's one build (configuration `any`) runs on the first architecture with native runners.
 */
export function runnerFor(t: FarmTask, config: FarmConfig, platform: Platform, configFile: string): Runner {
  const arch = archOf(t, configFile);
  const key = platform === 'gitlab' ? 'gitlabTags' : 'githubRunsOn';
  if (arch === ANY_DIST) {
    const native = Object.values(config.architectures).find((r) => r[key] && !r.emulate)?.[key];
    if (!native) throw new ConfigError(configFile, 'farm.architectures', `no architecture has native ${platform} runners for the arch=(any) build ${t.id}`);
    return { labels: native, arch };
  }
  const r = config.architectures[arch];
  if (!r) throw new ConfigError(configFile, `farm.architectures.${arch}`, `missing: the task graph has ${arch} tasks (${t.id})`);
  const native = r[key];
  const nativeOnly = config.nativeOnly[arch]?.includes(t.project) ?? false;
  if (nativeOnly || (native && !r.emulate) || !r.emulateOn) {
    if (!native)
      throw new ConfigError(configFile, `farm.architectures.${arch}.${key}`, nativeOnly ? `missing: ${t.project} is in farm.nativeOnly.${arch} and needs a native ${arch} runner` : `missing: no ${platform} runner for ${arch}`);
    return { labels: native, arch };
  }
  const hostLabels = config.architectures[r.emulateOn]?.[key];
  if (!hostLabels) throw new ConfigError(configFile, `farm.architectures.${r.emulateOn}.${key}`, `missing: ${arch} builds are emulated on ${r.emulateOn} runners`);
  return { labels: hostLabels, arch, emulatedOn: r.emulateOn };
}

const runnerKey = (r: Runner): string => `${r.arch}\0${r.emulatedOn ?? ''}\0${r.labels.join('\0')}`;

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** groups of one level and one runner, cut into bins of `size` */
function bins(groups: Map<string, FarmTask[]>, size: number): FarmTask[][] {
  return [...groups.values()].flatMap((g) => chunk(g, size));
}

/** the smallest bin size that keeps the number of bins within `max` */
function binSizeFor(groups: Map<string, FarmTask[]>, max: number): number {
  let size = 1;
  const count = (s: number): number => [...groups.values()].reduce((n, g) => n + Math.ceil(g.length / s), 0);
  if (count(1) <= max) return 1;
  let hi = Math.max(...[...groups.values()].map((g) => g.length));
  if (count(hi) > max) return hi; // more groups than allowed jobs: one bin per group is the least there can be
  while (size < hi) {
    const mid = (size + hi) >> 1;
    if (count(mid) <= max) hi = mid;
    else size = mid + 1;
  }
  return size;
}

function groupByLevelAndRunner(tasks: readonly FarmTask[], level: ReadonlyMap<string, number>, runner: ReadonlyMap<string, Runner>): Map<string, FarmTask[]> {
  const groups = new Map<string, FarmTask[]>();
  for (const t of tasks) {
    const k = `${level.get(t.id)}\0${runnerKey(runner.get(t.id) as Runner)}`;
    groups.set(k, [...(groups.get(k) ?? []), t]);
  }
  return groups;
}

/**
 * Fan-in: a job that needs more than `max` jobs needs fan-in jobs instead, each needing up to `max` of them
 * (recursively, so any number fits); the same group of needs shares one fan-in job.
 */
function addFanIns(jobs: PlannedJob[], max: number): number {
  const byKey = new Map<string, string>();
  let count = 0;
  const fanInFor = (needs: string[], runner: Runner): string => {
    const key = needs.join('\n');
    const known = byKey.get(key);
    if (known) return known;
    const name = `fan-in:${++count}`;
    byKey.set(key, name);
    jobs.push({ name, kind: 'fan-in', tasks: [], needs, runner });
    return name;
  };
  for (let i = 0; i < jobs.length; i++) {
    const job = jobs[i];
    while (job.needs.length > max) job.needs = chunk(job.needs, max).map((c) => (c.length === 1 ? c[0] : fanInFor(c, job.runner)));
  }
  return count;
}

export function planPipeline(graph: FarmTaskGraph, config: FarmConfig, platform: Platform, configFile: string): PipelinePlan {
  const ids = graph.tasks.map((t) => t.id);
  const reduced = transitiveReduction(ids, graph.deps);
  const level = taskLevels(ids, reduced);
  const runner = new Map(graph.tasks.map((t) => [t.id, runnerFor(t, config, platform, configFile)]));

  const groups = groupByLevelAndRunner(graph.tasks, level, runner);
  const binSize = binSizeFor(groups, config.maxJobs);
  const jobOf = new Map<string, string>();
  const jobs: PlannedJob[] = [];
  for (const bin of binSize === 1 ? graph.tasks.map((t) => [t]) : bins(groups, binSize)) {
    const first = bin[0];
    const r = runner.get(first.id) as Runner;
    const name = bin.length === 1 ? `build:${first.project}:${r.arch}` : `build:${r.arch}:L${level.get(first.id)}:${first.project}+${bin.length - 1}`;
    for (const t of bin) jobOf.set(t.id, name);
    jobs.push({ name, kind: 'build', tasks: bin, needs: [], runner: r });
  }
  // job-level needs, reduced again (binning can make one job's need implied by another's)
  const jobDeps = new Map<string, string[]>();
  for (const job of jobs) {
    const needs = new Set<string>();
    for (const t of job.tasks) for (const d of reduced.get(t.id) ?? []) needs.add(jobOf.get(d) as string);
    needs.delete(job.name);
    jobDeps.set(job.name, [...needs].sort());
  }
  if (config.publish) {
    // arch=(any) results are published by each architecture's placement tasks
    for (const arch of [...new Set(graph.tasks.map((t) => archOf(t, configFile)))].filter((a) => a !== ANY_DIST).sort()) {
      const tasks = graph.tasks.filter((t) => t.configuration === arch);
      const host = runner.get(tasks.find((t) => !(runner.get(t.id) as Runner).emulatedOn)?.id ?? tasks[0].id) as Runner;
      const name = `publish:${arch}`;
      jobs.push({ name, kind: 'publish', tasks, needs: [], runner: { ...host, arch } });
      jobDeps.set(name, [...new Set(tasks.map((t) => jobOf.get(t.id) as string))].sort());
    }
  }
  const jobReduced = transitiveReduction(jobs.map((j) => j.name), jobDeps);
  for (const job of jobs) job.needs = jobReduced.get(job.name) ?? [];
  const fanIns = addFanIns(jobs, config.maxNeeds);
  return { jobs, binSize, fanIns };
}

export interface MatrixEntry {
  /** shown as the job name */
  name: string;
  /** task ids, space-separated (the farm-job command's arguments) */
  tasks: string;
  runsOn: string[];
  arch: string;
}

/**
 * GitHub Actions: the jobs of a workflow are fixed before it runs, so the workflow has one matrix job per
 * level of the graph (level k waits for level k-1) and the plan step hands each level its entries.
 */
export function planGithubLevels(graph: FarmTaskGraph, config: FarmConfig, configFile: string): { levels: MatrixEntry[][]; binSize: number } {
  const ids = graph.tasks.map((t) => t.id);
  const reduced = transitiveReduction(ids, graph.deps);
  const level = taskLevels(ids, reduced);
  const runner = new Map(graph.tasks.map((t) => [t.id, runnerFor(t, config, 'github', configFile)]));
  const depth = Math.max(0, ...level.values()) + (graph.tasks.length ? 1 : 0);
  if (depth > config.github.levels)
    throw new ConfigError(configFile, 'farm.github.levels', `the task graph has ${depth} levels, the workflow ${config.github.levels}: set farm.github.levels to at least ${depth} and write the workflow again (pkgnx pipeline --github ...)`);
  const levels: MatrixEntry[][] = [];
  let binSize = 1;
  for (let k = 0; k < depth; k++) {
    const groups = groupByLevelAndRunner(graph.tasks.filter((t) => level.get(t.id) === k), level, runner);
    const size = binSizeFor(groups, config.github.maxMatrix);
    binSize = Math.max(binSize, size);
    levels.push(
      bins(groups, size).map((bin) => {
        const r = runner.get(bin[0].id) as Runner;
        return {
          name: bin.length === 1 ? `${bin[0].project} ${r.arch}` : `${bin[0].project} +${bin.length - 1} ${r.arch}`,
          tasks: bin.map((t) => t.id).join(' '),
          runsOn: r.labels,
          arch: r.arch,
        };
      }),
    );
  }
  return { levels, binSize };
}

/** Checks a plan the way GitLab would: every task in exactly one build job, needs exist, no cycle, within the limit. */
export function validatePlan(plan: PipelinePlan, graph: FarmTaskGraph, maxNeeds: number): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  for (const j of plan.jobs) {
    if (names.has(j.name)) problems.push(`job '${j.name}' twice`);
    names.add(j.name);
  }
  const seen = new Map<string, string>();
  for (const j of plan.jobs.filter((x) => x.kind === 'build'))
    for (const t of j.tasks) {
      if (seen.has(t.id)) problems.push(`task ${t.id} in '${seen.get(t.id)}' and '${j.name}'`);
      seen.set(t.id, j.name);
    }
  for (const t of graph.tasks) if (!seen.has(t.id)) problems.push(`task ${t.id} in no job`);
  for (const j of plan.jobs) {
    if (j.needs.length > maxNeeds) problems.push(`'${j.name}' needs ${j.needs.length} jobs (limit ${maxNeeds})`);
    for (const n of j.needs) if (!names.has(n)) problems.push(`'${j.name}' needs unknown job '${n}'`);
  }
  // every task's dependencies finish before its job starts: reachable through needs
  const needs = new Map(plan.jobs.map((j) => [j.name, j.needs]));
  const reach = new Map<string, Set<string>>();
  const reachOf = (name: string, stack: Set<string> = new Set()): Set<string> => {
    const known = reach.get(name);
    if (known) return known;
    if (stack.has(name)) {
      problems.push(`cycle through '${name}'`);
      return new Set();
    }
    stack.add(name);
    const r = new Set<string>();
    for (const n of needs.get(name) ?? []) {
      r.add(n);
      for (const x of reachOf(n, stack)) r.add(x);
    }
    stack.delete(name);
    reach.set(name, r);
    return r;
  };
  for (const t of graph.tasks) {
    const own = seen.get(t.id);
    if (!own) continue;
    for (const d of graph.deps.get(t.id) ?? []) {
      const dj = seen.get(d);
      if (dj && dj !== own && !reachOf(own).has(dj)) problems.push(`${t.id} may start before its dependency ${d}`);
    }
  }
  return problems;
}
