/**
 * `pkgnx repo-analyze`: health of the port's repositories against upstream (the predecessor's repo_analyze).
 *   node --require @swc-node/register tools/src/cli/repo-analyze.ts [--SECTION ...] [--json]
 */
import { parseArgs } from 'node:util';
import { analyzeRepositories, ANALYSIS_SECTIONS, formatAnalysis, loadRepositories, selectSections, type AnalysisSection } from '../upstream';
import { blacklistFrom, configFromFlag, EXIT_OK, runVerb } from './support';

const HELP = `usage: repo-analyze [--SECTION ...] [options]
sections (all when none is given): ${ANALYSIS_SECTIONS.map((s) => `--${s}`).join(' ')}
  --config FILE  --blacklist FILE  --no-blacklist  --upstream-testing  --target-testing
  --allow-failure  --offline  --dry-run (do not update the cache)  --json
exit codes: 0 ok, 1 failure, 2 usage or configuration error`;

export async function main(argv: string[]): Promise<number> {
  const sectionFlags = Object.fromEntries(ANALYSIS_SECTIONS.map((s) => [s, { type: 'boolean' as const }]));
  const { values } = parseArgs({
    args: argv,
    options: {
      ...sectionFlags,
      config: { type: 'string' }, blacklist: { type: 'string' }, 'no-blacklist': { type: 'boolean' },
      'upstream-testing': { type: 'boolean' }, 'target-testing': { type: 'boolean' }, 'allow-failure': { type: 'boolean' },
      offline: { type: 'boolean' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  const flags = values as Record<string, string | boolean | undefined>;
  if (flags.help) {
    process.stdout.write(`${HELP}\n`);
    return EXIT_OK;
  }
  const config = configFromFlag(values.config);
  const blacklist = blacklistFrom(config, values.blacklist, values['no-blacklist']);
  const chosen = ANALYSIS_SECTIONS.filter((s) => flags[s] === true);
  const sections: AnalysisSection[] = chosen.length ? chosen : [...ANALYSIS_SECTIONS];
  const loaded = await loadRepositories(config, {
    upstreamTesting: values['upstream-testing'] ?? false, targetTesting: values['target-testing'] ?? false,
    allowFailure: values['allow-failure'] ?? false, offline: values.offline ?? false, dryRun: values['dry-run'] ?? false,
    warn: (m) => process.stderr.write(`warning: ${m}\n`),
  });
  const analysis = analyzeRepositories(loaded.upstream.set, loaded.target.set, blacklist);
  if (values.json) process.stdout.write(`${JSON.stringify(selectSections(analysis, sections), null, 2)}\n`);
  else process.stdout.write(formatAnalysis(analysis, sections, { upstream: config.upstreamArch, target: config.targetArch }));
  return EXIT_OK;
}

if (require.main === module) void runVerb('repo-analyze', main);
