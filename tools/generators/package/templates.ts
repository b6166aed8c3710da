/**
 * PKGBUILD templates for a new local package and the `.SRCINFO` makepkg would print for them.
 * The `.SRCINFO` is built as the Srcinfo model with entries in makepkg's order
 * (scripts/libmakepkg/srcinfo.sh: srcinfo_write_global / srcinfo_write_package) and written with
 * writeSrcinfo, so no bash runs; the integration test compares it with `makepkg --printsrcinfo`.
 */
import type { Srcinfo, SrcinfoSection } from '../../src/model';
import { writeSrcinfo } from '../../src/srcinfo';

export type PackageTemplate = 'plain' | 'split' | 'vcs';

export interface PackageTemplateInput {
  /** pkgbase (for `vcs`, `-git` is appended when missing) */
  name: string;
  template: PackageTemplate;
  pkgver: string;
  pkgdesc: string;
  url: string;
  license: string[];
  arch: string[];
  depends: string[];
  makedepends: string[];
  /** split template: the pkgnames (default `<name>` and `<name>-docs`) */
  packages: string[];
  /** vcs template: the git repository to build from */
  vcsSource: string;
}

export interface RenderedPackage {
  pkgbase: string;
  pkgbuild: string;
  srcinfo: string;
}

const q = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;
const arr = (values: readonly string[]): string => `(${values.map(q).join(' ')})`;

const VALID_NAME = /^[a-z0-9@_+][a-z0-9@._+-]*$/;
/**
 * makepkg's pkgver rules (no `:`, `/`, `-`, whitespace) narrowed to the characters a version uses: the
 * value is written unquoted (`pkgver=...`), so `;`, `$( )`, quotes, `&`... would be shell code run
 * whenever the PKGBUILD is sourced.
 */
const VALID_PKGVER = /^[A-Za-z0-9._+~]+$/;

export function validateTemplateInput(input: PackageTemplateInput): string[] {
  const errors: string[] = [];
  const names = input.template === 'split' ? [input.name, ...input.packages] : [input.name];
  for (const n of names) if (!VALID_NAME.test(n)) errors.push(`invalid package name '${n}' (lowercase letters, digits and @._+- ; not starting with - or .)`);
  if (!VALID_PKGVER.test(input.pkgver)) errors.push(`invalid pkgver ${JSON.stringify(input.pkgver)} (letters, digits and . _ + ~ only; no ':', '/', '-', whitespace or shell characters)`);
  if (input.arch.length === 0) errors.push('arch must not be empty');
  for (const s of [input.pkgdesc, input.url, input.vcsSource ?? '', ...input.license, ...input.arch, ...input.depends, ...input.makedepends, ...input.packages]) {
    if (/[\n\r]/.test(s)) errors.push(`values must be single-line: ${JSON.stringify(s)}`);
  }
  return errors;
}

export function renderPackage(input: PackageTemplateInput): RenderedPackage {
  const errors = validateTemplateInput(input);
  if (errors.length) throw new Error(errors.join('; '));
  const vcs = input.template === 'vcs';
  const pkgbase = vcs && !input.name.endsWith('-git') ? `${input.name}-git` : input.name;
  const upstreamName = pkgbase.replace(/-git$/, '');
  const pkgnames = input.template === 'split' ? (input.packages.length ? input.packages : [pkgbase, `${pkgbase}-docs`]) : [pkgbase];
  const makedepends = vcs && !input.makedepends.includes('git') ? [...input.makedepends, 'git'] : input.makedepends;
  const source = vcs ? [`${upstreamName}::git+${input.vcsSource}`] : [];
  const sums = vcs ? ['SKIP'] : [];
  const provides = vcs ? [upstreamName] : [];
  const conflicts = vcs ? [upstreamName] : [];
  const pkgver = vcs ? 'r0.0000000' : input.pkgver;

  const lines: string[] = ['# Maintainer: Your Name <you@example.org>', ''];
  if (input.template === 'split') {
    lines.push(`pkgbase=${pkgbase}`, `pkgname=${arr(pkgnames)}`);
  } else lines.push(`pkgname=${pkgbase}`);
  lines.push(`pkgver=${pkgver}`, 'pkgrel=1', `pkgdesc=${q(input.pkgdesc)}`, `arch=${arr(input.arch)}`, `url=${q(input.url)}`, `license=${arr(input.license)}`);
  lines.push(`depends=${arr(input.depends)}`, `makedepends=${arr(makedepends)}`);
  if (vcs) lines.push(`provides=${arr(provides)}`, `conflicts=${arr(conflicts)}`);
  lines.push(`source=${arr(source)}`, `sha256sums=${arr(sums)}`, '');
  if (vcs) {
    lines.push(
      'pkgver() {',
      `  cd ${q(upstreamName)}`,
      '  printf "r%s.%s" "$(git rev-list --count HEAD)" "$(git rev-parse --short=7 HEAD)"',
      '}',
      '',
      'build() {',
      `  cd ${q(upstreamName)}`,
      '  make',
      '}',
      '',
      'package() {',
      `  cd ${q(upstreamName)}`,
      '  make DESTDIR="$pkgdir" install',
      '}',
    );
  } else if (input.template === 'split') {
    lines.push('build() {', '  true', '}', '');
    for (const n of pkgnames) {
      lines.push(`package_${n}() {`, `  pkgdesc=${q(`${input.pkgdesc} (${n})`)}`, '  install -d "$pkgdir/usr/share/doc/$pkgname"', '}', '');
    }
    lines.pop();
  } else {
    lines.push('build() {', '  true', '}', '', 'package() {', '  install -d "$pkgdir/usr/share/doc/$pkgname"', '}');
  }
  const pkgbuild = `${lines.join('\n')}\n`;

  // .SRCINFO, in srcinfo_write_global's order; empty arrays are not written
  const entries: [string, string][] = [];
  const add = (key: string, values: readonly string[]): void => {
    for (const v of values) entries.push([key, v]);
  };
  add('pkgdesc', [input.pkgdesc]);
  add('pkgver', [pkgver]);
  add('pkgrel', ['1']);
  add('url', [input.url]);
  add('arch', input.arch);
  add('license', input.license);
  add('makedepends', makedepends);
  add('depends', input.depends);
  add('provides', provides);
  add('conflicts', conflicts);
  add('source', source);
  add('sha256sums', sums);
  const packages: SrcinfoSection[] = pkgnames.map((n) => ({
    kind: 'pkgname',
    name: n,
    entries: input.template === 'split' ? [['pkgdesc', `${input.pkgdesc} (${n})`]] : [],
  }));
  const model: Srcinfo = { pkgbase: { kind: 'pkgbase', name: pkgbase, entries }, packages };
  return { pkgbase, pkgbuild, srcinfo: writeSrcinfo(model) };
}
