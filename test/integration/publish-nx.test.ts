/**
 * Publishing through Nx, end to end: the example packages built with the rootfs backend by
 * `nx affected -t publish` (a git repository with a base commit), uploaded to a real S3 server
 * (versitygw) with one database rewrite per repository for the whole run, installed by a real pacman
 * (throw-away root, SigLevel = Required, over HTTP); republishing changes nothing; a pkgrel bump replaces
 * the file and the old one is gone after the grace period; `pkgnx promote` moves hello-cli to stable.
 * Then a local-directory destination (the executor's `config` option): a database commit that fails
 * fails the nx run (exit 1, the error printed, the summary says what was not published), and the rerun
 * completes it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { S3Store } from '../../tools/src/publish';
import { WORKSPACE_ROOT, hasCommand } from '../helpers/env';
import { makeTempWorkspace, type TempWorkspace } from '../helpers/nx-workspace';
import { generateTestKey, pacmanClient, type PacmanClient, type TestKey } from '../helpers/pacman-client';
import { publishTestPrerequisites, runPkgnx, succeeded } from '../helpers/pkgnx-cli';
import { ensureRootfs } from '../helpers/rootfs';
import { startVersitygw, type S3TestServer } from '../helpers/s3-server';

const rootfs = ensureRootfs('x86_64');
const skip = publishTestPrerequisites({ pacman: true, versitygw: true }) ?? rootfs.skipReason ?? (hasCommand('bwrap') ? undefined : 'bwrap is not installed');
// long enough for an nx run and the checks after it on a loaded machine
const GRACE_SECONDS = 25;
const EXAMPLES = ['greet-utils', 'hello-cli', 'hello-fr', 'libhello', 'tap-fixtures', 'tap-runner'];

let server: S3TestServer;
let key: TestKey;
let ws: TempWorkspace;
let store: S3Store;
let base: string;
const clients: PacmanClient[] = [];

const git = (...args: string[]): string => {
  const r = spawnSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { cwd: ws.root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
};
const nx = (args: string[]): { status: number; out: string } => {
  const r = ws.nx([...args, '--outputStyle=static'], server.env);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
};
const client = (repos: string[]): PacmanClient => {
  const c = pacmanClient(repos.map((name) => ({ name, server: `${server.endpoint}/repo/arch/$repo/os/$arch` })), key);
  clients.push(c);
  return c;
};
async function snapshot(): Promise<Map<string, string>> {
  return new Map((await store.list('')).map((o) => [o.key, o.etag]));
}
const httpStatus = async (k: string): Promise<number> => (await fetch(`${server.endpoint}/repo/arch/${k}`)).status;
interface Summary {
  counts: { built: number; restored: number; failed: number };
  published?: { repo: string; generation: number; changed: boolean; added: { file: string; reason: string }[]; unchanged: string[]; scheduledForDeletion: string[]; deleted: string[]; projects: string[] }[];
  notPublished?: { project: string; reason: string }[];
}
const summary = (): Summary => JSON.parse(readFileSync(join(ws.root, 'dist/summary.json'), 'utf8')) as Summary;
const packagesOf = (project: string): string[] => readdirSync(join(ws.root, 'dist/x86_64', project)).filter((f) => f.endsWith('.pkg.tar.zst')).sort();

before(async () => {
  if (skip) return;
  server = await startVersitygw();
  await server.createBucket('repo', { publicRead: true });
  key = generateTestKey();
  ws = makeTempWorkspace({ prefix: 'pkgnx-publish-nx-' });
  mkdirSync(join(ws.root, '.pkgnx'), { recursive: true });
  // chroot-config/x86_64/rootfs points at .pkgnx/rootfs/x86_64, which setup.sh made
  symlinkSync(join(WORKSPACE_ROOT, '.pkgnx', 'rootfs'), join(ws.root, '.pkgnx', 'rootfs'));
  ws.write('.gitignore', 'node_modules\ndist\n.nx\nlogs\n.pkgnx\nlocal-repo\n');
  const publish = {
    destination: 's3://repo/arch',
    s3: { endpoint: server.endpoint, forcePathStyle: true, region: 'us-east-1' },
    defaultRepo: 'forge-testing',
    gracePeriodSeconds: GRACE_SECONDS,
    signing: { gnupgHome: key.gnupgHome, key: key.fingerprint },
    publicUrl: `${server.endpoint}/repo/arch`,
  };
  ws.write('pkgnx.config.json', `${JSON.stringify({ publish }, null, 2)}\n`);
  ws.write('local.config.json', `${JSON.stringify({ publish: { destination: 'local-repo', defaultRepo: 'forge-testing', gracePeriodSeconds: GRACE_SECONDS } }, null, 2)}\n`);
  git('add', '-A');
  git('commit', '-qm', 'publishing configured, no packages yet');
  base = git('rev-parse', 'HEAD');
  cpSync(join(WORKSPACE_ROOT, 'pkgbuilds'), join(ws.root, 'pkgbuilds'), { recursive: true });
  git('add', '-A');
  git('commit', '-qm', 'the example packages');
  store = new S3Store({ bucket: 'repo', prefix: 'arch', endpoint: server.endpoint, forcePathStyle: true, credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey } });
});

after(async () => {
  for (const c of clients) c.close();
  store?.close();
  await server?.stop();
  if (key) rmSync(key.gnupgHome, { recursive: true, force: true });
  if (ws) rmSync(ws.root, { recursive: true, force: true });
});

test('nx affected -t publish --dryRun: the builds run, nothing is uploaded or written', { skip, timeout: 1_200_000 }, async () => {
  const r = nx(['affected', '-t', 'publish', `--base=${base}`, '--head=HEAD', '--dryRun']);
  assert.equal(r.status, 0, r.out.slice(-6000));
  for (const p of EXAMPLES) assert.ok(packagesOf(p).length > 0, `${p} was built`);
  for (const f of packagesOf('hello-cli')) assert.ok(r.out.includes(`would upload s3://repo/arch/forge-testing/os/x86_64/${f}`), r.out.slice(-4000));
  assert.match(r.out, /would write s3:\/\/repo\/arch\/forge-testing\/os\/x86_64\/forge-testing\.files\.tar\.zst/);
  assert.deepEqual([...(await snapshot()).keys()], [], 'the bucket is still empty');
});

test('nx affected -t publish: every example in its repository with one database rewrite; pacman (SigLevel = Required) installs hello-cli with libhello', { skip, timeout: 1_200_000 }, async () => {
  const r = nx(['affected', '-t', 'publish', `--base=${base}`, '--head=HEAD']);
  assert.equal(r.status, 0, r.out.slice(-6000));
  // the builds are cache hits of the dry run's; publish is never cached
  for (const p of EXAMPLES) assert.match(r.out, new RegExp(`pkgnx publish \\(${p}\\): the database of each repository is written once after the run`));
  const s = summary();
  assert.equal(s.counts.restored, 6);
  const all = EXAMPLES.flatMap(packagesOf).sort();
  assert.equal(s.published?.length, 1);
  const repo = s.published![0];
  assert.equal(repo.repo, 'forge-testing');
  assert.equal(repo.generation, 1, 'six projects, seven packages, one database rewrite');
  assert.deepEqual(repo.added.map((a) => a.file).sort(), all);
  assert.deepEqual(repo.projects.sort(), EXAMPLES);
  assert.match(repo.added[0].reason, /not an upstream package: default/);
  assert.match(r.out, /published to s3:\/\/repo\/arch \(endpoint http:\/\/127\.0\.0\.1:\d+\):\n {2}forge-testing\/os\/x86_64 {2}generation 1 {2}http:\/\/127\.0\.0\.1:\d+\/repo\/arch\/forge-testing\/os\/x86_64\n {4}\+ /);
  assert.match(readFileSync(join(ws.root, 'dist/summary.txt'), 'utf8'), /published to s3:\/\/repo\/arch \(endpoint [^)]+\):\n {2}forge-testing\/os\/x86_64 {2}generation 1/);

  const c = client(['forge-testing']);
  c.sync();
  assert.deepEqual(c.list('forge-testing').sort(), ['greet-utils 2.1-1', 'greet-utils-doc 2.1-1', 'hello-cli 1.0.0-1', 'hello-fr 0.3-2', 'libhello 1.2.0-1', 'tap-fixtures 0.9.1-1', 'tap-runner 0.9.1-1'].sort());
  assert.match(c.run(['-Si', 'hello-cli']).output, /Validated By\s+:.*Signature/);
  const install = c.run(['-S', 'hello-cli']);
  assert.equal(install.status, 0, install.output);
  assert.match(install.output, /installing libhello/);
  assert.ok(existsSync(join(c.dir, 'root/usr/bin/hello')));
  assert.ok(existsSync(join(c.dir, 'root/usr/lib/libhello.so.1')));
});

test('publishing again changes nothing in the bucket', { skip, timeout: 600_000 }, async () => {
  const before = await snapshot();
  const r = nx(['affected', '-t', 'publish', `--base=${base}`, '--head=HEAD']);
  assert.equal(r.status, 0, r.out.slice(-6000));
  assert.match(r.out, /forge-testing\/os\/x86_64 {2}unchanged \(generation 1\)/);
  assert.equal(summary().published?.[0].unchanged.length, 7);
  assert.deepEqual(await snapshot(), before);
});

test('a pkgrel bump: nx affected publishes only hello-cli, the old file stays for the grace period and is gone after it', { skip, timeout: 1_200_000 }, async () => {
  const [oldFile] = packagesOf('hello-cli');
  const pkgbuild = join(ws.root, 'pkgbuilds/hello-cli/PKGBUILD');
  writeFileSync(pkgbuild, readFileSync(pkgbuild, 'utf8').replace(/^pkgrel=1$/m, 'pkgrel=2'));
  git('commit', '-qam', 'hello-cli 1.0.0-2');
  const stale = client(['forge-testing']);
  stale.sync();
  const r = nx(['affected', '-t', 'publish', '--base=HEAD~1', '--head=HEAD']);
  assert.equal(r.status, 0, r.out.slice(-6000));
  const repo = summary().published![0];
  assert.equal(repo.generation, 2);
  assert.deepEqual(repo.added.map((a) => a.file), ['hello-cli-1.0.0-2-x86_64.pkg.tar.zst']);
  assert.deepEqual(repo.scheduledForDeletion, [oldFile]);
  assert.ok(!repo.projects.includes('libhello'), `only what changed is published: ${repo.projects.join(', ')}`);
  // a client that synced before still downloads the version it was told about
  assert.equal(stale.run(['-Sw', 'hello-cli']).status, 0);
  assert.equal(await httpStatus(`forge-testing/os/x86_64/${oldFile}`), 200);

  await new Promise((res) => setTimeout(res, GRACE_SECONDS * 1000 + 500));
  const again = nx(['affected', '-t', 'publish', '--base=HEAD~1', '--head=HEAD']);
  assert.equal(again.status, 0, again.out.slice(-6000));
  assert.deepEqual(summary().published![0].deleted.sort(), [oldFile, `${oldFile}.sig`].sort());
  assert.match(again.out, new RegExp(`x ${oldFile.replace(/[.+]/g, '\\$&')} {2}\\(deleted: its grace period was over\\)`));
  assert.equal(await httpStatus(`forge-testing/os/x86_64/${oldFile}`), 404);
  assert.equal(await httpStatus(`forge-testing/os/x86_64/hello-cli-1.0.0-2-x86_64.pkg.tar.zst`), 200);
});

test('pkgnx promote hello-cli: pacman finds it in stable and no longer in testing', { skip, timeout: 300_000 }, async () => {
  succeeded(await runPkgnx(['promote', '--arch', 'x86_64', '--from', 'forge-testing', '--to', 'forge', 'hello-cli'], { cwd: ws.root, env: server.env }));
  const c = client(['forge-testing', 'forge']);
  c.sync();
  assert.deepEqual(c.list('forge'), ['hello-cli 1.0.0-2']);
  assert.ok(!c.list('forge-testing').some((l) => l.startsWith('hello-cli ')));
  assert.match(c.run(['-Si', 'hello-cli']).output, /Repository\s+: forge\n/);
  const install = c.run(['-S', 'hello-cli']);
  assert.equal(install.status, 0, install.output);
  assert.match(install.output, /installing libhello/);
});

test('local directory: a failing database commit fails the nx run and says what was not published; the rerun completes it', { skip, timeout: 600_000 }, () => {
  const dir = join(ws.root, 'local-repo/forge-testing/os/x86_64');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'forge-testing.files.tar.zst'), 'not a database');
  const r = nx(['run-many', '-t', 'publish', '-p', 'libhello,hello-cli', '--config=local.config.json']);
  assert.equal(r.status, 1, r.out.slice(-4000));
  assert.match(r.out, /pkgnx publish: the packages are uploaded but the database commit failed, so nothing of them is published: .*local-repo/);
  const s = summary();
  assert.deepEqual(s.notPublished?.map((n) => n.project).sort(), ['hello-cli', 'libhello']);
  assert.match(s.notPublished![0].reason, /the database commit into .*local-repo failed/);
  // uploaded, named by no database (prune deletes such files after the grace period unless a rerun names them)
  assert.ok(readdirSync(dir).includes('libhello-1.2.0-1-x86_64.pkg.tar.zst'));

  rmSync(join(dir, 'forge-testing.files.tar.zst'));
  const again = nx(['run-many', '-t', 'publish', '-p', 'libhello,hello-cli', '--config=local.config.json']);
  assert.equal(again.status, 0, again.out.slice(-4000));
  assert.equal(summary().published?.[0].generation, 1);
  const c = pacmanClient([{ name: 'forge-testing', server: `file://${join(ws.root, 'local-repo')}/$repo/os/$arch` }], undefined);
  clients.push(c);
  c.sync();
  assert.deepEqual(c.list('forge-testing').sort(), ['hello-cli 1.0.0-2', 'libhello 1.2.0-1']);
});
