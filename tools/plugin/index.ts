/**
 * The pkgnx Nx plugin: one project per PKGBUILD directory under pkgbuilds/, named after its pkgbase,
 * with a `build` and a `publish` target per architecture, and static edges from depends/makedepends/checkdepends.
 * Thin adapter: every decision lives in tools/src/graph.
 */
import type { CreateDependencies, CreateNodes, NxJsonConfiguration, PostTasksExecution, PostTasksExecutionContext, PreTasksExecution, ProjectConfiguration, RawProjectGraphDependency } from '@nx/devkit';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { PkgnxPluginOptions } from '../src/graph/plugin-options';
import { PKGBUILD_GLOB, resolveOptions, workspaceGraph } from '../src/graph/cached-graph';
import { ANY_DIST, WORKSPACE_DATA } from '../src/workspace-paths';
import { projectMetadata, type GraphProject } from '../src/graph/workspace-graph';
import { scanPackageDirectories } from '../src/graph/package-dirs';
import { buildTaskRuns, isBuildRun, isDryRun, nxCommand, publishingSummary, takePublishRun, takeTaskGraph } from './run';
import { directoryHashes } from './hashes';
import { BUILD_EXECUTOR, anyTargetName, buildTargetConfiguration, publishTargetConfiguration, sharedAnyTargets } from './targets';
import { isAnyPackage } from '../src/packaging/any-arch';
import type { PublishingInput, TaskRun } from '../src/packaging/run-summary';
import { remoteCacheGuard } from '../src/farm/cache-probe';
import { writeStatusSite } from '../src/farm/status-site';

export type { PkgnxPluginOptions };

/**
 * The plugin's name, as Nx shows it (`nx show project`, perf marks). Without it Nx uses the path in nx.json,
 * and writes that path into the graph's source maps once per key of every project: at 8,480 projects that
 * was 12 MB more for the daemon to send on every command.
 */
export const name = 'pkgnx';

/**
 * A build run has started (graph loading comes first, then preTasksExecution): until it writes its own
 * summary, dist/summary.{json,txt} is marked as the summary of an earlier run, so an interrupt or a kill
 * never leaves an old summary that looks current.
 */
