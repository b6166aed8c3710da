/**
 * The bubblewrap sandbox PKGBUILDs are sourced in. What it guarantees, whoever runs pkgnx:
 * - an unprivileged identity: when pkgnx runs as root, bwrap sets up the namespaces and the driver drops to an
 *   unused uid of pkgnx's range (sandbox/identity.ts) before any PKGBUILD runs, so neither the mounts nor
 *   the processes belong to a user namespace the PKGBUILD could hold capabilities in; otherwise bwrap runs
 *   as the caller in a new user namespace. Either way: no capabilities, no_new_privs, and the seccomp
 *   filter of sandbox/seccomp.ts (no mount, ptrace, pidfd_getfd, process_vm_*, namespace calls, sockets,
 *   SysV IPC);
 * - no network, and its own pid, ipc, uts and cgroup namespaces;
 * - a read-only view: host /usr, each package directory alone at its real path (bound from a file
 *   descriptor pkgnx opened, so the sandbox's uid resolves no path of the workspace), /etc and
 *   /var/lib/pacman of the target build root (metadata-view.ts); the only writable place is a small tmpfs
 *   at /tmp that the driver empties after every PKGBUILD, so nothing one PKGBUILD writes reaches the next;
 * - the driver runs from an execute-only copy of bash: the kernel makes it non-dumpable, so no PKGBUILD can
 *   open its file descriptors or trace it. (A PKGBUILD can still kill it: that ends the batch, the item
 *   being sourced gets the error and the others are sourced again in a new sandbox.) bwrap's own init is
 *   pid 1 and dies with bwrap, which takes every process of the sandbox with it.
 */
import type { Options } from 'execa';
import { chmodSync, closeSync, constants, copyFileSync, lstatSync, mkdirSync, openSync, readFileSync, readlinkSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CommandNotFoundError, runSync } from '../process/run';
import { metadataIdentity, type HostIdentity } from '../sandbox/identity';
import { seccompProgram } from '../sandbox/seccomp';
import { EMPTY_VIEW, type MetadataView } from './build-root-view';

export class SandboxUnavailableError extends Error {
  constructor(detail: string) {
    super(
      `cannot run the PKGBUILD sandbox (bubblewrap): ${detail.trim()}\n` +
        'pkgnx only sources PKGBUILDs inside bubblewrap with no network and a read-only view. Either install it ' +
        '(Debian/Ubuntu: apt-get install bubblewrap; Arch: pacman -S bubblewrap) and allow unprivileged user ' +
        'namespaces (sysctl kernel.unprivileged_userns_clone=1 / user.max_user_namespaces > 0; on Ubuntu 24.04+ ' +
        'an AppArmor profile for bwrap), or set metadataSource to "srcinfo" to read committed .SRCINFO files ' +
        'and never execute a PKGBUILD.',
    );
    this.name = 'SandboxUnavailableError';
  }
}

/** where the driver's bash is bound inside the sandbox */
const DRIVER_BASH = '/run/pkgnx/bash';
const O_PATH = 0o10000000;
const SCRATCH_BYTES = 64 << 20;

/** /bin, /lib ... are symlinks into /usr on merged-/usr systems and real directories elsewhere. */
function rootLinks(): string[] {
  const args: string[] = [];
  for (const p of ['/bin', '/sbin', '/lib', '/lib64', '/lib32', '/libx32']) {
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (st?.isSymbolicLink()) args.push('--symlink', readlinkSync(p), p);
    else if (st?.isDirectory()) args.push('--ro-bind', p, p);
  }
  return args;
}

let cachedRootLinks: string[] | undefined;

/** The files a sandbox start needs besides bwrap, kept in the workspace's data directory. */
export interface SandboxFiles {
  /** an execute-only copy of bash (mode 0111) */
  driverBash: string;
  /** the seccomp program of the metadata profile */
  seccomp: string;
}

/**
 * Writes (once) the execute-only bash — exec'ing a binary the process cannot read makes it non-dumpable,
 * which is what shields the driver from the PKGBUILDs it sources — and the seccomp program.
 */
