/** Small process facts shared by the modules that clean up after dead processes. */

/** Is a process with this pid alive? (EPERM: it exists but belongs to another user.) */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
