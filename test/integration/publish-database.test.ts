/**
 * The in-process database writer against the real repo-add: packages built with makepkg (split
 * packages, every desc field, epoch and '+' in versions, a detached signature), added, replaced
 * (pkgrel bump) and removed by both; every desc and files entry must be the same text.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';
import { entryFromPackage, readDatabaseEntries, readPackageFile, rewriteDatabase, type PackageFile } from '../../tools/src/publish';
import { makepkg, scriptPackages } from '../helpers/makepkg-build';
import { publishTestPrerequisites } from '../helpers/pkgnx-cli';
import { generateTestKey, type TestKey } from '../helpers/pacman-client';

const skip = publishTestPrerequisites({ tools: ['repo-add', 'repo-remove'] });

const cleanup: string[] = [];
after(() => {
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

let work: string;
let key: TestKey;
let v1: string[] = [];
let v2: string[] = [];
let epochPkg: string[] = [];

const FULL = (pkgrel: number): string => `pkgbase=fid
pkgname=(fid-lib fid-cli)
pkgver=1.0
pkgrel=${pkgrel}
pkgdesc="A   description  with = signs   and  spaces"
arch=(any)
url="https://example.invalid/fid"
license=(0BSD 'custom:Some License')
groups=(fid-group other-group)
makedepends=(bash)
checkdepends=(coreutils)
options=(!strip !debug)
package_fid-lib() {
  provides=('fid-api=1.0' libfid.so)
  conflicts=(old-fid)
  replaces=(older-fid)
  backup=(etc/fid.conf)
  install -Dm644 /dev/null "$pkgdir/etc/fid.conf"
  mkdir -p "$pkgdir/usr/share/fid/dir with space"
  echo x > "$pkgdir/usr/share/fid/dir with space/file+plus"
}
package_fid-cli() {
  pkgdesc="the CLI"
  depends=('fid-lib>=1.0' 'bash')
  optdepends=('coreutils: for cat' 'grep')
  mkdir -p "$pkgdir/usr/bin"
  printf '#!/bin/sh\\necho fid\\n' > "$pkgdir/usr/bin/fid"
  chmod 755 "$pkgdir/usr/bin/fid"
}
`;

before(async () => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), 'pkgnx-dbfidelity-'));
  cleanup.push(work);
  key = generateTestKey();
  cleanup.push(key.gnupgHome);
  [v1, v2, epochPkg] = await Promise.all([
    makepkg(FULL(1)),
    makepkg(FULL(2)),
    makepkg(scriptPackages({ pkgbase: 'fid-epoch', pkgver: '1.0+git3', epoch: 2, packages: { 'fid-epoch': 'depends=(fid-lib)' } })),
  ]);
  // a detached signature beside one package, as makepkg --sign leaves it
  const lib = v1.find((f) => basename(f).startsWith('fid-lib-')) as string;
  execFileSync('gpg', ['--batch', '--homedir', key.gnupgHome, '--detach-sign', '--no-armor', lib]);
});

/** repo-add's repository in `dir` with these packages (copied there, with their signatures). */
function repoAdd(dir: string, files: string[], tool = 'repo-add', args: string[] = []): void {
  mkdirSync(dir, { recursive: true });
  const local = files.map((f) => {
    const dest = join(dir, basename(f));
    copyFileSync(f, dest);
    if (existsSync(`${f}.sig`)) copyFileSync(`${f}.sig`, `${dest}.sig`);
    return dest;
  });
  execFileSync(tool, ['-q', '--nocolor', join(dir, 'fid.db.tar.zst'), ...(tool === 'repo-add' ? local : args)], { stdio: 'pipe' });
}

async function entriesOf(pkgs: PackageFile[]) {
  return pkgs.map((p) => entryFromPackage(p, p.signature));
}

async function assertSameDatabases(ours: { dbFile: string; filesFile: string }, repoDir: string): Promise<void> {
  const [ourDb, ourFiles, theirDb, theirFiles] = await Promise.all([
    readDatabaseEntries(ours.dbFile),
    readDatabaseEntries(ours.filesFile),
    readDatabaseEntries(join(repoDir, 'fid.db.tar.zst')),
    readDatabaseEntries(join(repoDir, 'fid.files.tar.zst')),
  ]);
  assert.deepEqual([...ourDb.keys()].sort(), [...theirDb.keys()].sort(), 'same entries in the db');
  assert.deepEqual([...ourFiles.keys()].sort(), [...theirFiles.keys()].sort(), 'same entries in the files db');
  for (const [dir, t] of theirDb) {
    assert.equal(ourDb.get(dir)?.desc, t.desc, `${dir}/desc in the db`);
    assert.equal(ourDb.get(dir)?.files, undefined, `${dir}: no files entry in the db`);
  }
  for (const [dir, t] of theirFiles) {
    assert.equal(ourFiles.get(dir)?.desc, t.desc, `${dir}/desc in the files db`);
    assert.equal(ourFiles.get(dir)?.files, t.files, `${dir}/files in the files db`);
  }
}

