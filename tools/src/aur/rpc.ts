/**
 * AUR RPC v5 client (`/rpc/v5/info?arg[]=a&arg[]=b`, type `multiinfo`) and recursive dependency
 * resolution in the manner of aurutils' aur-depends: breadth-first over the RPC in rounds, a
 * dependency satisfied by the workspace, by the target repositories or by an AUR package already
 * chosen (its name or its `Provides`, with libalpm version rules) is not fetched again; the result
 * is the pkgbases in dependency order.
 */
import { parseDependency, provisionSatisfies, satisfiesLiterally, type Dependency } from '../depends';

export const DEFAULT_AUR_BASE_URL = 'https://aur.archlinux.org';

/** One entry of `results` as the AUR returns it (v5); list fields are absent when empty. */
export interface AurPackage {
  ID: number;
  Name: string;
  PackageBase: string;
  PackageBaseID: number;
  Version: string;
  Description: string | null;
  URL: string | null;
  URLPath: string | null;
  Maintainer: string | null;
  NumVotes: number;
  Popularity: number;
  OutOfDate: number | null;
  FirstSubmitted: number;
  LastModified: number;
  Depends?: string[];
  MakeDepends?: string[];
  CheckDepends?: string[];
  OptDepends?: string[];
  Provides?: string[];
  Conflicts?: string[];
  Replaces?: string[];
  License?: string[];
  Keywords?: string[];
}

export interface AurRpcResponse {
  resultcount: number;
  results: AurPackage[];
  type: 'multiinfo' | 'search' | 'error';
  version: number;
  error?: string;
}

export class AurRpcError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AurRpcError';
  }
}

export type FetchLike = (url: string) => Promise<{ ok: boolean; status: number; text(): Promise<string> }>;

export interface AurRpcOptions {
  /** default https://aur.archlinux.org */
  baseUrl?: string;
  /** names per request (default 100) */
  batchSize?: number;
  /** the AUR rejects request URIs above ~4443 bytes; requests stay below this (default 4000) */
  maxUrlLength?: number;
  fetch?: FetchLike;
  /** called with every request URL (tests count them) */
  onRequest?: (url: string) => void;
}

function infoUrl(base: string, names: readonly string[]): string {
  return `${base.replace(/\/+$/, '')}/rpc/v5/info?${names.map((n) => `arg[]=${encodeURIComponent(n)}`).join('&')}`;
}

/** Split names into requests that respect both the count and the URL length limits. */
export function batchInfoRequests(names: readonly string[], options: AurRpcOptions = {}): string[] {
  const base = options.baseUrl ?? DEFAULT_AUR_BASE_URL;
  const size = options.batchSize ?? 100;
  const maxLen = options.maxUrlLength ?? 4000;
  const urls: string[] = [];
  let batch: string[] = [];
  for (const name of names) {
    const candidate = [...batch, name];
    if (batch.length && (candidate.length > size || infoUrl(base, candidate).length > maxLen)) {
      urls.push(infoUrl(base, batch));
      batch = [name];
    } else batch = candidate;
  }
  if (batch.length) urls.push(infoUrl(base, batch));
  return urls;
}

/** `info` for many names (batched); names the AUR does not know are simply absent from the result. */
export async function aurInfo(names: readonly string[], options: AurRpcOptions = {}): Promise<Map<string, AurPackage>> {
  const doFetch: FetchLike = options.fetch ?? ((url) => fetch(url));
  const out = new Map<string, AurPackage>();
  const unique = [...new Set(names)];
  for (const url of batchInfoRequests(unique, options)) {
    options.onRequest?.(url);
    let res: Awaited<ReturnType<FetchLike>>;
    try {
      res = await doFetch(url);
    } catch (e) {
      throw new AurRpcError(`AUR RPC request failed: ${url}: ${(e as Error).message}`);
    }
    const body = await res.text();
    let parsed: AurRpcResponse;
    try {
      parsed = JSON.parse(body) as AurRpcResponse;
    } catch {
      throw new AurRpcError(`AUR RPC answered HTTP ${res.status} with non-JSON: ${body.slice(0, 200)}`);
    }
    if (parsed.type === 'error' || !res.ok) throw new AurRpcError(`AUR RPC error (HTTP ${res.status}): ${parsed.error ?? body.slice(0, 200)}`);
    if (parsed.version !== 5 || !Array.isArray(parsed.results)) throw new AurRpcError(`unexpected AUR RPC response (version ${String(parsed.version)}, type ${String(parsed.type)})`);
    for (const pkg of parsed.results) out.set(pkg.Name, pkg);
  }
  return out;
}

