/**
 * The Nx side of a run: which nx command lines are build runs, Nx's task results in pkgnx's vocabulary, and the
 * channel through which the build executor hands the plugin the run's task graph (Nx gives plugins only the
 * tasks that ran: the ones it skipped after a failure, and what they waited for, come from there).
 * The channel is keyed by the run's id: the plugin's preTasksExecution sets it in the environment of every
 * task of the run, the executor writes `task-graph-<id>.json`, postTasksExecution reads and removes it.
 */
import type { ExecutorContext, TaskResult, TaskResults } from '@nx/devkit';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { failureReason, type NotPublishedEntry, type PublishingInput, type TaskOutcome, type TaskRun } from '../src/packaging/run-summary';
import type { RunCommit, RunCommitFailure } from '../src/publish/workspace';
import { WORKSPACE_DATA } from '../src/workspace-paths';

/** the environment variable carrying the run id from preTasksExecution to the executors */
export const RUN_ID_ENV = 'PKGNX_NX_RUN_ID';

function runFileName(runId: string): string {
  return runId.replace(/[^A-Za-z0-9_-]/g, '_');
}

function channelFile(workspaceRoot: string, runId: string): string {
  return join(workspaceRoot, WORKSPACE_DATA, 'runs', `task-graph-${runFileName(runId)}.json`);
}

/**
 * Where the publish tasks of a run leave what they staged, for postTasksExecution to commit: undefined
 * outside a run the plugin saw start (the executor then commits at once).
 */
export function publishRunDir(workspaceRoot: string, runId: string | undefined = process.env[RUN_ID_ENV]): string | undefined {
  return runId ? join(workspaceRoot, WORKSPACE_DATA, 'runs', `publish-${runFileName(runId)}`) : undefined;
}

interface RecordedTaskGraph {
  tasks: Record<string, { project: string; target: string; configuration?: string }>;
  dependencies: Record<string, string[]>;
}

/** executor side: every build task of the run writes the same content; the last write wins */
export function recordTaskGraph(context: ExecutorContext): void {
  const runId = process.env[RUN_ID_ENV];
  const graph = context.taskGraph;
  if (!runId || !graph) return;
  try {
    const file = channelFile(context.root, runId);
    mkdirSync(join(file, '..'), { recursive: true });
    const body: RecordedTaskGraph = {
      tasks: Object.fromEntries(Object.entries(graph.tasks).map(([id, t]) => [id, t.target])),
      dependencies: Object.fromEntries(Object.entries(graph.dependencies).map(([id, deps]) => [id, deps.map((d) => (typeof d === 'string' ? d : d.id))])),
    };
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(body));
    renameSync(tmp, file);
  } catch {
    // the summary then lacks the skipped tasks; the build itself is unaffected
  }
}

/** plugin side: the run's recorded task graph, removed once read */
export function takeTaskGraph(workspaceRoot: string, runId: string): RecordedTaskGraph | undefined {
  const file = channelFile(workspaceRoot, runId);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as RecordedTaskGraph;
  } catch {
    return undefined;
  } finally {
    rmSync(file, { force: true });
  }
}

const OUTCOME: Record<TaskResult['status'], TaskOutcome> = {
  success: 'built',
  failure: 'failed',
  skipped: 'skipped',
  stopped: 'stopped',
  'local-cache': 'restored',
  'local-cache-kept-existing': 'restored',
  'remote-cache': 'restored',
};

/**
 * The build tasks of a run in pkgnx's vocabulary, with the tasks Nx skipped (known from the recorded task
 * graph) added, and what each task waited for.
 */
export function buildTaskRuns(results: TaskResults, buildTarget: string, recorded: RecordedTaskGraph | undefined): { tasks: TaskRun[]; dependsOn?: Record<string, string[]> } {
  const tasks: TaskRun[] = Object.values(results)
    .filter((r) => r.task.target.target === buildTarget)
    .map((r) => ({
      id: r.task.id,
      ...r.task.target,
      outcome: OUTCOME[r.status],
      ...(r.status === 'remote-cache' ? { restoredFrom: 'remote-cache' as const } : OUTCOME[r.status] === 'restored' ? { restoredFrom: 'local-cache' as const } : {}),
      ...(r.task.startTime !== undefined ? { startTime: r.task.startTime } : {}),
      ...(r.task.endTime !== undefined ? { endTime: r.task.endTime } : {}),
      ...(r.status === 'failure' ? { code: r.code, output: r.terminalOutput } : {}),
    }));
  // the recorded graph belongs to this run only if it knows every task that ran
  if (!recorded || !tasks.every((t) => t.id in recorded.tasks)) return { tasks };
  const ran = new Set(tasks.map((t) => t.id));
  for (const [id, target] of Object.entries(recorded.tasks)) {
    if (target.target === buildTarget && !ran.has(id)) tasks.push({ id, ...target, outcome: 'skipped' });
  }
  return { tasks, dependsOn: recorded.dependencies };
}

