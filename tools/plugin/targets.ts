/**
 * The build target every project gets. One configuration per target architecture; the cache inputs
 * encode the rebuild policy:
 *   local      - only the project's own files (and chroot config, keys);
 *   abi        - also the ABI manifests (provided sonames) of its direct dependencies: a library rebuilt
 *                with the same sonames leaves its dependents cached, a soname bump rebuilds them;
 *   transitive - also every output of every upstream build.
 * npm dependencies are never inputs: bumping nx must not rebuild every package.
 */
import type { ResolvedPluginOptions } from '../src/graph/plugin-options';

export interface BuildTargetConfig {
  executor: string;
  options: { arch: string; nocheck?: boolean; nocheckReason?: string };
  configurations: Record<string, { arch: string }>;
  defaultConfiguration: string;
  dependsOn: string[];
  cache: boolean;
  inputs: (string | Record<string, unknown>)[];
  outputs: string[];
  metadata: { description: string; technologies: string[] };
}

export const BUILD_EXECUTOR = './tools:build';

/**
 * @param nocheckBecause checkdepends this project cannot wait for (their edge was removed to break a
 *   cycle): the build then runs with --nocheck, as a bootstrap build does
 */
export function buildTargetConfiguration(pkgbase: string, options: ResolvedPluginOptions, nocheckBecause: string[] = []): BuildTargetConfig {
  const inputs: (string | Record<string, unknown>)[] = [
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
        ? { nocheck: true, nocheckReason: `checkdepends ${nocheckBecause.join(', ')} would close a dependency cycle (npm run pkgnx -- cycles)` }
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
