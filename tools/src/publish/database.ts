/**
 * The repository database in repo-add's format, written in-process.
 *
 * `<repo>.files.tar.zst` holds `<pkgname>-<pkgver>/desc` and `/files` per package, `<repo>.db.tar.zst`
 * the same without `files` (repo-add copies the db entry into the files database, then adds `files`).
 * The desc text is repo-add's (pacman 6.0.2 scripts/repo-add.sh.in, db_write_entry): the same keys in
 * the same order, empty values left out, `%MD5SUM%` and `%PGPSIG%` (the base64 of `<file>.sig`) included.
 *
 * A rewrite streams the old files database once: `zstd -dc` -> tar-stream -> entries kept or dropped ->
 * two tar-stream packs -> `zstd -c` (repo-add's compressor command for `.zst`) -> two local files. New
 * entries are merged in name order. Memory stays at one entry; a 10,000-package database takes a few
 * hundred milliseconds (bench/publish.ts compares this with running repo-add on a downloaded copy).
 */
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract, pack, type Header, type Pack } from 'tar-stream';

type Headers = Partial<Header> & Pick<Header, 'name'>;
import type { PackageFile } from './package-file';
import { start } from '../process/run';

export interface DbEntry {
  /** `<pkgname>-<pkgver>`: the entry's directory in the archive */
  dir: string;
  name: string;
  desc: string;
  /** the `files` file: `%FILES%` then one path per line */
  files: string;
}

/** What the publisher needs to know of every entry, parsed from its desc. */
export interface EntrySummary {
  dir: string;
  name: string;
  base: string;
  version: string;
  filename: string;
  sha256: string;
  /** the desc has a %PGPSIG% */
  signed: boolean;
}

function formatEntry(key: string, values: (string | undefined)[]): string {
  // repo-add's format_entry prints the field only when its first value is non-empty
  if (!values[0]) return '';
  return `%${key}%\n${values.join('\n')}\n\n`;
}

/** The desc file repo-add writes for this package (and signature). */
export function descText(pkg: PackageFile, signature: Buffer | undefined): string {
  const i = pkg.info;
  return [
    formatEntry('FILENAME', [pkg.filename]),
    formatEntry('NAME', [i.pkgname]),
    formatEntry('BASE', [i.pkgbase]),
    formatEntry('VERSION', [i.pkgver]),
    formatEntry('DESC', [i.pkgdesc]),
    formatEntry('GROUPS', i.group),
    formatEntry('CSIZE', [String(pkg.csize)]),
    formatEntry('ISIZE', [i.size]),
    formatEntry('MD5SUM', [pkg.md5]),
    formatEntry('SHA256SUM', [pkg.sha256]),
    formatEntry('PGPSIG', [signature?.toString('base64')]),
    formatEntry('URL', [i.url]),
    formatEntry('LICENSE', i.license),
    formatEntry('ARCH', [i.arch]),
    formatEntry('BUILDDATE', [i.builddate]),
    formatEntry('PACKAGER', [i.packager]),
    formatEntry('REPLACES', i.replaces),
    formatEntry('CONFLICTS', i.conflict),
    formatEntry('PROVIDES', i.provides),
    formatEntry('DEPENDS', i.depend),
    formatEntry('OPTDEPENDS', i.optdepend),
    formatEntry('MAKEDEPENDS', i.makedepend),
    formatEntry('CHECKDEPENDS', i.checkdepend),
  ].join('');
}

export function filesText(files: string[]): string {
  return `%FILES%\n${files.map((f) => `${f}\n`).join('')}`;
}

export function entryFromPackage(pkg: PackageFile, signature: Buffer | undefined): DbEntry {
  return { dir: `${pkg.info.pkgname}-${pkg.info.pkgver}`, name: pkg.info.pkgname, desc: descText(pkg, signature), files: filesText(pkg.files) };
}

/** repo-add's find_pkgentry: the pkgname is the directory name without its last two `-` fields. */
export function nameOfDir(dir: string): string {
  return dir.replace(/-[^-]*-[^-]*$/, '');
}

