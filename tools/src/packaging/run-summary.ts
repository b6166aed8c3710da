/**
 * The run summary: what was built, restored from a cache, failed (with the log to read) and skipped (with the
 * failed dependency that caused it), as dist/summary.{json,txt}. The vocabulary is pkgnx's own; the Nx plugin
 * translates Nx's task results into it (tools/plugin/run-summary.ts).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { logDirFor, newestLog } from './logs';

export type TaskOutcome = 'built' | 'restored' | 'failed' | 'skipped' | 'stopped';

/** one task of a run (a build of one project for one architecture) and how it ended */
export interface TaskRun {
  /** unique in the run, e.g. `libhello:build:aarch64` */
  id: string;
  project: string;
  target: string;
  configuration?: string;
  outcome: TaskOutcome;
  /** restored: from this machine's cache or a remote one */
  restoredFrom?: 'local-cache' | 'remote-cache';
  startTime?: number;
  endTime?: number;
  /** failed: the exit code */
  code?: number;
  /** failed: what the task printed (the reason is taken from it when there is no log) */
  output?: string;
}

export interface RunSummaryInput {
  tasks: TaskRun[];
  /** task id -> ids of the tasks it waited for; without it `because` of skipped tasks is empty */
  dependsOn?: Record<string, string[]>;
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
  from: 'local-cache' | 'remote-cache';
}
export interface FailedEntry {
  project: string;
  target: string;
  configuration?: string;
  code?: number;
  /** this run's newest log in logs/<project>/ (relative to the workspace root), or null when the task wrote none */
  log: string | null;
  /** without a log: why the task failed before its build started (from the task's output) */
  reason?: string;
}
export interface SkippedEntry {
  project: string;
  target: string;
  configuration?: string;
  /** the failed (or stopped) dependencies this task was skipped for */
  because: string[];
}

/** a build run that started and has not finished (yet, or ever: interrupted, killed) */
export interface StaleMark {
  pid: number;
  startedAt: string;
  /** the nx command line, e.g. `run-many -t build` */
  command: string;
}

