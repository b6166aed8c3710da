/**
 * Publishing package files into their repositories.
 *
 * 1. read and check every package (name against .PKGINFO, architecture, duplicates) and route it;
 * 2. look at what the store already has: a file of the same name must be the same file (published files
 *    never change), and its published signature is reused, so republishing changes nothing;
 * 3. sign what needs a signature; all of this before the first upload;
 * 4. upload package files and signatures (If-None-Match: *), before any database names them;
 * 5. one database commit per repository, however many packages; then check that every file the new
 *    database names from this run exists (a concurrent prune is put right);
 * 6. delete what earlier publishes scheduled and whose grace period is over.
 *
 * Steps 1-4 are `stagePackages`, steps 5-6 `commitStaged`: the Nx publish target stages per task and the
 * plugin commits once per repository after the run; `publishPackages` is both in sequence. A staged
 * package is plain JSON, so it can wait in a file between the two (a killed run leaves uploaded files no
 * database names: a later publish finds them identical and commits them, or prune deletes them).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { entryFromPackage, type DbEntry, type EntrySummary } from './database';
import { PublishError } from './errors';
import { META_SHA256, PACKAGE_CACHE_CONTROL, databaseKeys, fileKey, repoDir, type RepoRef } from './layout';
import { PackageFileError, readPackageFile, type PackageFile } from './package-file';
import { commitDatabase, ensureNamedFilesExist, processDeletions, type DeletionReport } from './repository';
import type { Route } from './routing';
import type { Session } from './session';
import { isPrecondition } from './store';

export interface PublishInput {
  file: string;
  /** the project (pkgbase directory) it came from, for routing overrides and messages */
  project?: string;
}

export interface RepositoryReport {
  ref: RepoRef;
  /** where clients find it: `<publicUrl or store location>/<repo>/os/<arch>` */
  location: string;
  generation: number;
  changed: boolean;
  /** package files new in this repository's database */
  added: string[];
  /** already published exactly so */
  unchanged: string[];
  /** files the database no longer names, deleted after the grace period */
  scheduledForDeletion: string[];
  /** objects uploaded by this run (packages and signatures) */
  uploaded: string[];
  routes: Record<string, string>;
}

export interface PublishReport {
  destination: string;
  arch: string;
  dryRun: boolean;
  repositories: RepositoryReport[];
  deletions: DeletionReport[];
}

export interface PublishRequest {
  arch: string;
  inputs: PublishInput[];
  route: (pkgbase: string, project: string | undefined) => Route;
  /** skip step 6 */
  noPrune?: boolean;
}

/** A package uploaded (with its signature) and ready to be named by its repository's database; plain JSON. */
export interface StagedPackage {
  /** the local package file (kept: a concurrent prune's deletion is put right from it) */
  path: string;
  filename: string;
  project?: string;
  repo: string;
  /** why it goes to `repo` */
  reason: string;
  key: string;
  pkgname: string;
  sha256: string;
  md5: string;
  csize: number;
  /** base64 of the signature the database entry carries */
  signature?: string;
  /** the database entry (desc with %PGPSIG%, file list) */
  entry: DbEntry;
  /** objects this stage uploaded (the package file, its signature) */
  uploaded: string[];
}

export interface StagedPublish {
  arch: string;
  /** the store it was staged into (the commit must use the same) */
  destination: string;
  dryRun: boolean;
  packages: StagedPackage[];
}

interface Planned {
  pkg: PackageFile;
  input: PublishInput;
  route: Route;
  ref: RepoRef;
  key: string;
  /** the signature the database entry gets (published one reused, local `.sig`, or made now) */
  signature?: Buffer;
  uploadPackage: boolean;
  uploadSignature: boolean;
  /** an incomplete object of this name to overwrite (If-Match its ETag) */
  replaceEtag?: string;
}

async function sha256Of(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return h.digest('hex');
}

/** At most `n` promises at a time, results in order. */
async function mapLimit<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (i < items.length) {
        const k = i++;
        out[k] = await fn(items[k]);
      }
    }),
  );
  return out;
}

export function publicLocation(session: Session, ref: RepoRef): string {
  const base = session.config.publicUrl;
  return base ? `${base}/${repoDir(ref)}` : session.store.locate(repoDir(ref));
}

export async function publishPackages(session: Session, request: PublishRequest): Promise<PublishReport> {
  return commitStaged(session, await stagePackages(session, request), { noPrune: request.noPrune ?? false });
}

/** One pkgname once per repository: two versions of a package in one commit is a mistake. */
function checkTwins<T>(items: T[], repoOf: (t: T) => string, nameOf: (t: T) => string, pathOf: (t: T) => string): Map<string, T[]> {
  const byRepo = new Map<string, T[]>();
  for (const item of items) {
    const list = byRepo.get(repoOf(item)) ?? [];
    const twin = list.find((q) => nameOf(q) === nameOf(item));
    if (twin) throw new PackageFileError(pathOf(item), `package '${nameOf(item)}' is also given as ${pathOf(twin)} for repository ${repoOf(item)}: publish one version`);
    list.push(item);
    byRepo.set(repoOf(item), list);
  }
  return byRepo;
}

