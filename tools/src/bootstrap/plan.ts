/**
 * A bootstrap plan: a committed JSON file of stages, each an ordered list of pkgbases, built in that
 * order, each stage against the outputs of the stages before it (a toolchain: stage 1 builds glibc,
 * binutils, gcc against the root's; stage 2 rebuilds them against stage 1's). And which of its builds a
 * run selects: `--stage` (one stage) and `--start-from` (a position), which never spills into another
 * stage than the one it names (the predecessor applied its --start-from index to both stages).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { ConfigError } from '../config-file';
import { OptionsReader } from '../options';

export interface PlanStage {
  name: string;
  pkgbases: string[];
  /** makepkg --nocheck for this stage's builds (a first stage usually cannot run test suites) */
  nocheck: boolean;
}

export interface BootstrapPlan {
  file: string;
  name: string;
  stages: PlanStage[];
  /** the repository `--publish` puts each finished stage into (e.g. core-testing) */
  publishRepo?: string;
  /** sha256 of the file: a run resumes only the plan it started */
  sha256: string;
}

/** one build of the plan: the n-th entry in plan order */
export interface PlanEntry {
  index: number;
  stage: string;
  stageIndex: number;
  pkgbase: string;
  nocheck: boolean;
}

const NAME = /^[a-zA-Z0-9@_+][a-zA-Z0-9@._+-]*$/;

export function loadPlan(file: string): BootstrapPlan {
  if (!existsSync(file)) throw new ConfigError(file, '(file)', 'bootstrap plan not found');
  const text = readFileSync(file, 'utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(file, '(file)', `invalid JSON: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(file, '(file)', 'expected a JSON object with "stages"');
  const o = new OptionsReader(raw as Record<string, unknown>, { describe: (k) => k, error: (k, problem) => new ConfigError(file, k, problem) });
  o.rejectUnknown(['$comment', 'name', 'stages', 'publish']);
  const stages = o.objects('stages', 'an array of stages ({"name", "pkgbases"})').map((s, i) => {
    s.rejectUnknown(['name', 'pkgbases', 'nocheck', '$comment']);
    const name = s.matching('name', NAME, 'a stage name') ?? `stage${i + 1}`;
    const pkgbases = s.strings('pkgbases');
    if (pkgbases.length === 0) s.fail('pkgbases', 'must list at least one pkgbase');
    const seen = new Set<string>();
    for (const p of pkgbases) {
      if (!NAME.test(p)) s.fail('pkgbases', `"${p}" is not a pkgbase name`);
      if (seen.has(p)) s.fail('pkgbases', `"${p}" is listed twice in stage ${name}`);
      seen.add(p);
    }
    return { name, pkgbases, nocheck: s.bool('nocheck', false) };
  });
  if (stages.length === 0) o.fail('stages', 'must list at least one stage');
  const names = new Set<string>();
  for (const s of stages) {
    if (names.has(s.name)) o.fail('stages', `two stages are named "${s.name}"`);
    names.add(s.name);
  }
  const publish = o.object('publish');
  publish?.rejectUnknown(['repo']);
  const publishRepo = publish?.matching('repo', NAME, 'a repository name');
  return {
    file,
    name: o.matching('name', NAME, 'a plan name') ?? basename(file).replace(/\.json$/, ''),
    stages,
    ...(publishRepo ? { publishRepo } : {}),
    sha256: createHash('sha256').update(text).digest('hex'),
  };
}

export function planEntries(plan: BootstrapPlan): PlanEntry[] {
  const out: PlanEntry[] = [];
  plan.stages.forEach((s, stageIndex) => {
    for (const pkgbase of s.pkgbases) out.push({ index: out.length, stage: s.name, stageIndex, pkgbase, nocheck: s.nocheck });
  });
  return out;
}

export class SelectionError extends Error {
  override name = 'SelectionError';
}

/** a stage given by name or 1-based number */
export function findStage(plan: BootstrapPlan, stage: string): number {
  const byName = plan.stages.findIndex((s) => s.name === stage);
  if (byName >= 0) return byName;
  const n = Number(stage);
  if (Number.isInteger(n) && n >= 1 && n <= plan.stages.length) return n - 1;
  throw new SelectionError(`no stage "${stage}" in ${plan.file} (stages: ${plan.stages.map((s, i) => `${i + 1}=${s.name}`).join(', ')})`);
}

/**
 * The entries a run builds, in order: all of them; with `stage`, that stage's only; with `startFrom`
 * (`pkgbase` or `stage/pkgbase`), the named entry and everything after it — the entries before it, and
 * only those, are skipped. A pkgbase that is in several stages must be given with its stage.
 */
export function selectEntries(plan: BootstrapPlan, opts: { stage?: string; startFrom?: string }): { entries: PlanEntry[]; skipped: PlanEntry[] } {
  let entries = planEntries(plan);
  const skipped: PlanEntry[] = [];
  if (opts.stage !== undefined) {
    const s = findStage(plan, opts.stage);
    entries = entries.filter((e) => e.stageIndex === s);
  }
  if (opts.startFrom !== undefined) {
    const slash = opts.startFrom.lastIndexOf('/');
    const stageIndex = slash >= 0 ? findStage(plan, opts.startFrom.slice(0, slash)) : undefined;
    const pkgbase = slash >= 0 ? opts.startFrom.slice(slash + 1) : opts.startFrom;
    const matches = entries.filter((e) => e.pkgbase === pkgbase && (stageIndex === undefined || e.stageIndex === stageIndex));
    if (matches.length === 0)
      throw new SelectionError(`--start-from ${opts.startFrom}: ${pkgbase} is not in ${stageIndex !== undefined ? `stage ${plan.stages[stageIndex].name}` : opts.stage !== undefined ? `stage ${opts.stage}` : 'the plan'} (${plan.file})`);
    if (matches.length > 1)
      throw new SelectionError(`--start-from ${opts.startFrom}: ${pkgbase} is in ${matches.length} stages (${matches.map((m) => m.stage).join(', ')}): say which, e.g. --start-from ${matches[0].stage}/${pkgbase}`);
    const at = entries.indexOf(matches[0]);
    skipped.push(...entries.slice(0, at));
    entries = entries.slice(at);
  }
  return { entries, skipped };
}