/** Who satisfies a dependency outside the AUR ("workspace: foo", "repo extra: bar"), or undefined. */
export type ExternalSatisfier = (dep: Dependency) => string | undefined;

export interface ResolveOptions extends AurRpcOptions {
  /** workspace packages and target repositories, checked before the AUR */
  satisfiedBy?: ExternalSatisfier;
  /** follow checkdepends (default true, as makepkg installs them) */
  checkDepends?: boolean;
  /** follow makedepends (default true) */
  makeDepends?: boolean;
  /** safety bound on RPC rounds (aurutils: 30) */
  maxRounds?: number;
}

export interface AurBase {
  pkgbase: string;
  version: string;
  /** the pkgnames of this base that were requested or needed */
  names: string[];
  packages: AurPackage[];
  /** other resolved pkgbases this one needs (depends/makedepends/checkdepends) */
  dependsOn: string[];
  /** requested on the command line, as opposed to pulled in */
  target: boolean;
}

export interface ResolveResult {
  /** dependency order: every base after the bases it depends on (cycles broken, see `cycles`) */
  bases: AurBase[];
  /** dependency string -> what satisfied it outside the AUR */
  external: Map<string, string>;
  /** dependencies nobody satisfies (not in the workspace, repos or AUR), with who needs them */
  unresolved: { dep: string; requiredBy: string[]; reason: string }[];
  /** groups of pkgbases depending on each other, emitted in discovery order */
  cycles: string[][];
  requests: number;
}

