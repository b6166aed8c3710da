/**
 * Publishing benchmark against a local versitygw: the time and bytes to publish 1 package into a
 * repository of 10,000 packages, and 100 packages in one run, with the number of database rewrites.
 * Then the two ways of rewriting the database compared on the same 10,000-package database: in-process
 * (stream the old files database through tar-stream, zstd CLI) and repo-add on a downloaded copy.
 *
 * The 10,000 entries are the real desc entries of the 2022 Arch core+extra+multilib and chaotic-aur
 * sync databases (6,960 packages) and of 2025 core, topped up with renamed copies of extra entries; the
 * sync databases have no file lists, so every entry gets a synthetic one of 12 paths (real .files
 * databases are larger, so the files-database part of these figures is a lower bound).
 *   node --require @swc-node/register bench/publish.ts        (needs versitygw: scripts/install-test-tools.sh;
 *   the shared data beside the checkout, or PKGNX_SHARED=/path/to/shared)
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { extract } from 'tar-stream';
import {
  commitDatabase,
  databaseKeys,
  entryFromPackage,
  openSession,
  publishPackages,
  readPackageFile,
  rewriteDatabase,
  validatePublishConfig,
  type Body,
  type CopyOptions,
  type DbEntry,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type RepoRef,
  type Session,
} from '../tools/src/publish';
import { decompress } from '../tools/src/syncdb';
import { makepkg, scriptPackages } from '../test/helpers/makepkg-build';
import { SHARED_DATA } from '../test/helpers/env';
import { startVersitygw } from '../test/helpers/s3-server';

const SYNCDB = join(SHARED_DATA, 'syncdb');
const SOURCES = ['arch-x86_64-2022/core.db.tar.gz', 'arch-x86_64-2022/extra.db.tar.gz', 'arch-x86_64-2022/multilib.db.tar.gz', 'chaotic-aur-2022/chaotic-aur.db.tar.xz', 'arch-x86_64-2025/core.db'];
const TARGET = 10_000;

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;
const kib = (b: number): string => (b >= 1 << 20 ? `${(b / 1024 / 1024).toFixed(2)} MiB` : `${(b / 1024).toFixed(1)} KiB`);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Every object operation counted: requests and bytes each way. */
class CountingStore implements ObjectStore {
  requests = 0;
  up = 0;
  down = 0;
  constructor(private readonly inner: ObjectStore) {}
  get description(): string {
    return this.inner.description;
  }
  get supportsConditionalWritesNatively(): boolean {
    return this.inner.supportsConditionalWritesNatively;
  }
  reset(): void {
    this.requests = this.up = this.down = 0;
  }
  locate(key: string): string {
    return this.inner.locate(key);
  }
  check(): Promise<void> {
    return this.inner.check();
  }
  async head(key: string): Promise<ObjectInfo | undefined> {
    this.requests++;
    return this.inner.head(key);
  }
  async get(key: string): Promise<{ info: ObjectInfo; body: Buffer } | undefined> {
    this.requests++;
    const r = await this.inner.get(key);
    this.down += r?.body.length ?? 0;
    return r;
  }
  async download(key: string, file: string): Promise<ObjectInfo | undefined> {
    this.requests++;
    const r = await this.inner.download(key, file);
    this.down += r?.size ?? 0;
    return r;
  }
  async put(key: string, body: Body, options?: PutOptions): Promise<{ etag: string }> {
    this.requests++;
    this.up += Buffer.isBuffer(body) ? body.length : statSync(body.file).size;
    return this.inner.put(key, body, options);
  }
  async copy(sourceKey: string, key: string, options?: CopyOptions): Promise<{ etag: string }> {
    this.requests++;
    return this.inner.copy(sourceKey, key, options);
  }
  async delete(key: string): Promise<void> {
    this.requests++;
    return this.inner.delete(key);
  }
  async list(prefix: string): Promise<ObjectInfo[]> {
    this.requests++;
    return this.inner.list(prefix);
  }
  close(): void {
    this.inner.close();
  }
}