async function markRunStarted(workspaceRoot: string, argv: readonly string[], targets: readonly string[]): Promise<void> {
  const { markSummaryStale } = await import('../src/packaging/run-summary');
  const args = argv.slice(2);
  if (!targets.some((t) => isBuildRun(args, t))) return;
  try {
    markSummaryStale(workspaceRoot, { pid: nxCommand().pid, startedAt: new Date().toISOString(), command: args.join(' ') });
  } catch (e) {
    console.warn(`pkgnx: could not mark dist/summary.txt as stale: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export const createNodes: CreateNodes<PkgnxPluginOptions> = [
  PKGBUILD_GLOB,
  async (files, rawOptions, context) => {
    const options = resolveOptions(rawOptions, context.workspaceRoot);
    await markRunStarted(context.workspaceRoot, nxCommand().argv, [options.buildTargetName, options.publishTargetName]);
    const graph = await workspaceGraph(context.workspaceRoot, files, rawOptions, await directoryHashes(context.workspaceRoot, files.map((f) => dirname(f))));
    const byFile = new Map(graph.projects.map((p) => [p.pkgbuild, p]));
    const nocheck = new Map<string, string[]>();
    for (const r of graph.cycles.removed) if (r.reason === 'checkdepends') nocheck.set(r.source, [...(nocheck.get(r.source) ?? []), r.target]);
    const shareAnyDefault = buildOptionValue(context.nxJsonConfiguration, options.buildTargetName, 'shareAny') !== false;
    const rootfs = rootfsOption(context.nxJsonConfiguration, options.buildTargetName);
    const results = files.map((file, i) => {
      const p = byFile.get(file)!;
      const meta = projectMetadata(p, options.defaultArchitecture);
      const tags = ['pkgnx', ...meta.arch.map((a) => `arch:${a}`), ...(meta.pkgnames.length > 1 ? ['split'] : []), ...(p.error ? ['pkgnx:error'] : [])];
      const project: Omit<ProjectConfiguration, 'root'> & { root: string } = {
        root: p.root,
        name: p.name,
        projectType: 'library',
        tags,
        metadata: {
          description: p.error ? `broken PKGBUILD: ${p.error}` : `${meta.pkgnames.join(', ')} ${meta.version}`,
          technologies: ['pacman'],
          pkgnx: meta,
        } as ProjectConfiguration['metadata'],
        targets: {
          ...(sharesAny(context.workspaceRoot, p, options.defaultArchitecture, options.buildTargetName, shareAnyDefault)
            ? sharedAnyTargets(p.name, options, nocheck.get(p.name) ?? [], rootfs)
            : { [options.buildTargetName]: buildTargetConfiguration(p.name, options, nocheck.get(p.name), rootfs) }),
          [options.publishTargetName]: publishTargetConfiguration(p.name, options),
        },
      };
      const result: { projects: Record<string, typeof project>; externalNodes?: Record<string, { type: string; name: string; data: { version: string; packageName: string } }> } = {
        projects: { [p.root]: project },
      };
      // Nx keeps static edges per source file and only re-asks for changed files; an edge can change
      // because another PKGBUILD changed (a new provider, a new cycle). This node's version is the
      // graph's fingerprint: when it changes, Nx recomputes every file's dependencies.
      if (i === 0) {
        result.externalNodes = {
          'pkgnx:graph': { type: 'pkgnx', name: 'pkgnx:graph', data: { version: graph.fingerprint, packageName: 'pkgnx-graph-fingerprint' } },
        };
      }
      return [file, result] as const;
    });
    return results;
  },
];

/**
 * The graph's warnings are printed once per change of the graph (or of the directories not loaded), not on every
 * command: at distribution scale the same forced cycle break on every `nx` call is noise. What was last
 * printed is remembered in the workspace data (cleared by `nx reset`, which prints them again);
 * `npx pkgnx graph` and `npx pkgnx cycles` list everything at any time.
 */
function shouldWarn(workspaceRoot: string, fingerprint: string): boolean {
  const file = join(workspaceRoot, WORKSPACE_DATA, 'warned-fingerprint');
  try {
    if (readFileSync(file, 'utf8') === fingerprint) return false;
  } catch {
    // never warned here yet
  }
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, fingerprint);
  } catch {
    // read-only workspace data: warn every time rather than never
  }
  return true;
}

export const createDependencies: CreateDependencies<PkgnxPluginOptions> = async (rawOptions, context) => {
  const files = Object.values(context.projects)
    .map((p) => join(p.root, 'PKGBUILD'))
    .filter((f) => f.startsWith('pkgbuilds/') && existsSync(join(context.workspaceRoot, f)));
  const graph = await workspaceGraph(context.workspaceRoot, files, rawOptions);
  // not part of the (cached) graph: a new symbolic link or an unreadable directory adds no PKGBUILD to it
  const notLoaded = scanPackageDirectories(context.workspaceRoot, files.map((f) => dirname(f)));
  if (shouldWarn(context.workspaceRoot, createHash('sha256').update(`${graph.fingerprint}\0${notLoaded.join('\0')}`).digest('hex'))) {
    if (notLoaded.length) console.warn(`pkgnx: ${notLoaded.length} package director${notLoaded.length === 1 ? 'y is' : 'ies are'} not loaded:\n${notLoaded.map((w) => `  - ${w}`).join('\n')}`);
    const broken = graph.projects.filter((p) => p.error);
    const forced = graph.cycles.forced.reduce((n, f) => n + f.removed.length, 0);
    if (broken.length) console.warn(`pkgnx: ${broken.length} PKGBUILD(s) could not be read:\n${broken.map((p) => `  - ${p.error}`).join('\n')}`);
    if (forced) console.warn(`pkgnx: ${forced} dependency edge(s) were removed by a FORCED cycle break; run \`npx pkgnx cycles\` for the report`);
    const { warnings } = graph;
    if (warnings.length > 0 && warnings.length <= 10) console.warn(`pkgnx: ${warnings.length} graph warning(s):\n${warnings.map((w) => `  - ${w}`).join('\n')}`);
    else if (warnings.length > 10) console.warn(`pkgnx: ${warnings.length} graph warnings (several providers, pkgbases in several directories, self-cycles, ...): \`npx pkgnx graph\` lists them`);
  }
  const deps: RawProjectGraphDependency[] = graph.edges
    .map((e) => ({ source: e.source, target: e.target, sourceFile: e.sourceFile, type: 'static' as RawProjectGraphDependency['type'] }) as RawProjectGraphDependency);
  return deps;
};

