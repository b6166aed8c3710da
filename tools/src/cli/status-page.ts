/**
 * `pkgnx status-page`: dist/summary.json as static HTML in dist/status/ (index.html, <arch>.html, the failed
 * builds' logs under logs/), with the workspace version of every package and, when pkgnx.config.json has an
 * `upstream` section and its databases are cached (`pkgnx outdated` fetched them), the upstream and target
 * versions. Publish the directory as it is (e.g. `aws s3 sync dist/status s3://bucket/status/`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { RunSummary } from '../packaging/run-summary';
import { writeStatusSite } from '../farm/status-site';
import { UsageError } from './support';

const HELP = `usage: status-page [--workspace DIR] [--out DIR] [--title TEXT]
  render dist/summary.json (the last run) as static HTML pages: DIR/index.html and DIR/<arch>.html
  --out DIR        default dist/status (the failed builds' logs are copied to DIR/logs/)
  --title TEXT     page title (default "pkgnx build status")
  versions: workspace (the PKGBUILDs), upstream and target (pkgnx.config.json "upstream", cached databases
  only: run \`pkgnx outdated --dry-run\` first to fetch them); blank when unknown
exit codes: 0 ok, 1 failure, 2 usage error`;

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { workspace: { type: 'string' }, out: { type: 'string' }, title: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const root = resolve(values.workspace ?? process.cwd());
  const summaryFile = join(root, 'dist', 'summary.json');
  if (!existsSync(summaryFile)) throw new UsageError(`${summaryFile} does not exist: run a build first (npx nx run-many -t build)`);
  const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as RunSummary;
  const files = await writeStatusSite(root, summary, {
    ...(values.out ? { out: resolve(values.out) } : {}),
    ...(values.title ? { title: values.title } : {}),
    warn: (m) => void process.stderr.write(`status-page: ${m}\n`),
  });
  process.stderr.write(`status-page: ${files.map((f) => relative(root, f)).join(', ')}\n`);
  return 0;
}