/** `--dry-run`/`--dryRun` among the arguments: a run that changes nothing, not even the summary */
export function isDryRun(args: readonly string[]): boolean {
  return args.some((a) => /^--dry-?run(=true)?$/i.test(a));
}

/**
 * Is this nx command line a real (not dry) run of `buildTarget`? `run-many`/`affected` with it among the
 * targets, `run <project>:<target>`, `<project>:<target>` and `<target> <project>`.
 */
export function isBuildRun(args: readonly string[], buildTarget: string): boolean {
  if (isDryRun(args)) return false;
  const [command, ...rest] = args;
  const isTarget = (spec: string): boolean => spec.split(':')[1] === buildTarget;
  if (command === 'run-many' || command === 'affected') {
    const targets: string[] = [];
    rest.forEach((a, i) => {
      const m = /^(?:-t|--targets?)(?:=(.*))?$/.exec(a);
      if (m) targets.push(...(m[1] ?? rest[i + 1] ?? '').split(','));
    });
    return targets.includes(buildTarget);
  }
  if (command === 'run') return rest.length > 0 && isTarget(rest[0]);
  return command === buildTarget || (command !== undefined && isTarget(command));
}

/**
 * The nx command this plugin serves: this process (NX_ISOLATE_PLUGINS=false, as in .env) or, in an isolated
 * plugin worker, its parent (whose command line only /proc knows).
 */
export function nxCommand(): { pid: number; argv: string[] } {
  if (!/plugin-worker\.js$/.test(process.argv[1] ?? '')) return { pid: process.pid, argv: process.argv };
  try {
    return { pid: process.ppid, argv: readFileSync(`/proc/${process.ppid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '') };
  } catch {
    return { pid: process.ppid, argv: [] };
  }
}

/**
 * What the run's publish tasks published, in the summary's vocabulary: every repository committed, and
 * every project not published with why (its task failed or did not run, or its repository's commit failed).
 */
export function publishingSummary(publishTasks: TaskRun[], buildTasks: TaskRun[], commits: RunCommit[], failures: RunCommitFailure[]): PublishingInput {
  const repositories = commits.flatMap((c) =>
    c.report.repositories.map((r) => ({
      destination: c.report.destination,
      arch: r.ref.arch,
      repo: r.ref.repo,
      location: r.location,
      generation: r.generation,
      changed: r.changed,
      added: r.added.map((file) => ({ file, reason: r.routes[file] ?? '' })),
      unchanged: r.unchanged,
      scheduledForDeletion: r.scheduledForDeletion,
      deleted: c.report.deletions.filter((d) => d.ref.repo === r.ref.repo).flatMap((d) => d.deleted),
      projects: c.projects[r.ref.repo] ?? [],
    })),
  );
  const notPublished: NotPublishedEntry[] = [];
  const buildOf = (t: TaskRun): TaskRun | undefined => buildTasks.find((b) => b.project === t.project && b.configuration === t.configuration);
  for (const t of publishTasks) {
    const where = { project: t.project, ...(t.configuration ? { configuration: t.configuration } : {}) };
    if (t.outcome === 'failed') notPublished.push({ ...where, reason: `publish failed: ${failureReason(t) ?? `exit ${t.code ?? '?'}`}` });
    else if (t.outcome === 'stopped') notPublished.push({ ...where, reason: 'publish interrupted' });
    else if (t.outcome === 'skipped') {
      const build = buildOf(t);
      notPublished.push({ ...where, reason: build && build.outcome !== 'built' && build.outcome !== 'restored' ? `build ${build.outcome}` : 'not run: a task it depends on did not succeed' });
    }
  }
  for (const f of failures) {
    for (const project of f.projects) notPublished.push({ project, configuration: f.arch, reason: `the database commit into ${f.destination} failed: ${f.message}` });
  }
  return { repositories, notPublished };
}
