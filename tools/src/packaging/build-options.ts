/**
 * The build executor's options, validated against the same keys as its schema.json (a unit test keeps the two
 * in step). Every error names the offending key, so a typo in nx.json's targetDefaults is found at once; an
 * unknown key is an error too. The devtools and qemu backends' settings are typed options like the others.
 */
import { OptionsError, OptionsReader } from '../options';

export { OptionsError };

export type BackendChoice = 'auto' | 'devtools' | 'qemu' | 'rootfs' | 'host';
export type CopyMethod = 'auto' | 'overlay' | 'copy';

/** the devtools and qemu backends' settings as given (defaults that depend on the build are resolved there) */
export interface DevtoolsSettings {
  /** makechrootpkg -r: holds `root` (pristine) and the per-task copies */
  chrootDir?: string;
  /** size of the /tmp tmpfs in the container (`-t /tmp:size=...`) */
  tmpfsSize: string;
  /** bound read-write at /build/.ccache (builduser's HOME is /build) */
  ccacheDir?: string;
  /** extra `-d src[:dst]` / `-D src[:dst]` bind mounts */
  bindRw: string[];
  bindRo: string[];
  srcdest?: string;
  logdest?: string;
  gnupgHome?: string;
  /** remove the copy of a failed build too (kept for inspection by default) */
  cleanupOnFailure: boolean;
  /** run `pacman -Syuu` in the root (under the exclusive root.lock) before cloning */
  updateRoot: boolean;
  /** SIGTERM → SIGKILL grace when aborting */
  killGraceMs: number;
  /** prefix root-only steps with sudo; default: when not root */
  sudo?: boolean;
}

export interface QemuSettings {
  /** devtools reads `<dir>/<CARCH>` in arch-nspawn */
  setarchAliasDir: string;
  /** the host qemu binary copied into the root when binfmt lacks F; default /usr/bin/qemu-<name>-static */
  qemuStatic?: string;
}

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
  /** why the graph asked for --nocheck (a checkdepends edge cut to break a cycle), for the log */
  nocheckReason?: string;
  /** print the commands and change nothing */
  dryRun: boolean;
  makepkgArgs: string[];
  /** rootfs: installed packages the workspace repository's builds replace in the copy (bootstrap stages) */
  replaceFromWorkspace: string[];
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
  /**
   * published repositories (pkgnx.config.json "publish": publicUrl or the destination) the build may also
   * install dependencies from, in this order; one not published yet is left out
   */
  publishedRepos: string[];
  /** the published repositories before the workspace repository (default: after it) */
  publishedReposFirst: boolean;
  /** a build running longer is stopped (default 360 minutes) */
  timeLimitMinutes: number;
  /** where binfmt_misc registrations are read (rootfs and qemu backends) */
  binfmtDir: string;
  devtools: DevtoolsSettings;
  qemu: QemuSettings;
  /**
   * arch=(any) packages: built once for every architecture by the project's `<target>-any` task and placed into
   * each architecture (default); false: built in every architecture like any other package (any-package.ts)
   */
  shareAny: boolean;
  /** the `-any` task: every option not given here is taken from this target of the same project */
  optionsFrom?: string;
}

/** six hours: big packages under qemu take that long; an endless build() does not block a run forever */
export const DEFAULT_TIME_LIMIT_MINUTES = 360;

const BACKENDS: readonly BackendChoice[] = ['auto', 'devtools', 'qemu', 'rootfs', 'host'];
const COPY_METHODS: readonly CopyMethod[] = ['auto', 'overlay', 'copy'];
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/;

