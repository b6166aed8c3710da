/**
 * "What needs work": compare the upstream repositories with the port's, per pkgbase, and compute the
 * build list (packages_to_build.json). Pure: takes the two RepoSets and options, returns data.
 */
import { parseDependency } from '../depends';
import { vercmp } from '../version';
import type { SyncPackage } from '../syncdb';
import { EMPTY_BLACKLIST, type Blacklist, type BlacklistPattern } from './blacklist';
import { DEFAULT_BOOTSTRAP_ONLY } from './config';
import { buildOrder, type CycleGroup, type OrderEdge } from './order';
import type { DependencyKind } from '../model';
import type { PackageBase, RepoSet } from '../repo-set';
import type { StateEntry } from './state-repo';

export type BaseStatus = 'upgrade' | 'missing' | 'target-newer' | 'up-to-date';

export interface BaseComparison {
  pkgbase: string;
  repo: string;
  targetRepo: string | null;
  upstreamVersion: string;
  targetVersion: string | null;
  status: BaseStatus;
  pkgnames: string[];
}

export interface BinReplacement {
  pkgbase: string;
  upstreamVersion: string;
  binPackage: string;
  binVersion: string;
  /** the upstream name the -bin package provides */
  provides: string;
  /** vercmp of the versions without pkgrel: -1 the -bin is older, 0 same, 1 newer */
  comparison: number;
}

export interface SkippedBase {
  pkgbase: string;
  status: BaseStatus;
  kind: 'blacklist' | 'blacklisted-dependency' | 'bootstrap';
  reason: string;
}

export interface BlockedDependency {
  dependency: string;
  kind: DependencyKind;
  /** `depends for gvim` style: who needed it */
  neededBy: string;
  /** the upstream pkgbase that would provide it */
  pkgbase: string;
  cause: 'blacklist' | 'bootstrap' | 'any';
  reason: string;
}

export interface UnresolvedDependency {
  dependency: string;
  kind: DependencyKind;
  neededBy: string;
}

export interface TargetOnlyBase {
  pkgbase: string;
  repo: string;
  version: string;
  pkgnames: string[];
}

/** One entry of packages_to_build.json, with the predecessor's field names. */
export interface BuildEntry {
  name: string;
  basename: string;
  version: string;
  current_version: string;
  repo: string;
  target_repo: string | null;
  pkgnames: string[];
  arch: string[];
  depends: string[];
  makedepends: string[];
  checkdepends: string[];
  provides: string[];
  force_latest: boolean;
  use_aur: boolean;
  use_local: boolean;
  forced: boolean;
  /** why the package is in the list */
  reason: string;
  added_reason?: string;
  build_stage: number;
  cycle_group: number | null;
  cycle_stage: null;
  _sequence: number;
  /** list entries this one must be built after, with the edge kind: the builder need not re-resolve */
  after: { name: string; kind: DependencyKind; via: string }[];
  state_tag?: string;
  state_commit?: string;
}

export interface CompareOptions {
  blacklist?: Blacklist;
  /** default `linux-api-headers glibc binutils gcc` */
  bootstrapOnly?: readonly string[];
  /** build bootstrap-only packages too */
  forceBootstrap?: boolean;
  /** `--packages`: build exactly these (pkgname or pkgbase), overriding blacklist and bootstrap set */
  packages?: readonly string[];
  /** `--missing-packages`: also build pkgbases missing on the target */
  includeMissing?: boolean;
  /** `--rebuild-repo`: every non-any pkgbase of this upstream repository */
  rebuildRepo?: string;
  /** `--no-check`: checkdepends neither pull in packages nor order them */
  noCheck?: boolean;
  /** pull in missing dependencies (default true) */
  addMissingDependencies?: boolean;
  /** Arch state repository entries by pkgbase: adds the exact tag and commit to each entry */
  state?: ReadonlyMap<string, StateEntry>;
  /** told when a state entry is left out because its version is not the entry's */
  warn?: (message: string) => void;
}

export interface WorkPlan {
  comparisons: BaseComparison[];
  upgrades: BaseComparison[];
  missing: BaseComparison[];
  targetNewer: BaseComparison[];
  upToDate: BaseComparison[];
  /** pkgbases whose every split package is `any`: reported, never built */
  anyPackages: BaseComparison[];
  replacedByBin: BinReplacement[];
  targetOnly: TargetOnlyBase[];
  skipped: SkippedBase[];
  blockedDependencies: BlockedDependency[];
  unresolvedDependencies: UnresolvedDependency[];
  /** `--packages` names found neither as pkgname nor as pkgbase upstream */
  notFound: string[];
  entries: BuildEntry[];
  cycles: CycleGroup[];
}

