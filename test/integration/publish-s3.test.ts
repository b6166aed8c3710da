/**
 * End to end on a real S3 server (versitygw) with packages built by makepkg, through the pkgnx CLI:
 * publish --all with routing from the upstream databases, a real pacman (SigLevel = Required, a
 * throw-away keyring) syncing over HTTP and installing a program with its library, republishing
 * changing nothing, a pkgrel bump replacing the file with the old one kept for the grace period, and
 * promotion to stable (with a dry run first that changes nothing).
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';
import { S3Store } from '../../tools/src/publish';
import { makepkg, scriptPackages } from '../helpers/makepkg-build';
import { generateTestKey, pacmanClient, type PacmanClient, type TestKey } from '../helpers/pacman-client';
import { runPkgnx, type CliResult, publishTestPrerequisites, succeeded } from '../helpers/pkgnx-cli';
import { startVersitygw, type S3TestServer } from '../helpers/s3-server';
import { writeSyncDatabase } from '../helpers/syncdb-writer';

const skip = publishTestPrerequisites({ pacman: true, versitygw: true });
// long enough for the CLI calls and pacman runs made inside it on a loaded machine
const GRACE_SECONDS = 12;

let server: S3TestServer;
let key: TestKey;
let ws: string;
let env: Record<string, string>;
let store: S3Store;
const packages: Record<string, string[]> = {};
const cleanup: string[] = [];
const clients: PacmanClient[] = [];

before(async () => {
  if (skip) return;
  server = await startVersitygw();
  await server.createBucket('repo', { publicRead: true });
  key = generateTestKey();
  cleanup.push(key.gnupgHome);
  ws = mkdtempSync(join(tmpdir(), 'pkgnx-publish-ws-'));
  cleanup.push(ws);
  const [lib, cli, cli2, tool] = await Promise.all([
    makepkg(scriptPackages({ pkgbase: 'libdemo', packages: { libdemo: "provides=('libdemo.so=1-64')" } })),
    makepkg(scriptPackages({ pkgbase: 'demo-cli', packages: { 'demo-cli': "depends=('libdemo>=1.0')" } })),
    makepkg(scriptPackages({ pkgbase: 'demo-cli', pkgrel: 2, packages: { 'demo-cli': "depends=('libdemo>=1.0')" } })),
    makepkg(scriptPackages({ pkgbase: 'localtool', packages: { localtool: '' } })),
  ]);
  Object.assign(packages, { lib, cli, cli2, tool });
  // the workspace's build outputs, as `nx run-many -t build` leaves them
  for (const [project, files] of [['libdemo', lib], ['demo-cli', cli], ['localtool', tool]] as const) {
    mkdirSync(join(ws, 'dist/x86_64', project), { recursive: true });
    for (const f of files) copyFileSync(f, join(ws, 'dist/x86_64', project, basename(f)));
  }
  mkdirSync(join(ws, 'dist/x86_64/repo'), { recursive: true }); // the workspace repository is not a project
  // upstream: libdemo and demo-cli are Arch 'extra' packages, localtool is ours
  await writeSyncDatabase(join(ws, 'upstream/extra.db'), [{ name: 'libdemo', version: '1.0-1' }, { name: 'demo-cli', version: '1.0-1' }]);
  await writeSyncDatabase(join(ws, 'upstream/core.db'), [{ name: 'glibc', version: '2.40-1' }]);
  await writeSyncDatabase(join(ws, 'target/core.db'), []);
  writeFileSync(
    join(ws, 'pkgnx.config.json'),
    JSON.stringify(
      {
        upstream: {
          upstreamArch: 'x86_64',
          targetArch: 'x86_64',
          upstreamRepos: [{ name: 'core', path: 'upstream/core.db' }, { name: 'extra', path: 'upstream/extra.db' }],
          targetRepos: [{ name: 'core', path: 'target/core.db' }],
        },
        publish: {
          destination: 's3://repo/arch',
          s3: { endpoint: server.endpoint, forcePathStyle: true, region: 'us-east-1' },
          defaultRepo: 'forge',
          gracePeriodSeconds: GRACE_SECONDS,
          signing: { gnupgHome: key.gnupgHome, key: key.fingerprint },
          publicUrl: `${server.endpoint}/repo/arch`,
        },
      },
      null,
      2,
    ),
  );
  env = { ...server.env };
  store = new S3Store({ bucket: 'repo', prefix: 'arch', endpoint: server.endpoint, forcePathStyle: true, credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey } });
});

after(async () => {
  for (const c of clients) c.close();
  store?.close();
  await server?.stop();
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

const pkgnx = (...args: string[]): Promise<CliResult> => runPkgnx(args, { cwd: ws, env });
const ok = succeeded;
const server_ = (): string => `${server.endpoint}/repo/arch/$repo/os/$arch`;
const client = (repos: string[]): PacmanClient => {
  const c = pacmanClient(repos.map((name) => ({ name, server: server_() })), key);
  clients.push(c);
  return c;
};
/** every object of the bucket with its ETag */
async function snapshot(): Promise<Map<string, string>> {
  return new Map((await store.list('')).map((o) => [o.key, o.etag]));
}
const httpStatus = async (key: string): Promise<number> => (await fetch(`${server.endpoint}/repo/arch/${key.split('/').map(encodeURIComponent).join('/')}`)).status;

