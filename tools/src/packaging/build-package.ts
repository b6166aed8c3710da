/**
 * One package build, whatever the backend: pick the backend, prepare the workspace repository, run the
 * build with packages going to a private staging directory, then write abi.json and build.log and
 * rename the staging directory to `dist/<arch>/<pkgbase>/`. Nothing is ever left under that name
 * unless the build succeeded: interrupted or failed builds remove their staging directory and copy.
 */
import { copyFileSync, existsSync, lstatSync, readdirSync } from 'node:fs';
import { appendFile, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { machine } from 'node:os';
import { join, resolve } from 'node:path';
import type { BuildInputs } from '../model';
import { writeAbiManifest } from './abi';
import type { BackendName, BuildBackend, BuildRequest } from './backends/backend';
import { hostBackend } from './backends/host';
import { devtoolsBackend } from './backends/devtools';
import { qemuBackend } from './backends/qemu';
import type { BuildOptions } from './build-options';
import { expandArch, resolveRootfs } from '../roots/locate';
import { isRoot } from '../sandbox/identity';
import { logDirFor, logPathFor, rotateLogs } from './logs';
import { formatCommand } from '../process/logged-run';
import { rootfsBackend } from './backends/rootfs';
import { addPackages, ensureRepoDatabase, evictStaleCachedPackages, listPackageFiles, registeredPackages, registerOutputs, withPacmanCacheLock, workspaceRepository } from './workspace-repo';
import { publishedRepositories } from './published-repos';
import { workspaceBuildRepository } from './backends/shared';
import { hasCommand, runCheckedSync, runSync } from '../process/run';
import { pidAlive, watchParent } from '../process/tree';
import { ANY_DIST } from '../workspace-paths';

export interface RunBuildInput {
  workspaceRoot: string;
  /** workspace-relative PKGBUILD directory */
  projectRoot: string;
  pkgbase: string;
  options: BuildOptions;
  /** pkgbases of every (transitive) dependency project: their dist/<arch>/ outputs are registered first */
  dependencyPkgbases: string[];
  /** dependency projects built once for every architecture: registered from dist/any/ */
  anyDependencyPkgbases?: string[];
  /**
   * the result goes to dist/<outputArch>/<pkgbase>/ (default: options.arch). A result for `any` (any-package.ts)
   * joins no workspace repository here: each architecture's placement task adds it to its own.
   */
  outputArch?: string;
  /** why the build runs on options.arch, printed in the log (any-package.ts chooses it for `any` builds) */
  archReason?: string;
  /** the PKGBUILD's arch and build dependencies on options.arch, as the graph read them (never sourced again) */
  buildInputs: BuildInputs;
}

export interface RunBuildResult {
  success: boolean;
  backend?: BackendName;
  outDir?: string;
  logFile?: string;
  error?: string;
}

/** pacman's name for this machine's architecture */
export function hostArch(): string {
  return machine();
}

/** SOURCE_DATE_EPOCH: the environment's, else the PKGBUILD's last commit time, else now */
export function sourceDateEpoch(pkgdir: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.SOURCE_DATE_EPOCH && /^\d+$/.test(env.SOURCE_DATE_EPOCH)) return env.SOURCE_DATE_EPOCH;
  let t = '';
  try {
    const r = runSync('git', ['log', '-1', '--format=%ct', '--', 'PKGBUILD'], { cwd: pkgdir });
    t = r.ok ? r.stdout.trim() : '';
  } catch {
    // no git on this machine: the clock
  }
  return /^\d+$/.test(t) ? t : String(Math.floor(Date.now() / 1000));
}

/**
 * The backend the `auto` choice means here, and why (printed in the log). Never the host backend for an
 * architecture without `chroot-config/<arch>/makepkg.conf` (`makepkgConf` missing): that would be an
 * unisolated build with the host's configuration passing for a build of `arch`.
 */
