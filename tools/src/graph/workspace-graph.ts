/**
 * The whole package graph of a workspace: metadata of every PKGBUILD directory (sandboxed, cached),
 * projects named after their pkgbase, dependency edges resolved with libalpm semantics for every
 * configured architecture, and the cycle breaks that make it acyclic for Nx.
 * Pure: no Nx imports; the Nx plugin is a thin adapter over loadWorkspaceGraph().
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join, isAbsolute } from 'node:path';
import type { MetadataResult } from '../metadata';
import type { BuildInputs, DependencyKind, PackageBaseMetadata, ProjectPkgnxMetadata } from '../model';
import { metadataForArch } from '../srcinfo';
import { RepoSet } from '../repo-set';
import { parseSyncDatabase, repoNameFromFile, type SyncPackage } from '../syncdb';
import { dependencyName } from '../depends';
import { buildProvisionIndex, resolveDependency, type ProjectProvisions } from './resolve';
import { assignOwnership } from './ownership';
import { breakCycles, describeSelfCycle, type CycleBreakResult, type GraphEdge, type SelfCycle } from './cycles';
import type { ResolvedPluginOptions } from './plugin-options';

export interface GraphProject {
  /** project name: the pkgbase, or for a broken PKGBUILD a unique name derived from its directory */
  name: string;
  /** workspace-relative directory */
  root: string;
  /** workspace-relative PKGBUILD path (the sourceFile of its edges) */
  pkgbuild: string;
  /** metadata per configured architecture; empty when `error` is set */
  metadata: Record<string, PackageBaseMetadata>;
  error?: string;
  warnings: string[];
}

export interface ResolvedEdge extends GraphEdge {
  /** workspace-relative PKGBUILD of the source project */
  sourceFile: string;
}

export interface WorkspaceGraph {
  projects: GraphProject[];
  edges: ResolvedEdge[];
  /** how cycles were broken (the edges that stay are `edges`) */
  cycles: Omit<CycleBreakResult, 'edges'>;
  /** build dependencies only the project itself provides: its first build needs a bootstrap */
  selfCycles: SelfCycle[];
  /** graph-level warnings: several providers, unsatisfied versions, dependencies nobody provides */
  warnings: string[];
  /** changes whenever anything that shapes the edges changes (Nx re-runs createDependencies then) */
  fingerprint: string;
  /** everything the resolution read, hashed (resolutionInputKey): an equal key gives equal edges, cycles and warnings */
  resolutionKey: string;
}

/** what a new graph can take from an earlier one whose resolution had the same input */
export type ResolvedPart = Pick<WorkspaceGraph, 'edges' | 'cycles' | 'selfCycles' | 'warnings' | 'fingerprint' | 'resolutionKey'>;

/** Loads metadata for a list of PKGBUILD directories for every architecture: arch -> dir -> result. */
export type MetadataLoader = (dirs: string[], archs: readonly string[]) => Promise<Map<string, Map<string, MetadataResult>>>;

