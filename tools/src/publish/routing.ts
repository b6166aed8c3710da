/**
 * Which repository a package is published to, as the port builder did it: by the repository its pkgbase
 * lives in upstream (core -> core-testing, extra -> extra-testing), anything else (AUR, local packages,
 * upstream repositories without a route) to the configured default; a per-project setting wins.
 *
 * The upstream repository comes from a lookup the caller supplies (the state repository or the upstream
 * sync databases, see `upstreamLookupFrom*`), so this module reads nothing itself.
 */
import type { RepoSet } from '../repo-set';
import type { StateEntry } from '../upstream/state-repo';
import type { PublishConfig } from './config';

/** pkgbase -> upstream repository name (`core`, `extra`, ...), undefined when not an upstream package */
export type UpstreamLookup = (pkgbase: string) => string | undefined;

export interface Route {
  repo: string;
  /** why, for summaries: `projects.<pkgbase>`, `upstream core -> core-testing`, `default` */
  reason: string;
}

export function routePackage(pkgbase: string, config: Pick<PublishConfig, 'routes' | 'defaultRepo' | 'projects'>, lookup: UpstreamLookup): Route {
  const explicit = config.projects[pkgbase];
  if (explicit) return { repo: explicit, reason: `publish.projects.${pkgbase}` };
  const upstream = lookup(pkgbase);
  const routed = upstream === undefined ? undefined : config.routes[upstream];
  if (upstream !== undefined && routed) return { repo: routed, reason: `upstream ${upstream} -> ${routed}` };
  return { repo: config.defaultRepo, reason: upstream === undefined ? 'not an upstream package: default' : `upstream ${upstream} has no route: default` };
}

export const noUpstream: UpstreamLookup = () => undefined;

/** From the upstream sync databases (RepoSet of the upstream side, testing repositories labelled stable). */
export function upstreamLookupFromRepoSet(set: RepoSet): UpstreamLookup {
  return (pkgbase) => set.bases.get(pkgbase)?.repo;
}

/** From the parsed state repository: `<repo>-<arch>/<pkgbase>`, `-testing`/`-staging` mapped to the stable repository. */
export function upstreamLookupFromState(state: ReadonlyMap<string, StateEntry>): UpstreamLookup {
  return (pkgbase) => state.get(pkgbase)?.repo.replace(/-(testing|staging)$/, '');
}