export function sandboxFiles(dataDir: string, bash = '/bin/bash'): SandboxFiles {
  const dir = join(dataDir, 'sandbox');
  const driverBash = join(dir, 'bash-x');
  const seccomp = join(dir, 'seccomp-metadata.bpf');
  mkdirSync(dir, { recursive: true });
  const src = statSync(bash);
  const have = statSync(driverBash, { throwIfNoEntry: false });
  if (!have || have.size !== src.size || have.mtimeMs < src.mtimeMs || (have.mode & 0o7777) !== 0o111) {
    const tmp = `${driverBash}.${process.pid}.tmp`;
    copyFileSync(bash, tmp);
    chmodSync(tmp, 0o111);
    renameSync(tmp, driverBash);
  }
  const program = seccompProgram('metadata');
  let current: Buffer | undefined;
  try {
    current = readFileSync(seccomp);
  } catch {
    // not written yet
  }
  if (!current?.equals(program)) {
    const tmp = `${seccomp}.${process.pid}.tmp`;
    writeFileSync(tmp, program);
    renameSync(tmp, seccomp);
  }
  return { driverBash, seccomp };
}

/** One sandbox start: bwrap's arguments and the host file descriptors they name (stdio[3] onwards). */
export interface SandboxLaunch {
  args: string[];
  /** the host descriptors the arguments name, in order (they become 3, 4, ... in bwrap) */
  fds: number[];
  stdio: Options['stdio'];
  /** close the host fds (call after spawn) */
  close(): void;
}

export interface SandboxSpec {
  carch: string;
  /** absolute package directories, each bound read-only at its own path */
  packageDirs: string[];
  files: SandboxFiles;
  view: MetadataView;
  /** the driver's arguments after its bash: e.g. ['-c', script, name, ...args] */
  driverArgs: string[];
  /** the arguments for a caller that is not root even when we are (tests of that mode) */
  unprivilegedCaller?: boolean;
}

export function prepareSandbox(spec: SandboxSpec): SandboxLaunch {
  const fds: number[] = [];
  const fdArg = (hostFd: number): string => {
    fds.push(hostFd);
    return String(2 + fds.length);
  };
  const openFd = (path: string, flags: number): string => fdArg(openSync(path, flags));
  const close = (): void => {
    for (const f of fds.splice(0)) closeSync(f);
  };
  try {
    cachedRootLinks ??= rootLinks();
    const dropTo = spec.unprivilegedCaller ? undefined : metadataIdentity();
    const args = [
      '--unshare-pid', '--unshare-net', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try',
      // as root: no user namespace, and bwrap keeps only what the driver needs to drop to the sandbox uid
      // (setpriv, below); otherwise a user namespace in which the sandbox cannot make another
      ...(dropTo ? ['--cap-drop', 'ALL', '--cap-add', 'CAP_SETUID', '--cap-add', 'CAP_SETGID', '--cap-add', 'CAP_SETPCAP'] : ['--unshare-user', '--disable-userns', '--cap-drop', 'ALL']),
      '--die-with-parent',
      '--new-session',
      '--clearenv',
      '--seccomp', openFd(spec.files.seccomp, constants.O_RDONLY),
      '--ro-bind', '/usr', '/usr',
      ...cachedRootLinks,
      '--proc', '/proc',
      '--dev', '/dev',
      // scratch space for an item (heredocs, mktemp), emptied by the driver after every item
      '--size', String(SCRATCH_BYTES), '--perms', '1777', '--tmpfs', '/tmp',
      ...openDirs(['/run/pkgnx', '/var/lib', ...spec.packageDirs.map((d) => dirname(d))]),
      ...viewArgs(spec.view, (dir) => openFd(dir, constants.O_RDONLY | constants.O_DIRECTORY)),
    ];
    for (const dir of spec.packageDirs) args.push('--ro-bind-fd', openFd(dir, constants.O_RDONLY | constants.O_DIRECTORY), dir);
    args.push(
      '--ro-bind-fd', openFd(spec.files.driverBash, O_PATH), DRIVER_BASH,
      // bwrap's root and /dev are tmpfs: read-only, so no item can leave a file for the next
      '--remount-ro', '/dev',
      '--remount-ro', '/',
      '--chdir', '/tmp',
      '--setenv', 'PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      '--setenv', 'LC_ALL', 'C',
      '--setenv', 'HOME', '/tmp',
      '--setenv', 'CARCH', spec.carch,
      '--',
      ...(dropTo ? dropPrivileges(dropTo) : []),
      DRIVER_BASH,
      ...spec.driverArgs,
    );
    // execa passes extra descriptors through as Node does; its types only admit them for 0-2
    return { args, fds, stdio: ['ignore', 'pipe', 'pipe', ...fds] as unknown as Options['stdio'], close };
  } catch (err) {
    close();
    throw err;
  }
}

