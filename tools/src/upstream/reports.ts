/**
 * The predecessor's repo_analyze and find_dependents, over RepoSets: every check uses libalpm version
 * and satisfaction rules (no `packaging.version`, nothing silently skipped) and reads no architecture
 * name from anywhere but the data.
 */
import { parseDependency } from '../depends';
import { vercmp } from '../version';
import { EMPTY_BLACKLIST, type Blacklist } from './blacklist';
import { blacklistMatch } from './compare';
import { buildOrder, type CycleGroup, type OrderEdge } from './order';
import type { DependencyKind } from '../model';
import type { PackageBase, RepoSet } from '../repo-set';

export const ANALYSIS_SECTIONS = [
  'name-mismatches', 'repo-issues', 'target-newer', 'target-only', 'orphaned', 'broken-deps', 'unsatisfied-deps',
  'blocked-by-blacklist', 'missing-pkgbase', 'outdated-any', 'missing-any',
] as const;
export type AnalysisSection = (typeof ANALYSIS_SECTIONS)[number];

export interface NameMismatch { pkgbase: string; upstreamOnly: string[]; targetOnly: string[]; upstreamOnlyProvidedOnTarget: string[] }
export interface RepoMismatch { pkgbase: string; upstreamRepo: string; targetRepos: string[] }
export interface Duplicate { name: string; repos: string[] }
export interface VersionPair { pkgbase: string; upstreamVersion: string; targetVersion: string; repo: string }
export interface TargetOnly {
  pkgbase: string; repo: string; version: string; pkgnames: string[]; filenames: string[];
  /** for `-bin` packages: the upstream package it stands in for, compared without pkgrel */
  bin?: { counterpart: string; upstreamVersion: string; status: 'MATCHES' | 'NEWER' | 'OUTDATED' };
}
export interface Orphan { name: string; pkgbase: string; repo: string; version: string }
export interface BrokenDependency { pkg: string; pkgbase: string; repo: string; dependency: string }
export interface UnsatisfiedDependency extends BrokenDependency { soname: boolean; candidates: string[] }
export interface BlockedChain { root: string; chain: string[]; pattern: string; otherBlocked: number }
export interface ProvidedByOther { pkgbase: string; providers: string[] }
export interface AnyOutdated { name: string; pkgbase: string; upstreamVersion: string; targetVersion: string }
export interface ArchChange { name: string; upstreamArch: string; targetArch: string }

export interface RepoAnalysis {
  nameMismatches: NameMismatch[];
  repoMismatches: RepoMismatch[];
  duplicatePkgbases: Duplicate[];
  duplicatePkgnames: Duplicate[];
  targetNewer: VersionPair[];
  targetOnly: TargetOnly[];
  orphaned: Orphan[];
  brokenDeps: BrokenDependency[];
  unsatisfiedDeps: UnsatisfiedDependency[];
  blockedByBlacklist: BlockedChain[];
  missingPkgbases: string[];
  providedByOther: ProvidedByOther[];
  outdatedAny: AnyOutdated[];
  archChanges: ArchChange[];
  missingAny: string[];
}

const byName = <T>(key: (t: T) => string) => (a: T, b: T): number => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
const stripPkgrel = (v: string): string => v.replace(/-[^-]*$/, '');
const sortedBases = (s: RepoSet): PackageBase[] => [...s.bases.values()].sort(byName((b) => b.pkgbase));

/** Upstream pkgbases a pkgbase needs (depends + makedepends), skipping what the target already satisfies. */
function unmetUpstreamDeps(base: PackageBase, upstream: RepoSet, target: RepoSet): string[] {
  const out = new Set<string>();
  for (const p of base.packages) {
    for (const dep of [...p.depends, ...p.makedepends]) {
      if (target.isSatisfied(dep)) continue;
      const s = upstream.bestSatisfier(dep);
      if (s && s.pkg.base !== base.pkgbase) out.add(s.pkg.base);
    }
  }
  return [...out].sort();
}

