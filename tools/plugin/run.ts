/**
 * The Nx side of a run: which nx command lines are build runs, Nx's task results in pkgnx's vocabulary, and the
 * channel through which the build executor hands the plugin the run's task graph (Nx gives plugins only the
 * tasks that ran: the ones it skipped after a failure, and what they waited for, come from there).
 * The channel is keyed by the nx process that runs the tasks (its pid and start time, so a reused pid is another
 * key): the executor finds it in NX_INVOCATION_ANCESTOR_PIDS, which Nx sets for every task; the plugin is in
 * that process or its plugin worker (nxCommand). The executor writes `task-graph-<key>.json`, postTasksExecution
 * reads and removes it. (Nx 24 computes a task's environment before preTasksExecution runs, so an environment
 * variable returned from there never reaches the tasks.)
 * The publish tasks of a run stage into `publish-<key>/` on the same key; postTasksExecution claims that
 * directory (a rename, so it is committed once) and commits every repository once for the whole run.
 */
import type { ExecutorContext, TaskResult, TaskResults } from '@nx/devkit';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { failureReason, type NotPublishedEntry, type PublishingInput, type TaskOutcome, type TaskRun } from '../src/packaging/run-summary';
import { listStaged } from '../src/publish/run-dir';
import type { RunCommit, RunCommitFailure } from '../src/publish/workspace';
import { WORKSPACE_DATA } from '../src/workspace-paths';

/** `<pid>-<start time in clock ticks since boot>`: one nx process, even after its pid is reused */
export function processKey(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after "(comm) ": state is the 3rd field of the line, starttime the 22nd
    return `${pid}-${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}`;
  } catch {
    return undefined;
  }
}

/** executor side: the key of the nx process that forked this task, the last of the pids Nx hands its tasks */
function taskNxKey(): string | undefined {
  const nxPid = Number((process.env.NX_INVOCATION_ANCESTOR_PIDS ?? '').split(',').pop());
  return nxPid > 0 ? processKey(nxPid) : undefined;
}

function channelFile(workspaceRoot: string, key: string): string {
  return join(workspaceRoot, WORKSPACE_DATA, 'runs', `task-graph-${key}.json`);
}

interface RecordedTaskGraph {
  tasks: Record<string, { project: string; target: string; configuration?: string }>;
  dependencies: Record<string, string[]>;
}

/** executor side: every build task of the run writes the same content; the last write wins */
export function recordTaskGraph(context: ExecutorContext): void {
  const key = taskNxKey();
  const graph = context.taskGraph;
  if (!key || !graph) return;
  try {
    const file = channelFile(context.root, key);
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

/**
 * plugin side: the run's recorded task graph, removed once read. Normally the file of our nx process; where the
 * hook runs elsewhere (the Nx daemon), the record whose tasks include every task that ran. Records of nx
 * processes that are gone are removed.
 */
export function takeTaskGraph(workspaceRoot: string, ranTaskIds: readonly string[]): RecordedTaskGraph | undefined {
  const dir = join(workspaceRoot, WORKSPACE_DATA, 'runs');
  const read = (file: string): RecordedTaskGraph | undefined => {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as RecordedTaskGraph;
    } catch {
      return undefined;
    }
  };
  const own = processKey(nxCommand().pid);
  let chosen: string | undefined = own && existsSync(channelFile(workspaceRoot, own)) ? channelFile(workspaceRoot, own) : undefined;
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((n) => /^task-graph-\d+-\d+\.json$/.test(n));
  } catch {
    return undefined;
  }
  for (const name of names) {
    const file = join(dir, name);
    const [, pid, start] = /^task-graph-(\d+)-(\d+)\.json$/.exec(name) ?? [];
    const alive = processKey(Number(pid)) === `${pid}-${start}`;
    if (!chosen && alive && ranTaskIds.every((id) => read(file)?.tasks[id])) chosen = file;
    else if (!alive && file !== chosen) rmSync(file, { force: true });
  }
  if (!chosen) return undefined;
  try {
    return read(chosen);
  } finally {
    rmSync(chosen, { force: true });
  }
}

const RUNS_DIR = (workspaceRoot: string): string => join(workspaceRoot, WORKSPACE_DATA, 'runs');
const STAGING = /^publish-(\d+)-(\d+)$/;
const CLAIMED = /^publish-\d+-\d+\.claimed-(\d+)-(\d+)$/;

