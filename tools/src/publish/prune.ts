/**
 * `prune`: for each repository of an architecture, repair derived databases a killed publisher left
 * behind, delete files whose grace period is over and no database names, and orphans (files uploaded by
 * a publisher that died before its commit) older than the grace period.
 */
import { type RepoRef } from './layout';
import { processDeletions, type DeletionReport } from './repository';
import type { Session } from './session';

/** Every repository of `arch` in the store: `<repo>/os/<arch>/<repo>.files.tar.zst`. */
export async function discoverRepositories(session: Session, arch: string): Promise<string[]> {
  const repos = new Set<string>();
  for (const o of await session.store.list('')) {
    const m = /^([^/]+)\/os\/([^/]+)\/([^/]+)\.files\.tar\.zst$/.exec(o.key);
    if (m && m[2] === arch && m[1] === m[3]) repos.add(m[1]);
  }
  return [...repos].sort();
}

export async function pruneRepositories(session: Session, arch: string, repos: string[] | undefined): Promise<DeletionReport[]> {
  const names = repos && repos.length > 0 ? repos : await discoverRepositories(session, arch);
  const out: DeletionReport[] = [];
  for (const repo of names) {
    const ref: RepoRef = { repo, arch };
    out.push(await processDeletions(session.ctx, ref, { orphans: true }));
  }
  return out;
}