const stripPkgrel = (v: string): string => v.replace(/-[^-]*$/, '');

/** The pattern a pkgbase is blacklisted by: its own name or any of its split names. */
export function blacklistMatch(blacklist: Blacklist, base: PackageBase): { name: string; pattern: BlacklistPattern } | undefined {
  for (const name of [base.pkgbase, ...base.packages.map((p) => p.name)]) {
    const pattern = blacklist.match(name);
    if (pattern) return { name, pattern };
  }
  return undefined;
}

export function describeMatch(m: { name: string; pattern: BlacklistPattern }): string {
  return `'${m.name}' matches blacklist pattern '${m.pattern.pattern}' (line ${m.pattern.line}${m.pattern.comment ? `: ${m.pattern.comment}` : ''})`;
}

/** depends per split package, makedepends/checkdepends per pkgbase, with who needs them. */
export function baseDependencies(base: PackageBase, noCheck: boolean): { dep: string; kind: DependencyKind; neededBy: string }[] {
  const out: { dep: string; kind: DependencyKind; neededBy: string }[] = [];
  for (const p of base.packages) for (const dep of p.depends) out.push({ dep, kind: 'depends', neededBy: p.name });
  const seen = new Set<string>();
  for (const p of base.packages) {
    for (const dep of p.makedepends) if (!seen.has(`m${dep}`)) (seen.add(`m${dep}`), out.push({ dep, kind: 'makedepends', neededBy: base.pkgbase }));
    if (!noCheck) for (const dep of p.checkdepends) if (!seen.has(`c${dep}`)) (seen.add(`c${dep}`), out.push({ dep, kind: 'checkdepends', neededBy: base.pkgbase }));
  }
  return out;
}

const satisfiedWithin = (base: PackageBase, dep: string, upstream: RepoSet): boolean =>
  upstream.satisfiers(dep).some((s) => s.pkg.base === base.pkgbase);

/** A target `-bin` package standing in for an upstream pkgbase (provides its name or a split name). */
function binReplacement(base: PackageBase, target: RepoSet): BinReplacement | undefined {
  for (const name of [base.pkgbase, ...base.packages.map((p) => p.name)]) {
    for (const c of target.nameCandidates(name)) {
      if (!c.pkg.name.endsWith('-bin')) continue;
      const upstreamPkg = base.packages.find((p) => p.name === name);
      const upstreamVersion = upstreamPkg?.version ?? base.version;
      return {
        pkgbase: base.pkgbase,
        upstreamVersion,
        binPackage: c.pkg.name,
        binVersion: c.pkg.version,
        provides: name,
        comparison: vercmp(stripPkgrel(c.pkg.version), stripPkgrel(upstreamVersion)),
      };
    }
  }
  return undefined;
}

