/**
 * The `rootfs` backend: a clean build inside a disposable copy of a root filesystem (an extracted Arch
 * Linux ARM root, or any root with pacman + makepkg, e.g. a Debian root made by debootstrap), without
 * devtools or systemd-nspawn.
 *
 * - Copy: an overlayfs (lower = the root, upper/work in `<copiesDir>/<copyName>/`) mounted in a private
 *   mount namespace (`unshare -m`) so the mount dies with the build; or `cp -a --reflink=auto` (copyMethod
 *   `copy`). The copy directory is removed after the build in every case.
 * - Isolation: nothing of the build runs as a host account. The root's files belong to pkgnx's uid range
 *   (roots/shift.ts); each step runs in bubblewrap inside the build's user namespace (sandbox/userns.ts:
 *   uid 0 inside is an unused uid outside), with its own pid/ipc/uts namespaces, /proc /dev /tmp, the
 *   seccomp filter (no mount, ptrace, namespace calls ...) and only the capabilities the step needs:
 *   pacman and install scriptlets are root of the copy, nothing more; makepkg runs as the build user
 *   with none. Host directories reach the copy as bind mounts made by root before bwrap starts, read-only
 *   ones locked so for the user namespace.
 * - Step 1 (network allowed): pacman.conf from chroot-config/<arch>/ plus `[pkgnx-workspace]`
 *   (`file://` on dist/<arch>/repo, bind-mounted read-only) and the published repositories the build
 *   option `publishedRepos` names, in its order; `pacman -Sy`, dependencies installed with
 *   pacman; remote sources fetched (`makepkg --verifysource`) when the PKGBUILD names a URL.
 * - Step 2 (no network unless `network: true`): `makepkg -f`.
 * - Foreign architectures run through binfmt_misc (flag F): nothing to copy into the root.
 */
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureShifted } from '../../roots/shift';
import { isRoot, uidBase } from '../../sandbox/identity';
import { seccompProgram } from '../../sandbox/seccomp';
import { openBuildUserNamespace, type BuildUserNamespace } from '../../sandbox/userns';
import type { BuildBackend, BuildOutcome, BuildRequest, PlannedCommand } from './backend';
import { logLine, runLogged } from '../../process/logged-run';
import { hasCommand, runCheckedSync } from '../../process/run';
import { checkBinfmt, binfmtFix, importPgpKeys, pacmanConfWithRepos, runsNatively, taskWorkDir } from './shared';
import { acquireLock, withPacmanCacheLock } from '../workspace-repo';

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/bin:/sbin';
const SANDBOX_CACHE = '/var/cache/pacman/pkg';
const SANDBOX_STARTDIR_RO = '/.pkgnx-startdir';
const SANDBOX_GNUPG = '/.pkgnx-gnupg';

export type ResolvedCopyMethod = 'overlay' | 'copy';

/** overlay needs root (a mount in a private namespace); option `copyMethod` can force `copy` */
export function copyMethodFor(req: BuildRequest): ResolvedCopyMethod {
  const wanted = req.copyMethod;
  if (wanted === 'copy' || !isRoot()) return 'copy';
  return 'overlay';
}

/** runs as root inside the copy, with network: configure pacman, build user, install dependencies, fetch sources */
export const SETUP_SCRIPT = readFileSync(join(__dirname, 'rootfs-setup.sh'), 'utf8');

/** runs inside the copy (network off): makepkg as the build user */
export const BUILD_SCRIPT = readFileSync(join(__dirname, 'rootfs-build.sh'), 'utf8');

export function pkgbuildFetchesRemote(pkgdir: string): boolean {
  try {
    return /:\/\//.test(readFileSync(join(pkgdir, 'PKGBUILD'), 'utf8'));
  } catch {
    return false;
  }
}

function makepkgFlags(req: BuildRequest): string[] {
  return [...(req.nocheck ? ['--nocheck'] : []), ...(req.ignoreArch ? ['--ignorearch'] : []), ...req.makepkgArgs];
}

