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
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, delimiter, dirname, join } from 'node:path';
import { defaultDevtoolsChrootDir } from '../../roots/locate';
import type { BuildBackend, BuildOutcome, BuildRequest, PlannedCommand, WorkspaceRepository } from './backend';

/** executor options the devtools and qemu backends read from req.backendOptions */
export interface DevtoolsOptions {
  /** makechrootpkg -r: holds `root` (pristine) and the per-task copies */
  chrootDir: string;
  /** size of the /tmp tmpfs in the container (`-t /tmp:size=...`) */
  tmpfsSize: string;
  /** bound read-write at /build/.ccache (builduser's HOME is /build) */
  ccacheDir?: string;
  /** extra `-d src[:dst]` / `-D src[:dst]` bind mounts */
  bindRw: string[];
  bindRo: string[];
  srcdest: string;
  logdest: string;
  gnupgHome: string;
  /** keep the copy of a failed build for inspection (default) unless this is set */
  cleanupOnFailure: boolean;
  /** run `pacman -Syuu` in the root (under the exclusive root.lock) before cloning */
  updateRoot: boolean;
  /** SIGTERM → SIGKILL grace when aborting */
  killGraceMs: number;
  /** prefix root-only steps (mkarchroot, root refresh, copy removal) with sudo; makechrootpkg re-execs itself */
  sudo: boolean;
}

function optString(o: Record<string, unknown>, key: string, fallback: string): string;
function optString(o: Record<string, unknown>, key: string, fallback?: undefined): string | undefined;
function optString(o: Record<string, unknown>, key: string, fallback?: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string' || v === '') throw new Error(`backendOptions.${key} must be a non-empty string`);
  return v;
}
function optBool(o: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw new Error(`backendOptions.${key} must be true or false`);
  return v;
}
function optStrings(o: Record<string, unknown>, key: string): string[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new Error(`backendOptions.${key} must be an array of strings`);
  return v as string[];
}
function optNumber(o: Record<string, unknown>, key: string, fallback: number): number {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`backendOptions.${key} must be a non-negative number`);
  return v;
}

export function devtoolsOptions(req: BuildRequest): DevtoolsOptions {
  const o = req.backendOptions;
  const cacheRoot = join(req.workspaceRoot, '.pkgnx');
  return {
    // one root per workspace by default: the root's pacman.conf names this workspace's repository path
    chrootDir: optString(o, 'chrootDir', defaultDevtoolsChrootDir(req.workspaceRoot, req.arch)),
    tmpfsSize: optString(o, 'tmpfsSize', '50%'),
    ccacheDir: optString(o, 'ccacheDir'),
    bindRw: optStrings(o, 'bindRw'),
    bindRo: optStrings(o, 'bindRo'),
    srcdest: optString(o, 'srcdest', req.env.SRCDEST ?? join(cacheRoot, 'sources')),
    // a subdirectory: logs/<pkgbase>/ itself holds only our rotated build logs
    logdest: optString(o, 'logdest', req.env.LOGDEST ?? join(dirname(req.logFile), 'makepkg')),
    gnupgHome: optString(o, 'gnupgHome', req.env.GNUPGHOME ?? join(cacheRoot, 'gnupg')),
    cleanupOnFailure: optBool(o, 'cleanupOnFailure', false),
    updateRoot: optBool(o, 'updateRoot', false),
    killGraceMs: optNumber(o, 'killGraceMs', 5000),
    sudo: optBool(o, 'sudo', typeof process.getuid === 'function' && process.getuid() !== 0),
  };
}

/** `--ignorearch` only when the target is not in arch=() and the package is not `any` */
export function needsIgnoreArch(arch: string, pkgArch: readonly string[]): boolean {
  return !pkgArch.includes('any') && !pkgArch.includes(arch);
}

