/**
 * `pkgnx cycles`: every dependency edge removed to hand Nx an acyclic graph, with its kind and
 * reason, and every cycle that needed a forced break, in plain words.
 *   npm run pkgnx -- cycles [--json] [--workspace DIR]
 */
import { parseArgs } from 'node:util';
import { findPkgbuilds, readPluginOptionsFromNxJson, workspaceGraph } from '../graph/load';
import { formatCycleReport } from '../graph/cycles';

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean' }, workspace: { type: 'string' } } });
  const root = values.workspace ?? process.cwd();
  const graph = await workspaceGraph(root, await findPkgbuilds(root), readPluginOptionsFromNxJson(root));
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ components: graph.cycles.components, removed: graph.cycles.removed, forced: graph.cycles.forced }, null, 2)}\n`);
  } else {
    process.stdout.write(formatCycleReport(graph.cycles));
  }
  return 0;
}