/** a build option as nx.json's targetDefaults set it, by target name or by executor (undefined: the executor's default) */
function buildOptionValue(nxJson: NxJsonConfiguration, target: string, key: string): unknown {
  const defaults = (nxJson.targetDefaults ?? {}) as Record<string, { options?: Record<string, unknown> } | undefined>;
  return defaults[target]?.options?.[key] ?? defaults[BUILD_EXECUTOR]?.options?.[key];
}

/** a string build option as nx.json's targetDefaults set it (the executor's default otherwise) */
function buildOptionDefault(nxJson: NxJsonConfiguration, target: string, key: string): string | undefined {
  const value = buildOptionValue(nxJson, target, key);
  return typeof value === 'string' ? value : undefined;
}

function repoNameOption(nxJson: NxJsonConfiguration, target: string): string | undefined {
  return buildOptionDefault(nxJson, target, 'repoName');
}

/** where builds find their roots (the rootInput runtime command reads the same ones) */
function rootfsOption(nxJson: NxJsonConfiguration, target: string): string | undefined {
  return buildOptionDefault(nxJson, target, 'rootfs');
}

/**
 * Is this arch=(any) project built once for every architecture? The build option shareAny decides: per project in
 * the project.json beside its PKGBUILD (`targets.<build>.options.shareAny`, which Nx also merges into the target),
 * else targetDefaults, else true. Read here because it shapes the targets; a value that is not a boolean is
 * reported by the executor, naming the key.
 */
function sharesAny(workspaceRoot: string, p: GraphProject, arch: string, target: string, fallback: boolean): boolean {
  const meta = p.metadata[arch];
  if (p.error || !meta || !isAnyPackage(meta)) return false;
  const file = join(workspaceRoot, p.root, 'project.json');
  if (!existsSync(file)) return fallback;
  try {
    const own = (JSON.parse(readFileSync(file, 'utf8')) as { targets?: Record<string, { options?: { shareAny?: unknown } }> }).targets?.[target]?.options?.shareAny;
    return own === undefined ? fallback : own !== false;
  } catch {
    return fallback; // Nx's own project.json plugin reports the broken file
  }
}

/**
 * Before a run: mark the previous summary as not current, and make sure an unusable remote cache does not
 * fail the whole run.
 */
export const preTasksExecution: PreTasksExecution<PkgnxPluginOptions> = async (rawOptions, context) => {
  const options = resolveOptions(rawOptions, context.workspaceRoot);
  await markRunStarted(context.workspaceRoot, context.argv, [options.buildTargetName, options.publishTargetName]);
  // an unreachable remote cache fails (or hangs) a whole Nx 24 run: probe it, else go on with the local cache
  const guard = await remoteCacheGuard(process.env, context.argv);
  Object.assign(process.env, guard.env);
  if (guard.message) console.warn(guard.message);
  return guard.env as unknown as void;
};

/**
 * The databases of the repositories the run's publish tasks staged into (plugin/run.ts takePublishRun): each
 * rewritten once for the whole run. Returns the summary's view; `failed` when a commit failed (the run must
 * then fail).
 */
