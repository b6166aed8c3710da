/**
 * A throw-away pacman client for publishing tests: its own root, database path, cache, GnuPG keyring
 * (pacman-key --init, the test key added and locally signed) and pacman.conf with `SigLevel = Required`,
 * reading repositories over HTTP (or file://). Runs as root (pacman -Sy needs it even with --dbpath).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestKey {
  gnupgHome: string;
  fingerprint: string;
  publicKeyFile: string;
}

const testKeyHomes: string[] = [];

/** the test keys' GnuPG homes and their gpg-agents go when the test file's process ends */
function removeTestKeyHomes(): void {
  for (const home of testKeyHomes) {
    spawnSync('gpgconf', ['--homedir', home, '--kill', 'gpg-agent'], { stdio: 'ignore' });
    rmSync(home, { recursive: true, force: true });
  }
}

/** An ed25519 signing key without passphrase in a fresh GnuPG home (removed when the process exits). */
export function generateTestKey(name = 'pkgnx publish test'): TestKey {
  const gnupgHome = mkdtempSync(join(tmpdir(), 'pkgnx-gpg-'));
  if (testKeyHomes.push(gnupgHome) === 1) process.once('exit', removeTestKeyHomes);
  const email = `${name.replace(/\W+/g, '.')}@example.org`;
  execFileSync('gpg', ['--batch', '--quiet', '--homedir', gnupgHome, '--passphrase', '', '--quick-gen-key', `${name} <${email}>`, 'ed25519', 'sign', 'never'], { stdio: 'ignore' });
  const colons = execFileSync('gpg', ['--homedir', gnupgHome, '--with-colons', '--list-secret-keys'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(colons)?.[1];
  if (!fingerprint) throw new Error(`no fingerprint in: ${colons}`);
  const publicKeyFile = join(gnupgHome, 'public.asc');
  writeFileSync(publicKeyFile, execFileSync('gpg', ['--homedir', gnupgHome, '--armor', '--export', fingerprint], { stdio: ['ignore', 'pipe', 'ignore'] }));
  return { gnupgHome, fingerprint, publicKeyFile };
}

export interface PacmanClient {
  dir: string;
  /** run pacman with this client's config; never throws */
  run(args: string[]): { status: number | null; output: string };
  /** `pacman -Sy`, asserting success */
  sync(): string;
  /** `pacman -Sl <repo>`: `name version` lines */
  list(repo: string): string[];
  close(): void;
}

export function pacmanClient(repos: { name: string; server: string }[], key: TestKey | undefined, arch = 'x86_64'): PacmanClient {
  const dir = mkdtempSync(join(tmpdir(), 'pkgnx-pacman-'));
  for (const d of ['root', 'db', 'cache', 'gnupg']) mkdirSync(join(dir, d), { recursive: true });
  const gpgdir = join(dir, 'gnupg');
  if (key) {
    const pk = (args: string[]): void => {
      const r = spawnSync('pacman-key', ['--gpgdir', gpgdir, ...args], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`pacman-key ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    };
    pk(['--init']);
    pk(['--add', key.publicKeyFile]);
    pk(['--lsign-key', key.fingerprint]);
  }
  const conf = [
    '[options]',
    `Architecture = ${arch}`,
    `SigLevel = ${key ? 'Required' : 'Never'}`,
    `GPGDir = ${gpgdir}`,
    'DisableDownloadTimeout',
    '',
    ...repos.flatMap((r) => [`[${r.name}]`, `Server = ${r.server}`, '']),
  ].join('\n');
  writeFileSync(join(dir, 'pacman.conf'), conf);
  const base = ['--config', join(dir, 'pacman.conf'), '--dbpath', join(dir, 'db'), '--cachedir', join(dir, 'cache'), '--root', join(dir, 'root'), '--gpgdir', gpgdir, '--noconfirm'];
  const run = (args: string[]): { status: number | null; output: string } => {
    const r = spawnSync('pacman', [...base, ...args], { encoding: 'utf8', timeout: 120_000 });
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
  };
  return {
    dir,
    run,
    sync() {
      const r = run(['-Syy']);
      if (r.status !== 0) throw new Error(`pacman -Syy failed: ${r.output}`);
      return r.output;
    },
    list(repo) {
      const r = run(['-Sl', repo]);
      if (r.status !== 0) throw new Error(`pacman -Sl ${repo} failed: ${r.output}`);
      return r.output.split('\n').filter((l) => l.startsWith(`${repo} `)).map((l) => l.split(' ').slice(1, 3).join(' '));
    },
    close() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
