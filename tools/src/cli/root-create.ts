/**
 * `pkgnx root create`: make the build root of an architecture with pacman from chroot-config/<arch>/
 * pacman.conf, or from a signed root tarball. See docs/roots.md.
 */
import { parseArgs } from 'node:util';
import { createRoot, type RootSource } from '../roots/create';
import { EXIT_OK, UsageError, runVerb, splitNames } from './support';
import { interruptSignal, rootLogFile, rootTarget, say } from './root-support';

const HELP = `usage: root create --arch ARCH [--tarball FILE|URL [--signature FILE|URL]] [--package PKG]... [--keyring NAME|none]... [--dir DIR] [--replace]
Make the build root of ARCH (where builds look for it: chroot-config/ARCH/rootfs, else .pkgnx/rootfs/ARCH).
  with pacman (default), as devtools' mkarchroot: the host's pacman installs base-devel from the
      repositories of chroot-config/ARCH/pacman.conf into a new directory, in the build sandbox; the new
      root's keyring is initialised and populated from the host's keyring package (Debian/Ubuntu:
      apt-get install archlinux-keyring) and keys/pacman/*.asc; then chroot-config's pacman.conf and
      makepkg.conf are installed into it.
  --tarball FILE|URL   from a signed root tarball (Arch Linux ARM's ArchLinuxARM-ARCH-latest.tar.gz): its
      signature (default: the tarball's name + .sig) is verified with the keys in keys/roots/*.asc BEFORE
      anything is extracted; entries that would write outside the root are refused.
  --package PKG        what pacman installs (repeatable; default base-devel)
  --keyring NAME       the host keyring packages to populate from (repeatable; default archlinux;
                       none: only keys/pacman/)
  --dir DIR            make the root there instead
  --replace            replace an existing root (under its lock, once the new one is complete)
  --workspace DIR      the workspace (default: the current directory)
The root is built beside its place and renamed into it when complete: a failure leaves nothing behind.
exit codes: 0 created, 1 failure (bad signature, pacman error ...), 2 usage error`;

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      arch: { type: 'string' }, tarball: { type: 'string' }, signature: { type: 'string' }, package: { type: 'string', multiple: true },
      keyring: { type: 'string', multiple: true }, dir: { type: 'string' }, replace: { type: 'boolean' }, workspace: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return EXIT_OK;
  }
  const t = rootTarget(values);
  if (values.tarball && (values.package || values.keyring)) throw new UsageError('--package and --keyring make a root with pacman; a --tarball root has its own packages and keyring');
  if (values.signature && !values.tarball) throw new UsageError('--signature goes with --tarball');
  const keyrings = (values.keyring ?? ['archlinux']).flatMap((k) => (k === 'none' ? [] : splitNames([k])));
  const source: RootSource = values.tarball
    ? { kind: 'tarball', tarball: values.tarball, ...(values.signature ? { signature: values.signature } : {}) }
    : { kind: 'pacman', packages: splitNames(values.package ?? ['base-devel']), keyrings };
  const logFile = rootLogFile(t, 'create');
  const log = say('root create');
  log(`making the ${t.arch} root in ${t.root} (log: ${logFile})`);
  const record = await createRoot({ workspaceRoot: t.workspaceRoot, arch: t.arch, dir: t.root, source, replace: values.replace ?? false, logFile, signal: interruptSignal(), say: log });
  process.stdout.write(`created ${t.root} (${t.arch}, from ${record.source.kind === 'pacman' ? `pacman: ${record.source.packages.join(' ')}` : record.source.tarball}); check it: npx pkgnx root check --arch ${t.arch}\n`);
  return EXIT_OK;
}

if (require.main === module) void runVerb('root create', main);
