/**
 * Nx refuses cyclic task graphs, while real distributions are full of cycles (makedepends loops,
 * checkdepends loops, toolchain bootstraps). This module turns a dependency graph into an acyclic one
 * by removing the fewest, most explainable edges, stage by stage:
 *   1. checkdepends-only edges inside a cycle (the package is then built once without its tests' deps
 *      being rebuilt first);
 *   2. edges whose dependency the target binary repository already satisfies (bootstrap from binaries);
 *   3. edges the user declared breakable;
 *   4. a deterministic forced break (Eades-Lin-Smyth ordering), reported loudly.
 * After each stage, removed edges that no longer close a cycle are put back, so only edges that
 * really break a cycle are dropped. Every removal is reported with its reason.
 */
import type { DependencyKind } from '../model';

export interface GraphEdge {
  source: string;
  target: string;
  kinds: DependencyKind[];
  /** the dependency strings that produced the edge, e.g. `python>=3.10` */
  deps: string[];
  /** set when the target repository already has a package satisfying every dep string of the edge */
  binaryAvailable?: string;
  /** the user declared this edge breakable */
  declaredBreakable?: boolean;
}

export type RemovalReason = 'checkdepends' | 'binary-available' | 'declared' | 'forced';

export interface RemovedEdge extends GraphEdge {
  reason: RemovalReason;
  /** plain words: why this edge could go */
  explanation: string;
  /** one cycle the edge closed, as a path `source -> ... -> source` */
  cycle: string[];
}

export interface ForcedCycle {
  /** the strongly connected component that still had cycles after stages 1-3 */
  members: string[];
  removed: RemovedEdge[];
}

export interface CycleBreakResult {
  edges: GraphEdge[];
  removed: RemovedEdge[];
  forced: ForcedCycle[];
  /** components (size > 1) of the original graph, largest first */
  components: string[][];
}

type Adjacency = Map<string, Map<string, GraphEdge>>;

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function adjacencyOf(nodes: readonly string[], edges: readonly GraphEdge[]): Adjacency {
  const adj: Adjacency = new Map(nodes.map((n) => [n, new Map()]));
  for (const e of edges) {
    if (!adj.has(e.source)) adj.set(e.source, new Map());
    if (!adj.has(e.target)) adj.set(e.target, new Map());
    adj.get(e.source)!.set(e.target, e);
  }
  return adj;
}

/** Tarjan's algorithm, iterative (the Arch component has ~900 members: recursion would overflow). */
export function stronglyConnectedComponents(adj: ReadonlyMap<string, ReadonlyMap<string, unknown>>, only?: ReadonlySet<string>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const result: string[][] = [];
  let counter = 0;
  const nodes = [...(only ?? adj.keys())].sort(byName);
  const succ = (n: string): string[] => [...(adj.get(n)?.keys() ?? [])].filter((t) => !only || only.has(t)).sort(byName);
  for (const root of nodes) {
    if (index.has(root)) continue;
    const work: { node: string; next: string[]; i: number }[] = [];
    const visit = (n: string): void => {
      index.set(n, counter);
      low.set(n, counter);
      counter++;
      stack.push(n);
      onStack.add(n);
      work.push({ node: n, next: succ(n), i: 0 });
    };
    visit(root);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      if (frame.i < frame.next.length) {
        const t = frame.next[frame.i++];
        if (!index.has(t)) visit(t);
        else if (onStack.has(t)) low.set(frame.node, Math.min(low.get(frame.node)!, index.get(t)!));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1].node;
        low.set(parent, Math.min(low.get(parent)!, low.get(frame.node)!));
      }
      if (low.get(frame.node) === index.get(frame.node)) {
        const comp: string[] = [];
        let m: string;
        do {
          m = stack.pop()!;
          onStack.delete(m);
          comp.push(m);
        } while (m !== frame.node);
        result.push(comp.sort(byName));
      }
    }
  }
  return result;
}

/** Shortest path from `from` to `to` inside `within`, or undefined. */
function pathBetween(adj: Adjacency, from: string, to: string, within: ReadonlySet<string>): string[] | undefined {
  const prev = new Map<string, string>([[from, from]]);
  const queue = [from];
  for (let qi = 0; qi < queue.length; qi++) {
    const n = queue[qi];
    if (n === to) {
      const path = [to];
      while (path[0] !== from) path.unshift(prev.get(path[0])!);
      return path;
    }
    for (const t of [...(adj.get(n)?.keys() ?? [])].sort(byName)) {
      if (!within.has(t) || prev.has(t)) continue;
      prev.set(t, n);
      queue.push(t);
    }
  }
  return undefined;
}

