/**
 * Resolving a dependency string to the workspace project that satisfies it, with libalpm semantics:
 * exact pkgname across every split package first, then provisions (a versioned dependency only by a
 * versioned provision), else the dependency is external (the target repositories must provide it).
 */
import { type Dependency, parseDependency, provisionSatisfies, satisfiesLiterally } from '../depends';

/** One name a project makes available: a pkgname (with the pkgbase version) or a provides entry. */
export interface Provision {
  project: string;
  /** the split package that carries it */
  pkgname: string;
  kind: 'pkgname' | 'provides';
  /** pkgname entries: the package version; provides entries: the parsed provision */
  version: string;
  provision?: Dependency;
}

/** name -> every provision with that name, sorted by project for deterministic choices */
export type ProvisionIndex = Map<string, Provision[]>;

export interface ProjectProvisions {
  project: string;
  version: string;
  packages: { name: string; provides: readonly string[] }[];
}

export function buildProvisionIndex(projects: Iterable<ProjectProvisions>): ProvisionIndex {
  const index: ProvisionIndex = new Map();
  const add = (name: string, p: Provision): void => {
    const list = index.get(name);
    if (list) list.push(p);
    else index.set(name, [p]);
  };
  for (const project of projects) {
    for (const pkg of project.packages) {
      add(pkg.name, { project: project.project, pkgname: pkg.name, kind: 'pkgname', version: project.version });
      for (const raw of pkg.provides) {
        const provision = parseDependency(raw);
        add(provision.name, { project: project.project, pkgname: pkg.name, kind: 'provides', version: provision.version, provision });
      }
    }
  }
  for (const list of index.values()) list.sort((a, b) => (a.project < b.project ? -1 : a.project > b.project ? 1 : 0));
  return index;
}

export type Resolution =
  | { kind: 'workspace'; project: string; via: 'pkgname' | 'provides'; pkgname: string; candidates: string[] }
  | { kind: 'self' }
  | { kind: 'external'; unsatisfiedInWorkspace?: string };

/**
 * Resolve `depString` needed by `fromProject`. A dependency its own split packages satisfy is `self`
 * (makepkg installs nothing for it from elsewhere in the graph).
 */
export function resolveDependency(depString: string, fromProject: string, index: ProvisionIndex): Resolution {
  const dep = parseDependency(depString);
  const candidates = index.get(dep.name) ?? [];
  const literal = candidates.filter((c) => c.kind === 'pkgname' && satisfiesLiterally(dep, c.pkgname, c.version));
  const provided = candidates.filter((c) => c.kind === 'provides' && c.provision && provisionSatisfies(dep, c.provision));
  for (const group of [literal, provided]) {
    if (group.length === 0) continue;
    if (group.some((c) => c.project === fromProject)) return { kind: 'self' };
    const projects = [...new Set(group.map((c) => c.project))];
    const chosen = group[0];
    return { kind: 'workspace', project: chosen.project, via: chosen.kind, pkgname: chosen.pkgname, candidates: projects };
  }
  if (candidates.length > 0) {
    const have = candidates
      .map((c) => (c.kind === 'pkgname' ? `${c.project} builds ${c.pkgname} ${c.version}` : `${c.project} provides ${c.provision ? `${c.provision.name}${c.provision.op}${c.provision.version}` : dep.name}`))
      .join(', ');
    return { kind: 'external', unsatisfiedInWorkspace: have };
  }
  return { kind: 'external' };
}