async function commitPublishing(workspaceRoot: string, publishTarget: string, results: PostTasksExecutionContext['taskResults'], buildTasks: TaskRun[], publishTasks: TaskRun[]): Promise<{ publishing?: PublishingInput; failed: string[] }> {
  if (publishTasks.length === 0) return { failed: [] };
  const runDir = takePublishRun(workspaceRoot, Object.values(results).filter((r) => r.task.target.target === publishTarget));
  // nothing staged (every publish task failed, did not run, or was a dry run): only what was not published
  if (!runDir) return { publishing: publishingSummary(publishTasks, buildTasks, [], []), failed: [] };
  // loaded here, not at the top: the S3 SDK is not needed by the graph nor by every other nx command
  const { commitRun } = await import('../src/publish/workspace');
  const { commits, failures } = await commitRun(runDir, { log: (line) => console.log(`pkgnx ${publishTarget}: ${line}`) });
  return {
    publishing: publishingSummary(publishTasks, buildTasks, commits, failures),
    failed: failures.map((f) => `${f.destination} (${f.arch}; ${f.projects.join(', ')}): ${f.message}`),
  };
}

/**
 * After every run: the databases of what the publish tasks staged are written (once per repository),
 * packages restored from the cache join the workspace repository (the executor does not run on a cache
 * hit), dist/summary.{json,txt} say what was built, restored, failed, skipped and published where, and
 * dist/status/ shows it as pages. A failed database commit fails the run: Nx reports an error thrown here
 * and exits 1.
 */
export const postTasksExecution: PostTasksExecution<PkgnxPluginOptions> = async (rawOptions, context) => {
  const options = resolveOptions(rawOptions, context.workspaceRoot);
  const recorded = takeTaskGraph(context.workspaceRoot, Object.keys(context.taskResults));
  const { tasks, dependsOn } = buildTaskRuns(context.taskResults, [options.buildTargetName, anyTargetName(options.buildTargetName)], recorded);
  const publishTasks = buildTaskRuns(context.taskResults, [options.publishTargetName], recorded).tasks;
  const { publishing, failed } = await commitPublishing(context.workspaceRoot, options.publishTargetName, context.taskResults, tasks, publishTasks);
  const publishError = (): Error =>
    new Error(`pkgnx ${options.publishTargetName}: the packages are uploaded but the database commit failed, so nothing of them is published: ${failed.join('; ')}\nRerun the same publish to complete it (uploaded files are not uploaded again).`);
  const { clearStaleMark, writeRunSummary, renderSummaryTable, renderPublished } = await import('../src/packaging/run-summary');
  // a dry run changes nothing, not even the summary (a run without build tasks neither: undo its stale mark)
  if (tasks.length === 0 || isDryRun(context.argv)) {
    clearStaleMark(context.workspaceRoot, nxCommand().pid);
    if (publishing) process.stdout.write(`\n${renderPublished({ published: publishing.repositories, notPublished: publishing.notPublished })}`);
    if (failed.length) throw publishError();
    return;
  }
  const { registerOutputs } = await import('../src/packaging/workspace-repo');
  const restoredByArch = new Map<string, string[]>();
  for (const t of tasks) {
    // a result built once for every architecture joins each architecture's repository through its placement task
    if (t.outcome !== 'restored' || t.configuration === ANY_DIST) continue;
    const arch = t.configuration ?? options.defaultArchitecture;
    restoredByArch.set(arch, [...(restoredByArch.get(arch) ?? []), t.project]);
  }
  for (const [arch, projects] of restoredByArch) {
    try {
      await registerOutputs(context.workspaceRoot, arch, projects, repoNameOption(context.nxJsonConfiguration, options.buildTargetName));
    } catch (e) {
      console.warn(`pkgnx: could not add restored packages to dist/${arch}/repo: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const { summary } = writeRunSummary(context.workspaceRoot, { tasks, dependsOn, startTime: context.startTime, endTime: context.endTime, ...(publishing ? { publishing } : {}) });
  if (summary.failed.length > 0 || summary.skipped.length > 0) process.stdout.write(`\n${renderSummaryTable(summary)}`);
  else if (publishing) process.stdout.write(`\n${renderPublished(summary)}`);
  // the status pages beside the summary (plugin option statusPage: false turns them off); never fails the run
  if (options.statusPage) {
    try {
      await writeStatusSite(context.workspaceRoot, summary, { warn: (m) => console.warn(`pkgnx status page: ${m}`) });
    } catch (e) {
      console.warn(`pkgnx: could not write dist/status/: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  if (failed.length) throw publishError();
};
