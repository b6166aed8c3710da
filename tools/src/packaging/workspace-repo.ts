/**
 * The workspace repository `dist/<arch>/repo/`: a pacman repository holding every package built (or
 * restored from Nx's cache) in this workspace, so builds of dependents install them with pacman.
 *
 * Every change goes through repo-add under an exclusive flock(1) lock on `<repo>/.lock`, so parallel
 * tasks never lose each other's entries (repo-add's own `.lck` fails instead of waiting by default).
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, symlinkSync } from 'node:fs';
import { copyFile, link, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { runChecked, runCheckedSync } from '../process/run';
import { acquireLock } from '../process/flock';
import { readSyncDatabase } from '../syncdb';
import type { WorkspaceRepository } from './backends/backend';


export const DEFAULT_REPO_NAME = 'pkgnx-workspace';

export function workspaceRepository(workspaceRoot: string, arch: string, name = DEFAULT_REPO_NAME): WorkspaceRepository {
  return { name, dir: join(workspaceRoot, 'dist', arch, 'repo') };
}

export function repoDbPath(repo: WorkspaceRepository): string {
  return join(repo.dir, `${repo.name}.db.tar.zst`);
}

/** package archives (not signatures) in a directory */
export async function listPackageFiles(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  return (await readdir(dir))
    .filter((f) => /\.pkg\.tar(\.[a-z0-9]+)?$/.test(f))
    .sort()
    .map((f) => join(dir, f));
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** filename → sha256 of the packages the repository database lists */
export async function registeredPackages(repo: WorkspaceRepository): Promise<Map<string, string>> {
  const db = repoDbPath(repo);
  const out = new Map<string, string>();
  if (!existsSync(db)) return out;
  for (const p of (await readSyncDatabase(db, repo.name)).packages) out.set(p.filename, p.sha256sum ?? '');
  return out;
}

/**
 * Add package files to the repository: copied (hard-linked when possible) into it and repo-added,
 * skipping files already registered with the same checksum. Returns the file names actually added.
 */
export async function addPackages(repo: WorkspaceRepository, files: string[]): Promise<string[]> {
  if (files.length === 0) return [];
  await mkdir(repo.dir, { recursive: true });
  const release = await acquireLock(join(repo.dir, '.lock'));
  try {
    return await addLocked(repo, files);
  } finally {
    release();
  }
}

async function sameInode(a: string, b: string): Promise<boolean> {
  try {
    const [x, y] = await Promise.all([stat(a), stat(b)]);
    return x.ino === y.ino && x.dev === y.dev;
  } catch {
    return false;
  }
}

/** The critical section, run only under the lock. */
async function addLocked(repo: WorkspaceRepository, files: string[]): Promise<string[]> {
  const known = await registeredPackages(repo);
  const toAdd: string[] = [];
  for (const file of files) {
    const name = basename(file);
    const dest = join(repo.dir, name);
    // the usual case, a dependency registered by an earlier build, is a hard link of the same file:
    // no need to hash it again (a leaf of a large graph registers hundreds of packages)
    if (known.has(name) && (await sameInode(file, dest))) continue;
    const sum = await sha256File(file);
    if (known.get(name) === sum && existsSync(dest)) continue;
    const tmp = join(repo.dir, `.${name}.tmp-${process.pid}`);
    await rm(tmp, { force: true });
    try {
      await link(file, tmp);
    } catch {
      await copyFile(file, tmp);
    }
    // rename over: a half-copied package is never visible under its real name
    await rename(tmp, dest);
    toAdd.push(dest);
  }
  if (toAdd.length > 0) {
    // -R: drop the file of the version being replaced; the lock above makes repo-add's own .lck uncontended
    await runChecked('repo-add', ['-q', '-R', '--nocolor', repoDbPath(repo), ...toAdd]);
  }
  return toAdd.map((f) => basename(f));
}

/**
 * Register the outputs of already built (or cache-restored) projects `dist/<arch>/<pkgbase>/` into the
 * workspace repository. Called before each build for its dependencies, and by the plugin after a run.
 * `fromDir`: read the outputs from `dist/<fromDir>/<pkgbase>/` instead (`any`: packages built once for
 * every architecture, see any-package.ts).
 */
export async function registerOutputs(workspaceRoot: string, arch: string, pkgbases: string[], repoName = DEFAULT_REPO_NAME, fromDir = arch): Promise<string[]> {
  const files: string[] = [];
  for (const pkgbase of pkgbases) files.push(...(await listPackageFiles(join(workspaceRoot, 'dist', fromDir, pkgbase))));
  return addPackages(workspaceRepository(workspaceRoot, arch, repoName), files);
}

/** An empty database, so pacman -Sy works before the first package is added. */
export async function ensureRepoDatabase(workspaceRoot: string, arch: string, name: string): Promise<void> {
  const repo = workspaceRepository(workspaceRoot, arch, name);
  if (existsSync(join(repo.dir, `${name}.db`))) return;
  await mkdir(repo.dir, { recursive: true });
  const release = await acquireLock(join(repo.dir, '.lock'));
  try {
    if (existsSync(join(repo.dir, `${name}.db`))) return;
    for (const kind of ['db', 'files']) {
      const file = join(repo.dir, `${name}.${kind}.tar.zst`);
      if (!existsSync(file)) runCheckedSync('bsdtar', ['--zstd', '-cf', file, '--files-from', '/dev/null']);
      const link = join(repo.dir, `${name}.${kind}`);
      if (!existsSync(link)) symlinkSync(`${name}.${kind}.tar.zst`, link);
    }
  } finally {
    release();
  }
}


/**
 * Workspace packages are rebuilt under the same file name (a source edit without a pkgrel bump), a
 * published file name can be published again with other contents once the old file was pruned, and the
 * same file name can be in the workspace and a published repository with different contents; pacman
 * trusts a same-named file in its cache, then rejects it for its checksum. `repos` (filename → sha256, in
 * pacman.conf order: the first repository naming a file is the one pacman takes it from) decide: every
 * cached copy that differs from that repository's is removed, so pacman downloads the current one.
 */
export async function evictStaleCachedPackages(repos: readonly ReadonlyMap<string, string>[], cacheDir: string): Promise<string[]> {
  const current = new Map<string, string>();
  for (const repo of repos) for (const [name, sha256] of repo) if (!current.has(name)) current.set(name, sha256);
  const evicted: string[] = [];
  for (const [name, sha256] of current) {
    const cached = join(cacheDir, name);
    if (!existsSync(cached) || (await sha256File(cached)) === sha256) continue;
    await rm(cached, { force: true });
    evicted.push(name);
  }
  return evicted;
}

/**
 * pacman is not safe for two processes writing one package cache (both download `<file>.part`, one
 * rename fails): parallel builds that share a cache run their pacman steps under this lock.
 */
export async function withPacmanCacheLock<T>(cacheDir: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(cacheDir, { recursive: true });
  const release = await acquireLock(join(cacheDir, '.pkgnx-cache.lock'));
  try {
    return await fn();
  } finally {
    release();
  }
}