export function chooseBackend(options: BuildOptions, arch: string, host: string, rootfs: string | undefined, makepkgConf?: string): { name: BackendName; reason: string } {
  if (options.backend !== 'auto') return { name: options.backend, reason: 'build option "backend"' };
  if (hasCommand('makechrootpkg')) {
    return arch === host ? { name: 'devtools', reason: 'makechrootpkg is on PATH' } : { name: 'qemu', reason: `makechrootpkg is on PATH and ${arch} is not the host's ${host}` };
  }
  if (rootfs) return { name: 'rootfs', reason: `a root filesystem is configured (${rootfs})` };
  if (makepkgConf !== undefined && !existsSync(makepkgConf))
    throw new Error(
      `${makepkgConf} does not exist: ${arch} has no build configuration (add chroot-config/${arch}/ with makepkg.conf and pacman.conf); ` +
        'refusing to fall back to the unisolated host backend (set the build option "backend" to choose one explicitly)',
    );
  return { name: 'host', reason: 'no makechrootpkg and no root filesystem configured: falling back to a NOT clean host build' };
}

const BACKENDS: Record<BackendName, BuildBackend> = { rootfs: rootfsBackend, host: hostBackend, devtools: devtoolsBackend, qemu: qemuBackend };

function defaultPacmanCacheDir(workspaceRoot: string, arch: string): string {
  // shared between workspaces like devtools' cache when root; inside the workspace otherwise
  return isRoot() ? `/var/cache/pacman/pkg-${arch}` : join(workspaceRoot, '.pkgnx', 'cache', 'pacman', arch);
}

function listAsc(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.asc')).sort().map((f) => join(dir, f));
}


const OWNER_PID = /-p(\d+)-[a-z0-9]+$/;

/** remove staging dirs and chroot copies left by killed builds (their pid is in the name and dead) */
export async function sweepStale(dirs: string[], prefix: string): Promise<void> {
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const name of await readdir(dir)) {
      if (!name.startsWith(prefix)) continue;
      const pid = OWNER_PID.exec(name)?.[1];
      if (pid && !pidAlive(Number(pid))) await rm(join(dir, name), { recursive: true, force: true });
    }
  }
}

