/**
 * A small Arch repository made on this machine, which cannot reach Arch mirrors: pacman packages built by
 * the real makepkg (as the build user) from this machine's own files — `filesystem` (the merged-/usr
 * layout, /etc/passwd), `base-tools` (group base-devel: bash, coreutils, pacman, makepkg, fakeroot, gpg
 * and the rest a rootfs build runs, with every shared library they load) and a tiny toolchain package
 * whose version the tests bump — signed with a test key (packages and database, repo-add -s), served over
 * HTTP as a mirror is.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { BUILD_USER, runAsBuildUser } from './env';
import type { TestKey } from './pacman-client';

/** Debian packages whose files make `base-tools` (what rootfs-setup.sh, makepkg and pacman run) */
const DEBIAN_PACKAGES = [
  'bash', 'dash', 'coreutils', 'sed', 'grep', 'mawk', 'findutils', 'gzip', 'zstd', 'xz-utils', 'bzip2', 'tar', 'diffutils',
  'libarchive-tools', 'file', 'libmagic-mgc', 'fakeroot', 'libfakeroot', 'pacman-package-manager', 'makepkg',
  'gpg', 'gpgv', 'gpgconf', 'gpg-agent', 'util-linux', 'libc-bin', 'gettext-base',
];
/** made by update-alternatives, listed by no package */
const EXTRA_PATHS = ['/usr/bin/awk', '/usr/bin/fakeroot', '/usr/bin/sh'];
const SKIP = /^\/usr\/share\/(doc|man|info|locale|lintian|bash-completion|zsh|fish)\//;

export const MAKEPKG_CONF = `CARCH="x86_64"
CHOST="x86_64-pc-linux-gnu"
BUILDENV=(!distcc !color !ccache !check !sign)
OPTIONS=(!strip !docs !libtool !staticlibs emptydirs !zipman !purge !debug !lto)
INTEGRITY_CHECK=(sha256)
PKGEXT='.pkg.tar.zst'
SRCEXT='.src.tar.gz'
COMPRESSZST=(zstd -c -T0 -3 -)
`;

/** a host path with its directories resolved (/bin/bash -> /usr/bin/bash on a merged-/usr host) */
function canonical(p: string): string {
  try {
    return join(realpathSync(dirname(p)), basename(p));
  } catch {
    return p;
  }
}

/** the files of the Debian packages plus every shared library their programs load, canonical paths */
function baseFiles(): string[] {
  const files = new Set<string>();
  const listed = execFileSync('dpkg', ['-L', ...DEBIAN_PACKAGES], { encoding: 'utf8' }).split('\n');
  for (const f of [...listed, ...EXTRA_PATHS]) {
    if (!f.startsWith('/') || SKIP.test(f)) continue;
    const st = lstatSync(f, { throwIfNoEntry: false });
    // directories, and links to them (/sbin on a merged-/usr host): the filesystem package's layout
    if (!st || st.isDirectory() || statSync(f, { throwIfNoEntry: false })?.isDirectory() !== false) continue;
    files.add(canonical(f));
  }
  // the dynamic loader and libraries, through ldd (on every ELF file, skipping scripts quickly)
  const elfs = [...files].filter((f) => {
    try {
      return readFileSync(f).subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
    } catch {
      return false;
    }
  });
  for (const f of elfs) {
    const r = spawnSync('ldd', [f], { encoding: 'utf8' });
    for (const m of (r.stdout ?? '').matchAll(/(\/[^\s)]+)/g)) if (existsSync(m[1])) files.add(canonical(m[1]));
  }
  return [...files].sort();
}

/** copies `files` into `dir` at their paths; symbolic links point straight at their final target */
function stage(files: string[], dir: string): void {
  const pending = [...files];
  const done = new Set<string>();
  while (pending.length) {
    const f = pending.pop()!;
    if (done.has(f)) continue;
    done.add(f);
    const to = join(dir, f);
    mkdirSync(dirname(to), { recursive: true });
    const st = lstatSync(f);
    if (st.isSymbolicLink()) {
      const target = realpathSync(f);
      // alternatives and the like: one absolute link to the real file, which comes along
      symlinkSync(target === f ? readlinkSync(f) : target, to);
      if (target !== f) pending.push(target);
    } else copyFileSync(f, to);
    if (!st.isSymbolicLink()) chmodSync(to, st.mode & 0o7777);
  }
}

function chownToBuilder(dir: string): void {
  execFileSync('chown', ['-R', `${BUILD_USER}:${BUILD_USER}`, dir]);
}

