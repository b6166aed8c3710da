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
import { createHash } from 'node:crypto';
import { stronglyConnectedComponents as sccOfNames, tarjan } from '../algorithms/scc';
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
  /** the input graph's hash (nodes and every field of every edge): an equal key is an equal result */
  key: string;
  edges: GraphEdge[];
  removed: RemovedEdge[];
  forced: ForcedCycle[];
  /** components (size > 1) of the original graph, largest first */
  components: string[][];
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The graph on integer ids (names sorted, so id order = name order and every traversal is
 * deterministic), with a set of currently removed edges. Paths are searched inside one component.
 */
class IndexedGraph {
  readonly names: string[];
  readonly id = new Map<string, number>();
  readonly out: number[][];
  readonly edge = new Map<number, GraphEdge>();
  readonly removed = new Set<number>();
  private readonly n: number;
  private readonly seen: Int32Array;
  private readonly prev: Int32Array;
  private stamp = 0;

  constructor(nodes: readonly string[], edges: readonly GraphEdge[]) {
    const all = new Set(nodes);
    for (const e of edges) {
      all.add(e.source);
      all.add(e.target);
    }
    this.names = [...all].sort(byName);
    this.names.forEach((name, i) => this.id.set(name, i));
    this.n = this.names.length;
    this.out = this.names.map(() => []);
    for (const e of edges) {
      const s = this.id.get(e.source)!;
      const t = this.id.get(e.target)!;
      const k = this.key(s, t);
      if (s === t || this.edge.has(k)) continue;
      this.edge.set(k, e);
      this.out[s].push(t);
    }
    for (const list of this.out) list.sort((a, b) => a - b);
    this.seen = new Int32Array(this.n);
    this.prev = new Int32Array(this.n);
  }

  key(s: number, t: number): number {
    return s * this.n + t;
  }

  present(s: number, t: number, alsoPresent?: ReadonlySet<number>): boolean {
    const k = this.key(s, t);
    return !this.removed.has(k) || (alsoPresent?.has(k) ?? false);
  }

  /** Shortest path from -> to through members of `comp` (breadth first, ids ascending), or undefined. */
  path(from: number, to: number, comp: Int32Array, compId: number, alsoPresent?: ReadonlySet<number>): number[] | undefined {
    const stamp = ++this.stamp;
    const queue = [from];
    this.seen[from] = stamp;
    for (let qi = 0; qi < queue.length; qi++) {
      const v = queue[qi];
      if (v === to) {
        const p = [to];
        while (p[0] !== from) p.unshift(this.prev[p[0]]);
        return p;
      }
      for (const w of this.out[v]) {
        if (this.seen[w] === stamp || comp[w] !== compId || !this.present(v, w, alsoPresent)) continue;
        this.seen[w] = stamp;
        this.prev[w] = v;
        queue.push(w);
      }
    }
    return undefined;
  }

  /** components among `members` over the edges not removed (the one Tarjan, algorithms/scc.ts) */
  components(members: readonly number[]): number[][] {
    return tarjan(this.n, members, (v) => this.out[v], (v, w) => this.present(v, w));
  }

  edgesWithin(members: readonly number[], comp: Int32Array, compId: number): number[] {
    const keys: number[] = [];
    for (const s of members) for (const t of this.out[s]) if (comp[t] === compId && this.present(s, t)) keys.push(this.key(s, t));
    return keys;
  }
}

/** Strongly connected components of a name graph (exported for reports and tests). */
export function stronglyConnectedComponents(nodes: readonly string[], edges: readonly GraphEdge[]): string[][] {
  const out = new Map<string, string[]>();
  for (const e of edges) if (e.source !== e.target) out.set(e.source, [...(out.get(e.source) ?? []), e.target]);
  const all = [...new Set([...nodes, ...edges.flatMap((e) => [e.source, e.target])])];
  return sccOfNames(all, (n) => out.get(n) ?? []);
}

/** Eades-Lin-Smyth: a vertex order with few backward edges; ties broken by id (name order). */
function eadesOrder(g: IndexedGraph, members: readonly number[], comp: Int32Array, compId: number): number[] {
  const outs = new Map<number, Set<number>>();
  const ins = new Map<number, Set<number>>();
  for (const v of members) {
    outs.set(v, new Set());
    ins.set(v, new Set());
  }
  for (const v of members) {
    for (const w of g.out[v]) {
      if (comp[w] !== compId || !g.present(v, w)) continue;
      outs.get(v)!.add(w);
      ins.get(w)!.add(v);
    }
  }
  const remaining = new Set([...members].sort((a, b) => a - b));
  const head: number[] = [];
  const tail: number[] = [];
  const take = (v: number): void => {
    remaining.delete(v);
    for (const w of outs.get(v)!) ins.get(w)!.delete(v);
    for (const u of ins.get(v)!) outs.get(u)!.delete(v);
  };
  while (remaining.size > 0) {
    let changed = true;
    while (changed) {
      changed = false;
      for (const v of [...remaining]) {
        if (outs.get(v)!.size === 0) {
          tail.unshift(v);
          take(v);
          changed = true;
        } else if (ins.get(v)!.size === 0) {
          head.push(v);
          take(v);
          changed = true;
        }
      }
    }
    if (remaining.size === 0) break;
    let best = -1;
    let bestDelta = -Infinity;
    for (const v of remaining) {
      const delta = outs.get(v)!.size - ins.get(v)!.size;
      if (delta > bestDelta) {
        best = v;
        bestDelta = delta;
      }
    }
    head.push(best);
    take(best);
  }
  return [...head, ...tail];
}

