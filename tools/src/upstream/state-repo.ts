/**
 * The Arch Linux state repository (alpm-state-repo(7)): directories `<repo>-<arch>/` holding one file per
 * pkgbase with the line `pkgbase version tag commit`. It is the exact tag and commit to check out for a
 * version — better than guessing tag spellings. The local clone is kept identical to the remote's
 * default branch (fetch + hard reset) and re-cloned when it is damaged.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { simpleGit } from 'simple-git';
import { vercmp } from '../version';

export interface StateEntry {
  pkgbase: string;
  /** repository part of the directory name (`core`, `extra-testing`) */
  repo: string;
  /** architecture part of the directory name (`x86_64`, `any`) */
  arch: string;
  version: string;
  tag: string;
  commit: string;
}

export interface StateSyncResult {
  dir: string;
  action: 'cloned' | 'updated' | 'recloned';
  head: string;
  /** why the clone was replaced, for `recloned` */
  reason?: string;
}

/** The tag of a version as Arch's packaging repositories name it: `:` -> `-`, `~` -> `.`. */
export function versionTag(version: string): string {
  return version.replaceAll(':', '-').replaceAll('~', '.');
}

/** Parse one state file's line. Throws naming the file on a malformed line. */
export function parseStateLine(text: string, file: string): Omit<StateEntry, 'repo' | 'arch'> {
  const line = text.split('\n').find((l) => l.trim() !== '');
  const fields = line?.trim().split(/\s+/) ?? [];
  if (fields.length !== 4) throw new Error(`${file}: expected 'pkgbase version tag commit', got '${line ?? ''}'`);
  const [pkgbase, version, tag, commit] = fields;
  if (!/^[0-9a-f]{40}$/.test(commit)) throw new Error(`${file}: invalid commit '${commit}'`);
  return { pkgbase, version, tag, commit };
}

export interface ParseStateOptions {
  /** only directories of these repositories (e.g. core, extra); default all */
  repos?: readonly string[];
  /** only these architectures (e.g. the upstream arch and `any`); default all */
  arches?: readonly string[];
  warn?: (message: string) => void;
}

/**
 * pkgbase -> entry over every `<repo>-<arch>/` directory of the checkout. A pkgbase in several
 * directories (e.g. extra and extra-testing) keeps the highest version.
 */
export function parseStateRepo(dir: string, options: ParseStateOptions = {}): Map<string, StateEntry> {
  const out = new Map<string, StateEntry>();
  for (const sub of readdirSync(dir).sort()) {
    if (sub.startsWith('.')) continue;
    const m = /^(.+)-([^-]+)$/.exec(sub);
    const path = join(dir, sub);
    if (!m || !statSync(path).isDirectory()) continue;
    const [, repo, arch] = m;
    if (options.repos && !options.repos.includes(repo)) continue;
    if (options.arches && !options.arches.includes(arch)) continue;
    for (const file of readdirSync(path).sort()) {
      const full = join(path, file);
      if (!statSync(full).isFile()) continue;
      const parsed = parseStateLine(readFileSync(full, 'utf8'), full);
      if (parsed.pkgbase !== file) options.warn?.(`${full}: names pkgbase '${parsed.pkgbase}'`);
      const entry: StateEntry = { ...parsed, repo, arch };
      const prev = out.get(parsed.pkgbase);
      if (!prev || vercmp(entry.version, prev.version) > 0) out.set(parsed.pkgbase, entry);
    }
  }
  return out;
}

async function defaultBranch(dir: string): Promise<string> {
  const git = simpleGit(dir);
  try {
    const ref = (await git.raw(['symbolic-ref', '--short', 'refs/remotes/origin/HEAD'])).trim();
    if (ref) return ref.replace(/^origin\//, '');
  } catch {
    // origin/HEAD unset (e.g. cloned from an empty remote): ask the remote
  }
  const out = await git.raw(['ls-remote', '--symref', 'origin', 'HEAD']);
  const m = /^ref: refs\/heads\/(\S+)\s+HEAD/m.exec(out);
  if (!m) throw new Error(`${dir}: cannot determine the default branch of origin`);
  return m[1];
}

async function clone(url: string, dir: string): Promise<void> {
  mkdirSync(dirname(dir), { recursive: true });
  await simpleGit().clone(url, dir, ['--quiet']);
}

/** Clone the state repository if missing, otherwise fetch and reset to origin's default branch; re-clone a damaged clone. */
export async function syncStateRepo(url: string, dir: string): Promise<StateSyncResult> {
  const head = async (): Promise<string> => (await simpleGit(dir).revparse(['HEAD'])).trim();
  if (!existsSync(dir)) {
    await clone(url, dir);
    return { dir, action: 'cloned', head: await head() };
  }
  try {
    const git = simpleGit(dir);
    const top = (await git.revparse(['--show-toplevel'])).trim();
    if (top !== (await realpath(dir))) throw new Error(`not the top of a git checkout (top is ${top})`);
    await git.remote(['set-url', 'origin', url]);
    await git.fetch(['--prune', 'origin']);
    await git.raw(['remote', 'set-head', 'origin', '--auto']);
    const branch = await defaultBranch(dir);
    await git.raw(['checkout', '--quiet', '--force', '-B', branch, `origin/${branch}`]);
    await git.raw(['reset', '--quiet', '--hard', `origin/${branch}`]);
    await git.raw(['clean', '-fdxq']);
    // a clone whose object store is damaged can still check out from a packfile; fsck notices
    await git.raw(['fsck', '--no-dangling', '--connectivity-only']);
    return { dir, action: 'updated', head: await head() };
  } catch (e) {
    const reason = (e as Error).message.split('\n')[0];
    rmSync(dir, { recursive: true, force: true });
    await clone(url, dir);
    return { dir, action: 'recloned', head: await head(), reason };
  }
}

async function realpath(p: string): Promise<string> {
  const { realpath: rp } = await import('node:fs/promises');
  return rp(p);
}
