/**
 * Promotion with dbscripts' `db-move` meaning: whole pkgbases, with every split package, move from one
 * repository to another (extra-testing -> extra). The package files are copied server-side, the target
 * database gains the entries (their desc and files text unchanged), then the source database loses
 * exactly those versions; the files left in the source are deleted after the grace period. The target
 * database never names a missing file; a package is always in at least one of the two databases.
 */
import { readDatabaseEntries, summarize, type DbEntry } from './database';
import { PublishError } from './errors';
import { META_SHA256, databaseKeys, fileKey, type RepoRef } from './layout';
import { publicLocation } from './publish';
import { commitDatabase, ensureNamedFilesExist, readRepository } from './repository';
import type { Session } from './session';

export interface PromoteRequest {
  arch: string;
  pkgbases: string[];
  from: string;
  to: string;
}

export interface PromoteReport {
  arch: string;
  from: { ref: RepoRef; generation: number; location: string };
  to: { ref: RepoRef; generation: number; location: string };
  dryRun: boolean;
  /** pkgbase -> the package files moved */
  moved: Record<string, string[]>;
  copied: string[];
  /** files of the target's older versions, deleted after the grace period */
  replacedInTarget: string[];
}

export async function promotePackages(session: Session, request: PromoteRequest): Promise<PromoteReport> {
  const { ctx, store } = session;
  if (request.from === request.to) throw new PublishError(`promote: --from and --to are both '${request.from}'`);
  const from: RepoRef = { repo: request.from, arch: request.arch };
  const to: RepoRef = { repo: request.to, arch: request.arch };
  const source = await readRepository(ctx, from);
  if (!source) throw new PublishError(`${store.locate(databaseKeys(from).files)}: repository ${from.repo} (${from.arch}) has no database`);
  const texts = await readDatabaseEntries(source.file);

  const moved: Record<string, string[]> = {};
  const entries: DbEntry[] = [];
  const dirs: string[] = [];
  for (const pkgbase of request.pkgbases) {
    const mine = source.entries.filter((e) => e.base === pkgbase);
    if (mine.length === 0) throw new PublishError(`${pkgbase}: no package of this pkgbase in ${from.repo} (${store.locate(databaseKeys(from).files)})`);
    moved[pkgbase] = mine.map((e) => e.filename);
    for (const e of mine) {
      const t = texts.get(e.dir);
      if (!t?.desc) throw new PublishError(`${store.locate(databaseKeys(from).files)}: entry ${e.dir} has no desc`);
      entries.push({ dir: e.dir, name: e.name, desc: t.desc, files: t.files ?? '%FILES%\n' });
      dirs.push(e.dir);
    }
  }

  // copy the files (server-side) before the target database names them
  const copied: string[] = [];
  const copies: { src: string; dest: string }[] = [];
  for (const e of entries) {
    const s = summarize(e.dir, e.desc);
    for (const name of [s.filename, `${s.filename}.sig`]) {
      const src = fileKey(from, name);
      const dest = fileKey(to, name);
      const [srcHead, destHead] = await Promise.all([store.head(src), store.head(dest)]);
      if (!srcHead) {
        if (name.endsWith('.sig')) continue;
        throw new PublishError(`${store.locate(src)}: named by ${from.repo}'s database but missing; run prune --arch ${from.arch} --repo ${from.repo} to check the repository`);
      }
      if (destHead) {
        const a = srcHead.metadata[META_SHA256] ?? srcHead.etag;
        const b = destHead.metadata[META_SHA256] ?? destHead.etag;
        if (!name.endsWith('.sig') && a !== b) throw new PublishError(`${store.locate(dest)}: a different ${name} is already in ${to.repo}; published files never change`);
        continue;
      }
      copies.push({ src, dest });
    }
  }
  for (const c of copies) {
    if (ctx.dryRun) ctx.log(`would copy ${store.locate(c.src)} -> ${store.locate(c.dest)}`);
    else {
      await store.copy(c.src, c.dest);
      ctx.log(`copied ${store.locate(c.src)} -> ${store.locate(c.dest)}`);
    }
    copied.push(c.dest);
  }

  const target = await commitDatabase(ctx, to, { add: entries }, { reason: `replaced by promotion of ${request.pkgbases.join(', ')} from ${from.repo}` });
  const restore = new Map<string, () => Promise<void>>();
  for (const e of entries) {
    const f = summarize(e.dir, e.desc).filename;
    for (const name of [f, `${f}.sig`]) if (!name.endsWith('.sig') || copies.some((c) => c.dest === fileKey(to, name))) restore.set(name, async () => void (await store.copy(fileKey(from, name), fileKey(to, name))));
  }
  await ensureNamedFilesExist(ctx, to, restore);
  const sourceCommit = await commitDatabase(ctx, from, { add: [], removeDirs: dirs }, { reason: `promoted to ${to.repo}` });
  return {
    arch: request.arch,
    from: { ref: from, generation: sourceCommit.generation, location: publicLocation(session, from) },
    to: { ref: to, generation: target.generation, location: publicLocation(session, to) },
    dryRun: ctx.dryRun,
    moved,
    copied,
    replacedInTarget: target.rewrite.removed.map((r) => r.filename),
  };
}
