/**
 * Build roots from a signed root tarball (what Arch Linux ARM publishes), end to end: the tarball is made
 * in the test (the real pacman installs the makepkg-built base set of test/helpers/arch-repo.ts into a
 * directory, bsdtar packs it), signed with a test GnuPG key and served over HTTP. `pkgnx root create
 * --tarball` verifies it with keys/roots/ before extracting anything; a tampered, unsigned, strangely
 * signed or escaping tarball is refused and nothing is extracted.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { baseSet, serve, tempDir } from '../helpers/arch-repo';
import { hasCommand } from '../helpers/env';
import { generateTestKey, type TestKey } from '../helpers/pacman-client';
import { publishTestPrerequisites, runPkgnx } from '../helpers/pkgnx-cli';

function prerequisites(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (extracting a root keeps its owners; the sandbox mounts)';
  for (const cmd of ['bwrap', 'unshare', 'setpriv', 'dpkg', 'ldd', 'gpgv', 'tar']) if (!hasCommand(cmd)) return `${cmd} is not installed`;
  return publishTestPrerequisites({ pacman: true });
}

const skip = prerequisites();

function sign(file: string, key: TestKey): void {
  rmSync(`${file}.sig`, { force: true });
  execFileSync('gpg', ['--batch', '--quiet', '--homedir', key.gnupgHome, '--local-user', key.fingerprint, '--detach-sign', '--no-armor', '-o', `${file}.sig`, file]);
}

describe('build roots from a signed root tarball', { skip }, () => {
  let work: string;
  let ws: string;
  let key: TestKey;
  let stranger: TestKey;
  let tree: string;
  let srv: string;
  let server: { url: string; close(): Promise<void> };
  const rootsDir = (): string[] => (existsSync(join(ws, '.pkgnx', 'rootfs')) ? readdirSync(join(ws, '.pkgnx', 'rootfs')).filter((f) => !f.endsWith('.pkgnx-lock')) : []);
  const create = (tarball: string, extra: string[] = []) => runPkgnx(['root', 'create', '--arch', 'x86_64', '--tarball', tarball, ...extra], { cwd: ws });

  before(async () => {
    work = tempDir('pkgnx-root-tarball-');
    key = generateTestKey('pkgnx root tarball test');
    stranger = generateTestKey('pkgnx root tarball stranger');
    const packages = await baseSet(work);
    // the root the tarball holds: the base set installed by pacman (a local database, as ALARM's has)
    tree = join(work, 'tree');
    mkdirSync(join(tree, 'var/lib/pacman'), { recursive: true });
    writeFileSync(join(work, 'pacman.conf'), '[options]\nArchitecture = x86_64\nSigLevel = Never\n');
    execFileSync('pacman', ['--config', join(work, 'pacman.conf'), '--root', tree, '--dbpath', join(tree, 'var/lib/pacman'), '--noconfirm', '--noscriptlet', '-U', ...packages], { stdio: 'ignore' });
    srv = join(work, 'srv');
    mkdirSync(srv);
    execFileSync('bsdtar', ['-czf', join(srv, 'root-x86_64-latest.tar.gz'), '-C', tree, '.']);
    sign(join(srv, 'root-x86_64-latest.tar.gz'), key);
    server = await serve(srv);
    ws = join(work, 'ws');
    mkdirSync(join(ws, 'keys', 'roots'), { recursive: true });
    mkdirSync(join(ws, 'keys', 'pacman'), { recursive: true });
    mkdirSync(join(ws, 'chroot-config', 'x86_64'), { recursive: true });
    copyFileSync(key.publicKeyFile, join(ws, 'keys', 'roots', 'root-signer.asc'));
    copyFileSync(key.publicKeyFile, join(ws, 'keys', 'pacman', 'repo-signer.asc'));
  });

  after(async () => {
    await server?.close();
    if (work && !process.env.PKGNX_KEEP_TEST_DIRS) rmSync(work, { recursive: true, force: true });
  });

  test('a tampered tarball (signature of the original) is refused before anything is extracted', async () => {
    const bad = join(work, 'tampered.tar.gz');
    copyFileSync(join(srv, 'root-x86_64-latest.tar.gz'), bad);
    copyFileSync(join(srv, 'root-x86_64-latest.tar.gz.sig'), `${bad}.sig`);
    appendFileSync(bad, Buffer.from('tampered'));
    const r = await create(bad);
    console.log(r.stderr.trim().split('\n').pop());
    assert.equal(r.status, 1);
    assert.match(r.stderr, /BAD signature .*tampered or corrupt\); nothing was extracted/);
    assert.deepEqual(rootsDir(), []);
  });

  test('an unsigned tarball, and one signed by a key not in keys/roots/, are refused; nothing is extracted', async () => {
    const unsigned = join(work, 'unsigned.tar.gz');
    copyFileSync(join(srv, 'root-x86_64-latest.tar.gz'), unsigned);
    const u = await create(unsigned);
    console.log(u.stderr.trim().split('\n').pop());
    assert.equal(u.status, 1);
    assert.match(u.stderr, /refusing to use an unsigned root tarball/);
    const foreign = join(work, 'foreign.tar.gz');
    copyFileSync(join(srv, 'root-x86_64-latest.tar.gz'), foreign);
    sign(foreign, stranger);
    const f = await create(foreign);
    console.log(f.stderr.trim().split('\n').pop());
    assert.equal(f.status, 1);
    assert.match(f.stderr, new RegExp(`signed by key \\S*${stranger.fingerprint.slice(-16)}, which is not in keys/roots/ \\(root-signer\\.asc\\); nothing was extracted`));
    assert.deepEqual(rootsDir(), []);
  });

  test('a well-signed tarball with an entry that leaves the root is refused; nothing is extracted', async () => {
    const evil = join(work, 'evil');
    mkdirSync(join(evil, 'usr'), { recursive: true });
    writeFileSync(join(evil, 'usr', 'ok'), 'ok\n');
    const tarball = join(work, 'evil.tar.gz');
    // GNU tar keeps a "../" it was told to write with -P
    execFileSync('tar', ['-czPf', tarball, '-C', evil, '--transform', 's,^\\./usr/ok$,../pkgnx-escaped,', '--no-recursion', './usr', './usr/ok']);
    sign(tarball, key);
    const r = await create(tarball);
    console.log(r.stderr.trim().split('\n').slice(-2).join('\n'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /would write outside the root; nothing was extracted:\n\s+\.\.\/pkgnx-escaped: a "\.\." component/);
    assert.deepEqual(rootsDir(), []);
    assert.equal(existsSync(join(ws, '.pkgnx', 'pkgnx-escaped')), false);
  });

  test('a signed tarball fetched over HTTP is verified, extracted and its keyring made; root check reports the pacman.conf without repositories, with the fix', async () => {
    const r = await create(`${server.url}/root-x86_64-latest.tar.gz`);
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    console.log(r.stderr.trim().split('\n').filter((l) => /good signature|extracted/.test(l)).join('\n'));
    assert.match(r.stderr, new RegExp(`good signature by ${key.fingerprint} \\(root-signer\\.asc\\)`));
    const root = join(ws, '.pkgnx', 'rootfs', 'x86_64');
    assert.ok(existsSync(join(root, 'usr/bin/pacman')));
    assert.ok(existsSync(join(root, 'etc/pacman.d/gnupg/pubring.gpg')) || existsSync(join(root, 'etc/pacman.d/gnupg/pubring.kbx')));
    const record = JSON.parse(readFileSync(join(root, '.pkgnx-root.json'), 'utf8')) as { source: { kind: string; signer: string; key: string } };
    assert.deepEqual([record.source.kind, record.source.signer, record.source.key], ['tarball', key.fingerprint, 'keys/roots/root-signer.asc']);
    const check = await runPkgnx(['root', 'check', '--arch', 'x86_64'], { cwd: ws });
    console.log(check.stdout.trim());
    assert.match(check.stdout, /from http:\/\/127\.0\.0\.1:\d+\/root-x86_64-latest\.tar\.gz, signed by/);
    assert.match(check.stdout, /PROBLEM: .*etc\/pacman\.conf names no repository[^\n]*\n\s+fix: add the distribution's repositories/);
    assert.equal(check.status, 1);
  });
});
