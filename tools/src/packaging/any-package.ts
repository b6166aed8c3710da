/**
 * arch=(any) packages, built once for every architecture. Their content does not depend on the target
 * architecture, so one build serves them all: the architecture-neutral task (`build-any`, see
 * tools/plugin/targets.ts) builds into dist/any/<pkgbase>/ under one cache entry, and each architecture's
 * `build` task only places that result into dist/<arch>/<pkgbase>/ and that architecture's workspace
 * repository (hard links and repo-add: no chroot, no emulation).
 *
 * Which packages, and where the one build runs: any-arch.ts. This module touches the disk.
 */
import { copyFile, link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { promote, sweepStale } from './build-package';
import { ANY_DIST } from '../workspace-paths';
import { logDirFor, logPathFor, rotateLogs } from './logs';
import { addPackages, ensureRepoDatabase, listPackageFiles, workspaceRepository } from './workspace-repo';

/** `[epoch:]pkgver-pkgrel` of the package files in a directory, from their names (`name-ver-rel-arch.pkg.tar.*`) */
export async function builtVersions(dir: string): Promise<string[]> {
  return (await listPackageFiles(dir)).flatMap((f) => {
    const parts = basename(f).replace(/\.pkg\.tar(\.[a-z0-9]+)?$/, '').split('-');
    return parts.length >= 4 ? [`${parts[parts.length - 3]}-${parts[parts.length - 2]}`] : [];
  });
}

export interface PlaceInput {
  workspaceRoot: string;
  pkgbase: string;
  arch: string;
  repoName: string;
  keepLogs: number;
  dryRun: boolean;
}

export interface PlaceResult {
  success: boolean;
  outDir?: string;
  logFile?: string;
  error?: string;
}

/**
 * dist/any/<pkgbase>/ → dist/<arch>/<pkgbase>/ (packages hard-linked, abi.json, build.log = this placement's
 * lines then the build's log) through a staging directory renamed into place, then the packages join
 * dist/<arch>/repo/. An interrupt or a failure leaves no staging directory and no output.
 */
export async function placeAnyPackage(input: PlaceInput): Promise<PlaceResult> {
  const { workspaceRoot, pkgbase, arch } = input;
  const source = join(workspaceRoot, 'dist', ANY_DIST, pkgbase);
  const distArch = join(workspaceRoot, 'dist', arch);
  const outDir = join(distArch, pkgbase);
  const repo = workspaceRepository(workspaceRoot, arch, input.repoName);
  const packages = await listPackageFiles(source);
  if (input.dryRun) {
    // the one build's dry run (forwarded to build-any) built nothing: say what would be placed
    console.log(`==> pkgnx: dry run: ${pkgbase} for ${arch}: place the packages built once in ${source} (${packages.length ? packages.map((p) => basename(p)).join(' ') : 'once build-any has built them'}) into ${outDir}, repo-add into ${repo.dir}; nothing is changed`);
    return { success: true };
  }
  if (packages.length === 0)
    return { success: false, error: `dist/${ANY_DIST}/${pkgbase}/ holds no package: its build-any task has not run (it runs first unless --excludeTaskDependencies is given)` };
  const started = new Date();
  const logDir = logDirFor(workspaceRoot, pkgbase);
  const logFile = logPathFor(workspaceRoot, pkgbase, arch, started);
  const staging = join(distArch, `.staging-${pkgbase}-${arch}-p${process.pid}-${Date.now().toString(36)}`);
  const lines: string[] = [];
  const log = async (line: string): Promise<void> => {
    lines.push(line);
    await writeFile(logFile, `${lines.join('\n')}\n`);
    console.log(line);
  };
  // a signal ends nothing half-way: the step running finishes, then the placement is undone
  let stopped: string | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    stopped = sig;
  };
  const check = (): void => {
    if (stopped) throw new Error(`stopped: ${stopped}`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await mkdir(logDir, { recursive: true });
    await log(`==> pkgnx: build started: ${pkgbase} for ${arch} ${started.toISOString()}`);
    await log(`==> pkgnx: arch=(any): placing the packages built once for every architecture (${source}); no build, no emulation`);
    await sweepStale([distArch], '.staging-');
    await mkdir(staging, { recursive: true });
    for (const file of packages) {
      check();
      const dest = join(staging, basename(file));
      await link(file, dest).catch(() => copyFile(file, dest));
    }
    if (existsSync(join(source, 'abi.json'))) await copyFile(join(source, 'abi.json'), join(staging, 'abi.json'));
    const built = await readFile(join(source, 'build.log'), 'utf8').catch(() => '');
    await log(`==> pkgnx: placed ${packages.map((p) => basename(p)).join(' ')}`);
    await log(`==> pkgnx: build finished: ${pkgbase} ${new Date().toISOString()} [SUCCESS]`);
    await writeFile(join(staging, 'build.log'), `${lines.join('\n')}\n${built ? `==> pkgnx: the build, from dist/${ANY_DIST}/${pkgbase}/build.log:\n${built}` : ''}`);
    check();
    await promote(staging, outDir, join(distArch, `.old-${basename(staging).slice('.staging-'.length)}`));
    await ensureRepoDatabase(workspaceRoot, arch, input.repoName);
    await addPackages(repo, await listPackageFiles(outDir));
    return { success: true, outDir, logFile };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    await rm(staging, { recursive: true, force: true });
    await log(`==> pkgnx: build finished: ${pkgbase} ${new Date().toISOString()} [FAILED: ${message}]`).catch(() => undefined);
    return { success: false, logFile, error: message };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    try {
      rotateLogs(logDir, input.keepLogs);
    } catch {
      /* rotation is best effort */
    }
  }
}
