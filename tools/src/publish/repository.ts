/**
 * One repository `<repo>/os/<arch>/` in a store: its database changed by optimistic concurrency, the
 * objects derived from it, and the deferred deletion of files no database names any more.
 *
 * The commit point is `<repo>.files.tar.zst` (the files database holds every desc too, so everything
 * else derives from it). A change: download it with its ETag and generation (object metadata), rewrite it
 * locally, write it back with If-Match (If-None-Match: * for a new repository) and generation + 1; on
 * 412/409 start again from the download, with backoff. Then the derived objects (`<repo>.db.tar.zst`,
 * the plain `<repo>.db`/`<repo>.files` copies, every `.sig`) are written as monotonic registers: only
 * over an older generation, conditionally, so a slow publisher never puts back an older database.
 *
 * Deletion: a file dropped from the database is recorded in `.pkgnx/pending-deletions.json` before the
 * commit that drops it, and deleted by a later publish or `prune` once (a) no database object names it,
 * (b) every derived object has caught up, (c) the grace period has passed since it stopped being served.
 * Deleting is fenced against a concurrent publisher naming the file again: prune marks the entry
 * `deleting`, re-reads the database, deletes, unmarks; a publisher checks its files after its commit and
 * puts back any that a concurrent prune removed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { readEntrySummaries, rewriteDatabase, type DatabaseChange, type EntrySummary, type RewriteResult } from './database';
import { PublishError } from './errors';
import { DB_CACHE_CONTROL, META_GENERATION, databaseKeys, isPackageObject, repoDir, type RepoRef } from './layout';
import type { Signer } from './signing';
import { backoffMs, isPrecondition, sleep, type Body, type ObjectInfo, type ObjectStore, type PutOptions } from './store';

export interface RepositoryContext {
  store: ObjectStore;
  /** false in the single-writer mode: plain writes, for servers without conditional writes */
  conditional: boolean;
  /** signs databases (repo-add -s), if configured */
  databaseSigner?: Signer;
  gracePeriodMs: number;
  /** progress lines */
  log: (line: string) => void;
  /** a private scratch directory the caller removes */
  tmpDir: string;
  now: () => number;
  /** attempts of one conditional read-modify-write before giving up */
  maxAttempts: number;
  /** what would be written or deleted is logged, nothing is */
  dryRun: boolean;
}

export interface CommitResult {
  ref: RepoRef;
  generation: number;
  /** false: the database already had exactly these entries */
  changed: boolean;
  rewrite: RewriteResult;
  attempts: number;
}

export function generationOf(info: ObjectInfo | undefined): number | undefined {
  if (!info) return undefined;
  const g = Number(info.metadata[META_GENERATION]);
  return Number.isInteger(g) && g >= 0 ? g : undefined;
}

/** A write that is conditional unless the context is single-writer. `etag` undefined: must not exist. */
export async function conditionalPut(ctx: RepositoryContext, key: string, body: Body, etag: string | undefined, options: PutOptions = {}): Promise<{ etag: string }> {
  const cond: PutOptions = ctx.conditional ? (etag === undefined ? { ifNoneMatch: '*' } : { ifMatch: etag }) : {};
  return ctx.store.put(key, body, { ...options, ...cond });
}

/**
 * Write `key` only if it holds an older generation (or nothing): a monotonic register over conditional
 * writes. Returns false when a newer or equal generation is already there.
 */
export async function putIfNewer(ctx: RepositoryContext, key: string, body: () => Promise<Body>, generation: number, options: PutOptions = {}): Promise<boolean> {
  for (let attempt = 0; attempt < ctx.maxAttempts; attempt++) {
    const head = await ctx.store.head(key);
    const current = generationOf(head);
    if (head && current !== undefined && current >= generation) return false;
    if (ctx.dryRun) {
      ctx.log(`would write ${ctx.store.locate(key)}`);
      return true;
    }
    try {
      await conditionalPut(ctx, key, await body(), head?.etag, { ...options, metadata: { ...options.metadata, [META_GENERATION]: String(generation) } });
      return true;
    } catch (e) {
      if (!isPrecondition(e)) throw e;
      await sleep(backoffMs(attempt));
    }
  }
  throw new PublishError(`${ctx.store.locate(key)}: gave up after ${ctx.maxAttempts} attempts (other publishers kept writing it)`);
}