/** Eades-Lin-Smyth: a vertex order with few backward edges; ties broken by name for determinism. */
function eadesOrder(adj: Adjacency, members: readonly string[]): string[] {
  const inSet = new Set(members);
  const outs = new Map<string, Set<string>>();
  const ins = new Map<string, Set<string>>();
  for (const n of members) {
    outs.set(n, new Set());
    ins.set(n, new Set());
  }
  for (const n of members) {
    for (const t of adj.get(n)?.keys() ?? []) {
      if (!inSet.has(t) || t === n) continue;
      outs.get(n)!.add(t);
      ins.get(t)!.add(n);
    }
  }
  const remaining = new Set([...members].sort(byName));
  const head: string[] = [];
  const tail: string[] = [];
  const remove = (n: string): void => {
    remaining.delete(n);
    for (const t of outs.get(n)!) ins.get(t)!.delete(n);
    for (const s of ins.get(n)!) outs.get(s)!.delete(n);
  };
  while (remaining.size > 0) {
    let changed = true;
    while (changed) {
      changed = false;
      for (const n of [...remaining]) {
        if (outs.get(n)!.size === 0) {
          tail.unshift(n);
          remove(n);
          changed = true;
        } else if (ins.get(n)!.size === 0) {
          head.push(n);
          remove(n);
          changed = true;
        }
      }
    }
    if (remaining.size === 0) break;
    let best: string | undefined;
    let bestDelta = -Infinity;
    for (const n of remaining) {
      const delta = outs.get(n)!.size - ins.get(n)!.size;
      if (delta > bestDelta) {
        best = n;
        bestDelta = delta;
      }
    }
    head.push(best!);
    remove(best!);
  }
  return [...head, ...tail];
}

const KIND_WORDS: Record<DependencyKind, string> = { depends: 'depends', makedepends: 'makedepends', checkdepends: 'checkdepends' };

function describe(edge: GraphEdge): string {
  return `${edge.source} -> ${edge.target} (${edge.kinds.map((k) => KIND_WORDS[k]).join('+')} ${edge.deps.map((d) => `'${d}'`).join(', ')})`;
}

/**
 * Remove `candidates` from the graph, then put back, one by one in a deterministic order, every
 * candidate that no longer closes a cycle. Returns the edges that stay removed with the cycle each closed.
 */
function removeThenRestore(adj: Adjacency, candidates: GraphEdge[], component: ReadonlySet<string>): { edge: GraphEdge; cycle: string[] }[] {
  const cycles = new Map<GraphEdge, string[]>();
  for (const e of candidates) {
    // remember a cycle this edge closes before anything is removed, for the report
    cycles.set(e, [e.source, ...(pathBetween(adj, e.target, e.source, component) ?? [e.target])]);
  }
  for (const e of candidates) adj.get(e.source)!.delete(e.target);
  const removed: { edge: GraphEdge; cycle: string[] }[] = [];
  const order = [...candidates].sort((a, b) => byName(a.source, b.source) || byName(a.target, b.target));
  for (const e of order) {
    if (pathBetween(adj, e.target, e.source, component)) removed.push({ edge: e, cycle: cycles.get(e)! });
    else adj.get(e.source)!.set(e.target, e);
  }
  return removed;
}

