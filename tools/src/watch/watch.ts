/**
 * `pkgnx watch`: when a file under pkgbuilds/ is saved, rebuild what it affects through Nx
 * (`nx affected -t build --files=…`: the projects owning the files and their dependents; dependencies come
 * from the cache or build first, as in any run), debounced, one build at a time (scheduler.ts), with a status
 * line. Stopping ends the running build the way Ctrl-C ends an `nx` command (SIGINT to its process group) and
 * returns only when every process of that group is gone: the executors remove their copies and staging
 * directories before they exit. Touches the disk (reads dist/summary.json) and starts processes.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import type { FSWatcher } from 'chokidar';
import { start } from '../process/run';
import { processGroupTree, stillRunning } from '../process/tree';
import { readSummary, type RunSummary } from '../packaging/run-summary';
import { RebuildScheduler, type BuildReport, type WatchStatus } from './scheduler';

export interface WatchOptions {
  root: string;
  /** the build target (plugin option buildTargetName) */
  target: string;
  /** more arguments for nx (`-c aarch64`, `--parallel=2`, …) */
  nxArgs: string[];
  debounceMs: number;
  /** nx's output, line by line */
  output: (line: string) => void;
  status: (status: WatchStatus) => void;
  /** how long a stopped build may take to clean up before its processes are killed */
  stopGraceMs?: number;
}

/** editors' swap, backup and probe files: saving them is not an edit */
export function isEditorNoise(name: string): boolean {
  return /^\.#|^#.*#$|~$|\.sw[a-p]$|^4913$|\.tmp$|^\.git$/.test(name);
}

/** The status line: phase, what is building or queued, how the last build ended. */
export function formatStatus(s: WatchStatus): string {
  const files = (list: string[]): string => (list.length <= 3 ? list.join(', ') : `${list.slice(0, 3).join(', ')} and ${list.length - 3} more`);
  const parts: string[] = [];
  if (s.phase === 'building') parts.push(`building (${files(s.building)})`);
  if (s.phase === 'stopping') parts.push('stopping');
  if (s.queued.length) parts.push(`queued: ${files(s.queued)}`);
  if (s.phase === 'idle') parts.push('watching pkgbuilds/');
  if (s.last && s.phase !== 'building') parts.push(`${s.last.ok ? 'done' : 'failed'}: ${s.last.text}`);
  return parts.join(' | ');
}

/** a build's end in a line, from the summary the plugin wrote for it (undefined: it wrote none) */
export function reportFromSummary(s: RunSummary | undefined, exitCode: number | undefined): BuildReport {
  if (!s) return exitCode === 0 ? { ok: true, text: 'nothing to build' } : { ok: false, text: `nx exited with ${exitCode ?? 'a signal'} before any build (see its output above)` };
  const names = (list: { project: string; configuration?: string }[]): string => list.map((e) => (e.configuration ? `${e.project}:${e.configuration}` : e.project)).join(', ');
  const parts: string[] = [];
  if (s.built.length) parts.push(`built ${names(s.built)}`);
  if (s.restored.length) parts.push(`restored ${names(s.restored)}`);
  for (const f of s.failed) parts.push(`failed ${f.configuration ? `${f.project}:${f.configuration}` : f.project} (${f.log ? `log: ${f.log}` : (f.reason ?? 'no log')})`);
  if (s.skipped.length) parts.push(`skipped ${names(s.skipped)}`);
  if (s.stopped.length) parts.push(`stopped ${names(s.stopped)}`);
  return { ok: exitCode === 0 && s.failed.length === 0 && s.stopped.length === 0, text: parts.join('; ') || 'nothing to build' };
}

/**
 * The saved files that belong to a package directory (the nearest directory above them holding a PKGBUILD, as the
 * plugin's projects do). Nx counts a file of no project as touching every project, so a stray file under pkgbuilds/
 * or one of a deleted package directory would rebuild the whole workspace: those are left out, and named.
 */
