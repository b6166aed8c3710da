/**
 * The build target every project gets. One configuration per target architecture; the cache inputs
 * encode the rebuild policy:
 *   local      - only the project's own files (and chroot config, keys);
 *   abi        - also the ABI manifests (provided sonames) of its direct dependencies: a library rebuilt
 *                with the same sonames leaves its dependents cached, a soname bump rebuilds them;
 *   transitive - also every output of every upstream build.
 * npm dependencies are never inputs: bumping nx must not rebuild every package.
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

/**
 * @param nocheckBecause checkdepends this project cannot wait for (their edge was removed to break a
 *   cycle): the build then runs with --nocheck, as a bootstrap build does
 */
export function buildTargetConfiguration(pkgbase: string, options: ResolvedPluginOptions, nocheckBecause: string[] = []): TargetConfiguration<BuildTargetOptions> {
  const inputs: NonNullable<TargetConfiguration['inputs']> = [
    '{projectRoot}/**/*',
    '{workspaceRoot}/chroot-config/**/*',
    '{workspaceRoot}/keys/**/*',
    { externalDependencies: [] },
  ];
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
      description: `Build ${pkgbase} in a clean chroot (configuration = target architecture; rebuild policy ${options.rebuildPolicy})`,
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
