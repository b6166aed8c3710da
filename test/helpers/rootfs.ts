/**
 * The Debian build roots the rootfs tests build in: the same ones `scripts/setup.sh` makes for users
 * (`.pkgnx/rootfs/<arch>`, through scripts/make-rootfs.sh), so CI debootstraps each architecture once.
 * Override the location with PKGNX_TEST_ROOTFS_DIR (a directory holding one root per architecture).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { WORKSPACE_ROOT } from './env';

export function rootfsPath(arch: string): string {
  return join(process.env.PKGNX_TEST_ROOTFS_DIR ?? join(WORKSPACE_ROOT, '.pkgnx', 'rootfs'), arch);
}

export interface RootfsResult {
  root?: string;
  /** why the root could not be made (prerequisite missing): the test is skipped with this reason */
  skipReason?: string;
}

/** Returns the root for `arch` (x86_64 | aarch64), creating it with scripts/make-rootfs.sh if needed. */
export function ensureRootfs(arch: string): RootfsResult {
  const root = rootfsPath(arch);
  if (existsSync(join(root, '.pkgnx-rootfs-complete'))) return { root };
  if (process.getuid?.() !== 0) return { skipReason: 'debootstrap needs root' };
  if (spawnSync('bash', ['-c', 'command -v debootstrap'], { stdio: 'ignore' }).status !== 0) return { skipReason: 'debootstrap is not installed' };
  const r = spawnSync('bash', [join(WORKSPACE_ROOT, 'scripts', 'make-rootfs.sh'), arch, root], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) return { skipReason: `scripts/make-rootfs.sh ${arch} failed (mirror unreachable?):\n${`${r.stdout}${r.stderr}`.split('\n').slice(-15).join('\n')}` };
  return { root };
}
