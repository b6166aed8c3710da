/**
 * The build executor with the host backend (plain makepkg as the build user, not clean) through the
 * real `nx run`, and the automatic backend choice falling back to it.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createWorkspace } from '../helpers/build-workspace';
import { hasCommand } from '../helpers/env';

function prerequisites(): string | undefined {
  for (const cmd of ['makepkg', 'pacman', 'repo-add', 'bsdtar', 'gcc', 'bwrap']) if (!hasCommand(cmd)) return `${cmd} is not installed`;
  if (!existsSync('/var/lib/pacman/local/ALPM_DB_VERSION')) return 'no local pacman database on this host';
  if (process.getuid?.() === 0 && spawnSync('id', ['builder']).status !== 0) return 'no "builder" user for makepkg';
  return undefined;
}

const HELLO = `pkgname=hello-host
pkgver=1.0
pkgrel=1
arch=(x86_64 aarch64)
license=(0BSD)
depends=(glibc)
makedepends=(gcc)
source=(hello.c)
sha256sums=(SKIP)
build() {
  gcc -shared -fPIC -Wl,-soname,libhello.so.4 -o libhello.so.4 hello.c
}
check() {
  test -f libhello.so.4
}
package() {
  install -Dm755 libhello.so.4 "$pkgdir/usr/lib/libhello.so.4"
}
`;

const workspaces: string[] = [];
after(() => {
  for (const d of workspaces) rmSync(d, { recursive: true, force: true });
});

test('host backend: builds with makepkg on the host, warns, writes outputs, abi.json and the repository', { skip: prerequisites() }, () => {
  const ws = createWorkspace({ x86_64: '/' }, { 'hello-host': { PKGBUILD: HELLO, 'hello.c': 'int hello(void) { return 1; }\n' } }, { backend: 'host', nocheck: true });
  workspaces.push(ws.dir);
  if (hasCommand('gpg')) {
    // a public key in keys/pgp/ is imported into the task's private GNUPGHOME
    const home = mkdtempSync(join(tmpdir(), 'pkgnx-gpg-'));
    workspaces.push(home);
    execFileSync('gpg', ['--batch', '--quiet', '--homedir', home, '--passphrase', '', '--quick-gen-key', 'pkgnx test <test@example.org>', 'ed25519', 'sign', 'never'], { stdio: 'ignore' });
    writeFileSync(join(ws.dir, 'keys/pgp/test.asc'), execFileSync('gpg', ['--homedir', home, '--armor', '--export', 'test@example.org']));
  }
  const r = ws.nx(['run', 'hello-host:build', '--outputStyle=static']);
  if (hasCommand('gpg')) assert.match(r.output, /imported 1 PGP key file\(s\)/);
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /WARNING: .*not clean/);
  assert.match(r.output, /makepkg gets --nodeps/);
  assert.match(r.output, /makepkg -f --noconfirm --nodeps --nocheck/);
  const out = join(ws.dir, 'dist/x86_64/hello-host');
  const files = readdirSync(out).sort();
  assert.deepEqual(files, ['abi.json', 'build.log', 'hello-host-1.0-1-x86_64.pkg.tar.zst']);
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'abi.json'), 'utf8')).sonames, ['libhello.so.4']);
  const db = execFileSync('bsdtar', ['-tf', join(ws.dir, 'dist/x86_64/repo/pkgnx-workspace.db')], { encoding: 'utf8' });
  assert.match(db, /hello-host-1\.0-1\//);
  assert.equal(readdirSync(join(ws.dir, 'logs/hello-host')).length, 1);
  assert.deepEqual(readdirSync(join(ws.dir, '.pkgnx/chroots/x86_64')), [], 'private build directory removed');

  const again = ws.nx(['run', 'hello-host:build', '--outputStyle=static']);
  assert.equal(again.status, 0, again.output);
  assert.match(again.output, /existing outputs match the cache|Nx read the output from the cache/);
});

test('auto backend without makechrootpkg and without a root filesystem falls back to host with a warning; logs rotate per package', { skip: prerequisites() ?? (hasCommand('makechrootpkg') ? 'makechrootpkg present: auto picks devtools' : undefined) }, () => {
  const ws = createWorkspace({ x86_64: '/' }, { 'hello-host': { PKGBUILD: HELLO, 'hello.c': 'int hello(void) { return 1; }\n' } }, { nocheck: true, keepLogs: 2 });
  workspaces.push(ws.dir);
  for (let i = 0; i < 3; i++) {
    const r = ws.nx(['run', 'hello-host:build', '--outputStyle=static', '--skip-nx-cache']);
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /backend host: no makechrootpkg and no root filesystem configured/);
    if (i < 2) spawnSync('sleep', ['1.1']); // log names have one-second resolution
  }
  assert.equal(readdirSync(join(ws.dir, 'logs/hello-host')).length, 2, 'keepLogs newest kept');
  const dry = ws.nx(['run', 'hello-host:build', '--outputStyle=static', '--skip-nx-cache', '--dryRun']);
  assert.match(dry.output, /dry run/);
});
