/**
 * The pkgnx Nx plugin: one project per PKGBUILD directory under pkgbuilds/, named after its pkgbase,
 * with a `build` target per architecture, and static edges from depends/makedepends/checkdepends.
 * Thin adapter: every decision lives in tools/src/graph.
 */
import type { CreateDependencies, CreateNodes, ProjectConfiguration, RawProjectGraphDependency, TargetConfiguration } from '@nx/devkit';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { resolvePluginOptions, type PkgnxPluginOptions, type ResolvedPluginOptions } from '../src/graph/options';
import { loadWorkspaceGraph, projectMetadata, srcinfoFileLoader, type MetadataLoader, type WorkspaceGraph } from '../src/graph/workspace-graph';
import { buildTargetConfiguration } from '../src/graph/targets';

export type { PkgnxPluginOptions };

export const PKGBUILD_GLOB = 'pkgbuilds/**/PKGBUILD';
/** where the metadata cache and graph report live (ignored by git, kept by `nx reset --onlyCache`) */
export const WORKSPACE_DATA = join('.nx', 'workspace-data', 'pkgnx');

function discoverArchitectures(workspaceRoot: string): string[] {
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

function metadataLoader(workspaceRoot: string, options: ResolvedPluginOptions): MetadataLoader {
  if (options.metadataSource === 'srcinfo') return srcinfoFileLoader(workspaceRoot);
  return async (dirs, carch) => {
    // loaded lazily: the sandbox runner is only needed when a PKGBUILD is not in the cache
    const { extractSrcinfo } = await import('../src/pkgbuild');
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
  const key = JSON.stringify([workspaceRoot, [...pkgbuildFiles].sort(), options]);
  if (lastGraph?.key !== key) {
    lastGraph = {
      key,
      graph: loadWorkspaceGraph({ workspaceRoot, pkgbuildFiles: [...pkgbuildFiles], options, loadMetadata: metadataLoader(workspaceRoot, options) }),
    };
  }
  return lastGraph.graph;
}

export const createNodes: CreateNodes<PkgnxPluginOptions> = [
  PKGBUILD_GLOB,
  async (files, rawOptions, context) => {
    const options = resolveOptions(rawOptions, context.workspaceRoot);
    const graph = await workspaceGraph(context.workspaceRoot, files, rawOptions);
    const byFile = new Map(graph.projects.map((p) => [p.pkgbuild, p]));
    const results = files.map((file, i) => {
      const p = byFile.get(file)!;
      const meta = projectMetadata(p, options.defaultArchitecture);
      const defaultMeta = p.metadata[options.defaultArchitecture];
      const tags = ['pkgnx', ...meta.arch.map((a) => `arch:${a}`), ...(meta.pkgnames.length > 1 ? ['split'] : []), ...(p.error ? ['pkgnx:error'] : [])];
      const project: Omit<ProjectConfiguration, 'root'> & { root: string } = {
        root: p.root,
        name: p.name,
        projectType: 'library',
        tags,
        metadata: {
          description: p.error ? `broken PKGBUILD: ${p.error}` : `${meta.pkgnames.join(', ')} ${meta.version}`,
          technologies: ['pacman'],
          pkgnx: { ...meta, ...(defaultMeta ? {} : {}) },
        } as ProjectConfiguration['metadata'],
        targets: {
          [options.buildTargetName]: buildTargetConfiguration(p.name, options) as TargetConfiguration,
        },
      };
      const result: { projects: Record<string, typeof project>; externalNodes?: Record<string, { type: string; name: string; data: { version: string; packageName: string } }> } = {
        projects: { [p.root]: project },
      };
      // Nx keeps static edges per source file and only re-asks for changed files; an edge can change
      // because another PKGBUILD changed (a new provider, a new cycle). This node's version is the
      // graph's fingerprint: when it changes, Nx recomputes every file's dependencies.
      if (i === 0) {
        result.externalNodes = {
          'pkgnx:graph': { type: 'pkgnx', name: 'pkgnx:graph', data: { version: graph.fingerprint, packageName: 'pkgnx-graph-fingerprint' } },
        };
      }
      return [file, result] as const;
    });
    return results;
  },
];

let warnedFingerprint: string | undefined;

export const createDependencies: CreateDependencies<PkgnxPluginOptions> = async (rawOptions, context) => {
  const files = Object.values(context.projects)
    .map((p) => join(p.root, 'PKGBUILD'))
    .filter((f) => f.startsWith('pkgbuilds/') && existsSync(join(context.workspaceRoot, f)));
  const graph = await workspaceGraph(context.workspaceRoot, files, rawOptions);
  if (warnedFingerprint !== graph.fingerprint) {
    warnedFingerprint = graph.fingerprint;
    const broken = graph.projects.filter((p) => p.error);
    const forced = graph.cycles.forced.reduce((n, f) => n + f.removed.length, 0);
    if (broken.length) console.warn(`pkgnx: ${broken.length} PKGBUILD(s) could not be read:\n${broken.map((p) => `  - ${p.error}`).join('\n')}`);
    if (forced) console.warn(`pkgnx: ${forced} dependency edge(s) were removed by a FORCED cycle break; run \`npm run pkgnx -- cycles\` for the report`);
  }
  const deps: RawProjectGraphDependency[] = graph.edges
    .filter((e) => context.projects[e.source] !== undefined || Object.values(context.projects).some((p) => p.name === e.source))
    .map((e) => ({ source: e.source, target: e.target, sourceFile: e.sourceFile, type: 'static' as RawProjectGraphDependency['type'] }) as RawProjectGraphDependency);
  return deps;
};