/** The first value of `%KEY%` in a desc text ('' when absent); cheaper than parsing the whole text. */
function firstValue(desc: string, key: string): string {
  const marker = `%${key}%\n`;
  const at = desc.startsWith(marker) ? 0 : desc.indexOf(`\n${marker}`) + 1;
  if (at === 0 && !desc.startsWith(marker)) return '';
  const start = at + marker.length;
  const end = desc.indexOf('\n', start);
  return desc.slice(start, end === -1 ? undefined : end);
}

export function summarize(dir: string, desc: string): EntrySummary {
  const one = (k: string): string => firstValue(desc, k);
  const name = one('NAME') || nameOfDir(dir);
  return { dir, name, base: one('BASE') || name, version: one('VERSION'), filename: one('FILENAME'), sha256: one('SHA256SUM'), signed: Boolean(one('PGPSIG')) };
}

export interface DatabaseChange {
  /** entries to add; an existing entry of the same pkgname is replaced (repo-add) */
  add: DbEntry[];
  /** pkgnames to remove (repo-remove) */
  remove?: Iterable<string>;
  /** exact entries (`<pkgname>-<pkgver>`) to remove: only that version (promotion) */
  removeDirs?: Iterable<string>;
}

export interface RewriteResult {
  /** false: the new database would equal the old one (nothing to write) */
  changed: boolean;
  /** old entries that are gone from the new database (replaced or removed) and whose file it no longer names */
  removed: EntrySummary[];
  /** every old entry that was dropped or replaced, even by an identical one */
  dropped: EntrySummary[];
  /** old entries kept as they were */
  kept: number;
  /** every entry of the new database */
  entries: EntrySummary[];
  /** every entry of the new database with its text, only when `collect` was asked for */
  texts?: Map<string, { desc: string; files?: string }>;
  /** zstd-compressed outputs */
  dbFile: string;
  filesFile: string;
}

export class DatabaseFormatError extends Error {
  override name = 'DatabaseFormatError';
}

interface Filter {
  stdin: Writable;
  stdout: Readable;
  done: Promise<void>;
}

function spawnFilter(cmd: string, args: string[], what: string): Filter {
  const child = start(cmd, args, { buffer: { stdout: false, stderr: true } });
  const done = child.then((r) => {
    if (r.exitCode === 0) return;
    if (r.exitCode === undefined && r.signal === undefined) throw new Error(`${what}: cannot run ${cmd}: ${(r.cause as Error | undefined)?.message ?? r.message}`);
    throw new DatabaseFormatError(`${what}: ${cmd} ${args.join(' ')} failed (${r.signal ?? `exit ${r.exitCode}`}): ${String(r.stderr).trim()}`);
  });
  // a consumer that stops early must not crash us with EPIPE; the exit status reports the failure
  child.stdin!.on('error', () => undefined);
  return { stdin: child.stdin!, stdout: child.stdout!, done };
}

/**
 * tar-stream emits every 512-byte header and every small body as a chunk of its own; written to a pipe
 * one by one, that is one system call each (half the time of a 10,000-package rewrite). Coalesce.
 */
function coalesce(size = 1 << 18): Transform {
  let chunks: Buffer[] = [];
  let length = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= size) {
        this.push(Buffer.concat(chunks, length));
        chunks = [];
        length = 0;
      }
      done();
    },
    flush(done) {
      if (length > 0) this.push(Buffer.concat(chunks, length));
      done();
    },
  });
}

/** tar-stream pack -> zstd -> file; `finish()` resolves when the file is complete. */
function compressedWriter(file: string, what: string): { tar: Pack; finish: () => Promise<void> } {
  const tar = pack();
  const z = spawnFilter('zstd', ['-c', '-z', '-q', '-'], what);
  const piping = Promise.all([pipeline(tar, coalesce(), z.stdin), pipeline(z.stdout, createWriteStream(file)), z.done]);
  piping.catch(() => undefined);
  return {
    tar,
    finish: async () => {
      tar.finalize();
      await piping;
    },
  };
}

function writeEntry(tar: Pack, header: Headers, body?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
    if (body) tar.entry(header, body, cb);
    else tar.entry(header, cb);
  });
}

