/**
 * Nx's task graph as `nx run-many|affected -t build --graph=tasks.json` writes it (Nx 24: dependency
 * edges are `{id}` objects; older versions wrote plain ids), reduced to what a pipeline needs: tasks,
 * their direct dependencies with the transitively implied ones removed, and levels.
 */

export interface FarmTask {
  id: string;
  project: string;
  target: string;
  configuration?: string;
}

export interface FarmTaskGraph {
  /** sorted by id */
  tasks: FarmTask[];
  /** task id -> ids of the tasks it waits for (direct edges as Nx gave them) */
  deps: Map<string, string[]>;
}

export class TaskGraphError extends Error {}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const isObj = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads the graph file's JSON; errors name the file and the key. */
export function parseTaskGraph(raw: unknown, file: string): FarmTaskGraph {
  if (!isObj(raw)) throw new TaskGraphError(`${file}: expected a JSON object (nx ... --graph=${file})`);
  // `nx run-many --graph=f.json` nests under "tasks"; a bare task graph has tasks/dependencies at the top
  const tg = isObj(raw.tasks) && isObj(raw.tasks.tasks) ? raw.tasks : raw;
  if (!isObj(tg.tasks)) throw new TaskGraphError(`${file}: no key 'tasks.tasks': not a task graph (write it with nx run-many -t build --graph=${file})`);
  const deps = isObj(tg.dependencies) ? tg.dependencies : {};
  const tasks: FarmTask[] = [];
  for (const [id, t] of Object.entries(tg.tasks)) {
    if (!isObj(t) || !isObj(t.target) || typeof t.target.project !== 'string' || typeof t.target.target !== 'string')
      throw new TaskGraphError(`${file}: tasks.tasks["${id}"].target: expected {project, target, configuration?}`);
    const configuration = typeof t.target.configuration === 'string' ? t.target.configuration : undefined;
    tasks.push({ id, project: t.target.project, target: t.target.target, ...(configuration ? { configuration } : {}) });
  }
  tasks.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const ids = new Set(tasks.map((t) => t.id));
  const out = new Map<string, string[]>();
  for (const t of tasks) {
    const list = deps[t.id] ?? [];
    if (!Array.isArray(list)) throw new TaskGraphError(`${file}: tasks.dependencies["${t.id}"]: expected an array`);
    const ds = list.map((d, i) => {
      const id = typeof d === 'string' ? d : isObj(d) && typeof d.id === 'string' ? d.id : undefined;
      if (id === undefined) throw new TaskGraphError(`${file}: tasks.dependencies["${t.id}"][${i}]: expected {id} or a task id`);
      if (!ids.has(id)) throw new TaskGraphError(`${file}: tasks.dependencies["${t.id}"][${i}]: unknown task '${id}'`);
      return id;
    });
    out.set(t.id, [...new Set(ds)].sort());
  }
  return { tasks, deps: out };
}

/** Topological order (dependencies first); throws naming a cycle. */
export function topoOrder(ids: readonly string[], deps: ReadonlyMap<string, readonly string[]>): string[] {
  const state = new Map<string, 1 | 2>();
  const order: string[] = [];
  for (const root of ids) {
    if (state.has(root)) continue;
    // iterative DFS: a 2,618-task graph can be deeper than a comfortable recursion
    const stack: { id: string; i: number }[] = [{ id: root, i: 0 }];
    state.set(root, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const ds = deps.get(top.id) ?? [];
      if (top.i < ds.length) {
        const d = ds[top.i++];
        const s = state.get(d);
        if (s === 1) {
          const cycle = [...stack.slice(stack.findIndex((f) => f.id === d)).map((f) => f.id), d];
          throw new TaskGraphError(`the task graph has a cycle: ${cycle.join(' -> ')}`);
        }
        if (s === undefined) {
          state.set(d, 1);
          stack.push({ id: d, i: 0 });
        }
      } else {
        state.set(top.id, 2);
        order.push(top.id);
        stack.pop();
      }
    }
  }
  return order;
}

/**
 * Removes every edge a -> c that another path a -> b -> ... -> c implies (the transitive reduction of a
 * DAG is unique). Reachability is kept as bit sets over the topological order, so the 2,618-task
 * synthetic distribution takes milliseconds.
 */
export function transitiveReduction(ids: readonly string[], deps: ReadonlyMap<string, readonly string[]>): Map<string, string[]> {
  const order = topoOrder(ids, deps);
  const index = new Map(order.map((id, i) => [id, i]));
  const words = Math.ceil(order.length / 32);
  // reach[i]: every task i waits for, directly or not
  const reach = order.map(() => new Uint32Array(words));
  const has = (set: Uint32Array, j: number): boolean => (set[j >>> 5] & (1 << (j & 31))) !== 0;
  const out = new Map<string, string[]>();
  order.forEach((id, i) => {
    const ds = (deps.get(id) ?? []).map((d) => index.get(d) as number);
    const r = reach[i];
    for (const j of ds) {
      const rj = reach[j];
      for (let w = 0; w < words; w++) r[w] |= rj[w];
      r[j >>> 5] |= 1 << (j & 31);
    }
    // d is implied when another direct dependency already waits for it
    const kept = ds.filter((j) => !ds.some((k) => k !== j && has(reach[k], j)));
    out.set(id, kept.map((j) => order[j]).sort());
  });
  return out;
}

/** level = length of the longest dependency chain below a task (0: waits for nothing) */
export function taskLevels(ids: readonly string[], deps: ReadonlyMap<string, readonly string[]>): Map<string, number> {
  const level = new Map<string, number>();
  for (const id of topoOrder(ids, deps)) level.set(id, Math.max(-1, ...(deps.get(id) ?? []).map((d) => level.get(d) ?? 0)) + 1);
  return level;
}
