/**
 * The version an official package is ported at when none is named: the state repository first (exact
 * version, tag and commit), then the upstream databases. One lookup for the fetch verb and the official
 * generator; the upstream databases are only loaded when the state repository does not answer.
 */
import { existsSync } from 'node:fs';
import type { UpstreamConfig } from './config';
import { loadRepositories } from './load-repositories';
import { parseStateRepo, stateParseOptions, syncStateRepo, type StateEntry } from './state-repo';

export interface TargetVersions {
  state?: ReadonlyMap<string, StateEntry>;
  upstream?: (pkgbase: string) => string | undefined;
}

export interface TargetVersionOptions {
  /** pull the state repository clone first */
  syncState?: boolean;
  dryRun?: boolean;
  offline?: boolean;
  warn?: (message: string) => void;
}

export async function lookupTargetVersions(config: UpstreamConfig, pkgbases: readonly string[], options: TargetVersionOptions = {}): Promise<TargetVersions> {
  const out: TargetVersions = {};
  if (pkgbases.length === 0) return out;
  if (config.stateRepo) {
    if (options.syncState && !options.dryRun && !options.offline) await syncStateRepo(config.stateRepo.url, config.stateRepo.dir);
    if (existsSync(config.stateRepo.dir)) out.state = parseStateRepo(config.stateRepo.dir, stateParseOptions(config));
  }
  if (pkgbases.some((p) => !out.state?.has(p))) {
    const loaded = await loadRepositories(config, {
      ...(options.dryRun ? { dryRun: true } : {}),
      ...(options.offline ? { offline: true } : {}),
      ...(options.warn ? { warn: options.warn } : {}),
    });
    out.upstream = (pkgbase) => loaded.upstream.set.bases.get(pkgbase)?.version;
  }
  return out;
}
