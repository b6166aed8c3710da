/**
 * The build target every project gets. One configuration per target architecture; the cache inputs
 * encode the rebuild policy:
 *   local      - only the project's own files (and chroot config, keys);
 *   abi        - also the ABI manifests (provided sonames) of its direct dependencies: a library rebuilt
 *                with the same sonames leaves its dependents cached, a soname bump rebuilds them;
 *   transitive - also every output of every upstream build.
 * npm dependencies are never inputs: bumping nx must not rebuild every package.
 *
 * An arch=(any) package (unless its build option shareAny is false) gets two targets instead
 * (packaging/any-package.ts): `<build>-any`, the one build for every architecture (configuration `any`,
 * output dist/any/<pkgbase>/), and `<build>`, per architecture, which only places that result. Nx keys a task's
 * cache entry by its configuration and by the tasks its dependency outputs come from, so `<build>-any` hashes
 * no dependency output: with `local` and `abi` only its own files (an `any` package links against nothing, so no
 * soname of a dependency can change it), with `transitive` also its dependencies' source files.
 * The build roots' installed packages enter the hash only when the plugin option rootInput asks: a runtime
 * input (`pkgnx root packages`), Nx's way to hash a toolchain that is not a file of the workspace. Inputs
 * are per target, not per configuration, and a runtime input cannot know its task's configuration: it
 * covers the roots of every architecture. PKGNX_BOOTSTRAP (set by `pkgnx bootstrap` per build) keeps a
 * bootstrap stage's rebuild from being a cache hit of an earlier stage's build of the same package.
 */
import type { TargetConfiguration } from '@nx/devkit';
import type { ResolvedPluginOptions } from '../src/graph/plugin-options';
import { ANY_DIST } from '../src/workspace-paths';

/** the build executor's options the plugin sets (the rest come from targetDefaults) */
export interface BuildTargetOptions {
  arch: string;
  nocheck?: boolean;
  nocheckReason?: string;
  shareAny?: boolean;
  optionsFrom?: string;
}

export const BUILD_EXECUTOR = './tools:build';
export const BUILD_ANY_EXECUTOR = './tools:build-any';
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

/** the name of the architecture-neutral target of arch=(any) projects */
export function anyTargetName(buildTarget: string): string {
  return `${buildTarget}-${ANY_DIST}`;
}

/** what a build's result depends on besides its dependencies: its files, the configuration, keys, the roots */
function ownInputs(options: ResolvedPluginOptions, rootfsOption?: string): NonNullable<TargetConfiguration['inputs']> {
  const inputs: NonNullable<TargetConfiguration['inputs']> = [
    '{projectRoot}/**/*',
    '{workspaceRoot}/chroot-config/**/*',
    '{workspaceRoot}/keys/**/*',
    { externalDependencies: [] },
    { env: BOOTSTRAP_ENV },
  ];
  const rootCommand = rootInputCommand(options, rootfsOption);
  if (rootCommand) inputs.push({ runtime: rootCommand });
  return inputs;
}

function perArchitectureTarget(
  pkgbase: string,
  options: ResolvedPluginOptions,
  nocheckBecause: string[],
  shape: Pick<TargetConfiguration<BuildTargetOptions>, 'dependsOn' | 'inputs' | 'metadata'> & { shareAny?: boolean },
): TargetConfiguration<BuildTargetOptions> {
  return {
    executor: BUILD_EXECUTOR,
    options: {
      arch: options.defaultArchitecture,
      ...(nocheckBecause.length
        ? { nocheck: true, nocheckReason: `checkdepends ${nocheckBecause.join(', ')} would close a dependency cycle (npx pkgnx cycles)` }
        : {}),
      ...(shape.shareAny ? { shareAny: true } : {}),
    },
    configurations: Object.fromEntries(options.architectures.map((a) => [a, { arch: a }])),
    defaultConfiguration: options.defaultArchitecture,
    dependsOn: shape.dependsOn,
    cache: true,
    inputs: shape.inputs,
    outputs: [`{workspaceRoot}/dist/{options.arch}/${pkgbase}`],
    metadata: shape.metadata,
  };
}

/**
 * @param nocheckBecause checkdepends this project cannot wait for (their edge was removed to break a
 *   cycle): the build then runs with --nocheck, as a bootstrap build does
 */
export function buildTargetConfiguration(pkgbase: string, options: ResolvedPluginOptions, nocheckBecause: string[] = [], rootfsOption?: string): TargetConfiguration<BuildTargetOptions> {
  const inputs = ownInputs(options, rootfsOption);
  if (options.rebuildPolicy === 'abi') inputs.push({ dependentTasksOutputFiles: '**/abi.json' });
  if (options.rebuildPolicy === 'transitive') inputs.push({ dependentTasksOutputFiles: '**/*', transitive: true });
  return perArchitectureTarget(pkgbase, options, nocheckBecause, {
    dependsOn: [`^${options.buildTargetName}`],
    inputs,
    metadata: {
      description: `Clean-chroot build (configuration = architecture; rebuild policy ${options.rebuildPolicy}; root packages hashed: ${options.rootInput})`,
    },
  });
}

/**
 * The targets of an arch=(any) project built once for every architecture.
 */
export function sharedAnyTargets(
  pkgbase: string,
  options: ResolvedPluginOptions,
  nocheckBecause: string[],
  rootfsOption?: string,
): Record<string, TargetConfiguration<BuildTargetOptions>> {
  const build = options.buildTargetName;
  const any = anyTargetName(build);
  const anyInputs = ownInputs(options, rootfsOption);
  if (options.rebuildPolicy === 'transitive') anyInputs.push({ fileset: '{projectRoot}/**/*', dependencies: true });
  const result = `dist/${ANY_DIST}/${pkgbase}`;
  return {
    [build]: perArchitectureTarget(pkgbase, options, nocheckBecause, {
      shareAny: true,
      // params forwarded: --dryRun, --nocheck reach the one build too
      dependsOn: [{ target: any, params: 'forward' }, `^${build}`],
      // what it places, nothing else: its own files reach it through the result
      inputs: [{ externalDependencies: [] }, { dependentTasksOutputFiles: `${result}/*.pkg.tar*` }, { dependentTasksOutputFiles: `${result}/abi.json` }],
      metadata: {
        description: `Places the result of ${any} in dist/<arch>/ and the workspace repository (configuration = architecture)`,
      },
    }),
    [any]: {
      executor: BUILD_ANY_EXECUTOR,
      options: { arch: ANY_DIST, optionsFrom: build },
      configurations: { [ANY_DIST]: {} },
      defaultConfiguration: ANY_DIST,
      dependsOn: [`^${build}`],
      cache: true,
      inputs: anyInputs,
      outputs: [`{workspaceRoot}/${result}`],
      metadata: {
        description: `The one build for every architecture, native when possible (rebuild policy ${options.rebuildPolicy}; root packages hashed: ${options.rootInput})`,
      },
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
      description: `Publish dist/<arch>/${pkgbase}/ (pkgnx.config.json "publish"; databases written once per run)`,
    },
  };
}