export function analyzeRepositories(upstream: RepoSet, target: RepoSet, blacklist: Blacklist = EMPTY_BLACKLIST): RepoAnalysis {
  const a: RepoAnalysis = {
    nameMismatches: [], repoMismatches: [], duplicatePkgbases: [], duplicatePkgnames: [], targetNewer: [], targetOnly: [],
    orphaned: [], brokenDeps: [], unsatisfiedDeps: [], blockedByBlacklist: [], missingPkgbases: [], providedByOther: [],
    outdatedAny: [], archChanges: [], missingAny: [],
  };
  for (const u of sortedBases(upstream)) {
    const t = target.bases.get(u.pkgbase);
    if (!t) continue;
    const un = new Set(u.packages.map((p) => p.name));
    const tn = new Set(t.packages.map((p) => p.name));
    const upstreamOnly = [...un].filter((n) => !tn.has(n)).sort();
    const targetOnly = [...tn].filter((n) => !un.has(n)).sort();
    if (upstreamOnly.length || targetOnly.length) {
      a.nameMismatches.push({ pkgbase: u.pkgbase, upstreamOnly, targetOnly, upstreamOnlyProvidedOnTarget: upstreamOnly.filter((n) => target.isSatisfied(n)) });
    }
    if (!t.repos.includes(u.repo)) a.repoMismatches.push({ pkgbase: u.pkgbase, upstreamRepo: u.repo, targetRepos: t.repos });
    if (vercmp(t.version, u.version) > 0) a.targetNewer.push({ pkgbase: u.pkgbase, upstreamVersion: u.version, targetVersion: t.version, repo: t.repo });
  }
  for (const t of sortedBases(target)) {
    if (t.repos.length > 1) a.duplicatePkgbases.push({ name: t.pkgbase, repos: t.repos });
    if (upstream.bases.has(t.pkgbase)) {
      for (const p of t.packages) if (!upstream.byName.has(p.name)) a.orphaned.push({ name: p.name, pkgbase: t.pkgbase, repo: p.repo, version: p.version });
      continue;
    }
    const entry: TargetOnly = { pkgbase: t.pkgbase, repo: t.repo, version: t.version, pkgnames: t.packages.map((p) => p.name).sort(), filenames: t.packages.map((p) => p.filename).sort() };
    const binPkg = t.packages.find((p) => p.name.endsWith('-bin'));
    if (binPkg) {
      const names = [binPkg.name.slice(0, -4), ...binPkg.provides.map((x) => parseDependency(x).name)];
      const counterpart = names.map((n) => upstream.byName.get(n)?.[0]).find((p) => p !== undefined);
      if (counterpart) {
        const c = vercmp(stripPkgrel(binPkg.version), stripPkgrel(counterpart.version));
        entry.bin = { counterpart: counterpart.name, upstreamVersion: counterpart.version, status: c === 0 ? 'MATCHES' : c > 0 ? 'NEWER' : 'OUTDATED' };
      }
    }
    a.targetOnly.push(entry);
  }
  const repoOf = new Map<string, Set<string>>();
  for (const p of target.packages) repoOf.set(p.name, (repoOf.get(p.name) ?? new Set()).add(p.repo));
  for (const [name, repos] of [...repoOf].sort(byName(([n]) => n))) if (repos.size > 1) a.duplicatePkgnames.push({ name, repos: [...repos].sort() });

  // dependency health of the target, libalpm satisfaction
  for (const p of [...target.packages].sort(byName((x) => `${x.name}\0${x.repo}`))) {
    for (const dep of p.depends) {
      const d = parseDependency(dep);
      const candidates = target.nameCandidates(d.name);
      if (candidates.length === 0) {
        a.brokenDeps.push({ pkg: p.name, pkgbase: p.base, repo: p.repo, dependency: dep });
        continue;
      }
      if (d.op === '' || target.isSatisfied(d)) continue;
      a.unsatisfiedDeps.push({
        pkg: p.name, pkgbase: p.base, repo: p.repo, dependency: dep, soname: d.name.includes('.so'),
        candidates: candidates.map((c) => (c.provision ? `${c.pkg.name} provides ${c.provision}` : `${c.pkg.name} ${c.pkg.version}`)),
      });
    }
  }

  // missing pkgbases, and what blocks them
  for (const u of sortedBases(upstream)) {
    if (target.bases.has(u.pkgbase)) continue;
    if (u.isAny) {
      a.missingAny.push(u.pkgbase);
      continue;
    }
    if (blacklistMatch(blacklist, u)) continue;
    const providers = new Set<string>();
    for (const n of [u.pkgbase, ...u.packages.map((p) => p.name)]) for (const c of target.nameCandidates(n)) providers.add(c.pkg.name);
    if (providers.size) a.providedByOther.push({ pkgbase: u.pkgbase, providers: [...providers].sort() });
    else a.missingPkgbases.push(u.pkgbase);
    const chain = blockedChain(u, upstream, target, blacklist);
    if (chain) a.blockedByBlacklist.push(chain);
  }

  // `any` packages compared by pkgname
  for (const u of [...upstream.packages].sort(byName((p) => p.name))) {
    const t = target.byName.get(u.name)?.[0];
    if (!t) continue;
    if (u.arch === 'any' && t.arch === 'any') {
      if (vercmp(t.version, u.version) < 0) a.outdatedAny.push({ name: u.name, pkgbase: u.base, upstreamVersion: u.version, targetVersion: t.version });
    } else if ((u.arch === 'any') !== (t.arch === 'any')) a.archChanges.push({ name: u.name, upstreamArch: u.arch, targetArch: t.arch });
  }
  return a;
}