const KIND_WORDS: Record<DependencyKind, string> = { depends: 'depends', makedepends: 'makedepends', checkdepends: 'checkdepends' };

function describe(edge: GraphEdge): string {
  return `${edge.source} -> ${edge.target} (${edge.kinds.map((k) => KIND_WORDS[k]).join('+')} ${edge.deps.map((d) => `'${d}'`).join(', ')})`;
}

/**
 * Remove `candidates` (edge keys) from the graph, then put back, one by one in name order, every
 * candidate that no longer closes a cycle. Returns the edges that stay removed, each with a cycle it
 * closed in the graph as it was before this step.
 */
function removeThenRestore(g: IndexedGraph, candidates: number[], comp: Int32Array, compId: number): { edge: GraphEdge; cycle: string[] }[] {
  const stage = new Set(candidates);
  for (const k of candidates) g.removed.add(k);
  const kept: number[] = [];
  for (const k of [...candidates].sort((a, b) => a - b)) {
    const e = g.edge.get(k)!;
    const s = g.id.get(e.source)!;
    const t = g.id.get(e.target)!;
    if (g.path(t, s, comp, compId)) kept.push(k);
    else g.removed.delete(k);
  }
  return kept.map((k) => {
    const e = g.edge.get(k)!;
    const s = g.id.get(e.source)!;
    const t = g.id.get(e.target)!;
    const back = g.path(t, s, comp, compId, stage) ?? [t, s];
    return { edge: e, cycle: [e.source, ...back.map((i) => g.names[i])] };
  });
}

// the Nx daemon computes the graph again on every save, and most saves change no edge: the same input gives
// the same result (0.5 s at 8,000 packages), so the last one is kept
let lastBreak: CycleBreakResult | undefined;

/** Equal for an equal graph: the nodes, and every field of every edge, in order. */
function breakKey(nodes: readonly string[], edges: readonly GraphEdge[]): string {
  const h = createHash('sha256');
  h.update(nodes.join('\0'));
  for (const e of edges) h.update(`\n${e.source}\0${e.target}\0${e.kinds.join(',')}\0${e.deps.join('\0')}\0${e.binaryAvailable ?? '\u0001'}\0${e.declaredBreakable === true}`);
  return h.digest('hex');
}

/**
 * The acyclic graph and the report (see the module comment). The result is shared: callers must not change it.
 * @param earlier a result computed before, e.g. by an earlier process (kept in the graph cache): returned
 *   when its key is this input's
 */
export function breakCycles(nodes: readonly string[], edges: readonly GraphEdge[], earlier?: CycleBreakResult): CycleBreakResult {
  const key = breakKey(nodes, edges);
  if (lastBreak?.key === key) return lastBreak;
  lastBreak = earlier?.key === key ? earlier : computeBreaks(key, nodes, edges);
  return lastBreak;
}

