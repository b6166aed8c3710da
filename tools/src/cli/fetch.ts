/**
 * `pkgnx fetch`: bring pkgbuilds/<pkgbase>/ to the wanted upstream state.
 *   node --require @swc-node/register tools/src/cli/fetch.ts --packages vim gcc [options]
 *   node --require @swc-node/register tools/bin/pkgnx.ts fetch --packages vim gcc [options]
 * Checkouts keep their git dirs in `.pkgnx/git/<pkgbase>.git` beside the pkgbuilds directory.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  cleanupTempClones, fetchPackages, readBuildList, withTargetVersions,
  type FetchOptions, type FetchRequest, type FetchSource,
} from '../fetch';
import { aurInfo, DEFAULT_AUR_BASE_URL } from '../aur/rpc';
import { CONFIG_FILE_NAME, loadUpstreamConfig, lookupTargetVersions, type UpstreamConfig } from '../upstream';
import { EXIT_FAILURE, EXIT_OK, runVerb, UsageError } from './support';
import { workspaceMetadataSettings } from '../graph/cached-graph';
import { readMetadata } from '../metadata';
import { metadataForArch } from '../srcinfo';

const HELP = `usage: fetch (--packages NAMES... | --from packages_to_build.json) [options]
  --packages NAMES     pkgbases (space/comma separated, repeatable; also positional); NAME=VERSION pins a version
  --from FILE          fetch exactly the entries of a packages_to_build.json (outdated's output)
  --aur                the named packages come from the AUR (latest commit)
  --local              the named packages are local: nothing is fetched
  --use-latest         default branch head instead of the version's tag
  --no-update          leave existing checkouts alone; only clone missing ones
  --stash              stash uncommitted edits, update, re-apply them (default: refuse to update)
  --dry-run            print what would happen; no git, no files
  --jobs N             parallel fetches (default 4)
  --config FILE        configuration (default ./pkgnx.config.json if present, key "upstream")
  --pkgbuilds DIR      package directory (default ./pkgbuilds); git dirs go to DIR/../.pkgnx/git/<pkgbase>.git
  --url-template T     official repository URL, {pkgbase} substituted (default: config, else Arch GitLab)
  --aur-url-template T AUR git URL template (default https://aur.archlinux.org/{pkgbase}.git)
  --carch ARCH         overlay architecture (<ARCH>.patch; default: the config's targetArch)
  --overlays DIR       overlay directory (<DIR>/<ARCH>/<pkgbase>.patch; default ./overlays)
  --aur-rpc URL        AUR RPC base URL used to learn AUR versions (default https://aur.archlinux.org);
                       an AUR checkout already at that version is left alone without running git
  --no-aur-rpc         do not ask the AUR RPC (every AUR checkout is updated to its latest commit)
  --sync-state         update the state repository clone before reading versions from it
  --offline            use cached upstream databases only
exit codes: 0 ok, 1 a package failed, 2 usage or configuration error`;

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      packages: { type: 'string', multiple: true }, from: { type: 'string' }, aur: { type: 'boolean' }, local: { type: 'boolean' },
      'use-latest': { type: 'boolean' }, 'no-update': { type: 'boolean' }, stash: { type: 'boolean' }, 'dry-run': { type: 'boolean' },
      jobs: { type: 'string' }, config: { type: 'string' }, pkgbuilds: { type: 'string' }, 'url-template': { type: 'string' },
      'aur-url-template': { type: 'string' }, carch: { type: 'string' }, overlays: { type: 'string' }, 'sync-state': { type: 'boolean' },
      offline: { type: 'boolean' }, 'aur-rpc': { type: 'string' }, 'no-aur-rpc': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return EXIT_OK;
  }
  const dryRun = values['dry-run'] === true;
  const names = [...(values.packages ?? []), ...positionals].flatMap((v) => v.split(/[\s,]+/)).filter(Boolean);
  if (!names.length && !values.from) throw new UsageError('give --packages NAMES or --from packages_to_build.json (--help)');
  if (names.length && values.from) throw new UsageError('--packages and --from are exclusive');
  if (values.aur && values.local) throw new UsageError('--aur and --local are exclusive');
  const jobs = values.jobs === undefined ? 4 : Number(values.jobs);
  if (!Number.isInteger(jobs) || jobs < 1) throw new UsageError(`--jobs: expected a positive integer, got '${values.jobs}'`);

  const configFile = resolve(values.config ?? CONFIG_FILE_NAME);
  let config: UpstreamConfig | undefined;
  if (values.config || existsSync(configFile)) config = loadUpstreamConfig(configFile);

  let requests: FetchRequest[];
  if (values.from) {
    requests = readBuildList(resolve(values.from));
  } else {
    const source: FetchSource = values.aur ? 'aur' : values.local ? 'local' : 'official';
    requests = names.map((n) => {
      const eq = n.indexOf('=');
      const pkgbase = eq === -1 ? n : n.slice(0, eq);
      if (!/^[a-zA-Z0-9@_+][a-zA-Z0-9@._+-]*$/.test(pkgbase)) throw new UsageError(`invalid package name '${pkgbase}'`);
      const r: FetchRequest = { pkgbase, source };
      if (eq !== -1) r.version = n.slice(eq + 1);
      if (values['use-latest']) r.useLatest = true;
      return r;
    });
  }
  if (values['use-latest']) requests = requests.map((r) => ({ ...r, useLatest: true }));

  // versions for official packages named without one: state repository first, then upstream databases
  const unversioned = requests.filter((r) => (r.source ?? 'official') === 'official' && !r.version && !r.useLatest).map((r) => r.pkgbase);
  if (unversioned.length && config) {
    const versions = await lookupTargetVersions(config, unversioned, {
      syncState: values['sync-state'] === true,
      dryRun,
      offline: values.offline === true,
      warn: (m) => process.stderr.write(`warning: ${m}\n`),
    });
    requests = withTargetVersions(requests, versions);
  }

  // AUR versions from RPC v5: lets an up-to-date AUR checkout cost no git at all
  const aurUnversioned = requests.filter((r) => r.source === 'aur' && !r.version && !r.useLatest);
  if (aurUnversioned.length && !values['no-aur-rpc']) {
    try {
      const info = await aurInfo(aurUnversioned.map((r) => r.pkgbase), { baseUrl: values['aur-rpc'] ?? DEFAULT_AUR_BASE_URL });
      requests = requests.map((r) => {
        const v = r.source === 'aur' && !r.version && !r.useLatest ? info.get(r.pkgbase)?.Version : undefined;
        return v ? { ...r, version: v } : r;
      });
    } catch (e) {
      process.stderr.write(`warning: AUR RPC unavailable (${(e as Error).message}); AUR checkouts are updated to their latest commit\n`);
    }
  }

  const options: FetchOptions = {
    pkgbuildsDir: resolve(values.pkgbuilds ?? 'pkgbuilds'),
    jobs,
    dryRun,
    noUpdate: values['no-update'] === true,
    stash: values.stash === true,
    overlaysDir: resolve(values.overlays ?? 'overlays'),
    log: (line) => process.stdout.write(`${line}\n`),
  };
  const template = values['url-template'] ?? config?.officialUrlTemplate;
  if (template) options.officialUrlTemplate = template;
  if (values['aur-url-template']) options.aurUrlTemplate = values['aur-url-template'];
  if (config?.overrides) options.overrides = config.overrides;
  const carch = values.carch ?? config?.targetArch;
  if (carch) options.carch = carch;
  // a checkout without .SRCINFO: its version as the workspace reads metadata (sandboxed, or .SRCINFO only)
  const settings = workspaceMetadataSettings(process.cwd());
  options.readVersion = async (dir) => {
    const r = (await readMetadata(process.cwd(), [dir], carch ?? 'x86_64', settings)).get(dir);
    return r && 'srcinfo' in r ? metadataForArch(r.srcinfo, carch ?? 'x86_64').version : undefined;
  };

  // an interrupted run removes its temp clones; pkgbuilds/<pkgbase> is only ever renamed into place
  const onSignal = (signal: NodeJS.Signals): void => {
    cleanupTempClones();
    process.stderr.write(`fetch: interrupted (${signal}); partial clones removed\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const results = await fetchPackages(requests, options);
  const failed = results.filter((r) => r.error);
  for (const r of failed) process.stderr.write(`error: ${r.error}\n`);
  const count = (a: string): number => results.filter((r) => r.action === a).length;
  if (!dryRun) {
    process.stdout.write(
      `==> ${count('fetched')} fetched, ${count('updated')} updated, ${count('up-to-date')} unchanged, ${count('local') + count('kept')} local, ${failed.length} failed\n`,
    );
  }
  return failed.length ? EXIT_FAILURE : EXIT_OK;
}

if (require.main === module) void runVerb('fetch', main);
