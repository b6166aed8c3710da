/**
 * The `rootfs` backend: a clean build inside a disposable copy of a root filesystem (an extracted Arch
 * Linux ARM root, or any root with pacman + makepkg, e.g. a Debian root made by debootstrap), without
 * devtools or systemd-nspawn.
 *
 * - Copy: an overlayfs (lower = the root, upper/work in `<copiesDir>/<copyName>/`) mounted in a private
 *   mount namespace (`unshare -m`, root only) so the mount dies with the build; or `cp -a --reflink=auto`
 *   (copyMethod `copy`, and when not root). The copy directory is removed after the build in every case.
 * - Isolation: bubblewrap (pid/ipc/uts namespaces, own /proc /dev /tmp); makepkg runs as the build user
 *   (setpriv as root, a user namespace otherwise).
 * - Step 1 (network allowed): pacman.conf from chroot-config/<arch>/ plus `[pkgnx-workspace]`
 *   (`file://` on dist/<arch>/repo, bind-mounted read-only), `pacman -Sy`, dependencies installed with
 *   pacman; remote sources fetched (`makepkg --verifysource`) when the PKGBUILD names a URL.
 * - Step 2 (no network unless `network: true`): `makepkg -f`.
 * - Foreign architectures run through binfmt_misc (flag F): nothing to copy into the root.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuildBackend, BuildOutcome, BuildRequest, PlannedCommand } from './backend';
import { logLine, runLogged } from './process-group';
import { withPacmanCacheLock } from './workspace-repo';

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/bin:/sbin';
const SANDBOX_CACHE = '/var/cache/pacman/pkg';
const SANDBOX_STARTDIR_RO = '/.pkgnx-startdir';
const SANDBOX_GNUPG = '/.pkgnx-gnupg';

export type ResolvedCopyMethod = 'overlay' | 'copy';

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** overlay needs root (a mount in a private namespace); option `copyMethod` can force `copy` */
export function copyMethodFor(req: BuildRequest): ResolvedCopyMethod {
  const wanted = req.backendOptions.copyMethod;
  if (wanted === 'copy' || !isRoot()) return 'copy';
  return 'overlay';
}

export function copyDirOf(req: BuildRequest): string {
  return join(req.copiesDir ?? join(req.workspaceRoot, '.pkgnx', 'chroots', req.arch), req.copyName);
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

/** pacman.conf for the copy: chroot-config's (or the root's own) plus the workspace repository first */
export function workspacePacmanConf(base: string, repo: { name: string; dir: string }): string {
  const section = `[${repo.name}]\nSigLevel = Optional TrustAll\nServer = file://${repo.dir}\n`;
  // The workspace repository goes before the other repositories so its packages win over same-named ones.
  const firstRepo = /^\[(?!options\])[^\]]+\]/m.exec(base);
  if (!firstRepo) return `${base.replace(/\n*$/, '\n')}\n${section}`;
  return `${base.slice(0, firstRepo.index)}${section}\n${base.slice(firstRepo.index)}`;
}

interface Layout {
  copyDir: string;
  method: ResolvedCopyMethod;
  /** directory that becomes / in the sandbox (the overlay mount point, or the copied root) */
  sandboxRoot: string;
  upper: string;
  work: string;
  scriptsDir: string;
  gnupgDir: string;
}

function layoutOf(req: BuildRequest): Layout {
  const copyDir = copyDirOf(req);
  const method = copyMethodFor(req);
  return {
    copyDir,
    method,
    sandboxRoot: join(copyDir, method === 'overlay' ? 'merged' : 'root'),
    upper: join(copyDir, 'upper'),
    work: join(copyDir, 'work'),
    scriptsDir: join(copyDir, 'pkgnx'),
    gnupgDir: join(copyDir, 'gnupg'),
  };
}

