/**
 * The seccomp filter every sandbox of untrusted code loads (bubblewrap's `--seccomp FD`): a classic BPF
 * program that denies, with EPERM, the system calls a PKGBUILD, a makepkg build or a pacman scriptlet must
 * never make — mounts, tracing and reading other processes, namespace creation and entry, kernel keyrings,
 * modules, io_uring (whose operations seccomp cannot see) — and lets everything else through. Denying is
 * done on top of dropped capabilities and no_new_privs, so a kernel that would allow one of these calls
 * inside a user namespace still refuses it.
 *
 * Numbers are per ABI; a unit test checks them against the kernel headers where they are installed. Calls
 * from an ABI without a table here (x32, or 32-bit code the profile does not allow) fail with ENOSYS.
 */

/** what the sandbox runs: `metadata` sources PKGBUILDs (no sockets, no SysV IPC); `build` runs pacman and makepkg */
export type SeccompProfile = 'metadata' | 'build';

type Abi = 'x86_64' | 'i386' | 'aarch64';

const AUDIT_ARCH: Record<Abi, number> = { x86_64: 0xc000003e, i386: 0x40000003, aarch64: 0xc00000b7 };

// denied in every profile
const ALWAYS = [
  'mount', 'umount', 'umount2', 'pivot_root', 'open_tree', 'move_mount', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'mount_setattr',
  'ptrace', 'process_vm_readv', 'process_vm_writev', 'pidfd_getfd', 'kcmp',
  'unshare', 'setns',
  'bpf', 'perf_event_open', 'userfaultfd', 'fanotify_init',
  'keyctl', 'add_key', 'request_key',
  'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'reboot', 'swapon', 'swapoff', 'syslog', 'acct',
  'quotactl', 'quotactl_fd', 'lookup_dcookie', 'open_by_handle_at', 'iopl', 'ioperm', 'vm86', 'vm86old',
  'io_uring_setup', 'io_uring_enter', 'io_uring_register',
] as const;

// sourcing a PKGBUILD needs no sockets (no network, no abstract unix sockets of the host) and no SysV IPC
// (which would be a channel between two PKGBUILDs of one sandbox)
const METADATA_ONLY = ['socket', 'socketcall', 'shmget', 'semget', 'msgget', 'mq_open'] as const;

type Syscall = (typeof ALWAYS)[number] | (typeof METADATA_ONLY)[number] | 'clone' | 'clone3';

/** syscall numbers per ABI (absent: the call does not exist there) */
export const SYSCALLS: Record<Abi, Partial<Record<Syscall, number>>> = {
  x86_64: {
    shmget: 29, socket: 41, clone: 56, semget: 64, msgget: 68, ptrace: 101, syslog: 103, pivot_root: 155, acct: 163, mount: 165,
    umount2: 166, swapon: 167, swapoff: 168, reboot: 169, iopl: 172, ioperm: 173, init_module: 175, delete_module: 176, quotactl: 179,
    lookup_dcookie: 212, mq_open: 240, kexec_load: 246, add_key: 248, request_key: 249, keyctl: 250, unshare: 272, perf_event_open: 298,
    fanotify_init: 300, open_by_handle_at: 304, setns: 308, process_vm_readv: 310, process_vm_writev: 311, kcmp: 312, finit_module: 313,
    kexec_file_load: 320, bpf: 321, userfaultfd: 323, io_uring_setup: 425, io_uring_enter: 426, io_uring_register: 427, open_tree: 428,
    move_mount: 429, fsopen: 430, fsconfig: 431, fsmount: 432, fspick: 433, clone3: 435, pidfd_getfd: 438, mount_setattr: 442, quotactl_fd: 443,
  },
  i386: {
    mount: 21, umount: 22, ptrace: 26, acct: 51, umount2: 52, swapon: 87, reboot: 88, ioperm: 101, socketcall: 102, syslog: 103, iopl: 110,
    vm86old: 113, swapoff: 115, clone: 120, init_module: 128, delete_module: 129, quotactl: 131, vm86: 166, pivot_root: 217,
    lookup_dcookie: 253, mq_open: 277, kexec_load: 283, add_key: 286, request_key: 287, keyctl: 288, unshare: 310, perf_event_open: 336,
    fanotify_init: 338, open_by_handle_at: 342, setns: 346, process_vm_readv: 347, process_vm_writev: 348, kcmp: 349, finit_module: 350,
    bpf: 357, socket: 359, userfaultfd: 374, semget: 393, shmget: 395, msgget: 399, io_uring_setup: 425, io_uring_enter: 426,
    io_uring_register: 427, open_tree: 428, move_mount: 429, fsopen: 430, fsconfig: 431, fsmount: 432, fspick: 433, clone3: 435,
    pidfd_getfd: 438, mount_setattr: 442, quotactl_fd: 443,
  },
  aarch64: {
    lookup_dcookie: 18, umount2: 39, mount: 40, pivot_root: 41, quotactl: 60, acct: 89, unshare: 97, kexec_load: 104, init_module: 105,
    delete_module: 106, syslog: 116, ptrace: 117, reboot: 142, mq_open: 180, msgget: 186, semget: 190, shmget: 194, socket: 198,
    add_key: 217, request_key: 218, keyctl: 219, clone: 220, swapon: 224, swapoff: 225, perf_event_open: 241, fanotify_init: 262,
    open_by_handle_at: 265, setns: 268, process_vm_readv: 270, process_vm_writev: 271, kcmp: 272, finit_module: 273, bpf: 280,
    userfaultfd: 282, kexec_file_load: 294, io_uring_setup: 425, io_uring_enter: 426, io_uring_register: 427, open_tree: 428,
    move_mount: 429, fsopen: 430, fsconfig: 431, fsmount: 432, fspick: 433, clone3: 435, pidfd_getfd: 438, mount_setattr: 442, quotactl_fd: 443,
  },
};

// CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET
const CLONE_NEW_NAMESPACES = 0x7e020000;
const X32_SYSCALL_BIT = 0x40000000;

const EPERM = 1;
const ENOSYS = 38;

// classic BPF opcodes
const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const JSET_K = 0x45;
const RET_K = 0x06;
const RET_ALLOW = 0x7fff0000;
const RET_ERRNO = 0x00050000;

// offsets in struct seccomp_data
const OFF_NR = 0;
const OFF_ARCH = 4;
const OFF_ARG0_LOW = 16; // little-endian: the low 32 bits of args[0] come first

interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

const stmt = (code: number, k: number): Insn => ({ code, jt: 0, jf: 0, k });
const jump = (code: number, k: number, jt: number, jf: number): Insn => ({ code, jt, jf, k });

/** The instructions that check one ABI's syscall number (already loaded) and return. */
function abiBody(abi: Abi, profile: SeccompProfile): Insn[] {
  const table = SYSCALLS[abi];
  const names: Syscall[] = [...ALWAYS, ...(profile === 'metadata' ? METADATA_ONLY : [])];
  const denied = [...new Set(names.map((n) => table[n]).filter((n): n is number => n !== undefined))].sort((a, b) => a - b);
  const body: Insn[] = [];
  if (abi === 'x86_64') body.push(jump(JGE_K, X32_SYSCALL_BIT, 0, 1), stmt(RET_K, RET_ERRNO | ENOSYS));
  // clone3 passes its flags in memory seccomp cannot read: ENOSYS makes glibc fall back to clone
  body.push(jump(JEQ_K, table.clone3!, 0, 1), stmt(RET_K, RET_ERRNO | ENOSYS));
  // clone with a CLONE_NEW* flag creates namespaces
  body.push(
    jump(JEQ_K, table.clone!, 0, 3),
    stmt(LD_W_ABS, OFF_ARG0_LOW),
    jump(JSET_K, CLONE_NEW_NAMESPACES, 0, 1),
    stmt(RET_K, RET_ERRNO | EPERM),
    // (jf of the JSET and the clone mismatch both land here)
  );
  // after the clone check the accumulator may hold args[0]: reload the number
  const check: Insn[] = [stmt(LD_W_ABS, OFF_NR)];
  denied.forEach((nr, i) => check.push(jump(JEQ_K, nr, denied.length - i, 0)));
  check.push(stmt(RET_K, RET_ALLOW), stmt(RET_K, RET_ERRNO | EPERM));
  return [...body, ...check];
}

/** the host's native ABI and the 32-bit one a build may run on it */
function abisFor(nodeArch: string): { native: Abi; compat?: Abi } {
  if (nodeArch === 'x64') return { native: 'x86_64', compat: 'i386' };
  if (nodeArch === 'arm64') return { native: 'aarch64' };
  throw new Error(`the sandbox's seccomp filter has no syscall table for this host (${nodeArch}); pkgnx runs untrusted code on x86_64 and aarch64 hosts`);
}

/**
 * The filter program (an array of `struct sock_filter`, as bwrap --seccomp reads it).
 * @param nodeArch process.arch of the host
 */
export function seccompProgram(profile: SeccompProfile, nodeArch: string = process.arch): Buffer {
  const { native, compat } = abisFor(nodeArch);
  const abis: Abi[] = profile === 'build' && compat ? [native, compat] : [native];
  const insns: Insn[] = [stmt(LD_W_ABS, OFF_ARCH)];
  const bodies = abis.map((abi) => [stmt(LD_W_ABS, OFF_NR), ...abiBody(abi, profile)]);
  // arch dispatch: JEQ arch_i → its body; none matched → ENOSYS
  let offset = 0;
  const dispatch: Insn[] = [];
  abis.forEach((abi, i) => {
    const skipToBody = abis.length - 1 - i + 1 + offset; // remaining dispatch insns + the fallback RET + earlier bodies
    dispatch.push(jump(JEQ_K, AUDIT_ARCH[abi], skipToBody, 0));
    offset += bodies[i].length;
  });
  insns.push(...dispatch, stmt(RET_K, RET_ERRNO | ENOSYS));
  for (const b of bodies) insns.push(...b);
  for (const insn of insns) {
    if (insn.jt > 255 || insn.jf > 255) throw new Error('seccomp program: jump out of range');
  }
  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach((insn, i) => {
    buf.writeUInt16LE(insn.code, i * 8);
    buf.writeUInt8(insn.jt, i * 8 + 2);
    buf.writeUInt8(insn.jf, i * 8 + 3);
    buf.writeUInt32LE(insn.k >>> 0, i * 8 + 4);
  });
  return buf;
}

/** the syscall names a profile denies (for documentation and tests) */
export function deniedSyscalls(profile: SeccompProfile): string[] {
  return [...ALWAYS, ...(profile === 'metadata' ? METADATA_ONLY : []), 'clone (namespace flags)', 'clone3 (ENOSYS)'];
}
