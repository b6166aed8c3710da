/**
 * Reader for pacman sync databases (`<repo>.db`, `<repo>.files`): a tar archive, compressed with
 * gzip, zstd, xz, bzip2 or not at all, holding one `<name>-<version>/desc` (and `files`) per package.
 * Compression is detected from the magic bytes, as libalpm does: a file named `.xz` may hold zstd.
 */
import { readFile } from 'node:fs/promises';
import { gunzipSync, bunzip2Sync, xzDecompress } from './compression';
import { extract } from 'tar-stream';
import { Readable } from 'node:stream';

export type Compression = 'gzip' | 'zstd' | 'xz' | 'bzip2' | 'none';

export interface SyncPackage {
  /** repository name the package came from (file name without `.db...`, or as given) */
  repo: string;
  name: string;
  base: string;
  version: string;
  desc: string;
  arch: string;
  filename: string;
  csize?: number;
  isize?: number;
  sha256sum?: string;
  md5sum?: string;
  pgpsig?: string;
  url?: string;
  builddate?: number;
  packager?: string;
  groups: string[];
  license: string[];
  replaces: string[];
  conflicts: string[];
  provides: string[];
  depends: string[];
  optdepends: string[];
  makedepends: string[];
  checkdepends: string[];
  /** %DATA% / xdata entries such as `pkgtype=pkg` */
  xdata: string[];
  /** from the `.files` database only */
  files?: string[];
  /** every %KEY% seen, raw, including ones this reader does not model */
  raw: Record<string, string[]>;
}

export interface SyncDatabase {
  repo: string;
  compression: Compression;
  packages: SyncPackage[];
  /** keys the reader did not know, as libalpm warns about them */
  unknownKeys: string[];
}

export function detectCompression(buf: Uint8Array): Compression {
  if (buf[0] === 0x1f && buf[1] === 0x8b) return 'gzip';
  if (buf[0] === 0x28 && buf[1] === 0xb5 && buf[2] === 0x2f && buf[3] === 0xfd) return 'zstd';
  if (buf[0] === 0xfd && buf[1] === 0x37 && buf[2] === 0x7a && buf[3] === 0x58 && buf[4] === 0x5a) return 'xz';
  if (buf[0] === 0x42 && buf[1] === 0x5a && buf[2] === 0x68) return 'bzip2';
  return 'none';
}

export async function decompress(buf: Uint8Array): Promise<{ data: Uint8Array; compression: Compression }> {
  const compression = detectCompression(buf);
  switch (compression) {
    case 'gzip':
      return { data: gunzipSync(buf), compression };
    case 'zstd': {
      const { decompress: unzstd } = await import('fzstd');
      return { data: unzstd(buf), compression };
    }
    case 'xz': {
      return { data: await xzDecompress(buf), compression };
    }
    case 'bzip2':
      return { data: bunzip2Sync(buf), compression };
    default:
      return { data: buf, compression };
  }
}

const LIST_KEYS: Record<string, keyof SyncPackage> = {
  GROUPS: 'groups',
  LICENSE: 'license',
  REPLACES: 'replaces',
  CONFLICTS: 'conflicts',
  PROVIDES: 'provides',
  DEPENDS: 'depends',
  OPTDEPENDS: 'optdepends',
  MAKEDEPENDS: 'makedepends',
  CHECKDEPENDS: 'checkdepends',
  DATA: 'xdata',
};
const KNOWN_KEYS = new Set([
  'FILENAME', 'NAME', 'BASE', 'VERSION', 'DESC', 'CSIZE', 'ISIZE', 'MD5SUM', 'SHA256SUM', 'PGPSIG', 'URL',
  'ARCH', 'BUILDDATE', 'PACKAGER', 'FILES', ...Object.keys(LIST_KEYS),
]);

