/**
 * The plugin options (nx.json `plugins[].options`), validated with errors that name the key.
 */
import { OptionsError, OptionsReader } from '../options';

export type RebuildPolicy = 'local' | 'abi' | 'transitive';
export type MetadataSource = 'pkgbuild' | 'srcinfo';
/** what of the build roots' installed packages enters every build's cache key */
export type RootInput = 'none' | 'toolchain' | 'all';

/** the toolchain a build's output depends on most: a new compiler or C library rebuilds under rootInput "toolchain" */
export const DEFAULT_TOOLCHAIN_PACKAGES = ['binutils', 'gcc', 'gcc-libs', 'glibc', 'linux-api-headers'];

export interface PkgnxPluginOptions {
  /** target architectures = configurations of the build target; default: the directories of chroot-config/ (each needs one) */
  architectures?: string[];
  /**
   * the build target's default configuration; default: x86_64 when listed, else the first of an explicit
   * `architectures` (an error when chroot-config/ lacks x86_64 and neither option is set)
   */
  defaultArchitecture?: string;
  /** `pkgbuild` (default): source PKGBUILDs in the sandbox; `srcinfo`: read committed .SRCINFO files only */
  metadataSource?: MetadataSource;
  /** count checkdepends as edges (default true; they are the first edges removed inside a cycle) */
  checkdepends?: boolean;
  /** edges the user allows to break inside cycles: "pkgbase -> dependency-pkgbase" */
  breakEdges?: string[];
  /** per architecture: sync databases (.db files, workspace-relative or absolute) of the target repositories */
  targetRepositories?: Record<string, string[]>;
  /** warn about dependencies that neither the workspace nor the target repositories provide (needs targetRepositories) */
  validateExternal?: boolean;
  /** what makes a dependent rebuild: its own files only, its dependencies' sonames (default), or any upstream change */
  rebuildPolicy?: RebuildPolicy;
  /** per-PKGBUILD time limit for the sandboxed metadata extraction */
  sandboxTimeoutSeconds?: number;
  /** the name of the build target (default `build`) */
  buildTargetName?: string;
  /**
   * what of the build roots' installed package set enters the build hash: `none` (default: as Arch, a
   * toolchain update rebuilds nothing), `toolchain` (the packages of `toolchainPackages`), `all`
   */
  rootInput?: RootInput;
  /** the packages rootInput "toolchain" hashes (default binutils gcc gcc-libs glibc linux-api-headers) */
  toolchainPackages?: string[];
  /** the name of the publish target (default `publish`) */
  publishTargetName?: string;
  /** write the run's status pages (dist/status/) after every build run (default true) */
  statusPage?: boolean;
}

export interface ResolvedPluginOptions {
  architectures: string[];
  defaultArchitecture: string;
  metadataSource: MetadataSource;
  checkdepends: boolean;
  breakEdges: { source: string; target: string }[];
  targetRepositories: Record<string, string[]>;
  validateExternal: boolean;
  rebuildPolicy: RebuildPolicy;
  sandboxTimeoutSeconds: number;
  buildTargetName: string;
  rootInput: RootInput;
  toolchainPackages: string[];
  publishTargetName: string;
  statusPage: boolean;
}

export class PluginOptionsError extends OptionsError {
  constructor(key: string, problem: string) {
    super(`pkgnx plugin option "${key}" (nx.json plugins[].options): ${problem}`);
    this.name = 'PluginOptionsError';
  }
}

const ARCH_NAME = /^[A-Za-z0-9_]+$/;
const KNOWN_KEYS = [
  'architectures', 'defaultArchitecture', 'metadataSource', 'checkdepends', 'breakEdges', 'targetRepositories',
  'validateExternal', 'rebuildPolicy', 'sandboxTimeoutSeconds', 'buildTargetName', 'publishTargetName', 'rootInput',
  'toolchainPackages', 'statusPage',
];

function toolchainPackages(o: OptionsReader): string[] {
  const names = o.has('toolchainPackages') ? o.strings('toolchainPackages') : DEFAULT_TOOLCHAIN_PACKAGES;
  for (const n of names) if (!/^[a-zA-Z0-9@_+][a-zA-Z0-9@._+-]*$/.test(n)) o.fail('toolchainPackages', `"${n}" is not a package name`);
  if (names.length === 0) o.fail('toolchainPackages', 'must name at least one package');
  return [...names].sort();
}

