/**
 * Facts about a build root read from its files, never by running anything in it: which packages pacman
 * has installed (the local database), the machine its /bin/bash is built for, whether it is a real Arch
 * root or a stand-in (a Debian root made by scripts/make-rootfs.sh: an empty pacman database), and the
 * record pkgnx wrote when it made the root (`.pkgnx-root.json`). Reads only.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readRootRecord, type RootRecord } from './record';

export interface InstalledPackage {
  name: string;
  /** epoch:pkgver-pkgrel */
  version: string;
  arch: string;
  groups: string[];
}

/** the ELF machine numbers pacman architectures run on (e_machine) */
const ELF_MACHINE: Record<number, string[]> = {
  3: ['i486', 'i586', 'i686', 'pentium4'],
  62: ['x86_64', 'x86_64_v2', 'x86_64_v3', 'x86_64_v4'],
  183: ['aarch64'],
  40: ['armv7h', 'armv6h', 'armv5tel', 'arm', 'armv8h'],
  243: ['riscv64'],
  258: ['loong64'],
  21: ['ppc64le', 'ppc64'],
  22: ['s390x'],
};

/** what the root's /usr/bin/bash (or /bin/bash) is built for: pacman architecture names, [] when unknown */
export function rootMachine(root: string): { machine?: number; arches: string[] } {
  for (const p of ['usr/bin/bash', 'bin/bash']) {
    let fd: number | undefined;
    try {
      fd = openSync(join(root, p), 'r');
      const head = Buffer.alloc(20);
      if (readSync(fd, head, 0, 20, 0) < 20 || head.readUInt32BE(0) !== 0x7f454c46) continue;
      const machine = head[5] === 2 ? head.readUInt16BE(18) : head.readUInt16LE(18);
      return { machine, arches: ELF_MACHINE[machine] ?? [] };
    } catch {
      // not there, or a dangling link: try the next
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
  return { arches: [] };
}

/** `%KEY%` sections of a pacman `desc` file */
function parseDesc(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let key = '';
  for (const line of text.split('\n')) {
    const m = /^%([A-Z0-9]+)%$/.exec(line);
    if (m) {
      key = m[1];
      out.set(key, []);
    } else if (line && key) out.get(key)!.push(line);
  }
  return out;
}

/** every package in the root's local pacman database, sorted by name; [] for a stand-in root */
export function installedPackages(root: string): InstalledPackage[] {
  const local = join(root, 'var/lib/pacman/local');
  let entries: string[];
  try {
    entries = readdirSync(local);
  } catch {
    return [];
  }
  const out: InstalledPackage[] = [];
  for (const e of entries) {
    let desc: Map<string, string[]>;
    try {
      desc = parseDesc(readFileSync(join(local, e, 'desc'), 'utf8'));
    } catch {
      continue; // ALPM_DB_VERSION and other non-package entries
    }
    const name = desc.get('NAME')?.[0];
    const version = desc.get('VERSION')?.[0];
    if (name && version) out.push({ name, version, arch: desc.get('ARCH')?.[0] ?? '', groups: desc.get('GROUPS') ?? [] });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * The package set that enters a build's cache key: `name version` lines of the packages selected (every
 * one, or those named), sorted. Directory names of the local database are `name-version`, but the name
 * is only certain from `desc`.
 */
export function packageManifest(root: string, select: 'all' | readonly string[]): string[] {
  const wanted = select === 'all' ? undefined : new Set(select);
  return installedPackages(root)
    .filter((p) => !wanted || wanted.has(p.name))
    .map((p) => `${p.name} ${p.version}`);
}

export type RootKind = 'arch' | 'stand-in' | 'missing';

export interface RootFacts {
  root: string;
  kind: RootKind;
  /** for a stand-in: what it is (Debian, made by scripts/make-rootfs.sh ...) */
  standIn?: string;
  record?: RootRecord;
  packages: InstalledPackage[];
  machine: ReturnType<typeof rootMachine>;
}

function osName(root: string): string | undefined {
  for (const p of ['etc/os-release', 'usr/lib/os-release']) {
    try {
      return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync(join(root, p), 'utf8'))?.[1];
    } catch {
      // next
    }
  }
  return undefined;
}

export function inspectRoot(root: string): RootFacts {
  const machine = rootMachine(root);
  if (!existsSync(join(root, 'usr'))) return { root, kind: 'missing', packages: [], machine };
  const packages = installedPackages(root);
  const record = readRootRecord(root);
  if (packages.length > 0) return { root, kind: 'arch', packages, machine, ...(record ? { record } : {}) };
  const os = osName(root) ?? 'an unknown system';
  const how = existsSync(join(root, '.pkgnx-rootfs-complete')) ? ', made by scripts/make-rootfs.sh' : '';
  return { root, kind: 'stand-in', standIn: `${os}${how}: pacman has no packages installed in it`, packages, machine, ...(record ? { record } : {}) };
}

/** the line every build log in a stand-in root carries */
export function standInWarning(facts: RootFacts, arch: string): string {
  return (
    `WARNING: ${facts.root} is a NON-ARCH STAND-IN build root (${facts.standIn}). Dependencies pacman cannot install come from ` +
    `that system, so the packages built here are not Arch packages: do not ship them. ` +
    `Make a real root: npx pkgnx root create --arch ${arch} --replace (docs/roots.md)`
  );
}