/** Parse the `%KEY%\nvalue\n...\n\n` text of a `desc` or `files` entry. */
export function parseDescText(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  let key: string | undefined;
  for (const line of text.split('\n')) {
    if (line.length > 2 && line.startsWith('%') && line.endsWith('%')) {
      key = line.slice(1, -1);
      out[key] ??= [];
    } else if (line === '') {
      key = undefined;
    } else if (key) {
      out[key].push(line);
    }
  }
  return out;
}

export function packageFromDesc(repo: string, fields: Record<string, string[]>): SyncPackage {
  const one = (k: string): string | undefined => fields[k]?.[0];
  const num = (k: string): number | undefined => (one(k) === undefined ? undefined : Number(one(k)));
  const name = one('NAME') ?? '';
  const pkg: SyncPackage = {
    repo,
    name,
    base: one('BASE') ?? name,
    version: one('VERSION') ?? '',
    desc: one('DESC') ?? '',
    arch: one('ARCH') ?? '',
    filename: one('FILENAME') ?? '',
    groups: [], license: [], replaces: [], conflicts: [], provides: [], depends: [],
    optdepends: [], makedepends: [], checkdepends: [], xdata: [],
    raw: fields,
  };
  const optional: [keyof SyncPackage, string | number | undefined][] = [
    ['csize', num('CSIZE')], ['isize', num('ISIZE')], ['sha256sum', one('SHA256SUM')], ['md5sum', one('MD5SUM')],
    ['pgpsig', one('PGPSIG')], ['url', one('URL')], ['builddate', num('BUILDDATE')], ['packager', one('PACKAGER')],
  ];
  for (const [k, v] of optional) if (v !== undefined) (pkg as unknown as Record<string, unknown>)[k] = v;
  for (const [key, field] of Object.entries(LIST_KEYS)) if (fields[key]) (pkg as unknown as Record<string, unknown>)[field] = [...fields[key]];
  if (fields.FILES) pkg.files = [...fields.FILES];
  return pkg;
}

/** Repository name from a database file name: `extra.db.tar.gz` -> `extra`, `core.files` -> `core`. */
export function repoNameFromFile(file: string): string {
  const base = file.split('/').pop() ?? file;
  return base.replace(/\.(db|files)(\.tar(\.(gz|zst|xz|bz2))?)?$/, '');
}

/** Parse a database from bytes (any supported compression). */
export async function parseSyncDatabase(buf: Uint8Array, repo: string): Promise<SyncDatabase> {
  const { data, compression } = await decompress(buf);
  const entries = new Map<string, Record<string, string[]>>();
  const unknown = new Set<string>();
  await new Promise<void>((resolve, reject) => {
    const ex = extract();
    ex.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        const m = /^(?:\.\/)?([^/]+)\/(desc|files|depends)$/.exec(header.name);
        if (m && header.type === 'file') {
          const fields = parseDescText(Buffer.concat(chunks).toString('utf8'));
          const prev = entries.get(m[1]) ?? {};
          entries.set(m[1], { ...prev, ...fields });
        }
        next();
      });
      stream.on('error', reject);
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
    Readable.from([Buffer.from(data.buffer, data.byteOffset, data.byteLength)]).pipe(ex);
  });
  const packages: SyncPackage[] = [];
  for (const [dir, fields] of [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    for (const k of Object.keys(fields)) if (!KNOWN_KEYS.has(k)) unknown.add(k);
    if (!fields.NAME) throw new Error(`${repo}: entry ${dir} has no %NAME%`);
    packages.push(packageFromDesc(repo, fields));
  }
  return { repo, compression, packages, unknownKeys: [...unknown].sort() };
}

/** Read a local database file. */
export async function readSyncDatabase(path: string, repo = repoNameFromFile(path)): Promise<SyncDatabase> {
  const buf = await readFile(path);
  if (buf.length === 0) throw new Error(`${path}: empty file (a truncated download?)`);
  return parseSyncDatabase(buf, repo);
}
