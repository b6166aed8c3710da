/**
 * Resolving a dependency string to the workspace project that satisfies it, with libalpm semantics:
 * exact pkgname across every split package first, then provisions (a versioned dependency only by a
 * versioned provision), else the dependency is external (the target repositories must provide it).
 */
import { type Dependency, parseDependency, provisionSatisfies, satisfiesLiterally } from '../depends';

/** One name a project makes available: a pkgname (with the pkgbase version) or a provides entry. */
export interface Provision {
  project: string;
  /** provider precedence: 0 = a project named after its pkgbase, 1 = another directory of that pkgbase */
  rank: number;
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
  /** see Provision.rank (default 0) */
  rank?: number;
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
    const rank = project.rank ?? 0;
    for (const pkg of project.packages) {
      add(pkg.name, { project: project.project, rank, pkgname: pkg.name, kind: 'pkgname', version: project.version });
      for (const raw of pkg.provides) {
        const provision = parseDependency(raw);
        add(provision.name, { project: project.project, rank, pkgname: pkg.name, kind: 'provides', version: provision.version, provision });
      }
    }
  }
  for (const list of index.values()) list.sort((a, b) => a.rank - b.rank || (a.project < b.project ? -1 : a.project > b.project ? 1 : 0));
  return index;
}

/** `builds foo 1.0-1` or `provides foo=1.0` (the project's name not included) */
function describeProvision(c: Provision, name: string): string {
  if (c.kind === 'pkgname') return `builds ${c.pkgname} ${c.version}`;
  return `provides ${c.provision ? `${c.provision.name}${c.provision.op}${c.provision.version}` : name}`;
}

export type Resolution =
  | { kind: 'workspace'; project: string; via: 'pkgname' | 'provides'; pkgname: string; candidates: string[] }
  /** `satisfiedBy`: which of its packages satisfies it, e.g. `jdk24-openjdk provides java-environment=24` */
  | { kind: 'self'; satisfiedBy: string }
  | { kind: 'external'; unsatisfiedInWorkspace?: string };

/**
 * Resolve `depString` needed by `fromProject`. A dependency its own split packages satisfy is `self`
 * (makepkg installs nothing for it from elsewhere in the graph). Projects in `exclude` are not providers:
 * for a build dependency the project itself satisfies, pass the project (and the other directories of
 * its pkgbase) to find who else could be installed before it is built.
 */
export function resolveDependency(depString: string, fromProject: string, index: ProvisionIndex, exclude?: ReadonlySet<string>): Resolution {
  const dep = parseDependency(depString);
  const candidates = (index.get(dep.name) ?? []).filter((c) => !exclude?.has(c.project));
  const literal = candidates.filter((c) => c.kind === 'pkgname' && satisfiesLiterally(dep, c.pkgname, c.version));
  const provided = candidates.filter((c) => c.kind === 'provides' && c.provision && provisionSatisfies(dep, c.provision));
  for (const group of [literal, provided]) {
    if (group.length === 0) continue;
    const own = group.find((c) => c.project === fromProject);
    if (own) return { kind: 'self', satisfiedBy: describeProvision(own, dep.name) };
    const projects = [...new Set(group.map((c) => c.project))];
    const chosen = group[0];
    return { kind: 'workspace', project: chosen.project, via: chosen.kind, pkgname: chosen.pkgname, candidates: projects };
  }
  if (candidates.length > 0) {
    const have = candidates.map((c) => `${c.project} ${describeProvision(c, dep.name)}`).join(', ');
    return { kind: 'external', unsatisfiedInWorkspace: have };
  }
  return { kind: 'external' };
}