export interface RunSummary {
  /** set while (or after) a later build run did not finish: this summary is not of the latest run */
  stale?: StaleMark;
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

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/**
 * Why a task failed, from its output: the executor's `pkgnx build (<project>): <reason>` line, else the last
 * non-empty line. Undefined without output.
 */
export function failureReason(t: Pick<TaskRun, 'project' | 'output'>): string | undefined {
  const lines = (t.output ?? '').replace(ANSI, '').split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const marker = `pkgnx build (${t.project}): `;
  const own = [...lines].reverse().find((l) => l.startsWith(marker));
  return own ? own.slice(marker.length) : lines.at(-1);
}

/** the failed/stopped tasks a skipped task is skipped for, looking through skipped intermediates */
function rootCauses(taskId: string, input: RunSummaryInput, byId: Map<string, TaskRun>): string[] {
  const found = new Set<string>();
  const seen = new Set<string>([taskId]);
  const stack = [...(input.dependsOn?.[taskId] ?? [])];
  while (stack.length > 0) {
    const id = stack.pop() as string;
    if (seen.has(id)) continue;
    seen.add(id);
    const t = byId.get(id);
    if (!t) continue;
    if (t.outcome === 'failed' || t.outcome === 'stopped') found.add(t.project);
    else if (t.outcome === 'skipped') stack.push(...(input.dependsOn?.[id] ?? []));
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
  const byId = new Map(input.tasks.map((t) => [t.id, t]));
  for (const t of input.tasks) {
    const { project, target, configuration } = t;
    const base = { project, target, ...(configuration ? { configuration } : {}) };
    const durationMs = t.startTime !== undefined && t.endTime !== undefined ? t.endTime - t.startTime : undefined;
    s.counts.total++;
    switch (t.outcome) {
      case 'built':
        s.built.push({ ...base, ...(durationMs !== undefined ? { durationMs } : {}) });
        break;
      case 'restored':
        s.restored.push({ ...base, from: t.restoredFrom ?? 'local-cache' });
        break;
      case 'failed': {
        const log = findLog(project, configuration);
        const reason = log === null ? failureReason(t) : undefined;
        s.failed.push({ ...base, ...(t.code !== undefined ? { code: t.code } : {}), log, ...(reason !== undefined ? { reason } : {}) });
        break;
      }
      case 'skipped':
        s.skipped.push({ ...base, because: rootCauses(t.id, input, byId) });
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
  const logOf = (f: FailedEntry): string => (f.log !== null ? `log: ${f.log}` : `no log: failed before the build started${f.reason ? `: ${f.reason}` : ''}`);
  for (const f of s.failed) rows.push(['failed', f.project, arch(f.configuration), `${f.code !== undefined ? `exit ${f.code}, ` : ''}${logOf(f)}`]);
  for (const k of s.skipped) rows.push(['skipped', k.project, arch(k.configuration), k.because.length ? `because ${k.because.join(', ')} failed` : 'a dependency did not build']);
  for (const t of s.stopped) rows.push(['stopped', t.project, arch(t.configuration), 'interrupted']);
  for (const b of s.built) rows.push(['built', b.project, arch(b.configuration), fmtMs(b.durationMs)]);
  for (const r of s.restored) rows.push(['restored', r.project, arch(r.configuration), `from ${r.from}`]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd());
  if (s.stale)
    lines.unshift(
      `STALE: a later build run (nx ${s.stale.command}, started ${s.stale.startedAt}, pid ${s.stale.pid}) did not finish (interrupted or killed);`,
      `this is the summary of the run before it${s.startTime ? `, started ${s.startTime}` : ''}.`,
      '',
    );
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

function summaryFiles(workspaceRoot: string): { dist: string; json: string; txt: string } {
  const dist = join(workspaceRoot, 'dist');
  return { dist, json: join(dist, 'summary.json'), txt: join(dist, 'summary.txt') };
}

function writeSummaryFiles(workspaceRoot: string, summary: RunSummary): { json: string; txt: string } {
  const { dist, json, txt } = summaryFiles(workspaceRoot);
  mkdirSync(dist, { recursive: true });
  writeAtomic(json, `${JSON.stringify(summary, null, 2)}\n`);
  writeAtomic(txt, renderSummaryTable(summary));
  return { json, txt };
}

/** dist/summary.json, undefined when there is none (or it cannot be read) */
export function readSummary(workspaceRoot: string): RunSummary | undefined {
  try {
    return JSON.parse(readFileSync(summaryFiles(workspaceRoot).json, 'utf8')) as RunSummary;
  } catch {
    return undefined;
  }
}

/**
 * A build run starts: the summary of an earlier run must not pass for this run's if this one never finishes
 * (interrupted while loading the graph or building, killed). Marks dist/summary.{json,txt} stale; the run's
 * own summary replaces them at the end (writeRunSummary), or clearStaleMark() undoes the mark.
 */
export function markSummaryStale(workspaceRoot: string, mark: StaleMark): void {
  const summary = readSummary(workspaceRoot);
  if (!summary || summary.stale?.pid === mark.pid) return;
  writeSummaryFiles(workspaceRoot, { ...summary, stale: mark });
}

/** the run of process `pid` finished without writing a summary (no build task, dry run): undo its mark */
export function clearStaleMark(workspaceRoot: string, pid: number): void {
  const summary = readSummary(workspaceRoot);
  if (summary?.stale?.pid !== pid) return;
  const { stale: _cleared, ...rest } = summary;
  writeSummaryFiles(workspaceRoot, rest);
}

/** writes dist/summary.json and dist/summary.txt (each via rename, so readers never see half a file) */
export function writeRunSummary(workspaceRoot: string, input: RunSummaryInput): { summary: RunSummary; json: string; txt: string } {
  const findLog: LogFinder = (project, configuration) => {
    let dir: string;
    try {
      dir = logDirFor(workspaceRoot, project);
    } catch {
      return null;
    }
    // a log of this run only: an older run's log says nothing about this failure
    const log = newestLog(dir, configuration, input.startTime);
    return log ? relative(workspaceRoot, log) : null;
  };
  const summary = summarizeRun(input, findLog);
  return { summary, ...writeSummaryFiles(workspaceRoot, summary) };
}
