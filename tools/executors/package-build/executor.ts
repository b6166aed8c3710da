/**
 * The `build` executor: validates the options, collects what the build needs from Nx's context (the
 * project's pkgbase and its transitive dependency projects) and hands over to the core (packaging/build-package).
 * For an arch=(any) project built once for every architecture (plugin/targets.ts) the same executor runs its
 * `-any` task (the one build, packaging/any-arch.ts chooses where) and its per-architecture task (the placement,
 * packaging/any-package.ts).
 */
import { join } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { BUILD_OPTION_KEYS, OptionsError, parseBuildOptions, type BuildOptions } from '../../src/packaging/build-options';
import { hostArch, runBuild, type RunBuildResult } from '../../src/packaging/build-package';
import { chooseAnyBuildArch } from '../../src/packaging/any-arch';
import { builtVersions, placeAnyPackage } from '../../src/packaging/any-package';
import { buildInputsFor, type ProjectPkgnxMetadata } from '../../src/model';
import { ANY_DIST } from '../../src/workspace-paths';
import { recordTaskGraph } from '../../plugin/run';
import { anyTargetName } from '../../plugin/targets';

/** every project the given one depends on, directly or not (npm and other external nodes excluded) */
function transitiveDependencies(context: ExecutorContext, project: string): string[] {
  const graph = context.projectGraph;
  if (!graph) return [];
  const seen = new Set<string>();
  const stack = [project];
  while (stack.length) {
    const current = stack.pop() as string;
    for (const dep of graph.dependencies[current] ?? []) {
      if (!graph.nodes[dep.target] || seen.has(dep.target) || dep.target === project) continue;
      seen.add(dep.target);
      stack.push(dep.target);
    }
  }
  return [...seen].sort();
}

function pkgnxMetadata(context: ExecutorContext, project: string): ProjectPkgnxMetadata | undefined {
  return (context.projectGraph?.nodes[project]?.data.metadata as { pkgnx?: ProjectPkgnxMetadata } | undefined)?.pkgnx;
}

/** the configuration the run gave this task's dependency build tasks (`-c aarch64`): what Nx ordered before it */
function dependencyConfiguration(context: ExecutorContext, buildTarget: string): string | undefined {
  const graph = context.taskGraph;
  if (!graph || !context.projectName || !context.targetName) return undefined;
  const id = [context.projectName, context.targetName, context.configurationName].filter(Boolean).join(':');
  for (const dep of graph.dependencies[id] ?? []) {
    const task = graph.tasks[typeof dep === 'string' ? dep : (dep as { id: string }).id];
    if (task?.target.target === buildTarget && task.target.configuration) return task.target.configuration;
  }
  return undefined;
}

/** the one build of an arch=(any) project: on the architecture any-arch.ts chooses, into dist/any/<project>/ */
async function buildOnce(context: ExecutorContext, project: string, root: string, options: BuildOptions, metadata: ProjectPkgnxMetadata): Promise<RunBuildResult> {
  const graph = context.projectGraph;
  const targetName = context.targetName ?? '';
  const host = hostArch();
  const dependencies = transitiveDependencies(context, project);
  // dependencies built once too come from dist/any/; the others from dist/<arch>/
  const shared = dependencies.filter((d) => graph?.nodes[d]?.data.targets?.[targetName]);
  const archSpecific = dependencies.filter((d) => !shared.includes(d));
  const choice = chooseAnyBuildArch({
    host,
    configured: Object.keys(metadata.build),
    orderedFor: dependencyConfiguration(context, options.optionsFrom ?? ''),
    archDependencies: await Promise.all(
      archSpecific.map(async (d) => ({ pkgbase: d, version: pkgnxMetadata(context, d)?.version ?? '', builtOnHost: await builtVersions(join(context.root, 'dist', host, d)) })),
    ),
  });
  const buildInputs = buildInputsFor(metadata, choice.arch);
  if (!buildInputs) return { success: false, error: `no metadata for architecture ${choice.arch}: it is not one of the plugin's architectures` };
  return runBuild({
    workspaceRoot: context.root,
    projectRoot: root,
    pkgbase: project,
    options: { ...options, arch: choice.arch },
    dependencyPkgbases: archSpecific,
    anyDependencyPkgbases: shared,
    outputArch: ANY_DIST,
    archReason: choice.reason,
    buildInputs,
  });
}

