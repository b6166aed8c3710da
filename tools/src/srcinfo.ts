/**
 * `.SRCINFO` text <-> the Srcinfo model, and the per-architecture view of it.
 * writeSrcinfo is byte-identical to `makepkg --printsrcinfo` (makepkg 6.0.2, scripts/libmakepkg/srcinfo.sh):
 * no header comments, the pkgbase section, then a blank line and one section per pkgname.
 */
import type { PackageBaseMetadata, SplitPackageMetadata, Srcinfo, SrcinfoSection } from './model';
import { formatVersion } from './version';

/** What srcinfo_write_attr does: runs of [[:space:]] (C locale) become one space, then one leading and one trailing space go. */
export function normalizeSrcinfoValue(value: string): string {
  return value.replace(/[ \t\n\v\f\r]+/g, ' ').replace(/^ /, '').replace(/ $/, '');
}

export function writeSrcinfo(s: Srcinfo): string {
  const section = (sec: SrcinfoSection): string => {
    let out = `${sec.kind} = ${sec.name}\n`;
    for (const [key, value] of sec.entries) out += `\t${key} = ${normalizeSrcinfoValue(value)}\n`;
    return out;
  };
  return [s.pkgbase, ...s.packages].map(section).join('\n');
}

export class SrcinfoParseError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly line: number,
  ) {
    super(`${file}:${line}: ${message}`);
    this.name = 'SrcinfoParseError';
  }
}

/** Reads a `.SRCINFO` (committed or printed): `#` lines and blank lines are ignored. */
export function parseSrcinfo(text: string, file = '.SRCINFO'): Srcinfo {
  let pkgbase: SrcinfoSection | undefined;
  const packages: SrcinfoSection[] = [];
  let current: SrcinfoSection | undefined;
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    // the key is everything before the first '=': values (optdepends descriptions) may contain ' = '
    const m = /^[ \t]*([^\s=]+)[ \t]*=[ \t]?(.*)$/.exec(line);
    if (!m) throw new SrcinfoParseError(`expected "key = value", got ${JSON.stringify(line)}`, file, lineNo);
    const [, key, value] = m;
    if (key === 'pkgbase' || key === 'pkgname') {
      if (value.trim() === '') throw new SrcinfoParseError(`${key} is empty`, file, lineNo);
      if (key === 'pkgbase' && pkgbase) throw new SrcinfoParseError('a second pkgbase section', file, lineNo);
      if (key === 'pkgname' && !pkgbase)
        throw new SrcinfoParseError('pkgname section before the pkgbase section', file, lineNo);
      current = { kind: key, name: value.trim(), entries: [] };
      if (key === 'pkgbase') pkgbase = current;
      else packages.push(current);
      return;
    }
    if (!current) throw new SrcinfoParseError(`"${key}" before the pkgbase section`, file, lineNo);
    current.entries.push([key, value]);
  });
  if (!pkgbase) throw new SrcinfoParseError('no pkgbase section', file, lines.length);
  if (packages.length === 0) throw new SrcinfoParseError('no pkgname section', file, lines.length);
  return { pkgbase, packages };
}

/** Every value of `key` in a section, or undefined when the section does not mention the key. */
export function sectionValues(sec: SrcinfoSection, key: string): string[] | undefined {
  let found = false;
  const values: string[] = [];
  for (const [k, v] of sec.entries) {
    if (k !== key) continue;
    found = true;
    // `key = ` (empty) is how a package function clears an array
    if (v !== '') values.push(v);
  }
  return found ? values : undefined;
}

function sectionValue(sec: SrcinfoSection, key: string): string | undefined {
  return sectionValues(sec, key)?.[0];
}

const MERGED_ARCH_ATTRS = ['provides', 'conflicts', 'depends', 'replaces', 'optdepends'] as const;

/**
 * The metadata pacman will see when the pkgbase is built for `carch`.
 *
 * Arch-specific arrays follow what makepkg does when it builds (merge_arch_attrs), not a naive
 * SRCINFO(5) reading:
 * - pkgbase level: `K + K_<carch>` (`.SRCINFO` only contains `K_<carch>` for arches in `arch`, and
 *   makepkg refuses to build for an arch outside `arch` unless it is `any`);
 * - split package: makepkg merges the global arrays before running package_<name>(), so an override of
 *   `K` in the function replaces the pkgbase `K` *and* the pkgbase `K_<carch>`; an override of
 *   `K_<carch>` in the function is appended afterwards (write_pkginfo merges again).
 * An override to empty (`depends = `) clears the value.
 */
export function metadataForArch(s: Srcinfo, carch: string): PackageBaseMetadata {
  const base = s.pkgbase;
  const baseMerged = (key: string): string[] => [
    ...(sectionValues(base, key) ?? []),
    ...(sectionValues(base, `${key}_${carch}`) ?? []),
  ];
  const epoch = sectionValue(base, 'epoch') ?? '';
  const pkgver = sectionValue(base, 'pkgver') ?? '';
  const pkgrel = sectionValue(base, 'pkgrel') ?? '';
  const arch = sectionValues(base, 'arch') ?? [];

  const packages: SplitPackageMetadata[] = s.packages.map((sec) => {
    // deduplicated: `.SRCINFO` prints `depends_<carch>+=(x)` in a package function as the global values plus x,
    // while makepkg appends only x (the globals were merged into `depends` already)
    const merged = (key: (typeof MERGED_ARCH_ATTRS)[number]): string[] => [
      ...new Set([...(sectionValues(sec, key) ?? baseMerged(key)), ...(sectionValues(sec, `${key}_${carch}`) ?? [])]),
    ];
    return {
      name: sec.name,
      arch: sectionValues(sec, 'arch') ?? arch,
      depends: merged('depends'),
      optdepends: merged('optdepends'),
      provides: merged('provides'),
      conflicts: merged('conflicts'),
      replaces: merged('replaces'),
    };
  });

  return {
    pkgbase: base.name,
    carch,
    epoch,
    pkgver,
    pkgrel,
    version: formatVersion({ epoch, pkgver, pkgrel }),
    arch,
    depends: baseMerged('depends'),
    makedepends: baseMerged('makedepends'),
    checkdepends: baseMerged('checkdepends'),
    packages,
    source: baseMerged('source'),
    validpgpkeys: sectionValues(base, 'validpgpkeys') ?? [],
  };
}
