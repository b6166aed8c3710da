/**
 * `pkgnx prune`: delete published files whose grace period is over and that no database names, and
 * files left by publishers that died before their commit; repair databases a killed publisher left
 * half-written. See docs/publishing.md.
 */
import { parseArgs } from 'node:util';
import { loadPublishConfig, pruneRepositories } from '../publish';
import { repoNameProblem } from '../publish/layout';
import { EXIT_OK, runVerb, UsageError } from './support';
import { checkArch, configPath, sessionFor } from './publish-support';
import { formatDeletions } from '../publish/report';

const HELP = `usage: prune --arch ARCH [--repo REPO]...
For each repository (default: every repository of ARCH in the destination): bring the derived database
files up to date, delete package files dropped from the database more than publish.gracePeriodSeconds ago
that no database names, and delete files nothing ever named (a publisher killed before its commit) that
are older than the grace period. Publishing does the first two after each run.
  --arch ARCH          architecture (required)
  --repo REPO          only this repository (repeatable)
  --config FILE        configuration file (default ./pkgnx.config.json, key "publish")
  --destination DEST   instead of publish.destination
  --dry-run            print what would be deleted; change nothing
  --json               print the report as JSON on stdout
  -q, --quiet          no progress lines on stderr
exit codes: 0 done, 1 failure, 2 usage or configuration error`;

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      arch: { type: 'string' }, repo: { type: 'string', multiple: true }, config: { type: 'string' }, destination: { type: 'string' },
      'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return EXIT_OK;
  }
  const arch = checkArch(values.arch);
  for (const r of values.repo ?? []) {
    const problem = repoNameProblem(r);
    if (problem) throw new UsageError(`--repo: ${problem}`);
  }
  const config = loadPublishConfig(configPath(values.config), values.destination === undefined ? {} : { destination: values.destination });
  const session = await sessionFor(config, values['dry-run'] ?? false, values.quiet ?? false);
  try {
    const reports = await pruneRepositories(session, arch, values.repo);
    if (values.json) process.stdout.write(`${JSON.stringify(reports, null, 2)}\n`);
    else process.stdout.write(`${values['dry-run'] ? 'would prune' : 'pruned'} ${session.store.description} (${arch}):\n${formatDeletions(reports, values['dry-run'] ?? false) || '  nothing to delete\n'}`);
    return EXIT_OK;
  } finally {
    await session.close();
  }
}

if (require.main === module) void runVerb('prune', main);