/**
 * The options of a `-any` task: those of the target it builds for (targetDefaults, the plugin's, project.json:
 * nocheck for a cycle break, backend, …), then the command-line options of the task it was run for (its placement:
 * `--dryRun`, `--nocheck`, … given to `build`), then its own (arch any). Nx forwards it the
 * run's options (so that they are in its hash), also those meant for another target (`nx run-many -t publish
 * --dryRun` builds for real): the placement's say what applies.
 */
function anyTaskOptions(raw: Record<string, unknown>, context: ExecutorContext, targets: Record<string, { options?: unknown }>): Record<string, unknown> {
  const from = typeof raw.optionsFrom === 'string' ? targets[raw.optionsFrom]?.options : undefined;
  const { arch: _arch, shareAny: _shareAny, ...inherited } = (from ?? {}) as Record<string, unknown>;
  const graph = context.taskGraph;
  const id = [context.projectName, context.targetName, context.configurationName].filter(Boolean).join(':');
  const placement = Object.entries(graph?.dependencies ?? {}).find(
    ([task, deps]) => graph?.tasks[task]?.target.project === context.projectName && deps.some((d) => (typeof d === 'string' ? d : (d as { id: string }).id) === id),
  );
  const given = (placement ? graph?.tasks[placement[0]]?.overrides : graph?.tasks[id]?.overrides) ?? {};
  const own = new Set(['arch', 'shareAny', 'optionsFrom']);
  const overrides = Object.fromEntries(Object.entries(given as Record<string, unknown>).filter(([k]) => (BUILD_OPTION_KEYS as readonly string[]).includes(k) && !own.has(k)));
  return { ...inherited, ...overrides, arch: raw.arch, optionsFrom: raw.optionsFrom };
}

export default async function buildExecutor(rawOptions: Record<string, unknown>, context: ExecutorContext): Promise<{ success: boolean }> {
  const project = context.projectName;
  if (!project) {
    console.error('pkgnx build: no project in the executor context');
    return { success: false };
  }
  recordTaskGraph(context);
  const metadata = pkgnxMetadata(context, project);
  if (metadata?.error) {
    console.error(`pkgnx build (${project}): the PKGBUILD could not be read: ${metadata.error}`);
    return { success: false };
  }
  const targets = context.projectsConfigurations?.projects[project]?.targets ?? context.projectGraph?.nodes[project]?.data.targets ?? {};
  let options;
  try {
    options = parseBuildOptions(rawOptions.optionsFrom === undefined ? rawOptions : anyTaskOptions(rawOptions, context, targets));
  } catch (err) {
    if (err instanceof OptionsError) {
      console.error(`pkgnx build (${project}): ${err.message}`);
      return { success: false };
    }
    throw err;
  }
  const root = context.projectsConfigurations?.projects[project]?.root ?? context.projectGraph?.nodes[project]?.data.root;
  if (!root) {
    console.error(`pkgnx build: project ${project} has no root`);
    return { success: false };
  }
  let result: RunBuildResult;
  if (options.arch === ANY_DIST) {
    if (!metadata) {
      console.error(`pkgnx build (${project}): no metadata in the project graph`);
      return { success: false };
    }
    result = await buildOnce(context, project, root, options, metadata);
  } else if (options.shareAny && context.targetName && targets[anyTargetName(context.targetName)]) {
    result = await placeAnyPackage({ workspaceRoot: context.root, pkgbase: project, arch: options.arch, repoName: options.repoName, keepLogs: options.keepLogs, dryRun: options.dryRun });
  } else {
    result = await buildForArch(context, project, root, options, metadata);
  }
  if (!result.success) console.error(`pkgnx build (${project}): ${result.error ?? 'failed'}${result.logFile ? `; log: ${result.logFile}` : ''}`);
  return { success: result.success };
}

async function buildForArch(context: ExecutorContext, project: string, root: string, options: BuildOptions, metadata: ProjectPkgnxMetadata | undefined): Promise<RunBuildResult> {
  // what the graph read of the PKGBUILD for this architecture: it is not sourced again here
  const buildInputs = metadata ? buildInputsFor(metadata, options.arch) : undefined;
  if (!buildInputs)
    return { success: false, error: `no metadata for architecture ${options.arch}: it is not one of the plugin's architectures (chroot-config/<arch>/ and the plugin option "architectures")` };
  return runBuild({
    workspaceRoot: context.root,
    projectRoot: root,
    // dist/<arch>/<name>/ and logs/<name>/ are named after the project, as the target's outputs and the run
    // summary are: the pkgbase, except for a second directory of the same pkgbase (its own project name)
    pkgbase: project,
    options,
    dependencyPkgbases: transitiveDependencies(context, project),
    buildInputs,
  });
}
