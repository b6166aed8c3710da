/**
 * devtools backend: clean-chroot builds with makechrootpkg, exactly as devtools documents it
 * (root chroot made by mkarchroot, one disposable `-l` copy per task, devtools' own flock protocol).
 *
 * How the workspace repository reaches the build: a generated pacman.conf (chroot-config/<arch>/pacman.conf
 * + CacheDir + a `[pkgnx-workspace]` section with `Server = file://<repo dir>`) is installed as the root's
 * /etc/pacman.conf, so every copy cloned by `makechrootpkg -c` has it, `-u` syncs it, and the repo dir is
 * bind-mounted read-only at the same path (`-D dir:dir`) so the file:// URL is valid inside and outside.
 * See docs/devtools-and-qemu.md.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { formatCommand, logLine, runLogged, type PlannedCommand } from '../../process/logged-run';
import { findOnPath } from '../../process/run';
import { defaultDevtoolsChrootDir } from '../../roots/locate';
import { isRoot } from '../../sandbox/identity';
import type { DevtoolsSettings } from '../build-options';
import type { BuildBackend, BuildOutcome, BuildRequest } from './backend';
import { pacmanConfWithRepos } from './shared';
import { readPacmanArchitectures } from '../../pacman-conf';

/** the devtools settings with the defaults that depend on the build resolved */
export interface DevtoolsOptions extends Required<Omit<DevtoolsSettings, 'ccacheDir'>> {
  ccacheDir?: string;
}

export function devtoolsOptions(req: BuildRequest): DevtoolsOptions {
  const o = req.devtools;
  const cacheRoot = join(req.workspaceRoot, '.pkgnx');
  return {
    ...o,
    // one root per workspace by default: the root's pacman.conf names this workspace's repository path
    chrootDir: o.chrootDir ?? defaultDevtoolsChrootDir(req.workspaceRoot, req.arch),
    srcdest: o.srcdest ?? req.env.SRCDEST ?? join(cacheRoot, 'sources'),
    // a subdirectory: logs/<pkgbase>/ itself holds only our rotated build logs
    logdest: o.logdest ?? req.env.LOGDEST ?? join(dirname(req.logFile), 'makepkg'),
    gnupgHome: o.gnupgHome ?? req.env.GNUPGHOME ?? join(cacheRoot, 'gnupg'),
    sudo: o.sudo ?? !isRoot(),
  };
}

/** `--ignorearch` only when the target is not in arch=() and the package is not `any` */
export function needsIgnoreArch(arch: string, pkgArch: readonly string[]): boolean {
  return !pkgArch.includes('any') && !pkgArch.includes(arch);
}

/** where the generated pacman.conf is staged (host path; read by mkarchroot -C and installed into root) */
export function stagedPacmanConfPath(opts: DevtoolsOptions): string {
  return join(opts.chrootDir, 'pkgnx-pacman.conf');
}

/** what differs between a native devtools build and a qemu-user one */
export interface ChrootFlavour {
  /** extra mkarchroot options, e.g. `-s` and `-f /usr/bin/qemu-aarch64-static` */
  mkarchrootExtra: string[];
  /** extra arch-nspawn options, e.g. `-s` */
  archNspawnExtra: string[];
  /** steps run before anything else (qemu: the setarch alias) */
  preSteps: PlannedCommand[];
}

export const NATIVE_FLAVOUR: ChrootFlavour = { mkarchrootExtra: [], archNspawnExtra: [], preSteps: [] };

type StepKind = 'setup' | 'build' | 'cleanup';
interface Step extends PlannedCommand {
  kind: StepKind;
}

