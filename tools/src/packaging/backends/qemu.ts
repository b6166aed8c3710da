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
import { binfmtFix, checkBinfmt, QEMU_ARCH_MAP, runsNatively, type BinfmtStatus } from './shared';
import { isRoot } from '../../sandbox/identity';

/** the qemu settings with the defaults that depend on the build resolved */
export interface QemuOptions {
  binfmtDir: string;
  setarchAliasDir: string;
  qemuStatic: string;
}

export function qemuOptions(req: BuildRequest): QemuOptions {
  return {
    binfmtDir: req.binfmtDir,
    setarchAliasDir: req.qemu.setarchAliasDir,
    qemuStatic: req.qemu.qemuStatic ?? `/usr/bin/qemu-${QEMU_ARCH_MAP[req.arch] ?? req.arch}-static`,
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
  if (runsNatively(req.arch, req.hostArch)) return undefined;
  return checkBinfmt(req.arch, { binfmtDir: qemuOptions(req).binfmtDir });
}

/** plan with explicit binfmt flags (for tests and dry runs on machines without the registration) */
export function planQemu(req: BuildRequest, binfmt: Pick<BinfmtStatus, 'fixBinary'>): PlannedCommand[] {
  const r = withQemuCache(req);
  const flavour = runsNatively(req.arch, req.hostArch) ? NATIVE_FLAVOUR : qemuFlavour(r, binfmt);
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
      if (!aliasInPlace(alias) && !isRoot()) {
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
