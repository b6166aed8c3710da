/** `pkgnx root check`: what is wrong with the build root of an architecture, with the fix. See docs/roots.md. */
import { readdirSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { checkRoot, formatRootCheck, type RootCheck } from '../roots/check';
import { EXIT_FAILURE, EXIT_OK, runVerb } from './support';
import { rootTarget } from './root-support';

const HELP = `usage: root check [--arch ARCH]... [--dir DIR] [--json]
Report what is wrong with the build root of each ARCH (default: every chroot-config/<arch>/), each problem
with its fix: no root, a non-Arch stand-in root (today's Debian roots), the wrong architecture, no
base-devel, a missing or stale keyring, an unsigned source, a pacman.conf without repositories.
  --dir DIR         check the root there (one --arch)
  --json            the report as JSON
  --workspace DIR   the workspace (default: the current directory)
exit codes: 0 no problems, 1 problems found, 2 usage error`;

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { arch: { type: 'string', multiple: true }, dir: { type: 'string' }, json: { type: 'boolean' }, workspace: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return EXIT_OK;
  }
  const ws = resolve(values.workspace ?? process.cwd());
  const configDir = join(ws, 'chroot-config');
  const arches = values.arch ?? (existsSync(configDir) ? readdirSync(configDir).filter((a) => existsSync(join(configDir, a, 'pacman.conf'))).sort() : []);
  const checks: RootCheck[] = arches.map((arch) => {
    const t = rootTarget({ arch, ...(values.dir ? { dir: values.dir } : {}), workspace: ws });
    return checkRoot(t.workspaceRoot, t.arch, t.root);
  });
  if (values.json) process.stdout.write(`${JSON.stringify(checks.map((c) => ({ arch: c.arch, root: c.root, kind: c.facts.kind, problems: c.problems, notes: c.notes })), null, 2)}\n`);
  else for (const c of checks) process.stdout.write(formatRootCheck(c));
  return checks.some((c) => c.problems.length) ? EXIT_FAILURE : EXIT_OK;
}

if (require.main === module) void runVerb('root check', main);
