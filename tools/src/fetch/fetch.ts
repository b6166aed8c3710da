/**
 * Bring `pkgbuilds/<pkgbase>/` to the wanted upstream state: an official packaging repository at the
 * tag of a version (or its default branch head), an AUR repository's latest commit, an override
 * URL/branch, or nothing at all for local packages.
 *
 * Guarantees:
 * - a checkout keeps its git metadata OUTSIDE the package directory, in `.pkgnx/git/<pkgbase>.git`
 *   (beside pkgbuilds/; every git command gets `--git-dir`/`--work-tree`): `pkgbuilds/<pkgbase>/`
 *   holds only the package files, which the workspace repository tracks, so `nx affected` (the
 *   workspace's git diff) sees a fetched update. A legacy nested `pkgbuilds/<pkgbase>/.git` directory
 *   is moved there the first time a (non-dry-run) fetch touches the package;
 * - git runs only when something has to change (an up-to-date checkout costs two file reads);
 * - a new package is cloned into `.pkgnx-fetch-tmp/` (beside pkgbuilds/) and renamed into place (git
 *   dir first, then the package directory), so an interrupted fetch never leaves a half-written
 *   `pkgbuilds/<pkgbase>`; a git dir without its package directory is stale and replaced;
 * - an existing checkout moves with one `git checkout` (git-atomic); uncommitted edits are refused,
 *   or with `stash` stashed and re-applied, and a conflicting re-apply restores the previous state;
 * - `dryRun` runs no git and writes nothing: it only prints the lines it would print.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { vercmp } from '../version';
import { createGitRunner, GitError, type GitObserver, type GitRunner } from '../git/runner';
import { aurRepoUrl, DEFAULT_AUR_URL_TEMPLATE, DEFAULT_OFFICIAL_URL_TEMPLATE, isValidPkgbase, officialRepoUrl, versionToTag } from '../git/arch-repos';
import { readCheckoutVersion, type CheckoutVersionReader } from './checkout-version';
import {
  applyOverlay,
  clearOverlayState,
  excludeFromGit,
  findOverlay,
  overlayInPlace,
  overlayOwnedFiles,
  readOverlayState,
  type OverlayOutcome,
} from './overlay';
import { mapPool } from './pool';
import { pidAlive } from '../process/tree';

export type FetchSource = 'official' | 'aur' | 'local';

export interface FetchRequest {
  pkgbase: string;
  /** default `official` */
  source?: FetchSource;
  /** target version `[epoch:]pkgver-pkgrel` (state repository or upstream database) */
  version?: string;
  /** tag to check out; default: the version's tag (`:` -> `-`, `~` -> `.`) */
  tag?: string;
  /** commit the state repository names; used when the tag is missing */
  commit?: string;
  /** default-branch head instead of a tag */
  useLatest?: boolean;
}

export interface PackageOverride {
  url: string;
  branch: string;
}

export interface FetchOptions {
  pkgbuildsDir: string;
  /** `{pkgbase}` is replaced by the GitLab project path (see gitlabProjectPath) */
  officialUrlTemplate?: string;
  aurUrlTemplate?: string;
  overrides?: Record<string, PackageOverride>;
  /** target architecture: selects the `<carch>.patch` overlay */
  carch?: string;
  /** `<overlaysDir>/<carch>/<pkgbase>.patch` */
  overlaysDir?: string;
  /**
   * where new clones are made before being renamed into place; must be on the same filesystem as
   * pkgbuildsDir and outside it (the plugin globs `pkgbuilds/**\/PKGBUILD`). Default: `.pkgnx-fetch-tmp`
   * beside pkgbuildsDir
   */
  tempDir?: string;
  /**
   * where checkouts keep their git dirs (`<gitDirsDir>/<pkgbase>.git`), outside pkgbuildsDir so that
   * the workspace repository tracks the package files; must be on the same filesystem as tempDir.
   * Default: `.pkgnx/git` beside pkgbuildsDir (the workspace root; gitignored and nxignored)
   */
  gitDirsDir?: string;
  /** parallel fetches (default 4) */
  jobs?: number;
  dryRun?: boolean;
  /** existing checkouts are left as they are */
  noUpdate?: boolean;
  /** stash uncommitted edits, update, re-apply them (default: refuse to update a dirty checkout) */
  stash?: boolean;
  log?: (line: string) => void;
  onGitCommand?: GitObserver;
  git?: GitRunner;
  /** the version of a checkout without .SRCINFO, read the workspace's way (see metadata/index.ts) */
  readVersion?: CheckoutVersionReader;
}

