/**
 * The `host` backend: makepkg with this machine's own tools as the build user. For development only: it
 * is not clean (whatever the host has installed is used), dependencies are not installed, and makepkg
 * gets --nodeps when pacman on the host does not know them (always on a Debian host). The log says so.
 * It is still sandboxed, like every execution of a PKGBUILD: bubblewrap with the host read-only, only
 * the task's build directory and package destination writable, a private /tmp, and no network while
 * building (remote sources are fetched first, in a step that may use the network but writes only there).
 */
import { chownSync, closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoot } from '../../sandbox/identity';
import { hasCommand, runCheckedSync, runSync } from '../../process/run';
import { seccompProgram } from '../../sandbox/seccomp';
import type { BuildBackend, BuildOutcome, BuildRequest, PlannedCommand } from './backend';
import { logLine, runLogged } from '../../process/logged-run';
import { pkgbuildFetchesRemote } from './rootfs';
import { importPgpKeys, taskWorkDir } from './shared';

/** the seccomp program reaches bwrap as this descriptor (setpriv keeps it open) */
const SECCOMP_FD = 3;

function userIds(user: string): { uid: number; gid: number } {
  const uid = Number(runCheckedSync('id', ['-u', user]).stdout.trim());
  const gid = Number(runCheckedSync('id', ['-g', user]).stdout.trim());
  return { uid, gid };
}

/** dependencies pacman on the host does not consider installed (`pacman -T`) */
export function unsatisfiedOnHost(deps: string[]): string[] {
  if (deps.length === 0) return [];
  return runSync('pacman', ['-T', ...deps]).stdout.split('\n').filter(Boolean);
}

function allDeps(req: BuildRequest): string[] {
  return [...req.depends, ...req.makedepends, ...(req.nocheck ? [] : req.checkdepends)];
}