function sandboxCommand(req: BuildRequest, l: Layout, step: 'setup' | 'build', purpose: string): PlannedCommand {
  const user = req.buildUser ?? 'builder';
  const deps = [...req.depends, ...req.makedepends, ...(req.nocheck ? [] : req.checkdepends)];
  const bwrap = [
    'bwrap',
    '--bind', l.sandboxRoot, '/',
    '--proc', '/proc',
    '--dev', '/dev',
    '--tmpfs', '/tmp',
    '--unshare-ipc', '--unshare-pid', '--unshare-uts', '--unshare-cgroup-try',
    ...(step === 'build' && !req.network ? ['--unshare-net'] : ['--ro-bind-try', '/etc/resolv.conf', '/etc/resolv.conf']),
    ...(isRoot() ? [] : ['--unshare-user', '--uid', step === 'setup' ? '0' : '1000', '--gid', step === 'setup' ? '0' : '1000', ...(step === 'setup' ? ['--cap-add', 'ALL'] : [])]),
    '--die-with-parent',
    '--new-session',
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
    ...(req.pgpKeys.length ? ['--setenv', 'GNUPGHOME', SANDBOX_GNUPG, '--bind', l.gnupgDir, SANDBOX_GNUPG] : []),
    '--ro-bind', req.workspaceRepo.dir, req.workspaceRepo.dir,
    '--bind', req.pacmanCacheDir, SANDBOX_CACHE,
    '--ro-bind', req.pkgdir, SANDBOX_STARTDIR_RO,
    '--bind', req.pkgdest, '/pkgdest',
    '--bind', l.scriptsDir, '/.pkgnx',
    '--chdir', '/',
    '/bin/bash', '-c', step === 'setup' ? SETUP_SCRIPT : BUILD_SCRIPT, `pkgnx-${step}`,
    ...(step === 'build' ? makepkgFlags(req) : []),
  ];
  if (l.method === 'copy') return { argv: bwrap, purpose };
  // The overlay is mounted in a private mount namespace: it disappears with the last process in it.
  return {
    argv: [
      'unshare', '--mount', '--propagation', 'private', '--',
      'sh', '-c', 'mount -t overlay pkgnx-copy -o "lowerdir=$1,upperdir=$2,workdir=$3" "$4" && shift 4 && exec "$@"',
      'pkgnx-overlay', req.rootfs ?? '', l.upper, l.work, l.sandboxRoot,
      ...bwrap,
    ],
    purpose,
  };
}