export type FetchAction = 'fetched' | 'updated' | 'up-to-date' | 'kept' | 'local' | 'failed' | 'dry-run';

export interface FetchResult {
  pkgbase: string;
  dir: string;
  action: FetchAction;
  /** the progress line printed for this package */
  line: string;
  previousVersion?: string;
  /** version in the checkout afterwards (from its .SRCINFO) */
  version?: string;
  error?: string;
  overlay?: OverlayOutcome;
}

export class FetchError extends Error {
  constructor(
    readonly pkgbase: string,
    message: string,
  ) {
    super(`${pkgbase}: ${message}`);
    this.name = 'FetchError';
  }
}

type Operation =
  | { kind: 'none'; action: 'up-to-date' | 'kept' | 'local' }
  | { kind: 'clone'; url: string; branch?: string; refs: string[] }
  | { kind: 'update-ref'; refs: string[]; fetchArgs: string[] }
  | { kind: 'update-latest'; branch?: string; fetchArgs: string[] }
  | { kind: 'error'; message: string };

/** A package checkout: the work tree (pkgbuilds/<pkgbase>) and its git dir, kept apart. */
export interface Checkout {
  dir: string;
  gitDir: string;
}

export interface FetchPlan {
  request: FetchRequest;
  dir: string;
  /** where the checkout's git dir is (or will be): `<gitDirsDir>/<pkgbase>.git` */
  gitDir: string;
  /** a legacy `pkgbuilds/<pkgbase>/.git` exists (migrated by execute, never by a dry run) */
  nestedGit?: boolean;
  line: string;
  currentVersion?: string;
  operation: Operation;
}

export const TEMP_DIR_NAME = '.pkgnx-fetch-tmp';

export function fetchTempDir(options: Pick<FetchOptions, 'pkgbuildsDir' | 'tempDir'>): string {
  return options.tempDir ?? join(dirname(options.pkgbuildsDir), TEMP_DIR_NAME);
}

/** Home of the checkouts' git dirs, relative to the parent of the pkgbuilds directory (the workspace root). */
export const GIT_DIRS_DIR = join('.pkgnx', 'git');

export function fetchGitDirsDir(options: Pick<FetchOptions, 'pkgbuildsDir' | 'gitDirsDir'>): string {
  return options.gitDirsDir ?? join(dirname(options.pkgbuildsDir), GIT_DIRS_DIR);
}

/** The git dir of a package's checkout (whether or not it exists yet). */
export function checkoutGitDir(options: Pick<FetchOptions, 'pkgbuildsDir' | 'gitDirsDir'>, pkgbase: string): string {
  return join(fetchGitDirsDir(options), `${pkgbase}.git`);
}

/** git bound to one checkout: explicit dirs, so git never discovers the workspace repository around it. */
interface RepoGit {
  run(args: string[]): Promise<string>;
  tryRun(args: string[]): Promise<string | undefined>;
}

function repoGit(git: GitRunner, co: Checkout): RepoGit {
  const scope = [`--git-dir=${resolve(co.gitDir)}`, `--work-tree=${resolve(co.dir)}`];
  return {
    run: (args) => git.run(co.dir, [...scope, ...args]),
    tryRun: (args) => git.tryRun(co.dir, [...scope, ...args]),
  };
}

/** Temp clones of this process, removed by cleanupTempClones() on SIGINT/SIGTERM. */
const activeTempDirs = new Set<string>();

export function cleanupTempClones(): void {
  for (const dir of activeTempDirs) rmSync(dir, { recursive: true, force: true });
  activeTempDirs.clear();
}


/** Name of a temp entry: `<name>.<pid>.<n>` (fetch's clones, the generators' temp dirs). */
export function tempEntryName(name: string, n: number): string {
  return `${name}.${process.pid}.${n}`;
}

