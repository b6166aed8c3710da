/**
 * Loading the workspace graph the same way for the Nx plugin and for the CLI verbs: options from
 * nx.json (or given), architectures discovered from chroot-config/, metadata from the sandboxed
 * extractor (cached on disk) or from committed .SRCINFO files.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolvePluginOptions, type ResolvedPluginOptions } from './options';
import { loadWorkspaceGraph, srcinfoFileLoader, type MetadataLoader, type WorkspaceGraph } from './workspace-graph';

export const PKGBUILD_GLOB = 'pkgbuilds/**/PKGBUILD';
/** where the metadata cache lives (inside .nx/workspace-data: ignored by git, cleared by `nx reset`) */
export const WORKSPACE_DATA = join('.nx', 'workspace-data', 'pkgnx');
export const PLUGIN_PATH = './tools/plugin/index.ts';

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
    if (/tools\/plugin(\/index(\.ts)?)?$/.test(name)) return typeof entry === 'string' ? {} : (entry.options ?? {});
  }
  throw new Error(`${join(workspaceRoot, 'nx.json')}: no plugins[] entry for ${PLUGIN_PATH}`);
}

export function metadataLoader(workspaceRoot: string, options: ResolvedPluginOptions): MetadataLoader {
  if (options.metadataSource === 'srcinfo') return srcinfoFileLoader(workspaceRoot);
  return async (dirs, carch) => {
    // loaded lazily: the sandbox runner is only needed when metadata comes from PKGBUILDs
    const { extractSrcinfo } = await import('../pkgbuild');
    return extractSrcinfo(dirs, {
      carch,
      timeoutMs: options.sandboxTimeoutSeconds * 1000,
      cacheDir: join(workspaceRoot, WORKSPACE_DATA, 'metadata'),
      workspaceRoot,
    });
  };
}

// createNodes and createDependencies run in the same plugin worker within one graph computation:
// keep the last graph so the dependencies do not resolve everything a second time.
let lastGraph: { key: string; graph: Promise<WorkspaceGraph> } | undefined;

export function workspaceGraph(workspaceRoot: string, pkgbuildFiles: readonly string[], rawOptions: unknown): Promise<WorkspaceGraph> {
  const options = resolveOptions(rawOptions, workspaceRoot);
  const files = [...pkgbuildFiles].sort();
  const key = JSON.stringify([workspaceRoot, files, options]);
  if (lastGraph?.key !== key) {
    const graph = loadWorkspaceGraph({ workspaceRoot, pkgbuildFiles: files, options, loadMetadata: metadataLoader(workspaceRoot, options) });
    lastGraph = { key, graph };
    graph.catch(() => {
      if (lastGraph?.graph === graph) lastGraph = undefined;
    });
  }
  return lastGraph.graph;
}

/** Every PKGBUILD under pkgbuilds/ (for the CLI; Nx hands the plugin its own list). */
export async function findPkgbuilds(workspaceRoot: string): Promise<string[]> {
  const fg = (await import('fast-glob')).default;
  return (await fg(PKGBUILD_GLOB, { cwd: workspaceRoot, ignore: ['pkgbuilds/*/src/**', 'pkgbuilds/*/pkg/**'] })).sort();
}
