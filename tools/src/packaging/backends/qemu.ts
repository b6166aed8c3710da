/**
 * qemu backend: the devtools backend for a foreign architecture on this host, through qemu-user and
 * binfmt_misc (aurutils-qemu parity, without its bugs: the architecture is mapped explicitly, binfmt is
 * checked before any work, the cache is per architecture, setarch is never run for a foreign arch,
 * qemu is copied into the root only when the registration lacks the F flag, --ignorearch only when needed).
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BuildBackend, BuildOutcome, BuildRequest, PlannedCommand } from './backend';
import {
  checkChrootConfig,
  checkDevtoolsPresent,
  devtoolsOptions,
  NATIVE_FLAVOUR,
  planSteps,
  runSteps,
  type ChrootFlavour,
} from './devtools';

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
function isNativeFor(arch: string, hostArch: string): boolean {
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

export interface QemuOptions {
  binfmtDir: string;
  /** devtools reads `@pkgdatadir@/setarch-aliases.d/<CARCH>` in arch-nspawn */
  setarchAliasDir: string;
  /** host qemu binary copied into the root when binfmt lacks F */
  qemuStatic: string;
}

export function qemuOptions(req: BuildRequest): QemuOptions {
  const o = req.backendOptions;
  const str = (key: string, fallback: string): string => {
    const v = o[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'string' || v === '') throw new Error(`backendOptions.${key} must be a non-empty string`);
    return v;
  };
  const name = QEMU_ARCH_MAP[req.arch] ?? req.arch;
  return {
    binfmtDir: str('binfmtDir', '/proc/sys/fs/binfmt_misc'),
    setarchAliasDir: str('setarchAliasDir', '/usr/share/devtools/setarch-aliases.d'),
    qemuStatic: str('qemuStatic', `/usr/bin/qemu-${name}-static`),
  };
}

/** path and content of the alias that makes arch-nspawn run `setarch <host arch>` instead of `setarch <target>` */
export function setarchAlias(arch: string, hostArch: string, aliasDir: string): { path: string; content: string } {
  return { path: join(aliasDir, arch), content: `${hostArch}\n` };
}

function aliasInPlace(alias: { path: string; content: string }): boolean {
  return existsSync(alias.path) && readFileSync(alias.path, 'utf8').trim() === alias.content.trim();
}

/** the per-architecture cache: never the host's shared cache, where `any` packages of two repositories would mix */
export function qemuCacheDir(req: BuildRequest): string {
  const shared = ['/var/cache/pacman/pkg', '/var/cache/pacman/pkg/'];
  return shared.includes(req.pacmanCacheDir) ? `/var/cache/pacman/pkg-${req.arch}` : req.pacmanCacheDir;
}

/** the flavour needs the binfmt flags: pass them in to keep plan() free of /proc reads in tests */
export function qemuFlavour(req: BuildRequest, binfmt: Pick<BinfmtStatus, 'fixBinary'>): ChrootFlavour {
  const q = qemuOptions(req);
  const alias = setarchAlias(req.arch, req.hostArch, q.setarchAliasDir);
  const preSteps: PlannedCommand[] = [];
  if (!aliasInPlace(alias)) {
    preSteps.push({
      purpose:
        `host-wide devtools setarch alias ${alias.path} = ${req.hostArch}: makechrootpkg calls arch-nspawn without -s, ` +
        `and arch-nspawn would otherwise run 'setarch ${req.arch}', which fails on a ${req.hostArch} host (needs root)`,
      argv: ['sh', '-ec', 'mkdir -p "$0" && printf "%s\\n" "$1" > "$0/$2"', q.setarchAliasDir, req.hostArch, req.arch],
    });
  }
  return {
    // -s: mkarchroot's own arch-nspawn (locale-gen) must not setarch; -f only without F (F preloads qemu)
    mkarchrootExtra: ['-s', ...(binfmt.fixBinary ? [] : ['-f', q.qemuStatic])],
    archNspawnExtra: ['-s'],
    preSteps,
  };
}

function withQemuCache(req: BuildRequest): BuildRequest {
  return { ...req, pacmanCacheDir: qemuCacheDir(req) };
}

function binfmtFor(req: BuildRequest): BinfmtStatus | undefined {
  if (isNativeFor(req.arch, req.hostArch)) return undefined;
  return checkBinfmt(req.arch, { binfmtDir: qemuOptions(req).binfmtDir });
}

/** plan with explicit binfmt flags (for tests and dry runs on machines without the registration) */
export function planQemu(req: BuildRequest, binfmt: Pick<BinfmtStatus, 'fixBinary'>): PlannedCommand[] {
  const r = withQemuCache(req);
  const flavour = isNativeFor(req.arch, req.hostArch) ? NATIVE_FLAVOUR : qemuFlavour(r, binfmt);
  return planSteps(r, flavour).map(({ kind: _kind, ...cmd }) => cmd);
}

export const qemuBackend: BuildBackend = {
  name: 'qemu',
  async preflight(req: BuildRequest): Promise<void> {
    // binfmt first: the one thing that makes every later step fail in confusing ways
    const binfmt = binfmtFor(req);
    for (const w of binfmt?.warnings ?? []) process.stderr.write(`pkgnx: warning: ${w}\n`);
    checkDevtoolsPresent();
    checkChrootConfig(req);
    devtoolsOptions(req);
    const q = qemuOptions(req);
    if (binfmt && !binfmt.fixBinary && !existsSync(q.qemuStatic)) {
      throw new Error(`${q.qemuStatic} is missing; it must be copied into the chroot because ${binfmt.path} lacks the F flag. Fix: ${binfmtFix(binfmt.qemuName)}`);
    }
    if (binfmt) {
      const alias = setarchAlias(req.arch, req.hostArch, q.setarchAliasDir);
      const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
      if (!aliasInPlace(alias) && !isRoot) {
        throw new Error(
          `devtools needs the setarch alias ${alias.path} (content: ${req.hostArch}) so makechrootpkg does not run 'setarch ${req.arch}'. ` +
            `Fix (once, as root): mkdir -p ${q.setarchAliasDir} && echo ${req.hostArch} > ${alias.path}`,
        );
      }
    }
  },
  plan(req: BuildRequest): PlannedCommand[] {
    const binfmt = binfmtFor(req);
    return planQemu(req, { fixBinary: binfmt?.fixBinary ?? true });
  },
  async build(req: BuildRequest): Promise<BuildOutcome> {
    let binfmt: BinfmtStatus | undefined;
    try {
      binfmt = binfmtFor(req); // before any command runs
    } catch (e) {
      const error = (e as Error).message;
      mkdirSync(dirname(req.logFile), { recursive: true });
      appendFileSync(req.logFile, `pkgnx: ${error}\n`);
      return { success: false, error };
    }
    const r = withQemuCache(req);
    const flavour = binfmt ? qemuFlavour(r, binfmt) : NATIVE_FLAVOUR;
    const steps = planSteps(r, flavour);
    if (flavour.preSteps.length > 0) {
      process.stderr.write(`pkgnx: writing the host-wide devtools setarch alias for ${req.arch} (${req.hostArch})\n`);
    }
    return runSteps(r, steps);
  },
};