export function packageFiles(root: string, files: string[]): { owned: string[]; ignored: string[] } {
  const owned: string[] = [];
  const ignored: string[] = [];
  for (const file of files) {
    let dir = dirname(file);
    while (dir.startsWith('pkgbuilds/') && !existsSync(join(root, dir, 'PKGBUILD'))) dir = dirname(dir);
    (dir.startsWith('pkgbuilds/') ? owned : ignored).push(file);
  }
  return { owned, ignored };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Wait until every process of a build has ended: its process group and what runs below it (sandboxes in sessions
 * of their own), remembered in `seen` once found, since one re-parented after its parent ended is no longer
 * below anything of the build. Returns those still running at the deadline.
 */
async function buildEnded(pgid: number, seen: Set<number>, deadline: number): Promise<number[]> {
  for (;;) {
    for (const pid of processGroupTree(pgid)) seen.add(pid);
    const left = stillRunning(seen);
    if (left.length === 0 || Date.now() > deadline) return left;
    await sleep(200);
  }
}

/** Watch until stop() is called; resolves once watching has started. */
export async function startWatch(options: WatchOptions): Promise<{ stop: () => Promise<void> }> {
  const { root } = options;
  const pkgbuilds = join(root, 'pkgbuilds');
  if (!existsSync(pkgbuilds)) throw new Error(`${pkgbuilds} does not exist: nothing to watch`);
  const nx = createRequire(join(root, 'package.json')).resolve('nx/bin/nx.js');
  let running: { pgid: number; seen: Set<number> } | undefined;
  let stopping = false;

  const build = async (saved: string[]): Promise<BuildReport> => {
    const { owned: files, ignored } = packageFiles(root, saved);
    const note = ignored.length ? ` (ignored, in no package directory: ${ignored.join(', ')})` : '';
    if (files.length === 0) return { ok: true, text: `nothing to build${note}` };
    const startedAt = new Date();
    // its own process group: a stop ends the whole build as Ctrl-C ends an nx command
    const child = start(process.execPath, [nx, 'affected', '-t', options.target, `--files=${files.join(',')}`, '--outputStyle=stream', ...options.nxArgs], {
      cwd: root,
      env: { ...process.env, NX_TUI: 'false' },
      detached: true,
      stdin: 'ignore',
      all: true,
      buffer: false,
      cleanup: false,
    });
    if (child.pid === undefined) return { ok: false, text: 'nx could not be started' };
    running = { pgid: child.pid, seen: new Set([child.pid]) };
    let partial = '';
    child.all?.on('data', (d: Buffer) => {
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) options.output(line);
    });
    const result = await child;
    if (partial) options.output(partial);
    // processes may outlive nx (executors cleaning up): the next build starts only when they have ended
    await buildEnded(child.pid, running.seen, Infinity);
    running = undefined;
    const summary = readSummary(root);
    const fresh = summary && !summary.stale && summary.startTime !== undefined && Date.parse(summary.startTime) >= startedAt.getTime() - 1000 ? summary : undefined;
    const report = reportFromSummary(fresh, result.exitCode);
    return stopping ? { ok: false, text: `stopped (${report.text})` } : { ...report, text: report.text + note };
  };

  const scheduler = new RebuildScheduler(build, options.status, options.debounceMs);
  const { watch } = (await import('chokidar')) as typeof import('chokidar');
  const watcher: FSWatcher = watch(pkgbuilds, {
    ignoreInitial: true,
    ignored: (path: string) => isEditorNoise(basename(path)),
  });
  const onFile = (path: string): void => scheduler.changed(relative(root, path).split(sep).join('/'));
  watcher.on('add', onFile).on('change', onFile).on('unlink', onFile);
  await new Promise<void>((resolve, reject) => {
    watcher.once('ready', resolve);
    watcher.once('error', reject);
  });
  options.status(scheduler.status());

  const stop = async (): Promise<void> => {
    stopping = true;
    // no new build from here; the status says so while the running one ends
    const ended = scheduler.stop();
    await watcher.close();
    const build = running;
    if (build) {
      for (const pid of processGroupTree(build.pgid)) build.seen.add(pid);
      try {
        process.kill(-build.pgid, 'SIGINT');
      } catch {
        // already gone
      }
      const grace = options.stopGraceMs ?? 120_000;
      const left = await buildEnded(build.pgid, build.seen, Date.now() + grace);
      if (left.length > 0) {
        options.output(`pkgnx watch: the build did not end within ${Math.round(grace / 1000)} s of SIGINT: killing ${left.join(' ')}`);
        for (const pid of left) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone meanwhile
          }
        }
        await buildEnded(build.pgid, build.seen, Date.now() + 10_000);
      }
    }
    await ended;
  };
  return { stop };
}
