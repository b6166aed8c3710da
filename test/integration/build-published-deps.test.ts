/**
 * Builds installing a dependency that only a published repository has (build option `publishedRepos`):
 * real rootfs builds through Nx, the dependency published with `pkgnx publish` into a local directory
 * (read through file://, bound into the sandbox) and into a real S3 server (versitygw, read over HTTP).
 * Each time the dependency is published again under the same file name with other bytes, and the next build
 * must install the new bytes, not the stale copy in the pacman cache.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createWorkspace, type Workspace } from '../helpers/build-workspace';
import { hasCommand } from '../helpers/env';
import { makepkg, scriptPackages } from '../helpers/makepkg-build';
import { publishTestPrerequisites, runPkgnx, succeeded } from '../helpers/pkgnx-cli';
import { ensureRootfs, rootfsPath } from '../helpers/rootfs';
import { startVersitygw, type S3TestServer } from '../helpers/s3-server';

const rootfs = ensureRootfs('x86_64');
const skip = publishTestPrerequisites({ versitygw: true, tools: ['bwrap', 'repo-add', 'unshare'] }) ?? rootfs.skipReason ?? (process.getuid?.() === 0 ? undefined : 'needs root');

/** libpub 1.0-1, always the same file name; `which` tells the builds apart */
const libpub = (which: string): string => scriptPackages({ pkgbase: 'libpub', packages: { libpub: `mkdir -p "$pkgdir/usr/share/libpub"; echo ${which} > "$pkgdir/usr/share/libpub/which"` } });
/** records which libpub its build saw; `round` changes its sources, so each round builds again */
const app = (round: number): string => `pkgname=app
pkgver=1.0
pkgrel=1
arch=(any)
license=(0BSD)
depends=(libpub)
# round ${round}
build() {
  cat /usr/share/libpub/which > which
}
package() {
  install -Dm644 which "$pkgdir/usr/share/app/which"
}
`;

let ws: Workspace;
let server: S3TestServer;

before(async () => {
  if (skip) return;
  ws = createWorkspace({ x86_64: rootfs.root as string }, { app: { PKGBUILD: app(1) } }, {
    backend: 'rootfs',
    rootfs: rootfsPath('{arch}'),
    // a cache of its own: the test checks what is in it
    pacmanCacheDir: '.pkgnx/pacman-cache/{arch}',
    publishedRepos: ['forge-testing', 'never-published'],
  });
  server = await startVersitygw();
  await server.createBucket('repo', { publicRead: true });
});

after(async () => {
  await server?.stop();
  if (ws) rmSync(ws.dir, { recursive: true, force: true });
});

function configure(publish: Record<string, unknown>): void {
  writeFileSync(join(ws.dir, 'pkgnx.config.json'), JSON.stringify({ publish: { defaultRepo: 'forge-testing', gracePeriodSeconds: 0, ...publish } }, null, 2));
}

async function publishLibpub(which: string): Promise<void> {
  mkdirSync(join(ws.dir, 'published'), { recursive: true }); // a local destination must exist
  const [file] = await makepkg(libpub(which));
  succeeded(await runPkgnx(['publish', '--arch', 'x86_64', '--file', file, '--repo', 'forge-testing'], { cwd: ws.dir, env: server.env }));
}

/** build app (round `round`); returns what it saw and its build log */
function buildApp(round: number): { which: string; log: string } {
  writeFileSync(join(ws.dir, 'pkgbuilds/app/PKGBUILD'), app(round));
  const r = ws.nx(['run', 'app:build', '--outputStyle=static']);
  assert.equal(r.status, 0, r.output.slice(-5000));
  const dist = join(ws.dir, 'dist/x86_64/app');
  const pkg = readdirSync(dist).find((f) => f.endsWith('.pkg.tar.zst')) as string;
  return { which: execFileSync('bsdtar', ['-xOf', join(dist, pkg), 'usr/share/app/which'], { encoding: 'utf8' }).trim(), log: readFileSync(join(dist, 'build.log'), 'utf8') };
}

const CACHED = 'libpub-1.0-1-any.pkg.tar.zst';

test('a local-directory repository (file://): the build installs the dependency from it; republished bytes evict the cached copy', { skip, timeout: 900_000 }, async () => {
  configure({ destination: 'published' });
  await publishLibpub('first');
  const first = buildApp(1);
  assert.equal(first.which, 'first');
  assert.match(first.log, /libpub: from forge-testing\/libpub/);
  assert.match(first.log, /published repository never-published: no database at .*never-published\.db \(nothing published yet\): not used/);
  assert.match(first.log, new RegExp(`repositories before chroot-config's: pkgnx-workspace \\(file://${ws.dir}/dist/x86_64/repo\\), forge-testing \\(file://${ws.dir}/published/forge-testing/os/x86_64\\)`));
  assert.ok(readdirSync(join(ws.dir, '.pkgnx/pacman-cache/x86_64')).includes(CACHED));

  // the same file name with other bytes (published again after the old file was pruned)
  rmSync(join(ws.dir, 'published'), { recursive: true });
  await publishLibpub('second');
  const second = buildApp(2);
  assert.match(second.log, new RegExp(`removed cached copies that differ from their repository's: ${CACHED.replace(/[.+]/g, '\\$&')}`));
  assert.equal(second.which, 'second');
});

test('an S3 repository read over HTTP (versitygw), ordered before the workspace repository: the same, and the stale cached copy is evicted', { skip, timeout: 900_000 }, async () => {
  configure({ destination: 's3://repo/arch', s3: { endpoint: server.endpoint, forcePathStyle: true, region: 'us-east-1' } });
  const nxJson = join(ws.dir, 'nx.json');
  const conf = JSON.parse(readFileSync(nxJson, 'utf8')) as { targetDefaults: { build: { options: Record<string, unknown> } } };
  conf.targetDefaults.build.options.publishedReposFirst = true;
  writeFileSync(nxJson, JSON.stringify(conf, null, 2));
  await publishLibpub('third');
  const third = buildApp(3);
  assert.match(third.log, new RegExp(`repositories before chroot-config's: forge-testing \\(${server.endpoint.replace(/[.]/g, '\\.')}/repo/arch/forge-testing/os/x86_64\\), pkgnx-workspace`));
  assert.match(third.log, /published repository never-published: .*HTTP 40[34].*not used/);
  assert.match(third.log, new RegExp(`removed cached copies that differ from their repository's: ${CACHED.replace(/[.+]/g, '\\$&')}`));
  assert.match(third.log, /libpub: from forge-testing\/libpub/);
  assert.equal(third.which, 'third');
});

test('an unreachable published repository fails the build with an error naming the option and the URL', { skip: skip ?? (hasCommand('bwrap') ? undefined : 'bwrap'), timeout: 300_000 }, () => {
  configure({ destination: 's3://repo/arch', publicUrl: 'http://127.0.0.1:9/repo/arch' });
  writeFileSync(join(ws.dir, 'pkgbuilds/app/PKGBUILD'), app(4));
  const r = ws.nx(['run', 'app:build', '--outputStyle=static']);
  assert.notEqual(r.status, 0);
  assert.match(r.output, /build option "publishedRepos": forge-testing \(.*pkgnx\.config\.json\): http:\/\/127\.0\.0\.1:9\/repo\/arch\/forge-testing\/os\/x86_64\/forge-testing\.db: request failed/);
});