/** Remove a derived signature left from an older generation (signing was turned off). */
async function deleteIfOlder(ctx: RepositoryContext, key: string, generation: number): Promise<void> {
  const head = await ctx.store.head(key);
  if (!head || (generationOf(head) ?? -1) >= generation) return;
  if (ctx.dryRun) ctx.log(`would delete ${ctx.store.locate(key)}`);
  else await ctx.store.delete(key);
}

/**
 * Bring every derived object to `generation`: the db and plain copies from the rewrite's files, the
 * signatures made on demand (once each). `commitFile` is the exact file stored as the commit object.
 */
export async function syncDerived(ctx: RepositoryContext, ref: RepoRef, generation: number, rewrite: RewriteResult, commitFile: string, presigned: { commit?: Buffer } = {}): Promise<number> {
  const keys = databaseKeys(ref);
  const signer = ctx.databaseSigner;
  const memo = new Map<string, Promise<Buffer>>();
  const sig = (file: string): (() => Promise<Body>) => () => {
    if (!signer) throw new Error('unreachable: no signer');
    if (file === commitFile && presigned.commit) return Promise.resolve(presigned.commit);
    let p = memo.get(file);
    if (!p) memo.set(file, (p = signer.signFile(file)));
    return p;
  };
  const file = (f: string): (() => Promise<Body>) => () => Promise.resolve({ file: f });
  const opts: PutOptions = { cacheControl: DB_CACHE_CONTROL };
  // pacman reads <repo>.db then <repo>.db.sig: each signature right after its file; the chains run in parallel
  const chains: [string, () => Promise<Body>, boolean][][] = [
    [[`${keys.files}.sig`, sig(commitFile), true]],
    [[keys.dbPlain, file(rewrite.dbFile), false], [`${keys.dbPlain}.sig`, sig(rewrite.dbFile), true]],
    [[keys.db, file(rewrite.dbFile), false], [`${keys.db}.sig`, sig(rewrite.dbFile), true]],
    [[keys.filesPlain, file(rewrite.filesFile), false], [`${keys.filesPlain}.sig`, sig(rewrite.filesFile), true]],
  ];
  let written = 0;
  await Promise.all(
    chains.map(async (chain) => {
      for (const [key, body, isSig] of chain) {
        if (isSig && !signer) await deleteIfOlder(ctx, key, generation);
        else if (await putIfNewer(ctx, key, body, generation, opts)) written++;
      }
    }),
  );
  return written;
}

/** The lowest generation among the derived databases (what a client may still be served). */
async function derivedGenerations(ctx: RepositoryContext, ref: RepoRef): Promise<number[]> {
  const keys = databaseKeys(ref);
  const heads = await Promise.all([keys.db, keys.dbPlain, keys.filesPlain].map((k) => ctx.store.head(k)));
  return heads.map((h) => generationOf(h) ?? -1);
}

export interface CommitOptions {
  /** throws to abort the change (e.g. a same-named file with other contents) */
  validate?: (rewrite: RewriteResult) => void;
  /** why files are dropped, recorded with their pending deletion */
  reason: string;
}

/**
 * Apply `change` to the repository's database: one conditional rewrite, retried on conflicts. Files the
 * new database no longer names are recorded for deferred deletion first.
 */