test('publish --all --dry-run lists what it would upload and write, and writes nothing', { skip }, async () => {
  const r = ok(await pkgnx('publish', '--arch', 'x86_64', '--all', '--dry-run'));
  for (const f of [...packages.lib, ...packages.cli].map((p) => basename(p))) {
    assert.ok(r.stderr.includes(`would upload s3://repo/arch/extra-testing/os/x86_64/${f}\n`), `${f}\n${r.stderr}`);
    assert.ok(r.stderr.includes(`would upload s3://repo/arch/extra-testing/os/x86_64/${f}.sig\n`));
  }
  assert.match(r.stderr, /would write s3:\/\/repo\/arch\/extra-testing\/os\/x86_64\/extra-testing\.files\.tar\.zst \(generation 1: \+2 entries, -0\)/);
  assert.match(r.stderr, /would write s3:\/\/repo\/arch\/forge\/os\/x86_64\/forge\.db\n/);
  assert.match(r.stdout, /^would publish to s3:\/\/repo\/arch/);
  assert.deepEqual([...(await snapshot()).keys()], [], 'the bucket is still empty');
});

test('publish --all: routed by upstream repository, signed, one database rewrite per repository; pacman (SigLevel = Required) installs the program with its library', { skip }, async () => {
  const r = ok(await pkgnx('publish', '--arch', 'x86_64', '--all', '--json'));
  const report = JSON.parse(r.stdout) as { repositories: { ref: { repo: string }; generation: number; added: string[]; routes: Record<string, string> }[] };
  const byRepo = Object.fromEntries(report.repositories.map((x) => [x.ref.repo, x]));
  assert.deepEqual(Object.keys(byRepo).sort(), ['extra-testing', 'forge']);
  assert.deepEqual(byRepo['extra-testing'].added.sort(), [...packages.cli, ...packages.lib].map((f) => basename(f)).sort());
  assert.equal(byRepo['extra-testing'].generation, 1, 'two packages, one database rewrite');
  assert.match(Object.values(byRepo['extra-testing'].routes)[0], /upstream extra -> extra-testing/);
  assert.deepEqual(byRepo.forge.added, packages.tool.map((f) => basename(f)));
  assert.match(Object.values(byRepo.forge.routes)[0], /default/);

  const keys = [...(await snapshot()).keys()];
  for (const k of ['extra-testing.db', 'extra-testing.db.sig', 'extra-testing.files', 'extra-testing.files.sig', 'extra-testing.db.tar.zst', 'extra-testing.db.tar.zst.sig', 'extra-testing.files.tar.zst', 'extra-testing.files.tar.zst.sig']) {
    assert.ok(keys.includes(`extra-testing/os/x86_64/${k}`), `${k} published`);
  }
  for (const f of packages.cli) {
    assert.ok(keys.includes(`extra-testing/os/x86_64/${basename(f)}`));
    assert.ok(keys.includes(`extra-testing/os/x86_64/${basename(f)}.sig`), 'package signature');
  }

  const c = client(['extra-testing', 'forge']);
  c.sync();
  assert.deepEqual(c.list('extra-testing').sort(), ['demo-cli 1.0-1', 'libdemo 1.0-1']);
  assert.deepEqual(c.list('forge'), ['localtool 1.0-1']);
  const info = c.run(['-Si', 'demo-cli']);
  assert.match(info.output, /Depends On\s+: libdemo>=1\.0/);
  assert.match(info.output, /Validated By\s+:.*Signature/);
  const install = c.run(['-S', 'demo-cli']);
  assert.equal(install.status, 0, install.output);
  assert.match(install.output, /installing libdemo/);
  assert.ok(existsSync(join(c.dir, 'root/usr/bin/demo-cli')));
  assert.ok(existsSync(join(c.dir, 'root/usr/share/libdemo/version')));
  const q = c.run(['-Q']);
  assert.match(q.output, /demo-cli 1\.0-1\nlibdemo 1\.0-1/);
});

