/**
 * What several backends need, written once: the pacman.conf that puts the workspace (and published) repositories first, the
 * pacman architecture → qemu-user map and the binfmt_misc check, the task's private working directory, and
 * the GNUPGHOME with the workspace's public keys.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCheckedSync } from '../../process/run';
import type { BuildRepository, BuildRequest, WorkspaceRepository } from './backend';

/** The workspace repository as a build installs from it. */
export function workspaceBuildRepository(repo: WorkspaceRepository): BuildRepository {
  return { name: repo.name, server: `file://${repo.dir}`, sigLevel: 'Optional TrustAll', comment: 'packages built in this workspace (bound read-only at the same path)', bind: repo.dir };
}

/**
 * A build's pacman.conf: `base` (chroot-config/<arch>/pacman.conf, or the root's own) with `repos` (the
 * workspace repository, and published ones in the configured order) inserted BEFORE the first repository,
 * so packages of this workspace win over same-named ones, and, when given, every CacheDir of [options]
 * replaced (devtools' inner arch-nspawn calls bind the first CacheDir of this file). A base that already
 * names one of them is an error.
 */
export function pacmanConfWithRepos(base: string, repos: readonly BuildRepository[], cacheDir?: string): string {
  const out: string[] = [];
  let section = '';
  let inserted = false;
  const repoSection = repos.flatMap((repo) => [`# added by pkgnx: ${repo.comment}`, `[${repo.name}]`, `SigLevel = ${repo.sigLevel}`, `Server = ${repo.server}`, '']);
  const endOptions = (): void => {
    if (section === 'options' && cacheDir) out.push(`CacheDir = ${cacheDir}`, '');
  };
  for (const line of base.split('\n')) {
    const header = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (header) {
      endOptions();
      section = header[1];
      if (repos.some((r) => r.name === section)) throw new Error(`pacman.conf already has a [${section}] section; remove it, pkgnx adds it`);
      if (section !== 'options' && !inserted) {
        out.push(...repoSection);
        inserted = true;
      }
      out.push(line);
      continue;
    }
    if (cacheDir && section === 'options' && /^\s*#?\s*CacheDir\s*=/.test(line)) continue;
    out.push(line);
  }
  endOptions();
  if (!inserted) out.push('', ...repoSection);
  return out.join('\n').replace(/\n{3,}/g, '\n\n');
}

/** pacman architecture → qemu-user name (`qemu-<name>`, `qemu-<name>-static`, binfmt entry `qemu-<name>`) */
export const QEMU_ARCH_MAP: Readonly<Record<string, string>> = {
  x86_64: 'x86_64',
  x86_64_v2: 'x86_64',
  x86_64_v3: 'x86_64',
  x86_64_v4: 'x86_64',
  i486: 'i386',
  i586: 'i386',
  i686: 'i386',
  pentium4: 'i386',
  aarch64: 'aarch64',
  armv8h: 'arm',
  armv7h: 'arm',
  armv7l: 'arm',
  armv6h: 'arm',
  armv6l: 'arm',
  armv5tel: 'arm',
  arm: 'arm',
  riscv64: 'riscv64',
  loong64: 'loongarch64',
  loongarch64: 'loongarch64',
  ppc64le: 'ppc64le',
  powerpc64le: 'ppc64le',
  ppc64: 'ppc64',
  powerpc64: 'ppc64',
  powerpc: 'ppc',
  s390x: 's390x',
  mips64el: 'mips64el',
  sparc64: 'sparc64',
};

export function qemuNameFor(pacmanArch: string): string {
  const name = QEMU_ARCH_MAP[pacmanArch];
  if (!name) {
    throw new Error(`no qemu-user mapping for architecture '${pacmanArch}' (known: ${Object.keys(QEMU_ARCH_MAP).join(', ')})`);
  }
  return name;
}

/** the host's `uname -m` in qemu terms, so x86_64_v3 on x86_64 needs no emulation */
/** true when `arch` runs on `hostArch` without emulation (x86_64_v3 on x86_64) */
export function runsNatively(arch: string, hostArch: string): boolean {
  const host = QEMU_ARCH_MAP[hostArch] ?? hostArch;
  return QEMU_ARCH_MAP[arch] === host;
}

export interface BinfmtStatus {
  qemuName: string;
  /** /proc/sys/fs/binfmt_misc/qemu-<name> */
  path: string;
  enabled: boolean;
  interpreter: string;
  /** e.g. `PF`, `POCF` */
  flags: string;
  /** F: the interpreter is opened at registration, so it works inside a chroot without copying it in */
  fixBinary: boolean;
  /** C: setuid binaries (sudo → pacman inside makechrootpkg) keep their credentials under emulation */
  credentials: boolean;
  warnings: string[];
}

export interface BinfmtCheckOptions {
  /** default /proc/sys/fs/binfmt_misc; a temp dir in tests */
  binfmtDir?: string;
}

export function binfmtFix(qemuName: string): string {
  return (
    `Debian/Ubuntu: apt-get install qemu-user-static binfmt-support && update-binfmts --enable qemu-${qemuName}; ` +
    `Arch: pacman -S qemu-user-static qemu-user-static-binfmt && systemctl restart systemd-binfmt`
  );
}

/** reads the real registration; throws with the exact fix when it is missing, disabled or binfmt_misc is not mounted */
export function checkBinfmt(arch: string, opts: BinfmtCheckOptions = {}): BinfmtStatus {
  const dir = opts.binfmtDir ?? '/proc/sys/fs/binfmt_misc';
  const qemuName = qemuNameFor(arch);
  const path = join(dir, `qemu-${qemuName}`);
  if (!existsSync(join(dir, 'status'))) {
    throw new Error(
      `binfmt_misc is not mounted at ${dir}, so ${arch} binaries cannot run under qemu-user. ` +
        `Fix: mount -t binfmt_misc binfmt_misc ${dir} (then: ${binfmtFix(qemuName)})`,
    );
  }
  if (!existsSync(path)) {
    throw new Error(`no binfmt_misc registration ${path} for ${arch} (qemu-${qemuName}). Fix: ${binfmtFix(qemuName)}`);
  }
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n').map((l) => l.trim());
  const enabled = lines[0] === 'enabled';
  const interpreter = lines.find((l) => l.startsWith('interpreter '))?.slice('interpreter '.length) ?? '';
  const flags = lines.find((l) => l.startsWith('flags:'))?.slice('flags:'.length).trim() ?? '';
  if (!enabled) {
    throw new Error(
      `binfmt_misc registration ${path} for ${arch} is disabled. Fix: update-binfmts --enable qemu-${qemuName} (or: echo 1 > ${path})`,
    );
  }
  const warnings: string[] = [];
  const fixBinary = flags.includes('F');
  const credentials = flags.includes('C');
  if (!fixBinary) {
    warnings.push(`${path} has no F flag (flags: ${flags || 'none'}): qemu-${qemuName}-static is copied into the root chroot's /usr/bin/`);
  }
  if (!credentials) {
    warnings.push(
      `${path} has no C flag (flags: ${flags || 'none'}): setuid sudo inside the chroot (makepkg --syncdeps as builduser) ` +
        `may fail under emulation; devtools ports register qemu with flags FPC`,
    );
  }
  return { qemuName, path, enabled, interpreter, flags, fixBinary, credentials, warnings };
}


/** the task's private working directory (a rootfs copy, a host build directory): `<copiesDir>/<copyName>` */
export function taskWorkDir(req: BuildRequest): string {
  return join(req.copiesDir ?? join(req.workspaceRoot, '.pkgnx', 'chroots', req.arch), req.copyName);
}

/** a private GNUPGHOME holding the workspace's and the package's public keys (source signature checks) */
export function importPgpKeys(keys: readonly string[], gnupgDir: string): void {
  mkdirSync(gnupgDir, { recursive: true, mode: 0o700 });
  runCheckedSync('gpg', ['--batch', '--quiet', '--homedir', gnupgDir, '--import', ...keys]);
}
