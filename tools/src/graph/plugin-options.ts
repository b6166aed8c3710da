/**
 * The plugin options (nx.json `plugins[].options`), validated with errors that name the key.
 */

export type RebuildPolicy = 'local' | 'abi' | 'transitive';
export type MetadataSource = 'pkgbuild' | 'srcinfo';

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
}

export class PluginOptionsError extends Error {
  constructor(key: string, problem: string) {
    super(`pkgnx plugin option "${key}" (nx.json plugins[].options): ${problem}`);
    this.name = 'PluginOptionsError';
  }
}

const ARCH_NAME = /^[A-Za-z0-9_]+$/;
const KNOWN_KEYS = new Set([
  'architectures', 'defaultArchitecture', 'metadataSource', 'checkdepends', 'breakEdges', 'targetRepositories',
  'validateExternal', 'rebuildPolicy', 'sandboxTimeoutSeconds', 'buildTargetName',
]);

function stringArray(key: string, value: unknown): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new PluginOptionsError(key, 'must be an array of strings');
  return value as string[];
}

/**
 * @param discoveredArchitectures the architectures with a `chroot-config/<arch>/makepkg.conf`: the default of
 *   `architectures`, and the only ones it may name (a build needs the build root's configuration)
 */
export function resolvePluginOptions(raw: unknown, discoveredArchitectures: string[]): ResolvedPluginOptions {
  const o = (raw ?? {}) as Record<string, unknown>;
  if (typeof o !== 'object' || Array.isArray(o)) throw new PluginOptionsError('options', 'must be an object');
  for (const key of Object.keys(o)) if (!KNOWN_KEYS.has(key)) throw new PluginOptionsError(key, `unknown option; known: ${[...KNOWN_KEYS].join(', ')}`);

  const found = discoveredArchitectures.length ? `found there: ${discoveredArchitectures.join(', ')}` : 'chroot-config/ has none';
  const explicit = o.architectures !== undefined;
  // nothing configured at all: the graph still loads (x86_64); a build refuses to run without chroot-config
  const architectures = explicit ? stringArray('architectures', o.architectures) : discoveredArchitectures.length ? discoveredArchitectures : ['x86_64'];
  if (architectures.length === 0) throw new PluginOptionsError('architectures', 'must list at least one architecture');
  for (const a of architectures) {
    if (!ARCH_NAME.test(a) || a === 'any') throw new PluginOptionsError('architectures', `"${a}" is not a pacman architecture name`);
    if (explicit && !discoveredArchitectures.includes(a))
      throw new PluginOptionsError('architectures', `"${a}" has no chroot-config/${a}/makepkg.conf (${found}); its builds would have no build root configuration`);
  }

  // the default never changes silently: without chroot-config/x86_64, a discovered set needs an explicit choice
  if (o.defaultArchitecture === undefined && !explicit && discoveredArchitectures.length && !architectures.includes('x86_64'))
    throw new PluginOptionsError(
      'defaultArchitecture',
      `not set, and chroot-config/x86_64/makepkg.conf does not exist (${found}): the default configuration would silently become ` +
        `${architectures[0]}; set "defaultArchitecture": "${architectures[0]}" (or "architectures"), or add chroot-config/x86_64/`,
    );
  const defaultArchitecture = o.defaultArchitecture === undefined ? (architectures.includes('x86_64') ? 'x86_64' : architectures[0]) : String(o.defaultArchitecture);
  if (!architectures.includes(defaultArchitecture)) throw new PluginOptionsError('defaultArchitecture', `"${defaultArchitecture}" is not one of architectures (${architectures.join(', ')})`);

  const metadataSource = (o.metadataSource ?? 'pkgbuild') as MetadataSource;
  if (metadataSource !== 'pkgbuild' && metadataSource !== 'srcinfo') throw new PluginOptionsError('metadataSource', `must be "pkgbuild" or "srcinfo" (got ${JSON.stringify(o.metadataSource)})`);

  const rebuildPolicy = (o.rebuildPolicy ?? 'abi') as RebuildPolicy;
  if (!['local', 'abi', 'transitive'].includes(rebuildPolicy)) throw new PluginOptionsError('rebuildPolicy', `must be "local", "abi" or "transitive" (got ${JSON.stringify(o.rebuildPolicy)})`);

  for (const key of ['checkdepends', 'validateExternal'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'boolean') throw new PluginOptionsError(key, 'must be true or false');
  }

  const breakEdges = (o.breakEdges === undefined ? [] : stringArray('breakEdges', o.breakEdges)).map((text) => {
    const m = /^\s*([^\s>-][^\s]*)\s*->\s*([^\s]+)\s*$/.exec(text);
    if (!m) throw new PluginOptionsError('breakEdges', `"${text}" must look like "pkgbase -> dependency-pkgbase"`);
    return { source: m[1], target: m[2] };
  });

  const targetRepositories: Record<string, string[]> = {};
  if (o.targetRepositories !== undefined) {
    if (typeof o.targetRepositories !== 'object' || o.targetRepositories === null || Array.isArray(o.targetRepositories))
      throw new PluginOptionsError('targetRepositories', 'must map an architecture to a list of .db files');
    for (const [arch, files] of Object.entries(o.targetRepositories as Record<string, unknown>)) {
      if (!architectures.includes(arch)) throw new PluginOptionsError(`targetRepositories.${arch}`, `"${arch}" is not one of architectures (${architectures.join(', ')})`);
      targetRepositories[arch] = stringArray(`targetRepositories.${arch}`, files);
    }
  }

  const sandboxTimeoutSeconds = o.sandboxTimeoutSeconds === undefined ? 10 : Number(o.sandboxTimeoutSeconds);
  if (!Number.isFinite(sandboxTimeoutSeconds) || sandboxTimeoutSeconds <= 0) throw new PluginOptionsError('sandboxTimeoutSeconds', 'must be a positive number');

  const buildTargetName = o.buildTargetName === undefined ? 'build' : String(o.buildTargetName);
  if (!/^[A-Za-z0-9_-]+$/.test(buildTargetName)) throw new PluginOptionsError('buildTargetName', `"${buildTargetName}" is not a valid target name`);

  return {
    architectures: [...architectures],
    defaultArchitecture,
    metadataSource,
    checkdepends: o.checkdepends === undefined ? true : (o.checkdepends as boolean),
    breakEdges,
    targetRepositories,
    validateExternal: o.validateExternal === true,
    rebuildPolicy,
    sandboxTimeoutSeconds,
    buildTargetName,
  };
}
