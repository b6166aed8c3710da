/**
 * `pkgnx status-page`: dist/summary.json as static HTML in dist/status/ (index.html, <arch>.html, the failed
 * builds' logs under logs/), with the workspace version of every package and, when pkgnx.config.json has an
 * `upstream` section and its databases are cached (`pkgnx outdated` fetched them), the upstream and target
 * versions. Publish the directory as it is (e.g. `aws s3 sync dist/status s3://bucket/status/`).
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { RunSummary } from '../packaging/run-summary';
import { findPkgbuilds, readPluginOptionsFromNxJson, resolveOptions, workspaceGraph } from '../graph/cached-graph';
import { projectMetadata } from '../graph/workspace-graph';
import { renderStatusPages, type PackageVersions } from '../farm/status-page';
import { CONFIG_FILE_NAME, loadUpstreamConfig } from '../upstream/config';
import { loadRepositories } from '../upstream/load-repositories';
import { UsageError } from './support';

const HELP = `usage: status-page [--workspace DIR] [--out DIR] [--title TEXT]
  render dist/summary.json (the last run) as static HTML pages: DIR/index.html and DIR/<arch>.html
  --out DIR        default dist/status (the failed builds' logs are copied to DIR/logs/)
  --title TEXT     page title (default "pkgnx build status")
  versions: workspace (the PKGBUILDs), upstream and target (pkgnx.config.json "upstream", cached databases
  only: run \`pkgnx outdated --dry-run\` first to fetch them); blank when unknown
exit codes: 0 ok, 1 failure, 2 usage error`;

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

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { workspace: { type: 'string' }, out: { type: 'string' }, title: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const root = resolve(values.workspace ?? process.cwd());
  const summaryFile = join(root, 'dist', 'summary.json');
  if (!existsSync(summaryFile)) throw new UsageError(`${summaryFile} does not exist: run a build first (npx nx run-many -t build)`);
  const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as RunSummary;
  const out = resolve(values.out ?? join(root, 'dist', 'status'));
  const warn = (m: string): void => void process.stderr.write(`status-page: ${m}\n`);

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
  const pages = renderStatusPages(summary, options.defaultArchitecture, versions, logHref, values.title);
  for (const p of pages) writeFileSync(join(tmp, p.file), p.html);
  rmSync(out, { recursive: true, force: true });
  renameSync(tmp, out);
  process.stderr.write(`status-page: ${pages.map((p) => join(basename(out), p.file)).join(', ')}\n`);
  return 0;
}
