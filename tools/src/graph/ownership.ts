/**
 * Which directory owns which pkgbase, pkgname and project name. Pure and deterministic: the same directories
 * give the same names whatever order they were found in.
 *
 * - The same pkgbase in several directories is a real layout (per-CPU-level kernels built from `linux-x64v2`,
 *   `linux-x64v3`, ...): each directory is its own project. The primary directory (see `precedence`) is named
 *   after the pkgbase and is the provider dependents are ordered after; the others are named after their
 *   directory. One warning lists every directory.
 * - A pkgname built by projects of different pkgbases is an error for every project but the one with
 *   precedence; the error lists every such package name and every directory that builds it.
 * - Broken projects (no metadata) and the secondary directories get a name derived from their directory
 *   that no project with precedence can lose: a broken `pkgbuilds/aaa` never takes the name `aaa` from a
 *   good project whose pkgbase is `aaa`.
 */
import { basename } from 'node:path';

export interface OwnershipInput {
  /** workspace-relative directory */
  root: string;
  /** workspace-relative PKGBUILD path */
  pkgbuild: string;
  /** undefined when the metadata could not be read */
  pkgbase?: string;
  /** every package name the directory builds (all architectures) */
  pkgnames: readonly string[];
}

export interface Ownership {
  /** unique project name */
  name: string;
  /** a new error (a pkgname another pkgbase builds); the input's own metadata error is not repeated */
  error?: string;
  /** set for a secondary directory of a pkgbase: the name of the primary project */
  primary?: string;
  /** the pkgbase warning, for each directory of a pkgbase defined more than once */
  warning?: string;
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Who wins a pkgbase or a pkgname: a directory named after its pkgbase, then one whose pkgbase is also one
 * of its package names, then the directory that sorts first. (A copy in `pkgbuilds/aaa` does not take
 * `hello` from `pkgbuilds/hello`.)
 */
function precedence(entries: readonly OwnershipInput[]): number[] {
  const key = (e: OwnershipInput): [number, number] => [
    e.pkgbase !== undefined && basename(e.root) === e.pkgbase ? 0 : 1,
    e.pkgbase !== undefined && e.pkgnames.includes(e.pkgbase) ? 0 : 1,
  ];
  return entries
    .map((e, i) => ({ i, k: key(e), root: e.root }))
    .sort((a, b) => a.k[0] - b.k[0] || a.k[1] - b.k[1] || byName(a.root, b.root))
    .map((x) => x.i);
}

/** `pkgbuilds/sub/x` -> `x`, or `pkgbuilds-sub-x` when `x` is taken, then `-2`, `-3`, ... */
function derivedName(root: string, taken: ReadonlySet<string>): string {
  let candidate = basename(root);
  if (taken.has(candidate)) candidate = root.replace(/[^A-Za-z0-9._+-]+/g, '-');
  const stem = candidate;
  for (let n = 2; taken.has(candidate); n++) candidate = `${stem}-${n}`;
  return candidate;
}

export function assignOwnership(entries: readonly OwnershipInput[]): Ownership[] {
  const order = precedence(entries);
  const out: Ownership[] = entries.map(() => ({ name: '' }));

  // every directory building each pkgname, for complete error messages
  const builders = new Map<string, number[]>();
  entries.forEach((e, i) => {
    if (e.pkgbase === undefined) return;
    for (const n of new Set(e.pkgnames)) builders.set(n, [...(builders.get(n) ?? []), i]);
  });

  // pkgnames: claimed in precedence order; a clash with another pkgbase's claim is an error naming all of them
  const claimed = new Map<string, number>();
  const good = new Set<number>();
  for (const i of order) {
    const e = entries[i];
    if (e.pkgbase === undefined) continue;
    const clashes = [...new Set(e.pkgnames)].filter((n) => {
      const owner = claimed.get(n);
      return owner !== undefined && entries[owner].pkgbase !== e.pkgbase;
    });
    if (clashes.length === 0) {
      good.add(i);
      for (const n of e.pkgnames) if (!claimed.has(n)) claimed.set(n, i);
      continue;
    }
    const described = clashes.sort(byName).map((n) => {
      const others = builders.get(n)!.filter((j) => j !== i && entries[j].pkgbase !== e.pkgbase);
      const list = others.map((j) => `${entries[j].pkgbuild} (pkgbase ${entries[j].pkgbase}${j === claimed.get(n) ? ', keeps it' : ''})`);
      return `"${n}" (also built by ${list.join(', ')})`;
    });
    out[i].error =
      `${e.pkgbuild}: ${clashes.length === 1 ? 'package' : 'packages'} ${described.join(', ')}: ` +
      `a package name can come from only one pkgbase; rename or remove ${clashes.length === 1 ? 'it' : 'them'} here or there`;
  }

  // pkgbases: the first good directory in precedence order is the primary, named after the pkgbase
  const primaryOf = new Map<string, number>();
  for (const i of order) {
    const base = entries[i].pkgbase;
    if (base !== undefined && good.has(i) && !primaryOf.has(base)) primaryOf.set(base, i);
  }
  const taken = new Set<string>();
  for (const [base, i] of primaryOf) {
    out[i].name = base;
    taken.add(base);
  }
  // everything else, in directory order, gets a derived name
  const byRoot = entries.map((_e, i) => i).sort((a, b) => byName(entries[a].root, entries[b].root));
  for (const i of byRoot) {
    if (out[i].name) continue;
    out[i].name = derivedName(entries[i].root, taken);
    taken.add(out[i].name);
  }

  // one warning per pkgbase defined in several directories, listing each and its project
  const dirsOf = new Map<string, number[]>();
  for (const i of byRoot) {
    const base = entries[i].pkgbase;
    if (base !== undefined) dirsOf.set(base, [...(dirsOf.get(base) ?? []), i]);
  }
  for (const [base, dirs] of dirsOf) {
    if (dirs.length < 2) continue;
    const primary = primaryOf.get(base);
    const listed = dirs.map((i) => `${entries[i].pkgbuild} (project "${out[i].name}"${out[i].error ? ', broken' : ''})`).join(', ');
    const warning =
      `pkgbase "${base}" is defined in ${dirs.length} directories: ${listed}; each is its own project` +
      (primary !== undefined ? `, and dependents on their packages are ordered after "${out[primary].name}"` : '');
    for (const i of dirs) {
      out[i].warning = warning;
      if (primary !== undefined && i !== primary && good.has(i)) out[i].primary = out[primary].name;
    }
  }
  return out;
}
