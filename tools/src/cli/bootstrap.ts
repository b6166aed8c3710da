/** `pkgnx bootstrap`: build a committed plan of stages (a toolchain bootstrap). See docs/roots.md. */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadPlan, SelectionError } from '../bootstrap/plan';
import { runBootstrap } from '../bootstrap/run';
import { readPluginOptionsFromNxJson, resolveOptions } from '../graph/cached-graph';
import { run } from '../process/run';
import { inspectRoot } from '../roots/inspect';
import { EXIT_FAILURE, EXIT_OK, UsageError, runVerb } from './support';
import { interruptSignal, rootLogFile, rootTarget } from './root-support';

const HELP = `usage: bootstrap [--plan FILE] [--arch ARCH] [--stage STAGE] [--start-from [STAGE/]PKGBASE] [--restart] [--publish] [--update-root] [--dry-run] [--break-lock]
Build the stages of a bootstrap plan (default bootstrap/toolchain.json) in order, each package with
\`nx run PKGBASE:build:ARCH\`, each against the outputs of everything built before it: those replace the
root's installed copies in the build's copy, and they are part of the build's cache key, so a later
stage's rebuild of a package is a new build, never the cache of an earlier stage's. The pacman cache is
emptied before every build. One run at a time per workspace (.pkgnx/bootstrap/run.lock names its holder);
progress is kept in .pkgnx/bootstrap/<plan>-<arch>.json, and a rerun resumes at the first build not done.
  --plan FILE          the plan: {"stages": [{"name": "stage1", "pkgbases": [...], "nocheck": true}, ...],
                       "publish": {"repo": "core-testing"}}
  --arch ARCH          target architecture (default: the build target's default configuration)
  --stage STAGE        only this stage (its name or number)
  --start-from [STAGE/]PKGBASE   skip the builds before this one (and only those); a pkgbase that is in
                       several stages needs its stage
  --restart            forget the progress of an earlier run
  --publish            after each complete stage, publish its packages (npx pkgnx publish) into the plan's
                       publish.repo
  --update-root        update the build root (npx pkgnx root update) before each build
  --dry-run            print what would be built and skipped; change nothing
  --break-lock         take the lock of a run on another host that is gone
  --workspace DIR      the workspace (default: the current directory)
exit codes: 0 every selected build done, 1 a build failed (the next run resumes there) or another run
holds the lock, 2 usage error, 130 interrupted (the next run resumes at the interrupted build)`;

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      plan: { type: 'string' }, arch: { type: 'string' }, stage: { type: 'string' }, 'start-from': { type: 'string' }, restart: { type: 'boolean' },
      publish: { type: 'boolean' }, 'update-root': { type: 'boolean' }, 'dry-run': { type: 'boolean' }, 'break-lock': { type: 'boolean' },
      workspace: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return EXIT_OK;
  }
  const workspaceRoot = resolve(values.workspace ?? process.cwd());
  const options = resolveOptions(readPluginOptionsFromNxJson(workspaceRoot), workspaceRoot);
  const arch = values.arch ?? options.defaultArchitecture;
  if (!options.architectures.includes(arch)) throw new UsageError(`--arch ${arch}: not one of the workspace's architectures (${options.architectures.join(', ')})`);
  const plan = loadPlan(resolve(workspaceRoot, values.plan ?? join('bootstrap', 'toolchain.json')));
  if (values.publish && !plan.publishRepo) throw new UsageError(`--publish: ${plan.file} has no "publish": {"repo": ...}`);
  const target = rootTarget({ arch, workspace: workspaceRoot });
  if (values['update-root'] && inspectRoot(target.root).kind !== 'arch') throw new UsageError(`--update-root: ${target.root} is not an Arch root pacman can update (npx pkgnx root check --arch ${arch})`);
  const say = (line: string): void => void process.stderr.write(`bootstrap: ${line}\n`);
  const pkgnx = join(__dirname, '..', '..', 'bin', 'pkgnx.js');
  try {
    const r = await runBootstrap({
      workspaceRoot,
      plan,
      arch,
      buildTarget: options.buildTargetName,
      ...(values.stage !== undefined ? { stage: values.stage } : {}),
      ...(values['start-from'] !== undefined ? { startFrom: values['start-from'] } : {}),
      restart: values.restart ?? false,
      dryRun: values['dry-run'] ?? false,
      breakLock: values['break-lock'] ?? false,
      ...(values['update-root'] ? { updateRootBefore: { root: target.root, logFile: rootLogFile(target, 'update') } } : {}),
      ...(values.publish
        ? {
            publish: async (stage) => {
              const p = await run(process.execPath, [pkgnx, 'publish', '--arch', arch, '--repo', plan.publishRepo!, ...stage.pkgbases], { cwd: workspaceRoot, inherit: true });
              if (!p.ok) throw new Error(`publishing stage ${stage.name} failed (npx pkgnx publish exit ${p.exitCode ?? p.signal})`);
            },
          }
        : {}),
      command: `pkgnx bootstrap ${argv.join(' ')}`.trim(),
      nx: [join(workspaceRoot, 'node_modules', '.bin', 'nx')],
      say,
      signal: interruptSignal(),
    });
    if (r.interrupted) return 130;
    if (r.failed) {
      process.stderr.write(`bootstrap: error: ${r.failed.message}\n`);
      return EXIT_FAILURE;
    }
    process.stdout.write(`bootstrap: ${r.built.length} built, ${r.resumed.length} done before, ${r.skipped.length} skipped${r.published.length ? `, published: ${r.published.join(', ')}` : ''}\n`);
    return EXIT_OK;
  } catch (e) {
    if (e instanceof SelectionError) throw new UsageError(e.message);
    throw e;
  }
}

if (require.main === module) void runVerb('bootstrap', main);
