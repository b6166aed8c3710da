/**
 * Updating a build root as devtools does (`arch-nspawn <root> pacman -Syuu`, makechrootpkg -u): the
 * root's own pacman upgrades it in the sandbox, under the root's exclusive lock, which every build using
 * the root holds shared for as long as its copy is mounted (an overlay's lower directory must not change
 * under it). chroot-config's pacman.conf and makepkg.conf are installed again first (for a root made from
 * them), and a stale keyring (a source changed since it was populated, keyring.ts) is renewed before the
 * upgrade (new packages may be signed by a new key) and after it (the root's keyring package may be new).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePacmanConf } from '../pacman-conf';
import { tryLock } from '../process/flock';
import { uidBase } from '../sandbox/identity';
import { chrootConfig, installChrootConfig, keyringStep, rootLockFile } from './create';
import { inspectRoot } from './inspect';
import { planKeyring, staleKeyringSources } from './keyring';
import { readRootRecord, writeRootRecord, type RootRecord } from './record';
import { runRootStep } from './sandbox';
import { ensureShifted } from './shift';

export interface UpdateRootRequest {
  workspaceRoot: string;
  arch: string;
  root: string;
  /** packages to install too (pacman -S --needed) */
  install?: string[];
  /** how long to wait for builds using the root to finish; 0: skip the update when it is in use */
  waitSeconds: number;
  logFile: string;
  signal?: AbortSignal;
  say: (line: string) => void;
}

export interface UpdateRootResult {
  updated: boolean;
  /** why nothing was done */
  skipped?: string;
  keyringRenewed: boolean;
}

export function hasKeyring(root: string): boolean {
  const dir = join(root, 'etc/pacman.d/gnupg');
  return existsSync(join(dir, 'pubring.gpg')) || existsSync(join(dir, 'pubring.kbx'));
}

/** renews the keyring when it is missing or stale; returns the sources it was made from, undefined when untouched */
async function renewKeyring(req: UpdateRootRequest, record: RootRecord | undefined, when: string): Promise<RootRecord['keyring'] | undefined> {
  const stale = record ? staleKeyringSources(req.workspaceRoot, req.root, record.keyring) : [];
  if (hasKeyring(req.root) && stale.length === 0) return undefined;
  req.say(hasKeyring(req.root) ? `the keyring is stale (${stale.join('; ')}): renewing it ${when}` : `the root has no pacman keyring: making it ${when}`);
  const distribution = record?.keyring.filter((s) => s.kind === 'distribution').map((s) => s.name) ?? [];
  if (record?.source.kind === 'pacman') {
    // made from the host's keyring package: the host's pacman-key again, the root at /newroot
    const plan = planKeyring(req.workspaceRoot, { kind: 'host', names: distribution });
    const step = keyringStep(plan, '/newroot/etc/pacman.d/gnupg');
    await runRootStep({ root: { method: 'host' }, binds: [[req.root, '/newroot', 'rw'], ...step.binds], network: false, script: step.script, purpose: `renew the pacman keyring of the ${req.arch} root`, logFile: req.logFile, signal: req.signal });
    return plan.sources;
  }
  const plan = planKeyring(req.workspaceRoot, { kind: 'root', root: req.root });
  const step = keyringStep(plan, '/etc/pacman.d/gnupg');
  await runRootStep({ root: { method: 'bind', dir: req.root }, binds: step.binds, network: false, script: step.script, purpose: `renew the pacman keyring of the ${req.arch} root (its own pacman-key)`, logFile: req.logFile, signal: req.signal });
  return plan.sources;
}

export async function updateRoot(req: UpdateRootRequest): Promise<UpdateRootResult> {
  const facts = inspectRoot(req.root);
  if (facts.kind === 'missing') throw new Error(`${req.root} is not a build root: create it (npx pkgnx root create --arch ${req.arch})`);
  if (facts.kind === 'stand-in')
    throw new Error(`${req.root} is a stand-in root (${facts.standIn}): pacman cannot update it; replace it with a real one (npx pkgnx root create --arch ${req.arch} --replace)`);
  const release = await tryLock(rootLockFile(req.root), { waitSeconds: req.waitSeconds });
  if (!release) return { updated: false, skipped: `${req.root} is in use by running builds (${rootLockFile(req.root)})`, keyringRenewed: false };
  try {
    const base = uidBase();
    ensureShifted(req.root, base);
    let record = readRootRecord(req.root);
    const conf = chrootConfig(req.workspaceRoot, req.arch);
    if (record?.source.kind === 'pacman' || (existsSync(conf.pacmanConf) && parsePacmanConf(readFileSync(conf.pacmanConf, 'utf8')).repositories.length)) {
      installChrootConfig(req.workspaceRoot, req.arch, req.root, base);
    }
    let renewed = false;
    const keep = (sources: RootRecord['keyring'] | undefined): void => {
      if (!sources) return;
      renewed = true;
      if (record) record = { ...record, keyring: sources };
    };
    keep(await renewKeyring(req, record, 'before the upgrade'));
    const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
    await runRootStep({
      root: { method: 'bind', dir: req.root },
      binds: [],
      network: true,
      script: [
        'pacman -Syuu --noconfirm',
        ...(req.install?.length ? [`pacman -S --needed --noconfirm ${req.install.map(q).join(' ')}`] : []),
        'rm -rf /var/cache/pacman/pkg/*',
      ].join('\n'),
      purpose: `update the ${req.arch} root: pacman -Syuu${req.install?.length ? ` and install ${req.install.join(' ')}` : ''}`,
      logFile: req.logFile,
      signal: req.signal,
    });
    keep(await renewKeyring(req, record, 'after the upgrade'));
    if (record) writeRootRecord(req.root, { ...record, updated: new Date().toISOString() }, base);
    return { updated: true, keyringRenewed: renewed };
  } finally {
    release();
  }
}