export async function commitDatabase(ctx: RepositoryContext, ref: RepoRef, change: DatabaseChange, options: CommitOptions): Promise<CommitResult> {
  const keys = databaseKeys(ref);
  const where = ctx.store.locate(keys.files);
  for (let attempt = 1; attempt <= ctx.maxAttempts; attempt++) {
    const dir = await mkdtemp(join(ctx.tmpDir, 'db-'));
    try {
      const currentFile = join(dir, 'current.files.tar.zst');
      const current = await ctx.store.download(keys.files, currentFile);
      let generation = generationOf(current) ?? 0;
      // metadata lost (copied by another tool): never go below what the derived objects say
      if (current && generationOf(current) === undefined) generation = Math.max(0, ...(await derivedGenerations(ctx, ref)));
      const rewrite = await rewriteDatabase(current ? currentFile : undefined, change, dir, where);
      options.validate?.(rewrite);
      if (!rewrite.changed) {
        // nothing to commit; repair derived objects a killed publisher may have left behind
        if (current) await syncDerived(ctx, ref, generation, rewrite, currentFile);
        return { ref, generation, changed: false, rewrite, attempts: attempt };
      }
      const next = generation + 1;
      const gone = rewrite.removed.flatMap((r) => [r.filename, `${r.filename}.sig`]);
      if (ctx.dryRun) {
        ctx.log(`would write ${where} (generation ${next}: +${change.add.length} entries, -${rewrite.removed.length})`);
        for (const f of gone) ctx.log(`would schedule deletion of ${ctx.store.locate(`${repoDir(ref)}/${f}`)} (after the grace period)`);
        await syncDerived(ctx, ref, next, rewrite, rewrite.filesFile);
        return { ref, generation: next, changed: true, rewrite, attempts: attempt };
      }
      if (gone.length) await addPendingDeletions(ctx, ref, gone, next, options.reason);
      const commitSig = ctx.databaseSigner ? await ctx.databaseSigner.signFile(rewrite.filesFile) : undefined;
      try {
        await conditionalPut(ctx, keys.files, { file: rewrite.filesFile }, current?.etag, { metadata: { [META_GENERATION]: String(next) }, cacheControl: DB_CACHE_CONTROL });
      } catch (e) {
        if (!isPrecondition(e)) throw e;
        ctx.log(`${where}: changed by another publisher, retrying (attempt ${attempt})`);
        await sleep(backoffMs(attempt, 100, 3000));
        continue;
      }
      ctx.log(`committed ${where} generation ${next}`);
      await syncDerived(ctx, ref, next, rewrite, rewrite.filesFile, commitSig ? { commit: commitSig } : {});
      return { ref, generation: next, changed: true, rewrite, attempts: attempt };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  throw new PublishError(`${where}: gave up after ${ctx.maxAttempts} attempts: other publishers kept changing the database; nothing of this change was committed`);
}

/** Read the repository's current entries (undefined: no database yet). */
export async function readRepository(ctx: RepositoryContext, ref: RepoRef): Promise<{ entries: EntrySummary[]; generation: number; etag: string; file: string } | undefined> {
  const keys = databaseKeys(ref);
  const file = join(await mkdtemp(join(ctx.tmpDir, 'read-')), 'files.tar.zst');
  const info = await ctx.store.download(keys.files, file);
  if (!info) return undefined;
  return { entries: await readEntrySummaries(file), generation: generationOf(info) ?? 0, etag: info.etag, file };
}

// ---------------------------------------------------------------------------------------------------
// pending deletions

export interface PendingEntry {
  /** file name in the repository directory */
  file: string;
  /** when it stopped being named (ISO time): the grace period runs from here */
  since: string;
  /** the database generation that dropped it */
  generation: number;
  reason: string;
  state: 'pending' | 'deleting';
  /** when a prune marked it `deleting` */
  markedAt?: string;
}

interface PendingDocument {
  version: 1;
  entries: PendingEntry[];
}

function parsePending(key: string, body: Buffer): PendingDocument {
  try {
    const doc = JSON.parse(body.toString('utf8')) as PendingDocument;
    if (doc.version !== 1 || !Array.isArray(doc.entries)) throw new Error('unexpected structure');
    return doc;
  } catch (e) {
    throw new PublishError(`${key}: unreadable pending-deletion list: ${(e as Error).message}`);
  }
}

/** Read-modify-write of the pending list; `edit` returns false when it changed nothing. */
export async function updatePending(ctx: RepositoryContext, ref: RepoRef, edit: (entries: PendingEntry[]) => boolean): Promise<PendingEntry[]> {
  const key = databaseKeys(ref).pending;
  for (let attempt = 0; attempt < ctx.maxAttempts; attempt++) {
    const cur = await ctx.store.get(key);
    const doc: PendingDocument = cur ? parsePending(ctx.store.locate(key), cur.body) : { version: 1, entries: [] };
    if (!edit(doc.entries)) return doc.entries;
    if (ctx.dryRun) return doc.entries;
    try {
      await conditionalPut(ctx, key, Buffer.from(`${JSON.stringify(doc, null, 1)}\n`), cur?.info.etag, { contentType: 'application/json', cacheControl: DB_CACHE_CONTROL });
      return doc.entries;
    } catch (e) {
      if (!isPrecondition(e)) throw e;
      await sleep(backoffMs(attempt));
    }
  }
  throw new PublishError(`${ctx.store.locate(key)}: gave up after ${ctx.maxAttempts} attempts (other publishers kept writing it)`);
}

export async function readPending(ctx: RepositoryContext, ref: RepoRef): Promise<PendingEntry[]> {
  const key = databaseKeys(ref).pending;
  const cur = await ctx.store.get(key);
  return cur ? parsePending(ctx.store.locate(key), cur.body).entries : [];
}

async function addPendingDeletions(ctx: RepositoryContext, ref: RepoRef, files: string[], generation: number, reason: string): Promise<void> {
  const since = new Date(ctx.now()).toISOString();
  await updatePending(ctx, ref, (entries) => {
    for (const file of files) {
      const e = entries.find((x) => x.file === file);
      // dropped again: the grace period starts again
      if (e) Object.assign(e, { since, generation, reason, state: e.state });
      else entries.push({ file, since, generation, reason, state: 'pending' });
    }
    return true;
  });
}

/** After a prune crashed while deleting, or a publish was killed: how long a `deleting` mark is honoured. */
export const STALE_MARK_MS = 10 * 60_000;

/**
 * After a commit that names `files`: make sure each still exists. A concurrent prune may have marked one
 * `deleting` before our commit; wait for it to finish, then put back (`restore`) whatever it removed.
 */
export async function ensureNamedFilesExist(ctx: RepositoryContext, ref: RepoRef, files: Map<string, () => Promise<void>>, waitMs = 60_000): Promise<string[]> {
  if (ctx.dryRun || files.size === 0) return [];
  const deadline = Date.now() + waitMs;
  for (;;) {
    const marked = (await readPending(ctx, ref)).filter((e) => e.state === 'deleting' && files.has(e.file));
    if (marked.length === 0) break;
    if (Date.now() > deadline) {
      ctx.log(`warning: ${marked.map((m) => m.file).join(', ')} still marked for deletion by a prune after ${waitMs / 1000} s; checking the files anyway`);
      break;
    }
    await sleep(250);
  }
  const restored: string[] = [];
  for (const [file, restore] of files) {
    if (await ctx.store.head(`${repoDir(ref)}/${file}`)) continue;
    ctx.log(`${ctx.store.locate(`${repoDir(ref)}/${file}`)}: removed by a concurrent prune, putting it back`);
    await restore();
    restored.push(file);
  }
  return restored;
}

export interface DeletionReport {
  ref: RepoRef;
  deleted: string[];
  /** pending files still inside their grace period, with the time they become deletable */
  waiting: { file: string; due: string }[];
  /** pending files a database names again: dropped from the list, kept */
  renamed: string[];
  /** derived objects that were behind the commit point and were rewritten */
  repaired: number;
}

/**
 * Delete what is due: pending files past the grace period that no database names, and (with `orphans`)
 * package files nothing ever named that are older than the grace period (left by killed publishers).
 */
export async function processDeletions(ctx: RepositoryContext, ref: RepoRef, options: { orphans: boolean }): Promise<DeletionReport> {
  const report: DeletionReport = { ref, deleted: [], waiting: [], renamed: [], repaired: 0 };
  const now = ctx.now();
  const dir = repoDir(ref);
  const pending = await readPending(ctx, ref);
  const isDue = (e: PendingEntry): boolean =>
    e.state === 'deleting' ? now - Date.parse(e.markedAt ?? e.since) >= STALE_MARK_MS : now - Date.parse(e.since) >= ctx.gracePeriodMs;
  for (const e of pending) if (!isDue(e)) report.waiting.push({ file: e.file, due: new Date(Date.parse(e.since) + ctx.gracePeriodMs).toISOString() });
  let listing: ObjectInfo[] = [];
  if (options.orphans) listing = (await ctx.store.list(`${dir}/`)).filter((o) => isPackageObject(ref, o.key));
  if (!pending.some(isDue) && listing.length === 0) return report;

  // what the commit point names; repair derived objects that lag behind it (a killed publisher)
  const tmp = await mkdtemp(join(ctx.tmpDir, 'prune-'));
  try {
    const keys = databaseKeys(ref);
    const currentFile = join(tmp, 'current.files.tar.zst');
    const current = await ctx.store.download(keys.files, currentFile);
    if (!current) return report;
    const generation = generationOf(current) ?? 0;
    const entries = await readEntrySummaries(currentFile);
    const named = new Set(entries.flatMap((e) => [e.filename, `${e.filename}.sig`]));
    const lowest = Math.min(...(await derivedGenerations(ctx, ref)));
    if (lowest < generation) {
      const rewrite = await rewriteDatabase(currentFile, { add: [] }, tmp, ctx.store.locate(keys.files));
      report.repaired = await syncDerived(ctx, ref, generation, rewrite, currentFile);
      // clients were served the old database until now: restart the grace period of what it named
      const since = new Date(ctx.now()).toISOString();
      await updatePending(ctx, ref, (list) => {
        const stale = list.filter((e) => e.generation > lowest && e.state === 'pending');
        for (const e of stale) e.since = since;
        return stale.length > 0;
      });
      return report;
    }

    const pendingFiles = new Set(pending.map((e) => e.file));
    const candidates = new Set<string>();
    for (const e of pending) {
      if (!isDue(e)) continue;
      if (named.has(e.file)) report.renamed.push(e.file);
      else candidates.add(e.file);
    }
    for (const o of listing) {
      const file = o.key.slice(dir.length + 1);
      if (!named.has(file) && !pendingFiles.has(file) && now - o.lastModified.getTime() >= ctx.gracePeriodMs) candidates.add(file);
    }
    if (ctx.dryRun) {
      for (const f of candidates) ctx.log(`would delete ${ctx.store.locate(`${dir}/${f}`)}`);
      report.deleted = [...candidates];
      return report;
    }
    if (candidates.size > 0) {
      // fence: mark, re-read the commit point, delete only what it still does not name
      const markedAt = new Date(ctx.now()).toISOString();
      await updatePending(ctx, ref, (list) => {
        for (const file of candidates) {
          const e = list.find((x) => x.file === file);
          if (e) Object.assign(e, { state: 'deleting', markedAt });
          else list.push({ file, since: markedAt, generation, reason: 'orphan: never named by a database', state: 'deleting', markedAt });
        }
        return true;
      });
      const again = await ctx.store.head(keys.files);
      if (again && again.etag !== current.etag) {
        const fresh = join(tmp, 'again.files.tar.zst');
        await ctx.store.download(keys.files, fresh);
        for (const e of await readEntrySummaries(fresh)) {
          for (const f of [e.filename, `${e.filename}.sig`]) {
            if (candidates.delete(f)) report.renamed.push(f);
          }
        }
      }
      for (const f of candidates) {
        await ctx.store.delete(`${dir}/${f}`);
        report.deleted.push(f);
        ctx.log(`deleted ${ctx.store.locate(`${dir}/${f}`)}`);
      }
    }
    const drop = new Set([...report.deleted, ...report.renamed]);
    if (drop.size > 0) {
      await updatePending(ctx, ref, (list) => {
        const before = list.length;
        const keep = list.filter((e) => !drop.has(e.file));
        list.splice(0, list.length, ...keep);
        return keep.length !== before;
      });
    }
    return report;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
