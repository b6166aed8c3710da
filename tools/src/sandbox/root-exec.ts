/**
 * One command run as root of a build's user namespace inside a root filesystem, the way every sandboxed
 * pacman or makepkg step runs (rootfs builds, creating and updating build roots): root of the host only
 * assembles the mounts, in a private mount namespace; bubblewrap then starts as the range's first uid and
 * enters the user namespace (fd 3), with its own pid/ipc/uts (and, without network, net) namespaces, fresh
 * /proc and /dev, a cleared environment, the seccomp filter (fd 4) and only the capabilities given.
 *
 * The root (`/` of the sandbox) is assembled at /run/pkgnx/root on a private tmpfs:
 *   overlay  an overlayfs over `lower` (a build's disposable copy; the root itself stays untouched);
 *   bind     `lower` itself, read-write (the copied tree of copyMethod "copy", or a root being updated);
 *   host     a tmpfs with the host's /usr and /etc read-only (the merged-/usr links or the host's /bin,
 *            /lib... read-only): the host's own pacman, for a root that has none yet.
 * Every bind is made by root before bubblewrap starts (the unprivileged uid resolves no host path, which
 * may sit in a directory only root can enter); read-only binds are locked so for the user namespace.
 */

/** where the mount script assembles the sandbox's root, in a private tmpfs of its own mount namespace */
export const ASSEMBLED_ROOT = '/run/pkgnx/root';
/** the file descriptors a sandboxed step inherits: the build's user namespace, then the seccomp program */
export const USERNS_FD = 3;
export const SECCOMP_FD = 4;

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/bin:/sbin';

/**
 * Run as root in a private mount namespace (unshare --mount): mounts a tmpfs on /run/pkgnx, the root at
 * /run/pkgnx/root, and every host directory the sandbox sees into it, read-only where it must stay so.
 * Then execs the rest of its arguments.
 *   $1 overlay|bind|host  $2 lower  $3 upper  $4 work  $5 count of binds,
 *   then per bind: source, destination inside the root, ro|rw; then the command.
 */
export const MOUNT_SCRIPT = `set -eu
method=$1 lower=$2 upper=$3 work=$4 n=$5
shift 5
mount -t tmpfs -o mode=0755 pkgnx-run /run/pkgnx
mkdir ${ASSEMBLED_ROOT}
case $method in
overlay) mount -t overlay pkgnx-copy -o "lowerdir=$lower,upperdir=$upper,workdir=$work" ${ASSEMBLED_ROOT} ;;
bind) mount --bind "$lower" ${ASSEMBLED_ROOT} ;;
host)
  mount -t tmpfs -o mode=0755 pkgnx-host ${ASSEMBLED_ROOT}
  for d in usr etc bin sbin lib lib32 lib64 libx32; do
    if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "${ASSEMBLED_ROOT}/$d"
    elif [ -d "/$d" ]; then mkdir "${ASSEMBLED_ROOT}/$d"; mount --rbind "/$d" "${ASSEMBLED_ROOT}/$d"; mount -o remount,bind,ro "${ASSEMBLED_ROOT}/$d"
    fi
  done
  # bubblewrap (unprivileged outside) cannot create anything in this root-owned tmpfs: its mount points now
  mkdir -p ${ASSEMBLED_ROOT}/tmp ${ASSEMBLED_ROOT}/var/tmp ${ASSEMBLED_ROOT}/run ${ASSEMBLED_ROOT}/proc ${ASSEMBLED_ROOT}/dev ;;
esac
# the root's /tmp first: a workspace under /tmp is bound inside it
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

export type SandboxRoot =
  | { method: 'overlay'; lower: string; upper: string; work: string }
  | { method: 'bind'; dir: string }
  | { method: 'host' };

export type Bind = [source: string, destination: string, mode: 'ro' | 'rw'];

export interface SandboxSpec {
  root: SandboxRoot;
  binds: Bind[];
  /** host uid of root inside (the build's uid range) */
  base: number;
  /** capabilities kept inside the user namespace (every other one is dropped) */
  caps: string[];
  network: boolean;
  /** set inside, in this order, after PATH and LC_ALL */
  env: [string, string][];
  /** bubblewrap arguments before the command (e.g. `--dev /newroot/dev`) */
  extraBwrap?: string[];
  command: string[];
}

/** the whole argv: unshare + mount script as root, then setpriv to the range's first uid, then bwrap */
export function sandboxArgv(spec: SandboxSpec): string[] {
  const r = spec.root;
  const [lower, upper, work] = r.method === 'overlay' ? [r.lower, r.upper, r.work] : r.method === 'bind' ? [r.dir, '', ''] : ['', '', ''];
  const bwrap = [
    'bwrap',
    '--userns', String(USERNS_FD), '--uid', '0', '--gid', '0',
    '--bind', ASSEMBLED_ROOT, '/',
    '--proc', '/proc',
    '--dev', '/dev',
    '--unshare-ipc', '--unshare-pid', '--unshare-uts', '--unshare-cgroup-try',
    ...(spec.network ? ['--ro-bind-try', '/etc/resolv.conf', '/etc/resolv.conf'] : ['--unshare-net']),
    '--die-with-parent',
    '--new-session',
    '--cap-drop', 'ALL', ...spec.caps.flatMap((c) => ['--cap-add', c]),
    '--seccomp', String(SECCOMP_FD),
    '--clearenv',
    '--setenv', 'PATH', PATH,
    '--setenv', 'LC_ALL', 'C',
    ...spec.env.flatMap(([k, v]) => ['--setenv', k, v]),
    ...(spec.extraBwrap ?? []),
    ...spec.command,
  ];
  return [
    'unshare', '--mount', '--propagation', 'private', '--',
    'sh', '-c', MOUNT_SCRIPT, 'pkgnx-mounts',
    r.method, lower, upper, work,
    String(spec.binds.length), ...spec.binds.flat(),
    // bwrap runs as root of the build's user namespace: an unprivileged uid on the host
    'setpriv', `--reuid=${spec.base}`, `--regid=${spec.base}`, '--clear-groups', '--',
    ...bwrap,
  ];
}

/** what pacman and install scriptlets may do as root of a root (in its user namespace): no mounts, no tracing */
export const PACMAN_CAPS = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETUID', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETFCAP', 'CAP_SYS_CHROOT', 'CAP_MKNOD'];
