/**
 * A root from a signed tarball (Arch Linux ARM publishes `ArchLinuxARM-<arch>-latest.tar.gz` with a
 * detached `.sig`): fetched when given as a URL, its signature verified with gpgv against the keys in
 * `keys/roots/*.asc` BEFORE anything is extracted, every entry checked to stay inside the target (no
 * absolute path, no `..`, nothing written through a symbolic link of the archive, hard links inside, no
 * device nodes), and only then extracted with bsdtar (whose own defaults refuse the same escapes).
 * Touches the disk: downloads into the caller's temporary directory, extracts into the given directory.
 */
import { createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract } from 'tar-stream';
import { run, runChecked, start } from '../process/run';
import { keyFingerprints, sha256Of } from './keyring';

export class TarballError extends Error {
  override name = 'TarballError';
}

/** the keys that may sign root tarballs: keys/roots/*.asc */
export function rootTarballKeys(workspaceRoot: string): string[] {
  const dir = join(workspaceRoot, 'keys', 'roots');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.asc')).sort().map((f) => join(dir, f));
}

const isUrl = (s: string): boolean => /^https?:\/\//.test(s);

/** a local file for `source` (a path, or an http(s) URL downloaded into `dir`) */
export async function fetchToFile(source: string, dir: string): Promise<string> {
  if (!isUrl(source)) {
    if (!existsSync(source)) throw new TarballError(`${source} does not exist`);
    return source;
  }
  const file = join(dir, basename(new URL(source).pathname) || 'download');
  const res = await fetch(source);
  if (!res.ok || !res.body) throw new TarballError(`${source}: HTTP ${res.status} ${res.statusText}`);
  await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(file));
  return file;
}

export interface Verified {
  /** sha256 of the tarball */
  sha256: string;
  /** primary fingerprint of the key that signed it */
  signer: string;
  /** the key file it is in */
  key: string;
}

/**
 * gpgv with a keyring made of exactly `keyFiles`: a good signature by one of them, or a TarballError
 * that says what was wrong (bad signature, unknown key, no signature, no keys).
 */
export async function verifyTarball(tarball: string, signature: string, keyFiles: string[], workDir: string): Promise<Verified> {
  if (keyFiles.length === 0) throw new TarballError(`no key to verify ${tarball} with: put the signer's public key (*.asc) into keys/roots/ (e.g. the Arch Linux ARM Build System key)`);
  if (!existsSync(signature)) throw new TarballError(`${tarball}: no signature ${signature}; refusing to use an unsigned root tarball`);
  const keyring = join(workDir, 'trusted-roots.gpg');
  const owners = new Map<string, string>();
  const parts: Buffer[] = [];
  for (const k of keyFiles) {
    for (const f of keyFingerprints(k)) owners.set(f, k);
    parts.push((await runChecked('gpg', ['--batch', '--quiet', '--homedir', workDir, '--dearmor'], { input: readFileSync(k), binary: true })).bytes);
  }
  writeFileSync(keyring, Buffer.concat(parts));
  const r = await run('gpgv', ['--status-fd', '1', '--homedir', workDir, '--keyring', keyring, signature, tarball]);
  const status = r.stdout;
  // VALIDSIG <fpr> then 8 fields (dates, version, reserved, algorithms, class), then the primary key fpr
  const valid = /^\[GNUPG:\] VALIDSIG (\S+)(?: \S+){8} (\S+)/m.exec(status);
  if (r.exitCode === 0 && valid) {
    const signer = valid[2];
    return { sha256: sha256Of(tarball), signer, key: owners.get(signer) ?? owners.get(valid[1]) ?? keyFiles[0] };
  }
  const missing = /^\[GNUPG:\] (?:NO_PUBKEY|ERRSIG) (\S+)/m.exec(status);
  if (/^\[GNUPG:\] BADSIG/m.test(status)) throw new TarballError(`${tarball}: BAD signature (${basename(signature)} does not match the file: tampered or corrupt); nothing was extracted`);
  if (missing) throw new TarballError(`${tarball}: signed by key ${missing[1]}, which is not in keys/roots/ (${keyFiles.map((k) => basename(k)).join(', ')}); nothing was extracted`);
  throw new TarballError(`${tarball}: signature check failed (gpgv exit ${r.exitCode}): ${r.stderr.trim()}; nothing was extracted`);
}