const byteCompare = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * Rewrite a repository database: `oldFilesDb` (a local zstd files database, or undefined for a new
 * repository) with `change` applied, written to `<outDir>/db.tar.zst` and `<outDir>/files.tar.zst`.
 */
export async function rewriteDatabase(oldFilesDb: string | undefined, change: DatabaseChange, outDir: string, what: string, options: { collect?: boolean } = {}): Promise<RewriteResult> {
  const adds = [...change.add].sort((a, b) => byteCompare(a.dir, b.dir));
  const addedNames = new Set(adds.map((a) => a.name));
  if (addedNames.size !== adds.length) throw new DatabaseFormatError(`${what}: two packages named the same in one change`);
  const dropNames = new Set([...addedNames, ...(change.remove ?? [])]);
  const dropDirs = new Set(change.removeDirs ?? []);
  const dropped = (dir: string): boolean => dropNames.has(nameOfDir(dir)) || dropDirs.has(dir);
  const dbFile = join(outDir, 'db.tar.zst');
  const filesFile = join(outDir, 'files.tar.zst');
  const db = compressedWriter(dbFile, `${what}: writing the database`);
  const files = compressedWriter(filesFile, `${what}: writing the files database`);
  const now = new Date(Math.floor(Date.now() / 1000) * 1000);
  const removed: EntrySummary[] = [];
  const entries: EntrySummary[] = [];
  const texts = options.collect ? new Map<string, { desc: string; files?: string }>() : undefined;
  /** old entries of a dropped name: their text, to tell "re-added unchanged" from "replaced" */
  const oldDropped = new Map<string, { desc?: string; files?: string }>();
  let kept = 0;
  let next = 0;

  // entries are queued in order and awaited in batches: one await per entry costs event-loop turns,
  // and the last entry of a batch being written bounds the memory the packs hold
  let inflight: Promise<void>[] = [];
  const queue = (tar: Pack, header: Headers, body?: Buffer): void => {
    const p = writeEntry(tar, header, body);
    p.catch(() => undefined);
    inflight.push(p);
  };
  const settle = async (all = false): Promise<void> => {
    if (!all && inflight.length < 512) return;
    const batch = inflight;
    inflight = [];
    await Promise.all(batch);
  };
  const emitNew = async (e: DbEntry): Promise<void> => {
    const dirHeader: Headers = { name: `${e.dir}/`, type: 'directory', mode: 0o755, mtime: now, uname: 'root', gname: 'root' };
    const descHeader: Headers = { name: `${e.dir}/desc`, type: 'file', mode: 0o644, mtime: now, uname: 'root', gname: 'root' };
    const desc = Buffer.from(e.desc);
    queue(db.tar, { ...dirHeader });
    queue(files.tar, { ...dirHeader });
    queue(db.tar, { ...descHeader }, desc);
    queue(files.tar, { ...descHeader }, desc);
    queue(files.tar, { name: `${e.dir}/files`, type: 'file', mode: 0o644, mtime: now, uname: 'root', gname: 'root' }, Buffer.from(e.files));
    await settle();
    entries.push(summarize(e.dir, e.desc));
    texts?.set(e.dir, { desc: e.desc, files: e.files });
  };
  /** new entries that sort before `dir` go first, so a sorted database stays sorted */
  const flushBefore = async (dir: string | undefined): Promise<void> => {
    while (next < adds.length && (dir === undefined || byteCompare(adds[next].dir, dir) < 0)) await emitNew(adds[next++]);
  };

  try {
    if (oldFilesDb) {
      const unzstd = spawnFilter('zstd', ['-d', '-c', '-q', oldFilesDb], `${what}: reading the files database`);
      const ex = extract();
      let currentDir: string | undefined;
      let currentKept = false;
      ex.on('entry', (header, stream, done) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: unknown) => chunks.push(c as Buffer));
        stream.on('error', done);
        stream.on('end', () => {
          const body = Buffer.concat(chunks);
          const handle = async (): Promise<void> => {
            if (header.type !== 'file' && header.type !== 'directory') return; // pax globals, links: not part of a db
            const m = /^(?:\.\/)?([^/]+)(?:\/(.*))?$/.exec(header.name);
            if (!m) throw new DatabaseFormatError(`${what}: unexpected archive member '${header.name}'`);
            const dir = m[1];
            const member = (m[2] ?? '').replace(/\/$/, '');
            if (dir !== currentDir) {
              currentDir = dir;
              currentKept = !dropped(dir);
              if (currentKept) {
                await flushBefore(dir);
                kept++;
              }
            }
            if (!currentKept) {
              const o = oldDropped.get(dir) ?? {};
              if (member === 'desc') o.desc = body.toString('utf8');
              if (member === 'files') o.files = body.toString('utf8');
              oldDropped.set(dir, o);
              return;
            }
            const h: Headers = { ...header, name: header.name };
            if (member === '' || member === 'desc') {
              queue(db.tar, { ...h }, header.type === 'file' ? body : undefined);
              queue(files.tar, { ...h }, header.type === 'file' ? body : undefined);
              if (member === 'desc') {
                const desc = body.toString('utf8');
                entries.push(summarize(dir, desc));
                if (texts) texts.set(dir, { ...texts.get(dir), desc });
              }
            } else {
              queue(files.tar, h, header.type === 'file' ? body : undefined);
              if (texts && member === 'files') texts.set(dir, { desc: texts.get(dir)?.desc ?? '', files: body.toString('utf8') });
            }
          };
          handle()
            .then(() => settle())
            .then(() => done(), done);
        });
      });
      await Promise.all([pipeline(unzstd.stdout, ex), unzstd.done]);
    }
    await flushBefore(undefined);
    await settle(true);
    await Promise.all([db.finish(), files.finish()]);
  } catch (e) {
    db.tar.destroy();
    files.tar.destroy();
    throw e instanceof DatabaseFormatError ? e : new DatabaseFormatError(`${what}: ${(e as Error).message}`);
  }

  // unchanged: every added entry existed with the same text, and nothing else was dropped
  const addedByDir = new Map(adds.map((a) => [a.dir, a]));
  let changed = adds.some((a) => !oldDropped.has(a.dir));
  const newFiles = new Set(entries.map((e) => e.filename));
  const droppedSummaries: EntrySummary[] = [];
  for (const [dir, o] of oldDropped) {
    droppedSummaries.push(summarize(dir, o.desc ?? ''));
    const a = addedByDir.get(dir);
    if (a && a.desc === o.desc && a.files === (o.files ?? '')) continue;
    changed = true;
    // gone from the database: its file may go too, unless the new database still names it
    const old = summarize(dir, o.desc ?? '');
    if (!newFiles.has(old.filename)) removed.push(old);
  }
  return { changed, removed, dropped: droppedSummaries, kept, entries, ...(texts ? { texts } : {}), dbFile, filesFile };
}

/** Stream a local compressed database's entries (desc and files text), for readers and tests. */
export async function readDatabaseEntries(file: string): Promise<Map<string, { desc?: string; files?: string }>> {
  const out = new Map<string, { desc?: string; files?: string }>();
  const unzstd = spawnFilter('zstd', ['-d', '-c', '-q', file], `${file}: reading`);
  const ex = extract();
  ex.on('entry', (header, stream, done) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => chunks.push(c as Buffer));
    stream.on('end', () => {
      const m = /^(?:\.\/)?([^/]+)\/(desc|files)$/.exec(header.name);
      if (m && header.type === 'file') out.set(m[1], { ...out.get(m[1]), [m[2]]: Buffer.concat(chunks).toString('utf8') });
      done();
    });
    stream.on('error', done);
  });
  await Promise.all([pipeline(unzstd.stdout, ex), unzstd.done]);
  return out;
}


/** The entries of a local compressed database, summarised. */
export async function readEntrySummaries(file: string): Promise<EntrySummary[]> {
  const out: EntrySummary[] = [];
  for (const [dir, t] of await readDatabaseEntries(file)) if (t.desc !== undefined) out.push(summarize(dir, t.desc));
  return out;
}
