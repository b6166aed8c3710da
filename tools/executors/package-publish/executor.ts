/**
 * The `publish` executor: validates the options and stages the project's built packages
 * (dist/<arch>/<project>/) into their repository: routed, signed, uploaded. The databases are not touched
 * here: the plugin's postTasksExecution commits every repository once for the whole run
 * (plugin/run.ts takePublishRun, publish/workspace.ts commitRun). Started outside such a run (no nx process
 * to key the staging on, or the pkgnx plugin not registered) it commits at once. A dry run prints everything it would upload and write, per project.
 */
import type { ExecutorContext } from '@nx/devkit';
import { resolve } from 'node:path';
import { OptionsError } from '../../src/options';
import { parsePublishTargetOptions } from '../../src/publish/target-options';
import { formatPublishReport } from '../../src/publish/report';
import { publishProject } from '../../src/publish/workspace';
import { publishStagingDir, recordTaskGraph } from '../../plugin/run';

export default async function publishExecutor(rawOptions: Record<string, unknown>, context: ExecutorContext): Promise<{ success: boolean }> {
  const project = context.projectName;
  if (!project) {
    console.error('pkgnx publish: no project in the executor context');
    return { success: false };
  }
  // the run summary learns from it which tasks Nx skipped (a build that failed skips its publish)
  recordTaskGraph(context);
  const fail = (message: string): { success: false } => {
    // the run summary takes the reason from this line
    console.error(`pkgnx publish (${project}): ${message}`);
    return { success: false };
  };
  let options;
  try {
    options = parsePublishTargetOptions(rawOptions);
  } catch (err) {
    if (err instanceof OptionsError) return fail(err.message);
    throw err;
  }
  // staged for the plugin's one commit per repository after the run; undefined: nothing would, commit now
  const runDir = publishStagingDir(context);
  try {
    const result = await publishProject({
      workspaceRoot: context.root,
      configFile: resolve(context.root, options.config),
      arch: options.arch,
      project,
      dryRun: options.dryRun,
      offline: options.offline,
      noUpstream: options.noUpstream,
      noPrune: options.noPrune,
      log: (line) => console.log(line),
      ...(runDir ? { runDir } : {}),
    });
    if ('report' in result) process.stdout.write(formatPublishReport(result.report));
    else {
      for (const p of result.staged.packages) {
        console.log(`staged ${p.filename} for ${p.repo}/os/${options.arch} (${p.reason})${p.uploaded.length ? `: uploaded ${p.uploaded.join(', ')}` : ': already uploaded'}`);
      }
      console.log(`pkgnx publish (${project}): the database of each repository is written once after the run`);
    }
    return { success: true };
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
}