/** Steps 1-4: read, check, route, sign and upload; no database is touched. */
export async function stagePackages(session: Session, request: PublishRequest): Promise<StagedPublish> {
  const { ctx, store } = session;
  const { arch } = request;
  const log = ctx.log;

  // 1. read and check
  const pkgs = await mapLimit(request.inputs, 4, async (input) => ({ input, pkg: await readPackageFile(input.file) }));
  const planned: Planned[] = [];
  for (const { input, pkg } of pkgs) {
    const pkgArch = pkg.info.arch ?? '';
    if (pkgArch !== arch && pkgArch !== 'any') throw new PackageFileError(pkg.path, `built for '${pkgArch}', not for --arch ${arch}`);
    const pkgbase = pkg.info.pkgbase ?? pkg.info.pkgname;
    const route = request.route(pkgbase, input.project);
    const ref: RepoRef = { repo: route.repo, arch };
    planned.push({ pkg, input, route, ref, key: fileKey(ref, pkg.filename), uploadPackage: false, uploadSignature: false });
  }
  checkTwins(planned, (p) => p.ref.repo, (p) => p.pkg.info.pkgname, (p) => p.pkg.path);

  // 2. what is already published
  await mapLimit(planned, 8, async (p) => {
    const head = await store.head(p.key);
    if (head && head.metadata[META_SHA256] === p.pkg.sha256 && head.size !== p.pkg.csize) {
      // cut short by a killed upload on a server that kept the part it received: replace it
      log(`warning: ${store.locate(p.key)} is incomplete (${head.size} of ${p.pkg.csize} bytes), uploading it again`);
      p.uploadPackage = true;
      p.replaceEtag = head.etag;
      p.uploadSignature = Boolean(p.pkg.signature || session.packageSigner);
      return;
    }
    if (head) {
      const published = head.metadata[META_SHA256] ?? (await publishedSha256(session, p.key));
      if (published !== p.pkg.sha256) {
        throw new PublishError(
          `${p.pkg.path}: a different file of this name is already published at ${store.locate(p.key)} (sha256 ${published} there, ${p.pkg.sha256} here); ` +
            'published package files never change under their name (clients cache them): bump pkgrel and rebuild',
        );
      }
      const sig = await store.get(`${p.key}.sig`);
      if (sig) p.signature = sig.body;
      else p.uploadSignature = Boolean(p.pkg.signature || session.packageSigner);
    } else {
      p.uploadPackage = true;
      p.uploadSignature = Boolean(p.pkg.signature || session.packageSigner);
    }
  });

  // 3. signatures, before any upload
  for (const p of planned) {
    if (p.signature || !p.uploadSignature) continue;
    p.signature = p.pkg.signature ?? (await (session.packageSigner as NonNullable<Session['packageSigner']>).signFile(p.pkg.path));
  }

  // 4. upload package files, then signatures
  const uploaded = new Map<Planned, string[]>();
  const upload = async (p: Planned): Promise<void> => {
    const done: string[] = [];
    uploaded.set(p, done);
    if (p.uploadPackage) {
      if (ctx.dryRun) log(`would upload ${store.locate(p.key)}`);
      else {
        log(`uploading ${store.locate(p.key)} (${p.pkg.csize} bytes)`);
        await putPackageFile(session, stagedFile(p));
        done.push(p.pkg.filename);
      }
    }
    if (p.uploadSignature && p.signature) {
      if (ctx.dryRun) log(`would upload ${store.locate(`${p.key}.sig`)}`);
      else {
        p.signature = await putSignature(session, p.key, p.signature);
        done.push(`${p.pkg.filename}.sig`);
      }
    }
  };
  await mapLimit(planned, 4, upload);

  const packages = planned.map((p): StagedPackage => ({
    ...stagedFile(p),
    ...(p.input.project !== undefined ? { project: p.input.project } : {}),
    repo: p.ref.repo,
    reason: p.route.reason,
    pkgname: p.pkg.info.pkgname,
    ...(p.signature ? { signature: p.signature.toString('base64') } : {}),
    entry: entryFromPackage(p.pkg, p.signature),
    uploaded: uploaded.get(p) ?? [],
  }));
  return { arch, destination: store.description, dryRun: ctx.dryRun, packages };
}

/** the fields of a planned package that uploading it needs */
function stagedFile(p: Planned): UploadFile {
  return { path: p.pkg.path, filename: p.pkg.filename, key: p.key, sha256: p.pkg.sha256, md5: p.pkg.md5, csize: p.pkg.csize, ...(p.replaceEtag ? { replaceEtag: p.replaceEtag } : {}) };
}

/**
 * Steps 5-6: one database commit per repository for everything staged (from one stage or several,
 * e.g. every publish task of an Nx run), then the due deletions.
 */
