/**
 * Strongly connected components (Tarjan), the one implementation: the graph's cycle breaking works on integer
 * ids with edges switched off as it goes, port maintenance on package names. Iterative: the component of real
 * Arch has ~900 members, which recursion would not survive.
 */

/**
 * Components of the subgraph on `members` (ids < n) whose edges are `successors(v)` filtered by `present`.
 * Roots are visited in ascending id order, each component is sorted: the result is deterministic.
 */
export function tarjan(n: number, members: readonly number[], successors: (v: number) => readonly number[], present: (v: number, w: number) => boolean = () => true): number[][] {
  const inSet = new Uint8Array(n);
  for (const m of members) inSet[m] = 1;
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const stack: number[] = [];
  const result: number[][] = [];
  let counter = 0;
  for (const root of [...members].sort((a, b) => a - b)) {
    if (index[root] !== -1) continue;
    const work: [node: number, next: number][] = [];
    const visit = (v: number): void => {
      index[v] = low[v] = counter++;
      stack.push(v);
      onStack[v] = 1;
      work.push([v, 0]);
    };
    visit(root);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const v = frame[0];
      const succ = successors(v);
      if (frame[1] < succ.length) {
        const w = succ[frame[1]++];
        if (!inSet[w] || !present(v, w)) continue;
        if (index[w] === -1) visit(w);
        else if (onStack[w]) low[v] = Math.min(low[v], index[w]);
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1][0];
        low[parent] = Math.min(low[parent], low[v]);
      }
      if (low[v] === index[v]) {
        const comp: number[] = [];
        let m: number;
        do {
          m = stack.pop()!;
          onStack[m] = 0;
          comp.push(m);
        } while (m !== v);
        result.push(comp.sort((a, b) => a - b));
      }
    }
  }
  return result;
}

/** Components of a graph of names (every name given, plus those only edges mention), names sorted for ids. */
export function stronglyConnectedComponents(names: readonly string[], successors: (n: string) => readonly string[]): string[][] {
  const all = [...new Set([...names, ...names.flatMap((n) => successors(n))])].sort();
  const id = new Map(all.map((n, i) => [n, i]));
  const out = all.map((n) => [...new Set((names.includes(n) ? successors(n) : []).map((s) => id.get(s)!))].sort((a, b) => a - b));
  return tarjan(all.length, all.map((_, i) => i), (v) => out[v]).map((c) => c.map((i) => all[i]));
}
