/**
 * The data model shared by every module: a PKGBUILD's metadata in the exact shape of `.SRCINFO`
 * (SRCINFO(5)), and the per-architecture view of it that the graph and the builds use.
 */

/** One `pkgbase = x` or `pkgname = y` section: the key/value lines in the order makepkg writes them. */
export interface SrcinfoSection {
  kind: 'pkgbase' | 'pkgname';
  name: string;
  /** `[key, value]` per line; a key repeats for multi-valued attributes; `[key, '']` clears it (pkgname sections) */
  entries: [key: string, value: string][];
}

/** A whole `.SRCINFO`: the pkgbase section then one section per split package, in pkgname order. */
export interface Srcinfo {
  pkgbase: SrcinfoSection;
  packages: SrcinfoSection[];
}

export type DependencyKind = 'depends' | 'makedepends' | 'checkdepends';

/** One split package as pacman will see it on architecture `carch` (pkgbase values + overrides + `_<carch>`). */
export interface SplitPackageMetadata {
  name: string;
  arch: string[];
  depends: string[];
  optdepends: string[];
  provides: string[];
  conflicts: string[];
  replaces: string[];
}

/** A pkgbase as the graph and the builds see it on architecture `carch`. */
export interface PackageBaseMetadata {
  pkgbase: string;
  carch: string;
  epoch: string;
  pkgver: string;
  pkgrel: string;
  /** `[epoch:]pkgver-pkgrel` */
  version: string;
  /** the pkgbase-level arch array (`any`, `x86_64`, ...) */
  arch: string[];
  /** pkgbase-level build dependencies for `carch` (plain + `_<carch>` arrays): what makepkg -s installs */
  depends: string[];
  makedepends: string[];
  checkdepends: string[];
  packages: SplitPackageMetadata[];
  source: string[];
  validpgpkeys: string[];
}

/**
 * What createNodes stores under `project.metadata.pkgnx` for every project. Executors and generators
 * read it instead of parsing the PKGBUILD again.
 */
export interface ProjectPkgnxMetadata {
  pkgbase: string;
  /** workspace-relative directory of the PKGBUILD */
  root: string;
  version: string;
  arch: string[];
  pkgnames: string[];
  /**
   * per configured architecture: what a build needs to know (the executor reads it from the project graph);
   * an architecture with the same inputs as another names that one (buildInputsFor resolves it)
   */
  build: Record<string, BuildInputs | string>;
  /** metadata could not be read: the error, naming the file and the cause */
  error?: string;
}

/** a pkgbase's arch array and build dependencies on one architecture: what makepkg and its chroot need */
export interface BuildInputs {
  arch: string[];
  depends: string[];
  makedepends: string[];
  checkdepends: string[];
}

/** the build inputs of one architecture from a project's metadata (undefined: not a configured architecture) */
export function buildInputsFor(metadata: Pick<ProjectPkgnxMetadata, 'build'>, arch: string): BuildInputs | undefined {
  const entry = metadata.build[arch];
  return typeof entry === 'string' ? (typeof metadata.build[entry] === 'object' ? (metadata.build[entry] as BuildInputs) : undefined) : entry;
}
