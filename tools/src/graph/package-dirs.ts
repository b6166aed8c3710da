/**
 * Directories under pkgbuilds/ that neither Nx nor pkgnx load, named instead of skipped in silence:
 * - a symbolic link to a directory: Nx's file walker does not follow symbolic links, so the package is no
 *   project; the CLI's findPkgbuilds does not follow them either (a PKGBUILD outside the workspace is never
 *   sourced by one path and ignored by the other);
 * - a directory the current user cannot read: Nx skips it without a word, so its PKGBUILDs are missing.
 * Cheap: known package directories (those with a PKGBUILD Nx found) are not read, so a flat
 * `pkgbuilds/<name>/` layout costs one readdir.
 */
import { readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const PACKAGES_DIR = 'pkgbuilds';

/**
 * @param packageDirs workspace-relative directories of the PKGBUILDs found (their contents are not scanned)
 * @returns one warning per directory that is not loaded, naming it and the reason, sorted
 */
export function scanPackageDirectories(workspaceRoot: string, packageDirs: Iterable<string>): string[] {
  const known = new Set(packageDirs);
  const warnings: string[] = [];
  const walk = (rel: string): void => {
    let entries;
    try {
      entries = readdirSync(join(workspaceRoot, rel), { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM')
        warnings.push(
          `${rel}: cannot be read by this user (${code}, uid ${process.getuid?.() ?? '?'}): Nx skips unreadable directories without a word, ` +
            'so no PKGBUILD inside it is loaded; make it readable (chmod/chown) or move it out of pkgbuilds/',
        );
      return;
    }
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const path = `${rel}/${e.name}`;
      if (known.has(path)) continue;
      if (e.isSymbolicLink()) {
        if (!statSync(join(workspaceRoot, path), { throwIfNoEntry: false })?.isDirectory()) continue;
        let target = '?';
        try {
          target = readlinkSync(join(workspaceRoot, path));
        } catch {
          // raced with a removal: the name is enough
        }
        warnings.push(
          `${path}: a symbolic link (to ${target}), not loaded: Nx does not follow symbolic links, so pkgnx reads only real ` +
            'directories under pkgbuilds/; move or copy the package into the workspace',
        );
      } else if (e.isDirectory()) walk(path);
    }
  };
  walk(PACKAGES_DIR);
  return warnings.sort();
}
