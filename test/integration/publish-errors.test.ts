/**
 * Bad input, through the CLI against real servers: each run fails with a message that names what is
 * wrong (bucket, endpoint, key, file, configuration key), with the right exit code, and leaves the
 * bucket exactly as it was (nothing half-published).
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';
import { S3Store } from '../../tools/src/publish';
import { makepkg, scriptPackages } from '../helpers/makepkg-build';
import { generateTestKey, type TestKey } from '../helpers/pacman-client';
import { runPkgnx, type CliResult, publishTestPrerequisites } from '../helpers/pkgnx-cli';
import { startS3rver, startVersitygw, type S3TestServer } from '../helpers/s3-server';

const skip = publishTestPrerequisites({ versitygw: true });

let server: S3TestServer;
let key: TestKey;
let ws: string;
let store: S3Store;
let good: string;
let rebuilt: string;
let foreign: string;
const cleanup: string[] = [];
const closers: (() => Promise<void> | void)[] = [];

function writeConfig(publish: Record<string, unknown>): void {
  writeFileSync(join(ws, 'pkgnx.config.json'), JSON.stringify({ publish }, null, 2));
}
const s3config = (extra: Record<string, unknown> = {}, s3: Record<string, unknown> = {}): Record<string, unknown> => ({
  destination: 's3://errs/pfx',
  s3: { endpoint: server.endpoint, forcePathStyle: true, connectTimeoutSeconds: 1, requestTimeoutSeconds: 2, maxAttempts: 1, ...s3 },
  defaultRepo: 'forge',
  signing: { gnupgHome: key.gnupgHome, key: key.fingerprint },
  ...extra,
});

before(async () => {
  if (skip) return;
  server = await startVersitygw();
  closers.push(() => server.stop());
  await server.createBucket('errs', { publicRead: true });
  key = generateTestKey();
  cleanup.push(key.gnupgHome);
  ws = mkdtempSync(join(tmpdir(), 'pkgnx-errs-ws-'));
  cleanup.push(ws);
  store = new S3Store({ bucket: 'errs', prefix: '', endpoint: server.endpoint, forcePathStyle: true, credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey } });
  closers.push(() => store.close());
  // the same name and version built twice: different files (build dates differ)
  [[good], [foreign]] = await Promise.all([
    makepkg(scriptPackages({ pkgbase: 'errpkg', packages: { errpkg: '' } })),
    makepkg(scriptPackages({ pkgbase: 'errarch', arch: 'x86_64', packages: { errarch: '' } })),
  ]);
  await new Promise((r) => setTimeout(r, 1100));
  [rebuilt] = await makepkg(scriptPackages({ pkgbase: 'errpkg', packages: { errpkg: '' } }));
  assert.equal(basename(rebuilt), basename(good));
  assert.notDeepEqual(readFileSync(rebuilt), readFileSync(good));
});

after(async () => {
  for (const c of closers.reverse()) await c();
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

const snapshot = async (): Promise<string[]> => (await store.list('')).map((o) => `${o.key} ${o.etag}`).sort();
const publish = (file: string, env: Record<string, string> = server.env, extra: string[] = []): Promise<CliResult> =>
  runPkgnx(['publish', '--arch', 'x86_64', '--file', file, ...extra], { cwd: ws, env });

/** run, expect failure with `status` and every pattern in stderr, and an unchanged bucket */
async function failsCleanly(run: () => Promise<CliResult>, status: number, patterns: RegExp[]): Promise<CliResult> {
  const before = await snapshot();
  const r = await run();
  assert.equal(r.status, status, `exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  for (const p of patterns) assert.match(r.stderr, p);
  assert.deepEqual(await snapshot(), before, 'nothing was written to the bucket');
  return r;
}

test('wrong credentials: a wrong secret and an unknown access key', { skip }, async () => {
  writeConfig(s3config());
  await failsCleanly(() => publish(good, { ...server.env, AWS_SECRET_ACCESS_KEY: 'wrong' }), 1, [/^publish: error: s3:\/\/errs\/pfx \(endpoint http:\/\/127\.0\.0\.1:\d+\): ListObjectsV2: credentials are missing, wrong or not allowed .*SignatureDoesNotMatch 403/m]);
  await failsCleanly(() => publish(good, { ...server.env, AWS_ACCESS_KEY_ID: 'nobody' }), 1, [/credentials are missing, wrong or not allowed .*XAdminUserNotFound/]);
});

test('missing bucket', { skip }, async () => {
  writeConfig(s3config({ destination: 's3://no-such-bucket/pfx' }));
  await failsCleanly(() => publish(good), 1, [/s3:\/\/no-such-bucket\/pfx .*bucket 'no-such-bucket' does not exist/]);
});

test('unreachable endpoint: a closed port fails at once, a server that never answers after the request timeout', { skip }, async () => {
  writeConfig(s3config({}, { endpoint: 'http://127.0.0.1:1' }));
  let t0 = Date.now();
  await failsCleanly(() => publish(good), 1, [/cannot reach http:\/\/127\.0\.0\.1:1 .*ECONNREFUSED/]);
  assert.ok(Date.now() - t0 < 15_000);
  // accepts connections, never answers
  const sockets: net.Socket[] = [];
  const blackhole = net.createServer((s) => sockets.push(s));
  await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
  closers.push(() => {
    for (const s of sockets) s.destroy();
    blackhole.close();
  });
  const port = (blackhole.address() as net.AddressInfo).port;
  writeConfig(s3config({}, { endpoint: `http://127.0.0.1:${port}` }));
  t0 = Date.now();
  await failsCleanly(() => publish(good), 1, [new RegExp(`cannot reach http://127\\.0\\.0\\.1:${port} .*TimeoutError`)]);
  assert.ok(Date.now() - t0 < 15_000, `failed after ${Date.now() - t0} ms`);
});

