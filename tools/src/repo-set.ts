/**
 * The packages of several repository databases (one side of the port comparison, the graph's target
 * repositories, the AUR import's repositories) with the indexes every question needs — by pkgname, by
 * pkgbase, and by provided name — so that dependency satisfaction is libalpm's (versioned provisions only)
 * without scanning every package.
 */
import { parseDependency, provisionSatisfies, satisfiesLiterally, type Dependency } from './depends';
import { maxVersion, vercmp } from './version';
import type { SyncDatabase, SyncPackage } from './syncdb';

export interface PackageBase {
  pkgbase: string;
  /** repository the pkgbase lives in (the first one when duplicated, see `repos`) */
  repo: string;
  /** every repository holding a package of this pkgbase, sorted */
  repos: string[];
  /** highest version over the split packages */
  version: string;
  packages: SyncPackage[];
  /** every split package is `any` */
  isAny: boolean;
}

export interface Provider {
  pkg: SyncPackage;
  /** the provision that matched, or undefined when the package matched by its own name */
  provision?: string;
}

export class RepoSet {
  readonly packages: SyncPackage[] = [];
  readonly byName = new Map<string, SyncPackage[]>();
  readonly bases = new Map<string, PackageBase>();
  /** provided name -> [package, provision string] */
  readonly byProvision = new Map<string, { pkg: SyncPackage; provision: Dependency; text: string }[]>();
  readonly repoNames: string[];

  /**
   * `databases` are taken in order; a testing database given with a `label` merges into that stable repo,
   * and where a pkgname appears twice the newer version wins (what pacman would install).
   */
  constructor(databases: { database: Pick<SyncDatabase, 'repo' | 'packages'>; label?: string }[]) {
    const chosen = new Map<string, SyncPackage>();
    const order: string[] = [];
    const names = new Set<string>();
    for (const { database, label } of databases) {
      const repo = label ?? database.repo;
      names.add(repo);
      for (const p of database.packages) {
        const pkg = p.repo === repo ? p : { ...p, repo };
        // keyed by repo+name: the same name in two different stable repos is a duplicate to report, not to merge
        const key = `${repo}\0${pkg.name}`;
        const prev = chosen.get(key);
        if (!prev) order.push(key);
        if (!prev || vercmp(pkg.version, prev.version) > 0) chosen.set(key, pkg);
      }
    }
    this.repoNames = [...names];
    for (const key of order) this.add(chosen.get(key) as SyncPackage);
    for (const [, base] of this.bases) {
      base.version = maxVersion(base.packages.map((p) => p.version)) ?? '';
      base.repos = [...new Set(base.packages.map((p) => p.repo))].sort();
      base.isAny = base.packages.every((p) => p.arch === 'any');
    }
  }

  private add(pkg: SyncPackage): void {
    this.packages.push(pkg);
    const list = this.byName.get(pkg.name);
    if (list) list.push(pkg);
    else this.byName.set(pkg.name, [pkg]);
    const base = this.bases.get(pkg.base);
    if (base) base.packages.push(pkg);
    else this.bases.set(pkg.base, { pkgbase: pkg.base, repo: pkg.repo, repos: [], version: '', packages: [pkg], isAny: false });
    for (const text of pkg.provides) {
      const provision = parseDependency(text);
      const l = this.byProvision.get(provision.name);
      const entry = { pkg, provision, text };
      if (l) l.push(entry);
      else this.byProvision.set(provision.name, [entry]);
    }
  }

  /** Every package satisfying `dep` (libalpm rules): literal name first, then provisions. */
  satisfiers(dep: string | Dependency): Provider[] {
    const d = typeof dep === 'string' ? parseDependency(dep) : dep;
    const out: Provider[] = [];
    for (const pkg of this.byName.get(d.name) ?? []) if (satisfiesLiterally(d, pkg.name, pkg.version)) out.push({ pkg });
    for (const { pkg, provision, text } of this.byProvision.get(d.name) ?? []) {
      if (provisionSatisfies(d, provision) && !out.some((o) => o.pkg === pkg)) out.push({ pkg, provision: text });
    }
    return out;
  }

  /** The provider pacman would pick: a literal name match, else the first provider (repository order). */
  bestSatisfier(dep: string | Dependency): Provider | undefined {
    return this.satisfiers(dep)[0];
  }

  isSatisfied(dep: string | Dependency): boolean {
    return this.satisfiers(dep).length > 0;
  }

  /** Packages carrying the name at all (own name or any provision), ignoring versions. */
  nameCandidates(name: string): Provider[] {
    const out: Provider[] = (this.byName.get(name) ?? []).map((pkg) => ({ pkg }));
    for (const { pkg, text } of this.byProvision.get(name) ?? []) if (!out.some((o) => o.pkg === pkg)) out.push({ pkg, provision: text });
    return out;
  }
}
