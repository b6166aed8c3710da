/**
 * Dependency order of a build list. Strongly connected components are found on every edge, so a cycle
 * (including a checkdepends-only one) is placed as a unit after everything any member depends on —
 * never dropped and never put ahead of its own dependencies, the predecessor's stage-0 bug. Inside a
 * component, members are ordered by their depends/makedepends edges where those are acyclic.
 */
import { stronglyConnectedComponents as sccOfNames } from '../algorithms/scc';
import type { DependencyKind } from '../model';

export interface OrderEdge {
  /** the node that must come first */
  to: string;
  kind: DependencyKind;
  /** the dependency string that produced the edge */
  via: string;
}

export interface CycleGroup {
  group: number;
  members: string[];
  /** true when removing checkdepends edges breaks the cycle */
  checkdependsOnly: boolean;
  /** the edges inside the component, `a -> b (kind 'dep')` */
  edges: string[];
}

export interface OrderedNode {
  name: string;
  stage: number;
  sequence: number;
  cycleGroup: number | null;
}

export interface BuildOrder {
  nodes: OrderedNode[];
  cycles: CycleGroup[];
}

/** Components of the graph given by `successors` (the one Tarjan implementation, algorithms/scc.ts). */
export function stronglyConnectedComponents(names: string[], successors: (n: string) => string[]): string[][] {
  return sccOfNames(names, successors);
}

/** Kahn's order of `members` over `edges` (node -> dependencies); returns the order and whatever is left. */
function kahn(members: string[], deps: (n: string) => string[]): { order: string[]; rest: string[] } {
  const set = new Set(members);
  const pending = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const m of members) {
    const ds = [...new Set(deps(m).filter((d) => set.has(d) && d !== m))];
    pending.set(m, ds.length);
    for (const d of ds) dependents.set(d, [...(dependents.get(d) ?? []), m]);
  }
  const ready = members.filter((m) => pending.get(m) === 0).sort();
  const order: string[] = [];
  while (ready.length) {
    const n = ready.shift() as string;
    order.push(n);
    for (const dep of dependents.get(n) ?? []) {
      const left = (pending.get(dep) as number) - 1;
      pending.set(dep, left);
      if (left === 0) {
        ready.push(dep);
        ready.sort();
      }
    }
  }
  const placed = new Set(order);
  return { order, rest: members.filter((m) => !placed.has(m)).sort() };
}

/** Order `names` so that every node comes after the nodes its edges point to; cycles are grouped. */
export function buildOrder(names: string[], edges: Map<string, OrderEdge[]>): BuildOrder {
  const sorted = [...new Set(names)].sort();
  const known = new Set(sorted);
  const succ = (n: string): string[] => [...new Set((edges.get(n) ?? []).map((e) => e.to).filter((t) => known.has(t) && t !== n))].sort();
  const comps = stronglyConnectedComponents(sorted, succ);
  const compOf = new Map<string, number>();
  comps.forEach((c, i) => c.forEach((m) => compOf.set(m, i)));
  // Tarjan emits components in reverse topological order: dependencies first
  const level = new Array<number>(comps.length).fill(0);
  comps.forEach((c, i) => {
    let l = 0;
    for (const m of c) for (const s of succ(m)) if (compOf.get(s) !== i) l = Math.max(l, level[compOf.get(s) as number] + 1);
    level[i] = l;
  });
  const compOrder = comps.map((_c, i) => i).sort((a, b) => level[a] - level[b] || (comps[a][0] < comps[b][0] ? -1 : 1));
  const nodes: OrderedNode[] = [];
  const cycles: CycleGroup[] = [];
  for (const ci of compOrder) {
    const members = comps[ci];
    if (members.length === 1) {
      nodes.push({ name: members[0], stage: level[ci], sequence: nodes.length, cycleGroup: null });
      continue;
    }
    const group = cycles.length;
    const hard = (n: string): string[] => (edges.get(n) ?? []).filter((e) => e.kind !== 'checkdepends').map((e) => e.to);
    const { order, rest } = kahn(members, hard);
    const inner = members.flatMap((m) =>
      (edges.get(m) ?? []).filter((e) => compOf.get(e.to) === ci && e.to !== m).map((e) => `${m} -> ${e.to} (${e.kind} '${e.via}')`),
    );
    cycles.push({ group, members, checkdependsOnly: rest.length === 0, edges: [...new Set(inner)].sort() });
    for (const m of [...order, ...rest]) nodes.push({ name: m, stage: level[ci], sequence: nodes.length, cycleGroup: group });
  }
  return { nodes, cycles };
}
