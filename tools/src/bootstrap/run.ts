/**
 * Running a bootstrap plan: each selected entry is one Nx task, `nx run <pkgbase>:build:<arch>
 * --excludeTaskDependencies`, in plan order (a bootstrap order is the plan's, not the graph's: stage 1
 * builds gcc before the gmp it depends on, against the root's gmp). What Nx does natively stays Nx's —
 * the build in its sandbox, the outputs, the cache, the logs and the run summary; what it cannot express
 * is here: the same project built again in a later stage against different inputs (Nx has one task per
 * project and configuration, so a stage is not a target or a configuration: it is the PKGNX_BOOTSTRAP
 * input, whose value names the stage and hashes every output built before the entry, so stage 2's glibc
 * never hits the cache of stage 1's and a resumed entry hits only a build of exactly the same inputs),
 * an order Nx's graph does not give, one run at a time, progress across stages and interrupts.
 * Each build empties the pacman cache first (build option noCache) and replaces the root's installed
 * copies of everything built before it with the workspace's builds (replaceFromWorkspace).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { sha256File, listPackageFiles } from '../packaging/workspace-repo';
import { start } from '../process/run';
import { updateRoot } from '../roots/update';
import { planEntries, selectEntries, type BootstrapPlan, type PlanEntry, type PlanStage } from './plan';
import { takeRunLock } from './lock';
import { entryKey, readState, removeState, writeState, type BootstrapState } from './state';

export interface BootstrapRequest {
  workspaceRoot: string;
  plan: BootstrapPlan;
  arch: string;
  /** the build target's name (plugin option buildTargetName) */
  buildTarget: string;
  stage?: string;
  startFrom?: string;
  /** forget the progress of an earlier run */
  restart: boolean;
  dryRun: boolean;
  breakLock: boolean;
  /** update the build root (root update) before each build, as the predecessor did */
  updateRootBefore?: { root: string; logFile: string };
  /** publish a finished stage's packages (e.g. into the testing repository) */
  publish?: (stage: PlanStage) => Promise<void>;
  /** how the run names itself in its lock */
  command: string;
  /** the command that runs Nx: [program, ...arguments] */
  nx: string[];
  say: (line: string) => void;
  signal: AbortSignal;
}

export interface BootstrapResult {
  built: PlanEntry[];
  /** before --start-from */
  skipped: PlanEntry[];
  /** done by an earlier run (resumed after them) */
  resumed: PlanEntry[];
  failed?: { entry: PlanEntry; message: string };
  interrupted?: PlanEntry;
  published: string[];
}

export const BOOTSTRAP_DIR = join('.pkgnx', 'bootstrap');

export function stateFile(workspaceRoot: string, plan: BootstrapPlan, arch: string): string {
  return join(workspaceRoot, BOOTSTRAP_DIR, `${plan.name}-${arch}.json`);
}

export function runLockFile(workspaceRoot: string): string {
  return join(workspaceRoot, BOOTSTRAP_DIR, 'run.lock');
}

/** `pkgname` of a package file name (`name-pkgver-pkgrel-arch.pkg.tar.*`) */
export function pkgnameOf(file: string): string {
  return basename(file).replace(/\.pkg\.tar(\.[a-z0-9]+)?$/, '').split('-').slice(0, -3).join('-');
}

/** what was built before `entry` (the current outputs of the earlier entries' projects) */
async function earlierOutputs(workspaceRoot: string, arch: string, plan: BootstrapPlan, entry: PlanEntry): Promise<{ fingerprint: string; pkgnames: string[] }> {
  const pkgbases = [...new Set(planEntries(plan).filter((e) => e.index < entry.index).map((e) => e.pkgbase))].sort();
  const hash = createHash('sha256');
  const names = new Set<string>();
  for (const pb of pkgbases) {
    for (const f of await listPackageFiles(join(workspaceRoot, 'dist', arch, pb))) {
      hash.update(`${pb} ${basename(f)} ${await sha256File(f)}\n`);
      names.add(pkgnameOf(f));
    }
  }
  return { fingerprint: hash.digest('hex').slice(0, 32), pkgnames: [...names].sort() };
}

/** runs Nx for one entry; resolves with its exit status (undefined: interrupted) */
async function runNx(req: BootstrapRequest, entry: PlanEntry, env: Record<string, string>, replace: string[]): Promise<number | undefined> {
  const args = [
    ...req.nx.slice(1),
    'run', `${entry.pkgbase}:${req.buildTarget}:${req.arch}`,
    '--excludeTaskDependencies',
    '--noCache',
    ...(entry.nocheck ? ['--nocheck'] : []),
    ...(replace.length ? [`--replaceFromWorkspace=${replace.join(' ')}`] : []),
  ];
  const child = start(req.nx[0], args, { cwd: req.workspaceRoot, env, stdio: ['ignore', 'inherit', 'inherit'], buffer: false });
  // Nx stops its task on SIGINT (the build removes its copy and staging directory): hand ours on
  let interrupted = false;
  const onAbort = (): void => {
    interrupted = true;
    child.kill('SIGINT');
  };
  req.signal.addEventListener('abort', onAbort, { once: true });
  if (req.signal.aborted) onAbort();
  const r = await child;
  req.signal.removeEventListener('abort', onAbort);
  return interrupted ? undefined : (r.exitCode ?? 1);
}

