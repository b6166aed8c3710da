/**
 * The contract between the build orchestration (build-package.ts) and the ways a package can be built:
 * devtools (makechrootpkg), qemu (devtools for a foreign architecture), rootfs (a root filesystem,
 * bubblewrap or chroot) and host (plain makepkg, not clean).
 */

export type BackendName = 'devtools' | 'qemu' | 'rootfs' | 'host';

import type { PlannedCommand } from '../../process/logged-run';
import type { CopyMethod, DevtoolsSettings, QemuSettings } from '../build-options';

export type { PlannedCommand };

export interface WorkspaceRepository {
  /** pacman repository name used in the generated pacman.conf, e.g. `pkgnx-workspace` */
  name: string;
  /** absolute directory holding `<name>.db.tar.*` and the packages: `dist/<arch>/repo` */
  dir: string;
}

/** a pacman repository a build installs dependencies from, ahead of chroot-config's */
export interface BuildRepository {
  name: string;
  /** the `Server =` line's URL */
  server: string;
  sigLevel: string;
  /** why it is there, as a comment in pacman.conf */
  comment: string;
  /** a host directory the sandbox must see read-only at the same path (file:// servers) */
  bind?: string;
}

export interface BuildRequest {
  pkgbase: string;
  /** absolute path of the PKGBUILD directory */
  pkgdir: string;
  /** workspace root (absolute) */
  workspaceRoot: string;
  /** target CARCH, e.g. `aarch64` */
  arch: string;
  /** `uname -m` of the machine running the build */
  hostArch: string;
  /** the PKGBUILD's arch=() (pkgbase level) */
  pkgArch: string[];
  /** pkgbase-level depends/makedepends/checkdepends for `arch`, for backends that install them themselves */
  depends: string[];
  makedepends: string[];
  checkdepends: string[];
  /** `--ignorearch` is passed only when `arch` is not in `pkgArch` and `pkgArch` is not `any` */
  ignoreArch: boolean;
  nocheck: boolean;
  /** chroot-config/<arch>/pacman.conf and makepkg.conf (absolute) */
  pacmanConf: string;
  makepkgConf: string;
  workspaceRepo: WorkspaceRepository;
  /** the repositories added before chroot-config's, in order: the workspace one and published ones (build option "publishedRepos") */
  repos: BuildRepository[];
  /** private, empty directory the packages must land in (moved to dist/ only on success) */
  pkgdest: string;
  /** the build log (the backend appends makepkg's output to it) */
  logFile: string;
  /** per-architecture pacman package cache, e.g. `/var/cache/pacman/pkg-aarch64` */
  pacmanCacheDir: string;
  /** empty the pacman cache before building */
  noCache: boolean;
  /** `*.asc` files to import for the build user (keys/pgp/ and pkgbuilds/<pkgbase>/keys/pgp/) */
  pgpKeys: string[];
  /** extra makepkg arguments given by the user */
  makepkgArgs: string[];
  /** SOURCE_DATE_EPOCH and other variables every backend passes to makepkg */
  env: Record<string, string>;
  /** rootfs backend: how the disposable copy is made (`auto`: overlay) */
  copyMethod: CopyMethod;
  /** where binfmt_misc registrations are read (rootfs, qemu) */
  binfmtDir: string;
  /** the devtools and qemu backends' settings (executor options) */
  devtools: DevtoolsSettings;
  qemu: QemuSettings;
  /** a unique id for this task's disposable chroot copy (distinct per concurrent task) */
  copyName: string;
  /** aborted on SIGINT/SIGTERM: the backend must end its whole process group and remove its copy */
  signal: AbortSignal;
  /** rootfs backend: the root filesystem directory (absolute) the disposable copy is made from */
  rootfs?: string;
  /** unprivileged user makepkg runs as (default `builder`) */
  buildUser?: string;
  /** allow network while makepkg builds (sources are fetched before, with network); default false */
  network?: boolean;
  /** where disposable copies live: `<workspace>/.pkgnx/chroots/<arch>`; a copy is `<copiesDir>/<copyName>` */
  copiesDir?: string;
  /**
   * rootfs: package names the workspace repository has that replace the root's installed copies in the
   * build's copy, even at the same version (bootstrap stages build against the stages before them)
   */
  replaceFromWorkspace?: string[];
}

export interface BuildOutcome {
  success: boolean;
  /** plain-words reason on failure (exit code, makepkg error class) */
  error?: string;
}

export interface BuildBackend {
  readonly name: BackendName;
  /** Checks that must pass before any work (tools present, binfmt registered...): throw with the exact fix. */
  preflight(req: BuildRequest): Promise<void>;
  /** The exact commands a build runs, for dry runs and for tests of the command lines. */
  plan(req: BuildRequest): PlannedCommand[];
  /** Run the build; packages end up in req.pkgdest. */
  build(req: BuildRequest): Promise<BuildOutcome>;
}
