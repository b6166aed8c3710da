/**
 * Sync generator: every `pkgbuilds/<pkgbase>/.SRCINFO` must equal what makepkg --printsrcinfo prints
 * for its PKGBUILD. The PKGBUILD is read through the sandboxed extraction (never sourced on the
 * host) and the text written with writeSrcinfo. `nx sync` rewrites stale files; `nx sync:check`
 * fails (CI) while any is stale. A PKGBUILD that cannot be read is reported, its .SRCINFO untouched.
 * Also runnable by hand: `nx g ./tools:sync-srcinfo`.
 */
import type { Tree } from '@nx/devkit';
import { dirname, join } from 'node:path';
import { readMetadata } from '../../src/metadata';
import { writeSrcinfo } from '../../src/srcinfo';
import { findPkgbuilds, metadataSettings, readPluginOptionsFromNxJson, resolveOptions } from '../../src/graph/cached-graph';

export interface SyncSrcinfoResult {
  outOfSyncMessage?: string;
  outOfSyncDetails?: string[];
}

export default async function syncSrcinfoGenerator(tree: Tree): Promise<SyncSrcinfoResult> {
  let raw: unknown = {};
  try {
    raw = readPluginOptionsFromNxJson(tree.root);
  } catch {
    // no plugin entry yet: defaults
  }
  const options = resolveOptions(raw, tree.root);
  const dirs = (await findPkgbuilds(tree.root)).map((f) => dirname(f));
  if (!dirs.length) return {};
  const results = await readMetadata(tree.root, dirs.map((d) => join(tree.root, d)), options.defaultArchitecture, metadataSettings(options));
  const stale: string[] = [];
  const broken: string[] = [];
  for (const dir of dirs) {
    const r = results.get(join(tree.root, dir));
    if (!r) continue;
    if ('error' in r) {
      broken.push(`${dir}/PKGBUILD: ${r.error}`);
      continue;
    }
    const file = `${dir}/.SRCINFO`;
    const text = writeSrcinfo(r.srcinfo);
    if (tree.read(file, 'utf-8') !== text) {
      tree.write(file, text);
      stale.push(file);
    }
  }
  if (!stale.length) return broken.length ? { outOfSyncDetails: broken } : {};
  return {
    outOfSyncMessage: `${stale.length} .SRCINFO file(s) do not match their PKGBUILD`,
    outOfSyncDetails: [...stale.map((f) => `${f} is stale`), ...broken],
  };
}
