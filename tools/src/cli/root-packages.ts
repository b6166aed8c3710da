/**
 * `pkgnx root packages`: the installed package set of the build roots, one `arch: name version` line per
 * package. The build target's cache input when the plugin option `rootInput` asks for it (a runtime input:
 * Nx hashes this output), so its output carries no path or time and it never fails.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { inspectRoot, packageManifest } from '../roots/inspect';
import { rootDirFor } from '../roots/locate';
import { EXIT_OK, UsageError, runVerb, splitNames } from './support';

const HELP = `usage: root packages --arch ARCH... (--all | --package PKG...) [--rootfs PATH] [--workspace DIR]
Print the packages installed in the build root of each ARCH (where builds look for it: the build option
rootfs given as --rootfs, with {arch}; else chroot-config/ARCH/rootfs, else .pkgnx/rootfs/ARCH), "ARCH: name version" per line,
sorted: every package (--all) or the named ones. A missing or stand-in root prints one line saying so.
This is the build target's runtime cache input under the plugin option rootInput (docs/roots.md).`;

export function manifestLines(workspaceRoot: string, arches: string[], select: 'all' | string[], rootfsOption?: string): string[] {
  const out: string[] = [];
  for (const arch of arches) {
    const root = rootDirFor(workspaceRoot, arch, rootfsOption);
    const facts = inspectRoot(root);
    if (facts.kind === 'missing') out.push(`${arch}: (no build root)`);
    else if (facts.kind === 'stand-in') out.push(`${arch}: (stand-in root without pacman packages)`);
    else for (const line of packageManifest(root, select)) out.push(`${arch}: ${line}`);
  }
  return out;
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { arch: { type: 'string', multiple: true }, all: { type: 'boolean' }, package: { type: 'string', multiple: true }, rootfs: { type: 'string' }, workspace: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return EXIT_OK;
  }
  const arches = splitNames(values.arch);
  if (arches.length === 0) throw new UsageError('--arch is required');
  if (!values.all === !values.package) throw new UsageError('give --all or --package');
  const select = values.all ? 'all' : splitNames(values.package);
  process.stdout.write(`${manifestLines(resolve(values.workspace ?? process.cwd()), arches, select, values.rootfs).join('\n')}\n`);
  return EXIT_OK;
}

if (require.main === module) void runVerb('root packages', main);
