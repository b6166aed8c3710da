/**
 * The `build` executor: validates the options, collects what the build needs from Nx's context (the
 * project's pkgbase and its transitive dependency projects) and hands over to the core (run-build).
 */
import type { ExecutorContext } from '@nx/devkit';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OptionsError, parseBuildOptions } from '../../src/packaging/build-options';
import { runBuild } from '../../src/packaging/build-package';
import type { ProjectPkgnxMetadata } from '../../src/model';
import { WORKSPACE_DATA } from '../../src/graph/cached-graph';

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

/**
 * The run's task graph, for the run summary: Nx hands plugins only the tasks that ran, so the tasks it
 * skipped after a failure are known from here (every build task of the run writes the same content).
 */
function recordTaskGraph(context: ExecutorContext): void {
  const graph = context.taskGraph;
  if (!graph) return;
  try {
    const dir = join(context.root, WORKSPACE_DATA);
    mkdirSync(dir, { recursive: true });
    const tasks = Object.fromEntries(Object.entries(graph.tasks).map(([id, t]) => [id, t.target]));
    const dependencies = Object.fromEntries(Object.entries(graph.dependencies).map(([id, deps]) => [id, (deps as (string | { id: string })[]).map((d) => (typeof d === 'string' ? d : d.id))]));
    const tmp = join(dir, `task-graph.json.${process.pid}.tmp`);
    writeFileSync(tmp, JSON.stringify({ tasks, dependencies }));
    renameSync(tmp, join(dir, 'task-graph.json'));
  } catch {
    // the summary then lacks skipped tasks; the build itself is unaffected
  }
}

export default async function buildExecutor(rawOptions: Record<string, unknown>, context: ExecutorContext): Promise<{ success: boolean }> {
  const project = context.projectName;
  if (!project) {
    console.error('pkgnx build: no project in the executor context');
    return { success: false };
  }
  recordTaskGraph(context);
  const metadataError = (context.projectGraph?.nodes[project]?.data.metadata as { pkgnx?: ProjectPkgnxMetadata } | undefined)?.pkgnx?.error;
  if (metadataError) {
    console.error(`pkgnx build (${project}): the PKGBUILD could not be read: ${metadataError}`);
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
  const result = await runBuild({
    workspaceRoot: context.root,
    projectRoot: root,
    // dist/<arch>/<name>/ and logs/<name>/ are named after the project, as the target's outputs and the run
    // summary are: the pkgbase, except for a second directory of the same pkgbase (its own project name)
    pkgbase: project,
    options,
    dependencyPkgbases: transitiveDependencies(context, project),
  });
  if (!result.success) console.error(`pkgnx build (${project}): ${result.error ?? 'failed'}${result.logFile ? `; log: ${result.logFile}` : ''}`);
  return { success: result.success };
}
