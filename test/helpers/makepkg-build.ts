/**
 * Real packages for publishing tests: a PKGBUILD built with the real makepkg as the build user
 * (`makepkg -f -d`, zstd packages), returning the package files it made.
 */
import { chmodSync, chownSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { BUILD_USER, runAsBuildUser, tempDir } from './env';

/** Build `pkgbuild` (text) in a fresh directory; returns the absolute paths of the packages, sorted. */
export async function makepkg(pkgbuild: string, files: Record<string, string> = {}): Promise<string[]> {
  // the packages are used until the test file ends: removed when its process exits
  const dir = tempDir('pkgnx-makepkg-');
  chmodSync(dir, 0o755);
  const src = join(dir, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'PKGBUILD'), pkgbuild);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(src, name), text);
  const out = join(dir, 'out');
  mkdirSync(out);
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', BUILD_USER], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', BUILD_USER], { encoding: 'utf8' }).trim());
    for (const p of [dir, src, out, ...Object.keys(files).map((f) => join(src, f)), join(src, 'PKGBUILD')]) chownSync(p, uid, gid);
  }
  const r = await runAsBuildUser('makepkg', ['-f', '-d', '--noconfirm', '--nocheck'], {
    cwd: src,
    env: { PKGEXT: '.pkg.tar.zst', PKGDEST: out, BUILDDIR: join(dir, 'build'), SRCDEST: join(dir, 'srcdest'), LOGDEST: join(dir, 'log'), HOME: dir },
    timeoutMs: 300_000,
  });
  if (r.status !== 0) throw new Error(`makepkg failed (${r.status}): ${r.stdout}${r.stderr}`);
  return readdirSync(out).filter((f) => f.includes('.pkg.tar')).sort().map((f) => join(out, f));
}

/** A PKGBUILD of `arch=(any)` shell-script packages without external dependencies. */
export function scriptPackages(options: {
  pkgbase: string;
  pkgver?: string;
  pkgrel?: number;
  epoch?: number;
  /** pkgname -> extra PKGBUILD lines inside package_<name>() (depends=, provides= ...) */
  packages: Record<string, string>;
  /** bytes of random content to add to the first package (big packages for interrupt tests) */
  randomBytes?: number;
  arch?: string;
  pkgdesc?: string;
}): string {
  const names = Object.keys(options.packages);
  const lines = [
    `pkgbase=${options.pkgbase}`,
    `pkgname=(${names.join(' ')})`,
    `pkgver=${options.pkgver ?? '1.0'}`,
    `pkgrel=${options.pkgrel ?? 1}`,
    ...(options.epoch ? [`epoch=${options.epoch}`] : []),
    `pkgdesc="${options.pkgdesc ?? 'pkgnx publishing test package'}"`,
    `arch=(${options.arch ?? 'any'})`,
    'license=(0BSD)',
    'options=(!strip !debug)',
  ];
  names.forEach((n, i) => {
    lines.push(`package_${n}() {`); // bash function names may contain '-', as makepkg expects
    lines.push(`  ${options.packages[n]}`);
    lines.push(`  mkdir -p "$pkgdir/usr/share/${n}" "$pkgdir/usr/bin"`);
    lines.push(`  echo "${n} ${options.pkgver ?? '1.0'}-${options.pkgrel ?? 1}" > "$pkgdir/usr/share/${n}/version"`);
    lines.push(`  printf '#!/bin/sh\\ncat /usr/share/${n}/version\\n' > "$pkgdir/usr/bin/${n}"`);
    lines.push(`  chmod 755 "$pkgdir/usr/bin/${n}"`);
    if (i === 0 && options.randomBytes) lines.push(`  head -c ${options.randomBytes} /dev/urandom > "$pkgdir/usr/share/${n}/blob"`);
    lines.push('}');
  });
  return `${lines.join('\n')}\n`;
}
