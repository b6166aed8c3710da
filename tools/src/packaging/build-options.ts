/**
 * The build executor's options, validated. Every error names the offending key so a typo in
 * nx.json's targetDefaults is found at once. Unknown keys are kept (backendOptions): the devtools and
 * qemu backends read their own settings from there.
 */

export type BackendChoice = 'auto' | 'devtools' | 'qemu' | 'rootfs' | 'host';
export type CopyMethod = 'auto' | 'overlay' | 'copy';

export interface BuildOptions {
  /** target CARCH */
  arch: string;
  backend: BackendChoice;
  /** root filesystem for the rootfs backend; `{arch}` is replaced by the target arch; relative = to the workspace */
  rootfs?: string;
  /** pacman package cache; `{arch}` is replaced */
  pacmanCacheDir?: string;
  /** empty the pacman cache before the build */
  noCache: boolean;
  /** pass --nocheck to makepkg (check() not run, checkdepends not installed) */
  nocheck: boolean;
  /** print the commands and change nothing */
  dryRun: boolean;
  makepkgArgs: string[];
  /** build logs kept per package in logs/<pkgbase>/ */
  keepLogs: number;
  /** unprivileged user makepkg runs as (created in a rootfs copy when missing) */
  buildUser: string;
  /** how the rootfs backend makes its disposable copy */
  copyMethod: CopyMethod;
  /** allow network access while makepkg builds (sources are always fetched before, with network) */
  network: boolean;
  /** name of the workspace pacman repository */
  repoName: string;
  /** a build running longer is stopped (default 360 minutes) */
  timeLimitMinutes: number;
  /** every option as given, for backends with settings of their own */
  raw: Record<string, unknown>;
}

export class OptionsError extends Error {}

/** six hours: big packages under qemu take that long; an endless build() does not block a run forever */
export const DEFAULT_TIME_LIMIT_MINUTES = 360;

const BACKENDS: readonly BackendChoice[] = ['auto', 'devtools', 'qemu', 'rootfs', 'host'];
const COPY_METHODS: readonly CopyMethod[] = ['auto', 'overlay', 'copy'];
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/;

function str(raw: Record<string, unknown>, key: string): string | undefined {
  const v = raw[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new OptionsError(`build option "${key}" must be a string, got ${JSON.stringify(v)}`);
  return v;
}

function bool(raw: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const v = raw[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true'; // from the command line
  throw new OptionsError(`build option "${key}" must be true or false, got ${JSON.stringify(v)}`);
}

function oneOf<T extends string>(raw: Record<string, unknown>, key: string, allowed: readonly T[], fallback: T): T {
  const v = str(raw, key) ?? fallback;
  if (!(allowed as readonly string[]).includes(v)) {
    throw new OptionsError(`build option "${key}" must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}

export function parseBuildOptions(raw: Record<string, unknown>): BuildOptions {
  const arch = str(raw, 'arch');
  if (!arch) throw new OptionsError('build option "arch" is required (e.g. "x86_64"; use -c aarch64 for another architecture)');
  if (!NAME.test(arch)) throw new OptionsError(`build option "arch" is not an architecture name: ${JSON.stringify(arch)}`);

  let makepkgArgs: string[] = [];
  const m = raw.makepkgArgs;
  if (typeof m === 'string') makepkgArgs = m.split(/\s+/).filter(Boolean);
  else if (Array.isArray(m) && m.every((x): x is string => typeof x === 'string')) makepkgArgs = m;
  else if (m !== undefined && m !== null) throw new OptionsError('build option "makepkgArgs" must be an array of strings');

  const keep = raw.keepLogs ?? 3;
  const keepLogs = typeof keep === 'string' ? Number(keep) : keep;
  if (typeof keepLogs !== 'number' || !Number.isInteger(keepLogs) || keepLogs < 1) {
    throw new OptionsError(`build option "keepLogs" must be an integer >= 1, got ${JSON.stringify(keep)}`);
  }
  const buildUser = str(raw, 'buildUser') ?? 'builder';
  if (!NAME.test(buildUser) || buildUser === 'root') throw new OptionsError(`build option "buildUser" must name an unprivileged user, got ${JSON.stringify(buildUser)}`);
  const limitRaw = raw.timeLimitMinutes ?? DEFAULT_TIME_LIMIT_MINUTES;
  const timeLimitMinutes = typeof limitRaw === 'string' ? Number(limitRaw) : limitRaw;
  if (typeof timeLimitMinutes !== 'number' || !Number.isFinite(timeLimitMinutes) || timeLimitMinutes <= 0)
    throw new OptionsError(`build option "timeLimitMinutes" must be a positive number of minutes, got ${JSON.stringify(limitRaw)}`);
  const repoName = str(raw, 'repoName') ?? 'pkgnx-workspace';
  if (!NAME.test(repoName)) throw new OptionsError(`build option "repoName" is not a repository name: ${JSON.stringify(repoName)}`);

  return {
    arch,
    backend: oneOf(raw, 'backend', BACKENDS, 'auto'),
    rootfs: str(raw, 'rootfs'),
    pacmanCacheDir: str(raw, 'pacmanCacheDir'),
    noCache: bool(raw, 'noCache', false),
    nocheck: bool(raw, 'nocheck', false),
    dryRun: bool(raw, 'dryRun', false),
    makepkgArgs,
    keepLogs,
    buildUser,
    copyMethod: oneOf(raw, 'copyMethod', COPY_METHODS, 'auto'),
    network: bool(raw, 'network', false),
    repoName,
    timeLimitMinutes,
    raw: { ...raw },
  };
}