/**
 * Is the plugin in this directory (whose postTasksExecution commits what publish tasks stage) among the
 * workspace's nx.json plugins? Without it nothing would commit a staged package.
 */
function pluginRegistered(context: ExecutorContext): boolean {
  const own = [join(__dirname, 'nx-entry.js'), join(__dirname, 'index.ts'), join(__dirname, 'index.js'), join(__dirname, 'index'), __dirname];
  return (context.nxJsonConfiguration?.plugins ?? []).some((entry) => {
    const spec = typeof entry === 'string' ? entry : entry.plugin;
    if (spec.startsWith('.') || spec.startsWith('/')) return own.includes(resolve(context.root, spec));
    try {
      return own.includes(require.resolve(spec, { paths: [context.root] }));
    } catch {
      return false;
    }
  });
}

/**
 * executor side: the directory this publish task stages into, for the plugin's postTasksExecution to commit
 * after the run (keyed by the nx process, like the task graph). Undefined when nothing would commit it: the
 * task does not know its nx process (not started by Nx) or the pkgnx plugin is not registered; the executor
 * then commits at once.
 */
export function publishStagingDir(context: ExecutorContext): string | undefined {
  const key = taskNxKey();
  return key && pluginRegistered(context) ? join(RUNS_DIR(context.root), `publish-${key}`) : undefined;
}

/**
 * plugin side: this run's staging directory, claimed by renaming it (so that a run's packages are committed
 * exactly once), or undefined when the run staged nothing. Normally the directory of our nx process; where the
 * hook runs elsewhere (the Nx daemon), the directory of a running nx process whose every manifest is a publish
 * task of this run that succeeded, written while that task ran. Directories of nx processes that are gone
 * (killed before their commit) are removed: their uploads are named by no database, and a rerun names them.
 */
export function takePublishRun(workspaceRoot: string, publishResults: readonly TaskResult[]): string | undefined {
  const dir = RUNS_DIR(workspaceRoot);
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  const alive = (pid: string, start: string): boolean => processKey(Number(pid)) === `${pid}-${start}`;
  const succeeded = publishResults.filter((r) => r.status === 'success');
  const ranHere = (staging: string): boolean => {
    const staged = listStaged(staging);
    return staged.length > 0 && staged.every((s) => succeeded.some((r) => {
      const t = r.task;
      const sameTask = t.target.project === s.project && (t.target.configuration ?? s.arch) === s.arch;
      // 1 s of slack: file times and Nx's task times come from different clocks' roundings
      const during = t.startTime === undefined || t.endTime === undefined || (s.writtenMs >= t.startTime - 1000 && s.writtenMs <= t.endTime + 1000);
      return sameTask && during;
    }));
  };
  const claim = (name: string): string | undefined => {
    const claimed = join(dir, `${name}.claimed-${processKey(process.pid) ?? `${process.pid}-0`}`);
    try {
      renameSync(join(dir, name), claimed);
      return claimed;
    } catch {
      // another run's hook claimed it first
      return undefined;
    }
  };
  const ownKey = processKey(nxCommand().pid);
  let chosen = ownKey && names.includes(`publish-${ownKey}`) ? claim(`publish-${ownKey}`) : undefined;
  for (const name of names) {
    const staging = STAGING.exec(name);
    const claimed = CLAIMED.exec(name);
    if (staging && !alive(staging[1], staging[2])) rmSync(join(dir, name), { recursive: true, force: true });
    else if (claimed && !alive(claimed[1], claimed[2])) rmSync(join(dir, name), { recursive: true, force: true });
    else if (staging && !chosen && succeeded.length > 0 && `publish-${ownKey}` !== name && ranHere(join(dir, name))) chosen = claim(name);
  }
  return chosen;
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
 * The build tasks of a run (of any of `buildTargets`: the build target and its `-any` target) in pkgnx's vocabulary, with the tasks Nx skipped (known from the recorded task
 * graph) added, and what each task waited for.
 */
export function buildTaskRuns(results: TaskResults, buildTargets: readonly string[], recorded: RecordedTaskGraph | undefined): { tasks: TaskRun[]; dependsOn?: Record<string, string[]> } {
  const tasks: TaskRun[] = Object.values(results)
    .filter((r) => buildTargets.includes(r.task.target.target))
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
    if (buildTargets.includes(target.target) && !ran.has(id)) tasks.push({ id, ...target, outcome: 'skipped' });
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