/** BFS over upstream depends+makedepends from `root` to the first blacklisted pkgbase. */
export function blockedChain(root: PackageBase, upstream: RepoSet, target: RepoSet, blacklist: Blacklist): BlockedChain | undefined {
  const parent = new Map<string, string | null>([[root.pkgbase, null]]);
  const queue = [root.pkgbase];
  const hits: { base: string; pattern: string }[] = [];
  while (queue.length) {
    const name = queue.shift() as string;
    const base = upstream.bases.get(name) as PackageBase;
    for (const dep of unmetUpstreamDeps(base, upstream, target)) {
      if (parent.has(dep)) continue;
      parent.set(dep, name);
      const m = blacklistMatch(blacklist, upstream.bases.get(dep) as PackageBase);
      if (m) hits.push({ base: dep, pattern: m.pattern.pattern });
      else queue.push(dep);
    }
  }
  if (!hits.length) return undefined;
  const chain: string[] = [];
  for (let n: string | null = hits[0].base; n !== null; n = parent.get(n) ?? null) chain.unshift(n);
  return { root: root.pkgbase, chain, pattern: hits[0].pattern, otherBlocked: hits.length - 1 };
}

// ---------------------------------------------------------------- dependents

export interface DependentsOptions {
  kinds?: readonly DependencyKind[];
  /** how many reverse steps (default 1 without rebuild order, unlimited with) */
  depth?: number;
  rebuildOrder?: boolean;
}

export interface DependentsResult {
  /** the pkgbase(s) asked about */
  roots: string[];
  /** pkgbase -> the dependency strings (with kind) through which it depends on the roots' closure */
  dependents: { pkgbase: string; depth: number; via: string[] }[];
  /** with rebuildOrder: roots' dependents in build order */
  order?: string[];
  cycles?: CycleGroup[];
}

