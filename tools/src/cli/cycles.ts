/**
 * `pkgnx cycles`: every dependency edge removed to hand Nx an acyclic graph, with its kind and
 * reason, every cycle that needed a forced break, and every build dependency only the package itself
 * provides (a self-cycle that needs a bootstrap), in plain words.
 *   npx pkgnx cycles [--json] [--workspace DIR]
 */
import { loadGraphForVerb } from './support';
import { formatCycleReport, formatSelfCycles } from '../graph/cycles';

const HELP = `usage: cycles [--json] [--workspace DIR]
  every dependency edge removed to give Nx an acyclic graph (checkdepends, binary available in the target
  repository, declared in breakEdges, forced), with its reason and the cycle it closed; then every build
  dependency only the package itself provides (a self-cycle that needs a bootstrap)
  --json            the same as JSON (components, removed, forced, selfCycles)
  --workspace DIR   the workspace (default: the current directory)
exit codes: 0 ok, 1 failure, 2 usage error`;

export async function main(argv: string[]): Promise<number> {
  const loaded = await loadGraphForVerb(argv, HELP);
  if (!loaded) return 0;
  const { graph } = loaded;
  if (loaded.json) {
    process.stdout.write(`${JSON.stringify({ components: graph.cycles.components, removed: graph.cycles.removed, forced: graph.cycles.forced, selfCycles: graph.selfCycles }, null, 2)}\n`);
  } else {
    process.stdout.write(formatCycleReport(graph.cycles) + formatSelfCycles(graph.selfCycles));
  }
  return 0;
}
