/**
 * Sync generator: every `pkgbuilds/<pkgbase>/.SRCINFO` must equal what makepkg --printsrcinfo prints
 * for its PKGBUILD. The PKGBUILD is read through the sandboxed extraction (never sourced on the
 * host) and the text written with writeSrcinfo. `nx sync` rewrites stale files; `nx sync:check`
 * fails (CI) while any is stale. A PKGBUILD that cannot be read is reported, its .SRCINFO untouched.
 * Also runnable by hand: `nx g ./tools:sync-srcinfo`.
 *
 * The daemon runs it after every change of the graph. The PKGBUILDs are the ones Nx's file index
 * holds, their directories hashed by Nx (the plugin's hashes, so the metadata cache answers without
 * reading a file), and a directory found in sync is not compared again while its hash, its .SRCINFO's
 * identity and the text it must hold stay the same: at 8,480 PKGBUILDs a run in the daemon after one
 * saved file takes about 0.5 s, where comparing everything took 2-3 s.
 * Nx's hashes leave out the files it ignores (.gitignore, .nxignore), which the sandbox still shows the
 * PKGBUILD (one may source a git-ignored local file): a directory holding such a file, at any depth, is read in
 * full every time, as without the hashes. Its .SRCINFO aside: whose identity is part of the mark.
 */
import { globAsync, type Tree } from '@nx/devkit';
import { createHash } from 'node:crypto';
import { readdirSync, type Dirent } from 'node:fs';
import { dirname, join } from 'node:path';
import { readMetadata } from '../../src/metadata';
import { OUTSIDE_DIGEST } from '../../src/metadata/extract';
import { writeSrcinfo } from '../../src/srcinfo';
import { PKGBUILD_GLOB, metadataSettings, readPluginOptionsFromNxJson, resolveOptions } from '../../src/graph/cached-graph';
import { fileIdentity } from '../../src/file-identity';
import { directoryHashes } from '../../plugin/hashes';

export interface SyncSrcinfoResult {
  outOfSyncMessage?: string;
  outOfSyncDetails?: string[];
}

/** per workspace and directory: its hash, its .SRCINFO's identity and the digest of the text, when found in sync */
const foundInSync = new Map<string, Map<string, string>>();

export default async function syncSrcinfoGenerator(tree: Tree): Promise<SyncSrcinfoResult> {
  let raw: unknown = {};
  try {
    raw = readPluginOptionsFromNxJson(tree.root);
  } catch {
    // no plugin entry yet: defaults
  }
  const options = resolveOptions(raw, tree.root);
  const dirs = (await globAsync(tree, [PKGBUILD_GLOB])).map((f) => dirname(f)).sort();
  if (!dirs.length) return {};
  const found = await directoryHashes(tree.root, dirs);
  const ignoredInside = found && (await directoriesWithIgnoredFiles(tree, dirs, found));
  // a directory's hash, where it stands for everything the sandbox shows
  const hashes = found && dirs.map((d, i) => (ignoredInside?.has(d) ? undefined : found[i]));
  const contentHashes = hashes && new Map(dirs.flatMap((d, i) => (hashes[i] === undefined ? [] : [[join(tree.root, d), hashes[i]] as const])));
  const results = await readMetadata(tree.root, dirs.map((d) => join(tree.root, d)), options.defaultArchitecture, metadataSettings(options), { contentHashes });
  const known = foundInSync.get(tree.root) ?? new Map<string, string>();
  foundInSync.set(tree.root, known);
  // files another generator of this run wrote: not what the hashes describe
  const changed = new Set(tree.listChanges().map((c) => c.path));
  const stale: string[] = [];
  const broken: string[] = [];
  dirs.forEach((dir, i) => {
    const r = results.get(join(tree.root, dir));
    if (!r) return;
    if ('error' in r) {
      broken.push(`${dir}/PKGBUILD: ${r.error}`);
      return;
    }
    const file = `${dir}/.SRCINFO`;
    const text = writeSrcinfo(r.srcinfo);
    // the file's own identity too: a .SRCINFO Nx does not track (ignored) is outside the directory's hash
    const mark = hashes?.[i] !== undefined && !changed.has(file) ? `${hashes[i]}\0${fileIdentity(join(tree.root, file))}\0${createHash('sha256').update(text).digest('hex')}` : undefined;
    if (mark !== undefined && known.get(dir) === mark) return;
    if (tree.read(file, 'utf-8') !== text) {
      known.delete(dir);
      tree.write(file, text);
      stale.push(file);
    } else if (mark !== undefined) known.set(dir, mark);
  });
  if (!stale.length) return broken.length ? { outOfSyncDetails: broken } : {};
  return {
    outOfSyncMessage: `${stale.length} .SRCINFO file(s) do not match their PKGBUILD`,
    outOfSyncDetails: [...stale.map((f) => `${f} is stale`), ...broken],
  };
}