/** a path inside the archive as a list of components, or the reason it would leave the target */
export function entryPath(name: string): string[] | string {
  if (name.startsWith('/')) return 'an absolute path';
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return 'a ".." component';
  return parts;
}

export interface EntryHeader {
  name: string;
  type: string;
  linkname?: string;
}

/**
 * Checks every entry's header in archive order; returns the problems (empty: safe to extract).
 * Symbolic links may point anywhere (`/usr/lib/...` is normal in a root), but nothing may be written
 * through one: an entry below a path the archive made a symbolic link is refused, as is a hard link
 * to outside or through one.
 */
export function unsafeEntries(headers: Iterable<EntryHeader>): string[] {
  const links = new Set<string>();
  const problems: string[] = [];
  const throughLink = (parts: string[]): string | undefined => {
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (links.has(prefix)) return prefix;
    }
    return undefined;
  };
  for (const h of headers) {
    const parts = entryPath(h.name);
    if (typeof parts === 'string') {
      problems.push(`${h.name}: ${parts}`);
      continue;
    }
    const path = parts.join('/');
    const via = throughLink(parts);
    if (via) problems.push(`${h.name}: written through the symbolic link ${via}`);
    if (h.type === 'symlink') links.add(path);
    else links.delete(path);
    if (h.type === 'link') {
      const target = entryPath(h.linkname ?? '');
      if (typeof target === 'string') problems.push(`${h.name}: hard link to ${h.linkname}: ${target}`);
      else if (throughLink([...target, ''])) problems.push(`${h.name}: hard link through the symbolic link ${throughLink([...target, ''])}`);
    } else if (!['file', 'directory', 'symlink', 'contiguous-file'].includes(h.type)) {
      problems.push(`${h.name}: a ${h.type} entry (a root tarball needs no device nodes or fifos: bubblewrap provides /dev)`);
    }
  }
  return problems;
}

/** the headers of any archive bsdtar reads (gzip, xz, zstd, bzip2 or none), streamed, in order */
export async function archiveHeaders(tarball: string): Promise<EntryHeader[]> {
  // bsdtar rewrites the archive as a plain tar on stdout: one reader for every compression
  const child = start('bsdtar', ['-cf', '-', '--format', 'pax', `@${tarball}`], { buffer: { stdout: false, stderr: true }, reject: false });
  const headers: EntryHeader[] = [];
  const ex = extract();
  ex.on('entry', (h, body, next) => {
    headers.push({ name: h.name, type: h.type ?? 'file', ...(h.linkname ? { linkname: h.linkname } : {}) });
    body.on('end', next);
    body.resume();
  });
  await pipeline(child.stdout!, ex);
  const r = await child;
  if (r.exitCode !== 0) throw new TarballError(`${tarball}: not a readable archive (bsdtar exit ${r.exitCode}): ${String(r.stderr).trim()}`);
  return headers;
}

/** refuses (TarballError listing the entries) or extracts `tarball` into the empty directory `dir` */
export async function extractChecked(tarball: string, dir: string): Promise<number> {
  const headers = await archiveHeaders(tarball);
  const problems = unsafeEntries(headers);
  if (problems.length)
    throw new TarballError(`${tarball}: ${problems.length} entr${problems.length === 1 ? 'y' : 'ies'} would write outside the root; nothing was extracted:\n  ${problems.slice(0, 20).join('\n  ')}`);
  mkdirSync(dir, { recursive: true });
  // as root, bsdtar keeps owners and modes; without -P it refuses absolute paths, ".." and symlinked parents
  await runChecked('bsdtar', ['-xpf', tarball, '-C', dir, '--numeric-owner']);
  return headers.length;
}