export async function commitStaged(session: Session, staged: StagedPublish, options: { noPrune: boolean }): Promise<PublishReport> {
  const { ctx, store } = session;
  const { arch } = staged;
  if (staged.destination !== store.description) throw new PublishError(`staged for ${staged.destination}, committing to ${store.description}: the destination changed between staging and commit`);
  const byRepo = checkTwins(staged.packages, (p) => p.repo, (p) => p.pkgname, (p) => p.path);
  const repositories: RepositoryReport[] = [];
  const deletions: DeletionReport[] = [];
  for (const [repo, list] of [...byRepo].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const ref: RepoRef = { repo, arch };
    const byFile = new Map(list.map((p) => [p.filename, p]));
    const result = await commitDatabase(ctx, ref, { add: list.map((p) => p.entry) }, {
      reason: `replaced by ${list.map((p) => p.filename).join(', ')}`,
      validate: (rewrite) => {
        for (const d of rewrite.dropped) {
          const mine = byFile.get(d.filename);
          if (mine && d.sha256 && d.sha256 !== mine.sha256) {
            throw new PublishError(`${mine.path}: the database ${store.locate(databaseKeys(ref).files)} names ${d.filename} with sha256 ${d.sha256}, this file has ${mine.sha256}: published package files never change; bump pkgrel`);
          }
        }
      },
    });
    // already in the database with the same contents: unchanged; everything else: added
    const before = new Map<string, EntrySummary>(result.rewrite.dropped.map((d) => [d.filename, d]));
    const unchanged = list.filter((p) => before.get(p.filename)?.sha256 === p.sha256).map((p) => p.filename);
    const added = list.map((p) => p.filename).filter((f) => !unchanged.includes(f));
    const restore = new Map(list.map((p) => [p.filename, () => putPackageFile(session, p, true)]));
    for (const p of list) {
      const signature = p.signature;
      if (signature) restore.set(`${p.filename}.sig`, async () => void (await putSignature(session, p.key, Buffer.from(signature, 'base64'))));
    }
    await ensureNamedFilesExist(ctx, ref, restore);
    const routes: Record<string, string> = {};
    for (const p of list) routes[p.filename] = p.reason;
    repositories.push({
      ref,
      location: publicLocation(session, ref),
      generation: result.generation,
      changed: result.changed,
      added,
      unchanged,
      scheduledForDeletion: result.rewrite.removed.map((r) => r.filename),
      uploaded: list.flatMap((p) => p.uploaded),
      routes,
    });
    // 6. due deletions
    if (!options.noPrune && !ctx.dryRun) deletions.push(await processDeletions(ctx, ref, { orphans: false }));
  }
  return { destination: store.description, arch, dryRun: ctx.dryRun, repositories, deletions };
}

async function publishedSha256(session: Session, key: string): Promise<string> {
  // uploaded by another tool (no metadata): hash the published bytes
  const tmp = join(session.ctx.tmpDir, `verify-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const info = await session.store.download(key, tmp);
  if (!info) return '';
  try {
    return await sha256Of(tmp);
  } finally {
    await rm(tmp, { force: true });
  }
}

interface UploadFile {
  path: string;
  filename: string;
  key: string;
  sha256: string;
  md5: string;
  csize: number;
  /** an incomplete object of this name to overwrite (If-Match its ETag) */
  replaceEtag?: string;
}

/** Upload a package file; a concurrent identical upload is fine, a different file of the name is not. */
async function putPackageFile(session: Session, p: UploadFile, replace = false): Promise<void> {
  const { ctx, store } = session;
  try {
    const condition = !ctx.conditional || replace ? {} : p.replaceEtag ? { ifMatch: p.replaceEtag } : { ifNoneMatch: '*' as const };
    await store.put(p.key, { file: p.path }, {
      ...condition,
      md5: p.md5,
      metadata: { [META_SHA256]: p.sha256 },
      cacheControl: PACKAGE_CACHE_CONTROL,
    });
  } catch (e) {
    if (!isPrecondition(e)) throw e;
    const head = await store.head(p.key);
    if (head?.metadata[META_SHA256] !== p.sha256 || head.size !== p.csize) {
      throw new PublishError(`${p.path}: another publisher uploaded a different ${p.filename} to ${store.locate(p.key)} at the same time; bump pkgrel`);
    }
  }
}

/** Upload a signature; when another publisher got there first, theirs is the one (returned). */
async function putSignature(session: Session, key: string, signature: Buffer): Promise<Buffer> {
  const { ctx, store } = session;
  const sigKey = `${key}.sig`;
  try {
    await store.put(sigKey, signature, { ...(ctx.conditional ? { ifNoneMatch: '*' as const } : {}), cacheControl: PACKAGE_CACHE_CONTROL });
    return signature;
  } catch (e) {
    if (!isPrecondition(e)) throw e;
    const existing = await store.get(sigKey);
    return existing ? existing.body : signature;
  }
}
