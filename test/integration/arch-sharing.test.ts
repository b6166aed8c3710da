/**
 * Architectures share work: a PKGBUILD whose metadata provably cannot depend on CARCH is sourced once for
 * every configured architecture; one whose top level reads CARCH, or that sources a helper file reading it,
 * is sourced per architecture and its metadata differs as it should. Through the real sandbox and driver.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readMetadata, readMetadataForArchitectures } from '../../tools/src/metadata';
import { createStats } from '../../tools/src/metadata/extract';
import { metadataForArch } from '../../tools/src/srcinfo';
import { hasCommand, tempDir } from '../helpers/env';

const skip = hasCommand('bwrap') ? false : 'bwrap not installed';
/** the sandbox's own scan decides (the static reader would read plain and arch-arrays without it) */
const SANDBOX_ONLY = { staticReading: false };

const PKGBUILDS: Record<string, Record<string, string>> = {
  'carch-top': {
    PKGBUILD: 'pkgname=carch-top\npkgver=1\npkgrel=1\narch=(x86_64 aarch64)\nif [[ $CARCH == aarch64 ]]; then depends=(arm-thing); else depends=(x86-thing); fi\npackage() { :; }\n',
  },
  'arch-arrays': {
    PKGBUILD: 'pkgname=arch-arrays\npkgver=1\npkgrel=1\narch=(x86_64 aarch64)\ndepends=(common)\ndepends_x86_64=(x86-only)\ndepends_aarch64=(arm-only)\npackage() { depends+=("extra=$pkgver"); }\n',
  },
  'helper-source': {
    PKGBUILD: 'source ./helper.sh\npkgname=helper-source\npkgver=1\npkgrel=1\narch=(x86_64 aarch64)\npackage() { :; }\n',
    'helper.sh': 'depends=("lib-$CARCH")\n',
  },
  plain: {
    PKGBUILD: 'pkgname=plain\npkgver=2.0\npkgrel=1\narch=(any)\nsource=("https://example.org/$pkgname-$pkgver.tar.gz")\nsha256sums=(SKIP)\nbuild() { ./configure --host=$CHOST; }\npackage() { :; }\n',
  },
};

/** a copy of a workspace's pkgbuilds/ (no cache) */
function tempCopy(ws: string): string {
  const copy = tempDir('pkgnx-archshare-copy-');
  cpSync(join(ws, 'pkgbuilds'), join(copy, 'pkgbuilds'), { recursive: true });
  return copy;
}

/** a workspace holding PKGBUILDS (removed when the test process exits), and its package directories */
function workspaceWithPackages(prefix: string): { ws: string; dirs: string[] } {
  const ws = tempDir(prefix);
  const dirs = Object.entries(PKGBUILDS).map(([name, files]) => {
    const dir = join('pkgbuilds', name);
    mkdirSync(join(ws, dir), { recursive: true });
    for (const [f, text] of Object.entries(files)) writeFileSync(join(ws, dir, f), text);
    return dir;
  });
  return { ws, dirs };
}

test('one sourcing for PKGBUILDs that cannot depend on CARCH; per architecture, and different, for the others', { skip, timeout: 120_000 }, async () => {
  const { ws, dirs } = workspaceWithPackages('pkgnx-archshare-');
  const stats = createStats();
  const settings = { source: 'pkgbuild' as const, timeoutSeconds: 10 };
  const got = await readMetadataForArchitectures(ws, dirs, ['x86_64', 'aarch64'], settings, { stats, ...SANDBOX_ONLY });
  // 4 for x86_64, then only the two that read CARCH again for aarch64
  assert.equal(stats.sourced, 6, 'sourced: 4 + 2');
  const depends = (arch: string, name: string): string[] => {
    const r = got.get(arch)!.get(join('pkgbuilds', name))!;
    assert.ok('srcinfo' in r, JSON.stringify(r));
    const m = metadataForArch(r.srcinfo, arch);
    return [...new Set([...m.depends, ...m.packages.flatMap((p) => p.depends)])];
  };
  assert.deepEqual(depends('x86_64', 'carch-top'), ['x86-thing']);
  assert.deepEqual(depends('aarch64', 'carch-top'), ['arm-thing']);
  assert.deepEqual(depends('x86_64', 'helper-source'), ['lib-x86_64']);
  assert.deepEqual(depends('aarch64', 'helper-source'), ['lib-aarch64']);
  // shared, and still each architecture's own arrays
  assert.deepEqual([...new Set(depends('x86_64', 'arch-arrays'))].sort(), ['common', 'extra=1', 'x86-only']);
  assert.deepEqual([...new Set(depends('aarch64', 'arch-arrays'))].sort(), ['arm-only', 'common', 'extra=1']);
  assert.ok(depends('aarch64', 'arch-arrays').includes('arm-only') && !depends('aarch64', 'arch-arrays').includes('x86-only'));
  assert.ok(depends('x86_64', 'arch-arrays').includes('x86-only') && !depends('x86_64', 'arch-arrays').includes('arm-only'));
  // a warm second run reads everything from the cache
  const again = createStats();
  await readMetadataForArchitectures(ws, dirs, ['x86_64', 'aarch64'], settings, { stats: again, ...SANDBOX_ONLY });
  assert.equal(again.sourced, 0);
  // the .SRCINFO sync (one architecture, no scan) reads the graph's results: nothing is sourced again
  const sync = createStats();
  await readMetadata(ws, dirs, 'x86_64', settings, { stats: sync, ...SANDBOX_ONLY });
  assert.deepEqual([sync.sourced, sync.cacheHits], [0, 4], 'the sync reads the entries the graph wrote');
  // the other way round: results read without the scan are sourced again when the graph needs the scan
  const fresh = join(ws, 'pkgbuilds', 'plain', 'PKGBUILD');
  writeFileSync(fresh, `${PKGBUILDS.plain.PKGBUILD}# edited\n`);
  await readMetadata(ws, dirs, 'x86_64', settings, SANDBOX_ONLY);
  const rescan = createStats();
  const shared = await readMetadataForArchitectures(ws, dirs, ['x86_64', 'aarch64'], settings, { stats: rescan, ...SANDBOX_ONLY });
  assert.equal(rescan.sourced, 1, 'only the edited PKGBUILD, once, with the scan');
  const plain = shared.get('x86_64')!.get(join('pkgbuilds', 'plain'))!;
  assert.ok('srcinfo' in plain && plain.archIndependent === true, JSON.stringify(plain));
});

