/**
 * A root's pacman keyring (etc/pacman.d/gnupg): initialised with pacman-key and populated from the
 * distribution's keyring package — the host's (Debian and Ubuntu package Arch's as `archlinux-keyring`,
 * in /usr/share/keyrings) for a root made with pacman, the root's own for an extracted tarball — and from
 * the repository keys the workspace trusts, `keys/pacman/*.asc` (added and locally signed). The script
 * runs inside the root's sandbox (root-sandbox.ts); this module plans it and records what it imported,
 * hashed, so `root check` can tell a stale keyring (a source changed since) and `root update` can renew it.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { runCheckedSync } from '../process/run';
import type { KeyringSource } from './record';

/** where pacman-key looks for keyring packages' files: Debian's archlinux-keyring, then Arch's layout */
export const HOST_KEYRING_DIRS = ['/usr/share/keyrings', '/usr/share/pacman/keyrings'];
/** inside a root (Arch's layout) */
export const ROOT_KEYRING_DIR = 'usr/share/pacman/keyrings';

export function sha256Of(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** the workspace's trusted repository keys: keys/pacman/*.asc, sorted */
export function workspacePacmanKeys(workspaceRoot: string): string[] {
  const dir = join(workspaceRoot, 'keys', 'pacman');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.asc')).sort().map((f) => join(dir, f));
}

/** the primary key fingerprints in an armored key file (each is added and locally signed) */
export function keyFingerprints(file: string): string[] {
  // a throw-away home: listing a key file must not create or read anyone's keyring
  const home = mkdtempSync(join(tmpdir(), 'pkgnx-gpg-'));
  let out: string;
  try {
    out = runCheckedSync('gpg', ['--batch', '--quiet', '--homedir', home, '--with-colons', '--show-keys', file]).stdout;
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
  const fprs: string[] = [];
  let wantFpr = false;
  for (const line of out.split('\n')) {
    const f = line.split(':');
    if (f[0] === 'pub') wantFpr = true;
    else if (f[0] === 'fpr' && wantFpr) {
      fprs.push(f[9]);
      wantFpr = false;
    }
  }
  if (fprs.length === 0) throw new Error(`${file}: no OpenPGP public key in it`);
  return fprs;
}

/** the host keyring file of a distribution keyring name, or undefined */
export function hostKeyringFile(name: string): string | undefined {
  return HOST_KEYRING_DIRS.map((d) => join(d, `${name}.gpg`)).find((f) => existsSync(f));
}

/** the keyring names a root ships (its keyring packages' files) */
export function rootKeyringNames(root: string): string[] {
  const dir = join(root, ROOT_KEYRING_DIR);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.gpg')).map((f) => basename(f, '.gpg')).sort();
}

export interface KeyringPlan {
  /** keyring names pacman-key --populate imports */
  keyrings: string[];
  /** key files from keys/pacman/ with their fingerprints */
  keys: { file: string; fingerprints: string[] }[];
  /** what is recorded in .pkgnx-root.json */
  sources: KeyringSource[];
}

/**
 * What the keyring of a root is made from. `from: 'host'`: the host's keyring packages (the names given,
 * each must exist); `from: 'root'`: every keyring the root itself ships. Plus keys/pacman/. An empty
 * result is an error naming both ways to get keys: pacman with SigLevel Required would refuse everything.
 */
export function planKeyring(workspaceRoot: string, from: { kind: 'host'; names: string[] } | { kind: 'root'; root: string }): KeyringPlan {
  const sources: KeyringSource[] = [];
  let keyrings: string[];
  if (from.kind === 'host') {
    keyrings = from.names;
    for (const name of keyrings) {
      const file = hostKeyringFile(name);
      if (!file)
        throw new Error(
          `keyring "${name}": no ${name}.gpg in ${HOST_KEYRING_DIRS.join(' or ')} (Debian/Ubuntu: apt-get install archlinux-keyring; ` +
            `or put the repository's signing key into keys/pacman/ and pass --keyring none)`,
        );
      sources.push({ kind: 'distribution', name, file, sha256: sha256Of(file) });
    }
  } else {
    keyrings = rootKeyringNames(from.root);
    for (const name of keyrings) {
      const rel = join(ROOT_KEYRING_DIR, `${name}.gpg`);
      sources.push({ kind: 'root', name, file: rel, sha256: sha256Of(join(from.root, rel)) });
    }
  }
  const keys = workspacePacmanKeys(workspaceRoot).map((file) => ({ file, fingerprints: keyFingerprints(file) }));
  for (const k of keys) sources.push({ kind: 'key', name: `keys/pacman/${basename(k.file)}`, file: k.file, sha256: sha256Of(k.file) });
  if (sources.length === 0)
    throw new Error(
      'no keys for the root\'s pacman keyring: install the distribution keyring (Debian/Ubuntu: apt-get install archlinux-keyring, then --keyring archlinux) ' +
        'or put the repository signing keys (*.asc) into keys/pacman/',
    );
  return { keyrings, keys, sources };
}

/** the keyring sources that changed (or appeared) since `recorded`: not empty = a stale keyring */
export function staleKeyringSources(workspaceRoot: string, root: string, recorded: KeyringSource[]): string[] {
  const stale: string[] = [];
  for (const s of recorded) {
    const file = s.kind === 'root' ? join(root, s.file) : s.file;
    if (!existsSync(file)) stale.push(`${s.name}: ${file} is gone`);
    else if (sha256Of(file) !== s.sha256) stale.push(`${s.name}: ${file} changed since the keyring was populated`);
  }
  const known = new Set(recorded.filter((s) => s.kind === 'key').map((s) => s.file));
  for (const f of workspacePacmanKeys(workspaceRoot)) if (!known.has(f)) stale.push(`keys/pacman/${basename(f)}: new since the keyring was populated`);
  if (recorded.some((s) => s.kind === 'root')) {
    const names = new Set(recorded.filter((s) => s.kind === 'root').map((s) => s.name));
    for (const n of rootKeyringNames(root)) if (!names.has(n)) stale.push(`${n}: a keyring the root ships that was never imported`);
  }
  return stale;
}

/**
 * The shell lines that make the keyring at `gpgdir` (inside the sandbox); the key files are bound at
 * `keysDir`. `--init` only when the keyring is new, so updating keeps the local master key.
 */
export function keyringScript(plan: KeyringPlan, gpgdir: string, keysDir: string): string {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const lines = [
    `pk() { pacman-key --gpgdir ${q(gpgdir)} "$@"; }`,
    `if [ ! -s ${q(gpgdir)}/pubring.gpg ] && [ ! -s ${q(gpgdir)}/pubring.kbx ]; then say "initialising the pacman keyring"; pk --init; fi`,
  ];
  if (plan.keyrings.length) lines.push(`say "populating the keyring from: ${plan.keyrings.join(' ')}"`, `pk --populate ${plan.keyrings.map(q).join(' ')}`);
  for (const k of plan.keys) {
    lines.push(`say "adding ${basename(k.file)} (${k.fingerprints.join(' ')})"`, `pk --add ${q(join(keysDir, basename(k.file)))}`);
    for (const f of k.fingerprints) lines.push(`pk --lsign-key ${q(f)} >/dev/null`);
  }
  return lines.join('\n');
}