/** builds a PKGBUILD (with the test makepkg.conf) as the build user; returns the package files */
export async function makepkgIn(dir: string, pkgbuild: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'PKGBUILD'), pkgbuild);
  writeFileSync(join(dir, 'makepkg.conf'), MAKEPKG_CONF);
  const out = join(dir, 'out');
  mkdirSync(out, { recursive: true });
  chownToBuilder(dir);
  const r = await runAsBuildUser('makepkg', ['--config', join(dir, 'makepkg.conf'), '-f', '-d', '--noconfirm'], {
    cwd: dir,
    env: { PKGDEST: out, BUILDDIR: join(dir, 'build'), SRCDEST: join(dir, 'srcdest'), LOGDEST: dir, HOME: dir },
    timeoutMs: 600_000,
  });
  if (r.status !== 0) throw new Error(`makepkg in ${dir} failed (${r.status}): ${r.stdout}${r.stderr}`);
  return readdirSync(out).filter((f) => f.includes('.pkg.tar')).sort().map((f) => join(out, f));
}

/** `filesystem` and `base-tools` (group base-devel), made once per test process */
export async function baseSet(workDir: string): Promise<string[]> {
  const fsDir = join(workDir, 'filesystem');
  const filesystem = await makepkgIn(
    fsDir,
    `pkgname=filesystem
pkgver=1
pkgrel=1
pkgdesc='the merged-/usr layout and the base accounts (pkgnx test)'
arch=(x86_64)
license=(0BSD)
package() {
  cd "$pkgdir"
  mkdir -p usr/bin usr/lib usr/lib64 etc var/lib var/cache var/log tmp root home dev proc sys run build
  chmod 1777 tmp
  ln -s usr/bin bin; ln -s usr/bin sbin; ln -s usr/lib lib; ln -s usr/lib64 lib64; ln -s bin usr/sbin
  printf 'root:x:0:0:root:/root:/bin/bash\\n' > etc/passwd
  printf 'root:x:0:\\n' > etc/group
  printf 'passwd: files\\ngroup: files\\nshadow: files\\nhosts: files dns\\n' > etc/nsswitch.conf
}
`,
  );
  const stageDir = join(workDir, 'base-tools-files');
  rmSync(stageDir, { recursive: true, force: true });
  stage(baseFiles(), stageDir);
  // the layout belongs to filesystem (its links): base-tools ships only below usr/ and etc/
  for (const d of ['bin', 'sbin', 'lib', 'lib64']) rmSync(join(stageDir, d), { recursive: true, force: true });
  for (const alias of ['usr/sbin']) {
    if (existsSync(join(stageDir, alias))) {
      cpSync(join(stageDir, alias), join(stageDir, 'usr/bin'), { recursive: true, force: false, errorOnExist: false, verbatimSymlinks: true });
      rmSync(join(stageDir, alias), { recursive: true, force: true });
    }
  }
  chmodSync(workDir, 0o755);
  chownToBuilder(stageDir);
  const tools = await makepkgIn(
    join(workDir, 'base-tools'),
    `pkgname=base-tools
pkgver=1
pkgrel=1
pkgdesc='bash, coreutils, pacman, makepkg, fakeroot, gpg ... copied from the test machine (pkgnx test)'
arch=(x86_64)
license=(custom)
groups=(base-devel)
depends=(filesystem)
options=(!strip !debug)
package() {
  cp -a ${stageDir}/. "$pkgdir"/
}
`,
  );
  return [...filesystem, ...tools];
}

/** the toolchain package of the cache-input tests, at `version` */
export async function toolchainPackage(workDir: string, version: string): Promise<string[]> {
  return makepkgIn(
    join(workDir, `toolchain-${version}`),
    `pkgname=pkgnx-toolchain
pkgver=${version}
pkgrel=1
pkgdesc='a stand-in compiler whose version the tests bump'
arch=(x86_64)
license=(0BSD)
package() {
  install -Dm644 /dev/null "$pkgdir/usr/share/pkgnx-toolchain/${version}"
}
`,
  );
}

/** a pacman repository `<dir>/<name>/` holding `files`, each signed, and its database signed (repo-add -s) */
export function signedRepo(dir: string, name: string, files: string[], key: TestKey): string {
  const repo = join(dir, name);
  mkdirSync(repo, { recursive: true });
  for (const f of files) {
    const to = join(repo, basename(f));
    copyFileSync(f, to);
    rmSync(`${to}.sig`, { force: true });
    execFileSync('gpg', ['--batch', '--quiet', '--homedir', key.gnupgHome, '--local-user', key.fingerprint, '--detach-sign', '--no-armor', '-o', `${to}.sig`, to]);
  }
  execFileSync('repo-add', ['-q', '-s', '-k', key.fingerprint, join(repo, `${name}.db.tar.zst`), ...files.map((f) => join(repo, basename(f)))], {
    env: { ...process.env, GNUPGHOME: key.gnupgHome },
    stdio: 'ignore',
  });
  return repo;
}

/** serves `dir` over HTTP on 127.0.0.1 (the sandbox shares the host's network while pacman runs) */
export async function serve(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = join(dir, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    if (!path.startsWith(dir) || !existsSync(path) || lstatSync(realpathSync(path)).isDirectory()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(readFileSync(path));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(d, 0o755);
  return d;
}

export function chownTo(dir: string, uid: number): void {
  chownSync(dir, uid, uid);
}