/** Reverse dependencies by pkgbase, provides-aware (a dependency on `libfoo.so` finds its provider). */
export function findDependents(set: RepoSet, names: readonly string[], options: DependentsOptions = {}): DependentsResult {
  const kinds = options.kinds ?? ['depends', 'makedepends'];
  const roots = names.map((n) => {
    const b = set.byName.get(n)?.[0]?.base ?? (set.bases.has(n) ? n : undefined);
    if (!b) throw new Error(`${n}: no such package or pkgbase`);
    return b;
  });
  // reverse index: dependency pkgbase -> [dependent pkgbase, edge]
  const reverse = new Map<string, { from: string; edge: OrderEdge }[]>();
  for (const p of set.packages) {
    for (const kind of kinds) {
      for (const dep of p[kind]) {
        for (const s of set.satisfiers(dep)) {
          if (s.pkg.base === p.base) continue;
          const l = reverse.get(s.pkg.base) ?? [];
          if (!l.some((x) => x.from === p.base && x.edge.kind === kind && x.edge.via === dep)) l.push({ from: p.base, edge: { to: s.pkg.base, kind, via: dep } });
          reverse.set(s.pkg.base, l);
        }
      }
    }
  }
  const maxDepth = options.depth ?? (options.rebuildOrder ? Infinity : 1);
  const depthOf = new Map<string, number>(roots.map((r) => [r, 0]));
  const via = new Map<string, Set<string>>();
  const queue = [...roots];
  while (queue.length) {
    const n = queue.shift() as string;
    const d = depthOf.get(n) as number;
    if (d >= maxDepth) continue;
    for (const { from, edge } of reverse.get(n) ?? []) {
      const v = via.get(from) ?? new Set();
      v.add(`${edge.kind} ${edge.via}`);
      via.set(from, v);
      if (!depthOf.has(from)) {
        depthOf.set(from, d + 1);
        queue.push(from);
      }
    }
  }
  const dependents = [...depthOf].filter(([n]) => !roots.includes(n)).map(([pkgbase, depth]) => ({ pkgbase, depth, via: [...(via.get(pkgbase) ?? [])].sort() })).sort(byName((x) => x.pkgbase));
  const result: DependentsResult = { roots, dependents };
  if (options.rebuildOrder) {
    const members = [...depthOf.keys()];
    const inSet = new Set(members);
    const edges = new Map<string, OrderEdge[]>();
    for (const [dep, list] of reverse) {
      if (!inSet.has(dep)) continue;
      for (const { from, edge } of list) if (inSet.has(from)) edges.set(from, [...(edges.get(from) ?? []), edge]);
    }
    const order = buildOrder(members, edges);
    result.order = order.nodes.map((n) => n.name).filter((n) => !roots.includes(n));
    result.cycles = order.cycles;
  }
  return result;
}

// ---------------------------------------------------------------- text

