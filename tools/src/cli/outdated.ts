/**
 * `pkgnx outdated`: compare the upstream repositories with the port's and write packages_to_build.json.
 *   node --require @swc-node/register tools/src/cli/outdated.ts [options]
 */
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import {
  buildListDocument, compareRepositories, loadRepositories, parseStateRepo, stateParseOptions, syncStateRepo, writeBuildList,
  type CompareOptions, type StateEntry, type WorkPlan,
} from '../upstream';
import { blacklistFrom, configFromFlag, EXIT_FAILURE, EXIT_OK, runVerb, splitNames, UsageError } from './support';

const HELP = `usage: outdated [options]
  --config FILE          configuration (default ./pkgnx.config.json, key "upstream")
  --packages NAMES       build exactly these pkgnames/pkgbases (comma/space separated, repeatable);
                         overrides the blacklist and the bootstrap-only set, marked forced
  --blacklist FILE       blacklist file (default: the config's); --no-blacklist to ignore it
  --missing-packages     also build pkgbases missing on the target
  --rebuild-repo REPO    rebuild every non-any pkgbase of upstream repository REPO
  --force-bootstrap      do not skip the bootstrap-only set
  --no-check             ignore checkdepends (no pulling in, no ordering)
  --no-deps              do not pull in missing dependencies
  --upstream-testing     also load the upstream testing repositories
  --target-testing       also load the target testing repositories
  --state                sync the Arch state repository and add exact tags/commits to entries
                         (with --offline: read the existing clone, no sync; with --allow-failure:
                         a failed state fetch warns and keeps using the existing clone)
  --allow-failure        a failed download warns and uses the cached copy or an empty repository
  --offline              use cached databases only
  --output FILE          where to write the list (default: the config's output)
  --dry-run              compute and print; write nothing (no cache update, no git)
  --json                 print the plan as JSON on stdout
  -q, --quiet            no progress lines
exit codes: 0 ok, 1 failure (download, unknown package), 2 usage or configuration error`;