/** The desc texts of a real sync database, verbatim. */
async function descTexts(file: string): Promise<Map<string, string>> {
  const { data } = await decompress(readFileSync(file));
  const out = new Map<string, string>();
  const ex = extract();
  ex.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => chunks.push(c as Buffer));
    stream.on('end', () => {
      const m = /^([^/]+)\/desc$/.exec(header.name);
      if (m) out.set(m[1], Buffer.concat(chunks).toString('utf8'));
      next();
    });
  });
  await new Promise<void>((res, rej) => {
    ex.on('finish', res);
    ex.on('error', rej);
    Readable.from([Buffer.from(data)]).pipe(ex);
  });
  return out;
}

function renamed(desc: string, from: string, to: string): string {
  return desc.replace(`%NAME%\n${from}\n`, `%NAME%\n${to}\n`).replace(/%FILENAME%\n[^\n]+\n/, (m) => m.replace(from, to));
}

function syntheticFiles(name: string): string {
  const files = ['usr/', 'usr/bin/', `usr/bin/${name}`, 'usr/lib/', `usr/lib/lib${name}.so`, 'usr/share/', 'usr/share/doc/', `usr/share/doc/${name}/`, `usr/share/doc/${name}/README`, 'usr/share/licenses/', `usr/share/licenses/${name}/`, `usr/share/licenses/${name}/LICENSE`];
  return `%FILES%\n${files.join('\n')}\n`;
}

