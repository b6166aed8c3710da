/**
 * Many publishers at once, and publishers killed half-way, on a real S3 server (versitygw):
 * - 20 separate `pkgnx publish` processes, one package each, into one repository, three rounds (each
 *   round a pkgrel bump of all 20): every package in the database, exactly one commit per publisher,
 *   pacman (SigLevel = Required) reads it;
 * - SIGKILL while a large package is uploading and while the databases are being written: the
 *   repository stays consistent (pacman syncs, every named file exists), a rerun completes it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';
import { readDatabaseEntries, S3Store, summarize } from '../../tools/src/publish';
import { makepkg, scriptPackages } from '../helpers/makepkg-build';
import { generateTestKey, pacmanClient, type PacmanClient, type TestKey } from '../helpers/pacman-client';
import { collect, runPkgnx, spawnPkgnx, type CliResult, publishTestPrerequisites, succeeded } from '../helpers/pkgnx-cli';
import { startVersitygw, type S3TestServer } from '../helpers/s3-server';

const skip = publishTestPrerequisites({ pacman: true, versitygw: true });
const PUBLISHERS = 20;
const ROUNDS = 3;

let server: S3TestServer;
let key: TestKey;
let ws: string;
let env: Record<string, string>;
let store: S3Store;
const cleanup: string[] = [];
const clients: PacmanClient[] = [];

before(async () => {
  if (skip) return;
  server = await startVersitygw();
  await server.createBucket('race', { publicRead: true });
  key = generateTestKey();
  cleanup.push(key.gnupgHome);
  ws = mkdtempSync(join(tmpdir(), 'pkgnx-race-ws-'));
  cleanup.push(ws);
  writeFileSync(
    join(ws, 'pkgnx.config.json'),
    JSON.stringify({
      publish: {
        destination: 's3://race/pkgs',
        s3: { endpoint: server.endpoint, forcePathStyle: true },
        defaultRepo: 'race',
        signing: { gnupgHome: key.gnupgHome, key: key.fingerprint },
      },
    }),
  );
  env = { ...server.env };
  store = new S3Store({ bucket: 'race', prefix: 'pkgs', endpoint: server.endpoint, forcePathStyle: true, credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey } });
});

after(async () => {
  for (const c of clients) c.close();
  store?.close();
  await server?.stop();
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

const names = Array.from({ length: PUBLISHERS }, (_, i) => `race${String(i + 1).padStart(2, '0')}`);
const ok = succeeded;
const client = (repo: string): PacmanClient => {
  const c = pacmanClient([{ name: repo, server: `${server.endpoint}/race/pkgs/$repo/os/$arch` }], key);
  clients.push(c);
  return c;
};

/** What the commit point names, and whether every named file (and signature) is in the bucket. */
async function checkConsistent(repo: string): Promise<{ filenames: string[]; generation: number }> {
  const dir = `${repo}/os/x86_64`;
  const tmp = mkdtempSync(join(tmpdir(), 'pkgnx-race-check-'));
  try {
    const filenames: string[] = [];
    let generation = -1;
    for (const db of [`${repo}.files.tar.zst`, `${repo}.db`, `${repo}.db.tar.zst`, `${repo}.files`]) {
      const info = await store.download(`${dir}/${db}`, join(tmp, db));
      if (!info) continue;
      if (db.endsWith('.files.tar.zst')) generation = Number(info.metadata['pkgnx-generation']);
      for (const [d, t] of await readDatabaseEntries(join(tmp, db))) {
        const f = summarize(d, t.desc ?? '').filename;
        const head = await store.head(`${dir}/${f}`);
        assert.ok(head, `${db} names ${f}, which must exist`);
        if (db.endsWith('.files.tar.zst')) filenames.push(f);
      }
    }
    return { filenames: filenames.sort(), generation };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

test(`${PUBLISHERS} concurrent publishers (separate processes, one package each) into one repository, ${ROUNDS} rounds: nothing lost`, { skip }, async () => {
  for (let round = 1; round <= ROUNDS; round++) {
    const files = await makepkg(scriptPackages({ pkgbase: 'race', pkgrel: round, packages: Object.fromEntries(names.map((n) => [n, ''])) }));
    assert.equal(files.length, PUBLISHERS);
    const t0 = Date.now();
    const results = await Promise.all(files.map((f) => runPkgnx(['publish', '--arch', 'x86_64', '--file', f, '--json'], { cwd: ws, env })));
    const seconds = ((Date.now() - t0) / 1000).toFixed(1);
    results.forEach(ok);
    const retries = results.reduce((n, r) => n + (r.stderr.match(/changed by another publisher/g)?.length ?? 0), 0);
    process.stdout.write(`# round ${round}: ${PUBLISHERS} publishers in ${seconds} s, ${retries} conflicting commits retried\n`);
    // one commit per publisher: generations 1..20 in round 1, 21..40 in round 2, ...
    const generations = results.map((r) => (JSON.parse(r.stdout) as { repositories: { generation: number }[] }).repositories[0].generation).sort((a, b) => a - b);
    assert.deepEqual(generations, Array.from({ length: PUBLISHERS }, (_, i) => (round - 1) * PUBLISHERS + i + 1));
    const state = await checkConsistent('race');
    assert.deepEqual(state.filenames, files.map((f) => basename(f)).sort(), `round ${round}: all ${PUBLISHERS} in the database`);
    assert.equal(state.generation, round * PUBLISHERS);
    const c = client('race');
    c.sync();
    assert.deepEqual(c.list('race').sort(), names.map((n) => `${n} 1.0-${round}`));
    c.close();
    if (round > 1) {
      // the previous round's files wait for the grace period: still downloadable
      const pending = JSON.parse((await store.get('race/os/x86_64/.pkgnx/pending-deletions.json'))?.body.toString() ?? '{}') as { entries: { file: string }[] };
      for (const n of names) assert.ok(pending.entries.some((e) => e.file === `${n}-1.0-${round - 1}-any.pkg.tar.zst`), `${n} of round ${round - 1} scheduled`);
    }
  }
});

test('SIGKILL while uploading a large package, and while writing the databases: the repository stays consistent and a rerun completes it', { skip }, async () => {
  const [small] = await makepkg(scriptPackages({ pkgbase: 'small', packages: { small: '' } }));
  ok(await runPkgnx(['publish', '--arch', 'x86_64', '--repo', 'kill', '--file', small], { cwd: ws, env }));
  const [big] = await makepkg(scriptPackages({ pkgbase: 'big', packages: { big: '' }, randomBytes: 192 * 1024 * 1024 }));
  const bigKey = `kill/os/x86_64/${basename(big)}`;
  const size = statSync(big).size;

  const killed: number[] = [];
  const killWhen = async (pattern: RegExp, delayMs: number): Promise<CliResult> => {
    const child = spawnPkgnx(['publish', '--arch', 'x86_64', '--repo', 'kill', '--file', big], { cwd: ws, env });
    killed.push(child.pid as number);
    let fired = false;
    const result = collect(child, (stderr) => {
      if (!fired && pattern.test(stderr)) {
        fired = true;
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    const r = await result;
    assert.ok(fired, `the publisher printed ${pattern} before it finished:\n${r.stderr}`);
    return r;
  };

  // 1. killed mid-upload: no partial object, the database does not name it, pacman syncs the old state
  const r1 = await killWhen(/uploading s3:\/\/race\/pkgs\/kill\/os\/x86_64\/big-/, 100);
  assert.equal(r1.signal, 'SIGKILL', `killed before it finished:\n${r1.stderr}`);
  const head = await store.head(bigKey);
  assert.ok(!head || head.size === size, `no partial object (${head?.size} of ${size} bytes)`);
  let state = await checkConsistent('kill');
  assert.deepEqual(state.filenames, [basename(small)]);
  const c = client('kill');
  c.sync();
  assert.deepEqual(c.list('kill'), ['small 1.0-1']);

  // 2. killed right after the commit, while the derived databases and signatures are written
  const r2 = await killWhen(/committed s3:\/\/race\/pkgs\/kill\/os\/x86_64\/kill\.files\.tar\.zst generation 2/, 0);
  assert.equal(r2.signal, 'SIGKILL');
  state = await checkConsistent('kill');
  c.sync();

  // 3. the rerun completes it: every derived object at the commit's generation, pacman gets the package
  const r3 = ok(await runPkgnx(['publish', '--arch', 'x86_64', '--repo', 'kill', '--file', big], { cwd: ws, env }));
  assert.match(r3.stdout, /big-1\.0-1-any\.pkg\.tar\.zst/);
  state = await checkConsistent('kill');
  assert.deepEqual(state.filenames, [basename(big), basename(small)].sort());
  for (const k of ['kill.db', 'kill.db.sig', 'kill.db.tar.zst', 'kill.db.tar.zst.sig', 'kill.files', 'kill.files.sig', 'kill.files.tar.zst.sig']) {
    assert.equal((await store.head(`kill/os/x86_64/${k}`))?.metadata['pkgnx-generation'], String(state.generation), `${k} caught up`);
  }
  c.sync();
  assert.deepEqual(c.list('kill').sort(), ['big 1.0-1', 'small 1.0-1']);
  const dl = c.run(['-Sw', 'big']);
  assert.equal(dl.status, 0, dl.output);
  // the killed publishers' scratch directories were removed by the rerun
  for (const pid of killed) assert.deepEqual(readdirSync(tmpdir()).filter((n) => n.startsWith(`pkgnx-publish-${pid}-`)), [], `scratch of killed ${pid}`);
});
