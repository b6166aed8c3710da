/**
 * The Arch Linux state repository (alpm-state-repo(7)): directories `<repo>-<arch>/` holding one file per
 * pkgbase with the line `pkgbase version tag commit`. It is the exact tag and commit to check out for a
 * version — better than guessing tag spellings. The local clone is kept identical to the remote's
 * default branch (fetch + hard reset); only a clone pkgnx made is ever modified or re-cloned.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createGitRunner, type GitRunner } from '../git/runner';
import { vercmp } from '../version';
import type { UpstreamConfig } from './config';

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
  action: 'cloned' | 'updated' | 'recloned' | 'kept';
  head: string;
  /** why the clone was replaced (`recloned`) or not updated (`kept`: fetch failed, allowFailure) */
  reason?: string;
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
 * The state directories that correspond to the configured upstream repositories: the `upstreamRepos`
 * names (plus the `upstreamTestingRepos` names only when `testing`) and the upstream arch or `any`.
 * Without it `*-staging`/`*-testing` directories would win with their higher versions.
 */
export function stateParseOptions(config: Pick<UpstreamConfig, 'upstreamRepos' | 'upstreamTestingRepos' | 'upstreamArch'>, testing = false): ParseStateOptions {
  const repos = config.upstreamRepos.map((r) => r.name);
  if (testing) for (const r of config.upstreamTestingRepos) repos.push(r.name);
  return { repos: [...new Set(repos)], arches: [config.upstreamArch, 'any'] };
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

/** Marker file pkgnx writes into the git dir of a state repository clone it created. */
export const STATE_CLONE_MARKER = 'pkgnx-state-clone';

export interface SyncStateOptions {
  /** a failed fetch warns and keeps using the existing clone (action `kept`) instead of throwing */
  allowFailure?: boolean;
  warn?: (message: string) => void;
  /** git runner (default: one with an environment cleaned of GIT_DIR, GIT_WORK_TREE, ...) */
  git?: GitRunner;
}

const firstLine = (e: unknown): string => (e as Error).message.split('\n').find((l) => l.trim() !== '') ?? String(e);

async function clone(git: GitRunner, url: string, dir: string): Promise<void> {
  mkdirSync(dirname(dir), { recursive: true });
  await git.run(dirname(dir), ['clone', '--quiet', url, dir]);
  writeFileSync(join(dir, '.git', STATE_CLONE_MARKER), `${url}\n`);
}

/**
 * Clone the state repository if missing, otherwise fetch and reset to origin's default branch.
 *
 * Safety rules (the directory is configurable, so it may point anywhere):
 * - an existing directory is touched only if it is a clone pkgnx made (`.git/pkgnx-state-clone`);
 *   anything else (a non-empty directory, the workspace, another repository) is an error naming it;
 * - a fetch failure (remote unreachable) never removes anything: it throws, or with `allowFailure`
 *   warns and keeps using the existing clone (`action: 'kept'`);
 * - only a pkgnx clone whose origin is the configured URL and whose `rev-parse HEAD`/`git fsck` fails
 *   is removed and re-cloned (`action: 'recloned'`).
 * Every git command names `--git-dir`/`--work-tree` and runs with GIT_DIR, GIT_WORK_TREE... removed.
 */
export async function syncStateRepo(url: string, dir: string, options: SyncStateOptions = {}): Promise<StateSyncResult> {
  const git = options.git ?? createGitRunner();
  dir = resolve(dir);
  const gitDir = join(dir, '.git');
  const g = (...args: string[]): Promise<string> => git.run(dir, [`--git-dir=${gitDir}`, `--work-tree=${dir}`, ...args]);
  const head = async (): Promise<string> => (await g('rev-parse', '--verify', 'HEAD')).trim();
  if (!existsSync(dir) || (statSync(dir).isDirectory() && readdirSync(dir).length === 0)) {
    await clone(git, url, dir);
    return { dir, action: 'cloned', head: await head() };
  }
  const marker = join(gitDir, STATE_CLONE_MARKER);
  if (!existsSync(gitDir) || !statSync(gitDir).isDirectory() || !existsSync(marker)) {
    throw new Error(
      `${dir}: not a state repository clone made by pkgnx (no .git/${STATE_CLONE_MARKER}); refusing to modify or delete it — ` +
        'set upstream.stateRepo.dir to a directory of its own, or remove this one yourself',
    );
  }
  const origin = (await git.tryRun(dir, [`--git-dir=${gitDir}`, 'config', '--get', 'remote.origin.url']))?.trim() ?? readFileSync(marker, 'utf8').trim();
  const reclone = async (reason: string): Promise<StateSyncResult> => {
    if (origin !== url) {
      throw new Error(`${dir}: damaged state repository clone (${reason}) of '${origin}', not of the configured '${url}'; not removing it — remove it yourself to re-clone`);
    }
    rmSync(dir, { recursive: true, force: true });
    await clone(git, url, dir);
    return { dir, action: 'recloned', head: await head(), reason };
  };
  const check = async (): Promise<string | undefined> => {
    try {
      await head();
      // a clone whose object store is damaged can still check out from a packfile; fsck notices
      await g('fsck', '--no-dangling', '--connectivity-only');
      return undefined;
    } catch (e) {
      return firstLine(e);
    }
  };
  const damaged = await check();
  if (damaged) return reclone(damaged);

  // the clone is ours and intact: point it at the configured URL (a changed URL is followed)
  if (origin !== url) await g('remote', 'set-url', 'origin', url);
  let branch: string;
  try {
    await g('fetch', '--quiet', '--prune', 'origin');
    await g('remote', 'set-head', 'origin', '--auto');
    branch = await defaultBranch(g, dir);
  } catch (e) {
    const reason = `cannot fetch ${url}: ${firstLine(e)}`;
    if (!options.allowFailure) throw new Error(`${dir}: ${reason} (the existing clone is kept; --allow-failure uses it as it is)`);
    options.warn?.(`${dir}: ${reason}; using the existing clone`);
    return { dir, action: 'kept', head: await head(), reason };
  }
  await g('checkout', '--quiet', '--force', '-B', branch, `origin/${branch}`);
  await g('reset', '--quiet', '--hard', `origin/${branch}`);
  await g('clean', '-fdxq');
  writeFileSync(marker, `${url}\n`);
  const after = await check();
  if (after) return reclone(after);
  return { dir, action: 'updated', head: await head() };
}

async function defaultBranch(g: (...args: string[]) => Promise<string>, dir: string): Promise<string> {
  try {
    const ref = (await g('symbolic-ref', '--short', 'refs/remotes/origin/HEAD')).trim();
    if (ref) return ref.replace(/^origin\//, '');
  } catch {
    // origin/HEAD unset (e.g. cloned from an empty remote): ask the remote
  }
  const out = await g('ls-remote', '--symref', 'origin', 'HEAD');
  const m = /^ref: refs\/heads\/(\S+)\s+HEAD/m.exec(out);
  if (!m) throw new Error(`${dir}: cannot determine the default branch of origin`);
  return m[1];
}