export function breakCycles(nodes: readonly string[], edges: readonly GraphEdge[]): CycleBreakResult {
  const adj = adjacencyOf(nodes, edges);
  const removed: RemovedEdge[] = [];
  const forced: ForcedCycle[] = [];
  const components = stronglyConnectedComponents(adj).filter((c) => c.length > 1);

  const stages: { reason: Exclude<RemovalReason, 'forced'>; pick: (e: GraphEdge) => boolean; explain: (e: GraphEdge) => string }[] = [
    {
      reason: 'checkdepends',
      pick: (e) => e.kinds.every((k) => k === 'checkdepends'),
      explain: (e) => `only checkdepends: ${e.source} is built before ${e.target} without rebuilding its test dependency first`,
    },
    {
      reason: 'binary-available',
      pick: (e) => e.binaryAvailable !== undefined,
      explain: (e) => `${e.target}'s packages are already in the target repository (${e.binaryAvailable}); ${e.source} is built against that binary (bootstrap from binaries)`,
    },
    {
      reason: 'declared',
      pick: (e) => e.declaredBreakable === true,
      explain: (e) => `declared breakable in the plugin options (breakEdges: "${e.source} -> ${e.target}")`,
    },
  ];

  // work component by component: edges between components never close a cycle
  let pending = components;
  for (const stage of stages) {
    const next: string[][] = [];
    for (const members of pending) {
      const inComp = new Set(members);
      const candidates = members.flatMap((s) => [...adj.get(s)!.values()].filter((e) => inComp.has(e.target) && stage.pick(e)));
      if (candidates.length > 0) {
        for (const { edge, cycle } of removeThenRestore(adj, candidates, inComp)) {
          removed.push({ ...edge, reason: stage.reason, explanation: stage.explain(edge), cycle });
        }
      }
      next.push(...stronglyConnectedComponents(adj, inComp).filter((c) => c.length > 1));
    }
    pending = next;
  }

  for (const members of pending) {
    const inComp = new Set(members);
    const order = eadesOrder(adj, members);
    const position = new Map(order.map((n, i) => [n, i]));
    // an edge pointing "backwards" in the order: the dependency would be built after its dependent
    const backward = members.flatMap((s) =>
      [...adj.get(s)!.values()].filter((e) => inComp.has(e.target) && position.get(e.target)! > position.get(s)!),
    );
    const dropped = removeThenRestore(adj, backward, inComp).map(({ edge, cycle }) => ({
      ...edge,
      reason: 'forced' as const,
      explanation: `no checkdepends, binary or declared break was available for this cycle; removed ${describe(edge)} so that ${edge.source} is built before ${edge.target}. To choose the break yourself, add "${edge.source} -> ${edge.target}" (or another edge of the cycle) to the plugin option breakEdges, or make ${edge.target} available in the target repository`,
      cycle,
    }));
    removed.push(...dropped);
    forced.push({ members, removed: dropped });
  }

  const remaining: GraphEdge[] = [];
  for (const n of [...adj.keys()].sort(byName)) for (const e of [...adj.get(n)!.values()].sort((a, b) => byName(a.target, b.target))) remaining.push(e);
  return { edges: remaining, removed, forced, components: components.sort((a, b) => b.length - a.length || byName(a[0], b[0])) };
}

/** Plain-words report of every removed edge and every forced cycle. */
export function formatCycleReport(result: CycleBreakResult): string {
  const lines: string[] = [];
  if (result.components.length === 0) return 'No dependency cycles: nothing was removed.\n';
  lines.push(
    `${result.components.length} dependency cycle group(s) (strongly connected components; largest has ${result.components[0].length} packages).`,
    `${result.removed.length} edge(s) were removed to give Nx an acyclic graph:`,
    '',
  );
  const byReason: Record<RemovalReason, RemovedEdge[]> = { checkdepends: [], 'binary-available': [], declared: [], forced: [] };
  for (const r of result.removed) byReason[r.reason].push(r);
  const headings: Record<RemovalReason, string> = {
    checkdepends: 'checkdepends edges inside a cycle',
    'binary-available': 'edges whose dependency the target repository already provides',
    declared: 'edges declared breakable (plugin option breakEdges)',
    forced: 'FORCED breaks (no better edge was available)',
  };
  for (const reason of ['checkdepends', 'binary-available', 'declared', 'forced'] as RemovalReason[]) {
    const list = byReason[reason];
    if (list.length === 0) continue;
    lines.push(`${headings[reason]} (${list.length}):`);
    for (const r of list) {
      lines.push(`  - ${describe(r)}`, `      why: ${r.explanation}`, `      cycle: ${r.cycle.join(' -> ')}`);
    }
    lines.push('');
  }
  if (result.forced.length > 0) {
    lines.push(`WARNING: ${result.forced.length} cycle group(s) needed a forced break:`);
    for (const f of result.forced) {
      const shown = f.members.length > 12 ? `${f.members.slice(0, 12).join(', ')}, ... (${f.members.length} packages)` : f.members.join(', ');
      lines.push(`  - among ${shown}: removed ${f.removed.map((r) => `${r.source} -> ${r.target}`).join(', ')}`);
    }
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}
