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
import { rootLockFile, withRootLock } from '../../roots/create';
import { inspectRoot, standInWarning } from '../../roots/inspect';
import { updateRoot } from '../../roots/update';
import { isRoot, uidBase } from '../../sandbox/identity';
import { seccompProgram } from '../../sandbox/seccomp';
import { PACMAN_CAPS, SECCOMP_FD, USERNS_FD, sandboxArgv, type Bind } from '../../sandbox/root-exec';
import { openBuildUserNamespace, type BuildUserNamespace } from '../../sandbox/userns';
import type { BuildBackend, BuildOutcome, BuildRequest, PlannedCommand } from './backend';
import { logLine, runLogged } from '../../process/logged-run';
import { hasCommand, runCheckedSync } from '../../process/run';
import { checkBinfmt, binfmtFix, importPgpKeys, pacmanConfWithRepos, runsNatively, taskWorkDir } from './shared';
import { withPacmanCacheLock } from '../workspace-repo';
import { acquireLock } from '../../process/flock';

const SANDBOX_CACHE = '/var/cache/pacman/pkg';
const SANDBOX_STARTDIR_RO = '/.pkgnx-startdir';
const SANDBOX_GNUPG = '/.pkgnx-gnupg';
/** how long a build waits for an update of its root (which holds the root's lock alone) to finish */
const ROOT_WAIT_SECONDS = 3600;

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

/** the build step only needs to become the build user */
const BUILD_CAPS = ['CAP_SETUID', 'CAP_SETGID', 'CAP_SETPCAP'];

function sandboxCommand(req: BuildRequest, l: Layout, step: 'setup' | 'build', purpose: string): PlannedCommand {
  const user = req.buildUser ?? 'builder';
  const deps = [...req.depends, ...req.makedepends, ...(req.nocheck ? [] : req.checkdepends)];
  const base = uidBase();
  const binds: Bind[] = [
    // the workspace repository and published ones in directories: file:// servers at the same path
    ...req.repos.flatMap((r): Bind[] => (r.bind ? [[r.bind, r.bind, 'ro']] : [])),
    [req.pacmanCacheDir, SANDBOX_CACHE, 'rw'],
    [req.pkgdir, SANDBOX_STARTDIR_RO, 'ro'],
    [req.pkgdest, '/pkgdest', 'rw'],
    [l.scriptsDir, '/.pkgnx', 'rw'],
    ...(req.pgpKeys.length ? [[l.gnupgDir, SANDBOX_GNUPG, 'rw'] as Bind] : []),
  ];
  const env: [string, string][] = [
    ['HOME', '/build'],
    ['USER', user],
    ['LOGNAME', user],
    ['PKGNX_BUILD_USER', user],
    ['PKGNX_COPY', req.copyName],
    ['PKGNX_ROOTFS', req.rootfs ?? ''],
    ['PKGNX_DEPS', deps.join('\n')],
    ['PKGNX_FETCH', pkgbuildFetchesRemote(req.pkgdir) && !req.network ? '1' : '0'],
    ['PKGNX_REPO', req.workspaceRepo.name],
    ['PKGNX_REPLACE', (req.replaceFromWorkspace ?? []).join('\n')],
    ['BUILDDIR', '/build/work'],
    ['PKGDEST', '/pkgdest'],
    ['SRCDEST', '/srcdest'],
    ['SRCPKGDEST', '/srcdest'],
    ['LOGDEST', '/build/logs'],
    ...Object.entries(req.env),
    ...(req.pgpKeys.length ? [['GNUPGHOME', SANDBOX_GNUPG] as [string, string]] : []),
  ];
  return {
    argv: sandboxArgv({
      root: l.method === 'overlay' ? { method: 'overlay', lower: req.rootfs ?? '', upper: l.upper, work: l.work } : { method: 'bind', dir: join(l.copyDir, 'root') },
      binds,
      base,
      caps: step === 'setup' ? PACMAN_CAPS : BUILD_CAPS,
      network: step === 'setup' || req.network === true,
      env,
      extraBwrap: ['--chdir', '/'],
      command: ['/bin/bash', '-c', step === 'setup' ? SETUP_SCRIPT : BUILD_SCRIPT, `pkgnx-${step}`, ...(step === 'build' ? makepkgFlags(req) : [])],
    }),
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
    let releaseRoot: (() => void) | undefined;
    try {
      await mkdir(req.copiesDir ?? join(req.workspaceRoot, '.pkgnx', 'chroots', req.arch), { recursive: true });
      await mkdir(l.copyDir, { recursive: true });
      await mkdir(l.scriptsDir, { recursive: true });
      // the root belongs to the build's uid range once (and stays so): root inside owns its files
      const root = req.rootfs ?? '';
      const facts = inspectRoot(root);
      if (facts.kind === 'stand-in') await logLine(req.logFile, `==> pkgnx: ${standInWarning(facts, req.arch)}`);
      if (req.devtools.updateRoot) {
        // devtools' updateRoot for this backend: the root itself, when no other build has it mounted
        const u = await updateRoot({ workspaceRoot: req.workspaceRoot, arch: req.arch, root, waitSeconds: 0, logFile: req.logFile, signal: req.signal, say: (line) => void logLine(req.logFile, `==> pkgnx: ${line}`) });
        await logLine(req.logFile, `==> pkgnx: updateRoot: ${u.updated ? `${root} updated (pacman -Syuu)` : `not updated now: ${u.skipped}`}`);
      }
      const shifted = await withRootLock(root, {}, async () => ensureShifted(root, base));
      if (shifted) await logLine(req.logFile, `==> pkgnx: ${root}: ${shifted.changed} files now belong to the build's uid range (base ${base}${shifted.from ? `, was ${shifted.from}` : ''})`);
      // held until the copy is gone: an update of the root (exclusive) never changes it under a mounted overlay
      releaseRoot = await acquireLock(rootLockFile(root), { shared: true, waitSeconds: ROOT_WAIT_SECONDS });
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
      releaseRoot?.();
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