function buildEnv(req: BuildRequest, opts: DevtoolsOptions): Record<string, string> {
  const env: Record<string, string> = { ...req.env };
  env.PKGDEST = req.pkgdest;
  env.LOGDEST = opts.logdest;
  env.SRCDEST = opts.srcdest;
  env.GNUPGHOME = opts.gnupgHome;
  if (!env.SOURCE_DATE_EPOCH) {
    // deterministic fallback (archbuild would use `date +%s`): the PKGBUILD's mtime
    const pkgbuild = join(req.pkgdir, 'PKGBUILD');
    env.SOURCE_DATE_EPOCH = String(existsSync(pkgbuild) ? Math.floor(statSync(pkgbuild).mtimeMs / 1000) : 0);
  }
  return env;
}

export function rootExists(chrootDir: string): boolean {
  return existsSync(join(chrootDir, 'root', '.arch-chroot'));
}

export function copyDirOf(req: BuildRequest, opts: DevtoolsOptions): string {
  return req.copyName.startsWith('/') ? req.copyName : join(opts.chrootDir, req.copyName);
}

/** the full step list; plan() drops the kind. Reads the filesystem only to see whether root exists. */
export function planSteps(req: BuildRequest, flavour: ChrootFlavour = NATIVE_FLAVOUR): Step[] {
  const opts = devtoolsOptions(req);
  const root = join(opts.chrootDir, 'root');
  const rootLock = join(opts.chrootDir, 'root.lock');
  const stagedConf = stagedPacmanConfPath(opts);
  const copyDir = copyDirOf(req, opts);
  const asRoot = (argv: string[]): string[] => (opts.sudo ? ['sudo', ...argv] : argv);
  const steps: Step[] = [];
  for (const s of flavour.preSteps) steps.push({ ...s, argv: asRoot(s.argv), kind: 'setup' });
  steps.push({
    kind: 'setup',
    purpose: 'directories: per-arch pacman cache, chroot dir',
    argv: asRoot(['mkdir', '-p', req.pacmanCacheDir, opts.chrootDir]),
  });
  steps.push({ kind: 'setup', purpose: 'directories: sources, makepkg logs', argv: ['mkdir', '-p', opts.srcdest, opts.logdest] });
  if (req.noCache) {
    steps.push({
      kind: 'setup',
      purpose: `empty the pacman cache ${req.pacmanCacheDir} (noCache)`,
      argv: asRoot(['find', req.pacmanCacheDir, '-mindepth', '1', '-maxdepth', '1', '-type', 'f', '-delete']),
    });
  }
  if (req.pgpKeys.length > 0) {
    steps.push({ kind: 'setup', purpose: 'GNUPGHOME for the host-side source signature check', argv: ['install', '-d', '-m', '0700', opts.gnupgHome] });
    steps.push({
      kind: 'setup',
      purpose: 'import the PGP keys makepkg --verifysource checks against (validpgpkeys)',
      argv: ['gpg', '--homedir', opts.gnupgHome, '--batch', '--quiet', '--import', ...req.pgpKeys],
    });
  }
  if (!rootExists(opts.chrootDir)) {
    // exclusive root.lock like archbuild; the test inside the lock makes a concurrent creator a no-op
    steps.push({
      kind: 'setup',
      purpose: `create the root chroot ${root} (missing) under an exclusive lock on root.lock`,
      argv: asRoot([
        'flock', rootLock, 'sh', '-ec', '[ -e "$0/.arch-chroot" ] || exec "$@"', root,
        'mkarchroot', ...flavour.mkarchrootExtra, '-C', stagedConf, '-M', req.makepkgConf, '-c', req.pacmanCacheDir, root, 'base-devel',
      ]),
    });
  } else {
    steps.push({
      kind: 'setup',
      purpose: 'refresh the root pacman.conf (workspace repo, per-arch cache) under an exclusive lock on root.lock',
      argv: asRoot(['flock', rootLock, 'install', '-m', '0644', stagedConf, join(root, 'etc', 'pacman.conf')]),
    });
    steps.push({
      kind: 'setup',
      purpose: 'refresh the root makepkg.conf from chroot-config under an exclusive lock on root.lock',
      argv: asRoot(['flock', rootLock, 'install', '-m', '0644', req.makepkgConf, join(root, 'etc', 'makepkg.conf')]),
    });
  }
  if (opts.updateRoot) {
    steps.push({
      kind: 'setup',
      purpose: 'update the root chroot (pacman -Syuu) under an exclusive lock on root.lock',
      argv: asRoot(['flock', rootLock, 'arch-nspawn', ...flavour.archNspawnExtra, '-c', req.pacmanCacheDir, root, 'pacman', '-Syuu', '--noconfirm']),
    });
  }
  const binds: string[] = req.repos.flatMap((r) => (r.bind ? ['-D', `${r.bind}:${r.bind}`] : []));
  if (opts.ccacheDir) binds.push('-d', `${opts.ccacheDir}:/build/.ccache`);
  for (const b of opts.bindRw) binds.push('-d', b);
  for (const b of opts.bindRo) binds.push('-D', b);
  const makepkgArgs: string[] = [];
  if (req.ignoreArch && needsIgnoreArch(req.arch, req.pkgArch)) makepkgArgs.push('--ignorearch');
  if (req.nocheck) makepkgArgs.push('--nocheck');
  for (const a of req.makepkgArgs) if (!makepkgArgs.includes(a)) makepkgArgs.push(a);
  steps.push({
    kind: 'build',
    purpose: `build ${req.pkgbase} for ${req.arch} in the copy ${copyDir}`,
    cwd: req.pkgdir,
    env: buildEnv(req, opts),
    argv: [
      'makechrootpkg', '-r', opts.chrootDir, '-l', req.copyName, '-c', '-u', ...binds,
      '-t', `/tmp:size=${opts.tmpfsSize}`, '--', ...makepkgArgs,
    ],
  });
  steps.push({
    kind: 'cleanup',
    purpose: `remove our copy ${copyDir} (after makechrootpkg released ${copyDir}.lock)`,
    // -w: a leftover holder must not hang the task forever; the copy then stays and the log says so
    argv: asRoot(['flock', '-w', '300', `${copyDir}.lock`, 'rm', '-rf', '--one-file-system', copyDir]),
  });
  steps.push({
    kind: 'cleanup',
    purpose: 'remove our copy lock file (the copy name is unique to this task; no other process uses it)',
    argv: asRoot(['rm', '-f', `${copyDir}.lock`]),
  });
  return steps;
}

