/**
 * The run summary: what was built, restored from a cache, failed (with the log to read) and skipped (with the
 * failed dependency that caused it), and what was published where (or why not), as dist/summary.{json,txt}. The vocabulary is pkgnx's own; the Nx plugin
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

/** one repository a run's publish tasks wrote (or left unchanged) */
export interface PublishedRepository {
  /** the store, e.g. `s3://bucket/prefix` or a directory */
  destination: string;
  arch: string;
  repo: string;
  /** where clients find it (publicUrl/<repo>/os/<arch>) */
  location: string;
  generation: number;
  changed: boolean;
  /** package files new in the database, with why they went to this repository */
  added: { file: string; reason: string }[];
  /** already published exactly so */
  unchanged: string[];
  /** no longer in the database: deleted after the grace period */
  scheduledForDeletion: string[];
  /** deleted by this run (their grace period was over) */
  deleted: string[];
  /** the projects whose packages are in this commit */
  projects: string[];
}

export interface NotPublishedEntry {
  project: string;
  configuration?: string;
  reason: string;
}

export interface PublishingInput {
  repositories: PublishedRepository[];
  notPublished: NotPublishedEntry[];
}

export interface RunSummaryInput {
  tasks: TaskRun[];
  /** what the run's publish tasks published (absent: the run published nothing) */
  publishing?: PublishingInput;
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
  /** repositories written by the run's publish tasks */
  published?: PublishedRepository[];
  /** publish tasks that failed or did not run, and commits that failed */
  notPublished?: NotPublishedEntry[];
}

/** how to find a failed package's log; the default reads logs/<pkgbase>/ */
export type LogFinder = (project: string, configuration: string | undefined) => string | null;

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/**
 * Why a task failed, from its output: the executor's `pkgnx build (<project>): <reason>` (or `pkgnx publish
 * (<project>): ...`) line, else the last non-empty line. Undefined without output.
 */
export function failureReason(t: Pick<TaskRun, 'project' | 'output'>): string | undefined {
  const lines = (t.output ?? '').replace(ANSI, '').split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const markers = [`pkgnx build (${t.project}): `, `pkgnx publish (${t.project}): `];
  const own = [...lines].reverse().find((l) => markers.some((m) => l.startsWith(m)));
  return own ? own.slice(own.indexOf('): ') + 3) : lines.at(-1);
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
  if (input.publishing) {
    s.published = input.publishing.repositories;
    s.notPublished = [...input.publishing.notPublished].sort(byProject);
  }
  return s;
}

/** What was published where, and what was not (with why); empty when the run published nothing. */
export function renderPublished(s: Pick<RunSummary, 'published' | 'notPublished'>): string {
  const lines: string[] = [];
  const byDestination = new Map<string, PublishedRepository[]>();
  for (const r of s.published ?? []) byDestination.set(r.destination, [...(byDestination.get(r.destination) ?? []), r]);
  for (const [destination, repos] of byDestination) {
    lines.push(`published to ${destination}:`);
    for (const r of repos) {
      lines.push(`  ${r.repo}/os/${r.arch}  ${r.changed ? `generation ${r.generation}` : `unchanged (generation ${r.generation})`}  ${r.location}`);
      for (const a of r.added) lines.push(`    + ${a.file}  (${a.reason})`);
      for (const f of r.unchanged) lines.push(`    = ${f}  (already published)`);
      for (const f of r.scheduledForDeletion) lines.push(`    - ${f}  (no longer in the database; deleted after the grace period)`);
      for (const f of r.deleted) lines.push(`    x ${f}  (deleted: its grace period was over)`);
    }
  }
  if (s.notPublished?.length) {
    lines.push('not published:');
    for (const n of s.notPublished) lines.push(`  ${n.project}${n.configuration ? ` (${n.configuration})` : ''}: ${n.reason}`);
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
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
  const published = renderPublished(s);
  return `${lines.join('\n')}\n${published ? `\n${published}` : ''}`;
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
