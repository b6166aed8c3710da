/**
 * `pkgnx cycles`: every dependency edge removed to hand Nx an acyclic graph, with its kind and
 * reason, every cycle that needed a forced break, and every build dependency only the package itself
 * provides (a self-cycle that needs a bootstrap), in plain words.
 *   npm run pkgnx -- cycles [--json] [--workspace DIR]
 */
import { parseArgs } from 'node:util';
import { findPkgbuilds, readPluginOptionsFromNxJson, workspaceGraph } from '../graph/load';
import { formatCycleReport, formatSelfCycles } from '../graph/cycles';

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean' }, workspace: { type: 'string' } } });
  const root = values.workspace ?? process.cwd();
  const graph = await workspaceGraph(root, await findPkgbuilds(root), readPluginOptionsFromNxJson(root));
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ components: graph.cycles.components, removed: graph.cycles.removed, forced: graph.cycles.forced, selfCycles: graph.selfCycles }, null, 2)}\n`);
  } else {
    process.stdout.write(formatCycleReport(graph.cycles) + formatSelfCycles(graph.selfCycles));
  }
  return 0;
}
