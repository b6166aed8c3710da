/**
 * The version a checkout holds: its `.SRCINFO` (read with the one .SRCINFO parser), else what the workspace's
 * metadata reader says of its PKGBUILD (never sourced on the host).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { metadataForArch, parseSrcinfo } from '../srcinfo';

/** reads a PKGBUILD directory's version the workspace's way (sandboxed); undefined when it cannot be read */
export type CheckoutVersionReader = (dir: string) => Promise<string | undefined>;

/** `[epoch:]pkgver-pkgrel` of a `.SRCINFO` text, or undefined when it has none */
export function versionFromSrcinfoText(text: string, file = '.SRCINFO'): string | undefined {
  try {
    const m = metadataForArch(parseSrcinfo(text, file), 'any');
    return m.pkgver && m.pkgrel ? m.version : undefined;
  } catch {
    return undefined;
  }
}

export async function readCheckoutVersion(dir: string, read?: CheckoutVersionReader): Promise<string | undefined> {
  const file = join(dir, '.SRCINFO');
  if (existsSync(file)) return versionFromSrcinfoText(readFileSync(file, 'utf8'), file);
  if (!read || !existsSync(join(dir, 'PKGBUILD'))) return undefined;
  return read(dir);
}
