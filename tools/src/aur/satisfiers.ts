/**
 * Where a dependency is already satisfied outside the AUR: a workspace package (its `.SRCINFO`
 * names and provides) or a target repository database. Used to leave those out of an AUR import.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageSatisfies, type Dependency } from '../depends';
import { metadataForArch, parseSrcinfo } from '../srcinfo';
import type { ExternalSatisfier } from './rpc';

export interface ProvidingPackage {
  name: string;
  version: string;
  provides: string[];
  /** label used in reports: `workspace: foo`, `repo extra: bar` */
  origin: string;
}

/** Every split package of every `pkgbuilds/<pkgbase>/.SRCINFO` (unreadable ones are skipped). */
export function workspacePackages(pkgbuildsDir: string, carch: string): ProvidingPackage[] {
  if (!existsSync(pkgbuildsDir)) return [];
  const out: ProvidingPackage[] = [];
  for (const entry of readdirSync(pkgbuildsDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const file = join(pkgbuildsDir, entry.name, '.SRCINFO');
    if (!existsSync(file)) {
      // a package without .SRCINFO still provides its own pkgbase name
      if (existsSync(join(pkgbuildsDir, entry.name, 'PKGBUILD'))) out.push({ name: entry.name, version: '', provides: [], origin: `workspace: ${entry.name}` });
      continue;
    }
    try {
      const meta = metadataForArch(parseSrcinfo(readFileSync(file, 'utf8'), file), carch);
      for (const p of meta.packages) out.push({ name: p.name, version: meta.version, provides: p.provides, origin: `workspace: ${meta.pkgbase}` });
    } catch {
      // a broken .SRCINFO is reported by the graph, not here
    }
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