function computeBreaks(key: string, nodes: readonly string[], edges: readonly GraphEdge[]): CycleBreakResult {
  const g = new IndexedGraph(nodes, edges);
  const removed: RemovedEdge[] = [];
  const forced: ForcedCycle[] = [];
  const comp = new Int32Array(g.names.length).fill(-1);
  let nextComp = 0;
  const label = (members: number[]): number => {
    const id = nextComp++;
    for (const m of members) comp[m] = id;
    return id;
  };
  const initial = g.components(g.names.map((_, i) => i)).filter((c) => c.length > 1);
  const components = initial.map((c) => c.map((i) => g.names[i]));

  const stages: { reason: Exclude<RemovalReason, 'forced'>; pick: (e: GraphEdge) => boolean; explain: (e: GraphEdge) => string }[] = [
    {
      reason: 'checkdepends',
      pick: (e) => e.kinds.every((k) => k === 'checkdepends'),
      explain: (e) => `only checkdepends: ${e.source} is built first with --nocheck, without waiting for ${e.target}`,
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

  // component by component: an edge between components never closes a cycle
  let pending = initial;
  for (const stage of stages) {
    const next: number[][] = [];
    for (const members of pending) {
      const id = label(members);
      const candidates = g.edgesWithin(members, comp, id).filter((k) => stage.pick(g.edge.get(k)!));
      if (candidates.length > 0) {
        for (const { edge, cycle } of removeThenRestore(g, candidates, comp, id)) {
          removed.push({ ...edge, reason: stage.reason, explanation: stage.explain(edge), cycle });
        }
        next.push(...g.components(members).filter((c) => c.length > 1));
      } else next.push(members);
    }
    pending = next;
  }

  for (const members of pending) {
    const id = label(members);
    const order = eadesOrder(g, members, comp, id);
    const position = new Map(order.map((v, i) => [v, i]));
    // the order puts dependents first and dependencies last, so an edge is a feedback edge when its
    // dependency stands *before* its dependent
    const backward = g.edgesWithin(members, comp, id).filter((k) => {
      const e = g.edge.get(k)!;
      return position.get(g.id.get(e.target)!)! < position.get(g.id.get(e.source)!)!;
    });
    const dropped = removeThenRestore(g, backward, comp, id).map(({ edge, cycle }) => ({
      ...edge,
      reason: 'forced' as const,
      explanation: `no checkdepends, binary or declared break was available for this cycle; ${edge.source} is built before ${edge.target}. To choose the break yourself, add "${edge.source} -> ${edge.target}" (or another edge of the cycle) to the plugin option breakEdges, or configure targetRepositories so ${edge.target} can come from the binary repository`,
      cycle,
    }));
    removed.push(...dropped);
    forced.push({ members: members.map((i) => g.names[i]), removed: dropped });
  }

  // a later stage can make an earlier removal unnecessary: one last pass puts back every edge that no
  // longer closes a cycle, the most important kinds first (forced removals are real dependencies)
  const rank: Record<RemovalReason, number> = { forced: 0, declared: 1, 'binary-available': 2, checkdepends: 3 };
  const finalIds = new Map(initial.map((members) => [members[0], label(members)]));
  const compOfMember = new Map<number, number>();
  for (const members of initial) for (const m of members) compOfMember.set(m, finalIds.get(members[0])!);
  const stillRemoved = new Set<RemovedEdge>();
  for (const r of [...removed].sort((a, b) => rank[a.reason] - rank[b.reason] || byName(a.source, b.source) || byName(a.target, b.target))) {
    const s = g.id.get(r.source)!;
    const t = g.id.get(r.target)!;
    g.removed.delete(g.key(s, t));
    if (g.path(t, s, comp, compOfMember.get(s)!)) {
      g.removed.add(g.key(s, t));
      stillRemoved.add(r);
    }
  }
  const finalRemoved = removed.filter((r) => stillRemoved.has(r));
  for (const f of forced) f.removed = f.removed.filter((r) => stillRemoved.has(r));

  const remaining: GraphEdge[] = [];
  g.out.forEach((targets, s) => {
    for (const t of targets) if (g.present(s, t)) remaining.push(g.edge.get(g.key(s, t))!);
  });
  return { key, edges: remaining, removed: finalRemoved, forced: forced.filter((f) => f.removed.length > 0), components: components.sort((a, b) => b.length - a.length || byName(a[0], b[0])) };
}

/** Plain-words report of every removed edge and every forced cycle. */
export function formatCycleReport(result: Omit<CycleBreakResult, 'edges'>): string {
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

/**
 * A build dependency (makedepends/checkdepends) that only the project itself provides, e.g. java24-openjdk's
 * `makedepends=(java-environment>=23)` satisfied by its own `provides=(java-environment=24)`: no other
 * project and no target repository provides it, so its first build needs a binary of it in the build root.
 */
export interface SelfCycle {
  project: string;
  kind: 'makedepends' | 'checkdepends';
  dep: string;
  /** which of its own packages satisfies it, e.g. `provides java-environment=24` */
  satisfiedBy: string;
  /** the architectures where nothing else provides it */
  archs: string[];
  /** those of `archs` whose target repositories were searched (plugin option targetRepositories) */
  targetRepositories: string[];
}

export function describeSelfCycle(c: SelfCycle): string {
  const unsearched = c.archs.filter((a) => !c.targetRepositories.includes(a));
  return (
    `${c.project} (${c.archs.join(', ')}) ${c.kind} '${c.dep}': a self-cycle, only ${c.project} itself ${c.satisfiedBy}; ` +
    `no other project${c.targetRepositories.length ? ' and no target repository' : ''} provides it` +
    (unsearched.length ? ` (no targetRepositories for ${unsearched.join(', ')})` : '') +
    `: its first build needs a bootstrap (a binary of ${c.dep} in the build root${c.kind === 'checkdepends' ? ', or --nocheck' : ''})`
  );
}

/** the self-cycles section of `pkgnx cycles` */
export function formatSelfCycles(list: readonly SelfCycle[]): string {
  if (list.length === 0) return '';
  return `${[`${list.length} build dependenc${list.length === 1 ? 'y' : 'ies'} only the package itself provides (self-cycles, not edges; they need a bootstrap):`, ...list.map((c) => `  - ${describeSelfCycle(c)}`)].join('\n')}\n`;
}