interface Layout {
  copyDir: string;
  method: ResolvedCopyMethod;
  upper: string;
  work: string;
  scriptsDir: string;
  gnupgDir: string;
}

function layoutOf(req: BuildRequest): Layout {
  const copyDir = taskWorkDir(req);
  const method = copyMethodFor(req);
  return {
    copyDir,
    method,
    upper: join(copyDir, 'upper'),
    work: join(copyDir, 'work'),
    scriptsDir: join(copyDir, 'pkgnx'),
    gnupgDir: join(copyDir, 'gnupg'),
  };
}

/** where the mount script assembles the copy, in a private tmpfs of the build's own mount namespace */
const ASSEMBLED_ROOT = '/run/pkgnx/root';
/** the file descriptors the steps inherit: the build's user namespace, then the seccomp program */
const USERNS_FD = 3;
const SECCOMP_FD = 4;

/**
 * Run as root in a private mount namespace (unshare --mount): mounts a tmpfs on /run/pkgnx, the copy at
 * /run/pkgnx/root (overlay, or a bind of the copied tree), and every host directory the build sees into
 * it, read-only where it must stay so (the kernel locks those flags for the user namespace bwrap enters).
 * Then execs the rest of its arguments. bwrap, which runs as an unprivileged uid, resolves no workspace
 * path itself: the workspace may sit in a directory only root can enter.
 *   $1 overlay|bind  $2 lower (the root, or the copied tree)  $3 upper  $4 work  $5 count of binds,
 *   then per bind: source, destination inside the root, ro|rw; then the command.
 */
export const MOUNT_SCRIPT = `set -eu
method=$1 lower=$2 upper=$3 work=$4 n=$5
shift 5
mount -t tmpfs -o mode=0755 pkgnx-run /run/pkgnx
mkdir ${ASSEMBLED_ROOT}
if [ "$method" = overlay ]; then
  mount -t overlay pkgnx-copy -o "lowerdir=$lower,upperdir=$upper,workdir=$work" ${ASSEMBLED_ROOT}
else
  mount --bind "$lower" ${ASSEMBLED_ROOT}
fi
# the copy's /tmp first: a workspace under /tmp is bound inside it
mount -t tmpfs -o mode=1777 pkgnx-tmp ${ASSEMBLED_ROOT}/tmp
while [ "$n" -gt 0 ]; do
  src=$1 dst=${ASSEMBLED_ROOT}$2 mode=$3
  shift 3
  n=$((n - 1))
  if [ -d "$src" ]; then mkdir -p "$dst"; else mkdir -p "$(dirname "$dst")"; [ -e "$dst" ] || : >"$dst"; fi
  mount --bind "$src" "$dst"
  [ "$mode" = rw ] || mount -o remount,bind,ro "$dst"
done
exec "$@"`;

/** what pacman and install scriptlets may do as root of the copy (in its user namespace): no mounts, no tracing */
const SETUP_CAPS = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETUID', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETFCAP', 'CAP_SYS_CHROOT', 'CAP_MKNOD'];
/** the build step only needs to become the build user */
const BUILD_CAPS = ['CAP_SETUID', 'CAP_SETGID', 'CAP_SETPCAP'];

