/**
 * `pkgnx publish`: upload built packages into their pacman repositories (S3 or a local directory) and
 * rewrite each repository's database once. See docs/publishing.md.
 */
import { parseArgs } from 'node:util';
import { loadPublishConfig, publishPackages, routePackage } from '../publish';
import { formatPublishReport } from '../publish/report';
import { upstreamLookup } from '../publish/workspace';
import { EXIT_OK, runVerb, splitNames, UsageError } from './support';
import { checkArch, configPath, projectPackages, sessionFor } from './publish-support';
import { repoNameProblem } from '../publish/layout';

const HELP = `usage: publish --arch ARCH (--all | PROJECT... | --file PACKAGE...)
Publish the packages in dist/<ARCH>/<PROJECT>/ (what \`nx run PROJECT:build -c ARCH\` made) into their
repositories <destination>/<repo>/os/<ARCH>/: package files and signatures first, then one database
rewrite per repository. The repository comes from publish.projects, else the package's upstream
repository through publish.routes (core -> core-testing, extra -> extra-testing), else publish.defaultRepo.
  --arch ARCH          architecture to publish (required)
  --all                every project with outputs in dist/<ARCH>/
  --file PACKAGE       a package file (repeatable), routed by its pkgbase
  --repo REPO          publish into REPO regardless of routing
  --config FILE        configuration file (default ./pkgnx.config.json, key "publish")
  --destination DEST   instead of publish.destination: s3://bucket/prefix or a directory
  --offline            route with the cached upstream databases (no download)
  --no-upstream        route without upstream repositories (publish.projects, else publish.defaultRepo)
  --no-prune           do not delete files whose grace period is over
  --dry-run            print every object that would be uploaded, written or scheduled for deletion; change nothing
  --json               print the report as JSON on stdout
  -q, --quiet          no progress lines on stderr
Credentials: the AWS SDK's chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ...).
Signing key: publish.signing (PKGNX_SIGN_KEY and GNUPGHOME override the key and the GnuPG home).
exit codes: 0 published (or nothing to do), 1 failure (nothing half-published), 2 usage or configuration error`;

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      arch: { type: 'string' }, all: { type: 'boolean' }, file: { type: 'string', multiple: true }, repo: { type: 'string' },
      config: { type: 'string' }, destination: { type: 'string' }, offline: { type: 'boolean' }, 'no-upstream': { type: 'boolean' },
      'no-prune': { type: 'boolean' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return EXIT_OK;
  }
  const arch = checkArch(values.arch);
  const projects = splitNames(positionals);
  const files = values.file ?? [];
  if ([values.all ? 1 : 0, projects.length ? 1 : 0, files.length ? 1 : 0].reduce((a, b) => a + b, 0) !== 1) {
    throw new UsageError('give exactly one of --all, project names or --file');
  }
  const repoProblem = values.repo === undefined ? undefined : repoNameProblem(values.repo);
  if (repoProblem) throw new UsageError(`--repo: ${repoProblem}`);
  const file = configPath(values.config);
  const config = loadPublishConfig(file, values.destination === undefined ? {} : { destination: values.destination });
  if (config.architectures && !config.architectures.includes(arch)) throw new UsageError(`--arch ${arch}: not in publish.architectures (${config.architectures.join(', ')}) of ${file}`);
  const inputs = files.length ? files.map((f) => ({ file: f })) : await projectPackages(file, arch, values.all ? 'all' : projects);
  if (inputs.length === 0) {
    process.stderr.write(`publish: nothing to publish for ${arch}\n`);
    return EXIT_OK;
  }
  const lookup = values.repo || values['no-upstream'] ? () => undefined : await upstreamLookup(file, values.offline ?? false, (m) => process.stderr.write(`warning: ${m}\n`));
  const session = await sessionFor(config, values['dry-run'] ?? false, values.quiet ?? false);
  try {
    const report = await publishPackages(session, {
      arch,
      inputs,
      route: (pkgbase, project) => (values.repo ? { repo: values.repo, reason: '--repo' } : routePackage(project ?? pkgbase, config, lookup)),
      noPrune: values['no-prune'] ?? false,
    });
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatPublishReport(report));
    return EXIT_OK;
  } finally {
    await session.close();
  }
}

if (require.main === module) void runVerb('publish', main);
