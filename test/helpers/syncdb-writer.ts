/**
 * Writes real pacman sync databases (gzip'd tar of `<name>-<version>/desc`) for tests, with the desc
 * fields in repo-add's order so pacman and our reader see the same thing a real repository serves.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import type { SyncPackage } from '../../tools/src/syncdb';

export interface DescInput {
  name: string;
  version: string;
  base?: string;
  arch?: string;
  desc?: string;
  filename?: string;
  depends?: string[];
  makedepends?: string[];
  checkdepends?: string[];
  provides?: string[];
  conflicts?: string[];
  replaces?: string[];
  optdepends?: string[];
  groups?: string[];
  license?: string[];
  url?: string;
  csize?: number;
  isize?: number;
  sha256sum?: string;
  builddate?: number;
  packager?: string;
}

/** repo-add.sh's order (alpm-repo-desc(5)); empty lists are omitted, as repo-add does. */
export function descText(p: DescInput): string {
  const arch = p.arch ?? 'x86_64';
  const fields: [string, (string | number | undefined)[] | undefined][] = [
    ['FILENAME', [p.filename ?? `${p.name}-${p.version}-${arch}.pkg.tar.zst`]],
    ['NAME', [p.name]],
    ['BASE', [p.base ?? p.name]],
    ['VERSION', [p.version]],
    ['DESC', [p.desc ?? `${p.name} test package`]],
    ['GROUPS', p.groups],
    ['CSIZE', [p.csize ?? 1024]],
    ['ISIZE', [p.isize ?? 4096]],
    ['SHA256SUM', [p.sha256sum ?? '0'.repeat(64)]],
    ['URL', p.url ? [p.url] : undefined],
    ['LICENSE', p.license],
    ['ARCH', [arch]],
    ['BUILDDATE', [p.builddate ?? 1660000000]],
    ['PACKAGER', [p.packager ?? 'Test <test@example.org>']],
    ['REPLACES', p.replaces],
    ['CONFLICTS', p.conflicts],
    ['PROVIDES', p.provides],
    ['DEPENDS', p.depends],
    ['OPTDEPENDS', p.optdepends],
    ['MAKEDEPENDS', p.makedepends],
    ['CHECKDEPENDS', p.checkdepends],
  ];
  let out = '';
  for (const [key, values] of fields) {
    const present = (values ?? []).filter((v) => v !== undefined && v !== '');
    if (present.length) out += `%${key}%\n${present.join('\n')}\n\n`;
  }
  return out;
}

/** A SyncPackage read from a real DB, turned back into writer input (keeps every modelled field). */
export function descFromPackage(p: SyncPackage, changes: Partial<DescInput> = {}): DescInput {
  return {
    name: p.name, version: p.version, base: p.base, arch: p.arch, desc: p.desc, filename: p.filename,
    depends: p.depends, makedepends: p.makedepends, checkdepends: p.checkdepends, provides: p.provides,
    conflicts: p.conflicts, replaces: p.replaces, optdepends: p.optdepends, groups: p.groups, license: p.license,
    url: p.url, csize: p.csize, isize: p.isize, sha256sum: p.sha256sum, builddate: p.builddate, packager: p.packager,
    ...changes,
  };
}

/** Build the gzip'd tar bytes of a sync database. */
export async function syncDatabaseBytes(packages: DescInput[]): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on("data", (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    tar.on('end', () => resolve());
    tar.on('error', reject);
  });
  for (const p of packages) {
    const dir = `${p.name}-${p.version}`;
    tar.entry({ name: `${dir}/`, type: 'directory', mode: 0o755, mtime: new Date(0) });
    tar.entry({ name: `${dir}/desc`, mode: 0o644, mtime: new Date(0) }, descText(p));
  }
  tar.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

export async function writeSyncDatabase(path: string, packages: DescInput[]): Promise<string> {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, await syncDatabaseBytes(packages));
  return path;
}