export async function runBuild(input: RunBuildInput): Promise<RunBuildResult> {
  const { workspaceRoot, pkgbase, options } = input;
  const arch = options.arch;
  const host = hostArch();
  const pkgdir = resolve(workspaceRoot, input.projectRoot);
  const info = input.buildInputs;
  const rootfs = resolveRootfs(workspaceRoot, arch, options.rootfs);
  let choice: ReturnType<typeof chooseBackend>;
  try {
    choice = chooseBackend(options, arch, host, rootfs, join(workspaceRoot, 'chroot-config', arch, 'makepkg.conf'));
  } catch (err) {
    return { success: false, error: (err as Error).message };
  }
  const backend = BACKENDS[choice.name];

  const outputArch = input.outputArch ?? arch;
  const distArch = join(workspaceRoot, 'dist', outputArch);
  const outDir = join(distArch, pkgbase);
  const copyName = `${pkgbase}-${arch}-p${process.pid}-${Date.now().toString(36)}`;
  const staging = join(distArch, `.staging-${copyName}`);
  const started = new Date();
  const logDir = logDirFor(workspaceRoot, pkgbase);
  const logFile = logPathFor(workspaceRoot, pkgbase, outputArch, started);
  const anyDependencies = input.anyDependencyPkgbases ?? [];
  // only a result for its own architecture joins the workspace repository
  const ownRepository = outputArch === arch;
  const nocheck = options.nocheck;
  const controller = new AbortController();
  const workspaceRepo = workspaceRepository(workspaceRoot, arch, options.repoName);
  const req: BuildRequest = {
    pkgbase,
    pkgdir,
    workspaceRoot,
    arch,
    hostArch: host,
    pkgArch: info.arch,
    depends: info.depends,
    makedepends: info.makedepends,
    checkdepends: info.checkdepends,
    ignoreArch: !info.arch.includes(arch) && !info.arch.includes('any'),
    nocheck,
    pacmanConf: join(workspaceRoot, 'chroot-config', arch, 'pacman.conf'),
    makepkgConf: join(workspaceRoot, 'chroot-config', arch, 'makepkg.conf'),
    workspaceRepo,
    // published repositories join (in the configured order) once their databases are read
    repos: [workspaceBuildRepository(workspaceRepo)],
    pkgdest: staging,
    logFile,
    pacmanCacheDir: options.pacmanCacheDir ? resolve(workspaceRoot, expandArch(options.pacmanCacheDir, arch)) : defaultPacmanCacheDir(workspaceRoot, arch),
    noCache: options.noCache,
    pgpKeys: [...listAsc(join(workspaceRoot, 'keys', 'pgp')), ...listAsc(join(pkgdir, 'keys', 'pgp'))],
    makepkgArgs: options.makepkgArgs,
    env: { SOURCE_DATE_EPOCH: sourceDateEpoch(pkgdir), ...(process.env.PACKAGER ? { PACKAGER: process.env.PACKAGER } : {}) },
    copyMethod: options.copyMethod,
    binfmtDir: options.binfmtDir,
    devtools: options.devtools,
    qemu: options.qemu,
    copyName,
    signal: controller.signal,
    rootfs,
    buildUser: options.buildUser,
    network: options.network,
    copiesDir: join(workspaceRoot, '.pkgnx', 'chroots', arch),
    replaceFromWorkspace: options.replaceFromWorkspace,
  };

  if (options.dryRun) {
    console.log(`==> pkgnx: dry run: ${pkgbase} for ${outputArch === arch ? arch : `${outputArch} on ${arch}`} with the ${backend.name} backend (${choice.reason}); nothing is changed`);
    if (input.archReason) console.log(`# ${input.archReason}`);
    if (input.dependencyPkgbases.length) console.log(`# register dependency outputs in ${req.workspaceRepo.dir}: ${input.dependencyPkgbases.join(' ')}`);
    if (anyDependencies.length) console.log(`# register dependency outputs of dist/any/ in ${req.workspaceRepo.dir}: ${anyDependencies.join(' ')}`);
    if (options.publishedRepos.length) console.log(`# published repositories ${options.publishedReposFirst ? 'before' : 'after'} ${req.workspaceRepo.name} in pacman.conf (when published): ${options.publishedRepos.join(' ')}`);
    for (const cmd of backend.plan(req)) console.log(`# ${cmd.purpose}\n${formatCommand(cmd)}`);
    console.log(`# on success: abi.json + build.log into ${staging}, rename to ${outDir}${ownRepository ? `, repo-add into ${req.workspaceRepo.dir}` : ''}`);
    return { success: true, backend: backend.name };
  }

  // why the build was stopped, when it was: a signal, the time limit, the nx process dying
  let stopped: string | undefined;
  const stop = (why: string): void => {
    if (controller.signal.aborted) return;
    stopped = why;
    console.log(`==> pkgnx: stopping the build of ${pkgbase}: ${why}`);
    controller.abort();
  };
  const onSignal = (sig: NodeJS.Signals) => stop(sig);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const unwatch = watchParent((why) => stop(`the nx process that ran it stopped (${why})`));
  const limitMs = options.timeLimitMinutes * 60_000;
  const limit = setTimeout(() => stop(`it ran longer than its time limit of ${options.timeLimitMinutes} min (build option "timeLimitMinutes")`), limitMs);
  const log = async (line: string) => {
    await appendFile(logFile, `${line}\n`);
    console.log(line);
  };
  try {
    await mkdir(logDir, { recursive: true });
    await log(`==> pkgnx: build started: ${pkgbase} for ${outputArch === arch ? arch : `${outputArch} on ${arch}`} (host ${host}) ${started.toISOString()}`);
    if (input.archReason) await log(`==> pkgnx: ${input.archReason}`);
    await log(`==> pkgnx: backend ${backend.name}: ${choice.reason}`);
    if (backend.name === 'host') await log('==> pkgnx: WARNING: the host backend is not a clean build; configure "rootfs" or install devtools');
    await log(`==> pkgnx: copy ${copyName}, SOURCE_DATE_EPOCH=${req.env.SOURCE_DATE_EPOCH}${nocheck ? `, --nocheck${options.nocheckReason ? ` (${options.nocheckReason})` : ''}` : ''}`);

    await sweepStale([distArch], '.staging-');
    await sweepStale([distArch], '.old-');
    await sweepStale([req.copiesDir ?? ''], '');
    // An older output of this project must not pass for this build's result while it runs or if it fails.
    await rm(outDir, { recursive: true, force: true });
    await backend.preflight(req);

    await ensureRepoDatabase(workspaceRoot, arch, options.repoName);
    const registered = [
      ...(await registerOutputs(workspaceRoot, arch, input.dependencyPkgbases, options.repoName)),
      ...(await registerOutputs(workspaceRoot, arch, anyDependencies, options.repoName, ANY_DIST)),
    ];
    if (registered.length) await log(`==> pkgnx: registered in ${options.repoName}: ${registered.join(' ')}`);

    const published = await publishedRepositories(workspaceRoot, arch, options.publishedRepos, (line) => void log(line));
    const ownRepo = { repo: req.repos[0], packages: await registeredPackages(req.workspaceRepo) };
    const ordered = options.publishedReposFirst ? [...published, ownRepo] : [ownRepo, ...published];
    req.repos = ordered.map((r) => r.repo);
    if (published.length) await log(`==> pkgnx: repositories before chroot-config's: ${req.repos.map((r) => `${r.name} (${r.server})`).join(', ')}`);

    await withPacmanCacheLock(req.pacmanCacheDir, async () => {
      if (req.noCache) {
        await log(`==> pkgnx: noCache: emptying ${req.pacmanCacheDir}`);
        for (const f of await readdir(req.pacmanCacheDir)) if (f !== '.pkgnx-cache.lock') await rm(join(req.pacmanCacheDir, f), { recursive: true, force: true });
      }
      const evicted = await evictStaleCachedPackages(ordered.map((r) => r.packages), req.pacmanCacheDir);
      if (evicted.length) await log(`==> pkgnx: removed cached copies that differ from their repository's: ${evicted.join(' ')}`);
    });
    await mkdir(staging, { recursive: true });

    const outcome = await backend.build(req);
    if (controller.signal.aborted) throw new Error(stopped ?? 'interrupted');
    if (!outcome.success) throw new Error(outcome.error ?? 'the build failed');
    // the packages are the caller's, whoever the build ran as inside its sandbox
    ownTree(staging);
    const packages = await listPackageFiles(staging);
    if (packages.length === 0) throw new Error(`the build produced no package in ${staging}`);

    const abi = await writeAbiManifest(staging, packages);
    await log(`==> pkgnx: built ${packages.map((p) => p.slice(staging.length + 1)).join(' ')}; sonames: ${abi.sonames.join(' ') || '(none)'}`);
    await log(`==> pkgnx: build finished: ${pkgbase} ${new Date().toISOString()} [SUCCESS]`);
    copyFileSync(logFile, join(staging, 'build.log'));
    await promote(staging, outDir, join(distArch, `.old-${copyName}`));
    if (ownRepository) await addPackages(req.workspaceRepo, await listPackageFiles(outDir));
    return { success: true, backend: backend.name, outDir, logFile };
  } catch (err) {
    const message = stopped && controller.signal.aborted ? `stopped: ${stopped}` : err instanceof Error ? err.message : String(err);
    await rm(staging, { recursive: true, force: true });
    await log(`==> pkgnx: build finished: ${pkgbase} ${new Date().toISOString()} [FAILED: ${message}]`).catch(() => undefined);
    return { success: false, backend: backend.name, logFile, error: message };
  } finally {
    clearTimeout(limit);
    unwatch();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    try {
      rotateLogs(logDir, options.keepLogs);
    } catch {
      /* rotation is best effort */
    }
  }
}

/** hands a directory tree to the user running pkgnx (sandboxed builds write as uids of their own) */
function ownTree(dir: string): void {
  const uid = process.getuid?.();
  const gid = process.getgid?.();
  if (uid === undefined || gid === undefined) return;
  runCheckedSync('chown', ['-R', '--no-dereference', `${uid}:${gid}`, dir]);
}

/** staging → final by rename (same directory, so atomic); a previous output is moved aside first */
export async function promote(staging: string, outDir: string, aside: string): Promise<void> {
  let hadOld = false;
  try {
    lstatSync(outDir);
    await rename(outDir, aside);
    hadOld = true;
  } catch {
    /* no previous output */
  }
  await rename(staging, outDir);
  if (hadOld) await rm(aside, { recursive: true, force: true });
}

