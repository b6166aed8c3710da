/**
 * The build target every project gets. One configuration per target architecture; the cache inputs
 * encode the rebuild policy:
 *   local      - only the project's own files (and chroot config, keys);
 *   abi        - also the ABI manifests (provided sonames) of its direct dependencies: a library rebuilt
 *                with the same sonames leaves its dependents cached, a soname bump rebuilds them;
 *   transitive - also every output of every upstream build.
 * npm dependencies are never inputs: bumping nx must not rebuild every package.
 * The build roots' installed packages enter the hash only when the plugin option rootInput asks: a runtime
 * input (`pkgnx root packages`), Nx's way to hash a toolchain that is not a file of the workspace. Inputs
 * are per target, not per configuration, and a runtime input cannot know its task's configuration: it
 * covers the roots of every architecture. PKGNX_BOOTSTRAP (set by `pkgnx bootstrap` per build) keeps a
 * bootstrap stage's rebuild from being a cache hit of an earlier stage's build of the same package.
 */
import type { TargetConfiguration } from '@nx/devkit';
import type { ResolvedPluginOptions } from '../src/graph/plugin-options';

/** the build executor's options the plugin sets (the rest come from targetDefaults) */
export interface BuildTargetOptions {
  arch: string;
  nocheck?: boolean;
  nocheckReason?: string;
}

export const BUILD_EXECUTOR = './tools:build';
export const PUBLISH_EXECUTOR = './tools:publish';

/** the publish executor's options the plugin sets (the rest come from targetDefaults) */
export interface PublishTargetOptions {
  arch: string;
}

/** the environment variable `pkgnx bootstrap` sets: its stage and what was built before, in the hash */
export const BOOTSTRAP_ENV = 'PKGNX_BOOTSTRAP';

/** the runtime command whose output is the roots' part of the hash; undefined for rootInput "none" */
export function rootInputCommand(options: ResolvedPluginOptions, rootfsOption?: string): string | undefined {
  if (options.rootInput === 'none') return undefined;
  const q = (s: string): string => (/^[A-Za-z0-9_@%+=:,./{}-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`);
  const select = options.rootInput === 'all' ? ['--all'] : options.toolchainPackages.flatMap((p) => ['--package', p]);
  return ['node', 'tools/bin/pkgnx.js', 'root', 'packages', ...options.architectures.flatMap((a) => ['--arch', a]), ...select, ...(rootfsOption ? ['--rootfs', q(rootfsOption)] : [])].join(' ');
}

/**
 * @param nocheckBecause checkdepends this project cannot wait for (their edge was removed to break a
 *   cycle): the build then runs with --nocheck, as a bootstrap build does
 */
export function buildTargetConfiguration(pkgbase: string, options: ResolvedPluginOptions, nocheckBecause: string[] = [], rootfsOption?: string): TargetConfiguration<BuildTargetOptions> {
  const inputs: NonNullable<TargetConfiguration['inputs']> = [
    '{projectRoot}/**/*',
    '{workspaceRoot}/chroot-config/**/*',
    '{workspaceRoot}/keys/**/*',
    { externalDependencies: [] },
    { env: BOOTSTRAP_ENV },
  ];
  const rootCommand = rootInputCommand(options, rootfsOption);
  if (rootCommand) inputs.push({ runtime: rootCommand });
  if (options.rebuildPolicy === 'abi') inputs.push({ dependentTasksOutputFiles: '**/abi.json' });
  if (options.rebuildPolicy === 'transitive') inputs.push({ dependentTasksOutputFiles: '**/*', transitive: true });
  return {
    executor: BUILD_EXECUTOR,
    options: {
      arch: options.defaultArchitecture,
      ...(nocheckBecause.length
        ? { nocheck: true, nocheckReason: `checkdepends ${nocheckBecause.join(', ')} would close a dependency cycle (npx pkgnx cycles)` }
        : {}),
    },
    configurations: Object.fromEntries(options.architectures.map((a) => [a, { arch: a }])),
    defaultConfiguration: options.defaultArchitecture,
    dependsOn: [`^${options.buildTargetName}`],
    cache: true,
    inputs,
    outputs: [`{workspaceRoot}/dist/{options.arch}/${pkgbase}`],
    metadata: {
      description: `Build ${pkgbase} in a clean chroot (configuration = target architecture; rebuild policy ${options.rebuildPolicy}; root packages in the hash: ${options.rootInput})`,
      technologies: ['pacman'],
    },
  };
}

/**
 * The publish target: the same configurations as build (one per architecture), after the same
 * configuration's build of this project. Never cached: it changes the world outside the workspace, and
 * a build restored from the cache must still reach a new bucket (republishing identical files writes
 * nothing, so running it every time costs a HEAD per package).
 */
export function publishTargetConfiguration(pkgbase: string, options: ResolvedPluginOptions): TargetConfiguration<PublishTargetOptions> {
  return {
    executor: PUBLISH_EXECUTOR,
    options: { arch: options.defaultArchitecture },
    configurations: Object.fromEntries(options.architectures.map((a) => [a, { arch: a }])),
    defaultConfiguration: options.defaultArchitecture,
    dependsOn: [options.buildTargetName],
    cache: false,
    metadata: {
      description: `Publish ${pkgbase}'s packages (dist/<arch>/${pkgbase}/) into its repository (pkgnx.config.json "publish"); databases are written once per repository after the run`,
      technologies: ['pacman'],
    },
  };
}