export interface LoadGraphOptions {
  workspaceRoot: string;
  /** workspace-relative paths of the PKGBUILD files */
  pkgbuildFiles: string[];
  options: ResolvedPluginOptions;
  /** how metadata is obtained (sandboxed extraction or committed .SRCINFO); see defaultMetadataLoader */
  loadMetadata: MetadataLoader;
  /**
   * an earlier graph of this workspace (the graph cache's): its resolution is reused when its input is the same
   * (an edit that changes no dependency, provision or constrained version), its cycle breaks when the edges are
   */
  previous?: ResolvedPart;
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * What a project node carries: its identity on the default architecture, and what a build of it needs per
 * architecture (the executor reads that instead of sourcing the PKGBUILD again).
 */
function projectMetadata(p: GraphProject, arch: string): ProjectPkgnxMetadata {
  const m = p.metadata[arch];
  // an architecture whose inputs equal an earlier one's names it instead of repeating them: every node is in
  // Nx's project graph, read and written on every command
  const build: Record<string, BuildInputs | string> = {};
  const seen = new Map<string, string>();
  for (const [a, am] of Object.entries(p.metadata)) {
    const inputs: BuildInputs = { arch: am.arch, depends: am.depends, makedepends: am.makedepends, checkdepends: am.checkdepends };
    const json = JSON.stringify(inputs);
    build[a] = seen.get(json) ?? inputs;
    if (!seen.has(json)) seen.set(json, a);
  }
  if (!m) return { pkgbase: p.name, root: p.root, version: '', arch: [], pkgnames: [], build, ...(p.error ? { error: p.error } : {}) };
  return { pkgbase: m.pkgbase, root: p.root, version: m.version, arch: m.arch, pkgnames: m.packages.map((x) => x.name), build };
}

export { projectMetadata };

/** The target repositories of one architecture, indexed the way every other repository question is. */
async function loadTargetRepos(workspaceRoot: string, files: string[]): Promise<{ set: RepoSet; digest: string }> {
  const databases = [];
  const hash = createHash('sha256');
  for (const f of files) {
    const path = isAbsolute(f) ? f : join(workspaceRoot, f);
    const buf = await readFile(path).catch((e: NodeJS.ErrnoException) => {
      throw new Error(`targetRepositories: cannot read ${f}: ${e.code ?? e.message}`);
    });
    hash.update(buf);
    databases.push({ database: await parseSyncDatabase(buf, repoNameFromFile(f)) });
  }
  return { set: new RepoSet(databases), digest: hash.digest('hex') };
}

function findInRepos(repos: RepoSet | undefined, depString: string): SyncPackage | undefined {
  return repos?.bestSatisfier(depString)?.pkg;
}

/**
 * The dependency strings of one kind. `depends` is the pkgbase-level array (what makepkg -s installs)
 * plus every split package's runtime depends: a package is only installable for its dependents once
 * its runtime dependencies exist, so they must be built first too.
 */
function dependencyStrings(m: PackageBaseMetadata, kind: DependencyKind): string[] {
  if (kind !== 'depends') return m[kind];
  return [...new Set([...m.depends, ...m.packages.flatMap((p) => p.depends)])];
}

/** every dependency string of a package base: its own arrays and each split package's depends */
const allDependencyStrings = (m: PackageBaseMetadata): string[][] => [m.depends, m.makedepends, m.checkdepends, ...m.packages.map((p) => p.depends)];

/**
 * Everything the resolution below reads, hashed: names, roots and errors, who is the primary of a pkgbase and
 * the naming warnings, and per architecture each package base's packages, provisions and dependency strings,
 * the options and the target repositories. A version is in it only where it can change an answer (libalpm
 * compares versions only for a versioned dependency): for a package whose name some dependency string constrains
 * by version, and for one its own package base depends on (the self-cycle report names the version). So a
 * pkgrel bump of a package nothing constrains, or an edit of build(), keeps the key.
 */
function resolutionInputKey(
  projects: readonly GraphProject[],
  good: readonly GraphProject[],
  frame: { archs: readonly string[]; options: ResolvedPluginOptions; repos: ReadonlyMap<string, { digest: string }>; primaryOf: ReadonlyMap<string, string>; warnings: ReadonlySet<string> },
): string {
  const constrained = new Set<string>();
  for (const p of good) for (const m of Object.values(p.metadata)) for (const list of allDependencyStrings(m)) for (const d of list) if (/[<>=]/.test(d)) constrained.add(dependencyName(d));
  const hash = createHash('sha256').update(
    JSON.stringify({ archs: frame.archs, options: frame.options, repos: [...frame.repos].map(([a, r]) => [a, r.digest]), primary: [...frame.primaryOf], warnings: [...frame.warnings] }),
  );
  for (const p of projects) {
    hash.update(`\n${p.name}\0${p.root}\0${p.pkgbuild}\0${p.error ?? ''}`);
    for (const arch of frame.archs) {
      const m = p.metadata[arch];
      if (!m) continue;
      const own = new Set(m.packages.map((x) => x.name));
      const lists = allDependencyStrings(m);
      const versionCounts = [...own].some((n) => constrained.has(n)) || lists.some((l) => l.some((d) => own.has(dependencyName(d))));
      hash.update(JSON.stringify([arch, m.pkgbase, versionCounts ? m.version : '', m.packages.map((x) => [x.name, x.provides]), lists]));
    }
  }
  return hash.digest('hex');
}

export async function loadWorkspaceGraph(opts: LoadGraphOptions): Promise<WorkspaceGraph> {
  const { workspaceRoot, options } = opts;
  // sorted by directory, so `pkgbuilds/beta` comes before `pkgbuilds/beta-copy` and keeps the pkgbase
  const files = [...opts.pkgbuildFiles].sort((a, b) => byName(dirname(a), dirname(b)));
  const roots = files.map((f) => dirname(f));
  const absDirs = roots.map((r) => join(workspaceRoot, r));
  const archs = options.architectures;

  // metadata per architecture (the loader caches by content hash, so unchanged PKGBUILDs cost a file read)
  const perArch = await opts.loadMetadata(absDirs, archs);

  const drafts = roots.map((root, i) => {
    const metadata: Record<string, PackageBaseMetadata> = {};
    const warnings = new Set<string>();
    let error: string | undefined;
    for (const arch of archs) {
      const r = perArch.get(arch)!.get(absDirs[i]);
      if (!r) error ??= `${files[i]}: no metadata was produced`;
      else if ('error' in r) error ??= r.error;
      else {
        metadata[arch] = metadataForArch(r.srcinfo, arch);
        for (const w of r.warnings) warnings.add(w);
      }
    }
    return { root, pkgbuild: files[i], metadata: error ? {} : metadata, error, warnings: [...warnings], pkgbase: error ? undefined : metadata[archs[0]].pkgbase };
  });

  // names, the same pkgbase in several directories, a pkgname built by several pkgbases (ownership.ts)
  const owners = assignOwnership(
    drafts.map((d) => ({ root: d.root, pkgbuild: d.pkgbuild, pkgbase: d.pkgbase, pkgnames: Object.values(d.metadata).flatMap((m) => m.packages.map((p) => p.name)) })),
  );
  const warnings = new Set<string>();
  const primaryOf = new Map<string, string>();
  const projects: GraphProject[] = drafts.map((d, i) => {
    const own = owners[i];
    const error = d.error ?? own.error;
    if (own.warning) warnings.add(own.warning);
    if (own.primary) primaryOf.set(own.name, own.primary);
    return {
      name: own.name,
      root: d.root,
      pkgbuild: d.pkgbuild,
      metadata: error ? {} : d.metadata,
      ...(error ? { error } : {}),
      warnings: own.warning ? [...d.warnings, own.warning] : d.warnings,
    };
  });
  const good = projects.filter((p) => !p.error);

  const repos = new Map<string, { set: RepoSet; digest: string }>();
  for (const arch of archs) {
    const list = options.targetRepositories[arch];
    if (list?.length) repos.set(arch, await loadTargetRepos(workspaceRoot, list));
  }

  const resolutionKey = resolutionInputKey(projects, good, { archs, options, repos, primaryOf, warnings });
  const previous = opts.previous;
  if (previous?.resolutionKey === resolutionKey) {
    return { projects, edges: previous.edges, cycles: previous.cycles, selfCycles: previous.selfCycles, warnings: previous.warnings, fingerprint: previous.fingerprint, resolutionKey };
  }

  // resolve every dependency string, per architecture, and merge the edges
  const merged = new Map<string, ResolvedEdge & { binaryPerArch: Map<string, string | undefined> }>();
  const kinds: DependencyKind[] = options.checkdepends ? ['depends', 'makedepends', 'checkdepends'] : ['depends', 'makedepends'];
  const breakable = new Set(options.breakEdges.map((e) => `${e.source}\0${e.target}`));
  // the directories of one pkgbase are one provider for the question "who else could provide it"
  const sameBase = new Map<string, Set<string>>();
  for (const p of good) {
    const base = p.metadata[archs[0]].pkgbase;
    const group = sameBase.get(base) ?? new Set<string>();
    sameBase.set(base, group.add(p.name));
  }
  const selfCycles = new Map<string, SelfCycle>();
  for (const arch of archs) {
    const index = buildProvisionIndex(
      good.map((p): ProjectProvisions => ({ project: p.name, rank: primaryOf.has(p.name) ? 1 : 0, version: p.metadata[arch].version, packages: p.metadata[arch].packages })),
    );
    const repo = repos.get(arch)?.set;
    for (const p of good) {
      const m = p.metadata[arch];
      for (const kind of kinds) {
        for (const depString of dependencyStrings(m, kind)) {
          let r = resolveDependency(depString, p.name, index);
          if (r.kind === 'self') {
            // its own runtime dependency is no edge; but a build dependency must be installed BEFORE the
            // package exists: another provider (a project, or the target repository) or a bootstrap
            if (kind === 'depends') continue;
            const other = resolveDependency(depString, p.name, index, sameBase.get(m.pkgbase));
            if (other.kind !== 'workspace') {
              if (!findInRepos(repo, depString)) {
                const key = `${p.name}\0${kind}\0${depString}`;
                const entry = selfCycles.get(key) ?? { project: p.name, kind, dep: depString, satisfiedBy: r.satisfiedBy, archs: [], targetRepositories: [] };
                entry.archs.push(arch);
                if (repo) entry.targetRepositories.push(arch);
                selfCycles.set(key, entry);
              }
              continue;
            }
            r = other;
          }
          if (r.kind === 'external') {
            if (r.unsatisfiedInWorkspace) warnings.add(`${p.name} (${arch}) ${kind} '${depString}': not satisfied by the workspace (${r.unsatisfiedInWorkspace}); treated as external`);
            if (options.validateExternal && repo && !findInRepos(repo, depString))
              warnings.add(`${p.name} needs ${depString} (${kind}, ${arch}): not provided by the workspace or the target repositories`);
            continue;
          }
          // the other directories of the chosen project's pkgbase are named in the pkgbase warning already
          const target = r.project;
          const candidates = r.candidates.filter((c) => c === target || primaryOf.get(c) !== target);
          if (candidates.length > 1)
            warnings.add(`${p.name} (${arch}) ${kind} '${depString}': provided by several projects (${candidates.join(', ')}); using ${r.project}`);
          const key = `${p.name}\0${r.project}`;
          let edge = merged.get(key);
          if (!edge) {
            edge = { source: p.name, target: r.project, kinds: [], deps: [], sourceFile: p.pkgbuild, binaryPerArch: new Map() };
            if (breakable.has(key)) edge.declaredBreakable = true;
            merged.set(key, edge);
          }
          if (!edge.kinds.includes(kind)) edge.kinds.push(kind);
          if (!edge.deps.includes(depString)) edge.deps.push(depString);
          // an edge can be bootstrapped from binaries only if every dep string is in the target repository
          const found = findInRepos(repo, depString);
          const prev = edge.binaryPerArch.has(arch) ? edge.binaryPerArch.get(arch) : '';
          edge.binaryPerArch.set(arch, found && prev !== undefined ? `${prev ? `${prev}, ` : ''}${found.repo}/${found.name} ${found.version}` : undefined);
        }
      }
    }
  }
  const edges: GraphEdge[] = [...merged.values()].map(({ binaryPerArch, ...e }) => {
    const perArch = archs.map((a) => binaryPerArch.get(a));
    const available = perArch.every((v) => v !== undefined && v !== '') ? [...new Set(perArch)].join('; ') : undefined;
    const order: DependencyKind[] = ['depends', 'makedepends', 'checkdepends'];
    return { ...e, kinds: e.kinds.sort((a, b) => order.indexOf(a) - order.indexOf(b)), ...(available ? { binaryAvailable: available } : {}) };
  });
  for (const e of options.breakEdges) {
    if (!merged.has(`${e.source}\0${e.target}`)) warnings.add(`breakEdges: "${e.source} -> ${e.target}" is not an edge of the graph`);
  }

  const earlier = previous && { ...previous.cycles, edges: previous.edges };
  const cycles = breakCycles(
    projects.map((p) => p.name),
    edges,
    earlier,
  );
  const sourceFileOf = new Map(projects.map((p) => [p.name, p.pkgbuild]));
  const finalEdges: ResolvedEdge[] = cycles.edges.map((e) => ({ ...e, sourceFile: sourceFileOf.get(e.source)! }));

  const fingerprint = createHash('sha256')
    .update(JSON.stringify({ projects: projects.map((p) => [p.name, p.root, p.error ?? '']), edges: finalEdges.map((e) => [e.source, e.target]), repos: [...repos].map(([a, r]) => [a, r.digest]) }))
    .digest('hex');

  const selfCycleList = [...selfCycles.values()].sort((a, b) => byName(a.project, b.project) || byName(a.kind, b.kind) || byName(a.dep, b.dep));
  for (const c of selfCycleList) warnings.add(describeSelfCycle(c));
  const { edges: _kept, ...cycleBreaks } = cycles;
  return { projects, edges: finalEdges, cycles: cycleBreaks, selfCycles: selfCycleList, warnings: [...warnings].sort(byName), fingerprint, resolutionKey };
}
