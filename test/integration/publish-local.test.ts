/**
 * The local-directory destination: the same contract as S3 (conditional writes under an flock, atomic
 * renames), read by a real pacman through file:// with SigLevel = Required; concurrent publisher
 * processes; a pkgrel bump, the grace period and prune; promotion; temporary files of dead writers swept.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';
import { LocalStore, isPrecondition } from '../../tools/src/publish';
import { makepkg, scriptPackages } from '../helpers/makepkg-build';
import { generateTestKey, pacmanClient, type PacmanClient, type TestKey } from '../helpers/pacman-client';
import { runPkgnx, type CliResult, publishTestPrerequisites, succeeded } from '../helpers/pkgnx-cli';

const skip = publishTestPrerequisites({ pacman: true, tools: ['flock'] });
const WRITERS = 8;
// long enough for the CLI calls made inside it on a loaded machine (a shorter one made the test flaky)
const GRACE_SECONDS = 12;

let key: TestKey;
let ws: string;
let dest: string;
const cleanup: string[] = [];
const clients: PacmanClient[] = [];

before(() => {
  if (skip) return;
  key = generateTestKey();
  cleanup.push(key.gnupgHome);
  ws = mkdtempSync(join(tmpdir(), 'pkgnx-local-ws-'));
  cleanup.push(ws);
  dest = join(ws, 'published');
  writeFileSync(
    join(ws, 'pkgnx.config.json'),
    JSON.stringify({ publish: { destination: 'published', defaultRepo: 'home', gracePeriodSeconds: GRACE_SECONDS, signing: { gnupgHome: key.gnupgHome } } }),
  );
});

after(() => {
  for (const c of clients) c.close();
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

const pkgnx = (...args: string[]): Promise<CliResult> => runPkgnx(args, { cwd: ws });
const ok = succeeded;
const client = (repos: string[]): PacmanClient => {
  const c = pacmanClient(repos.map((name) => ({ name, server: `file://${dest}/$repo/os/$arch` })), key);
  clients.push(c);
  return c;
};

test('"local" is pacman\'s own database, not a repository name', { skip }, async () => {
  const r = await pkgnx('publish', '--arch', 'x86_64', '--repo', 'local', '--all');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--repo: 'local' is the name of pacman's local database/);
});

test('a missing destination directory is an error naming it; then publish, and pacman installs through file://', { skip }, async () => {
  const [lib] = await makepkg(scriptPackages({ pkgbase: 'loclib', packages: { loclib: '' } }));
  const [cli] = await makepkg(scriptPackages({ pkgbase: 'loccli', packages: { loccli: 'depends=(loclib)' } }));
  const r = await pkgnx('publish', '--arch', 'x86_64', '--file', lib, '--file', cli);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`${dest}: destination directory does not exist`));
  assert.ok(!existsSync(dest));
  mkdirSync(dest);
  const pub = ok(await pkgnx('publish', '--arch', 'x86_64', '--file', lib, '--file', cli));
  assert.match(pub.stdout, /database generation 1/);
  for (const f of ['home.db', 'home.db.sig', 'home.files', 'home.db.tar.zst', 'home.files.tar.zst', basename(lib), `${basename(lib)}.sig`]) assert.ok(existsSync(join(dest, 'home/os/x86_64', f)), f);
  const c = client(['home']);
  c.sync();
  assert.deepEqual(c.list('home').sort(), ['loccli 1.0-1', 'loclib 1.0-1']);
  const install = c.run(['-S', 'loccli']);
  assert.equal(install.status, 0, install.output);
  assert.ok(existsSync(join(c.dir, 'root/usr/bin/loclib')));
});

test(`${WRITERS} concurrent publisher processes into one local repository: nothing lost`, { skip }, async () => {
  const names = Array.from({ length: WRITERS }, (_, i) => `lrace${i + 1}`);
  const files = await makepkg(scriptPackages({ pkgbase: 'lrace', packages: Object.fromEntries(names.map((n) => [n, ''])) }));
  const results = await Promise.all(files.map((f) => runPkgnx(['publish', '--arch', 'x86_64', '--repo', 'lrace', '--file', f], { cwd: ws })));
  results.forEach(ok);
  const c = client(['lrace']);
  c.sync();
  assert.deepEqual(c.list('lrace').sort(), names.map((n) => `${n} 1.0-1`).sort());
  // no temporary file left in the store's scratch directory
  assert.deepEqual(readdirSync(join(dest, '.pkgnx-store/tmp')), []);
});

test('a pkgrel bump keeps the old file for the grace period; prune deletes it after; a dead writer\'s temporary file is swept', { skip }, async () => {
  const [v1] = await makepkg(scriptPackages({ pkgbase: 'lbump', packages: { lbump: '' } }));
  const [v2] = await makepkg(scriptPackages({ pkgbase: 'lbump', pkgrel: 2, packages: { lbump: '' } }));
  ok(await pkgnx('publish', '--arch', 'x86_64', '--repo', 'lbump', '--file', v1));
  ok(await pkgnx('publish', '--arch', 'x86_64', '--repo', 'lbump', '--file', v2));
  const dir = join(dest, 'lbump/os/x86_64');
  assert.ok(existsSync(join(dir, basename(v1))), 'kept during the grace period');
  const early = ok(await pkgnx('prune', '--arch', 'x86_64', '--repo', 'lbump'));
  assert.match(early.stdout, new RegExp(`${basename(v1).replace(/[.+]/g, '\\$&')} is deleted after`));
  assert.ok(existsSync(join(dir, basename(v1))));
  // a writer killed between writing its temporary file and renaming it (pid 2^22+1 does not exist)
  const stale = join(dest, '.pkgnx-store/tmp/4194305-00000000-dead');
  writeFileSync(stale, 'half');
  await new Promise((r) => setTimeout(r, GRACE_SECONDS * 1000 + 200));
  const dry = ok(await pkgnx('prune', '--arch', 'x86_64', '--dry-run'));
  assert.match(dry.stdout, new RegExp(`lbump/os/x86_64: would delete ${basename(v1).replace(/[.+]/g, '\\$&')}`));
  assert.ok(existsSync(join(dir, basename(v1))), 'the dry run deleted nothing');
  const pr = ok(await pkgnx('prune', '--arch', 'x86_64'));
  assert.match(pr.stdout, new RegExp(`lbump/os/x86_64: deleted ${basename(v1).replace(/[.+]/g, '\\$&')}`));
  assert.ok(!existsSync(join(dir, basename(v1))));
  assert.ok(!existsSync(join(dir, `${basename(v1)}.sig`)));
  assert.ok(existsSync(join(dir, basename(v2))));
  assert.ok(!existsSync(stale), 'the dead writer\'s temporary file was swept');
});

test('promote between local repositories', { skip }, async () => {
  ok(await pkgnx('promote', '--arch', 'x86_64', '--from', 'home', '--to', 'home-stable', 'loccli'));
  const c = client(['home', 'home-stable']);
  c.sync();
  assert.deepEqual(c.list('home-stable'), ['loccli 1.0-1']);
  assert.deepEqual(c.list('home'), ['loclib 1.0-1']);
});

test('the local store\'s conditional writes: If-None-Match and If-Match against another writer', { skip }, async () => {
  const store = new LocalStore(dest);
  await store.check();
  const a = await store.put('t/x', Buffer.from('1'), { ifNoneMatch: '*', metadata: { g: '1' } });
  await assert.rejects(store.put('t/x', Buffer.from('2'), { ifNoneMatch: '*' }), (e) => isPrecondition(e));
  const b = await store.put('t/x', Buffer.from('3'), { ifMatch: a.etag, metadata: { g: '2' } });
  await assert.rejects(store.put('t/x', Buffer.from('4'), { ifMatch: a.etag }), (e) => isPrecondition(e));
  const got = await store.get('t/x');
  assert.equal(got?.body.toString(), '3');
  assert.equal(got?.info.etag, b.etag);
  assert.deepEqual(got?.info.metadata, { g: '2' });
  await assert.rejects(store.put('t/y', Buffer.from('1'), { ifMatch: b.etag }), (e) => isPrecondition(e), 'If-Match on a missing object fails');
  await store.delete('t/x');
  assert.equal(await store.head('t/x'), undefined);
});
