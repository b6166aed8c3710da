/**
 * ObjectStore on a local directory (served by a web server, or read by pacman through `file://`).
 *
 * Same contract as S3: a write lands in `.pkgnx-store/tmp/` first and is renamed into place, so a reader
 * never sees a partial file and a killed writer leaves the old one. Conditional writes compare versions
 * under an exclusive flock on `.pkgnx-store/lock` held by every writer of the directory, so concurrent
 * processes (and machines sharing the directory over NFS with working locks) serialise their checks.
 *
 * Version (ETag) = inode, size and nanosecond mtime of the file: every write is a new inode, so an
 * overwritten object never keeps its version. User metadata lives in `.pkgnx-store/meta/<key>.json`
 * together with the version it belongs to; a metadata file of another version is ignored.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { acquireLock } from '../process/flock';
import { pidAlive } from '../process/tree';
import { checkKey, StoreError, type Body, type CopyOptions, type ObjectInfo, type ObjectStore, type PutOptions } from './store';

export const LOCAL_STORE_DIR = '.pkgnx-store';

interface Sidecar {
  etag: string;
  metadata: Record<string, string>;
}

export class LocalStore implements ObjectStore {
  readonly description: string;
  readonly supportsConditionalWritesNatively = true;
  private readonly internal: string;
  private readonly tmpDir: string;
  private swept = false;

  constructor(readonly root: string) {
    this.description = root;
    this.internal = join(root, LOCAL_STORE_DIR);
    this.tmpDir = join(this.internal, 'tmp');
  }

  private path(key: string): string {
    return join(this.root, checkKey(key));
  }

  private metaPath(key: string): string {
    return join(this.internal, 'meta', `${checkKey(key)}.json`);
  }

  locate(key: string): string {
    return this.path(key);
  }

  close(): void {}

  async check(): Promise<void> {
    const s = await stat(this.root).catch(() => undefined);
    if (!s?.isDirectory()) throw new StoreError('no-bucket', `${this.root}: destination directory does not exist (create it with mkdir -p)`);
    await mkdir(this.tmpDir, { recursive: true });
    await this.sweepTemporaries();
  }

  /** Temporary files of writers that died (SIGKILL) are removed; live writers' files are kept. */
  private async sweepTemporaries(): Promise<void> {
    if (this.swept) return;
    this.swept = true;
    for (const name of await readdir(this.tmpDir).catch(() => [] as string[])) {
      const pid = Number(/^(\d+)-/.exec(name)?.[1]);
      if (pid && pid !== process.pid && !pidAlive(pid)) await rm(join(this.tmpDir, name), { force: true });
    }
  }

  private static etagOf(s: { ino: bigint; size: bigint; mtimeNs: bigint }): string {
    return `"${s.ino}-${s.size}-${s.mtimeNs}"`;
  }

  private async currentEtag(key: string): Promise<string | undefined> {
    const s = await stat(this.path(key), { bigint: true }).catch(() => undefined);
    return s?.isFile() ? LocalStore.etagOf(s) : undefined;
  }

  private async metadataFor(key: string, etag: string): Promise<Record<string, string>> {
    try {
      const side = JSON.parse(await readFile(this.metaPath(key), 'utf8')) as Sidecar;
      return side.etag === etag ? side.metadata : {};
    } catch {
      return {};
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const s = await stat(this.path(key), { bigint: true }).catch(() => undefined);
    if (!s?.isFile()) return undefined;
    const etag = LocalStore.etagOf(s);
    return { key, etag, size: Number(s.size), lastModified: new Date(Number(s.mtimeMs)), metadata: await this.metadataFor(key, etag) };
  }

  async get(key: string): Promise<{ info: ObjectInfo; body: Buffer } | undefined> {
    // read through one open descriptor: a concurrent rename cannot mix two versions
    const fh = await open(this.path(key), 'r').catch(() => undefined);
    if (!fh) return undefined;
    try {
      const s = await fh.stat({ bigint: true });
      const etag = LocalStore.etagOf(s);
      const body = await fh.readFile();
      return { info: { key, etag, size: body.length, lastModified: new Date(Number(s.mtimeMs)), metadata: await this.metadataFor(key, etag) }, body };
    } finally {
      await fh.close();
    }
  }

  async download(key: string, file: string): Promise<ObjectInfo | undefined> {
    const fh = await open(this.path(key), 'r').catch(() => undefined);
    if (!fh) return undefined;
    const tmp = `${file}.part-${process.pid}`;
    try {
      const s = await fh.stat({ bigint: true });
      const etag = LocalStore.etagOf(s);
      await pipeline(fh.createReadStream({ autoClose: false }), createWriteStream(tmp));
      await rename(tmp, file);
      return { key, etag, size: Number(s.size), lastModified: new Date(Number(s.mtimeMs)), metadata: await this.metadataFor(key, etag) };
    } catch (e) {
      await rm(tmp, { force: true });
      throw new StoreError('other', `${this.path(key)}: read failed: ${(e as Error).message}`, { cause: e });
    } finally {
      await fh.close();
    }
  }

  /** Write `fill` into a new temporary file in the store (same filesystem: rename is atomic), fsync'd. */
  private async stage(fill: (tmp: string) => Promise<void>): Promise<string> {
    await mkdir(this.tmpDir, { recursive: true });
    const tmp = join(this.tmpDir, `${process.pid}-${randomUUID()}`);
    try {
      await fill(tmp);
      const fh = await open(tmp, 'r+');
      await fh.sync();
      await fh.close();
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    return tmp;
  }

  /** Under the directory lock: check the condition, rename the staged file into place, record metadata. */
  private async commit(key: string, tmp: string, options: PutOptions, metadata: Record<string, string> | undefined): Promise<{ etag: string }> {
    const release = await acquireLock(join(this.internal, 'lock'));
    try {
      const current = await this.currentEtag(key);
      if (options.ifNoneMatch === '*' && current !== undefined) throw new StoreError('precondition', `${this.path(key)}: exists (If-None-Match: *)`);
      if (options.ifMatch !== undefined && current !== options.ifMatch) {
        throw new StoreError('precondition', `${this.path(key)}: ${current === undefined ? 'does not exist' : 'changed'} (If-Match ${options.ifMatch})`);
      }
      const dest = this.path(key);
      await mkdir(dirname(dest), { recursive: true });
      await rename(tmp, dest);
      const etag = (await this.currentEtag(key)) as string;
      const metaFile = this.metaPath(key);
      if (metadata && Object.keys(metadata).length > 0) {
        await mkdir(dirname(metaFile), { recursive: true });
        const metaTmp = `${metaFile}.tmp-${process.pid}`;
        await writeFile(metaTmp, JSON.stringify({ etag, metadata } satisfies Sidecar));
        await rename(metaTmp, metaFile);
      } else await rm(metaFile, { force: true });
      return { etag };
    } finally {
      release();
      await rm(tmp, { force: true });
    }
  }

  async put(key: string, body: Body, options: PutOptions = {}): Promise<{ etag: string }> {
    const tmp = await this.stage(async (t) => {
      if (Buffer.isBuffer(body)) await writeFile(t, body);
      else await copyFile(body.file, t);
    });
    return this.commit(key, tmp, options, options.metadata);
  }

  async copy(sourceKey: string, key: string, options: CopyOptions = {}): Promise<{ etag: string }> {
    const source = await this.head(sourceKey);
    if (!source) throw new StoreError('other', `${this.path(sourceKey)}: copy source does not exist`);
    const tmp = await this.stage((t) => pipeline(createReadStream(this.path(sourceKey)), createWriteStream(t)));
    return this.commit(key, tmp, {}, options.metadata ?? source.metadata);
  }

  async delete(key: string): Promise<void> {
    await mkdir(this.internal, { recursive: true });
    const release = await acquireLock(join(this.internal, 'lock'));
    try {
      await rm(this.path(key), { force: true });
      await rm(this.metaPath(key), { force: true });
    } finally {
      release();
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    // start at the deepest directory the prefix names
    const dirPart = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const start = dirPart ? join(this.root, checkKey(dirPart)) : this.root;
    if (!existsSync(start)) return out;
    const walk = async (dir: string): Promise<void> => {
      for (const ent of await readdir(dir, { withFileTypes: true })) {
        const full = join(dir, ent.name);
        const key = relative(this.root, full).split(sep).join('/');
        if (key === LOCAL_STORE_DIR) continue;
        if (ent.isDirectory()) {
          if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(full);
        } else if (ent.isFile() && key.startsWith(prefix)) {
          const info = await this.head(key);
          if (info) out.push(info);
        }
      }
    };
    await walk(start);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}