/** every key parseBuildOptions reads: schema.json's properties are exactly these */
export const BUILD_OPTION_KEYS = [
  'arch', 'backend', 'rootfs', 'pacmanCacheDir', 'noCache', 'nocheck', 'nocheckReason', 'dryRun', 'makepkgArgs', 'replaceFromWorkspace', 'keepLogs',
  'buildUser', 'copyMethod', 'network', 'repoName', 'publishedRepos', 'publishedReposFirst', 'timeLimitMinutes', 'binfmtDir',
  'chrootDir', 'tmpfsSize', 'ccacheDir', 'bindRw', 'bindRo', 'srcdest', 'logdest', 'gnupgHome', 'cleanupOnFailure', 'updateRoot', 'killGraceMs', 'sudo',
  'setarchAliasDir', 'qemuStatic',
  'shareAny', 'optionsFrom',
] as const;

export function parseBuildOptions(raw: Record<string, unknown>): BuildOptions {
  const o = new OptionsReader(raw, { describe: (k) => `build option "${k}"`, fromCommandLine: true });
  o.rejectUnknown(BUILD_OPTION_KEYS);
  const arch = o.matching('arch', NAME, 'an architecture name');
  if (!arch) throw new OptionsError('build option "arch" is required (e.g. "x86_64"; use -c aarch64 for another architecture)');
  const buildUser = o.matching('buildUser', NAME, 'a user name', 'builder') ?? 'builder';
  if (buildUser === 'root') throw new OptionsError('build option "buildUser" must name an unprivileged user, got "root"');
  const optionalBool = (key: string): boolean | undefined => (o.has(key) ? o.bool(key, false) : undefined);
  const repoName = o.matching('repoName', NAME, 'a repository name', 'pkgnx-workspace') ?? 'pkgnx-workspace';
  const publishedRepos = o.strings('publishedRepos', { splitString: true });
  for (const name of publishedRepos) {
    if (!NAME.test(name) || name === 'local') o.fail('publishedRepos', `"${name}" is not a repository name`);
    if (name === repoName) o.fail('publishedRepos', `"${name}" is the workspace repository (build option "repoName")`);
  }
  return {
    arch,
    backend: o.oneOf('backend', BACKENDS, 'auto'),
    rootfs: o.string('rootfs'),
    pacmanCacheDir: o.string('pacmanCacheDir'),
    noCache: o.bool('noCache', false),
    nocheck: o.bool('nocheck', false),
    nocheckReason: o.string('nocheckReason'),
    dryRun: o.bool('dryRun', false),
    makepkgArgs: o.strings('makepkgArgs', { splitString: true }),
    replaceFromWorkspace: o.strings('replaceFromWorkspace', { splitString: true }),
    keepLogs: o.number('keepLogs', 3, { integer: true, min: 1 }),
    buildUser,
    copyMethod: o.oneOf('copyMethod', COPY_METHODS, 'auto'),
    network: o.bool('network', false),
    repoName,
    publishedRepos,
    publishedReposFirst: o.bool('publishedReposFirst', false),
    timeLimitMinutes: o.number('timeLimitMinutes', DEFAULT_TIME_LIMIT_MINUTES, { exclusiveMin: 0 }),
    binfmtDir: o.string('binfmtDir', '/proc/sys/fs/binfmt_misc'),
    devtools: {
      chrootDir: o.string('chrootDir'),
      tmpfsSize: o.string('tmpfsSize', '50%'),
      ccacheDir: o.string('ccacheDir'),
      bindRw: o.strings('bindRw'),
      bindRo: o.strings('bindRo'),
      srcdest: o.string('srcdest'),
      logdest: o.string('logdest'),
      gnupgHome: o.string('gnupgHome'),
      cleanupOnFailure: o.bool('cleanupOnFailure', false),
      updateRoot: o.bool('updateRoot', false),
      killGraceMs: o.number('killGraceMs', 5000, { integer: true, min: 0 }),
      sudo: optionalBool('sudo'),
    },
    qemu: {
      setarchAliasDir: o.string('setarchAliasDir', '/usr/share/devtools/setarch-aliases.d'),
      qemuStatic: o.string('qemuStatic'),
    },
    shareAny: o.bool('shareAny', true),
    optionsFrom: o.matching('optionsFrom', /^[A-Za-z0-9_-]+$/, 'a target name'),
  };
}
