/** `pkgnx root update`: pacman -Syuu in the build root of an architecture, under its lock. See docs/roots.md. */
import { parseArgs } from 'node:util';
import { updateRoot } from '../roots/update';
import { EXIT_FAILURE, EXIT_OK, UsageError, runVerb, splitNames } from './support';
import { interruptSignal, rootLogFile, rootTarget, say } from './root-support';

const HELP = `usage: root update --arch ARCH [--install PKG]... [--wait SECONDS] [--dir DIR]
Update the build root of ARCH as devtools does (pacman -Syuu with the root's own pacman, in the build
sandbox), under the root's exclusive lock: it waits for builds using the root to finish (they hold the
lock shared), and builds wait for it. chroot-config/ARCH/{pacman,makepkg}.conf are installed into the root
again, and a missing or stale keyring (a keyring package or a key in keys/pacman/ changed) is populated.
  --install PKG     also install PKG (repeatable; pacman -S --needed), e.g. base-devel
  --wait SECONDS    how long to wait for running builds (default 3600; 0: do nothing when the root is in use)
  --dir DIR         the root there instead of where builds look for it
  --workspace DIR   the workspace (default: the current directory)
exit codes: 0 updated, 1 failure (or in use with --wait 0), 2 usage error`;

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { arch: { type: 'string' }, install: { type: 'string', multiple: true }, wait: { type: 'string' }, dir: { type: 'string' }, workspace: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return EXIT_OK;
  }
  const t = rootTarget(values);
  const waitSeconds = values.wait === undefined ? 3600 : Number(values.wait);
  if (!Number.isInteger(waitSeconds) || waitSeconds < 0) throw new UsageError(`--wait: "${values.wait}" is not a number of seconds`);
  const logFile = rootLogFile(t, 'update');
  const log = say('root update');
  log(`updating ${t.root} (log: ${logFile})`);
  const r = await updateRoot({ workspaceRoot: t.workspaceRoot, arch: t.arch, root: t.root, install: splitNames(values.install), waitSeconds, logFile, signal: interruptSignal(), say: log });
  if (!r.updated) {
    process.stderr.write(`root update: not updated: ${r.skipped}\n`);
    return EXIT_FAILURE;
  }
  process.stdout.write(`updated ${t.root}${r.keyringRenewed ? ' (keyring renewed)' : ''}\n`);
  return EXIT_OK;
}

if (require.main === module) void runVerb('root update', main);
