/**
 * The version a checkout holds, read from its `.SRCINFO` (never by sourcing the PKGBUILD on the host).
 * Only the pkgbase section's epoch/pkgver/pkgrel matter here, so this reads them directly rather than
 * building the whole model; when there is no `.SRCINFO`, an optional extractor (the sandboxed
 * PKGBUILD reader) is asked instead.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type SrcinfoTextExtractor = (dir: string) => Promise<string | undefined>;

/** `[epoch:]pkgver-pkgrel` of the pkgbase section of a `.SRCINFO` text, or undefined when it has none. */
export function versionFromSrcinfoText(text: string): string | undefined {
  const values: Record<string, string> = {};
  let inPkgbase = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf(' = ');
    const key = eq === -1 ? line.replace(/ =$/, '') : line.slice(0, eq);
    const value = eq === -1 ? '' : line.slice(eq + 3);
    if (key === 'pkgbase') inPkgbase = true;
    else if (key === 'pkgname') inPkgbase = false;
    else if (inPkgbase && (key === 'epoch' || key === 'pkgver' || key === 'pkgrel')) values[key] = value;
  }
  if (!values.pkgver || !values.pkgrel) return undefined;
  return `${values.epoch && values.epoch !== '0' ? `${values.epoch}:` : ''}${values.pkgver}-${values.pkgrel}`;
}

export async function readCheckoutVersion(dir: string, extract?: SrcinfoTextExtractor): Promise<string | undefined> {
  const file = join(dir, '.SRCINFO');
  if (existsSync(file)) return versionFromSrcinfoText(readFileSync(file, 'utf8'));
  if (!extract || !existsSync(join(dir, 'PKGBUILD'))) return undefined;
  const text = await extract(dir);
  return text === undefined ? undefined : versionFromSrcinfoText(text);
}
