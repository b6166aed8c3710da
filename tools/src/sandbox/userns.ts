/**
 * The user namespace a clean build runs in when pkgnx runs as root: uids 0..65535 inside are
 * base..base+65535 outside (sandbox/identity.ts), so the root of the build's copy — pacman, install
 * scriptlets — has capabilities over the copy and nothing else, and makepkg's build user (1000 inside)
 * is an unprivileged uid no host account has.
 *
 * Made by a placeholder process that unshares its user namespace as the range's first uid (so that uid,
 * which bubblewrap later runs as, owns the namespace and may enter it), whose maps pkgnx writes as root;
 * the namespace stays alive through the file descriptor returned, after the placeholder is gone.
 */
import { closeSync, openSync, readlinkSync, writeFileSync } from 'node:fs';
import { start } from '../process/run';
import { isRoot, MAPPED_IDS } from './identity';

export interface BuildUserNamespace {
  /** an open descriptor of /proc/<pid>/ns/user (for `bwrap --userns`) */
  fd: number;
  /** host uid of uid 0 inside */
  base: number;
  close(): void;
}

const WAIT_MS = 5000;

export async function openBuildUserNamespace(base: number): Promise<BuildUserNamespace> {
  if (!isRoot()) throw new Error('a build user namespace with a uid range needs root');
  const holder = start('unshare', ['--user', '--', 'sleep', '600'], { uid: base, gid: base, stdio: 'ignore' });
  const failed = new Promise<never>((_, reject) => {
    holder.once('error', (err) => reject(new Error(`cannot start unshare for the build's user namespace: ${err.message}`)));
    holder.once('exit', (code) => reject(new Error(`unshare --user exited (${code}) before its user namespace was set up (are user namespaces allowed? sysctl user.max_user_namespaces)`)));
  });
  failed.catch(() => undefined);
  try {
    const pid = holder.pid;
    if (pid === undefined) return await failed;
    const ours = readlinkSync('/proc/self/ns/user');
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      let theirs: string | undefined;
      try {
        theirs = readlinkSync(`/proc/${pid}/ns/user`);
      } catch {
        // not started yet
      }
      if (theirs && theirs !== ours) break;
      if (Date.now() > deadline) throw new Error(`unshare --user did not create a user namespace within ${WAIT_MS / 1000} s`);
      await Promise.race([new Promise((r) => setTimeout(r, 2)), failed]);
    }
    writeFileSync(`/proc/${pid}/gid_map`, `0 ${base} ${MAPPED_IDS}\n`);
    writeFileSync(`/proc/${pid}/uid_map`, `0 ${base} ${MAPPED_IDS}\n`);
    const fd = openSync(`/proc/${pid}/ns/user`, 'r');
    return { fd, base, close: () => closeSync(fd) };
  } finally {
    holder.removeAllListeners('exit');
    holder.kill('SIGKILL');
  }
}
