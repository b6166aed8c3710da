/**
 * Publishing what a workspace built: the packages of one project (`dist/<arch>/<project>/`, the build
 * target's outputs) routed, signed and uploaded, and the databases committed once per repository for a
 * whole run. What the `publish` verb and the Nx `publish` target share.
 *
 * The Nx target stages per task and leaves a manifest (JSON, written by rename) in the run's directory;
 * after the run `commitRun` merges every manifest of the run per configuration file, architecture and
 * destination and commits each repository once. Reads and writes the workspace's dist/ and that directory.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readConfigFile } from '../config-file';
import { listPackageFiles } from '../packaging/workspace-repo';
import { loadUpstreamConfig } from '../upstream/config';
import { loadRepositories } from '../upstream/load-repositories';
import { parseStateRepo, stateParseOptions } from '../upstream/state-repo';
import { loadPublishConfig } from './config';
import { PublishError } from './errors';
import { commitStaged, publishPackages, stagePackages, type PublishReport, type StagedPublish } from './publish';
import { noUpstream, routePackage, upstreamLookupFromRepoSet, upstreamLookupFromState, type UpstreamLookup } from './routing';
import { listStaged, manifestPath } from './run-dir';
import { openSession, type Session } from './session';

/**
 * The upstream repository of each pkgbase, from the `upstream` section of the same file: the state
 * repository when one is configured and cloned, else the upstream sync databases (cached with `offline`).
 * No `upstream` section: no upstream packages (everything goes to publish.defaultRepo or publish.projects).
 */
export async function upstreamLookup(file: string, offline: boolean, warn: (message: string) => void): Promise<UpstreamLookup> {
  if (readConfigFile(file, 'upstream').upstream === undefined) return noUpstream;
  const config = loadUpstreamConfig(file);
  if (config.stateRepo && existsSync(join(config.stateRepo.dir, '.git'))) {
    return upstreamLookupFromState(parseStateRepo(config.stateRepo.dir, stateParseOptions(config, true)));
  }
  const { upstream } = await loadRepositories(config, { offline, upstreamTesting: true, warn });
  return upstreamLookupFromRepoSet(upstream.set);
}

export interface ProjectPublishRequest {
  workspaceRoot: string;
  /** pkgnx.config.json (key `publish`, and `upstream` for routing) */
  configFile: string;
  arch: string;
  project: string;
  dryRun: boolean;
  /** route with the cached upstream databases */
  offline: boolean;
  /** route without upstream repositories */
  noUpstream: boolean;
  /** do not delete files whose grace period is over */
  noPrune: boolean;
  log: (line: string) => void;
  /** stage into this run directory and leave the commit to `commitRun`; without it: commit at once */
  runDir?: string;
}

export type ProjectPublishResult = { staged: StagedPublish; manifest: string } | { report: PublishReport };

/** what a run directory holds per staged project */
interface Manifest {
  version: 1;
  configFile: string;
  project: string;
  noPrune: boolean;
  staged: StagedPublish;
}

export async function publishProject(req: ProjectPublishRequest): Promise<ProjectPublishResult> {
  const config = loadPublishConfig(req.configFile);
  if (config.architectures && !config.architectures.includes(req.arch)) throw new PublishError(`${req.arch}: not in publish.architectures (${config.architectures.join(', ')}) of ${req.configFile}`);
  const dir = join(req.workspaceRoot, 'dist', req.arch, req.project);
  const files = await listPackageFiles(dir);
  if (files.length === 0) throw new PublishError(`${dir}: no package files (the outputs of ${req.project}:build:${req.arch})`);
  const lookup = req.noUpstream ? noUpstream : await upstreamLookup(req.configFile, req.offline, (m) => req.log(`warning: ${m}`));
  const session = await openSession(config, { dryRun: req.dryRun, log: req.log });
  try {
    const request = {
      arch: req.arch,
      inputs: files.map((file) => ({ file, project: req.project })),
      route: (pkgbase: string, project: string | undefined) => routePackage(project ?? pkgbase, config, lookup),
      noPrune: req.noPrune,
    };
    if (req.dryRun || !req.runDir) return { report: await publishPackages(session, request) };
    const staged = await stagePackages(session, request);
    const manifest = manifestPath(req.runDir, req.arch, req.project);
    await mkdir(join(manifest, '..'), { recursive: true });
    const body: Manifest = { version: 1, configFile: req.configFile, project: req.project, noPrune: req.noPrune, staged };
    const tmp = `${manifest}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(body));
    await rename(tmp, manifest);
    return { staged, manifest };
  } finally {
    await session.close();
  }
}

export interface RunCommit {
  configFile: string;
  /** repository -> the projects whose packages this commit named there */
  projects: Record<string, string[]>;
  report: PublishReport;
}

export interface RunCommitFailure {
  configFile: string;
  arch: string;
  destination: string;
  projects: string[];
  message: string;
}

async function readManifests(runDir: string): Promise<Manifest[]> {
  const out: Manifest[] = [];
  for (const { arch, project } of listStaged(runDir)) {
    const m = JSON.parse(await readFile(manifestPath(runDir, arch, project), 'utf8')) as Manifest;
    if (m.version === 1) out.push(m);
  }
  return out;
}

/**
 * Commit everything the run staged: one database rewrite per repository (per configuration file,
 * architecture and destination), then the due deletions. A failing group does not stop the others; the
 * run directory is removed either way (a rerun stages again: identical files are not uploaded twice).
 */
export async function commitRun(runDir: string, options: { log: (line: string) => void; openSession?: (configFile: string) => Promise<Session> }): Promise<{ commits: RunCommit[]; failures: RunCommitFailure[] }> {
  const commits: RunCommit[] = [];
  const failures: RunCommitFailure[] = [];
  try {
    const groups = new Map<string, Manifest[]>();
    for (const m of await readManifests(runDir)) {
      const k = JSON.stringify([m.configFile, m.staged.arch, m.staged.destination]);
      groups.set(k, [...(groups.get(k) ?? []), m]);
    }
    for (const list of groups.values()) {
      const { configFile } = list[0];
      const { arch, destination } = list[0].staged;
      const projects = list.map((m) => m.project);
      const staged: StagedPublish = { arch, destination, dryRun: false, packages: list.flatMap((m) => m.staged.packages) };
      let session: Session | undefined;
      try {
        session = options.openSession ? await options.openSession(configFile) : await openSession(loadPublishConfig(configFile), { log: options.log });
        const report = await commitStaged(session, staged, { noPrune: list.some((m) => m.noPrune) });
        const byRepo: Record<string, string[]> = {};
        for (const m of list) for (const p of m.staged.packages) if (!byRepo[p.repo]?.includes(m.project)) (byRepo[p.repo] ??= []).push(m.project);
        commits.push({ configFile, projects: byRepo, report });
      } catch (e) {
        failures.push({ configFile, arch, destination, projects, message: e instanceof Error ? e.message : String(e) });
      } finally {
        await session?.close();
      }
    }
  } finally {
    // (directories of runs killed before their commit are removed by the plugin: tools/plugin/run.ts)
    await rm(runDir, { recursive: true, force: true });
  }
  return { commits, failures };
}
