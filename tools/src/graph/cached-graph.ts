/**
 * Loading the workspace graph the same way for the Nx plugin and for the CLI verbs: options from
 * nx.json (or given), architectures discovered from chroot-config/, metadata from the sandboxed
 * extractor (cached on disk) or from committed .SRCINFO files.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { WORKSPACE_DATA } from '../workspace-paths';
import { fileIdentity } from '../file-identity';
import { resolvePluginOptions, type ResolvedPluginOptions } from './plugin-options';
import { readMetadataForArchitectures, type MetadataSettings } from '../metadata';
import { metadataView } from '../metadata/build-root-view';
import { loadWorkspaceGraph, type GraphProject, type MetadataLoader, type ResolvedPart, type WorkspaceGraph } from './workspace-graph';
import type { PackageBaseMetadata } from '../model';

export const PKGBUILD_GLOB = 'pkgbuilds/**/PKGBUILD';
export { WORKSPACE_DATA };
export const PLUGIN_PATH = './tools/plugin/nx-entry.js';

export function discoverArchitectures(workspaceRoot: string): string[] {
  const dir = join(workspaceRoot, 'chroot-config');
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'makepkg.conf')))
    .map((d) => d.name)
    .sort();
}

export function resolveOptions(raw: unknown, workspaceRoot: string): ResolvedPluginOptions {
  return resolvePluginOptions(raw, discoverArchitectures(workspaceRoot));
}

/** The plugin's options as written in nx.json (the first plugins[] entry naming tools/plugin). */
export function readPluginOptionsFromNxJson(workspaceRoot: string): unknown {
  const nxJson = JSON.parse(readFileSync(join(workspaceRoot, 'nx.json'), 'utf8')) as { plugins?: (string | { plugin: string; options?: unknown })[] };
  for (const entry of nxJson.plugins ?? []) {
    const name = typeof entry === 'string' ? entry : entry.plugin;
    if (/tools\/plugin(\/(index(\.ts)?|nx-entry\.js))?$/.test(name)) return typeof entry === 'string' ? {} : (entry.options ?? {});
  }
  throw new Error(`${join(workspaceRoot, 'nx.json')}: no plugins[] entry for ${PLUGIN_PATH}`);
}

/** how this workspace reads metadata, from its plugin options */
export function metadataSettings(options: Pick<ResolvedPluginOptions, 'metadataSource' | 'sandboxTimeoutSeconds'>): MetadataSettings {
  return { source: options.metadataSource, timeoutSeconds: options.sandboxTimeoutSeconds };
}

/** the metadata settings of the workspace at `workspaceRoot` (nx.json's plugin options), for callers outside the graph */
export function workspaceMetadataSettings(workspaceRoot: string): MetadataSettings {
  let raw: unknown = {};
  try {
    raw = readPluginOptionsFromNxJson(workspaceRoot);
  } catch {
    // no plugin entry (yet): the defaults
  }
  return metadataSettings(resolveOptions(raw, workspaceRoot));
}

export function metadataLoader(workspaceRoot: string, options: ResolvedPluginOptions, contentHashes?: ReadonlyMap<string, string>): MetadataLoader {
  // the graph loads every PKGBUILD: cache entries of deleted or changed ones can go. The default architecture
  // is read first (every PKGBUILD is sourced for it, the others only where CARCH can matter): its results are
  // the ones the .SRCINFO sync reads too, from the same cache entries
  return (dirs, archs) => {
    const first = archs.includes(options.defaultArchitecture) ? [options.defaultArchitecture] : [];
    return readMetadataForArchitectures(workspaceRoot, dirs, [...first, ...archs.filter((a) => !first.includes(a))], metadataSettings(options), { pruneCache: true, contentHashes });
  };
}

/** Bump when the graph computation changes in a way that makes cached graphs wrong. */
const GRAPH_CACHE_VERSION = 'pkgnx-graph-8';

/**
 * Everything the graph depends on, hashed: each PKGBUILD directory's PKGBUILD (or .SRCINFO) bytes and
 * file names, the options, the target repositories. Equal key = equal graph, so a warm Nx command
 * reads one JSON file instead of resolving thousands of packages again.
 */