export function compareRepositories(upstream: RepoSet, target: RepoSet, options: CompareOptions = {}): WorkPlan {
  const blacklist = options.blacklist ?? EMPTY_BLACKLIST;
  const bootstrap = new Set(options.bootstrapOnly ?? DEFAULT_BOOTSTRAP_ONLY);
  const noCheck = options.noCheck ?? false;
  const plan: WorkPlan = {
    comparisons: [], upgrades: [], missing: [], targetNewer: [], upToDate: [], anyPackages: [], replacedByBin: [],
    targetOnly: [], skipped: [], blockedDependencies: [], unresolvedDependencies: [], notFound: [], entries: [], cycles: [],
  };
  const selected = new Map<string, { reason: string; forced: boolean; added: string[] }>();
  const bases = [...upstream.bases.values()].sort((a, b) => (a.pkgbase < b.pkgbase ? -1 : 1));

  // 1. categories per pkgbase
  const statusOf = new Map<string, BaseComparison>();
  for (const base of bases) {
    const t = target.bases.get(base.pkgbase);
    const cmp = t ? vercmp(t.version, base.version) : undefined;
    const status: BaseStatus = cmp === undefined ? 'missing' : cmp < 0 ? 'upgrade' : cmp > 0 ? 'target-newer' : 'up-to-date';
    const c: BaseComparison = {
      pkgbase: base.pkgbase, repo: base.repo, targetRepo: t?.repo ?? null, upstreamVersion: base.version,
      targetVersion: t?.version ?? null, status, pkgnames: base.packages.map((p) => p.name).sort(),
    };
    statusOf.set(base.pkgbase, c);
    plan.comparisons.push(c);
    if (base.isAny) {
      plan.anyPackages.push(c);
      continue;
    }
    if (status === 'missing') {
      const bin = binReplacement(base, target);
      if (bin) {
        plan.replacedByBin.push(bin);
        continue;
      }
    }
    ({ upgrade: plan.upgrades, missing: plan.missing, 'target-newer': plan.targetNewer, 'up-to-date': plan.upToDate })[status].push(c);
  }
  for (const t of [...target.bases.values()].sort((a, b) => (a.pkgbase < b.pkgbase ? -1 : 1))) {
    if (!upstream.bases.has(t.pkgbase)) plan.targetOnly.push({ pkgbase: t.pkgbase, repo: t.repo, version: t.version, pkgnames: t.packages.map((p) => p.name).sort() });
  }

  // 2. selection
  const exclusion = (base: PackageBase): Omit<SkippedBase, 'status' | 'pkgbase'> | undefined => {
    const m = blacklistMatch(blacklist, base);
    if (m) return { kind: 'blacklist', reason: `blacklisted: ${describeMatch(m)}` };
    if (bootstrap.has(base.pkgbase) && !options.forceBootstrap) return { kind: 'bootstrap', reason: 'bootstrap-only package (built by the bootstrap procedure; force with --packages)' };
    // one level, as the predecessor: the dependency's name, its provider or the provider's pkgbase
    // (not the provider's sibling split names: lib32-glibc must not block everything needing glibc)
    for (const { dep, kind } of baseDependencies(base, noCheck)) {
      if (satisfiedWithin(base, dep, upstream)) continue;
      const provider = upstream.bestSatisfier(dep)?.pkg;
      for (const name of [parseDependency(dep).name, provider?.name, provider?.base]) {
        const pattern = name === undefined ? undefined : blacklist.match(name);
        if (name !== undefined && pattern) return { kind: 'blacklisted-dependency', reason: `${kind} '${dep}' is blacklisted: ${describeMatch({ name, pattern })}` };
      }
    }
    return undefined;
  };

  if (options.packages && options.packages.length) {
    for (const name of options.packages) {
      const pkg = upstream.byName.get(name)?.[0];
      const base = upstream.bases.get(pkg ? pkg.base : name);
      if (!base) {
        plan.notFound.push(name);
        continue;
      }
      const notes = ['forced with --packages'];
      const m = blacklistMatch(blacklist, base);
      if (m) notes.push(`overrides blacklist: ${describeMatch(m)}`);
      if (bootstrap.has(base.pkgbase)) notes.push('bootstrap-only package');
      if (base.isAny) notes.push("arch 'any'");
      const prev = selected.get(base.pkgbase);
      if (!prev) selected.set(base.pkgbase, { reason: notes.join('; '), forced: true, added: [] });
    }
  } else {
    const candidates = options.rebuildRepo
      ? bases.filter((b) => b.repo === options.rebuildRepo && !b.isAny).map((b) => statusOf.get(b.pkgbase) as BaseComparison)
      : [...plan.upgrades, ...(options.includeMissing ? plan.missing : [])];
    for (const c of candidates) {
      const base = upstream.bases.get(c.pkgbase) as PackageBase;
      const ex = exclusion(base);
      if (ex) {
        plan.skipped.push({ pkgbase: c.pkgbase, status: c.status, ...ex });
        continue;
      }
      const reason = options.rebuildRepo
        ? `rebuild of repository ${options.rebuildRepo}`
        : c.status === 'upgrade' ? `target ${c.targetVersion} older than ${c.upstreamVersion}` : 'missing on the target';
      selected.set(c.pkgbase, { reason, forced: false, added: [] });
    }
  }

  // 3. missing dependencies, recursively, provides-aware against the target
  if (options.addMissingDependencies ?? true) {
    const queue = [...selected.keys()].sort();
    const blockedSeen = new Set<string>();
    while (queue.length) {
      const base = upstream.bases.get(queue.shift() as string) as PackageBase;
      for (const { dep, kind, neededBy } of baseDependencies(base, noCheck)) {
        if (satisfiedWithin(base, dep, upstream)) continue;
        const inList = upstream.satisfiers(dep).some((s) => selected.has(s.pkg.base));
        if (!inList && target.isSatisfied(dep)) continue;
        const provider = inList ? upstream.satisfiers(dep).find((s) => selected.has(s.pkg.base)) : upstream.bestSatisfier(dep);
        if (!provider) {
          plan.unresolvedDependencies.push({ dependency: dep, kind, neededBy });
          continue;
        }
        const depBase = upstream.bases.get(provider.pkg.base) as PackageBase;
        const sel = selected.get(depBase.pkgbase);
        if (sel) {
          // already in the list; a dependency added earlier collects every reason
          if (sel.added.length) pushReason(sel.added, `${kind} for ${neededBy}`);
          continue;
        }
        const block = (cause: BlockedDependency['cause'], reason: string): void => {
          const key = `${dep}\0${kind}\0${neededBy}`;
          if (blockedSeen.has(key)) return;
          blockedSeen.add(key);
          plan.blockedDependencies.push({ dependency: dep, kind, neededBy, pkgbase: depBase.pkgbase, cause, reason });
        };
        const m = blacklistMatch(blacklist, depBase);
        if (m) {
          block('blacklist', `not added: ${describeMatch(m)}`);
          continue;
        }
        if (bootstrap.has(depBase.pkgbase) && !options.forceBootstrap) {
          block('bootstrap', 'not added: bootstrap-only package');
          continue;
        }
        if (depBase.isAny) {
          block('any', "not added: arch 'any' package missing or outdated on the target (sync it, it is not built)");
          continue;
        }
        const added: string[] = [];
        pushReason(added, `${kind} for ${neededBy}`);
        selected.set(depBase.pkgbase, { reason: 'missing dependency', forced: false, added });
        queue.push(depBase.pkgbase);
      }
    }
  }

  // 4. order and entries
  const edges = new Map<string, OrderEdge[]>();
  for (const name of selected.keys()) {
    const base = upstream.bases.get(name) as PackageBase;
    const list: OrderEdge[] = [];
    for (const { dep, kind } of baseDependencies(base, noCheck)) {
      if (satisfiedWithin(base, dep, upstream)) continue;
      const s = upstream.satisfiers(dep).find((x) => selected.has(x.pkg.base));
      if (s && !list.some((e) => e.to === s.pkg.base && e.kind === kind)) list.push({ to: s.pkg.base, kind, via: dep });
    }
    edges.set(name, list);
  }
  const order = buildOrder([...selected.keys()], edges);
  plan.cycles = order.cycles;
  for (const node of order.nodes) {
    const base = upstream.bases.get(node.name) as PackageBase;
    const sel = selected.get(node.name) as { reason: string; forced: boolean; added: string[] };
    const t = target.bases.get(node.name);
    const union = (f: (p: SyncPackage) => string[]): string[] => [...new Set(base.packages.flatMap(f))];
    const entry: BuildEntry = {
      name: base.pkgbase,
      basename: base.pkgbase,
      version: base.version,
      current_version: t ? t.version : 'not found',
      repo: base.repo,
      target_repo: t?.repo ?? null,
      pkgnames: base.packages.map((p) => p.name).sort(),
      arch: [...new Set(base.packages.map((p) => p.arch))].sort(),
      depends: union((p) => p.depends),
      makedepends: union((p) => p.makedepends),
      checkdepends: noCheck ? [] : union((p) => p.checkdepends),
      provides: union((p) => p.provides),
      force_latest: false,
      use_aur: false,
      use_local: false,
      forced: sel.forced,
      reason: sel.reason,
      build_stage: node.stage,
      cycle_group: node.cycleGroup,
      cycle_stage: null,
      _sequence: node.sequence,
      after: (edges.get(node.name) ?? []).map((e) => ({ name: e.to, kind: e.kind, via: e.via })),
    };
    if (sel.added.length) entry.added_reason = sel.added.join(', ');
    const st = options.state?.get(base.pkgbase);
    // the tag/commit are only exact for the version being built; a stale or testing state entry is left out
    if (st && vercmp(st.version, base.version) !== 0) {
      options.warn?.(`state repository: ${base.pkgbase} is ${st.version} there (${st.repo}-${st.arch}), the build list has ${base.version}; no state_tag/state_commit`);
    } else if (st) {
      entry.state_tag = st.tag;
      entry.state_commit = st.commit;
    }
    plan.entries.push(entry);
  }
  return plan;
}

function pushReason(list: string[], reason: string): void {
  if (!list.includes(reason)) list.push(reason);
}