/** Recursive dependency resolution for `targets` (pkgnames). */
export async function resolveAurDependencies(targets: readonly string[], options: ResolveOptions = {}): Promise<ResolveResult> {
  const chosen = new Map<string, AurPackage>(); // pkgname -> package
  const baseOrder: string[] = [];
  const bases = new Map<string, AurBase>();
  const external = new Map<string, string>();
  const unresolved = new Map<string, { dep: string; requiredBy: Set<string>; reason: string }>();
  const edges = new Map<string, Set<string>>();
  let requests = 0;
  const rpc: AurRpcOptions = { ...options, onRequest: (u) => (requests++, options.onRequest?.(u)) };

  const addBase = (pkg: AurPackage, target: boolean): void => {
    chosen.set(pkg.Name, pkg);
    let b = bases.get(pkg.PackageBase);
    if (!b) {
      b = { pkgbase: pkg.PackageBase, version: pkg.Version, names: [], packages: [], dependsOn: [], target };
      bases.set(pkg.PackageBase, b);
      baseOrder.push(pkg.PackageBase);
    }
    if (!b.names.includes(pkg.Name)) {
      b.names.push(pkg.Name);
      b.packages.push(pkg);
    }
    b.target ||= target;
  };
  const chosenSatisfier = (dep: Dependency): AurPackage | undefined => {
    for (const pkg of chosen.values()) {
      if (satisfiesLiterally(dep, pkg.Name, pkg.Version)) return pkg;
      if ((pkg.Provides ?? []).some((p) => provisionSatisfies(dep, parseDependency(p)))) return pkg;
    }
    return undefined;
  };
  const edge = (from: string, to: string): void => {
    if (from === to) return;
    let s = edges.get(from);
    if (!s) edges.set(from, (s = new Set()));
    s.add(to);
  };
  const fail = (dep: string, by: string, reason: string): void => {
    const u = unresolved.get(dep) ?? { dep, requiredBy: new Set<string>(), reason };
    u.requiredBy.add(by);
    unresolved.set(dep, u);
  };

  // round 0: the targets themselves
  const found = await aurInfo(targets, rpc);
  for (const t of targets) {
    const pkg = found.get(t);
    if (pkg) addBase(pkg, true);
    else fail(t, '(command line)', 'not found in the AUR');
  }
  let pending: { dep: string; from: string }[] = [];
  const depsOf = (pkg: AurPackage): string[] => [
    ...(pkg.Depends ?? []),
    ...(options.makeDepends === false ? [] : (pkg.MakeDepends ?? [])),
    ...(options.checkDepends === false ? [] : (pkg.CheckDepends ?? [])),
  ];
  for (const name of baseOrder) for (const pkg of bases.get(name)!.packages) for (const d of depsOf(pkg)) pending.push({ dep: d, from: pkg.PackageBase });

  const maxRounds = options.maxRounds ?? 30;
  for (let round = 0; pending.length && round < maxRounds; round++) {
    const toQuery = new Map<string, { dep: Dependency; text: string; from: string }[]>();
    for (const { dep: text, from } of pending) {
      const dep = parseDependency(text);
      const own = chosenSatisfier(dep);
      if (own) {
        edge(from, own.PackageBase);
        continue;
      }
      const ext = options.satisfiedBy?.(dep);
      if (ext) {
        external.set(text, ext);
        continue;
      }
      const list = toQuery.get(dep.name) ?? [];
      list.push({ dep, text, from });
      toQuery.set(dep.name, list);
    }
    pending = [];
    if (!toQuery.size) break;
    const info = await aurInfo([...toQuery.keys()], rpc);
    const left: { dep: Dependency; text: string; from: string; pkg?: AurPackage }[] = [];
    for (const [name, wants] of toQuery) {
      const pkg = info.get(name);
      for (const w of wants) {
        if (!pkg || !satisfiesLiterally(w.dep, pkg.Name, pkg.Version)) {
          left.push(pkg ? { ...w, pkg } : w);
          continue;
        }
        const isNew = !chosen.has(pkg.Name);
        addBase(pkg, false);
        edge(w.from, pkg.PackageBase);
        if (isNew) for (const d of depsOf(pkg)) pending.push({ dep: d, from: pkg.PackageBase });
      }
    }
    // a dependency the AUR has no matching name for may be provided by a package chosen in this round
    for (const w of left) {
      const own = chosenSatisfier(w.dep);
      if (own) edge(w.from, own.PackageBase);
      else if (w.pkg) fail(w.text, w.from, `the AUR has ${w.pkg.Name} ${w.pkg.Version}`);
      else fail(w.text, w.from, 'not in the workspace, the target repositories or the AUR');
    }
  }

  // rounds exhausted: whatever is still pending is unresolved (unless already satisfied), never dropped
  for (const { dep: text, from } of pending) {
    const dep = parseDependency(text);
    const own = chosenSatisfier(dep);
    if (own) edge(from, own.PackageBase);
    else if (options.satisfiedBy?.(dep)) external.set(text, options.satisfiedBy(dep)!);
    else fail(text, from, `not resolved within ${maxRounds} rounds of AUR queries (dependency chain too deep; raise maxRounds)`);
  }

  // order: depth-first post-order in discovery order; a back edge is a cycle, reported and ignored
  const ordered: AurBase[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const cycles: string[][] = [];
  const stack: string[] = [];
  const visit = (name: string): void => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') {
      cycles.push(stack.slice(stack.indexOf(name)));
      return;
    }
    state.set(name, 'visiting');
    stack.push(name);
    for (const dep of [...(edges.get(name) ?? [])].sort((a, b) => baseOrder.indexOf(a) - baseOrder.indexOf(b))) visit(dep);
    stack.pop();
    state.set(name, 'done');
    const b = bases.get(name)!;
    b.dependsOn = [...(edges.get(name) ?? [])];
    ordered.push(b);
  };
  for (const name of baseOrder) visit(name);

  return {
    bases: ordered,
    external,
    unresolved: [...unresolved.values()].map((u) => ({ dep: u.dep, requiredBy: [...u.requiredBy], reason: u.reason })),
    cycles,
    requests,
  };
}