test('a directory whose Nx content hash is unchanged is read once for both architectures, and not again by later runs', { skip, timeout: 120_000 }, async () => {
  const { ws, dirs } = workspaceWithPackages('pkgnx-digests-');
  const settings = { source: 'pkgbuild' as const, timeoutSeconds: 10 };
  const contentHashes = new Map(dirs.map((d) => [join(ws, d), `nx-hash-of-${d}`]));
  const run = async (): Promise<ReturnType<typeof createStats>> => {
    const stats = createStats();
    await readMetadataForArchitectures(ws, dirs, ['x86_64', 'aarch64'], settings, { stats, contentHashes, pruneCache: true, ...SANDBOX_ONLY });
    return stats;
  };
  const first = await run();
  // two of the four are sourced for aarch64 too, from the digests read for x86_64
  assert.deepEqual([first.read, first.sourced], [4, 6]);
  const digestsFile = join(ws, '.nx/workspace-data/pkgnx/metadata/directory-digests.json');
  const onDisk = (): string[] => Object.keys((JSON.parse(readFileSync(digestsFile, 'utf8')) as { entries: Record<string, unknown> }).entries).sort();
  assert.deepEqual(onDisk(), dirs.map((d) => join(ws, d)).sort());
  const warm = await run();
  assert.deepEqual([warm.read, warm.sourced], [0, 0]);
  // an edit Nx sees (a new content hash): that directory alone is read and sourced again
  writeFileSync(join(ws, 'pkgbuilds/plain/PKGBUILD'), PKGBUILDS.plain.PKGBUILD.replace('pkgrel=1', 'pkgrel=2'));
  contentHashes.set(join(ws, 'pkgbuilds/plain'), 'nx-hash-after-the-edit');
  const edited = await run();
  assert.deepEqual([edited.read, edited.sourced], [1, 1]);
  // a directory gone from the workspace leaves the digests
  contentHashes.delete(join(ws, 'pkgbuilds/plain'));
  await readMetadataForArchitectures(ws, dirs.filter((d) => !d.endsWith('plain')), ['x86_64', 'aarch64'], settings, { contentHashes, pruneCache: true, ...SANDBOX_ONLY });
  assert.deepEqual(onDisk(), dirs.filter((d) => !d.endsWith('plain')).map((d) => join(ws, d)).sort());
});

test('with the static reader: what it reads (plain assignments, package-function overrides) is read once without bash for every architecture; the rest is sourced as before', { skip, timeout: 120_000 }, async () => {
  const { ws, dirs } = workspaceWithPackages('pkgnx-archshare-static-');
  const stats = createStats();
  const settings = { source: 'pkgbuild' as const, timeoutSeconds: 10 };
  const got = await readMetadataForArchitectures(ws, dirs, ['x86_64', 'aarch64'], settings, { stats });
  // plain and arch-arrays read without bash, once; carch-top and helper-source sourced for each architecture
  assert.deepEqual([stats.evaluated, stats.sourced], [2, 4]);
  const sandboxed = await readMetadataForArchitectures(tempCopy(ws), dirs, ['x86_64', 'aarch64'], settings, SANDBOX_ONLY);
  for (const arch of ['x86_64', 'aarch64'])
    for (const d of dirs) {
      const a = got.get(arch)!.get(d)!;
      const b = sandboxed.get(arch)!.get(d)!;
      assert.ok('srcinfo' in a && 'srcinfo' in b, `${d}: ${JSON.stringify([a, b])}`);
      assert.deepEqual(metadataForArch(a.srcinfo, arch), metadataForArch(b.srcinfo, arch), `${arch} ${d}`);
    }
});