/**
 * `--dir` with mode 0755 for every directory leading to the given ones: bwrap would otherwise create them
 * with the modes of the host's (a workspace in a 0700 directory), which the sandbox uid cannot enter.
 */
function openDirs(dirs: string[]): string[] {
  const all = new Set<string>();
  for (const d of dirs) for (let p = d; p !== '/' && p !== '.'; p = dirname(p)) all.add(p);
  return [...all].sort((a, b) => a.split('/').length - b.split('/').length || (a < b ? -1 : 1)).flatMap((d) => ['--perms', '0755', '--dir', d]);
}

/** setpriv to an unprivileged uid with no capabilities left, in any set */
function dropPrivileges(to: HostIdentity): string[] {
  return ['/usr/bin/setpriv', `--reuid=${to.uid}`, `--regid=${to.gid}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--'];
}

/** the /etc and pacman state of the target build root (metadata-view.ts), as bwrap arguments */
function viewArgs(view: MetadataView, bindFd: (dir: string) => string): string[] {
  const args: string[] = [];
  if (view.rootEtc) {
    args.push('--ro-bind-fd', bindFd(view.rootEtc), '/run/pkgnx/root-etc');
    for (const name of view.rootEtcEntries) args.push('--symlink', `/run/pkgnx/root-etc/${name}`, `/etc/${name}`);
  }
  if (view.chrootConfig) {
    args.push('--ro-bind-fd', bindFd(view.chrootConfig), '/run/pkgnx/chroot-config');
    for (const name of view.chrootConfigEntries) args.push('--symlink', `/run/pkgnx/chroot-config/${name}`, `/etc/${name}`);
  }
  // what the host's own programs need to run, whatever the root's /etc holds
  for (const p of view.hostEtc) args.push('--ro-bind', p, p);
  if (view.pacmanDb) args.push('--ro-bind-fd', bindFd(view.pacmanDb), '/var/lib/pacman');
  else args.push('--dir', '/var/lib/pacman/local', '--dir', '/var/lib/pacman/sync');
  return args;
}

const probed = new Map<string, true | string>();

/** Throws SandboxUnavailableError unless bwrap can start this sandbox here (binary present, user namespaces allowed). */
export function assertSandboxAvailable(bwrap: string, files: SandboxFiles): void {
  let result = probed.get(bwrap);
  if (result === undefined) {
    const launch = prepareSandbox({ carch: 'x86_64', packageDirs: [], files, view: EMPTY_VIEW, driverArgs: ['-c', 'exit 0'] });
    try {
      const r = runSync(bwrap, launch.args, { timeoutMs: 20_000, fds: launch.fds });
      result = r.ok ? true : `${bwrap} exited with status ${r.exitCode ?? r.signal}: ${r.stderr || '(no message)'}`;
    } catch (err) {
      result = err instanceof CommandNotFoundError ? `${bwrap}: not installed` : (err as Error).message;
    } finally {
      launch.close();
    }
    probed.set(bwrap, result);
  }
  if (result !== true) throw new SandboxUnavailableError(result);
}
