/**
 * The Nx side of a run: which nx command lines are build runs, Nx's task results in pkgnx's vocabulary, and the
 * channel through which the build executor hands the plugin the run's task graph (Nx gives plugins only the
 * tasks that ran: the ones it skipped after a failure, and what they waited for, come from there).
 * The channel is keyed by the nx process that runs the tasks (its pid and start time, so a reused pid is another
 * key): the executor finds it in NX_INVOCATION_ANCESTOR_PIDS, which Nx sets for every task; the plugin is in
 * that process or its plugin worker (nxCommand). The executor writes `task-graph-<key>.json`, postTasksExecution
 * reads and removes it. (Nx 24 computes a task's environment before preTasksExecution runs, so an environment
 * variable returned from there never reaches the tasks.)
 */
import type { ExecutorContext, TaskResult, TaskResults } from '@nx/devkit';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskOutcome, TaskRun } from '../src/packaging/run-summary';
import { WORKSPACE_DATA } from '../src/workspace-paths';

/** `<pid>-<start time in clock ticks since boot>`: one nx process, even after its pid is reused */
function processKey(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after "(comm) ": state is the 3rd field of the line, starttime the 22nd
    return `${pid}-${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}`;
  } catch {
    return undefined;
  }
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
  // the nx process that forked this task: the last of the pids Nx hands its tasks
  const nxPid = Number((process.env.NX_INVOCATION_ANCESTOR_PIDS ?? '').split(',').pop());
  const key = nxPid > 0 ? processKey(nxPid) : undefined;
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
