/** Small process facts shared by the modules that clean up after dead processes. */
import { readdirSync, readFileSync } from 'node:fs';

/** Is a process with this pid alive? (EPERM: it exists but belongs to another user.) */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Calls `onGone` once when the process that started us dies, however it dies (kill -9 included): we are
 * re-parented (polled), our IPC channel closes, or our terminal hangs up. Returns the function that stops
 * watching.
 */
export function watchParent(onGone: (why: string) => void, intervalMs = 500): () => void {
  const parent = process.ppid;
  let fired = false;
  const fire = (why: string): void => {
    if (fired) return;
    fired = true;
    onGone(why);
  };
  const timer = setInterval(() => {
    if (process.ppid !== parent) fire(`the process that started it (pid ${parent}) is gone`);
  }, intervalMs);
  timer.unref();
  const onDisconnect = (): void => fire('its parent closed the IPC channel');
  const onHup = (): void => fire('SIGHUP');
  process.on('disconnect', onDisconnect);
  process.on('SIGHUP', onHup);
  return () => {
    clearInterval(timer);
    process.off('disconnect', onDisconnect);
    process.off('SIGHUP', onHup);
  };
}

/** the parent pid of every process, from /proc (empty where /proc is not readable) */
function parentPids(): Map<number, number> {
  const out = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after its last ')'
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      out.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * The live processes of process group `pgid` and every process below them, from one reading of /proc. A group
 * outlives its leader and its members keep it when re-parented; a sandbox that made a session of its own is
 * found below the member that started it. Zombies are not counted (pid 1 in a container need not reap them).
 */
export function processGroupTree(pgid: number): number[] {
  const children = new Map<number, number[]>();
  const queue: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      // after comm (which may hold spaces and parentheses): state ppid pgrp
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const [state, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z') continue;
      const pid = Number(e);
      children.set(Number(ppid), [...(children.get(Number(ppid)) ?? []), pid]);
      if (Number(pgrp) === pgid) queue.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  const found = new Set<number>();
  while (queue.length) {
    const pid = queue.pop()!;
    if (found.has(pid)) continue;
    found.add(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return [...found];
}

/** those of `pids` still running (not gone, not a zombie) */
export function stillRunning(pids: Iterable<number>): number[] {
  return [...pids].filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
    } catch {
      return false;
    }
  });
}

/**
 * `root` and every process below it. A sandbox's processes sit in sessions and pid namespaces of their own,
 * out of reach of kill(-pgid): this finds them while their chain of parents still leads to `root`.
 */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parentPids()) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  const tree: number[] = [];
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop()!;
    tree.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/**
 * SIGKILL every process below `root`, leaving `root` alive until they are reaped: killed children whose
 * parent died first would stay zombies of pid 1 (which need not reap them). Their own parents, alive until
 * then, reap them. The tree is read again until nothing is below `root`: a process forked between a reading
 * and the kills is found by the next one. Returns whether all were gone within `timeoutMs`.
 */
export async function killBelow(root: number, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const killed = new Set<number>();
  for (;;) {
    const below = processTree(root).filter((p) => p !== root);
    for (const pid of below) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.add(pid);
      } catch {
        // already gone
      }
    }
    if (below.length === 0 && [...killed].every((p) => !pidAlive(p))) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}
