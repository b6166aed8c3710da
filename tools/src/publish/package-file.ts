/**
 * What repo-add reads from a package file, read the way repo-add reads it: `.PKGINFO` through
 * `bsdtar -xOqf`, the file list through `bsdtar --exclude='^.*' -tf` sorted bytewise and unique,
 * the size and the MD5/SHA-256 checksums of the whole file.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { runChecked } from '../process/run';

export interface PkgInfo {
  pkgname: string;
  pkgbase?: string;
  pkgver: string;
  pkgdesc?: string;
  url?: string;
  builddate?: string;
  packager?: string;
  size?: string;
  arch?: string;
  group: string[];
  license: string[];
  replaces: string[];
  depend: string[];
  conflict: string[];
  provides: string[];
  optdepend: string[];
  makedepend: string[];
  checkdepend: string[];
}

export interface PackageFile {
  path: string;
  filename: string;
  info: PkgInfo;
  csize: number;
  md5: string;
  sha256: string;
  /** sorted (bytewise), unique; directories end in `/`, as repo-add writes them */
  files: string[];
  /** detached signature beside the file (`<file>.sig`), if any */
  signature?: Buffer;
}

export class PackageFileError extends Error {
  override name = 'PackageFileError';
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
  }
}

const LIST_VARS = ['group', 'license', 'replaces', 'depend', 'conflict', 'provides', 'optdepend', 'makedepend', 'checkdepend'] as const;
const SCALAR_VARS = ['pkgname', 'pkgbase', 'pkgver', 'pkgdesc', 'url', 'builddate', 'packager', 'size', 'arch'] as const;
type ListVar = (typeof LIST_VARS)[number];
type ScalarVar = (typeof SCALAR_VARS)[number];

/**
 * Parse `.PKGINFO` exactly as repo-add's `IFS=' =' read -r var val` plus whitespace normalisation does:
 * the name ends at the first space or `=`, then spaces, at most one `=`, and spaces are dropped; trailing
 * spaces go; every run of whitespace in the value becomes one space. A later scalar replaces an earlier one.
 */
export function parsePkgInfo(text: string): PkgInfo {
  const info: PkgInfo = { pkgname: '', pkgver: '', group: [], license: [], replaces: [], depend: [], conflict: [], provides: [], optdepend: [], makedepend: [], checkdepend: [] };
  const lines = text.split('\n');
  // the element after the last newline: empty, or a last line without a newline, which pacman 6.0's
  // `while read -r line` drops too
  lines.pop();
  for (const line of lines) {
    if (line.startsWith('#')) continue;
    const m = /^([ =]*)([^ =]*)(.*)$/.exec(line);
    if (!m) continue;
    const name = m[2];
    let rest = m[3];
    rest = rest.replace(/^ */, '');
    if (rest.startsWith('=')) rest = rest.slice(1);
    rest = rest.replace(/^ */, '').replace(/ +$/, '');
    const value = rest.replace(/\s+/g, ' ');
    if ((LIST_VARS as readonly string[]).includes(name)) info[name as ListVar].push(value);
    else if ((SCALAR_VARS as readonly string[]).includes(name)) (info as unknown as Record<ScalarVar, string>)[name as ScalarVar] = value;
  }
  return info;
}

/** `name-version-arch.pkg.tar.<ext>` the way makepkg names it; `ext` includes the leading `.pkg.tar`. */
export function expectedFileName(info: PkgInfo, ext: string): string {
  return `${info.pkgname}-${info.pkgver}-${info.arch ?? ''}${ext}`;
}

export const PACKAGE_FILE = /\.pkg\.tar(\.(zst|xz|gz|bz2|lz4|lrz|lzo|Z|lz))?$/;

async function checksums(path: string): Promise<{ md5: string; sha256: string; size: number }> {
  const md5 = createHash('md5');
  const sha = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    const b = chunk as Buffer;
    md5.update(b);
    sha.update(b);
    size += b.length;
  }
  return { md5: md5.digest('hex'), sha256: sha.digest('hex'), size };
}

/** Read a package file; errors name the file. Checks the name against `.PKGINFO`. */
export async function readPackageFile(path: string): Promise<PackageFile> {
  const filename = basename(path);
  const ext = PACKAGE_FILE.exec(filename)?.[0];
  if (!ext) throw new PackageFileError(path, 'not a package file name (expected *.pkg.tar[.zst|.xz|.gz|...])');
  let pkginfo: string;
  let listing: string;
  try {
    [pkginfo, listing] = await Promise.all([
      runChecked('bsdtar', ['-xOqf', path, '.PKGINFO']).then((r) => r.stdout),
      runChecked('bsdtar', ['--exclude=^.*', '-tf', path]).then((r) => r.stdout),
    ]);
  } catch (e) {
    throw new PackageFileError(path, `cannot read the package archive: ${(e as Error).message.trim()}`);
  }
  const info = parsePkgInfo(pkginfo);
  if (!info.pkgname || !info.pkgver) throw new PackageFileError(path, 'no pkgname/pkgver in .PKGINFO: not a pacman package');
  const expected = expectedFileName(info, ext);
  if (expected !== filename) {
    throw new PackageFileError(path, `the file name does not match its .PKGINFO (pkgname ${info.pkgname}, pkgver ${info.pkgver}, arch ${info.arch ?? '?'}: expected ${expected})`);
  }
  const files = [...new Set(listing.split('\n').filter((l) => l !== ''))].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const sums = await checksums(path);
  const pkg: PackageFile = { path, filename, info, csize: sums.size, md5: sums.md5, sha256: sums.sha256, files };
  const sigPath = `${path}.sig`;
  if (existsSync(sigPath)) {
    const sig = await readFile(sigPath);
    if (sig.includes('BEGIN PGP SIGNATURE')) throw new PackageFileError(sigPath, 'armored signature: pacman needs a binary one (gpg --detach-sign without --armor)');
    if (sig.length > 16384) throw new PackageFileError(sigPath, 'invalid package signature file (larger than 16 KiB)');
    pkg.signature = sig;
  }
  return pkg;
}