test('republishing the same files changes nothing in the bucket', { skip }, async () => {
  const before = await snapshot();
  const r = ok(await pkgnx('publish', '--arch', 'x86_64', '--all'));
  assert.match(r.stdout, /unchanged \(generation 1\)/);
  assert.match(r.stdout, /= demo-cli-1\.0-1-any\.pkg\.tar\.zst {2}\(already published\)/);
  assert.deepEqual(await snapshot(), before);
});

test('a pkgrel bump replaces the file; the old one stays for the grace period, then a later publish deletes it', { skip }, async () => {
  const oldFile = basename(packages.cli[0]);
  rmSync(join(ws, 'dist/x86_64/demo-cli'), { recursive: true });
  mkdirSync(join(ws, 'dist/x86_64/demo-cli'));
  for (const f of packages.cli2) copyFileSync(f, join(ws, 'dist/x86_64/demo-cli', basename(f)));
  // a client that synced the previous database
  const stale = client(['extra-testing']);
  stale.sync();
  const r = ok(await pkgnx('publish', '--arch', 'x86_64', 'demo-cli'));
  assert.match(r.stdout, /\+ demo-cli-1\.0-2-any\.pkg\.tar\.zst/);
  assert.match(r.stdout, new RegExp(`- ${oldFile.replace(/[.+]/g, '\\$&')} {2}\\(no longer in the database; deleted after the grace period\\)`));
  assert.match(r.stdout, /database generation 2/);
  // the stale client still downloads the old version: no 404 inside the grace period
  const dl = stale.run(['-Sw', 'demo-cli']);
  assert.equal(dl.status, 0, dl.output);
  assert.ok(existsSync(join(stale.dir, 'cache', oldFile)));
  const fresh = client(['extra-testing']);
  fresh.sync();
  assert.deepEqual(fresh.list('extra-testing').sort(), ['demo-cli 1.0-2', 'libdemo 1.0-1']);
  const pending = await store.get('extra-testing/os/x86_64/.pkgnx/pending-deletions.json');
  assert.ok(pending?.body.toString().includes(oldFile), 'scheduled durably in the store');

  await new Promise((res) => setTimeout(res, GRACE_SECONDS * 1000 + 300));
  const again = ok(await pkgnx('publish', '--arch', 'x86_64', 'demo-cli'));
  assert.match(again.stdout, new RegExp(`deleted ${oldFile.replace(/[.+]/g, '\\$&')}`));
  assert.equal(await httpStatus(`extra-testing/os/x86_64/${oldFile}`), 404);
  assert.equal(await httpStatus(`extra-testing/os/x86_64/${oldFile}.sig`), 404);
  assert.equal(await httpStatus(`extra-testing/os/x86_64/${basename(packages.cli2[0])}`), 200);
  assert.ok(!(await store.get('extra-testing/os/x86_64/.pkgnx/pending-deletions.json'))?.body.toString().includes(oldFile));
});