export async function runBootstrap(req: BootstrapRequest): Promise<BootstrapResult> {
  const { plan, arch, workspaceRoot } = req;
  const file = stateFile(workspaceRoot, plan, arch);
  let state: BootstrapState | undefined = req.restart ? undefined : readState(file);
  if (state && state.planSha256 !== plan.sha256)
    throw new Error(`${plan.file} changed since the run recorded in ${file} began: --restart to build it from the start (or restore the plan)`);
  const selection = selectEntries(plan, { stage: req.stage, startFrom: req.startFrom });
  const doneKeys = new Set((state?.done ?? []).map((d) => entryKey(d.stage, d.pkgbase)));
  // --start-from builds what it names and what follows again, whatever an earlier run did
  if (req.startFrom !== undefined) for (const e of selection.entries) doneKeys.delete(entryKey(e.stage, e.pkgbase));
  const resumed = selection.entries.filter((e) => doneKeys.has(entryKey(e.stage, e.pkgbase)));
  const todo = selection.entries.filter((e) => !doneKeys.has(entryKey(e.stage, e.pkgbase)));
  const result: BootstrapResult = { built: [], skipped: selection.skipped, resumed, published: [] };
  if (req.dryRun) {
    for (const e of selection.skipped) req.say(`${e.stage}/${e.pkgbase}: skipped (before --start-from)`);
    for (const e of selection.entries) req.say(`${e.stage}/${e.pkgbase}: ${doneKeys.has(entryKey(e.stage, e.pkgbase)) ? 'done by an earlier run' : 'would build'}${e.nocheck ? ' (--nocheck)' : ''}`);
    return result;
  }

  const lock = await takeRunLock(runLockFile(workspaceRoot), req.command, { breakLock: req.breakLock });
  try {
    if (lock.tookOver) req.say(`took over the ${lock.tookOver}`);
    if (req.restart) removeState(file);
    state = { plan: plan.file, planSha256: plan.sha256, arch, done: (state?.done ?? []).filter((d) => doneKeys.has(entryKey(d.stage, d.pkgbase))) };
    writeState(file, state);
    if (resumed.length) req.say(`resuming: ${resumed.length} build(s) done by an earlier run (${resumed.map((e) => `${e.stage}/${e.pkgbase}`).join(', ')}); --restart to build them again`);
    if (todo.length === 0) req.say(`nothing to build: every selected build is done (${file}); --restart to build again`);

    const stageDone = (stageIndex: number): boolean => plan.stages[stageIndex].pkgbases.every((pb) => state!.done.some((d) => d.stage === plan.stages[stageIndex].name && d.pkgbase === pb));
    const published = new Set<string>();
    const publishIfDone = async (stageIndex: number): Promise<void> => {
      const stage = plan.stages[stageIndex];
      if (!req.publish || published.has(stage.name) || !stageDone(stageIndex)) return;
      req.say(`stage ${stage.name} is complete: publishing ${stage.pkgbases.join(' ')}`);
      await req.publish(stage);
      published.add(stage.name);
      result.published.push(stage.name);
    };

    for (const [i, entry] of todo.entries()) {
      if (req.signal.aborted) {
        result.interrupted = entry;
        break;
      }
      const { fingerprint, pkgnames } = await earlierOutputs(workspaceRoot, arch, plan, entry);
      req.say(`[${i + 1}/${todo.length}] stage ${entry.stage}: ${entry.pkgbase}${entry.nocheck ? ' (--nocheck)' : ''}, against ${pkgnames.length} package(s) built before it`);
      if (req.updateRootBefore) {
        await updateRoot({ workspaceRoot, arch, root: req.updateRootBefore.root, waitSeconds: 3600, logFile: req.updateRootBefore.logFile, signal: req.signal, say: req.say });
      }
      const env = { ...process.env, PKGNX_BOOTSTRAP: `${plan.name}:${entry.stage}:${entry.pkgbase}:${fingerprint}` } as Record<string, string>;
      const code = await runNx(req, entry, env, pkgnames);
      if (code === undefined || req.signal.aborted) {
        result.interrupted = entry;
        req.say(`interrupted at ${entry.stage}/${entry.pkgbase}: the next run resumes there`);
        break;
      }
      if (code !== 0) {
        result.failed = { entry, message: `${entry.stage}/${entry.pkgbase}: the build failed (nx exit ${code}); its log is the newest in logs/${entry.pkgbase}/; the next run resumes there` };
        break;
      }
      const packages = (await listPackageFiles(join(workspaceRoot, 'dist', arch, entry.pkgbase))).map((f) => basename(f));
      state.done.push({ stage: entry.stage, pkgbase: entry.pkgbase, at: new Date().toISOString(), packages });
      writeState(file, state);
      result.built.push(entry);
      await publishIfDone(entry.stageIndex);
    }
    if (!result.failed && !result.interrupted && existsSync(file) && plan.stages.every((_, s) => stageDone(s))) req.say(`every stage of ${plan.file} is built for ${arch}`);
    return result;
  } finally {
    lock.release();
  }
}
