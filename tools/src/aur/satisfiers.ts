/**
 * Where a dependency is already satisfied outside the AUR: a workspace package (its `.SRCINFO`
 * names and provides) or a target repository database. Used to leave those out of an AUR import.
 */
import { basename } from 'node:path';
import { packageSatisfies, type Dependency } from '../depends';
import { readMetadata, type MetadataSettings } from '../metadata';
import { metadataForArch } from '../srcinfo';
import type { ExternalSatisfier } from './rpc';

export interface ProvidingPackage {
  name: string;
  version: string;
  provides: string[];
  /** label used in reports: `workspace: foo`, `repo extra: bar` */
  origin: string;
}

/**
 * Every split package the workspace builds, as its metadata says (read the one way the workspace reads it:
 * the sandboxed PKGBUILD or the committed .SRCINFO). A package whose metadata cannot be read still provides
 * its own directory name; the graph reports the error.
 */
export async function workspacePackages(workspaceRoot: string, dirs: readonly string[], carch: string, settings: MetadataSettings): Promise<ProvidingPackage[]> {
  const out: ProvidingPackage[] = [];
  for (const [dir, r] of await readMetadata(workspaceRoot, dirs, carch, settings)) {
    if ('error' in r) {
      out.push({ name: basename(dir), version: '', provides: [], origin: `workspace: ${basename(dir)}` });
      continue;
    }
    const meta = metadataForArch(r.srcinfo, carch);
    for (const p of meta.packages) out.push({ name: p.name, version: meta.version, provides: p.provides, origin: `workspace: ${meta.pkgbase}` });
  }
  return out;
}

export function satisfierFrom(packages: readonly ProvidingPackage[]): ExternalSatisfier {
  return (dep: Dependency) => {
    for (const p of packages) {
      if (p.version === '' ? p.name === dep.name : packageSatisfies(dep, p)) return p.origin;
    }
    return undefined;
  };
}

/** Combine satisfiers: the first that answers wins. */
export function firstSatisfier(...list: (ExternalSatisfier | undefined)[]): ExternalSatisfier {
  return (dep) => {
    for (const s of list) {
      const r = s?.(dep);
      if (r) return r;
    }
    return undefined;
  };
}