export const rootfsBackend: BuildBackend = {
  name: 'rootfs',

  async preflight(req: BuildRequest): Promise<void> {
    const root = req.rootfs;
    if (!root) throw new Error('the rootfs backend needs a root filesystem: set the build option "rootfs" (or write its path into chroot-config/<arch>/rootfs)');
    if (!existsSync(root) || !statSync(root).isDirectory())
      throw new Error(`build option "rootfs": ${root} is not a directory (scripts/setup.sh creates .pkgnx/rootfs/<arch> with debootstrap: bash scripts/setup.sh --rootfs-arch ${req.arch})`);
    // inside a user namespace only one uid is mapped: the copy's files cannot be given to the build user
    // and makepkg cannot switch to it, so the backend needs real root (devtools needs it too)
    if (!isRoot()) throw new Error('the rootfs backend needs root (it installs dependencies with pacman in the copy and runs makepkg as the build user there); run the build as root or with sudo, or use backend "host"');
    for (const tool of ['usr/bin/pacman', 'usr/bin/makepkg', 'bin/bash']) {
      if (!existsSync(join(root, tool))) throw new Error(`build option "rootfs": ${root} has no /${tool}; install pacman and makepkg in it`);
    }
    if (/[,:]/.test(root)) throw new Error(`build option "rootfs": ${root} contains ',' or ':', which overlayfs cannot take as lowerdir`);
    for (const cmd of ['bwrap', ...(isRoot() ? ['unshare'] : ['cp'])]) {
      try {
        execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
      } catch {
        throw new Error(`the rootfs backend needs ${cmd}: apt-get install bubblewrap (Debian) / pacman -S bubblewrap (Arch)`);
      }
    }
    if (req.arch !== req.hostArch) {
      const binfmt = `/proc/sys/fs/binfmt_misc/qemu-${req.arch}`;
      if (!existsSync(binfmt)) throw new Error(`building ${req.arch} on ${req.hostArch} needs qemu-user registered in binfmt_misc (${binfmt} missing): apt-get install qemu-user-static binfmt-support`);
      const flags = /flags:\s*(\S*)/.exec(readFileSync(binfmt, 'utf8'))?.[1] ?? '';
      if (!flags.includes('F')) throw new Error(`${binfmt} lacks the F flag, so the interpreter is not reachable inside the root; re-register it with flags F (qemu-user-static does)`);
    }
  },

  plan(req: BuildRequest): PlannedCommand[] {
    const l = layoutOf(req);
    const create: PlannedCommand =
      l.method === 'overlay'
        ? { argv: ['mkdir', '-p', l.upper, l.work, l.sandboxRoot, l.scriptsDir], purpose: `create the disposable overlay copy ${req.copyName}` }
        : { argv: ['cp', '-a', '--reflink=auto', req.rootfs ?? '', l.sandboxRoot], purpose: `create the disposable copy ${req.copyName} (cp -a)` };
    return [
      create,
      sandboxCommand(req, l, 'setup', 'prepare the copy: pacman.conf with the workspace repository, build user, pacman -Sy, dependencies, sources'),
      sandboxCommand(req, l, 'build', `build ${req.pkgbase} for ${req.arch} with makepkg${req.network ? '' : ' (no network)'}`),
      { argv: ['rm', '-rf', '--one-file-system', l.copyDir], purpose: 'remove the copy' },
    ];
  },

  async build(req: BuildRequest): Promise<BuildOutcome> {
    const l = layoutOf(req);
    const [, setup, build] = this.plan(req);
    try {
      await mkdir(req.copiesDir ?? join(req.workspaceRoot, '.pkgnx', 'chroots', req.arch), { recursive: true });
      await mkdir(l.scriptsDir, { recursive: true });
      if (l.method === 'overlay') {
        await mkdir(l.upper, { recursive: true });
        await mkdir(l.work, { recursive: true });
        await mkdir(l.sandboxRoot, { recursive: true });
      } else {
        const cp = await runLogged({ argv: ['cp', '-a', '--reflink=auto', req.rootfs ?? '', l.sandboxRoot], purpose: `copying the root (${req.copyName})` }, { logFile: req.logFile, signal: req.signal });
        if (cp.aborted) return { success: false, error: 'interrupted' };
        if (cp.code !== 0) return { success: false, error: `copying ${req.rootfs} failed (exit ${cp.code})` };
      }
      const basePacmanConf = existsSync(req.pacmanConf) ? req.pacmanConf : join(req.rootfs ?? '/', 'etc/pacman.conf');
      await writeFile(join(l.scriptsDir, 'pacman.conf'), workspacePacmanConf(await readFile(basePacmanConf, 'utf8'), req.workspaceRepo));
      if (existsSync(req.makepkgConf)) await writeFile(join(l.scriptsDir, 'makepkg.conf'), await readFile(req.makepkgConf));
      if (req.pgpKeys.length) {
        await importKeys(req, l.gnupgDir);
        await logLine(req.logFile, `==> pkgnx: imported ${req.pgpKeys.length} PGP key file(s) into the task's GNUPGHOME`);
      }
      await logLine(req.logFile, `==> pkgnx: rootfs backend, copy ${req.copyName} (${l.method}) at ${l.copyDir}, started ${new Date().toISOString()}`);

      // the prepare step runs pacman against the shared package cache: one build at a time
      const s = await withPacmanCacheLock(req.pacmanCacheDir, () => runLogged(setup, { logFile: req.logFile, signal: req.signal }));
      if (s.aborted) return { success: false, error: 'interrupted' };
      if (s.code !== 0) return { success: false, error: `preparing the copy failed (exit ${s.code ?? s.signal})${s.code === 8 ? ': dependencies cannot be installed' : ''}` };
      const b = await runLogged(build, { logFile: req.logFile, signal: req.signal });
      if (b.aborted) return { success: false, error: 'interrupted' };
      if (b.code !== 0) return { success: false, error: `makepkg failed (exit ${b.code ?? b.signal})` };
      return { success: true };
    } finally {
      await rm(l.copyDir, { recursive: true, force: true });
      await logLine(req.logFile, `==> pkgnx: copy ${req.copyName} removed ${new Date().toISOString()}`, false).catch(() => undefined);
    }
  },
};

/** the task's private GNUPGHOME with the workspace's and the package's public keys */
async function importKeys(req: BuildRequest, gnupgDir: string): Promise<void> {
  await mkdir(gnupgDir, { recursive: true, mode: 0o700 });
  execFileSync('gpg', ['--batch', '--quiet', '--homedir', gnupgDir, '--import', ...req.pgpKeys], { stdio: 'ignore' });
}