test('a missing signing key, from the configuration and from PKGNX_SIGN_KEY', { skip }, async () => {
  writeConfig(s3config({ signing: { gnupgHome: key.gnupgHome, key: 'NOSUCHKEY0000' } }));
  await failsCleanly(() => publish(good), 1, [/signing key 'NOSUCHKEY0000' \(.*pkgnx\.config\.json: publish\.signing\.key\): (not found|no secret key) in GnuPG home/]);
  writeConfig(s3config());
  await failsCleanly(() => publish(good, { ...server.env, PKGNX_SIGN_KEY: 'other@example.org' }), 1, [/signing key 'other@example\.org' \(PKGNX_SIGN_KEY\)/]);
  const empty = mkdtempSync(join(tmpdir(), 'pkgnx-gpg-empty-'));
  cleanup.push(empty);
  writeConfig(s3config({ signing: { gnupgHome: empty } }));
  await failsCleanly(() => publish(good), 1, [/the default signing key: no secret key in GnuPG home/]);
});

test('package files that do not match: renamed, another architecture, a different file under a published name', { skip }, async () => {
  writeConfig(s3config());
  const renamed = join(ws, 'errpkg-1.0-2-any.pkg.tar.zst');
  copyFileSync(good, renamed);
  await failsCleanly(() => publish(renamed), 1, [/errpkg-1\.0-2-any\.pkg\.tar\.zst: the file name does not match its \.PKGINFO .*expected errpkg-1\.0-1-any\.pkg\.tar\.zst/]);
  await failsCleanly(() => runPkgnx(['publish', '--arch', 'aarch64', '--file', foreign], { cwd: ws, env: server.env }), 1, [/errarch-1\.0-1-x86_64\.pkg\.tar\.zst: built for 'x86_64', not for --arch aarch64/]);
  const ok = await publish(good);
  assert.equal(ok.status, 0, ok.stderr);
  await failsCleanly(() => publish(rebuilt), 1, [/errpkg-1\.0-1-any\.pkg\.tar\.zst: a different file of this name is already published at s3:\/\/errs\/pfx\/forge\/os\/x86_64\/errpkg-1\.0-1-any\.pkg\.tar\.zst \(sha256 [0-9a-f]{64} there, [0-9a-f]{64} here\).*bump pkgrel/]);
});

