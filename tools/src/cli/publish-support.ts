/**
 * What the publish, promote and prune verbs share: the configuration file and workspace root, the
 * session, the upstream lookup for routing, and printing reports.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { listPackageFiles } from '../packaging/workspace-repo';
import { noUpstream, openSession, upstreamLookupFromRepoSet, upstreamLookupFromState, type PublishConfig, type Session, type UpstreamLookup } from '../publish';
import { ARCH_NAME } from '../publish/layout';
import type { DeletionReport } from '../publish/repository';
import { CONFIG_FILE_NAME, readConfigFile } from '../config-file';
import { loadUpstreamConfig } from '../upstream/config';
import { loadRepositories } from '../upstream/load-repositories';
import { parseStateRepo, stateParseOptions } from '../upstream/state-repo';
import { UsageError } from './support';

export function configPath(flag: string | undefined): string {
  return resolve(flag ?? CONFIG_FILE_NAME);
}

export function checkArch(arch: string | undefined): string {
  if (!arch) throw new UsageError('--arch is required (the architecture to publish, e.g. x86_64)');
  if (!ARCH_NAME.test(arch)) throw new UsageError(`--arch: invalid architecture '${arch}'`);
  return arch;
}

export async function sessionFor(config: PublishConfig, dryRun: boolean, quiet: boolean): Promise<Session> {
  return openSession(config, { dryRun, log: quiet ? () => undefined : (line) => process.stderr.write(`${line}\n`) });
}

/**
 * The upstream repository of each pkgbase, from the `upstream` section of the same file: the state
 * repository when one is configured and cloned, else the upstream sync databases (cached with --offline).
 * No `upstream` section: no upstream packages (everything goes to publish.defaultRepo or publish.projects).
 */
export async function upstreamLookup(file: string, offline: boolean): Promise<UpstreamLookup> {
  if (readConfigFile(file, 'upstream').upstream === undefined) return noUpstream;
  const config = loadUpstreamConfig(file);
  if (config.stateRepo && existsSync(join(config.stateRepo.dir, '.git'))) {
    return upstreamLookupFromState(parseStateRepo(config.stateRepo.dir, stateParseOptions(config, true)));
  }
  const { upstream } = await loadRepositories(config, { offline, upstreamTesting: true, warn: (m) => process.stderr.write(`warning: ${m}\n`) });
  return upstreamLookupFromRepoSet(upstream.set);
}

/** The package files of projects in `dist/<arch>/<project>/` (the workspace root is the config file's directory). */
export async function projectPackages(configFile: string, arch: string, projects: string[] | 'all'): Promise<{ file: string; project: string }[]> {
  const dist = join(dirname(configFile), 'dist', arch);
  let names: string[];
  if (projects === 'all') {
    if (!existsSync(dist)) throw new UsageError(`${dist}: no build outputs for ${arch} (build first: npx nx run-many -t build -c ${arch})`);
    names = readdirSync(dist).filter((n) => n !== 'repo' && !n.startsWith('.') && statSync(join(dist, n)).isDirectory()).sort();
  } else names = projects;
  const out: { file: string; project: string }[] = [];
  for (const project of names) {
    const files = await listPackageFiles(join(dist, project));
    if (files.length === 0) {
      if (projects === 'all') continue;
      throw new UsageError(`${project}: no package files in ${join(dist, project)} (build it first: npx nx run ${project}:build -c ${arch})`);
    }
    for (const file of files) out.push({ file, project });
  }
  return out;
}

export function formatDeletions(reports: DeletionReport[], dryRun: boolean): string {
  let out = '';
  for (const r of reports) {
    const where = `${r.ref.repo}/os/${r.ref.arch}`;
    if (r.repaired) out += `  ${where}: rewrote ${r.repaired} derived database object(s) a killed publisher left behind\n`;
    for (const f of r.deleted) out += `  ${where}: ${dryRun ? 'would delete' : 'deleted'} ${f}\n`;
    for (const f of r.renamed) out += `  ${where}: kept ${f} (named by the database again)\n`;
    for (const w of r.waiting) out += `  ${where}: ${w.file} is deleted after ${w.due}\n`;
  }
  return out;
}
