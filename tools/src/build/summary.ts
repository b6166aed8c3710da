/**
 * Run summary from Nx's postTasksExecution context: what was built, restored from cache, failed (with the
 * log to read) and skipped (with the failed dependency that caused it). Structural types only: no Nx imports
 * in tools/src; they mirror nx/src/native TaskResult / Task / TaskGraph (Nx 24).
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { logDirFor, newestLog } from './logs';

export type TaskStatusLike =
  | 'success'
  | 'failure'
  | 'skipped'
  | 'stopped'
  | 'local-cache-kept-existing'
  | 'local-cache'
  | 'remote-cache';

export interface TaskLike {
  id: string;
  target: { project: string; target: string; configuration?: string };
  startTime?: number;
  endTime?: number;
}

export interface TaskResultLike {
  task: TaskLike;
  status: TaskStatusLike;
  code?: number;
  terminalOutput?: string;
}

/** Nx 24 task graph edges are `{ id }` objects; older ones were plain ids. Keys: task ids (or project names). */
export type TaskDependencies = Record<string, ReadonlyArray<string | { id: string }>>;

export interface RunSummaryInput {
  taskResults: Record<string, TaskResultLike>;
  /** taskGraph.dependencies when the caller has it; without it `because` of skipped tasks is empty */
  dependencies?: TaskDependencies;
  startTime?: number;
  endTime?: number;
}

export interface BuiltEntry {
  project: string;
  target: string;
  configuration?: string;
  durationMs?: number;
}
export interface RestoredEntry {
  project: string;
  target: string;
  configuration?: string;
  from: 'local-cache' | 'local-cache-kept-existing' | 'remote-cache';
}
export interface FailedEntry {
  project: string;
  target: string;
  configuration?: string;
  code?: number;
  /** newest file in logs/<pkgbase>/ (relative to the workspace root), or null when there is none */
  log: string | null;
}
export interface SkippedEntry {
  project: string;
  target: string;
  configuration?: string;
  /** the failed (or stopped) dependencies this task was skipped for */
  because: string[];
}

export interface RunSummary {
  startTime?: string;
  endTime?: string;
  durationMs?: number;
  counts: { total: number; built: number; restored: number; failed: number; skipped: number; stopped: number };
  built: BuiltEntry[];
  restored: RestoredEntry[];
  failed: FailedEntry[];
  skipped: SkippedEntry[];
  stopped: BuiltEntry[];
}

/** how to find a failed package's log; the default reads logs/<pkgbase>/ */
export type LogFinder = (project: string, configuration: string | undefined) => string | null;

function edgeId(e: string | { id: string }): string {
  return typeof e === 'string' ? e : e.id;
}

function depsOf(taskId: string, input: RunSummaryInput): string[] {
  const deps = input.dependencies;
  if (!deps) return [];
  if (deps[taskId]) return deps[taskId].map(edgeId);
  // project-level map: translate dependency projects to tasks of the same target/configuration
  const t = input.taskResults[taskId]?.task;
  if (!t || !deps[t.target.project]) return [];
  const suffix = `:${t.target.target}${t.target.configuration ? `:${t.target.configuration}` : ''}`;
  return deps[t.target.project].map(edgeId).map((p) => (p.includes(':') ? p : `${p}${suffix}`));
}

/** the failed/stopped tasks a skipped task is skipped for, looking through skipped intermediates */
function rootCauses(taskId: string, input: RunSummaryInput): string[] {
  const found = new Set<string>();
  const seen = new Set<string>([taskId]);
  const stack = depsOf(taskId, input);
  while (stack.length > 0) {
    const id = stack.pop() as string;
    if (seen.has(id)) continue;
    seen.add(id);
    const r = input.taskResults[id];
    if (!r) continue;
    if (r.status === 'failure' || r.status === 'stopped') found.add(r.task.target.project);
    else if (r.status === 'skipped') stack.push(...depsOf(id, input));
  }
  return [...found].sort();
}

function byProject<T extends { project: string; configuration?: string }>(a: T, b: T): number {
  return a.project.localeCompare(b.project) || (a.configuration ?? '').localeCompare(b.configuration ?? '');
}

