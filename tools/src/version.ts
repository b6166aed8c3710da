/**
 * Package versions with libalpm's exact rules (lib/libalpm/version.c):
 * `[epoch:]pkgver[-pkgrel]`, compared epoch first, then pkgver with rpmvercmp, then pkgrel
 * only when both sides have one (so `1.5 == 1.5-1`).
 */

export interface Evr {
  epoch: string;
  version: string;
  /** undefined when the string has no `-` */
  release: string | undefined;
}

/** Split like libalpm's parseEVR: epoch = leading digits before `:`, release = text after the last `-`. */
export function parseEvr(evr: string): Evr {
  let i = 0;
  while (i < evr.length && evr.charCodeAt(i) >= 48 && evr.charCodeAt(i) <= 57) i++;
  let epoch = '0';
  let rest = evr;
  if (i < evr.length && evr[i] === ':') {
    epoch = i === 0 ? '0' : evr.slice(0, i);
    rest = evr.slice(i + 1);
  }
  const dash = rest.lastIndexOf('-');
  if (dash === -1) return { epoch, version: rest, release: undefined };
  return { epoch, version: rest.slice(0, dash), release: rest.slice(dash + 1) };
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isAlpha = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isAlnum = (c: number): boolean => isDigit(c) || isAlpha(c);

/** rpmvercmp as libalpm implements it; returns -1, 0 or 1. */
export function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  let one = 0;
  let two = 0;
  while (one < a.length && two < b.length) {
    const sepStart1 = one;
    const sepStart2 = two;
    while (one < a.length && !isAlnum(a.charCodeAt(one))) one++;
    while (two < b.length && !isAlnum(b.charCodeAt(two))) two++;
    // either string ran out while skipping separators
    if (one >= a.length || two >= b.length) break;
    // a longer separator run is newer ("1..0" > "1.0")
    if (one - sepStart1 !== two - sepStart2) return one - sepStart1 < two - sepStart2 ? -1 : 1;

    const start1 = one;
    const start2 = two;
    const numeric = isDigit(a.charCodeAt(start1));
    const inSegment = numeric ? isDigit : isAlpha;
    while (one < a.length && inSegment(a.charCodeAt(one))) one++;
    while (two < b.length && inSegment(b.charCodeAt(two))) two++;
    let seg1 = a.slice(start1, one);
    let seg2 = b.slice(start2, two);
    // segment types differ: numeric is newer than alpha
    if (seg2.length === 0) return numeric ? 1 : -1;
    if (numeric) {
      seg1 = seg1.replace(/^0+/, '');
      seg2 = seg2.replace(/^0+/, '');
      if (seg1.length !== seg2.length) return seg1.length > seg2.length ? 1 : -1;
    }
    if (seg1 !== seg2) return seg1 < seg2 ? -1 : 1;
  }
  const end1 = one >= a.length;
  const end2 = two >= b.length;
  if (end1 && end2) return 0;
  // one side has a trailing segment: a trailing alpha segment is older than nothing ("1.0rc" < "1.0"),
  // anything else is newer ("1.0.1" > "1.0", "1.5.a" > "1.5")
  if (end1) return !isAlpha(b.charCodeAt(two)) ? -1 : 1;
  return !isAlpha(a.charCodeAt(one)) ? 1 : -1;
}

/** alpm_pkg_vercmp: -1 if a < b, 0 if equal, 1 if a > b. */
export function vercmp(a: string, b: string): number {
  if (a === b) return 0;
  const x = parseEvr(a);
  const y = parseEvr(b);
  let r = rpmvercmp(x.epoch, y.epoch);
  if (r === 0) {
    r = rpmvercmp(x.version, y.version);
    if (r === 0 && x.release !== undefined && y.release !== undefined) r = rpmvercmp(x.release, y.release);
  }
  return r < 0 ? -1 : r > 0 ? 1 : 0;
}

/** `epoch:pkgver-pkgrel` as makepkg and pacman print it (epoch omitted when 0 or empty). */
export function formatVersion(v: { epoch?: string; pkgver: string; pkgrel?: string }): string {
  const epoch = v.epoch && v.epoch !== '0' ? `${v.epoch}:` : '';
  const rel = v.pkgrel !== undefined && v.pkgrel !== '' ? `-${v.pkgrel}` : '';
  return `${epoch}${v.pkgver}${rel}`;
}

/** The highest of several versions (libalpm order); undefined for an empty list. */
export function maxVersion(versions: Iterable<string>): string | undefined {
  let best: string | undefined;
  for (const v of versions) if (best === undefined || vercmp(v, best) > 0) best = v;
  return best;
}