function sandboxCommand(req: BuildRequest, l: Layout, step: 'setup' | 'build', purpose: string): PlannedCommand {
  const user = req.buildUser ?? 'builder';
  const deps = [...req.depends, ...req.makedepends, ...(req.nocheck ? [] : req.checkdepends)];
  const base = uidBase();
  const binds: [string, string, 'ro' | 'rw'][] = [
    // the workspace repository and published ones in directories: file:// servers at the same path
    ...req.repos.flatMap((r): [string, string, 'ro'][] => (r.bind ? [[r.bind, r.bind, 'ro']] : [])),
    [req.pacmanCacheDir, SANDBOX_CACHE, 'rw'],
    [req.pkgdir, SANDBOX_STARTDIR_RO, 'ro'],
    [req.pkgdest, '/pkgdest', 'rw'],
    [l.scriptsDir, '/.pkgnx', 'rw'],
    ...(req.pgpKeys.length ? [[l.gnupgDir, SANDBOX_GNUPG, 'rw'] as [string, string, 'rw']] : []),
  ];
  const network = step === 'setup' || req.network === true;
  const bwrap = [
    'bwrap',
    '--userns', String(USERNS_FD), '--uid', '0', '--gid', '0',
    '--bind', ASSEMBLED_ROOT, '/',
    '--proc', '/proc',
    '--dev', '/dev',
    '--unshare-ipc', '--unshare-pid', '--unshare-uts', '--unshare-cgroup-try',
    ...(network ? ['--ro-bind-try', '/etc/resolv.conf', '/etc/resolv.conf'] : ['--unshare-net']),
    '--die-with-parent',
    '--new-session',
    '--cap-drop', 'ALL', ...(step === 'setup' ? SETUP_CAPS : BUILD_CAPS).flatMap((c) => ['--cap-add', c]),
    '--seccomp', String(SECCOMP_FD),
    '--clearenv',
    '--setenv', 'PATH', PATH,
    '--setenv', 'LC_ALL', 'C',
    '--setenv', 'HOME', '/build',
    '--setenv', 'USER', user,
    '--setenv', 'LOGNAME', user,
    '--setenv', 'PKGNX_BUILD_USER', user,
    '--setenv', 'PKGNX_COPY', req.copyName,
    '--setenv', 'PKGNX_ROOTFS', req.rootfs ?? '',
    '--setenv', 'PKGNX_DEPS', deps.join('\n'),
    '--setenv', 'PKGNX_FETCH', pkgbuildFetchesRemote(req.pkgdir) && !req.network ? '1' : '0',
    '--setenv', 'BUILDDIR', '/build/work',
    '--setenv', 'PKGDEST', '/pkgdest',
    '--setenv', 'SRCDEST', '/srcdest',
    '--setenv', 'SRCPKGDEST', '/srcdest',
    '--setenv', 'LOGDEST', '/build/logs',
    ...Object.entries(req.env).flatMap(([k, v]) => ['--setenv', k, v]),
    ...(req.pgpKeys.length ? ['--setenv', 'GNUPGHOME', SANDBOX_GNUPG] : []),
    '--chdir', '/',
    '/bin/bash', '-c', step === 'setup' ? SETUP_SCRIPT : BUILD_SCRIPT, `pkgnx-${step}`,
    ...(step === 'build' ? makepkgFlags(req) : []),
  ];
  return {
    argv: [
      'unshare', '--mount', '--propagation', 'private', '--',
      'sh', '-c', MOUNT_SCRIPT, 'pkgnx-mounts',
      l.method === 'overlay' ? 'overlay' : 'bind', l.method === 'overlay' ? (req.rootfs ?? '') : join(l.copyDir, 'root'), l.upper, l.work,
      String(binds.length), ...binds.flat(),
      // bwrap runs as root of the build's user namespace: an unprivileged uid on the host
      'setpriv', `--reuid=${base}`, `--regid=${base}`, '--clear-groups', '--',
      ...bwrap,
    ],
    purpose: `${purpose} [fd ${USERNS_FD}: the build's user namespace (uid 0 inside = ${base} outside); fd ${SECCOMP_FD}: the seccomp filter]`,
  };
}

