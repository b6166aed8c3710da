/**
 * `pkgnx graph`: the resolved dependencies of every project, the PKGBUILDs that could not be read, the
 * package directories not loaded (symbolic links, unreadable), and the graph warnings (several providers,
 * unsatisfied versions, unprovided dependencies, pkgbases in several directories, self-cycles).
 *   npx pkgnx graph [--json] [--workspace DIR]
 */
import { dirname } from 'node:path';
import { loadGraphForVerb } from './support';
import { scanPackageDirectories } from '../graph/package-dirs';

const HELP = `usage: graph [--json] [--workspace DIR]
  the resolved dependencies of every project, the PKGBUILDs that could not be read, the package directories
  not loaded (symbolic links, unreadable), and the graph warnings (several providers, unsatisfied versions,
  pkgbases in several directories, self-cycles, ...)
  --json            the same as JSON (projects, edges, errors, notLoaded, warnings, removedEdges)
  --workspace DIR   the workspace (default: the current directory)
exit codes: 0 ok, 1 some PKGBUILD could not be read, 2 usage error`;

export async function main(argv: string[]): Promise<number> {
  const loaded = await loadGraphForVerb(argv, HELP);
  if (!loaded) return 0;
  const { graph, root, json } = loaded;
  const notLoaded = scanPackageDirectories(root, loaded.pkgbuildFiles.map((f) => dirname(f)));
  const errors = graph.projects.filter((p) => p.error).map((p) => ({ project: p.name, error: p.error! }));
  if (json) {
    const edges = graph.edges.map(({ source, target, kinds, deps, sourceFile }) => ({ source, target, kinds, deps, sourceFile }));
    process.stdout.write(`${JSON.stringify({ projects: graph.projects.map((p) => p.name), edges, errors, notLoaded, warnings: graph.warnings, removedEdges: graph.cycles.removed.length }, null, 2)}\n`);
    return errors.length ? 1 : 0;
  }
  const out: string[] = [];
  const bySource = new Map<string, string[]>();
  for (const e of graph.edges) bySource.set(e.source, [...(bySource.get(e.source) ?? []), `${e.target} (${e.kinds.join('+')}: ${e.deps.join(', ')})`]);
  for (const p of graph.projects) {
    out.push(`${p.name}${p.error ? '  [ERROR]' : ''}`);
    for (const d of bySource.get(p.name) ?? []) out.push(`  -> ${d}`);
  }
  if (errors.length) out.push('', `PKGBUILDs that could not be read (${errors.length}):`, ...errors.map((e) => `  - ${e.error}`));
  if (notLoaded.length) out.push('', `package directories not loaded (${notLoaded.length}):`, ...notLoaded.map((w) => `  - ${w}`));
  if (graph.warnings.length) out.push('', `warnings (${graph.warnings.length}):`, ...graph.warnings.map((w) => `  - ${w}`));
  if (graph.cycles.removed.length) out.push('', `${graph.cycles.removed.length} edge(s) removed to break cycles: npx pkgnx cycles`);
  process.stdout.write(`${out.join('\n')}\n`);
  return errors.length ? 1 : 0;
}