/**
 * @param discoveredArchitectures the architectures with a `chroot-config/<arch>/makepkg.conf`: the default of
 *   `architectures`, and the only ones it may name (a build needs the build root's configuration)
 */
export function resolvePluginOptions(raw: unknown, discoveredArchitectures: string[]): ResolvedPluginOptions {
  if (raw !== undefined && raw !== null && (typeof raw !== 'object' || Array.isArray(raw))) throw new PluginOptionsError('options', 'must be an object');
  const o = new OptionsReader((raw ?? {}) as Record<string, unknown>, { describe: (k) => k, error: (k, problem) => new PluginOptionsError(k, problem) });
  o.rejectUnknown(KNOWN_KEYS);

  const found = discoveredArchitectures.length ? `found there: ${discoveredArchitectures.join(', ')}` : 'chroot-config/ has none';
  const explicit = o.has('architectures');
  // nothing configured at all: the graph still loads (x86_64); a build refuses to run without chroot-config
  const architectures = explicit ? o.strings('architectures') : discoveredArchitectures.length ? [...discoveredArchitectures] : ['x86_64'];
  if (architectures.length === 0) o.fail('architectures', 'must list at least one architecture');
  for (const a of architectures) {
    if (!ARCH_NAME.test(a) || a === 'any') o.fail('architectures', `"${a}" is not a pacman architecture name`);
    if (explicit && !discoveredArchitectures.includes(a))
      o.fail('architectures', `"${a}" has no chroot-config/${a}/makepkg.conf (${found}); its builds would have no build root configuration`);
  }

  // the default never changes silently: without chroot-config/x86_64, a discovered set needs an explicit choice
  if (!o.has('defaultArchitecture') && !explicit && discoveredArchitectures.length && !architectures.includes('x86_64'))
    o.fail(
      'defaultArchitecture',
      `not set, and chroot-config/x86_64/makepkg.conf does not exist (${found}): the default configuration would silently become ` +
        `${architectures[0]}; set "defaultArchitecture": "${architectures[0]}" (or "architectures"), or add chroot-config/x86_64/`,
    );
  const defaultArchitecture = o.string('defaultArchitecture', architectures.includes('x86_64') ? 'x86_64' : architectures[0]);
  if (!architectures.includes(defaultArchitecture)) o.fail('defaultArchitecture', `"${defaultArchitecture}" is not one of architectures (${architectures.join(', ')})`);

  const breakEdges = o.strings('breakEdges').map((text) => {
    const m = /^\s*([^\s>-][^\s]*)\s*->\s*([^\s]+)\s*$/.exec(text);
    if (!m) return o.fail('breakEdges', `"${text}" must look like "pkgbase -> dependency-pkgbase"`);
    return { source: m[1], target: m[2] };
  });

  const targetRepositories: Record<string, string[]> = {};
  const repos = o.object('targetRepositories', 'an object mapping an architecture to a list of .db files');
  for (const arch of repos?.keys() ?? []) {
    if (!architectures.includes(arch)) repos!.fail(arch, `"${arch}" is not one of architectures (${architectures.join(', ')})`);
    targetRepositories[arch] = repos!.strings(arch);
  }

  return {
    architectures,
    defaultArchitecture,
    metadataSource: o.oneOf('metadataSource', ['pkgbuild', 'srcinfo'] as const, 'pkgbuild'),
    checkdepends: o.bool('checkdepends', true),
    breakEdges,
    targetRepositories,
    validateExternal: o.bool('validateExternal', false),
    rebuildPolicy: o.oneOf('rebuildPolicy', ['local', 'abi', 'transitive'] as const, 'abi'),
    sandboxTimeoutSeconds: o.number('sandboxTimeoutSeconds', 10, { exclusiveMin: 0 }),
    buildTargetName: o.matching('buildTargetName', /^[A-Za-z0-9_-]+$/, 'a valid target name', 'build') as string,
    rootInput: o.oneOf('rootInput', ['none', 'toolchain', 'all'] as const, 'none'),
    toolchainPackages: toolchainPackages(o),
    publishTargetName: o.matching('publishTargetName', /^[A-Za-z0-9_-]+$/, 'a valid target name', 'publish') as string,
    statusPage: o.bool('statusPage', true),
  };
}
