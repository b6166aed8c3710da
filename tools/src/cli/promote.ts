/**
 * `pkgnx promote`: move whole pkgbases from one repository to another (testing -> stable), with
 * dbscripts' db-move meaning. See docs/publishing.md.
 */
import { parseArgs } from 'node:util';
import { loadPublishConfig, promotePackages, type PromoteReport } from '../publish';
import { repoNameProblem } from '../publish/layout';
import { EXIT_OK, runVerb, splitNames, UsageError } from './support';
import { checkArch, configPath, sessionFor } from './publish-support';

const HELP = `usage: promote --arch ARCH --from REPO [--to REPO] PKGBASE...
Move every package of each PKGBASE (all its split packages) from one repository to another, as
dbscripts' db-move does: the files are copied server-side, the target database gains the entries, then
the source database drops exactly those versions. The target never names a missing file; the source's
files are deleted after the grace period.
  --arch ARCH          architecture (required)
  --from REPO          source repository, e.g. extra-testing (required)
  --to REPO            target repository (default: --from without -testing/-staging)
  --config FILE        configuration file (default ./pkgnx.config.json, key "publish")
  --destination DEST   instead of publish.destination
  --dry-run            print every object that would be copied, written or scheduled for deletion; change nothing
  --json               print the report as JSON on stdout
  -q, --quiet          no progress lines on stderr
exit codes: 0 promoted, 1 failure, 2 usage or configuration error`;

export function formatPromoteReport(r: PromoteReport): string {
  let out = `${r.dryRun ? 'would promote' : 'promoted'} ${r.from.ref.repo} -> ${r.to.ref.repo} (${r.arch}):\n`;
  for (const [base, files] of Object.entries(r.moved)) out += `  ${base}: ${files.join(' ')}\n`;
  out += `  ${r.to.ref.repo}: database generation ${r.to.generation}  ${r.to.location}\n`;
  out += `  ${r.from.ref.repo}: database generation ${r.from.generation}  ${r.from.location}\n`;
  for (const f of r.replacedInTarget) out += `  - ${f} (older version in ${r.to.ref.repo}; deleted after the grace period)\n`;
  return out;
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      arch: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, config: { type: 'string' }, destination: { type: 'string' },
      'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return EXIT_OK;
  }
  const arch = checkArch(values.arch);
  const pkgbases = splitNames(positionals);
  if (pkgbases.length === 0) throw new UsageError('expected at least one pkgbase');
  if (!values.from) throw new UsageError('--from is required (e.g. --from extra-testing)');
  const from = values.from;
  const to = values.to ?? from.replace(/-(testing|staging)$/, '');
  for (const [flag, r] of [['--from', from], ['--to', to]] as const) {
    const problem = repoNameProblem(r);
    if (problem) throw new UsageError(`${flag}: ${problem}`);
  }
  if (to === from) throw new UsageError(`--to: give the target repository (--from ${from} has no -testing/-staging suffix)`);
  const config = loadPublishConfig(configPath(values.config), values.destination === undefined ? {} : { destination: values.destination });
  const session = await sessionFor(config, values['dry-run'] ?? false, values.quiet ?? false);
  try {
    const report = await promotePackages(session, { arch, pkgbases, from, to });
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatPromoteReport(report));
    return EXIT_OK;
  } finally {
    await session.close();
  }
}

if (require.main === module) void runVerb('promote', main);