/**
 * per workspace and directory: the key it was last listed under (its Nx hash and the identities of it and of its
 * subdirectories), those subdirectories, and whether it held an ignored entry. None of that can change without
 * the key: an entry added or removed changes its directory's mtime, a file Nx starts or stops tracking the hash
 * (an ignored file edited in place changes neither, but its directory is read in full anyway)
 */
interface Listing {
  key: string;
  subdirs: string[];
  ignored: boolean;
}
const listed = new Map<string, Map<string, Listing>>();

function listingKey(root: string, dir: string, hash: string, subdirs: readonly string[]): string {
  return [hash, ...[dir, ...subdirs].map((d) => fileIdentity(join(root, d)))].join('\0');
}

/**
 * The package directories holding, at any depth, a file Nx does not track (an ignored one) or a directory with
 * no tracked file below it. Listed again only where the key changed: listing 8,480 took 0.2 s.
 */
async function directoriesWithIgnoredFiles(tree: Tree, dirs: readonly string[], hashes: readonly string[]): Promise<Set<string>> {
  const before = listed.get(tree.root);
  const memo = new Map<string, Listing>();
  listed.set(tree.root, memo);
  const unknown: number[] = [];
  dirs.forEach((dir, i) => {
    const seen = before?.get(dir);
    if (seen && seen.key === listingKey(tree.root, dir, hashes[i], seen.subdirs)) memo.set(dir, seen);
    else unknown.push(i);
  });
  if (unknown.length) {
    // few after a save: only their files
    const tracked = await globAsync(tree, unknown.length <= 64 ? unknown.map((i) => `${dirs[i]}/**`) : ['pkgbuilds/**']);
    const trackedFiles = new Set(tracked);
    const trackedDirs = new Set<string>();
    for (const file of tracked) {
      for (let d = file.slice(0, file.lastIndexOf('/')); d && !trackedDirs.has(d); d = d.slice(0, Math.max(0, d.lastIndexOf('/')))) trackedDirs.add(d);
    }
    for (const i of unknown) {
      const { ignored, subdirs } = listUntracked(tree.root, dirs[i], trackedFiles, trackedDirs);
      memo.set(dirs[i], { key: listingKey(tree.root, dirs[i], hashes[i], subdirs), subdirs, ignored });
    }
  }
  return new Set(dirs.filter((dir) => memo.get(dir)?.ignored));
}

/** the package directory's subdirectories (makepkg's src/ and pkg/ aside), and whether any entry is untracked */
function listUntracked(root: string, dir: string, trackedFiles: ReadonlySet<string>, trackedDirs: ReadonlySet<string>): Omit<Listing, 'key'> {
  const subdirs: string[] = [];
  let ignored = false;
  const walk = (path: string, top: boolean): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(join(root, path), { withFileTypes: true });
    } catch {
      // unreadable: read in full, where the extraction names the error
      ignored = true;
      return;
    }
    for (const entry of entries) {
      // the .SRCINFO too: its identity is part of the mark
      if (top && (OUTSIDE_DIGEST.has(entry.name) || entry.name === '.SRCINFO')) continue;
      const child = `${path}/${entry.name}`;
      if (entry.isDirectory()) {
        subdirs.push(child);
        if (!trackedDirs.has(child)) ignored = true;
        walk(child, false);
      } else if (!trackedFiles.has(child)) ignored = true;
    }
  };
  walk(dir, true);
  return { ignored, subdirs };
}
