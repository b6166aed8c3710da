/**
 * One bootstrap run at a time per workspace: a lock file naming its holder (pid, host, start time,
 * command), created whole (written to a temporary name, then hard-linked into place, which fails when it
 * exists) and removed when the run ends, by any means but SIGKILL.
 * Stale rule: a lock of THIS host whose pid is not running, or runs a process started after the lock was
 * taken (the pid was reused), is stale and is taken over, saying so. A lock of another host (a workspace
 * on a shared filesystem) is never taken over by itself: `breakLock` does it, on the user's word.
 * Checking and taking happen under a flock(1) guard, so two runs never both take over one stale lock.
 */
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { hostname } from 'node:os';
import { acquireLock } from '../process/flock';
import { pidAlive } from '../process/tree';

export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
  command: string;
}

export class LockBusyError extends Error {
  override name = 'LockBusyError';
  constructor(
    readonly file: string,
    readonly holder: LockHolder,
  ) {
    super(
      `another bootstrap run holds ${file}: pid ${holder.pid} on host ${holder.host}, started ${holder.startedAt} (${holder.command}); ` +
        (holder.host === hostname() ? 'wait for it to finish' : 'it runs on another host: wait for it, or, if it is gone, run again with --break-lock'),
    );
  }
}

/** clock ticks per second of /proc/<pid>/stat's start time (USER_HZ: 100 on every Linux architecture pkgnx runs on) */
const USER_HZ = 100;

/** when the process `pid` started (ms since the epoch): its start in ticks after boot, plus the boot time */
function processStart(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces and parentheses: count fields after its last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    return Number.isFinite(ticks) && Number.isFinite(btime) ? btime * 1000 + (ticks * 1000) / USER_HZ : undefined;
  } catch {
    return undefined;
  }
}

/** why `holder` is stale on this host, or undefined when it still runs (or is another host's) */
export function staleReason(holder: LockHolder, host = hostname()): string | undefined {
  if (holder.host !== host) return undefined;
  if (!pidAlive(holder.pid)) return `pid ${holder.pid} is not running`;
  const started = processStart(holder.pid);
  const taken = Date.parse(holder.startedAt);
  if (started !== undefined && Number.isFinite(taken) && started > taken + 2000) return `pid ${holder.pid} is another process now (started after the lock was taken)`;
  return undefined;
}

function readHolder(file: string): LockHolder | undefined {
  try {
    const h = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockHolder>;
    return typeof h.pid === 'number' && typeof h.host === 'string' ? { pid: h.pid, host: h.host, startedAt: String(h.startedAt), command: String(h.command) } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes the lock or throws LockBusyError naming the holder. Returns the release function and what was
 * taken over, if anything (for the log).
 */
export async function takeRunLock(file: string, command: string, opts: { breakLock?: boolean } = {}): Promise<{ release: () => void; tookOver?: string }> {
  mkdirSync(dirname(file), { recursive: true });
  const guard = await acquireLock(`${file}.guard`, 60);
  try {
    const me: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), command };
    let tookOver: string | undefined;
    const existing = readHolder(file);
    if (existing) {
      const stale = staleReason(existing);
      if (!stale && !opts.breakLock) throw new LockBusyError(file, existing);
      tookOver = `${stale ? 'stale' : 'broken (--break-lock)'} lock of pid ${existing.pid} on ${existing.host} from ${existing.startedAt}${stale ? `: ${stale}` : ''}`;
      rmSync(file, { force: true });
    } else {
      // unreadable (not ours) or absent
      rmSync(file, { force: true });
    }
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, `${JSON.stringify(me, null, 2)}\n`);
    try {
      linkSync(tmp, file);
    } finally {
      rmSync(tmp, { force: true });
    }
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      // only our own lock: a --break-lock of another run may have replaced it
      if (readHolder(file)?.pid === process.pid && readHolder(file)?.host === me.host) rmSync(file, { force: true });
    };
    process.once('exit', release);
    return { release, ...(tookOver ? { tookOver } : {}) };
  } finally {
    guard();
  }
}