export function summarizeRun(input: RunSummaryInput, findLog: LogFinder = () => null): RunSummary {
  const s: RunSummary = {
    counts: { total: 0, built: 0, restored: 0, failed: 0, skipped: 0, stopped: 0 },
    built: [],
    restored: [],
    failed: [],
    skipped: [],
    stopped: [],
  };
  if (input.startTime !== undefined) s.startTime = new Date(input.startTime).toISOString();
  if (input.endTime !== undefined) s.endTime = new Date(input.endTime).toISOString();
  if (input.startTime !== undefined && input.endTime !== undefined) s.durationMs = input.endTime - input.startTime;
  for (const [id, r] of Object.entries(input.taskResults)) {
    const { project, target, configuration } = r.task.target;
    const base = { project, target, ...(configuration ? { configuration } : {}) };
    const durationMs =
      r.task.startTime !== undefined && r.task.endTime !== undefined ? r.task.endTime - r.task.startTime : undefined;
    s.counts.total++;
    switch (r.status) {
      case 'success':
        s.built.push({ ...base, ...(durationMs !== undefined ? { durationMs } : {}) });
        break;
      case 'local-cache':
      case 'local-cache-kept-existing':
      case 'remote-cache':
        s.restored.push({ ...base, from: r.status });
        break;
      case 'failure':
        s.failed.push({ ...base, ...(r.code !== undefined ? { code: r.code } : {}), log: findLog(project, configuration) });
        break;
      case 'skipped':
        s.skipped.push({ ...base, because: rootCauses(id, input) });
        break;
      case 'stopped':
        s.stopped.push({ ...base, ...(durationMs !== undefined ? { durationMs } : {}) });
        break;
    }
  }
  s.counts.built = s.built.length;
  s.counts.restored = s.restored.length;
  s.counts.failed = s.failed.length;
  s.counts.skipped = s.skipped.length;
  s.counts.stopped = s.stopped.length;
  s.built.sort(byProject);
  s.restored.sort(byProject);
  s.failed.sort(byProject);
  s.skipped.sort(byProject);
  s.stopped.sort(byProject);
  return s;
}

function fmtMs(ms: number | undefined): string {
  if (ms === undefined) return '';
  const sec = ms / 1000;
  return sec < 60 ? `${sec.toFixed(1)}s` : `${Math.floor(sec / 60)}m${String(Math.round(sec % 60)).padStart(2, '0')}s`;
}

/** a plain-text table, one row per task, failures first */
export function renderSummaryTable(s: RunSummary): string {
  const rows: string[][] = [['RESULT', 'PROJECT', 'ARCH', 'DETAIL']];
  const arch = (c?: string): string => c ?? '-';
  for (const f of s.failed) rows.push(['failed', f.project, arch(f.configuration), `${f.code !== undefined ? `exit ${f.code}, ` : ''}log: ${f.log ?? '(none)'}`]);
  for (const k of s.skipped) rows.push(['skipped', k.project, arch(k.configuration), k.because.length ? `because ${k.because.join(', ')} failed` : 'a dependency did not build']);
  for (const t of s.stopped) rows.push(['stopped', t.project, arch(t.configuration), 'interrupted']);
  for (const b of s.built) rows.push(['built', b.project, arch(b.configuration), fmtMs(b.durationMs)]);
  for (const r of s.restored) rows.push(['restored', r.project, arch(r.configuration), `from ${r.from}`]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd());
  const c = s.counts;
  lines.push(
    '',
    `${c.total} tasks: ${c.built} built, ${c.restored} restored from cache, ${c.failed} failed, ${c.skipped} skipped, ${c.stopped} stopped` +
      (s.durationMs !== undefined ? ` in ${fmtMs(s.durationMs)}` : ''),
  );
  return `${lines.join('\n')}\n`;
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** the shape writeRunSummary needs from Nx's PostTasksExecutionContext (plus the task graph's dependencies if known) */
export interface RunSummaryContext {
  taskResults: Record<string, TaskResultLike>;
  startTime?: number;
  endTime?: number;
  dependencies?: TaskDependencies;
}

/** writes dist/summary.json and dist/summary.txt (each via rename, so readers never see half a file) */
export function writeRunSummary(workspaceRoot: string, ctx: RunSummaryContext): { summary: RunSummary; json: string; txt: string } {
  const findLog: LogFinder = (project, configuration) => {
    let dir: string;
    try {
      dir = logDirFor(workspaceRoot, project);
    } catch {
      return null;
    }
    const log = newestLog(dir, configuration);
    return log ? relative(workspaceRoot, log) : null;
  };
  const summary = summarizeRun(
    { taskResults: ctx.taskResults, dependencies: ctx.dependencies, startTime: ctx.startTime, endTime: ctx.endTime },
    findLog,
  );
  const dist = join(workspaceRoot, 'dist');
  mkdirSync(dist, { recursive: true });
  const json = join(dist, 'summary.json');
  const txt = join(dist, 'summary.txt');
  writeAtomic(json, `${JSON.stringify(summary, null, 2)}\n`);
  writeAtomic(txt, renderSummaryTable(summary));
  return { summary, json, txt };
}
