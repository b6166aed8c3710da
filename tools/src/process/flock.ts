/**
 * File locks held by a flock(1) helper process for as long as our pipe to it is open: released when we
 * close it, or automatically when this process dies (no stale lock files, unlike repo-add's .lck).
 * Exclusive by default; `shared` for readers (builds using a root) against one exclusive writer (its update).
 */
import { start } from './run';

export const LOCK_WAIT_SECONDS = 600;

export interface LockOptions {
  /** a shared (reader) lock instead of an exclusive one */
  shared?: boolean;
  /** give up after this many seconds; 0: do not wait at all (resolves to undefined when busy) */
  waitSeconds?: number;
}

/** exit status flock(1) gives when -n/-w could not take the lock */
const FLOCK_BUSY = 1;

/** Like acquireLock, but `undefined` instead of an error when the lock is busy (waitSeconds 0 by default). */
export async function tryLock(lockFile: string, options: LockOptions = {}): Promise<(() => void) | undefined> {
  const waitSeconds = options.waitSeconds ?? 0;
  const holder = start('flock', [options.shared ? '-s' : '-x', waitSeconds > 0 ? `-w${waitSeconds}` : '-n', lockFile, 'sh', '-c', 'echo locked; read _'], {
    stdio: ['pipe', 'pipe', 'inherit'],
    buffer: false,
  });
  return new Promise((resolve, reject) => {
    let seen = '';
    holder.stdout?.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes('locked')) resolve(() => holder.stdin?.end('\n'));
    });
    holder.on('error', reject);
    holder.on('exit', (code) => (code === FLOCK_BUSY ? resolve(undefined) : reject(new Error(`could not lock ${lockFile} (flock exit ${code})`))));
  });
}

/** Wait for the lock (up to `waitSeconds`, default 600 s); an error naming the file when it stays busy. */
export async function acquireLock(lockFile: string, waitSecondsOrOptions: number | LockOptions = LOCK_WAIT_SECONDS): Promise<() => void> {
  const options = typeof waitSecondsOrOptions === 'number' ? { waitSeconds: waitSecondsOrOptions } : waitSecondsOrOptions;
  const waitSeconds = options.waitSeconds ?? LOCK_WAIT_SECONDS;
  const release = await tryLock(lockFile, { ...options, waitSeconds: Math.max(waitSeconds, 1) });
  if (!release) throw new Error(`could not lock ${lockFile} within ${waitSeconds}s (another process holds it)`);
  return release;
}
