/**
 * Creating the build root of an architecture, as devtools' mkarchroot does (pacstrap of `base-devel` with
 * the chroot's pacman.conf and makepkg.conf), or from a signed root tarball:
 *   pacman   the host's pacman (Debian/Ubuntu: pacman-package-manager) installs the packages into an
 *            empty directory, inside the sandbox (the host's /usr read-only, the new root at /newroot),
 *            after the new root's keyring was initialised and populated (keyring.ts). pacstrap itself is
 *            not used: it runs pacman and every install scriptlet as host root, and mounts /proc, /sys,
 *            /dev into the target, which needs real root; here scriptlets run as root of the build's
 *            user namespace, and the root is in the build's uid range from the first file on.
 *   tarball  verified and checked before extraction (tarball.ts), extracted, moved into the uid range,
 *            its keyring initialised and populated from the keyrings it ships (its own pacman-key).
 * Built in `<dir>.new-<pid>` and renamed into place when complete; a failure leaves nothing behind. An
 * existing root is replaced only when asked, under its exclusive lock (builds hold it shared).
 */
import { copyFileSync, existsSync, lchownSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { acquireLock } from '../process/flock';
import { acceptsUnsignedPackages, parsePacmanConf } from '../pacman-conf';
import { uidBase } from '../sandbox/identity';
import { keyringScript, planKeyring, type KeyringPlan } from './keyring';
import { writeRootRecord, type RootRecord } from './record';
import { runRootStep } from './sandbox';
import { ensureShifted } from './shift';
import { extractChecked, fetchToFile, rootTarballKeys, verifyTarball } from './tarball';

/** pacman-key and gpg see the workspace's keys/pacman/ here (a tmpfs of the sandbox: nothing left in the root) */
export const SANDBOX_KEYS = '/tmp/pkgnx-keys';
const SANDBOX_CONF = '/tmp/pkgnx-conf';

export type RootSource =
  | { kind: 'pacman'; packages: string[]; keyrings: string[] }
  | { kind: 'tarball'; tarball: string; signature?: string };

export interface CreateRootRequest {
  workspaceRoot: string;
  arch: string;
  /** where the root goes */
  dir: string;
  source: RootSource;
  /** replace an existing root */
  replace: boolean;
  logFile: string;
  signal?: AbortSignal;
  /** progress lines */
  say: (line: string) => void;
}

export function rootLockFile(root: string): string {
  return `${root}.pkgnx-lock`;
}

/** the lock a root's users share and its maintenance (update, replace, shift) holds alone */
export async function withRootLock<T>(root: string, mode: { shared?: boolean; waitSeconds?: number }, fn: () => Promise<T>): Promise<T> {
  mkdirSync(dirname(root), { recursive: true });
  const release = await acquireLock(rootLockFile(root), mode);
  try {
    return await fn();
  } finally {
    release();
  }
}

/** the chroot configuration a root is made with (its pacman.conf must name the distribution's repositories) */
export function chrootConfig(workspaceRoot: string, arch: string): { pacmanConf: string; makepkgConf: string } {
  const dir = join(workspaceRoot, 'chroot-config', arch);
  return { pacmanConf: join(dir, 'pacman.conf'), makepkgConf: join(dir, 'makepkg.conf') };
}

/** copies chroot-config's pacman.conf and makepkg.conf into the root's /etc, owned by the root's range */
export function installChrootConfig(workspaceRoot: string, arch: string, root: string, base: number): void {
  const { pacmanConf, makepkgConf } = chrootConfig(workspaceRoot, arch);
  for (const [from, name] of [[pacmanConf, 'pacman.conf'], [makepkgConf, 'makepkg.conf']] as const) {
    if (!existsSync(from)) continue;
    const to = join(root, 'etc', name);
    const tmp = `${to}.pkgnx-${process.pid}`;
    copyFileSync(from, tmp);
    lchownSync(tmp, base, base);
    renameSync(tmp, to);
  }
}

/** the sandbox binds and script lines that build a root's keyring (`gpgdir` as the sandbox sees it) */
export function keyringStep(plan: KeyringPlan, gpgdir: string): { binds: [string, string, 'ro'][]; script: string } {
  const dirs = [...new Set(plan.keys.map((k) => dirname(k.file)))];
  return { binds: dirs.map((d) => [d, SANDBOX_KEYS, 'ro']), script: keyringScript(plan, gpgdir, SANDBOX_KEYS) };
}

async function createFromPacman(req: CreateRootRequest, source: Extract<RootSource, { kind: 'pacman' }>, tmp: string, base: number, plan: KeyringPlan): Promise<RootRecord['source']> {
  const { pacmanConf } = chrootConfig(req.workspaceRoot, req.arch);
  if (!existsSync(pacmanConf)) throw new Error(`${pacmanConf} does not exist: a root is made from the repositories it names`);
  const conf = parsePacmanConf(readFileSync(pacmanConf, 'utf8'));
  if (conf.repositories.length === 0)
    throw new Error(`${pacmanConf} names no repository: add the distribution's, e.g. [core] with "Server = https://geo.mirror.pkgbuild.com/$repo/os/$arch" (docs/roots.md)`);
  const keyring = keyringStep(plan, '/newroot/etc/pacman.d/gnupg');
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  req.say(`installing ${source.packages.join(' ')} from ${conf.repositories.map((r) => r.name).join(', ')} (the host's pacman, sandboxed)`);
  await runRootStep({
    root: { method: 'host' },
    binds: [[tmp, '/newroot', 'rw'], [pacmanConf, `${SANDBOX_CONF}/pacman.conf`, 'ro'], ...keyring.binds],
    network: true,
    // scriptlets run chrooted in the new root: it gets its own /dev and /proc, as pacstrap mounts them
    extraBwrap: ['--dev', '/newroot/dev', '--proc', '/newroot/proc'],
    script: [
      'mkdir -m 0755 -p /newroot/var/cache/pacman/pkg /newroot/var/lib/pacman /newroot/var/log /newroot/etc/pacman.d /newroot/run',
      'mkdir -m 1777 -p /newroot/tmp',
      keyring.script,
      `pacman --root /newroot --dbpath /newroot/var/lib/pacman --gpgdir /newroot/etc/pacman.d/gnupg --cachedir /newroot/var/cache/pacman/pkg --config ${SANDBOX_CONF}/pacman.conf --noconfirm -Sy ${source.packages.map(q).join(' ')}`,
      // the packages are in the root; their files need not stay in it too
      'rm -rf /newroot/var/cache/pacman/pkg/*',
    ].join('\n'),
    purpose: `create the ${req.arch} root: pacman -Sy ${source.packages.join(' ')} into ${req.dir}`,
    logFile: req.logFile,
    signal: req.signal,
  });
  installChrootConfig(req.workspaceRoot, req.arch, tmp, base);
  return {
    kind: 'pacman',
    pacmanConf: `chroot-config/${req.arch}/pacman.conf`,
    packages: source.packages,
    repositories: conf.repositories.map((r) => ({ name: r.name, sigLevel: r.sigLevel })),
  };
}

async function createFromTarball(req: CreateRootRequest, source: Extract<RootSource, { kind: 'tarball' }>, tmp: string, base: number, work: string): Promise<{ source: RootRecord['source']; plan: KeyringPlan }> {
  req.say(`fetching ${source.tarball}`);
  const tarball = await fetchToFile(source.tarball, work);
  const signature = await fetchToFile(source.signature ?? `${source.tarball}.sig`, work).catch((e: Error) => {
    throw new Error(`${tarball}: cannot get its signature ${source.signature ?? `${source.tarball}.sig`} (${e.message}); refusing to use an unsigned root tarball`);
  });
  const keys = rootTarballKeys(req.workspaceRoot);
  const verified = await verifyTarball(tarball, signature, keys, work);
  req.say(`good signature by ${verified.signer} (${basename(verified.key)}); checking and extracting`);
  const entries = await extractChecked(tarball, tmp);
  req.say(`extracted ${entries} entries`);
  ensureShifted(tmp, base);
  const plan = planKeyring(req.workspaceRoot, { kind: 'root', root: tmp });
  const keyring = keyringStep(plan, '/etc/pacman.d/gnupg');
  await runRootStep({
    root: { method: 'bind', dir: tmp },
    binds: keyring.binds,
    network: false,
    script: keyring.script,
    purpose: `initialise the pacman keyring of the ${req.arch} root (its own pacman-key)`,
    logFile: req.logFile,
    signal: req.signal,
  });
  return {
    source: { kind: 'tarball', tarball: source.tarball, sha256: verified.sha256, signature: source.signature ?? `${source.tarball}.sig`, signer: verified.signer, key: `keys/roots/${basename(verified.key)}` },
    plan,
  };
}

/** creates the root; returns its record. Throws (leaving nothing behind) on any failure. */
export async function createRoot(req: CreateRootRequest): Promise<RootRecord> {
  if (existsSync(join(req.dir, 'usr')) && !req.replace) throw new Error(`${req.dir} already holds a root: update it (npx pkgnx root update --arch ${req.arch}) or replace it (--replace)`);
  const base = uidBase();
  const tmp = `${req.dir}.new-${process.pid}`;
  const work = mkdtempSync(join(tmpdir(), 'pkgnx-root-'));
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true, mode: 0o755 });
  try {
    let source: RootRecord['source'];
    let plan: KeyringPlan;
    if (req.source.kind === 'pacman') {
      // the new root belongs to the build's uid range from its first file: root of the sandbox owns it
      ensureShifted(tmp, base);
      plan = planKeyring(req.workspaceRoot, { kind: 'host', names: req.source.keyrings });
      source = await createFromPacman(req, req.source, tmp, base, plan);
    } else {
      ({ source, plan } = await createFromTarball(req, req.source, tmp, base, work));
    }
    const record: RootRecord = { arch: req.arch, created: new Date().toISOString(), source, keyring: plan.sources };
    writeRootRecord(tmp, record, base);
    if (source.kind === 'pacman') {
      const unsigned = source.repositories.filter((r) => acceptsUnsignedPackages(r.sigLevel));
      if (unsigned.length) req.say(`WARNING: ${unsigned.map((r) => `[${r.name}] (SigLevel = ${r.sigLevel})`).join(', ')} accept unsigned packages: npx pkgnx root check reports it`);
    }
    await withRootLock(req.dir, { waitSeconds: 600 }, async () => {
      const old = `${req.dir}.old-${process.pid}`;
      if (existsSync(req.dir)) renameSync(req.dir, old);
      renameSync(tmp, req.dir);
      rmSync(old, { recursive: true, force: true });
    });
    return record;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
