/**
 * The bubblewrap command line that runs the metadata driver. Bash never runs outside it: no network, no
 * other namespaces shared, a read-only view of /usr and the package directories, a private tmpfs /tmp and
 * HOME, a clean environment, killed with its parent.
 */
import { spawnSync } from 'node:child_process';
import { lstatSync, readlinkSync } from 'node:fs';

export class SandboxUnavailableError extends Error {
  constructor(detail: string) {
    super(
      `cannot run the PKGBUILD sandbox (bubblewrap): ${detail.trim()}\n` +
        'pkgnx only sources PKGBUILDs inside bubblewrap with no network and a read-only view. Either install it ' +
        '(Debian/Ubuntu: apt-get install bubblewrap; Arch: pacman -S bubblewrap) and allow unprivileged user ' +
        'namespaces (sysctl kernel.unprivileged_userns_clone=1 / user.max_user_namespaces > 0; on Ubuntu 24.04+ ' +
        'an AppArmor profile for bwrap), or set metadataSource to "srcinfo" to read committed .SRCINFO files ' +
        'and never execute a PKGBUILD.',
    );
    this.name = 'SandboxUnavailableError';
  }
}

export interface SandboxSpec {
  /** directories made visible read-only at the same path (the parents of the package directories) */
  readOnlyDirs: string[];
  carch: string;
  bwrap?: string;
}

/** /bin, /lib ... are symlinks into /usr on merged-/usr systems and real directories elsewhere. */
function rootLinks(): string[] {
  const args: string[] = [];
  for (const p of ['/bin', '/sbin', '/lib', '/lib64', '/lib32', '/libx32']) {
    try {
      const st = lstatSync(p);
      if (st.isSymbolicLink()) args.push('--symlink', readlinkSync(p), p);
      else if (st.isDirectory()) args.push('--ro-bind', p, p);
    } catch {
      // absent on this system
    }
  }
  return args;
}

/** Arguments for `bwrap`, followed by the command to run inside. */
export function sandboxArgs(spec: SandboxSpec, command: string[]): string[] {
  const args = [
    '--unshare-all',
    '--die-with-parent',
    '--new-session',
    '--clearenv',
    '--ro-bind', '/usr', '/usr',
    ...rootLinks(),
    '--proc', '/proc',
    '--dev', '/dev',
    '--tmpfs', '/tmp',
    '--dir', '/tmp/home',
  ];
  for (const dir of spec.readOnlyDirs) args.push('--ro-bind', dir, dir);
  args.push(
    // the root tmpfs bwrap builds would otherwise be writable
    '--remount-ro', '/',
    '--chdir', '/tmp',
    '--setenv', 'PATH', '/usr/local/bin:/usr/bin:/bin',
    '--setenv', 'LC_ALL', 'C',
    '--setenv', 'HOME', '/tmp/home',
    '--setenv', 'CARCH', spec.carch,
    '--',
    ...command,
  );
  return args;
}

const probed = new Map<string, true | string>();

/** Throws SandboxUnavailableError unless bwrap can start a sandbox here (binary present, user namespaces allowed). */
export function assertSandboxAvailable(bwrap = 'bwrap'): void {
  let result = probed.get(bwrap);
  if (result === undefined) {
    const r = spawnSync(bwrap, sandboxArgs({ readOnlyDirs: [], carch: 'x86_64' }, ['/bin/bash', '-c', 'exit 0']), {
      encoding: 'utf8',
      timeout: 20_000,
    });
    if (r.error) result = `${bwrap}: ${(r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not installed' : r.error.message}`;
    else if (r.status !== 0) result = `${bwrap} exited with status ${r.status}: ${r.stderr || '(no message)'}`;
    else result = true;
    probed.set(bwrap, result);
  }
  if (result !== true) throw new SandboxUnavailableError(result);
}
