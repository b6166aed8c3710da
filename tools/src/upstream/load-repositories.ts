/**
 * Loading both sides of the comparison from the configuration: every repository database fetched (in
 * parallel) and merged into one RepoSet per side; testing repositories only when asked, labelled with
 * their stable repository so a testing package replaces the stable one when newer.
 */
import { stableRepoName, type RepositorySource, type UpstreamConfig } from './config';
import { fetchRepositoryDatabase, type FetchedDatabase, type FetchOptions } from './fetch-db';
import { RepoSet } from '../repo-set';

export interface LoadOptions {
  upstreamTesting?: boolean;
  targetTesting?: boolean;
  /** only these repositories (by name) on both sides, e.g. `--rebuild-repo core` */
  onlyRepos?: readonly string[];
  allowFailure?: boolean;
  dryRun?: boolean;
  offline?: boolean;
  warn?: (message: string) => void;
}

export interface LoadedSide {
  set: RepoSet;
  fetched: FetchedDatabase[];
}

async function loadSide(stable: RepositorySource[], testing: RepositorySource[], config: UpstreamConfig, options: LoadOptions): Promise<LoadedSide> {
  const wanted = (name: string): boolean => !options.onlyRepos || options.onlyRepos.includes(name);
  const jobs: { source: RepositorySource; label: string }[] = [
    ...stable.filter((s) => wanted(s.name)).map((source) => ({ source, label: source.name })),
    ...testing.filter((s) => wanted(stableRepoName(s))).map((source) => ({ source, label: stableRepoName(source) })),
  ];
  const base: FetchOptions = { cacheDir: config.cacheDir };
  if (options.allowFailure !== undefined) base.allowFailure = options.allowFailure;
  if (options.dryRun !== undefined) base.dryRun = options.dryRun;
  if (options.offline !== undefined) base.offline = options.offline;
  if (options.warn) base.warn = options.warn;
  const fetched = await Promise.all(jobs.map(({ source, label }) => fetchRepositoryDatabase(source, { ...base, repoLabel: label })));
  const set = new RepoSet(fetched.map((f, i) => ({ database: f.database, label: jobs[i].label })));
  return { set, fetched };
}

export async function loadRepositories(config: UpstreamConfig, options: LoadOptions = {}): Promise<{ upstream: LoadedSide; target: LoadedSide }> {
  const [upstream, target] = await Promise.all([
    loadSide(config.upstreamRepos, options.upstreamTesting ? config.upstreamTestingRepos : [], config, options),
    loadSide(config.targetRepos, options.targetTesting ? config.targetTestingRepos : [], config, options),
  ]);
  return { upstream, target };
}