test('an incomplete object under the name (cut short on a server without integrity checks) is uploaded again', { skip }, async () => {
  writeConfig(s3config({ destination: 's3://errs/cut' }));
  const { createHash } = await import('node:crypto');
  const bytes = readFileSync(good);
  const k = `cut/forge/os/x86_64/${basename(good)}`;
  await store.put(k, bytes.subarray(0, 100), { metadata: { 'pkgnx-sha256': createHash('sha256').update(bytes).digest('hex') } });
  const r = await publish(good);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /is incomplete \(100 of \d+ bytes\), uploading it again/);
  assert.equal((await store.head(k))?.size, bytes.length);
});

test('configuration errors name the key (exit 2)', { skip }, async () => {
  writeConfig(s3config({}, { endpoint: 'ftp://x' }));
  await failsCleanly(() => publish(good), 2, [/pkgnx\.config\.json: publish\.s3\.endpoint: expected an http\(s\) URL, got 'ftp:\/\/x'/]);
  writeConfig({ ...s3config(), routes: { core: 'bad repo name' } });
  await failsCleanly(() => publish(good), 2, [/publish\.routes\.core: invalid repository name 'bad repo name'/]);
  writeConfig({ ...s3config(), gracePeriod: 3 });
  await failsCleanly(() => publish(good), 2, [/publish\.gracePeriod: is not a known key/]);
});

test('a server without conditional writes (s3rver): a clear error and nothing published; the single-writer opt-in works', { skip }, async () => {
  const plain = await startS3rver();
  closers.push(() => plain.stop());
  await plain.createBucket('plain');
  const plainStore = new S3Store({ bucket: 'plain', prefix: '', endpoint: plain.endpoint, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  closers.push(() => plainStore.close());
  const env = plain.env;
  const conf = { ...s3config({ destination: 's3://plain/pfx' }, { endpoint: plain.endpoint }) };
  writeConfig(conf);
  const r = await publish(good, env);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /s3:\/\/plain\/pfx .*: the server does not honour conditional writes \(PUT If-None-Match: \* \(existing object\): expected precondition failed, got ok; PUT If-Match: <stale ETag>: expected precondition failed, got ok\).*publish\.singleWriter = true/);
  assert.deepEqual(await plainStore.list(''), [], 'nothing in the bucket, not even the probe');
  writeConfig({ ...conf, singleWriter: true });
  const ok = await publish(good, env);
  assert.equal(ok.status, 0, ok.stderr);
  const keys = (await plainStore.list('')).map((o) => o.key);
  assert.ok(keys.includes(`pfx/forge/os/x86_64/${basename(good)}`));
  assert.ok(keys.includes('pfx/forge/os/x86_64/forge.db'));
});

test('usage errors: no --arch, no packages, a project without build outputs', { skip }, async () => {
  writeConfig(s3config());
  const noArch = await runPkgnx(['publish', '--all'], { cwd: ws, env: server.env });
  assert.equal(noArch.status, 2);
  assert.match(noArch.stderr, /--arch is required/);
  const both = await runPkgnx(['publish', '--arch', 'x86_64', '--all', 'x'], { cwd: ws, env: server.env });
  assert.equal(both.status, 2);
  assert.match(both.stderr, /exactly one of --all, project names or --file/);
  mkdirSync(join(ws, 'dist/x86_64'), { recursive: true });
  const missing = await runPkgnx(['publish', '--arch', 'x86_64', 'nothing-built'], { cwd: ws, env: server.env });
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /nothing-built: no package files in .*dist\/x86_64\/nothing-built \(build it first: npx nx run nothing-built:build -c x86_64\)/);
});
