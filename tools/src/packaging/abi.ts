/**
 * The ABI manifest `dist/<arch>/<pkgbase>/abi.json`: what a build offers to the packages that link
 * against it: package names, ELF sonames (DT_SONAME of the shared objects inside the packages) and
 * soname-like provides. Dependents hash this file (`dependentTasksOutputFiles`) under the `abi` rebuild
 * policy, so it holds no version, pkgrel or timestamp: a pkgrel-only rebuild leaves it byte-identical,
 * a soname bump changes it.
 */
import { lstat, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runChecked } from '../process/run';


export interface AbiManifest {
  packages: string[];
  sonames: string[];
  /** provides that look like sonames: `libfoo.so=1-64`, `lib:libfoo.so.1` */
  provides: string[];
}

const DT_NULL = 0;
const DT_SONAME = 14;
const SHT_DYNAMIC = 6;

/** DT_SONAME of an ELF shared object (32/64-bit, little/big endian), or undefined. */
export function readElfSoname(buf: Buffer): string | undefined {
  if (buf.length < 52 || buf.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const is64 = buf[4] === 2;
  const le = buf[5] === 1;
  const u16 = (o: number) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const addr = (o: number) => (is64 ? Number(le ? buf.readBigUInt64LE(o) : buf.readBigUInt64BE(o)) : u32(o));
  try {
    const shoff = addr(is64 ? 0x28 : 0x20);
    const shentsize = u16(is64 ? 0x3a : 0x2e);
    const shnum = u16(is64 ? 0x3c : 0x30);
    const section = (i: number) => {
      const base = shoff + i * shentsize;
      return {
        type: u32(base + 4),
        offset: addr(base + (is64 ? 0x18 : 0x10)),
        size: addr(base + (is64 ? 0x20 : 0x14)),
        link: u32(base + (is64 ? 0x28 : 0x18)),
      };
    };
    for (let i = 0; i < shnum; i++) {
      const dyn = section(i);
      if (dyn.type !== SHT_DYNAMIC) continue;
      const strtab = section(dyn.link);
      const entsize = is64 ? 16 : 8;
      for (let o = dyn.offset; o + entsize <= dyn.offset + dyn.size; o += entsize) {
        const tag = addr(o);
        if (tag === DT_NULL) break;
        if (tag !== DT_SONAME) continue;
        const start = strtab.offset + addr(o + entsize / 2);
        const end = buf.indexOf(0, start);
        return buf.toString('utf8', start, end < 0 ? undefined : end);
      }
    }
  } catch {
    return undefined; // truncated or malformed: not a shared object we can describe
  }
  return undefined;
}

export function isSonameProvide(provide: string): boolean {
  return /^lib:.+\.so(\.|$)/.test(provide) || /^[^=<>]+\.so(\.[^=<>]*)?=/.test(provide) || /^[^=<>:]+\.so\.[0-9]/.test(provide);
}

/** `.PKGINFO` key = value lines */
export function parsePkginfo(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const line of text.split('\n')) {
    const m = /^([a-z0-9_]+) = (.*)$/.exec(line);
    if (m) (out[m[1]] ??= []).push(m[2]);
  }
  return out;
}

async function walkFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walkFiles(p)));
    else if (entry.isFile()) out.push(p);
  }
  return out;
}

/** Manifest of a set of package archives. */
export async function abiOfPackages(packageFiles: string[]): Promise<AbiManifest> {
  const packages = new Set<string>();
  const sonames = new Set<string>();
  const provides = new Set<string>();
  for (const file of packageFiles) {
    const tmp = await mkdtemp(join(tmpdir(), 'pkgnx-abi-'));
    try {
      // only what the manifest needs: metadata and shared objects
      const { stdout: listing } = await runChecked('bsdtar', ['-tf', file]);
      const members = listing.split('\n').filter((m) => m === '.PKGINFO' || /\.so(\.[^/]*)?$/.test(m));
      await runChecked('bsdtar', ['-xf', file, '-C', tmp, ...members]);
      const info = parsePkginfo(await readFile(join(tmp, '.PKGINFO'), 'utf8').catch(() => ''));
      for (const n of info.pkgname ?? []) packages.add(n);
      for (const p of info.provides ?? []) if (isSonameProvide(p)) provides.add(p);
      for (const f of await walkFiles(tmp)) {
        if (f.endsWith('.PKGINFO') || (await lstat(f)).isSymbolicLink()) continue;
        const soname = readElfSoname(await readFile(f));
        if (soname) sonames.add(soname);
      }
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
  const sorted = (s: Set<string>) => [...s].sort();
  return { packages: sorted(packages), sonames: sorted(sonames), provides: sorted(provides) };
}

export function formatAbiManifest(m: AbiManifest): string {
  return `${JSON.stringify({ packages: m.packages, sonames: m.sonames, provides: m.provides }, null, 2)}\n`;
}

export async function writeAbiManifest(outDir: string, packageFiles: string[]): Promise<AbiManifest> {
  const manifest = await abiOfPackages(packageFiles);
  await writeFile(join(outDir, 'abi.json'), formatAbiManifest(manifest));
  return manifest;
}
