/**
 * Where the build root of an architecture is: the directory builds copy (rootfs backend) or devtools'
 * root chroot. The metadata sandbox reads the same root's pacman state and /etc.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';

/** `{arch}` placeholders in path options */
export function expandArch(value: string, arch: string): string {
  return value.replaceAll('{arch}', arch);
}

/** option `rootfs` (with `{arch}`), else `chroot-config/<arch>/rootfs` (a directory/symlink, or a file holding the path) */
export function resolveRootfs(workspaceRoot: string, arch: string, option?: string): string | undefined {
  if (option) {
    const p = expandArch(option, arch);
    return isAbsolute(p) ? p : resolve(workspaceRoot, p);
  }
  const conf = join(workspaceRoot, 'chroot-config', arch, 'rootfs');
  if (!existsSync(conf)) return undefined;
  if (statSync(conf).isDirectory()) return conf;
  const line = readFileSync(conf, 'utf8').split('\n').map((l) => l.trim()).find((l) => l && !l.startsWith('#'));
  if (!line) return undefined;
  return isAbsolute(line) ? line : resolve(join(workspaceRoot, 'chroot-config', arch), line);
}

/** the root the `root` verbs work on: resolveRootfs's, else `.pkgnx/rootfs/<arch>` (where scripts/setup.sh puts it) */
export function rootDirFor(workspaceRoot: string, arch: string, option?: string): string {
  return resolveRootfs(workspaceRoot, arch, option) ?? join(workspaceRoot, '.pkgnx', 'rootfs', arch);
}

/** A short stable id of a workspace directory, for per-workspace chroot directories. */
export function workspaceId(workspaceRoot: string): string {
  return `${basename(workspaceRoot).replace(/[^A-Za-z0-9._-]/g, '_')}-${createHash('sha256').update(workspaceRoot).digest('hex').slice(0, 8)}`;
}

/** devtools' default chroot directory (makechrootpkg -r) of a workspace and architecture */
export function defaultDevtoolsChrootDir(workspaceRoot: string, arch: string): string {
  return `/var/lib/pkgnx/chroots/${workspaceId(workspaceRoot)}/${arch}`;
}

/** the root filesystem a build of `arch` starts from, when one exists: the rootfs backend's, else devtools' */
export function locateBuildRoot(workspaceRoot: string, arch: string): string | undefined {
  const rootfs = resolveRootfs(workspaceRoot, arch);
  if (rootfs && existsSync(join(rootfs, 'usr'))) return rootfs;
  const devtools = join(defaultDevtoolsChrootDir(workspaceRoot, arch), 'root');
  return existsSync(join(devtools, '.arch-chroot')) ? devtools : undefined;
}