/**
 * Remove temp clones left by killed runs: only entries named `<name>.<pid>.<n>` whose process is gone.
 * Anything else (another tool's entry, a live process's clone, or one of this process's own — e.g. a
 * generator's temp dir while it calls fetch) is left alone.
 */
export function removeStaleTempClones(tmp: string): string[] {
  if (!existsSync(tmp)) return [];
  const removed: string[] = [];
  for (const name of readdirSync(tmp)) {
    const m = /\.(\d+)\.\d+$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || pidAlive(pid)) continue;
    rmSync(join(tmp, name), { recursive: true, force: true });
    removed.push(name);
  }
  if (readdirSync(tmp).length === 0) rmSync(tmp, { recursive: true, force: true });
  return removed;
}

/** Does a tag name (state repository spelling) belong to a version? */
export function tagMatchesVersion(tag: string, version: string): boolean {
  return tag === versionToTag(version) || tag === version.replaceAll(':', '-') || tag === version;
}

function refCandidates(req: FetchRequest): string[] {
  const out: string[] = [];
  const add = (r: string | undefined): void => {
    if (r && !out.includes(r)) out.push(r);
  };
  // a state tag/commit is for one version: with a different version asked for (a stale build list, a
  // state entry of another repository), checking it out would silently fetch the wrong version
  const stateMatches = !req.version || !req.tag || tagMatchesVersion(req.tag, req.version);
  if (stateMatches) add(req.tag);
  if (req.version) {
    add(versionToTag(req.version));
    add(req.version.replaceAll(':', '-')); // the predecessor's (pre-`~`) normalisation, for old tags
  }
  if (stateMatches) add(req.commit);
  return out;
}

/** Decide, without running git, what each package needs and which line to print. */
export async function planFetch(req: FetchRequest, options: FetchOptions): Promise<FetchPlan> {
  const dir = join(options.pkgbuildsDir, req.pkgbase);
  const gitDir = checkoutGitDir(options, req.pkgbase);
  const source = req.source ?? 'official';
  const p = (what: string): string => `Processing ${req.pkgbase} (${what})...`;
  const base = { request: req, dir, gitDir };
  if (!isValidPkgbase(req.pkgbase)) {
    return { ...base, line: p('invalid pkgbase'), operation: { kind: 'error', message: `invalid pkgbase name '${req.pkgbase}'` } };
  }
  const exists = existsSync(dir);
  const nestedGit = exists && existsSync(join(dir, '.git'));
  // a git dir without its package directory is the leftover of an interrupted clone: not a checkout
  const isGit = exists && (nestedGit || existsSync(gitDir));
  const currentVersion = exists ? await readCheckoutVersion(dir, options.readVersion) : undefined;
  const withCurrent = { ...base, ...(nestedGit ? { nestedGit } : {}), ...(currentVersion !== undefined ? { currentVersion } : {}) };
  const cur = currentVersion ?? 'unknown';

  if (source === 'local') {
    if (!exists) return { ...withCurrent, line: p('local package, missing'), operation: { kind: 'error', message: `local package directory ${dir} does not exist` } };
    return { ...withCurrent, line: p(`local package, current: ${cur}`), operation: { kind: 'none', action: 'local' } };
  }
  if (exists && !isGit) {
    return { ...withCurrent, line: p(`not a git checkout, kept as is, current: ${cur}`), operation: { kind: 'none', action: 'kept' } };
  }

  const override = source === 'official' ? options.overrides?.[req.pkgbase] : undefined;
  const url = override
    ? override.url
    : source === 'aur'
      ? aurRepoUrl(req.pkgbase, options.aurUrlTemplate ?? DEFAULT_AUR_URL_TEMPLATE)
      : officialRepoUrl(req.pkgbase, options.officialUrlTemplate ?? DEFAULT_OFFICIAL_URL_TEMPLATE);
  // AUR repositories and override branches have no version tags: they follow a branch head
  const followsBranch = source === 'aur' || override !== undefined || req.useLatest === true;

  if (!exists) {
    if (source === 'aur') return { ...withCurrent, line: p('fetching from AUR'), operation: { kind: 'clone', url, refs: [] } };
    if (followsBranch) {
      const what = req.version && !req.useLatest && override ? `fetching ${req.version}` : 'fetching latest commit';
      return { ...withCurrent, line: p(what), operation: { kind: 'clone', url, ...(override ? { branch: override.branch } : {}), refs: [] } };
    }
    if (!req.version && !req.tag && !req.commit) {
      return {
        ...withCurrent,
        line: p('no target version'),
        operation: { kind: 'error', message: 'no target version (none in the state repository or the upstream databases; use --use-latest for the default branch head)' },
      };
    }
    return { ...withCurrent, line: p(`fetching ${req.version ?? req.tag ?? req.commit}`), operation: { kind: 'clone', url, refs: refCandidates(req) } };
  }

  if (options.noUpdate) return { ...withCurrent, line: p(`no update, current: ${cur}`), operation: { kind: 'none', action: 'up-to-date' } };
  if (req.version && !req.useLatest && currentVersion !== undefined && vercmp(currentVersion, req.version) === 0) {
    return { ...withCurrent, line: p(`already up to date: ${currentVersion}`), operation: { kind: 'none', action: 'up-to-date' } };
  }
  if (followsBranch) {
    const branch = override?.branch;
    return {
      ...withCurrent,
      line: p('updating to latest commit'),
      operation: { kind: 'update-latest', ...(branch ? { branch } : {}), fetchArgs: ['fetch', '-q', '--tags', 'origin'] },
    };
  }
  if (!req.version && !req.tag && !req.commit) {
    return { ...withCurrent, line: p(`no target version, current: ${cur}`), operation: { kind: 'none', action: 'up-to-date' } };
  }
  return {
    ...withCurrent,
    line: p(`updating ${cur} -> ${req.version ?? req.tag ?? req.commit}`),
    operation: { kind: 'update-ref', refs: refCandidates(req), fetchArgs: ['fetch', '-q', '--tags', 'origin'] },
  };
}