export function formatAnalysis(a: RepoAnalysis, sections: readonly AnalysisSection[], labels: { upstream: string; target: string }): string {
  const out: string[] = [];
  const head = (title: string, n: number): void => {
    out.push('', `== ${title} (${n}) ==`);
  };
  const U = labels.upstream;
  const T = labels.target;
  for (const s of sections) {
    switch (s) {
      case 'name-mismatches':
        head(`split package names differ between ${U} and ${T}`, a.nameMismatches.length);
        for (const m of a.nameMismatches) {
          out.push(`${m.pkgbase}: only ${U}: ${m.upstreamOnly.join(' ') || '-'}; only ${T}: ${m.targetOnly.join(' ') || '-'}${m.upstreamOnlyProvidedOnTarget.length ? `; provided on ${T}: ${m.upstreamOnlyProvidedOnTarget.join(' ')}` : ''}`);
        }
        break;
      case 'repo-issues':
        head(`pkgbases in a different repository than on ${U}`, a.repoMismatches.length);
        for (const m of a.repoMismatches) out.push(`${m.pkgbase}: ${U} ${m.upstreamRepo}, ${T} ${m.targetRepos.join(',')}`);
        head(`pkgbases in more than one ${T} repository`, a.duplicatePkgbases.length);
        for (const d of a.duplicatePkgbases) out.push(`${d.name}: ${d.repos.join(' ')}`);
        head(`pkgnames in more than one ${T} repository`, a.duplicatePkgnames.length);
        for (const d of a.duplicatePkgnames) out.push(`${d.name}: ${d.repos.join(' ')}`);
        break;
      case 'target-newer':
        head(`${T} newer than ${U}`, a.targetNewer.length);
        for (const v of a.targetNewer) out.push(`${v.pkgbase}: ${T} ${v.targetVersion} > ${U} ${v.upstreamVersion} (${v.repo})`);
        break;
      case 'target-only':
        head(`only on ${T}`, a.targetOnly.length);
        for (const t of a.targetOnly) out.push(`${t.repo}/${t.pkgbase} ${t.version}${t.bin ? ` [${t.bin.status}] stands in for ${t.bin.counterpart} ${t.bin.upstreamVersion}` : ''}`);
        break;
      case 'orphaned':
        head(`orphaned split packages (pkgbase on ${U}, pkgname not)`, a.orphaned.length);
        for (const o of a.orphaned) out.push(`${o.repo}/${o.name} ${o.version} (pkgbase ${o.pkgbase})`);
        break;
      case 'broken-deps':
        head(`broken dependencies (no provider on ${T})`, a.brokenDeps.length);
        for (const b of a.brokenDeps) out.push(`${b.pkg} needs '${b.dependency}' — nothing on ${T} provides it`);
        break;
      case 'unsatisfied-deps':
        head(`unsatisfied versioned dependencies`, a.unsatisfiedDeps.length);
        for (const u of a.unsatisfiedDeps) out.push(`${u.soname ? '[SONAME drift] ' : ''}${u.pkg} needs '${u.dependency}' — target has: ${u.candidates.join(', ')}`);
        break;
      case 'blocked-by-blacklist':
        head(`missing pkgbases blocked by the blacklist`, a.blockedByBlacklist.length);
        for (const b of a.blockedByBlacklist) out.push(`${b.chain.join(' -> ')} [matches '${b.pattern}']${b.otherBlocked ? ` (+${b.otherBlocked} other blacklisted dependencies)` : ''}`);
        break;
      case 'missing-pkgbase':
        head(`pkgbases missing on ${T} (not blacklisted, not any)`, a.missingPkgbases.length);
        if (a.missingPkgbases.length) out.push(a.missingPkgbases.join(' '));
        head(`missing pkgbases provided by other ${T} packages`, a.providedByOther.length);
        for (const p of a.providedByOther) out.push(`${p.pkgbase}: provided by ${p.providers.join(' ')}`);
        break;
      case 'outdated-any':
        head(`outdated 'any' packages`, a.outdatedAny.length);
        for (const o of a.outdatedAny) out.push(`${o.name}: ${T} ${o.targetVersion} < ${U} ${o.upstreamVersion}`);
        head(`architecture changed between 'any' and a real architecture`, a.archChanges.length);
        for (const c of a.archChanges) out.push(`${c.name}: ${U} ${c.upstreamArch}, ${T} ${c.targetArch}`);
        break;
      case 'missing-any':
        head(`'any' pkgbases missing on ${T}`, a.missingAny.length);
        if (a.missingAny.length) out.push(a.missingAny.join(' '));
        break;
    }
  }
  return `${out.join('\n').replace(/^\n/, '')}\n`;
}

/** The part of the analysis the sections ask for (for --json). */
export function selectSections(a: RepoAnalysis, sections: readonly AnalysisSection[]): Partial<RepoAnalysis> {
  const keys: Record<AnalysisSection, (keyof RepoAnalysis)[]> = {
    'name-mismatches': ['nameMismatches'],
    'repo-issues': ['repoMismatches', 'duplicatePkgbases', 'duplicatePkgnames'],
    'target-newer': ['targetNewer'],
    'target-only': ['targetOnly'],
    orphaned: ['orphaned'],
    'broken-deps': ['brokenDeps'],
    'unsatisfied-deps': ['unsatisfiedDeps'],
    'blocked-by-blacklist': ['blockedByBlacklist'],
    'missing-pkgbase': ['missingPkgbases', 'providedByOther'],
    'outdated-any': ['outdatedAny', 'archChanges'],
    'missing-any': ['missingAny'],
  };
  const out: Partial<RepoAnalysis> = {};
  for (const s of sections) for (const k of keys[s]) (out as Record<string, unknown>)[k] = a[k];
  return out;
}