test('promote --dry-run lists every object it would write and changes nothing; promote moves both pkgbases to stable', { skip }, async () => {
  const before = await snapshot();
  const dry = ok(await pkgnx('promote', '--arch', 'x86_64', '--from', 'extra-testing', 'demo-cli', 'libdemo', '--dry-run'));
  assert.deepEqual(await snapshot(), before, 'the dry run changed nothing');
  for (const f of [...packages.cli2, ...packages.lib].map((p) => basename(p))) {
    for (const name of [f, `${f}.sig`]) assert.ok(dry.stderr.includes(`would copy s3://repo/arch/extra-testing/os/x86_64/${name} -> s3://repo/arch/extra/os/x86_64/${name}`), `dry run lists the copy of ${name}\n${dry.stderr}`);
    assert.ok(dry.stderr.includes(`would schedule deletion of s3://repo/arch/extra-testing/os/x86_64/${f} (after the grace period)`), `dry run lists the deletion of ${f}`);
  }
  for (const db of ['extra.files.tar.zst', 'extra.db', 'extra.db.sig', 'extra.files', 'extra.db.tar.zst', 'extra-testing.files.tar.zst', 'extra-testing.db']) {
    assert.match(dry.stderr, new RegExp(`would write s3://repo/arch/extra(-testing)?/os/x86_64/${db.replace(/\./g, '\\.')}`));
  }
  assert.match(dry.stdout, /would promote extra-testing -> extra/);

  const r = ok(await pkgnx('promote', '--arch', 'x86_64', '--from', 'extra-testing', 'demo-cli', 'libdemo'));
  assert.match(r.stdout, /promoted extra-testing -> extra/);
  const c = client(['extra-testing', 'extra']);
  c.sync();
  assert.deepEqual(c.list('extra').sort(), ['demo-cli 1.0-2', 'libdemo 1.0-1']);
  assert.deepEqual(c.list('extra-testing'), []);
  const si = c.run(['-Si', 'demo-cli']);
  assert.match(si.output, /Repository\s+: extra\n/);
  const install = c.run(['-S', 'demo-cli']);
  assert.equal(install.status, 0, install.output);

  // the testing copies go after the grace period, with prune
  await new Promise((res) => setTimeout(res, GRACE_SECONDS * 1000 + 300));
  const pr = ok(await pkgnx('prune', '--arch', 'x86_64'));
  for (const f of [...packages.cli2, ...packages.lib].map((p) => basename(p))) {
    assert.ok(pr.stdout.includes(`extra-testing/os/x86_64: deleted ${f}`), pr.stdout);
    assert.equal(await httpStatus(`extra-testing/os/x86_64/${f}`), 404);
    assert.equal(await httpStatus(`extra/os/x86_64/${f}`), 200);
  }
});

test('pacman refuses the repository when the database signature is missing (the signature is really checked)', { skip }, async () => {
  const c = client(['forge']);
  c.sync();
  await store.delete('forge/os/x86_64/forge.db.sig');
  const r = c.run(['-Syy']);
  assert.notEqual(r.status, 0, r.output);
  assert.match(r.output, /forge\.db\.sig|signature/i);
});

test('every test left the pacman clients and build outputs alone', { skip }, () => {
  assert.deepEqual(readdirSync(join(ws, 'dist/x86_64')).sort(), ['demo-cli', 'libdemo', 'localtool', 'repo']);
});
