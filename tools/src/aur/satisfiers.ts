/**
 * Where a dependency is already satisfied outside the AUR: a workspace project or a target repository.
 * Used to leave those out of an AUR import. Both answers come from the resolvers the rest of pkgnx uses:
 * the graph's provision index for the workspace, RepoSet for repository databases (libalpm's rules in both).
 */
import { basename } from 'node:path';
import type { Dependency } from '../depends';
import { buildProvisionIndex, resolveDependency, type ProjectProvisions } from '../graph/resolve';
import { readMetadata, type MetadataSettings } from '../metadata';
import type { RepoSet } from '../repo-set';
import { metadataForArch } from '../srcinfo';
import type { ExternalSatisfier } from './rpc';

export interface WorkspaceProvisions {
  projects: ProjectProvisions[];
  /** directories whose metadata cannot be read: they still provide their own directory name */
  unreadable: string[];
}

/** What the workspace builds for `carch`, read the one way the workspace reads metadata. */
export async function readWorkspaceProvisions(workspaceRoot: string, dirs: readonly string[], carch: string, settings: MetadataSettings): Promise<WorkspaceProvisions> {
  const out: WorkspaceProvisions = { projects: [], unreadable: [] };
  for (const [dir, r] of await readMetadata(workspaceRoot, dirs, carch, settings)) {
    if ('error' in r) {
      out.unreadable.push(basename(dir));
      continue;
    }
    const meta = metadataForArch(r.srcinfo, carch);
    out.projects.push({ project: meta.pkgbase, version: meta.version, packages: meta.packages });
  }
  return out;
}

/** `workspace: <project>` when a workspace project satisfies the dependency (or an unreadable one carries its name). */
export function workspaceSatisfier(ws: WorkspaceProvisions): ExternalSatisfier {
  const index = buildProvisionIndex(ws.projects);
  const unreadable = new Set(ws.unreadable);
  return (dep: Dependency) => {
    const text = `${dep.name}${dep.op}${dep.version}`;
    const r = resolveDependency(text, '', index);
    if (r.kind === 'workspace') return `workspace: ${r.project}`;
    return unreadable.has(dep.name) ? `workspace: ${dep.name}` : undefined;
  };
}

/** `repo <repo>: <pkgname>` for the package pacman would install from the given databases. */
export function repositorySatisfier(repos: RepoSet): ExternalSatisfier {
  return (dep: Dependency) => {
    const p = repos.bestSatisfier(dep);
    return p ? `repo ${p.pkg.repo}: ${p.pkg.name}` : undefined;
  };
}

/** Combine satisfiers: the first that answers wins. */
export function firstSatisfier(...list: (ExternalSatisfier | undefined)[]): ExternalSatisfier {
  return (dep) => {
    for (const s of list) {
      const r = s?.(dep);
      if (r) return r;
    }
    return undefined;
  };
}
