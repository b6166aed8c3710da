/**
 * What a PKGBUILD sees of the system while it is sourced: the state of the target build root, read-only —
 * its /etc, its pacman databases, and the workspace's chroot-config/<arch>/{pacman,makepkg}.conf that builds
 * install into it — so `pacman -Q`, `pacman -Si` or a read of /etc answer as they would inside that root
 * (the right answer for a build, also for a foreign architecture). The programs themselves are the host's
 * (bash under qemu would cost 20x), so the host's own runtime files stay visible: /etc/alternatives (on
 * Debian /usr/bin/awk points there), the dynamic loader's cache.
 * Without a build root a PKGBUILD sees an empty pacman database and no /etc beyond those host files.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { locateBuildRoot } from '../roots/locate';

export interface MetadataView {
  /** <root>/etc, whose entries become symlinks in /etc */
  rootEtc?: string;
  rootEtcEntries: string[];
  /** the workspace's chroot-config/<arch> (pacman.conf and makepkg.conf override the root's) */
  chrootConfig?: string;
  chrootConfigEntries: string[];
  /** host paths bound at the same path */
  hostEtc: string[];
  /** <root>/var/lib/pacman */
  pacmanDb?: string;
  /** the host path of what the sandbox shows as /etc/makepkg.conf (sourced before every PKGBUILD), if any */
  makepkgConf?: string;
  /** everything the view shows that can change a PKGBUILD's metadata, hashed (part of the cache key) */
  fingerprint: string;
  /** for messages: which root the PKGBUILDs saw */
  describe: string;
}

export const EMPTY_VIEW: MetadataView = { rootEtcEntries: [], chrootConfigEntries: [], hostEtc: [], fingerprint: 'empty', describe: 'no build root' };

const HOST_RUNTIME = ['/etc/alternatives', '/etc/ld.so.cache', '/etc/ld.so.conf', '/etc/ld.so.conf.d'];
const CHROOT_CONFIG_FILES = ['pacman.conf', 'makepkg.conf'];

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

export function metadataView(workspaceRoot: string, arch: string): MetadataView {
  const root = locateBuildRoot(workspaceRoot, arch);
  const hash = createHash('sha256');
  const hostEtc = HOST_RUNTIME.filter((p) => existsSync(p));
  const configDir = join(workspaceRoot, 'chroot-config', arch);
  const chrootConfigEntries = CHROOT_CONFIG_FILES.filter((f) => existsSync(join(configDir, f)));
  for (const f of chrootConfigEntries) hash.update(`config:${f}\0`).update(readFileSync(join(configDir, f)));
  const taken = new Set([...chrootConfigEntries, ...hostEtc.map((p) => p.slice('/etc/'.length))]);
  let rootEtcEntries: string[] = [];
  let pacmanDb: string | undefined;
  if (root) {
    rootEtcEntries = listDir(join(root, 'etc')).filter((n) => !taken.has(n));
    const db = join(root, 'var', 'lib', 'pacman');
    if (existsSync(join(db, 'local'))) {
      pacmanDb = db;
      // installed packages (directory names are name-version) and the sync databases' identity
      hash.update(`local:${listDir(join(db, 'local')).join('/')}\0`);
      for (const f of listDir(join(db, 'sync'))) {
        const st = statSync(join(db, 'sync', f), { throwIfNoEntry: false });
        hash.update(`sync:${f}:${st?.size}:${st?.mtimeMs}\0`);
      }
    }
    for (const f of ['pacman.conf', 'makepkg.conf', 'os-release']) {
      if (!chrootConfigEntries.includes(f) && existsSync(join(root, 'etc', f))) hash.update(`etc:${f}\0`).update(readFileSync(join(root, 'etc', f)));
    }
  }
  hash.update(`host:${hostEtc.join('/')}`);
  const makepkgConf = chrootConfigEntries.includes('makepkg.conf') ? join(configDir, 'makepkg.conf') : root && rootEtcEntries.includes('makepkg.conf') ? join(root, 'etc', 'makepkg.conf') : undefined;
  return {
    ...(makepkgConf ? { makepkgConf } : {}),
    ...(root ? { rootEtc: join(root, 'etc') } : {}),
    rootEtcEntries,
    ...(chrootConfigEntries.length ? { chrootConfig: configDir } : {}),
    chrootConfigEntries,
    hostEtc,
    ...(pacmanDb ? { pacmanDb } : {}),
    fingerprint: hash.digest('hex'),
    describe: root ? `the ${arch} build root ${root}` : `no ${arch} build root (an empty pacman database)`,
  };
}