/**
 * The root chroot's pacman.conf: the arch's pacman.conf with every CacheDir replaced by the per-arch cache
 * (makechrootpkg's inner arch-nspawn calls take no `-c`; they bind the first CacheDir of this file) and the
 * workspace repository inserted BEFORE the first repository, so packages built in this workspace win over
 * same-named official ones.
 */
export function renderChrootPacmanConf(base: string, repo: WorkspaceRepository, cacheDir: string): string {
  const lines = base.split('\n');
  const out: string[] = [];
  let section = '';
  let inserted = false;
  const repoSection = [
    `# added by pkgnx: packages built in this workspace (bind-mounted read-only at the same path)`,
    `[${repo.name}]`,
    `SigLevel = Optional TrustAll`,
    `Server = file://${repo.dir}`,
    '',
  ];
  for (const line of lines) {
    const header = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (header) {
      if (section === 'options') out.push(`CacheDir = ${cacheDir}`, '');
      section = header[1];
      if (section !== 'options' && !inserted) {
        out.push(...repoSection);
        inserted = true;
      }
      if (section === repo.name) throw new Error(`pacman.conf already has a [${repo.name}] section; remove it, pkgnx adds it`);
      out.push(line);
      continue;
    }
    if (section === 'options' && /^\s*#?\s*CacheDir\s*=/.test(line)) continue;
    out.push(line);
  }
  if (section === 'options') out.push(`CacheDir = ${cacheDir}`, '');
  if (!inserted) out.push('', ...repoSection);
  return out.join('\n').replace(/\n{3,}/g, '\n\n');
}

/** where the generated pacman.conf is staged (host path; read by mkarchroot -C and installed into root) */
export function stagedPacmanConfPath(req: BuildRequest, opts: DevtoolsOptions): string {
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
  const stagedConf = stagedPacmanConfPath(req, opts);
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
  const binds: string[] = ['-D', `${req.workspaceRepo.dir}:${req.workspaceRepo.dir}`];
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

/** `command -v` without a shell */
export function findOnPath(cmd: string, pathVar: string = process.env.PATH ?? ''): string | undefined {
  for (const dir of pathVar.split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, cmd);
    try {
      const st = statSync(p);
      if (st.isFile() && (st.mode & 0o111) !== 0) return p;
    } catch {
      // not in this directory
    }
  }
  return undefined;
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

/** `Architecture` values of pacman.conf's [options] (may be several, or `auto`) */
export function readPacmanArchitectures(pacmanConfText: string): string[] | undefined {
  let section = '';
  let values: string[] | undefined;
  for (const line of pacmanConfText.split('\n')) {
    const header = /^\s*\[([^\]]+)\]/.exec(line);
    if (header) {
      section = header[1];
      continue;
    }
    const m = /^\s*Architecture\s*=\s*(.+?)\s*$/.exec(line);
    if (m && section === 'options') values = m[1].split(/\s+/);
  }
  return values;
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
  const text = renderChrootPacmanConf(readFileSync(req.pacmanConf, 'utf8'), req.workspaceRepo, req.pacmanCacheDir);
  const dest = stagedPacmanConfPath(req, opts);
  mkdirSync(dirname(dest), { recursive: true });
  // tmp + rename: concurrent tasks write the same content, never a torn file
  const tmp = `${dest}.${process.pid}.${req.copyName.replace(/\W/g, '_')}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, dest);
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  aborted: boolean;
}

/** spawn in a new process group, tee output into the log, kill the whole group on abort */
function runStep(cmd: PlannedCommand, log: NodeJS.WritableStream, signal: AbortSignal, graceMs: number): Promise<RunResult> {
  return new Promise((resolve) => {
    log.write(`\n==> pkgnx: ${cmd.purpose}\n==> ${cmd.argv.join(' ')}\n`);
    const child = spawn(cmd.argv[0], cmd.argv.slice(1), {
      cwd: cmd.cwd,
      env: { ...process.env, ...cmd.env },
      detached: true, // own process group, so an abort reaches makechrootpkg's children too
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (sig: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // group already gone
      }
    };
    const onAbort = (): void => {
      aborted = true;
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), graceMs);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => {
      log.write(`pkgnx: cannot run ${cmd.argv[0]}: ${err.message}\n`);
    });
    child.on('close', (code, sig) => {
      signal.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      // leftovers of the group (a daemonised grandchild) must not outlive the build: kill them and
      // return only once the group is gone (or after 3 s), so the caller's cleanup races nothing
      if (!aborted) return resolve({ code, signal: sig, aborted });
      killGroup('SIGKILL');
      const deadline = Date.now() + 3000;
      const waitGone = (): void => {
        let alive = false;
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 0);
          alive = child.pid !== undefined;
        } catch {
          alive = false;
        }
        if (alive && Date.now() < deadline) setTimeout(waitGone, 20);
        else resolve({ code, signal: sig, aborted });
      };
      waitGone();
    });
  });
}

function emptyDir(dir: string): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
}

/** run a step list; shared by the devtools and qemu backends */
export async function runSteps(req: BuildRequest, steps: Step[]): Promise<BuildOutcome> {
  const opts = devtoolsOptions(req);
  mkdirSync(dirname(req.logFile), { recursive: true });
  const log = createWriteStream(req.logFile, { flags: 'a' });
  const copyDir = copyDirOf(req, opts);
  const finish = async (outcome: BuildOutcome): Promise<BuildOutcome> => {
    await new Promise<void>((r) => log.end(r));
    return outcome;
  };
  const cleanup = async (): Promise<void> => {
    // our own copy only; a fresh signal so the cleanup itself is not aborted
    const never = new AbortController().signal;
    for (const s of steps.filter((x) => x.kind === 'cleanup')) await runStep(s, log, never, opts.killGraceMs);
  };
  try {
    writeStagedConf(req, opts);
  } catch (e) {
    log.write(`pkgnx: ${(e as Error).message}\n`);
    return finish({ success: false, error: (e as Error).message });
  }
  for (const step of steps.filter((x) => x.kind !== 'cleanup')) {
    if (req.signal.aborted) break;
    const r = await runStep(step, log, req.signal, opts.killGraceMs);
    if (r.aborted || req.signal.aborted) break;
    if (r.code !== 0) {
      const how = r.code === null ? `killed by ${r.signal}` : `exit code ${r.code}`;
      const error = `${step.argv[0]} failed (${how}): ${step.purpose}`;
      emptyDir(req.pkgdest);
      if (step.kind === 'build' && !opts.cleanupOnFailure) {
        log.write(`pkgnx: build failed; the copy ${copyDir} is kept for inspection (cleanupOnFailure removes it)\n`);
      } else if (step.kind === 'build') {
        await cleanup();
      }
      log.write(`pkgnx: ${error}\n`);
      return finish({ success: false, error });
    }
  }
  if (req.signal.aborted) {
    // no half-written output and no stray copy (design principle 8)
    emptyDir(req.pkgdest);
    log.write('pkgnx: aborted; process group ended, removing our copy\n');
    await cleanup();
    return finish({ success: false, error: 'aborted (SIGINT/SIGTERM)' });
  }
  await cleanup();
  return finish({ success: true });
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

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** a dry run's text: every command as a copy-pasteable shell line, with its cwd and the env it sets */
export function formatPlan(commands: readonly PlannedCommand[]): string {
  return commands
    .map((c, i) => {
      const env = Object.entries(c.env ?? {})
        .map(([k, v]) => `${k}=${shellQuote(v)} `)
        .join('');
      const cd = c.cwd ? `cd ${shellQuote(c.cwd)} && ` : '';
      return `# ${i + 1}. ${c.purpose}\n${cd}${env}${c.argv.map(shellQuote).join(' ')}`;
    })
    .join('\n');
}
