/**
 * Build logs: `logs/<pkgbase>/<YYYYmmdd-HHMMSS>-<arch>.log` (UTC), one directory per pkgbase so rotation
 * and "the newest log of a failed package" never look at another package's files.
 */
import { readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';

/** `<YYYYmmdd-HHMMSS>-<arch>.log`; the timestamp sorts lexically = chronologically */
const LOG_NAME = /^(\d{8}-\d{6})-(.+)\.log$/;

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

export function logStamp(date: Date): string {
  return (
    `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}-` +
    `${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}`
  );
}

export function logDirFor(workspaceRoot: string, pkgbase: string): string {
  if (!pkgbase || pkgbase.includes('/') || pkgbase === '.' || pkgbase === '..') throw new Error(`invalid pkgbase for a log path: '${pkgbase}'`);
  return join(workspaceRoot, 'logs', pkgbase);
}

export function logPathFor(workspaceRoot: string, pkgbase: string, arch: string, date: Date): string {
  return join(logDirFor(workspaceRoot, pkgbase), `${logStamp(date)}-${arch}.log`);
}

interface LogEntry {
  name: string;
  path: string;
  stamp: string;
  arch: string;
  mtimeMs: number;
}

/** our log files in one package's directory, newest first (timestamp in the name, then mtime, then name) */
export function listLogs(dir: string): LogEntry[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const entries: LogEntry[] = [];
  for (const name of names) {
    const m = LOG_NAME.exec(name);
    if (!m) continue; // not ours (makepkg's own logs live in a subdirectory): never rotated
    const path = join(dir, name);
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st || !st.isFile()) continue;
    entries.push({ name, path, stamp: m[1], arch: m[2], mtimeMs: st.mtimeMs });
  }
  return entries.sort((a, b) =>
    a.stamp !== b.stamp ? (a.stamp < b.stamp ? 1 : -1) : b.mtimeMs - a.mtimeMs || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0),
  );
}

/** keep the newest `keep` logs of THIS directory (one pkgbase); returns the removed paths */
export function rotateLogs(dir: string, keep: number): string[] {
  if (!Number.isInteger(keep) || keep < 0) throw new Error(`rotateLogs: keep must be a non-negative integer, got ${keep}`);
  const removed: string[] = [];
  for (const e of listLogs(dir).slice(keep)) {
    try {
      unlinkSync(e.path);
      removed.push(e.path);
    } catch {
      // removed concurrently: fine
    }
  }
  return removed;
}

/**
 * newest log of a package, of one architecture when `arch` is given (never another architecture's), and
 * written since `since` (ms) when given: a log of this run, never one left by an older run
 */
export function newestLog(dir: string, arch?: string, since?: number): string | undefined {
  const fresh = (e: LogEntry): boolean => since === undefined || (e.mtimeMs >= since && e.stamp >= logStamp(new Date(since)));
  return listLogs(dir).find((e) => (arch === undefined || e.arch === arch) && fresh(e))?.path;
}
