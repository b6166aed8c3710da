/** `nx g ./tools:package <name> [--template plain|split|vcs]`: a new local package (PKGBUILD + .SRCINFO). */
import type { Tree } from '@nx/devkit';
import { renderPackage, type PackageTemplate } from './templates';

export interface PackageGeneratorSchema {
  name: string;
  template?: PackageTemplate;
  pkgver?: string;
  pkgdesc?: string;
  url?: string;
  license?: string[];
  arch?: string[];
  depends?: string[];
  makedepends?: string[];
  packages?: string[];
  vcsSource?: string;
  directory?: string;
}

const list = (v: string[] | string | undefined, fallback: string[]): string[] =>
  v === undefined ? fallback : (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);

export default async function packageGenerator(tree: Tree, schema: PackageGeneratorSchema): Promise<void> {
  // all validation before the first write: a failing generator leaves the Tree untouched
  const rendered = renderPackage({
    name: schema.name,
    template: schema.template ?? 'plain',
    pkgver: schema.pkgver ?? '1.0.0',
    pkgdesc: schema.pkgdesc ?? 'TODO: describe the package',
    url: schema.url ?? 'https://example.org',
    license: list(schema.license, ['MIT']),
    arch: list(schema.arch, ['x86_64']),
    depends: list(schema.depends, []),
    makedepends: list(schema.makedepends, []),
    packages: list(schema.packages, []),
    vcsSource: schema.vcsSource ?? 'https://example.org/project.git',
  });
  const dir = `${schema.directory ?? 'pkgbuilds'}/${rendered.pkgbase}`;
  if (tree.exists(dir)) throw new Error(`${dir} already exists; pick another name or remove it first`);
  tree.write(`${dir}/PKGBUILD`, rendered.pkgbuild);
  tree.write(`${dir}/.SRCINFO`, rendered.srcinfo);
}
