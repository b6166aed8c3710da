import { test } from 'node:test';
import assert from 'node:assert/strict';
import { breakCycles, formatCycleReport, stronglyConnectedComponents, type GraphEdge } from '../../tools/src/graph/cycles';
import type { DependencyKind } from '../../tools/src/model';

const edge = (source: string, target: string, kind: DependencyKind = 'depends', extra: Partial<GraphEdge> = {}): GraphEdge => ({
  source, target, kinds: [kind], deps: [target], ...extra,
});

function assertAcyclic(nodes: string[], edges: GraphEdge[]): void {
  assert.ok(stronglyConnectedComponents(nodes, edges).every((c) => c.length === 1), 'graph still has a cycle');
}

test('a checkdepends-only cycle loses exactly its checkdepends edge', () => {
  const nodes = ['dep0', 'x', 'y'];
  const edges = [edge('x', 'y', 'checkdepends'), edge('y', 'x'), edge('x', 'dep0')];
  const r = breakCycles(nodes, edges);
  assert.deepEqual(r.removed.map((e) => [e.source, e.target, e.reason]), [['x', 'y', 'checkdepends']]);
  assert.deepEqual(r.removed[0].cycle, ['x', 'y', 'x']);
  // x is still ordered after its other dependency (predecessor bug: placed at stage 0 before dep0)
  assert.ok(r.edges.some((e) => e.source === 'x' && e.target === 'dep0'));
  assert.equal(r.forced.length, 0);
  assertAcyclic(nodes, r.edges);
});

test('only the checkdepends edges that really close a cycle are removed', () => {
  // a -check-> b -> c -> a closes a cycle; a -check-> d does not
  const nodes = ['a', 'b', 'c', 'd'];
  const edges = [edge('a', 'b', 'checkdepends'), edge('b', 'c'), edge('c', 'a'), edge('a', 'd', 'checkdepends')];
  const r = breakCycles(nodes, edges);
  assert.deepEqual(r.removed.map((e) => `${e.source}->${e.target}`), ['a->b']);
  assert.ok(r.edges.some((e) => e.source === 'a' && e.target === 'd'));
});

test('an edge whose dependency the target repository provides breaks before declared and forced breaks', () => {
  const nodes = ['a', 'b'];
  const edges = [edge('a', 'b', 'makedepends', { binaryAvailable: 'core/b 1-1', declaredBreakable: true }), edge('b', 'a', 'depends', { declaredBreakable: true })];
  const r = breakCycles(nodes, edges);
  assert.deepEqual(r.removed.map((e) => [e.source, e.target, e.reason]), [['a', 'b', 'binary-available']]);
});

test('declared breaks are used before a forced break', () => {
  const r = breakCycles(['a', 'b'], [edge('a', 'b', 'makedepends'), edge('b', 'a', 'depends', { declaredBreakable: true })]);
  assert.deepEqual(r.removed.map((e) => [e.source, e.target, e.reason]), [['b', 'a', 'declared']]);
});

test('a two-package makedepends/depends cycle gets one deterministic, loudly reported forced break', () => {
  const nodes = ['A', 'B', 'C'];
  const edges = [edge('A', 'B'), edge('B', 'A', 'makedepends'), edge('C', 'A')];
  const r1 = breakCycles(nodes, edges);
  const r2 = breakCycles([...nodes].reverse(), [...edges].reverse());
  assert.equal(r1.removed.length, 1);
  assert.equal(r1.removed[0].reason, 'forced');
  assert.deepEqual(r1.removed.map((e) => [e.source, e.target]), r2.removed.map((e) => [e.source, e.target]));
  assert.deepEqual(r1.forced.map((f) => f.members), [['A', 'B']]);
  assertAcyclic(nodes, r1.edges);
  const report = formatCycleReport(r1);
  assert.match(report, /FORCED breaks \(no better edge was available\) \(1\)/);
  assert.match(report, /WARNING: 1 cycle group\(s\) needed a forced break/);
  assert.match(report, /among A, B: removed/);
});

test('a large random graph becomes acyclic and every removed edge really closed a cycle', () => {
  let seed = 7;
  const rnd = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  const nodes = Array.from({ length: 300 }, (_, i) => `p${String(i).padStart(3, '0')}`);
  const kinds: DependencyKind[] = ['depends', 'makedepends', 'checkdepends'];
  const seen = new Set<string>();
  const edges: GraphEdge[] = [];
  for (let i = 0; i < 1500; i++) {
    const s = nodes[Math.floor(rnd() * nodes.length)];
    const t = nodes[Math.floor(rnd() * nodes.length)];
    if (s === t || seen.has(`${s}>${t}`)) continue;
    seen.add(`${s}>${t}`);
    edges.push(edge(s, t, kinds[Math.floor(rnd() * 3)]));
  }
  const r = breakCycles(nodes, edges);
  assertAcyclic(nodes, r.edges);
  assert.equal(r.edges.length + r.removed.length, edges.length);
  // minimality: putting any single removed edge back creates a cycle again
  for (const e of r.removed.slice(0, 25)) {
    assert.ok(stronglyConnectedComponents(nodes, [...r.edges, e]).some((c) => c.length > 1), `${e.source}->${e.target} did not need removing`);
    assert.equal(e.cycle[0], e.source);
    assert.equal(e.cycle[e.cycle.length - 1], e.source);
  }
  assert.ok(r.removed.filter((e) => e.reason === 'checkdepends').length > 0);
});

test('the forced break removes the feedback edge, not the many forward edges', () => {
  // a -> {b, c, d} -> e -> a: removing e -> a alone is enough
  const nodes = ['a', 'b', 'c', 'd', 'e'];
  const edges = [edge('a', 'b'), edge('a', 'c'), edge('a', 'd'), edge('b', 'e'), edge('c', 'e'), edge('d', 'e'), edge('e', 'a', 'makedepends')];
  const r = breakCycles(nodes, edges);
  assert.deepEqual(r.removed.map((e) => `${e.source}->${e.target}`), ['e->a']);
  assertAcyclic(nodes, r.edges);
});

test('a result computed earlier (the graph cache\'s, from another process) is returned for the same graph only', () => {
  const nodes = ['A', 'B', 'C'];
  const edges = [edge('A', 'B'), edge('B', 'A', 'makedepends'), edge('C', 'A')];
  const computed = breakCycles(nodes, edges);
  breakCycles(['X'], []); // another graph: this process no longer holds the first result
  const earlier = { ...computed, components: [['marker']] };
  assert.equal(breakCycles(nodes, edges, earlier), earlier);
  breakCycles(['X'], []);
  const changed = [edge('A', 'B'), edge('B', 'A', 'makedepends')];
  const fresh = breakCycles(nodes, changed, earlier);
  assert.notEqual(fresh, earlier);
  assert.notEqual(fresh.key, earlier.key);
  assert.deepEqual(fresh.components, [['A', 'B']]);
});
