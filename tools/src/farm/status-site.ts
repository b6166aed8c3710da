/**
 * Writing the status pages of the last run: dist/summary.json as static HTML in dist/status/ (index.html,
 * <arch>.html, the failed builds' logs under logs/), with the workspace version of every package and, when
 * pkgnx.config.json has an `upstream` section and its databases are cached, the upstream and target versions.
 * Used by `pkgnx status-page` and after every build run (the plugin's postTasksExecution).
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunSummary } from '../packaging/run-summary';
import { findPkgbuilds, readPluginOptionsFromNxJson, resolveOptions, workspaceGraph } from '../graph/cached-graph';
import { projectMetadata } from '../graph/workspace-graph';
import { renderStatusPages, type PackageVersions } from './status-page';
import { CONFIG_FILE_NAME, loadUpstreamConfig } from '../upstream/config';
import { loadRepositories } from '../upstream/load-repositories';

async function repoVersions(root: string, warn: (m: string) => void): Promise<{ upstream: Map<string, string>; target: Map<string, string>; targetArch?: string }> {
  const empty = { upstream: new Map<string, string>(), target: new Map<string, string>() };
  const file = join(root, CONFIG_FILE_NAME);
  if (!existsSync(file)) return empty;
  const raw = JSON.parse(readFileSync(file, 'utf8')) as { upstream?: unknown };
  if (raw.upstream === undefined) return empty;
  try {
    const config = loadUpstreamConfig(file);
    const { upstream, target } = await loadRepositories(config, { offline: true, allowFailure: true, warn });
    const versions = (set: typeof upstream.set): Map<string, string> => new Map([...set.bases].map(([k, b]) => [k, b.version]));
    return { upstream: versions(upstream.set), target: versions(target.set), targetArch: config.targetArch };
  } catch (e) {
    warn(`upstream/target versions left blank: ${(e as Error).message}`);
    return empty;
  }
}

export interface StatusSiteOptions {
  /** default dist/status */
  out?: string;
  title?: string;
  warn: (message: string) => void;
}

/** Render `summary` into `out` (written beside and swapped in: a reader never sees half a page set); returns the files. */
export async function writeStatusSite(root: string, summary: RunSummary, opts: StatusSiteOptions): Promise<string[]> {
  const out = opts.out ?? join(root, 'dist', 'status');
  const warn = opts.warn;

  const rawOptions = readPluginOptionsFromNxJson(root);
  const options = resolveOptions(rawOptions, root);
  const graph = await workspaceGraph(root, await findPkgbuilds(root), rawOptions);
  const byName = new Map(graph.projects.map((p) => [p.name, p]));
  const repos = await repoVersions(root, warn);
  const versions = (project: string, arch: string): PackageVersions => {
    const p = byName.get(project);
    const pkgbase = p ? projectMetadata(p, arch).pkgbase : project;
    const workspace = p ? projectMetadata(p, arch).version : undefined;
    const onTarget = repos.targetArch === undefined || repos.targetArch === arch;
    return {
      ...(workspace ? { workspace } : {}),
      ...(repos.upstream.get(pkgbase) ? { upstream: repos.upstream.get(pkgbase) } : {}),
      ...(onTarget && repos.target.get(pkgbase) ? { target: repos.target.get(pkgbase) } : {}),
    };
  };

  // written beside, then swapped in: a reader never sees half a page set
  const tmp = `${out}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, 'logs'), { recursive: true });
  const logHref = (log: string): string => {
    const src = join(root, log);
    const name = `${log.split('/').slice(-2).join('-')}`;
    if (existsSync(src)) copyFileSync(src, join(tmp, 'logs', name));
    return `logs/${encodeURIComponent(name)}`;
  };
  const pages = renderStatusPages(summary, options.defaultArchitecture, versions, logHref, opts.title);
  for (const p of pages) writeFileSync(join(tmp, p.file), p.html);
  rmSync(out, { recursive: true, force: true });
  renameSync(tmp, out);
  return pages.map((p) => join(out, p.file));
}
