/**
 * `pkgnx dependents NAME...`: which pkgbases depend on a package (provides-aware), and with -r the
 * order to rebuild them in (the predecessor's find_dependents).
 *   node --require @swc-node/register tools/src/cli/dependents.ts [-r] [--depth N] NAME...
 */
import { parseArgs } from 'node:util';
import { findDependents, loadRepositories } from '../upstream';
import type { DependencyKind } from '../model';
import { configFromFlag, EXIT_FAILURE, EXIT_OK, runVerb, UsageError } from './support';

const HELP = `usage: dependents [options] NAME...
  -r, --rebuild-order     every (transitive) dependent in build order; cycles are reported
  -d, --depth N           reverse steps to follow (default 1, or unlimited with -r)
  --depends-only | --makedepends-only   edge kinds (default depends + makedepends)
  --checkdepends          also follow checkdepends
  --side target|upstream  which repositories to search (default target)
  --config FILE  --offline  --allow-failure  --dry-run (do not update the cache)  --json
exit codes: 0 ok, 1 unknown package or failure, 2 usage or configuration error`;

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'rebuild-order': { type: 'boolean', short: 'r' }, depth: { type: 'string', short: 'd' },
      'depends-only': { type: 'boolean' }, 'makedepends-only': { type: 'boolean' }, checkdepends: { type: 'boolean' },
      side: { type: 'string' }, config: { type: 'string' }, offline: { type: 'boolean' }, 'allow-failure': { type: 'boolean' },
      'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return EXIT_OK;
  }
  if (!positionals.length) throw new UsageError('expected at least one package name');
  if (values['depends-only'] && values['makedepends-only']) throw new UsageError('--depends-only and --makedepends-only exclude each other');
  const side = values.side ?? 'target';
  if (side !== 'target' && side !== 'upstream') throw new UsageError(`--side: expected target or upstream, got '${side}'`);
  let depth: number | undefined;
  if (values.depth !== undefined) {
    depth = Number(values.depth);
    if (!Number.isInteger(depth) || depth < 1) throw new UsageError(`--depth: expected a positive integer, got '${values.depth}'`);
  }
  const kinds: DependencyKind[] = values['depends-only'] ? ['depends'] : values['makedepends-only'] ? ['makedepends'] : ['depends', 'makedepends'];
  if (values.checkdepends) kinds.push('checkdepends');
  const config = configFromFlag(values.config);
  const loaded = await loadRepositories(config, {
    offline: values.offline ?? false, allowFailure: values['allow-failure'] ?? false, dryRun: values['dry-run'] ?? false,
    warn: (m) => process.stderr.write(`warning: ${m}\n`),
  });
  const set = side === 'target' ? loaded.target.set : loaded.upstream.set;
  let result;
  try {
    result = findDependents(set, positionals, { kinds, rebuildOrder: values['rebuild-order'] ?? false, ...(depth ? { depth } : {}) });
  } catch (e) {
    process.stderr.write(`dependents: error: ${(e as Error).message} (${side} repositories)\n`);
    return EXIT_FAILURE;
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return EXIT_OK;
  }
  if (result.order) {
    if (result.order.length) process.stdout.write(`${result.order.join(' ')}\n`);
    else process.stderr.write(`No dependents of ${positionals.join(' ')} found\n`);
    for (const c of result.cycles ?? []) process.stdout.write(`cycle #${c.group}${c.checkdependsOnly ? ' (checkdepends only)' : ''}: ${c.members.join(' ')}\n`);
  } else if (result.dependents.length) process.stdout.write(`${result.dependents.map((d) => d.pkgbase).join(' ')}\n`);
  else process.stderr.write(`No dependents of ${positionals.join(' ')} found\n`);
  return EXIT_OK;
}

if (require.main === module) void runVerb('dependents', main);