async function graphCacheKey(workspaceRoot: string, files: string[], options: ResolvedPluginOptions, dirHashes?: readonly string[]): Promise<string> {
  const hash = createHash('sha256').update(GRAPH_CACHE_VERSION).update(JSON.stringify(options)).update(files.join('\0'));
  const metadataFile = options.metadataSource === 'srcinfo' ? '.SRCINFO' : 'PKGBUILD';
  const parts = dirHashes ?? await Promise.all(
    files.map(async (f) => {
      const dir = join(workspaceRoot, dirname(f));
      const [content, names] = await Promise.all([readFile(join(dir, metadataFile)).catch(() => Buffer.from('\0missing')), readdir(dir).catch(() => [])]);
      return createHash('sha256').update(f).update('\0').update(names.sort().join('/')).update('\0').update(content).digest('hex');
    }),
  );
  for (const p of parts) hash.update(p);
  for (const list of Object.values(options.targetRepositories)) {
    for (const db of list) hash.update(await readFile(isAbsolute(db) ? db : join(workspaceRoot, db)).catch(() => Buffer.from('\0missing')));
  }
  // what sourced PKGBUILDs see of the build roots (pacman state, chroot-config) shapes their metadata too
  if (options.metadataSource === 'pkgbuild') {
    for (const arch of options.architectures) hash.update(`${arch}:${metadataView(workspaceRoot, arch).fingerprint}`);
  }
  return `${GRAPH_CACHE_VERSION}:${hash.digest('hex')}`;
}

async function loadGraphCached(workspaceRoot: string, files: string[], options: ResolvedPluginOptions, dirHashes?: readonly string[]): Promise<WorkspaceGraph> {
  if (process.env.NX_CACHE_PROJECT_GRAPH === 'false') return loadWorkspaceGraph({ workspaceRoot, pkgbuildFiles: files, options, loadMetadata: metadataLoader(workspaceRoot, options) });
  const key = await graphCacheKey(workspaceRoot, files, options, dirHashes);
  // Nx hands the plugin its own directory hashes, the CLI verbs hash the files themselves: the two keys
  // differ for the same graph, so each keeps its own file instead of evicting the other's
  const cacheFile = join(workspaceRoot, WORKSPACE_DATA, dirHashes ? 'graph-nx.json' : 'graph-cli.json');
  // the file this process wrote or read last, unchanged since, holds another key: not read again (20 MB at 8,000 PKGBUILDs)
  const identity = fileIdentity(cacheFile);
  const known = knownGraphFiles.get(cacheFile);
  // an earlier graph of this workspace (one PKGBUILD edited, most often): its resolution, or its cycle breaks, may
  // still hold. Only that part is kept: the rest of a parsed file can go before the new graph is computed
  let previous = known && known.identity === identity ? known.resolved : undefined;
  if (!(known && known.key !== key && known.identity === identity)) {
    try {
      const cached = JSON.parse(await readFile(cacheFile, 'utf8')) as { key: string; graph: WorkspaceGraph };
      const resolved = cached.key.startsWith(`${GRAPH_CACHE_VERSION}:`) ? resolvedPart(cached.graph) : undefined;
      if (identity) knownGraphFiles.set(cacheFile, { identity, key: cached.key, resolved });
      if (cached.key === key) return expandSharedMetadata(cached.graph);
      previous = resolved;
    } catch {
      // no cache yet, or unreadable: compute
    }
  }
  const contentHashes = dirHashes ? new Map(files.map((f, i) => [join(workspaceRoot, dirname(f)), dirHashes[i]])) : undefined;
  const graph = await loadWorkspaceGraph({ workspaceRoot, pkgbuildFiles: files, options, loadMetadata: metadataLoader(workspaceRoot, options, contentHashes), previous });
  // broken projects are cached too: their errors come from the content in the key (a PKGBUILD that ran
  // out of time is retried when sandboxTimeoutSeconds, an option in the key, grows)
  await mkdir(dirname(cacheFile), { recursive: true });
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify({ key, graph: shareMetadata(graph) }));
  await rename(tmp, cacheFile);
  const written = fileIdentity(cacheFile);
  if (written) knownGraphFiles.set(cacheFile, { identity: written, key, resolved: resolvedPart(graph) });
  return graph;
}

