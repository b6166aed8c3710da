/**
 * The `build` executor: validates the options, collects what the build needs from Nx's context (the
 * project's pkgbase and its transitive dependency projects) and hands over to the core (packaging/build-package).
 */
import type { ExecutorContext } from '@nx/devkit';
import { OptionsError, parseBuildOptions } from '../../src/packaging/build-options';
import { runBuild } from '../../src/packaging/build-package';
import { buildInputsFor, type ProjectPkgnxMetadata } from '../../src/model';
import { recordTaskGraph } from '../../plugin/run';

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

export default async function buildExecutor(rawOptions: Record<string, unknown>, context: ExecutorContext): Promise<{ success: boolean }> {
  const project = context.projectName;
  if (!project) {
    console.error('pkgnx build: no project in the executor context');
    return { success: false };
  }
  recordTaskGraph(context);
  const metadata = (context.projectGraph?.nodes[project]?.data.metadata as { pkgnx?: ProjectPkgnxMetadata } | undefined)?.pkgnx;
  if (metadata?.error) {
    console.error(`pkgnx build (${project}): the PKGBUILD could not be read: ${metadata.error}`);
    return { success: false };
  }
  let options;
  try {
    options = parseBuildOptions(rawOptions);
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
  // what the graph read of the PKGBUILD for this architecture: it is not sourced again here
  const buildInputs = metadata ? buildInputsFor(metadata, options.arch) : undefined;
  if (!buildInputs) {
    console.error(`pkgnx build (${project}): no metadata for architecture ${options.arch}: it is not one of the plugin's architectures (chroot-config/<arch>/ and the plugin option "architectures")`);
    return { success: false };
  }
  const result = await runBuild({
    workspaceRoot: context.root,
    projectRoot: root,
    // dist/<arch>/<name>/ and logs/<name>/ are named after the project, as the target's outputs and the run
    // summary are: the pkgbase, except for a second directory of the same pkgbase (its own project name)
    pkgbase: project,
    options,
    dependencyPkgbases: transitiveDependencies(context, project),
    buildInputs,
  });
  if (!result.success) console.error(`pkgnx build (${project}): ${result.error ?? 'failed'}${result.logFile ? `; log: ${result.logFile}` : ''}`);
  return { success: result.success };
}