export const rootfsBackend: BuildBackend = {
  name: 'rootfs',

  async preflight(req: BuildRequest): Promise<void> {
    const root = req.rootfs;
    if (!root) throw new Error('the rootfs backend needs a root filesystem: set the build option "rootfs" (or write its path into chroot-config/<arch>/rootfs)');
    if (!existsSync(root) || !statSync(root).isDirectory())
      throw new Error(`build option "rootfs": ${root} is not a directory (scripts/setup.sh creates .pkgnx/rootfs/<arch> with debootstrap: bash scripts/setup.sh --rootfs-arch ${req.arch})`);
    // the build's user namespace maps a range of uids (root inside, the build user): only root can set that up
    if (!isRoot()) throw new Error('the rootfs backend needs root (it maps a range of unprivileged uids into the build\'s user namespace, as devtools needs root for systemd-nspawn); run the build as root or with sudo, or use backend "host"');
    for (const tool of ['usr/bin/pacman', 'usr/bin/makepkg', 'bin/bash']) {
      if (!existsSync(join(root, tool))) throw new Error(`build option "rootfs": ${root} has no /${tool}; install pacman and makepkg in it`);
    }
    if (/[,:]/.test(root)) throw new Error(`build option "rootfs": ${root} contains ',' or ':', which overlayfs cannot take as lowerdir`);
    for (const cmd of ['bwrap', 'unshare', 'setpriv']) {
      if (!hasCommand(cmd)) throw new Error(`the rootfs backend needs ${cmd}: apt-get install bubblewrap util-linux (Debian) / pacman -S bubblewrap util-linux (Arch)`);
    }
    if (!runsNatively(req.arch, req.hostArch)) {
      const binfmt = checkBinfmt(req.arch, { binfmtDir: req.binfmtDir });
      // nothing is copied into the root: the interpreter must be opened at registration
      if (!binfmt.fixBinary) throw new Error(`${binfmt.path} lacks the F flag, so the interpreter is not reachable inside the root. Fix: ${binfmtFix(binfmt.qemuName)}`);
    }
  },

  plan(req: BuildRequest): PlannedCommand[] {
    const l = layoutOf(req);
    const create: PlannedCommand =
      l.method === 'overlay'
        ? { argv: ['mkdir', '-p', l.upper, l.work, l.scriptsDir], purpose: `create the disposable overlay copy ${req.copyName}` }
        : { argv: ['cp', '-a', '--reflink=auto', req.rootfs ?? '', join(l.copyDir, 'root')], purpose: `create the disposable copy ${req.copyName} (cp -a)` };
    return [
      create,
      sandboxCommand(req, l, 'setup', 'prepare the copy: pacman.conf with the workspace repository, build user, pacman -Sy, dependencies, sources'),
      sandboxCommand(req, l, 'build', `build ${req.pkgbase} for ${req.arch} with makepkg${req.network ? '' : ' (no network)'}`),
      { argv: ['rm', '-rf', '--one-file-system', l.copyDir], purpose: 'remove the copy' },
    ];
  },

  async build(req: BuildRequest): Promise<BuildOutcome> {
    const l = layoutOf(req);
    const base = uidBase();
    const [, setup, build] = this.plan(req);
    let userns: BuildUserNamespace | undefined;
    try {
      await mkdir(req.copiesDir ?? join(req.workspaceRoot, '.pkgnx', 'chroots', req.arch), { recursive: true });
      await mkdir(l.copyDir, { recursive: true });
      await mkdir(l.scriptsDir, { recursive: true });
      // the root belongs to the build's uid range once (and stays so): root inside owns its files
      const shifted = await withRootLock(req.rootfs ?? '', async () => ensureShifted(req.rootfs ?? '', base));
      if (shifted) await logLine(req.logFile, `==> pkgnx: ${req.rootfs}: ${shifted.changed} files now belong to the build's uid range (base ${base}${shifted.from ? `, was ${shifted.from}` : ''})`);
      if (l.method === 'overlay') {
        const rootMode = statSync(req.rootfs ?? '/').mode & 0o7777;
        for (const d of [l.upper, l.work]) await mkdir(d, { recursive: true });
        // the copy's / is the upper directory's: root of the user namespace must own it
        chownSync(l.upper, base, base);
        chmodSync(l.upper, rootMode);
      } else {
        const cp = await runLogged({ argv: ['cp', '-a', '--reflink=auto', req.rootfs ?? '', join(l.copyDir, 'root')], purpose: `copying the root (${req.copyName})` }, { logFile: req.logFile, signal: req.signal });
        if (cp.aborted) return { success: false, error: 'interrupted' };
        if (cp.code !== 0) return { success: false, error: `copying ${req.rootfs} failed (exit ${cp.code})` };
      }
      const basePacmanConf = existsSync(req.pacmanConf) ? req.pacmanConf : join(req.rootfs ?? '/', 'etc/pacman.conf');
      await writeFile(join(l.scriptsDir, 'pacman.conf'), pacmanConfWithRepos(await readFile(basePacmanConf, 'utf8'), req.repos));
      if (existsSync(req.makepkgConf)) await writeFile(join(l.scriptsDir, 'makepkg.conf'), await readFile(req.makepkgConf));
      if (req.pgpKeys.length) {
        importPgpKeys(req.pgpKeys, l.gnupgDir);
        await logLine(req.logFile, `==> pkgnx: imported ${req.pgpKeys.length} PGP key file(s) into the task's GNUPGHOME`);
      }
      // what the sandbox writes belongs to root of its user namespace (it hands them to the build user)
      for (const d of [l.scriptsDir, req.pkgdest, req.pacmanCacheDir, ...(req.pgpKeys.length ? [l.gnupgDir] : [])]) chownTree(d, base);
      mkdirSync('/run/pkgnx', { recursive: true, mode: 0o755 });
      const seccompFile = join(l.copyDir, 'seccomp.bpf');
      await writeFile(seccompFile, seccompProgram('build'));
      userns = await openBuildUserNamespace(base);
      const ns = userns.fd;
      // bwrap reads the filter to its end: each step gets a descriptor of its own
      const withFds = <T>(fn: (fds: number[]) => Promise<T>): Promise<T> => {
        const fd = openSync(seccompFile, 'r');
        return fn([ns, fd]).finally(() => closeSync(fd));
      };
      await logLine(req.logFile, `==> pkgnx: rootfs backend, copy ${req.copyName} (${l.method}) at ${l.copyDir}, uid 0 inside = ${base} outside, started ${new Date().toISOString()}`);

      // the prepare step runs pacman against the shared package cache: one build at a time
      const s = await withPacmanCacheLock(req.pacmanCacheDir, () => withFds((fds) => runLogged(setup, { logFile: req.logFile, signal: req.signal, fds })));
      if (s.aborted) return { success: false, error: 'interrupted' };
      if (s.code !== 0) return { success: false, error: `preparing the copy failed (exit ${s.code ?? s.signal})${s.code === 8 ? ': dependencies cannot be installed' : ''}` };
      const b = await withFds((fds) => runLogged(build, { logFile: req.logFile, signal: req.signal, fds }));
      if (b.aborted) return { success: false, error: 'interrupted' };
      if (b.code !== 0) return { success: false, error: `makepkg failed (exit ${b.code ?? b.signal})` };
      return { success: true };
    } finally {
      userns?.close();
      await rm(l.copyDir, { recursive: true, force: true });
      await logLine(req.logFile, `==> pkgnx: copy ${req.copyName} removed ${new Date().toISOString()}`, false).catch(() => undefined);
    }
  },
};

/** chown a directory and what is in it (the staging directory may hold files of an earlier attempt) */
function chownTree(dir: string, id: number): void {
  mkdirSync(dir, { recursive: true });
  runCheckedSync('chown', ['-R', `${id}:${id}`, dir]);
}

/** one shift of a root at a time (parallel builds share it) */
async function withRootLock<T>(root: string, fn: () => Promise<T>): Promise<T> {
  const release = await acquireLock(`${root}.pkgnx-lock`);
  try {
    return await fn();
  } finally {
    release();
  }
}