/** graph cache file -> the identity and key it had when this process last wrote or read it, and its resolution */
const knownGraphFiles = new Map<string, { identity: string; key: string; resolved?: ResolvedPart }>();

/** the reusable part of a graph (undefined for a cached graph without it) */
function resolvedPart(graph: WorkspaceGraph): ResolvedPart | undefined {
  const { edges, cycles, selfCycles, warnings, fingerprint, resolutionKey } = graph;
  if (!Array.isArray(edges) || typeof cycles?.key !== 'string' || !Array.isArray(selfCycles) || !Array.isArray(warnings) || typeof resolutionKey !== 'string') return undefined;
  return { edges, cycles, selfCycles, warnings, fingerprint, resolutionKey };
}

/**
 * In the cache file a project's metadata for a second architecture that equals the first's (every
 * architecture-independent PKGBUILD, most of them) is the first's architecture name: at distribution scale
 * with two architectures the file, and the memory of reading it on every command, shrink by a third.
 */
function shareMetadata(graph: WorkspaceGraph): WorkspaceGraph {
  const projects = graph.projects.map((p) => {
    const archs = Object.keys(p.metadata);
    if (archs.length < 2) return p;
    const first = JSON.stringify(p.metadata[archs[0]]);
    const metadata: Record<string, unknown> = { [archs[0]]: p.metadata[archs[0]] };
    for (const a of archs.slice(1)) metadata[a] = JSON.stringify(p.metadata[a]) === first.replace(`"carch":"${archs[0]}"`, `"carch":"${a}"`) ? archs[0] : p.metadata[a];
    return { ...p, metadata: metadata as GraphProject['metadata'] };
  });
  return { ...graph, projects };
}

function expandSharedMetadata(graph: WorkspaceGraph): WorkspaceGraph {
  for (const p of graph.projects) {
    for (const [arch, m] of Object.entries(p.metadata as Record<string, PackageBaseMetadata | string>)) {
      if (typeof m === 'string') p.metadata[arch] = { ...p.metadata[m], carch: arch };
    }
  }
  return graph;
}

// createNodes and createDependencies run in the same plugin worker within one graph computation:
// keep the last graph so the dependencies do not resolve everything a second time.
let lastGraph: { key: string; contents: string | undefined; graph: Promise<WorkspaceGraph> } | undefined;

/**
 * @param dirHashes content hashes of each PKGBUILD's directory, in the order of `pkgbuildFiles` (the
 *   Nx plugin's createNodes gets them from Nx's own file hashes). Without them (createDependencies, the
 *   CLI) the graph of the last call with the same files and options is reused, else computed.
 */
export function workspaceGraph(workspaceRoot: string, pkgbuildFiles: readonly string[], rawOptions: unknown, dirHashes?: readonly string[]): Promise<WorkspaceGraph> {
  const options = resolveOptions(rawOptions, workspaceRoot);
  const order = pkgbuildFiles.map((f, i) => [f, i] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const files = order.map(([f]) => f);
  const hashes = dirHashes && dirHashes.length === files.length ? order.map(([, i]) => dirHashes[i]) : undefined;
  const key = JSON.stringify([workspaceRoot, files, options]);
  // a long-lived process (the Nx daemon) sees edited PKGBUILDs under the same file list: the contents count
  const contents = hashes?.join(',');
  const reusable = lastGraph?.key === key && (contents === undefined || lastGraph.contents === contents);
  if (!reusable) {
    const graph = loadGraphCached(workspaceRoot, files, options, hashes);
    const entry = { key, contents, graph };
    lastGraph = entry;
    graph.catch(() => {
      if (lastGraph === entry) lastGraph = undefined;
    });
  }
  return lastGraph!.graph;
}

/**
 * Every PKGBUILD under pkgbuilds/ (for the CLI; Nx hands the plugin its own list). Like Nx's walker it
 * follows no symbolic link and skips unreadable directories; scanPackageDirectories names both.
 */
export async function findPkgbuilds(workspaceRoot: string): Promise<string[]> {
  const fg = (await import('fast-glob')).default;
  return (
    await fg(PKGBUILD_GLOB, { cwd: workspaceRoot, ignore: ['pkgbuilds/*/src/**', 'pkgbuilds/*/pkg/**'], followSymbolicLinks: false, suppressErrors: true })
  ).sort();
}
