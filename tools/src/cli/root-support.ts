/**
 * What the `root` verbs share: the architecture and the root they work on (`--dir`, else where builds
 * look: chroot-config/<arch>/rootfs, else .pkgnx/rootfs/<arch>), their log file, progress on stderr.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { logStamp } from '../packaging/logs';
import { rootDirFor } from '../roots/locate';
import { UsageError } from './support';

const ARCH = /^[A-Za-z0-9_]+$/;

export interface RootTarget {
  workspaceRoot: string;
  arch: string;
  root: string;
}

export function rootTarget(values: { arch?: string; dir?: string; workspace?: string }): RootTarget {
  if (!values.arch) throw new UsageError('--arch is required (e.g. --arch x86_64)');
  if (!ARCH.test(values.arch)) throw new UsageError(`--arch: "${values.arch}" is not a pacman architecture name`);
  const workspaceRoot = resolve(values.workspace ?? process.cwd());
  const root = values.dir ? resolve(values.dir) : rootDirFor(workspaceRoot, values.arch);
  return { workspaceRoot, arch: values.arch, root };
}

/** logs/.pkgnx/roots/<stamp>-<arch>-<what>.log (beside the build logs, never a package's directory) */
export function rootLogFile(t: RootTarget, what: string): string {
  const dir = join(t.workspaceRoot, 'logs', '.pkgnx', 'roots');
  mkdirSync(dir, { recursive: true });
  return join(dir, `${logStamp(new Date())}-${t.arch}-${what}.log`);
}

export function say(verb: string): (line: string) => void {
  return (line) => process.stderr.write(`${verb}: ${line}\n`);
}

/** an AbortSignal that SIGINT/SIGTERM abort (the running sandbox step is stopped, its temporary root removed) */
export function interruptSignal(): AbortSignal {
  const c = new AbortController();
  // `on`, not `once`: children stopping on the first signal may signal their group (us) again
  const stop = (): void => c.abort();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return c.signal;
}
