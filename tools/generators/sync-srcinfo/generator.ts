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
 */
import { globAsync, type Tree } from '@nx/devkit';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { readMetadata } from '../../src/metadata';
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
  const hashes = await directoryHashes(tree.root, dirs);
  const contentHashes = hashes && new Map(dirs.map((d, i) => [join(tree.root, d), hashes[i]]));
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
    const mark = hashes && !changed.has(file) ? `${hashes[i]}\0${fileIdentity(join(tree.root, file))}\0${createHash('sha256').update(text).digest('hex')}` : undefined;
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