test('a new database: every desc and files entry is what repo-add writes', { skip }, async () => {
  const pkgs = await Promise.all([...v1, ...epochPkg].map(readPackageFile));
  assert.ok(pkgs.some((p) => p.signature), 'one package has a detached signature');
  assert.match(pkgs.find((p) => p.info.pkgname === 'fid-epoch')?.filename ?? '', /^fid-epoch-2:1\.0\+git3-1-any\.pkg\.tar\.zst$/);
  const ra = join(work, 'new-repo-add');
  repoAdd(ra, [...v1, ...epochPkg]);
  const out = mkdtempSync(join(work, 'ours-'));
  const r = await rewriteDatabase(undefined, { add: await entriesOf(pkgs) }, out, 'test');
  assert.equal(r.changed, true);
  assert.equal(r.entries.length, 3);
  await assertSameDatabases(r, ra);
  // the desc has every field the PKGBUILD set and both checksums; the signed package its signature
  const cli = (await readDatabaseEntries(r.dbFile)).get('fid-cli-1.0-1')?.desc ?? '';
  for (const k of ['%FILENAME%', '%BASE%', '%DESC%\nthe CLI', '%GROUPS%', '%MD5SUM%', '%SHA256SUM%', '%URL%', '%LICENSE%\n0BSD\ncustom:Some License', '%OPTDEPENDS%', '%MAKEDEPENDS%', '%CHECKDEPENDS%']) assert.ok(cli.includes(k), `desc has ${k}`);
  assert.ok(!cli.includes('%PGPSIG%'));
  const lib = (await readDatabaseEntries(r.filesFile)).get('fid-lib-1.0-1');
  assert.match(lib?.desc ?? '', /%DESC%\nA description with = signs and spaces\n/);
  for (const k of ['%PGPSIG%', '%PROVIDES%\nfid-api=1.0\nlibfid.so\n', '%CONFLICTS%', '%REPLACES%']) assert.ok(lib?.desc?.includes(k), `desc has ${k}`);
  assert.match(lib?.files ?? '', /usr\/share\/fid\/dir with space\/file\+plus\n/);
  // pacman's own reader takes it: bsdtar lists the archive members repo-add's archives have
  const members = execFileSync('bsdtar', ['-tf', r.dbFile], { encoding: 'utf8' }).trim().split('\n').sort();
  assert.deepEqual(members, execFileSync('bsdtar', ['-tf', join(ra, 'fid.db.tar.zst')], { encoding: 'utf8' }).trim().split('\n').sort());
});

test('replacing (a pkgrel bump) and removing: the same result as repo-add and repo-remove on the same database', { skip }, async () => {
  const ra = join(work, 'update-repo-add');
  repoAdd(ra, [...v1, ...epochPkg]);
  const start = join(work, 'start.files.tar.zst');
  copyFileSync(join(ra, 'fid.files.tar.zst'), start);
  // repo-add replaces the pkgrel 1 entries with pkgrel 2
  repoAdd(ra, v2);
  const out = mkdtempSync(join(work, 'ours-'));
  const bumped = await Promise.all(v2.map(readPackageFile));
  const r = await rewriteDatabase(start, { add: await entriesOf(bumped) }, out, 'test');
  assert.equal(r.changed, true);
  assert.deepEqual(r.removed.map((x) => x.filename).sort(), v1.map((f) => basename(f)).sort(), 'the pkgrel 1 files are no longer named');
  assert.equal(r.kept, 1);
  await assertSameDatabases(r, ra);

  // repo-remove drops a package by name
  execFileSync('repo-remove', ['-q', '--nocolor', join(ra, 'fid.db.tar.zst'), 'fid-epoch'], { stdio: 'pipe' });
  const out2 = mkdtempSync(join(work, 'ours-'));
  const r2 = await rewriteDatabase(r.filesFile, { add: [], remove: ['fid-epoch'] }, out2, 'test');
  assert.deepEqual(r2.removed.map((x) => x.name), ['fid-epoch']);
  await assertSameDatabases(r2, ra);
});

test('adding what is already there, unchanged, is no change', { skip }, async () => {
  const pkgs = await Promise.all(v1.map(readPackageFile));
  const out = mkdtempSync(join(work, 'ours-'));
  const first = await rewriteDatabase(undefined, { add: await entriesOf(pkgs) }, out, 'test');
  const out2 = mkdtempSync(join(work, 'ours-'));
  const again = await rewriteDatabase(first.filesFile, { add: await entriesOf(pkgs) }, out2, 'test');
  assert.equal(again.changed, false);
  assert.deepEqual(again.removed, []);
  assert.equal(again.dropped.length, 2);
  // a different signature on the same file is a change, but the file stays named (nothing to delete)
  const resigned = pkgs.map((p) => entryFromPackage(p, Buffer.from('not the same signature')));
  const out3 = mkdtempSync(join(work, 'ours-'));
  const r3 = await rewriteDatabase(first.filesFile, { add: resigned }, out3, 'test');
  assert.equal(r3.changed, true);
  assert.deepEqual(r3.removed, []);
  assert.ok(readdirSync(out3).includes('db.tar.zst'));
});