export async function tenThousandEntries(): Promise<DbEntry[]> {
  const byName = new Map<string, DbEntry>();
  const extra: [string, string][] = [];
  for (const src of SOURCES) {
    for (const [dir, desc] of await descTexts(join(SYNCDB, src))) {
      const name = /%NAME%\n([^\n]+)\n/.exec(desc)?.[1] ?? dir;
      if (byName.has(name)) continue;
      byName.set(name, { dir, name, desc, files: syntheticFiles(name) });
      if (src.includes('extra')) extra.push([dir, desc]);
    }
  }
  for (let i = 0; byName.size < TARGET; i++) {
    const [dir, desc] = extra[i % extra.length];
    const name = /%NAME%\n([^\n]+)\n/.exec(desc)?.[1] as string;
    const copy = `${name}-copy${Math.floor(i / extra.length) + 1}`;
    if (byName.has(copy)) continue;
    byName.set(copy, { dir: dir.replace(name, copy), name: copy, desc: renamed(desc, name, copy), files: syntheticFiles(copy) });
  }
  return [...byName.values()];
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const work = mkdtempSync(join(tmpdir(), 'pkgnx-bench-publish-'));
  const server = await startVersitygw();
  let session: Session | undefined;
  try {
    let t0 = process.hrtime.bigint();
    const entries = await tenThousandEntries();
    console.log(`${entries.length} entries from ${SOURCES.length} real sync databases (+ renamed extra copies) in ${ms(t0).toFixed(0)} ms`);

    // packages: 3 single ones (1 into 10,000, three times) and a split package of 100
    t0 = process.hrtime.bigint();
    const singles = await Promise.all(['a', 'b', 'c'].map((s) => makepkg(scriptPackages({ pkgbase: `bench-one-${s}`, packages: { [`bench-one-${s}`]: '' } }))));
    const hundred = await makepkg(scriptPackages({ pkgbase: 'bench-hundred', packages: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`bench-h${String(i).padStart(3, '0')}`, ''])) }));
    console.log(`built ${singles.length + hundred.length} packages with makepkg in ${(ms(t0) / 1000).toFixed(1)} s`);

    await server.createBucket('bench');
    const config = validatePublishConfig({ destination: 's3://bench/repo', s3: { endpoint: server.endpoint, forcePathStyle: true }, defaultRepo: 'bench' }, join(work, 'pkgnx.config.json'));
    session = await openSession(config, { log: () => undefined, credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey } });
    const counting = new CountingStore(session.store);
    session.store = counting;
    session.ctx.store = counting;
    const ref: RepoRef = { repo: 'bench', arch: 'x86_64' };

    t0 = process.hrtime.bigint();
    const seed = await commitDatabase(session.ctx, ref, { add: entries }, { reason: 'seed' });
    const seedMs = ms(t0);
    const cHead = await counting.head(databaseKeys(ref).files);
    const dbHead = await counting.head(databaseKeys(ref).db);
    console.log(`seeded ${seed.rewrite.entries.length} packages in ${seedMs.toFixed(0)} ms: ${ref.repo}.files.tar.zst ${kib(cHead?.size ?? 0)}, ${ref.repo}.db.tar.zst ${kib(dbHead?.size ?? 0)}`);

    const run = async (label: string, files: string[]): Promise<{ ms: number; up: number; down: number; requests: number; rewrites: number }> => {
      const before = (await counting.head(databaseKeys(ref).files))?.metadata['pkgnx-generation'];
      counting.reset();
      const t = process.hrtime.bigint();
      await publishPackages(session as Session, { arch: 'x86_64', inputs: files.map((file) => ({ file })), route: () => ({ repo: 'bench', reason: 'bench' }) });
      const elapsed = ms(t);
      const stats = { ms: elapsed, up: counting.up, down: counting.down, requests: counting.requests, rewrites: 0 };
      const after = (await counting.head(databaseKeys(ref).files))?.metadata['pkgnx-generation'];
      stats.rewrites = Number(after) - Number(before);
      console.log(`${label}: ${elapsed.toFixed(0)} ms, uploaded ${kib(stats.up)}, downloaded ${kib(stats.down)}, ${stats.requests} requests, ${stats.rewrites} database rewrite(s)`);
      return stats;
    };

    const ones = [];
    for (const [i, s] of singles.entries()) ones.push(await run(`1 package into ${entries.length + i} (run ${i + 1})`, s));
    const hundredRun = await run(`100 packages in one run into ${entries.length + singles.length}`, hundred);

    // the two database engines on the same 10,000-package database, adding one package
    const local = join(work, 'engines');
    mkdirSync(local);
    await counting.download(databaseKeys(ref).files, join(local, 'bench.files.tar.zst'));
    await counting.download(databaseKeys(ref).db, join(local, 'bench.db.tar.zst'));
    const extraPkg = (await makepkg(scriptPackages({ pkgbase: 'bench-engine', packages: { 'bench-engine': '' } })))[0];
    const inProcess: number[] = [];
    const repoAdd: number[] = [];
    for (let i = 0; i < 3; i++) {
      let t = process.hrtime.bigint();
      const pkg = await readPackageFile(extraPkg);
      const out = mkdtempSync(join(work, 'ip-'));
      await rewriteDatabase(join(local, 'bench.files.tar.zst'), { add: [entryFromPackage(pkg, undefined)] }, out, 'bench');
      inProcess.push(ms(t));
      const copy = mkdtempSync(join(work, 'ra-'));
      copyFileSync(join(local, 'bench.files.tar.zst'), join(copy, 'bench.files.tar.zst'));
      copyFileSync(join(local, 'bench.db.tar.zst'), join(copy, 'bench.db.tar.zst'));
      t = process.hrtime.bigint();
      execFileSync('repo-add', ['-q', '--nocolor', join(copy, 'bench.db.tar.zst'), extraPkg], { stdio: 'pipe' });
      repoAdd.push(ms(t));
    }
    console.log(`database rewrite engines, 1 package into ${seed.rewrite.entries.length + singles.length + hundred.length} (median of 3, local files only):`);
    console.log(`  in-process (tar-stream + zstd CLI, streamed): ${median(inProcess).toFixed(0)} ms  [${inProcess.map((x) => x.toFixed(0)).join(', ')}]`);
    console.log(`  repo-add on a downloaded copy (extracts both databases): ${median(repoAdd).toFixed(0)} ms  [${repoAdd.map((x) => x.toFixed(0)).join(', ')}]`);

    console.log('\nsummary');
    console.log(`| what | time | uploaded | downloaded | requests | database rewrites |`);
    console.log(`|---|---|---|---|---|---|`);
    const o = ones[Math.floor(ones.length / 2)];
    const sortedOnes = [...ones].sort((a, b) => a.ms - b.ms);
    const mid = sortedOnes[1];
    void o;
    console.log(`| 1 package into 10,000 (median of 3) | ${(mid.ms / 1000).toFixed(2)} s | ${kib(mid.up)} | ${kib(mid.down)} | ${mid.requests} | ${mid.rewrites} |`);
    console.log(`| 100 packages in one run | ${(hundredRun.ms / 1000).toFixed(2)} s | ${kib(hundredRun.up)} | ${kib(hundredRun.down)} | ${hundredRun.requests} | ${hundredRun.rewrites} |`);
    console.log(`| rewrite engine: in-process / repo-add (1 into 10,000, local) | ${median(inProcess).toFixed(0)} ms / ${median(repoAdd).toFixed(0)} ms | | | | |`);
  } finally {
    await session?.close();
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) void main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