async function checkoutFirst(repo: RepoGit, refs: string[], pkgbase: string): Promise<string> {
  for (const ref of refs) {
    // `^{commit}` so that a tag and a commit id are both accepted, and a branch name never is by accident
    const sha = await repo.tryRun(['rev-parse', '-q', '--verify', `${ref}^{commit}`]);
    if (sha === undefined) continue;
    await repo.run(['-c', 'advice.detachedHead=false', 'checkout', '-q', '--detach', sha.trim()]);
    return ref;
  }
  throw new FetchError(pkgbase, `none of the refs ${refs.join(', ')} exists in the repository`);
}

async function defaultBranch(repo: RepoGit): Promise<string> {
  const head = await repo.tryRun(['symbolic-ref', '-q', '--short', 'refs/remotes/origin/HEAD']);
  if (head?.trim()) return head.trim().replace(/^origin\//, '');
  const current = await repo.tryRun(['symbolic-ref', '-q', '--short', 'HEAD']);
  if (current?.trim()) return current.trim();
  return 'main';
}

let tempCounter = 0;

async function cloneNew(plan: FetchPlan, op: Extract<Operation, { kind: 'clone' }>, git: GitRunner, options: FetchOptions): Promise<OverlayOutcome | undefined> {
  const tmpRoot = fetchTempDir(options);
  mkdirSync(tmpRoot, { recursive: true });
  const tmp = join(tmpRoot, tempEntryName(plan.request.pkgbase, tempCounter++));
  activeTempDirs.add(tmp);
  const co: Checkout = { dir: join(tmp, 'tree'), gitDir: join(tmp, 'git') };
  try {
    mkdirSync(tmp);
    await git.run(tmpRoot, ['clone', '-q', `--separate-git-dir=${resolve(co.gitDir)}`, ...(op.branch ? ['--branch', op.branch] : []), '--', op.url, co.dir]);
    // the `.git` gitfile would name the temp git dir; every command passes --git-dir instead
    rmSync(join(co.dir, '.git'), { force: true });
    const repo = repoGit(git, co);
    if (op.refs.length) await checkoutFirst(repo, op.refs, plan.request.pkgbase);
    let overlay: OverlayOutcome | undefined;
    const patch = findOverlay(co.dir, plan.request.pkgbase, options.carch, options.overlaysDir);
    if (patch) overlay = await applyOverlay(co.dir, co.gitDir, plan.request.pkgbase, patch);
    if (existsSync(plan.dir)) throw new FetchError(plan.request.pkgbase, `${plan.dir} appeared while cloning; not replacing it`);
    // git dir first: a crash between the renames leaves a stale git dir (replaced next time), never
    // a package directory without its history
    mkdirSync(dirname(plan.gitDir), { recursive: true });
    rmSync(plan.gitDir, { recursive: true, force: true });
    renameSync(co.gitDir, plan.gitDir);
    try {
      renameSync(co.dir, plan.dir);
    } catch (e) {
      rmSync(plan.gitDir, { recursive: true, force: true });
      throw e;
    }
    return overlay;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    activeTempDirs.delete(tmp);
  }
}

/**
 * The checkout of an existing package, moving a legacy nested `.git` directory out to the git dir
 * (one rename; if that fails, e.g. across filesystems, the nested one keeps being used). A `.git`
 * file (gitfile of a submodule or worktree) is used where it is: git follows it.
 */
function existingCheckout(plan: FetchPlan): Checkout {
  if (!plan.nestedGit) return { dir: plan.dir, gitDir: plan.gitDir };
  const nested = join(plan.dir, '.git');
  if (!statSync(nested).isDirectory()) return { dir: plan.dir, gitDir: nested };
  try {
    mkdirSync(dirname(plan.gitDir), { recursive: true });
    // the nested one is the live repository; whatever sits at the destination is stale
    rmSync(plan.gitDir, { recursive: true, force: true });
    renameSync(nested, plan.gitDir);
    return { dir: plan.dir, gitDir: plan.gitDir };
  } catch {
    return { dir: plan.dir, gitDir: nested };
  }
}

/**
 * Undo our own overlay modifications (files still holding exactly what the overlay wrote): a file the
 * overlay created (recorded as such, or absent from HEAD) is deleted, any other is checked out from HEAD.
 */
async function undoOverlayFiles(repo: RepoGit, co: Checkout, ours: readonly string[]): Promise<void> {
  if (!ours.length) return;
  const created = new Set(readOverlayState(co.gitDir)?.created ?? []);
  const restore: string[] = [];
  for (const f of ours) {
    if (created.has(f) || (await repo.tryRun(['cat-file', '-e', `HEAD:${f}`])) === undefined) rmSync(join(co.dir, f), { force: true });
    else restore.push(f);
  }
  if (restore.length) await repo.run(['checkout', '-q', '--', ...restore]);
}

function porcelainFiles(out: string): string[] {
  return out
    .split('\n')
    .filter((l) => l.length > 3)
    .map((l) => l.slice(3).replace(/^.* -> /, ''));
}

async function updateExisting(
  plan: FetchPlan,
  op: Extract<Operation, { kind: 'update-ref' | 'update-latest' }>,
  co: Checkout,
  git: GitRunner,
  options: FetchOptions,
): Promise<OverlayOutcome | undefined> {
  const { dir, gitDir } = co;
  const repo = repoGit(git, co);
  const pkgbase = plan.request.pkgbase;
  const patch = findOverlay(dir, pkgbase, options.carch, options.overlaysDir);
  if (patch) excludeFromGit(dir, gitDir, patch);

  // tracked modifications only: checkout never deletes untracked files (it refuses to overwrite them)
  const ours = new Set(overlayOwnedFiles(dir, gitDir));
  const dirty = porcelainFiles(await repo.run(['status', '--porcelain=v1', '--untracked-files=no'])).filter((f) => !ours.has(f));
  if (dirty.length && !options.stash) {
    throw new FetchError(
      pkgbase,
      `uncommitted changes in ${dirty.map((f) => `${dir}/${f}`).join(', ')}; not updating (the edits are in the checkout ${dir}, ` +
        `against the upstream commit checked out in its git dir ${gitDir}; to keep them across the update re-run with --stash: ` +
        `they are stashed in that git dir and re-applied; to drop them: git --git-dir=${gitDir} --work-tree=${dir} checkout -- .)`,
    );
  }
  // commits made in the checkout (on a detached HEAD or the override branch) would be dropped by the
  // update's `checkout --detach <tag>` / `reset --hard`: refuse, naming them
  const local = (await repo.run(['log', '--format=%h %s', 'HEAD', '--not', '--tags', '--remotes'])).split('\n').filter(Boolean);
  if (local.length) {
    const base = `${local[local.length - 1].split(' ')[0]}^`;
    throw new FetchError(
      pkgbase,
      `${local.length} local commit(s) in the checkout (git dir ${gitDir}) that upstream does not have and the update would drop: ${local.join('; ')}. ` +
        `Not updating. Keep them as a patch (git --git-dir=${gitDir} --work-tree=${dir} format-patch --stdout ${base} > keep.patch, e.g. as an overlay), ` +
        `or drop them (git --git-dir=${gitDir} --work-tree=${dir} reset --hard ${base}), then fetch again`,
    );
  }
  // undo our own overlay so that the checkout is the clean upstream state again
  await undoOverlayFiles(repo, co, [...ours]);
  if (readOverlayState(gitDir)) clearOverlayState(gitDir);

  const oldHead = (await repo.run(['rev-parse', 'HEAD'])).trim();
  const oldBranch = (await repo.tryRun(['symbolic-ref', '-q', '--short', 'HEAD']))?.trim() || undefined;
  const restoreHead = async (): Promise<void> => {
    await repo.run(['reset', '-q', '--hard']);
    if (oldBranch) {
      await repo.run(['checkout', '-q', '-f', oldBranch]);
      await repo.run(['reset', '-q', '--hard', oldHead]);
    } else {
      await repo.run(['-c', 'advice.detachedHead=false', 'checkout', '-q', '-f', '--detach', oldHead]);
    }
  };
  const reapplyOverlay = async (): Promise<OverlayOutcome | undefined> => (patch ? applyOverlay(dir, gitDir, pkgbase, patch) : undefined);

  let stashed = false;
  if (dirty.length) {
    await repo.run(['stash', 'push', '-q', '-m', 'pkgnx fetch: edits before update']);
    stashed = true;
  }
  try {
    await repo.run(op.fetchArgs);
    if (op.kind === 'update-ref') {
      await checkoutFirst(repo, op.refs, pkgbase);
    } else {
      const branch = op.branch ?? (await defaultBranch(repo));
      if (op.branch) await repo.run(['fetch', '-q', 'origin', branch]);
      const target = `refs/remotes/origin/${branch}`;
      if ((await repo.tryRun(['rev-parse', '-q', '--verify', target])) === undefined) throw new FetchError(pkgbase, `branch ${branch} not found on origin`);
      await repo.run(['checkout', '-q', branch]);
      // overrides follow their branch exactly (the predecessor's reset --hard); others only fast-forward
      if (op.branch) await repo.run(['reset', '-q', '--hard', target]);
      else await repo.run(['merge', '-q', '--ff-only', target]);
    }
  } catch (e) {
    // nothing was merged: put HEAD back where it was, then the user's edits and the overlay
    await restoreHead().catch(() => undefined);
    if (stashed) await repo.run(['stash', 'pop', '-q']).catch(() => undefined);
    await reapplyOverlay().catch(() => undefined);
    throw e;
  }

  if (stashed) {
    const popped = await repo.tryRun(['stash', 'pop', '-q']);
    if (popped === undefined) {
      const conflicts = ((await repo.tryRun(['diff', '--name-only', '--diff-filter=U'])) ?? '').split('\n').filter(Boolean);
      // a failed pop keeps the stash: go back to the old commit, where it applies cleanly
      await restoreHead();
      await repo.run(['stash', 'pop', '-q']);
      await reapplyOverlay().catch(() => undefined);
      throw new FetchError(
        pkgbase,
        `your stashed edits conflict with the update${conflicts.length ? ` in ${conflicts.join(', ')}` : ''}; restored the previous state (${plan.currentVersion ?? oldHead.slice(0, 12)}) with your edits, nothing was updated`,
      );
    }
  }
  return reapplyOverlay();
}

/** In the up-to-date case: make sure the overlay is applied exactly once (git only to undo a changed overlay). */
async function refreshOverlay(plan: FetchPlan, co: Checkout, git: GitRunner, options: FetchOptions): Promise<OverlayOutcome | undefined> {
  if (!existsSync(co.gitDir)) return undefined;
  const patch = findOverlay(co.dir, plan.request.pkgbase, options.carch, options.overlaysDir);
  const state = readOverlayState(co.gitDir);
  if (!patch && !state) return undefined;
  if (patch && overlayInPlace(co.dir, co.gitDir, patch)) return { status: 'unchanged', patch };
  if (patch) excludeFromGit(co.dir, co.gitDir, patch);
  await undoOverlayFiles(repoGit(git, co), co, overlayOwnedFiles(co.dir, co.gitDir));
  clearOverlayState(co.gitDir);
  return patch ? applyOverlay(co.dir, co.gitDir, plan.request.pkgbase, patch) : undefined;
}

async function execute(plan: FetchPlan, git: GitRunner, options: FetchOptions): Promise<FetchResult> {
  const op = plan.operation;
  const result: FetchResult = { pkgbase: plan.request.pkgbase, dir: plan.dir, line: plan.line, action: 'failed' };
  if (plan.currentVersion !== undefined) result.previousVersion = plan.currentVersion;
  try {
    let overlay: OverlayOutcome | undefined;
    switch (op.kind) {
      case 'error':
        throw new FetchError(plan.request.pkgbase, op.message);
      case 'none':
        result.action = op.action;
        if (op.action === 'up-to-date') overlay = await refreshOverlay(plan, existingCheckout(plan), git, options);
        break;
      case 'clone':
        overlay = await cloneNew(plan, op, git, options);
        result.action = 'fetched';
        break;
      case 'update-ref':
      case 'update-latest':
        overlay = await updateExisting(plan, op, existingCheckout(plan), git, options);
        result.action = 'updated';
        break;
    }
    if (overlay) {
      result.overlay = overlay;
      if (overlay.status === 'failed') {
        result.error = overlay.message;
      }
    }
    const version = await readCheckoutVersion(plan.dir, options.readVersion);
    if (version !== undefined) result.version = version;
  } catch (e) {
    result.action = 'failed';
    result.error = e instanceof FetchError ? e.message : e instanceof GitError ? `${plan.request.pkgbase}: ${e.message}` : `${plan.request.pkgbase}: ${(e as Error).message}`;
  }
  return result;
}

/**
 * Plan and carry out the requests, `jobs` at a time, printing one progress line per package as it
 * starts. A failure is reported in its result (`error`) and never stops the other packages.
 */
export async function fetchPackages(requests: readonly FetchRequest[], options: FetchOptions): Promise<FetchResult[]> {
  const log = options.log ?? ((line: string) => console.log(line));
  const git = options.git ?? createGitRunner(options.onGitCommand);
  if (!options.dryRun) {
    mkdirSync(options.pkgbuildsDir, { recursive: true });
    removeStaleTempClones(fetchTempDir(options));
  }
  const seen = new Set<string>();
  const unique = requests.filter((r) => (seen.has(r.pkgbase) ? false : (seen.add(r.pkgbase), true)));
  const results = await mapPool(unique, options.jobs ?? 4, async (req) => {
    const plan = await planFetch(req, options);
    log(plan.line);
    if (options.dryRun) {
      const r: FetchResult = { pkgbase: req.pkgbase, dir: plan.dir, action: 'dry-run', line: plan.line };
      if (plan.currentVersion !== undefined) r.previousVersion = plan.currentVersion;
      if (plan.operation.kind === 'error') r.error = `${req.pkgbase}: ${plan.operation.message}`;
      return r;
    }
    return execute(plan, git, options);
  });
  // only once every worker is done: a parallel clone may be running inside it
  if (!options.dryRun) removeStaleTempClones(fetchTempDir(options));
  return results;
}
