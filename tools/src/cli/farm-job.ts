/**
 * `pkgnx farm-job`: what one CI job of an exported pipeline does in its fresh clone.
 *   npx pkgnx farm-job hello-cli:build:x86_64 [more task ids of the same target and architecture]
 *   npx pkgnx farm-job --all --arch x86_64        (publish jobs: every package of the architecture)
 * The remote cache must answer (it is the only way outputs travel between jobs). Then `nx run-many` runs the
 * tasks *with* their dependencies: those finished in earlier jobs, so Nx restores them from the remote cache
 * (outputs and workspace repository) and hashes the task exactly as a one-machine run would. (With
 * --excludeTaskDependencies Nx leaves the dependencies' ABI manifests out of the hash: a different cache
 * key, and no dependency packages in the clone.) Afterwards the run summary says where each dependency came
 * from; one that had to be built here is named.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { probeRemoteCache, probeTimeoutMs, remoteCacheFromEnv } from '../farm/cache-probe';
import type { RunSummary } from '../packaging/run-summary';
import { UsageError } from './support';

const HELP = `usage: farm-job TASK-ID... | --all --arch ARCH [--workspace DIR]
  TASK-ID: project:target:configuration as in Nx's task graph (e.g. hello-cli:build:x86_64)
  --all --arch ARCH   every build task of ARCH (publish jobs: the whole repository from the cache)
  needs NX_SELF_HOSTED_REMOTE_CACHE_SERVER (+ _ACCESS_TOKEN); the server is probed first
  (PKGNX_REMOTE_CACHE_PROBE_TIMEOUT seconds, default 3)
exit codes: 0 ok, 1 a task failed or the remote cache is not usable, 2 usage error`;

export interface TaskRef {
  id: string;
  project: string;
  target: string;
  configuration: string;
}

export function parseTaskId(id: string): TaskRef {
  const parts = id.split(':');
  if (parts.length < 3 || parts.some((p) => p === '')) throw new UsageError(`'${id}' is not a task id project:target:configuration`);
  const configuration = parts.pop() as string;
  const target = parts.pop() as string;
  return { id, project: parts.join(':'), target, configuration };
}

/** what the run summary says about a job's own tasks and about the dependencies Nx ran with them */
export function judgeSummary(s: RunSummary, own: ReadonlySet<string>): { restoredDeps: string[]; builtDeps: string[]; ownNotDone: string[] } {
  const id = (e: { project: string; target: string; configuration?: string }): string => `${e.project}:${e.target}:${e.configuration ?? ''}`;
  const restoredDeps = s.restored.filter((r) => !own.has(id(r))).map(id);
  const builtDeps = s.built.filter((b) => !own.has(id(b))).map(id);
  const done = new Set([...s.built, ...s.restored].map(id));
  return { restoredDeps, builtDeps, ownNotDone: [...own].filter((t) => !done.has(t)) };
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { all: { type: 'boolean' }, arch: { type: 'string' }, workspace: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const root = resolve(values.workspace ?? process.cwd());
  if (values.all ? positionals.length > 0 || !values.arch : positionals.length === 0 || values.arch) throw new UsageError('give task ids, or --all --arch ARCH');
  const tasks = positionals.map(parseTaskId);
  const groups = new Map<string, TaskRef[]>();
  for (const t of tasks) groups.set(`${t.target}:${t.configuration}`, [...(groups.get(`${t.target}:${t.configuration}`) ?? []), t]);

  const cache = remoteCacheFromEnv(process.env);
  if (!cache) throw new UsageError('NX_SELF_HOSTED_REMOTE_CACHE_SERVER is not set (or the remote cache is skipped): in a build farm, outputs travel between jobs through the remote cache');
  const probe = await probeRemoteCache(cache, probeTimeoutMs(process.env));
  if (!probe.ok) {
    process.stderr.write(`farm-job: the remote cache ${cache.url} is not usable: ${probe.detail}\nfarm-job: without it this job cannot receive its dependencies nor hand on its result: failing now\n`);
    return 1;
  }
  const nx = createRequire(join(root, 'package.json')).resolve('nx/bin/nx.js');
  // the probe is done: a remote cache that fails from here on must fail the job, not be skipped quietly
  const env = { ...process.env, NX_DAEMON: 'false', NX_TUI: 'false', PKGNX_REMOTE_CACHE_PROBE: 'off' };
  const runs: { args: string[]; own: Set<string> }[] = values.all
    ? [{ args: ['run-many', '-t', 'build', '-c', values.arch as string], own: new Set() }]
    : [...groups.values()].map((g) => ({
        args: ['run-many', '-t', g[0].target, '-c', g[0].configuration, '-p', g.map((t) => t.project).join(',')],
        own: new Set(g.map((t) => t.id)),
      }));
  let status = 0;
  for (const run of runs) {
    process.stderr.write(`farm-job: nx ${run.args.join(' ')}\n`);
    const r = await execa(process.execPath, [nx, ...run.args, '--outputStyle=static'], { cwd: root, env, stdio: 'inherit', reject: false });
    let summary: RunSummary | undefined;
    try {
      summary = JSON.parse(readFileSync(join(root, 'dist', 'summary.json'), 'utf8')) as RunSummary;
    } catch {
      summary = undefined;
    }
    if (summary && !summary.stale) {
      const j = judgeSummary(summary, run.own);
      process.stderr.write(
        `farm-job: ${values.all ? `${summary.counts.restored} task(s) restored from the cache, ${summary.counts.built} built` : `${j.restoredDeps.length} dependency task(s) restored from the remote cache`}\n`,
      );
      if (j.builtDeps.length && !values.all)
        process.stderr.write(`farm-job: warning: ${j.builtDeps.length} dependency task(s) were not in the remote cache and were built here: ${j.builtDeps.join(', ')}\n`);
    }
    if (r.exitCode !== 0) status = r.exitCode ?? 1;
  }
  return status;
}