function printPlan(plan: WorkPlan, write: (s: string) => void, missingIncluded: boolean): void {
  const section = (title: string, lines: string[]): void => {
    write(`==> ${title} (${lines.length})\n`);
    for (const l of lines) write(`  ${l}\n`);
  };
  section('Upgrades', plan.upgrades.map((c) => `${c.pkgbase} ${c.targetVersion} -> ${c.upstreamVersion} [${c.repo}]`));
  section(`Missing on target${missingIncluded ? '' : ' (not built; --missing-packages)'}`, plan.missing.map((c) => `${c.pkgbase} ${c.upstreamVersion} [${c.repo}]`));
  section('Target newer (not built)', plan.targetNewer.map((c) => `${c.pkgbase} ${c.targetVersion} > ${c.upstreamVersion}`));
  write(`==> Up to date (${plan.upToDate.length})\n`);
  const anyWork = plan.anyPackages.filter((c) => c.status === 'upgrade' || c.status === 'missing');
  section("'any' packages to sync (reported, not built)", anyWork.map((c) => `${c.pkgbase} ${c.targetVersion ?? 'not found'} -> ${c.upstreamVersion}`));
  section('Replaced by -bin packages (not built)', plan.replacedByBin.map((b) => `${b.pkgbase} ${b.upstreamVersion}: provided by ${b.binPackage} ${b.binVersion}${b.comparison < 0 ? ' (older)' : b.comparison > 0 ? ' (newer)' : ''}`));
  section('Target only', plan.targetOnly.map((t) => `${t.repo}/${t.pkgbase} ${t.version}`));
  section('Skipped', plan.skipped.map((s) => `${s.pkgbase}: ${s.reason}`));
  section('Dependencies not added', plan.blockedDependencies.map((b) => `${b.dependency} (${b.kind} for ${b.neededBy}, pkgbase ${b.pkgbase}): ${b.reason}`));
  section('Unresolvable dependencies', plan.unresolvedDependencies.map((u) => `${u.dependency} (${u.kind} for ${u.neededBy}): no provider upstream or on the target`));
  section('Cycles', plan.cycles.map((c) => `#${c.group}${c.checkdependsOnly ? ' (checkdepends only)' : ''}: ${c.members.join(' ')}`));
  section('Build list', plan.entries.map((e) => `[stage ${e.build_stage}] ${e.name} ${e.current_version} -> ${e.version}${e.forced ? ' FORCED' : ''} — ${e.added_reason ?? e.reason}`));
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' }, packages: { type: 'string', multiple: true }, blacklist: { type: 'string' },
      'no-blacklist': { type: 'boolean' }, 'missing-packages': { type: 'boolean' }, 'rebuild-repo': { type: 'string' },
      'force-bootstrap': { type: 'boolean' }, 'no-check': { type: 'boolean' }, 'no-deps': { type: 'boolean' },
      'upstream-testing': { type: 'boolean' }, 'target-testing': { type: 'boolean' }, state: { type: 'boolean' },
      'allow-failure': { type: 'boolean' }, offline: { type: 'boolean' }, output: { type: 'string' },
      'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return EXIT_OK;
  }
  const packages = splitNames(values.packages);
  if (packages.length && values['rebuild-repo']) throw new UsageError('--packages and --rebuild-repo exclude each other');
  const config = configFromFlag(values.config);
  const blacklist = blacklistFrom(config, values.blacklist, values['no-blacklist']);
  const dryRun = values['dry-run'] ?? false;
  const progress = (s: string): void => {
    if (!values.quiet) process.stderr.write(`${s}\n`);
  };
  if (values['rebuild-repo'] && !config.upstreamRepos.some((r) => r.name === values['rebuild-repo'])) {
    throw new UsageError(`--rebuild-repo: no upstream repository '${values['rebuild-repo']}' (have: ${config.upstreamRepos.map((r) => r.name).join(', ')})`);
  }

  progress(`==> loading ${config.upstreamArch} and ${config.targetArch} repository databases${dryRun ? ' (dry run: cache not updated)' : ''}`);
  const loaded = await loadRepositories(config, {
    upstreamTesting: values['upstream-testing'] ?? false,
    targetTesting: values['target-testing'] ?? false,
    ...(values['rebuild-repo'] ? { onlyRepos: [values['rebuild-repo']] } : {}),
    allowFailure: values['allow-failure'] ?? false,
    dryRun,
    offline: values.offline ?? false,
    warn: (m) => process.stderr.write(`warning: ${m}\n`),
  });
  for (const [side, l] of [[config.upstreamArch, loaded.upstream], [config.targetArch, loaded.target]] as const) {
    for (const f of l.fetched) progress(`  -> ${side} ${f.source.name}: ${f.database.packages.length} packages (${f.status})`);
  }

  let state: Map<string, StateEntry> | undefined;
  if (values.state) {
    if (!config.stateRepo) throw new UsageError('--state: the configuration has no upstream.stateRepo');
    if (values.offline) progress('  -> offline: state repository not synced (existing clone read as it is)');
    else if (!dryRun) {
      const r = await syncStateRepo(config.stateRepo.url, config.stateRepo.dir, {
        allowFailure: values['allow-failure'] ?? false,
        warn: (m) => process.stderr.write(`warning: ${m}\n`),
      });
      progress(`  -> state repository ${r.action} at ${r.head.slice(0, 12)}${r.reason ? ` (${r.reason})` : ''}`);
    }
    if (existsSync(config.stateRepo.dir)) {
      state = parseStateRepo(config.stateRepo.dir, { ...stateParseOptions(config, values['upstream-testing'] ?? false), warn: (m) => process.stderr.write(`warning: ${m}\n`) });
    } else progress(`  -> ${dryRun ? 'dry run' : 'offline'}: no state repository clone yet, entries carry no tags`);
  }

  const options: CompareOptions = {
    blacklist, bootstrapOnly: config.bootstrapOnly, forceBootstrap: values['force-bootstrap'] ?? false, packages,
    includeMissing: values['missing-packages'] ?? false, noCheck: values['no-check'] ?? false,
    addMissingDependencies: !values['no-deps'],
  };
  if (values['rebuild-repo']) options.rebuildRepo = values['rebuild-repo'];
  if (state) options.state = state;
  options.warn = (m) => process.stderr.write(`warning: ${m}\n`);
  progress('==> comparing per pkgbase');
  const plan = compareRepositories(loaded.upstream.set, loaded.target.set, options);

  const command = ['outdated', ...argv].join(' ');
  const doc = buildListDocument(plan.entries, plan.cycles, command);
  if (values.json) process.stdout.write(`${JSON.stringify({ ...doc, plan: { ...plan, entries: undefined } }, null, 2)}\n`);
  else printPlan(plan, (s) => process.stdout.write(s), values['missing-packages'] ?? false);

  for (const n of plan.notFound) process.stderr.write(`outdated: error: --packages ${n}: no such pkgname or pkgbase upstream\n`);
  const output = values.output ?? config.output;
  if (dryRun) progress(`==> dry run: ${output} not written (${plan.entries.length} entries)`);
  else {
    const what = writeBuildList(output, doc);
    progress(`==> ${output}: ${what === 'written' ? `written (${plan.entries.length} entries)` : what === 'removed' ? 'removed (empty list)' : 'nothing to build'}`);
  }
  return plan.notFound.length ? EXIT_FAILURE : EXIT_OK;
}

if (require.main === module) void runVerb('outdated', main);
