/**
 * arch=(any) packages built once for every architecture (any-package.ts places the result): which packages
 * qualify, and on which architecture the one build runs. Pure: plain data in, plain data out.
 */
import type { PackageBaseMetadata } from '../model';

/**
 * Built once for every architecture: the pkgbase's arch is exactly (any) and no split package overrides it
 * with a real architecture (its content would then depend on the target).
 */
export function isAnyPackage(meta: Pick<PackageBaseMetadata, 'arch' | 'packages'>): boolean {
  const anyOnly = (arch: readonly string[]): boolean => arch.length === 1 && arch[0] === 'any';
  return anyOnly(meta.arch) && meta.packages.every((p) => p.arch.length === 0 || anyOnly(p.arch));
}

/** an architecture-specific workspace dependency of an `any` build */
export interface ArchDependency {
  pkgbase: string;
  /** the version the graph read (`[epoch:]pkgver-pkgrel`) */
  version: string;
  /** versions of its packages in dist/<host>/<pkgbase>/ (builtVersions) */
  builtOnHost: string[];
}

export interface AnyBuildArchInput {
  host: string;
  /** the workspace's architectures (those with a build configuration), in the plugin's order */
  configured: readonly string[];
  /** the architecture this run built the dependencies for (their tasks' configuration); undefined: none in the run */
  orderedFor?: string;
  /** architecture-specific workspace dependencies, transitive (packages built once come from dist/any/) */
  archDependencies: readonly ArchDependency[];
}

/**
 * The architecture the `any` build runs on, and why (for the log). Nx orders a task only after tasks of the
 * configuration its run was started with, so in a run for another architecture (`-c aarch64`) the host's builds
 * of the dependencies are not ordered before this one. Natively when nothing architecture-specific is needed, when
 * the run is the host's, or when dist/<host>/ already holds the versions of the dependencies that the graph
 * expects; otherwise on the run's architecture (emulated), which Nx did order: correct, and still once.
 */
export function chooseAnyBuildArch(input: AnyBuildArchInput): { arch: string; reason: string } {
  const { host, configured, orderedFor, archDependencies } = input;
  const once = 'the result serves every architecture';
  if (!configured.includes(host)) {
    const arch = orderedFor ?? configured[0];
    return { arch, reason: `built once for every architecture, on ${arch}: the host's ${host} is not one of the workspace's architectures (${configured.join(', ')})` };
  }
  if (archDependencies.length === 0) return { arch: host, reason: `built once for every architecture, natively on ${host}: no architecture-specific workspace dependency` };
  const names = archDependencies.map((d) => d.pkgbase).join(', ');
  if (orderedFor === undefined || orderedFor === host)
    return { arch: host, reason: `built once for every architecture, natively on ${host}: its dependencies (${names}) are ${orderedFor ? `built for ${host} in this run` : `taken from dist/${host}/ (no dependency task in this run)`}` };
  const missing = archDependencies.filter((d) => !d.builtOnHost.includes(d.version));
  if (missing.length === 0)
    return { arch: host, reason: `built once for every architecture, natively on ${host}: dist/${host}/ holds the current versions of its dependencies (${archDependencies.map((d) => `${d.pkgbase} ${d.version}`).join(', ')})` };
  return {
    arch: orderedFor,
    reason:
      `built once for every architecture, on ${orderedFor} (not natively): this run builds its dependencies for ${orderedFor}, and dist/${host}/ lacks ` +
      `${missing.map((d) => `${d.pkgbase} ${d.version}`).join(', ')} (build the ${host} configuration first to build it natively); ${once}`,
  };
}
