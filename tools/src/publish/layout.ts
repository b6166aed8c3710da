/**
 * Where things live in a published tree, the Arch mirror layout: `<prefix>/<repo>/os/<arch>/`, so that
 * `Server = https://host/<prefix>/$repo/os/$arch` works. pkgnx's own bookkeeping sits in `.pkgnx/` beside.
 */

export interface RepoRef {
  repo: string;
  arch: string;
}

export const META_GENERATION = 'pkgnx-generation';
export const META_SHA256 = 'pkgnx-sha256';

/** databases change: caches must revalidate; package files never change under their name */
export const DB_CACHE_CONTROL = 'no-cache';
export const PACKAGE_CACHE_CONTROL = 'public, max-age=31536000, immutable';

export function repoDir(ref: RepoRef): string {
  return `${ref.repo}/os/${ref.arch}`;
}

export function fileKey(ref: RepoRef, filename: string): string {
  return `${repoDir(ref)}/${filename}`;
}

export interface DatabaseKeys {
  /** the commit point: every change is a conditional write of this object */
  files: string;
  db: string;
  /** plain copies under the names pacman asks for (repo-add makes symlinks; S3 has none) */
  dbPlain: string;
  filesPlain: string;
  pending: string;
}

export function databaseKeys(ref: RepoRef): DatabaseKeys {
  const d = repoDir(ref);
  return {
    files: `${d}/${ref.repo}.files.tar.zst`,
    db: `${d}/${ref.repo}.db.tar.zst`,
    dbPlain: `${d}/${ref.repo}.db`,
    filesPlain: `${d}/${ref.repo}.files`,
    pending: `${d}/.pkgnx/pending-deletions.json`,
  };
}

/** Is this key in the repository directory a package or its signature (what prune may delete)? */
export function isPackageObject(ref: RepoRef, key: string): boolean {
  const d = `${repoDir(ref)}/`;
  if (!key.startsWith(d)) return false;
  const name = key.slice(d.length);
  return !name.includes('/') && /\.pkg\.tar(\.[A-Za-z0-9]+)?(\.sig)?$/.test(name);
}

export const REPO_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

/** Why `name` cannot be a repository name, or undefined. */
export function repoNameProblem(name: string): string | undefined {
  if (name === 'local') return "'local' is the name of pacman's local database";
  if (!REPO_NAME.test(name)) return `invalid repository name '${name}' (letters, digits and . _ + -)`;
  return undefined;
}
export const ARCH_NAME = /^[A-Za-z0-9_]+$/;
