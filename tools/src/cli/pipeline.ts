/**
 * `pkgnx pipeline`: Nx's task graph as CI configuration.
 *   npx nx affected -t build -c aarch64 --graph=tasks.json
 *   npx pkgnx pipeline --from tasks.json --gitlab pkgnx-child.yml     (a GitLab CI child pipeline)
 *   npx pkgnx pipeline --github .github/workflows/pkgnx.yml            (the GitHub Actions workflow, once)
 *   npx pkgnx pipeline --from tasks.json --github-plan                 (inside that workflow's plan job)
 */
import { readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadFarmConfig } from '../farm/farm-config';
import { githubPlanOutputs, githubWorkflow, gitlabPipeline } from '../farm/emit';
import { planGithubLevels, planPipeline, validatePlan } from '../farm/plan';
import { parseTaskGraph, TaskGraphError, type FarmTaskGraph } from '../farm/task-graph';
import { CONFIG_FILE_NAME } from '../upstream/config';
import { UsageError } from './support';

const HELP = `usage: pipeline --from GRAPH.json [--from ...] (--gitlab FILE | --github-plan) [--config FILE]
       pipeline --github FILE [--graph-command CMD ...] [--config FILE]
  GRAPH.json: nx run-many|affected -t build [-c ARCH] --graph=GRAPH.json (several --from: several architectures)
  --gitlab FILE        write a GitLab CI child pipeline: one job per build task, needs: reduced, fan-in jobs
                       beyond farm.maxNeeds, tags per architecture, a serialised publish job per architecture
  --github FILE        write the GitHub Actions workflow: a plan job, then one matrix job per level
  --graph-command CMD  with --github: how the plan job writes the task graph
                       (default: npx nx run-many -t build --graph=pkgnx-tasks.json)
  --github-plan        print the plan job's outputs (level_0=[...] ...) for $GITHUB_OUTPUT
  --config FILE        pkgnx.config.json with the "farm" key (default: ./${CONFIG_FILE_NAME})
exit codes: 0 ok, 1 failure, 2 usage or configuration error`;

function writeAtomic(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

export function readGraphs(files: readonly string[]): FarmTaskGraph {
  const tasks = new Map<string, FarmTaskGraph['tasks'][number]>();
  const deps = new Map<string, string[]>();
  for (const file of files) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new UsageError(`${file}: ${(e as Error).message}`);
    }
    const g = parseTaskGraph(raw, file);
    for (const t of g.tasks) {
      tasks.set(t.id, t);
      deps.set(t.id, [...new Set([...(deps.get(t.id) ?? []), ...(g.deps.get(t.id) ?? [])])].sort());
    }
  }
  return { tasks: [...tasks.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)), deps };
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      from: { type: 'string', multiple: true },
      gitlab: { type: 'string' },
      github: { type: 'string' },
      'github-plan': { type: 'boolean' },
      'graph-command': { type: 'string', multiple: true },
      config: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const configFile = resolve(values.config ?? CONFIG_FILE_NAME);
  const config = loadFarmConfig(configFile);
  const from = values.from ?? [];
  if (!values.gitlab && !values.github && !values['github-plan']) throw new UsageError('nothing to write: --gitlab FILE, --github FILE or --github-plan');
  if ((values.gitlab || values['github-plan']) && from.length === 0) throw new UsageError('--gitlab and --github-plan need the task graph: --from GRAPH.json (nx run-many -t build --graph=GRAPH.json)');
  const t0 = performance.now();
  let graph: FarmTaskGraph | undefined;
  try {
    graph = from.length ? readGraphs(from) : undefined;
  } catch (e) {
    if (e instanceof TaskGraphError) throw new UsageError(e.message);
    throw e;
  }

  if (values.gitlab && graph) {
    const plan = planPipeline(graph, config, 'gitlab', configFile);
    const problems = validatePlan(plan, graph, config.maxNeeds);
    if (problems.length) throw new Error(`the pipeline would be wrong (a pkgnx bug):\n  ${problems.slice(0, 20).join('\n  ')}`);
    writeAtomic(values.gitlab, gitlabPipeline(plan, config, { source: from.join(', ') }));
    const builds = plan.jobs.filter((j) => j.kind === 'build').length;
    process.stderr.write(
      `pipeline: ${values.gitlab}: ${graph.tasks.length} task(s), ${builds} build job(s)${plan.binSize > 1 ? ` (bins of up to ${plan.binSize})` : ''}, ` +
        `${plan.fanIns} fan-in job(s), ${plan.jobs.filter((j) => j.kind === 'publish').length} publish job(s) in ${((performance.now() - t0) / 1000).toFixed(2)} s\n`,
    );
  }
  if (values.github) {
    const graphCommands = values['graph-command'] ?? ['npx nx run-many -t build --graph=pkgnx-tasks.json'];
    const graphFiles = graphCommands.map((c, i) => /--graph[= ](\S+\.json)/.exec(c)?.[1] ?? `(graph-command ${i + 1})`);
    const bad = graphFiles.find((f) => f.startsWith('('));
    if (bad) throw new UsageError(`--graph-command must write a file with --graph=FILE.json: ${bad}`);
    writeAtomic(values.github, githubWorkflow(config, { graphCommands, graphFiles }));
    process.stderr.write(`pipeline: ${values.github}: GitHub Actions workflow with ${config.github.levels} level job(s)\n`);
  }
  if (values['github-plan'] && graph) {
    const { levels, binSize } = planGithubLevels(graph, config, configFile);
    process.stdout.write(githubPlanOutputs(levels, config.github.levels));
    process.stderr.write(`pipeline: ${graph.tasks.length} task(s) in ${levels.length} level(s)${binSize > 1 ? ` (bins of up to ${binSize})` : ''}\n`);
  }
  return 0;
}