export function planCommands(req: BuildRequest, flavour: ChrootFlavour = NATIVE_FLAVOUR): PlannedCommand[] {
  return planSteps(req, flavour).map(({ kind: _kind, ...cmd }) => cmd);
}

/** last `CARCH=` assignment of a makepkg.conf */
export function readCarch(makepkgConfText: string): string | undefined {
  let carch: string | undefined;
  for (const line of makepkgConfText.split('\n')) {
    const m = /^\s*CARCH=(["']?)([^"'\s#]+)\1/.exec(line);
    if (m) carch = m[2];
  }
  return carch;
}

export function checkChrootConfig(req: BuildRequest): void {
  for (const f of [req.pacmanConf, req.makepkgConf]) {
    if (!existsSync(f)) throw new Error(`${f} does not exist (chroot-config/${req.arch}/ needs pacman.conf and makepkg.conf)`);
  }
  const carch = readCarch(readFileSync(req.makepkgConf, 'utf8'));
  if (!carch) throw new Error(`${req.makepkgConf} sets no CARCH`);
  const archs = readPacmanArchitectures(readFileSync(req.pacmanConf, 'utf8'));
  if (archs && !archs.includes('auto') && !archs.includes(carch)) {
    throw new Error(
      `CARCH=${carch} in ${req.makepkgConf} does not match Architecture = ${archs.join(' ')} in ${req.pacmanConf}`,
    );
  }
  if (carch !== req.arch) throw new Error(`CARCH=${carch} in ${req.makepkgConf}, but the target architecture is ${req.arch}`);
}

export function checkDevtoolsPresent(): void {
  const missing = ['makechrootpkg', 'mkarchroot', 'arch-nspawn'].filter((c) => !findOnPath(c));
  if (missing.length > 0) {
    throw new Error(`${missing.join(', ')} not found on PATH: install devtools (Arch: pacman -S devtools)`);
  }
}

function writeStagedConf(req: BuildRequest, opts: DevtoolsOptions): void {
  const text = pacmanConfWithRepos(readFileSync(req.pacmanConf, 'utf8'), req.repos, req.pacmanCacheDir);
  const dest = stagedPacmanConfPath(opts);
  mkdirSync(dirname(dest), { recursive: true });
  // tmp + rename: concurrent tasks write the same content, never a torn file
  const tmp = `${dest}.${process.pid}.${req.copyName.replace(/\W/g, '_')}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, dest);
}

function emptyDir(dir: string): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
}

/** run a step list; shared by the devtools and qemu backends */
export async function runSteps(req: BuildRequest, steps: Step[]): Promise<BuildOutcome> {
  const opts = devtoolsOptions(req);
  mkdirSync(dirname(req.logFile), { recursive: true });
  const copyDir = copyDirOf(req, opts);
  const note = (line: string): Promise<void> => logLine(req.logFile, `pkgnx: ${line}`, false);
  const runStep = (step: Step, signal?: AbortSignal) =>
    runLogged(step, { logFile: req.logFile, signal, killGraceMs: opts.killGraceMs, echo: false });
  // our own copy only, with no signal: the cleanup itself is never aborted
  const cleanup = async (): Promise<void> => {
    for (const s of steps.filter((x) => x.kind === 'cleanup')) await runStep(s);
  };
  try {
    writeStagedConf(req, opts);
  } catch (e) {
    await note((e as Error).message);
    return { success: false, error: (e as Error).message };
  }
  for (const step of steps.filter((x) => x.kind !== 'cleanup')) {
    if (req.signal.aborted) break;
    const r = await runStep(step, req.signal);
    if (r.aborted || req.signal.aborted) break;
    if (r.code !== 0) {
      const how = r.code === null ? `killed by ${r.signal}` : `exit code ${r.code}`;
      const error = `${step.argv[0]} failed (${how}): ${step.purpose}`;
      emptyDir(req.pkgdest);
      if (step.kind === 'build' && !opts.cleanupOnFailure) {
        await note(`build failed; the copy ${copyDir} is kept for inspection (cleanupOnFailure removes it)`);
      } else if (step.kind === 'build') {
        await cleanup();
      }
      await note(error);
      return { success: false, error };
    }
  }
  if (req.signal.aborted) {
    // no half-written output and no stray copy (design principle 8)
    emptyDir(req.pkgdest);
    await note('aborted; process group ended, removing our copy');
    await cleanup();
    return { success: false, error: 'aborted (SIGINT/SIGTERM)' };
  }
  await cleanup();
  return { success: true };
}

export const devtoolsBackend: BuildBackend = {
  name: 'devtools',
  async preflight(req: BuildRequest): Promise<void> {
    checkDevtoolsPresent();
    checkChrootConfig(req);
    devtoolsOptions(req);
  },
  plan(req: BuildRequest): PlannedCommand[] {
    return planCommands(req, NATIVE_FLAVOUR);
  },
  async build(req: BuildRequest): Promise<BuildOutcome> {
    return runSteps(req, planSteps(req, NATIVE_FLAVOUR));
  },
};

/** a dry run's text: every command as a copy-pasteable shell line, with its cwd and the env it sets */
export function formatPlan(commands: readonly PlannedCommand[]): string {
  return commands.map((c, i) => `# ${i + 1}. ${c.purpose}\n${formatCommand(c)}`).join('\n');
}