export const hostBackend: BuildBackend = {
  name: 'host',

  async preflight(req: BuildRequest): Promise<void> {
    for (const cmd of ['makepkg', 'pacman']) {
      if (!hasCommand(cmd)) throw new Error(`the host backend needs ${cmd} on PATH (Debian: apt-get install makepkg pacman-package-manager)`);
    }
    if (isRoot()) {
      try {
        userIds(req.buildUser ?? 'builder');
      } catch {
        throw new Error(`makepkg refuses to run as root and the build user "${req.buildUser ?? 'builder'}" does not exist: useradd -m ${req.buildUser ?? 'builder'} (or set the build option "buildUser")`);
      }
    }
    if (!existsSync('/var/lib/pacman/local/ALPM_DB_VERSION')) {
      throw new Error('pacman has no local database on this host: mkdir -p /var/lib/pacman/local /var/lib/pacman/sync && echo 9 > /var/lib/pacman/local/ALPM_DB_VERSION');
    }
  },

  plan(req: BuildRequest): PlannedCommand[] {
    const dir = taskWorkDir(req);
    const user = req.buildUser ?? 'builder';
    const nodeps = unsatisfiedOnHost(allDeps(req)).length > 0;
    const env: Record<string, string> = {
      ...req.env,
      BUILDDIR: join(dir, 'work'),
      PKGDEST: req.pkgdest,
      SRCDEST: join(dir, 'src'),
      SRCPKGDEST: join(dir, 'src'),
      LOGDEST: join(dir, 'logs'),
      ...(req.pgpKeys.length ? { GNUPGHOME: join(dir, 'gnupg') } : {}),
      ...(existsSync(req.makepkgConf) ? { MAKEPKG_CONF: req.makepkgConf } : {}),
    };
    const makepkg = [
      'makepkg', '-f', '--noconfirm',
      ...(nodeps ? ['--nodeps'] : []),
      ...(req.nocheck ? ['--nocheck'] : []),
      ...(req.ignoreArch ? ['--ignorearch'] : []),
      ...(existsSync(req.makepkgConf) ? ['--config', req.makepkgConf] : []),
      ...req.makepkgArgs,
    ];
    const envArgs = Object.entries(env).filter(([k]) => k !== 'MAKEPKG_CONF').map(([k, v]) => `${k}=${v}`);
    const asUser = isRoot() ? ['setpriv', `--reuid=${user}`, `--regid=${user}`, '--init-groups', 'env', `HOME=${dir}`, `USER=${user}`, ...envArgs] : ['env', ...envArgs];
    const sandbox = (network: boolean): string[] => [
      // the workspace may itself live under /tmp: bound again (read-only) after the private /tmp
      'bwrap', '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--ro-bind', req.workspaceRoot, req.workspaceRoot,
      '--bind', dir, dir, '--bind', req.pkgdest, req.pkgdest,
      '--unshare-all', '--unshare-user', '--disable-userns', '--cap-drop', 'ALL', '--seccomp', String(SECCOMP_FD),
      ...(network ? ['--share-net'] : []), '--die-with-parent', '--new-session', '--chdir', req.pkgdir,
    ];
    const fetch = pkgbuildFetchesRemote(req.pkgdir) && !req.network;
    return [
      { argv: ['mkdir', '-p', join(dir, 'work'), join(dir, 'src'), join(dir, 'logs')], purpose: 'create the private build directory' },
      ...(fetch
        ? [{ argv: [...asUser, ...sandbox(true), 'makepkg', '--verifysource', '--nodeps', '--noconfirm', ...(existsSync(req.makepkgConf) ? ['--config', req.makepkgConf] : [])], cwd: req.pkgdir, purpose: 'fetch the remote sources (network allowed, writes only the build directory)' }]
        : []),
      { argv: [...asUser, ...sandbox(req.network === true), ...makepkg], cwd: req.pkgdir, purpose: `build ${req.pkgbase} with the host's tools in bubblewrap, no network (NOT a clean build)` },
      { argv: ['rm', '-rf', dir], purpose: 'remove the build directory' },
    ];
  },

  async build(req: BuildRequest): Promise<BuildOutcome> {
    const dir = taskWorkDir(req);
    const steps = this.plan(req).filter((c) => c.argv.includes('makepkg'));
    const missing = unsatisfiedOnHost(allDeps(req));
    await logLine(req.logFile, "==> pkgnx: WARNING: host backend: makepkg runs with this machine's installed tools (in bubblewrap); the build is not clean");
    if (missing.length) await logLine(req.logFile, `==> pkgnx: WARNING: not installed in pacman's view on the host, makepkg gets --nodeps: ${missing.join(' ')}`);
    try {
      for (const d of ['work', 'src', 'logs']) await mkdir(join(dir, d), { recursive: true });
      const seccompFile = join(dir, 'seccomp.bpf');
      await writeFile(seccompFile, seccompProgram('build'));
      if (req.pgpKeys.length) {
        importPgpKeys(req.pgpKeys, join(dir, 'gnupg'));
        await logLine(req.logFile, `==> pkgnx: imported ${req.pgpKeys.length} PGP key file(s) into the task's GNUPGHOME`);
      }
      if (isRoot()) {
        const { uid, gid } = userIds(req.buildUser ?? 'builder');
        runCheckedSync('chown', ['-R', `${uid}:${gid}`, dir, req.pkgdest]);
        chownSync(req.pkgdest, uid, gid);
      }
      for (const step of steps) {
        await logLine(req.logFile, `==> pkgnx: ${step.argv.slice(step.argv.indexOf('makepkg')).join(' ')}`);
        // bwrap reads the filter to its end: a descriptor per step
        const seccomp = openSync(seccompFile, 'r');
        const r = await runLogged(step, { logFile: req.logFile, signal: req.signal, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' }, fds: [seccomp] }).finally(() => closeSync(seccomp));
        if (r.aborted) return { success: false, error: 'interrupted' };
        if (r.code !== 0) return { success: false, error: `makepkg failed (exit ${r.code ?? r.signal})` };
      }
      return { success: true };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
