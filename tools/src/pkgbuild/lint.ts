/**
 * The checks makepkg 6.0.2 runs before `--printsrcinfo` (libmakepkg/lint_pkgbuild/*.sh), on the raw values the
 * sandboxed driver extracted. A PKGBUILD failing one of them makes makepkg exit 12, so it is an error here too.
 * Not ported: lint_options (needs makepkg.conf's option lists), lint_source (sparse arrays), lint_pkglist.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** One section as the driver printed it: raw values by key, and the lines in print order. */
export interface RawSection {
  name: string;
  attrs: Map<string, string[]>;
  /** `[key, value]` in the order srcinfo.sh prints them; an override to empty is `[key, '']` */
  lines: [string, string][];
}

/** What the driver reports about one PKGBUILD besides the sections (see driver.bash). */
export interface RawExtraction {
  /** sections with raw (not whitespace-normalised) values */
  pkgbase: RawSection;
  packages: RawSection[];
  /** the global pkgname array as sourced */
  pkgnames: string[];
  /** declared schema variables -> `${var@a}` attributes */
  declared: Map<string, string>;
  /** attributes assigned inside package functions */
  functionAssignments: { pkgname: string; attr: string; form: 'a' | 's' }[];
  missingFunctions: string[];
}

const HASH_ALGOS = ['ck', 'md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512', 'b2'];
const SCHEMA_ARRAYS = [
  'arch', 'backup', 'checkdepends', 'conflicts', 'depends', 'groups', 'license', 'makedepends', 'noextract',
  'optdepends', 'options', 'provides', 'replaces', 'source', 'validpgpkeys', ...HASH_ALGOS.map((h) => `${h}sums`),
];
const SCHEMA_STRINGS = ['changelog', 'epoch', 'install', 'pkgbase', 'pkgdesc', 'pkgrel', 'pkgver', 'url'];
const SCHEMA_ARCH_ARRAYS = [
  'checkdepends', 'conflicts', 'depends', 'makedepends', 'optdepends', 'provides', 'replaces', 'source',
  ...HASH_ALGOS.map((h) => `${h}sums`),
];
const PACKAGE_OVERRIDES = [
  'pkgdesc', 'arch', 'url', 'license', 'groups', 'depends', 'optdepends', 'provides', 'conflicts', 'replaces',
  'backup', 'options', 'install', 'changelog',
];

// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\x00-\x7f]/;

/** lint_one_pkgname: the rules pacman/makepkg apply to pkgname, pkgbase and dependency names. */
export function checkPackageName(type: string, name: string): string[] {
  if (name === '') return [`${type} is not allowed to be empty.`];
  const errors: string[] = [];
  if (name.startsWith('-')) errors.push(`${type} is not allowed to start with a hyphen.`);
  if (name.startsWith('.')) errors.push(`${type} is not allowed to start with a dot.`);
  if (NON_ASCII.test(name)) return [...errors, `${type} may only contain ascii characters.`];
  const invalid = name.replace(/[A-Za-z0-9+_.@-]/g, '');
  if (invalid) errors.push(`${type} contains invalid characters: '${invalid}'`);
  return errors;
}

const where = (type?: string): string => (type ? ` in ${type}` : '');

export function checkPkgver(ver: string, type?: string): string[] {
  if (ver === '') return [`pkgver${where(type)} is not allowed to be empty.`];
  if (/[ \t\n\v\f\r/:-]/.test(ver))
    return [`pkgver${where(type)} is not allowed to contain colons, forward slashes, hyphens or whitespace.`];
  if (NON_ASCII.test(ver)) return [`pkgver${where(type)} may only contain ascii characters.`];
  return [];
}

export function checkPkgrel(rel: string, type?: string): string[] {
  if (rel === '') return [`pkgrel${where(type)} is not allowed to be empty.`];
  if (!/^[0-9]+(\.[0-9]+)?$/.test(rel))
    return [`pkgrel${where(type)} must be of the form 'integer[.integer]', not ${rel}.`];
  return [];
}

export function checkEpoch(epoch: string, type?: string): string[] {
  return /^[0-9]*$/.test(epoch) ? [] : [`epoch${where(type)} must be an integer, not ${epoch}.`];
}

export function checkFullPkgver(full: string, type?: string): string[] {
  const errors: string[] = [];
  let rest = full;
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    errors.push(...checkEpoch(rest.slice(0, colon), type));
    rest = rest.slice(colon + 1);
  }
  const dash = rest.lastIndexOf('-');
  if (dash >= 1) {
    errors.push(...checkPkgrel(rest.slice(dash + 1), type));
    rest = rest.slice(0, dash);
  }
  return [...errors, ...checkPkgver(rest, type)];
}

/** `name<op>version` as lint_depends splits it: the name ends at the first <, > or =. */
function checkVersionedNames(type: string, values: string[], requireVersion: boolean): string[] {
  const errors: string[] = [];
  for (const value of values) {
    const m = /^([^<>=]*)(>=|<=|<|>|=)?(.*)$/s.exec(value);
    const name = m?.[1] ?? value;
    errors.push(...checkPackageName(type, name));
    if (name !== value && m) {
      const ver = m[3];
      if (ver !== '' || requireVersion) errors.push(...checkFullPkgver(ver, type));
    }
  }
  return errors;
}

export function lintExtraction(raw: RawExtraction, packageDir: string): string[] {
  const errors: string[] = [];
  const base = raw.pkgbase.attrs;
  const first = (key: string): string => base.get(key)?.[0] ?? '';
  const arch = base.get('arch') ?? [];
  const isArray = (attrs: string): boolean => /[aA]/.test(attrs);

  // pkgname, pkgbase, pkgver, pkgrel, epoch
  if (raw.pkgnames.every((n) => n === '')) errors.push('pkgname is not allowed to be empty.');
  else for (const n of raw.pkgnames) errors.push(...checkPackageName('pkgname', n));
  errors.push(...checkPackageName('pkgbase', raw.pkgbase.name));
  errors.push(...checkPkgver(first('pkgver')));
  errors.push(...checkPkgrel(first('pkgrel')));
  errors.push(...checkEpoch(first('epoch')));

  // arch
  if (arch.includes('any')) {
    if (arch.length > 1) errors.push("Can not use 'any' architecture with other architectures");
  } else {
    for (const a of arch) {
      const invalid = a.replace(/[A-Za-z0-9_]/g, '');
      if (invalid) errors.push(`arch contains invalid characters: '${invalid}'`);
    }
  }

  // variable types and arch-specific variables (variable.sh, arch_specific.sh)
  for (const [name, attrs] of raw.declared) {
    if (SCHEMA_ARRAYS.includes(name) && !isArray(attrs)) errors.push(`${name} should be an array`);
    if (SCHEMA_STRINGS.includes(name) && isArray(attrs)) errors.push(`${name} should not be an array`);
    for (const a of arch) {
      const suffix = `_${a}`;
      if (!name.endsWith(suffix)) continue;
      const attr = name.slice(0, -suffix.length);
      if (a === 'any' && SCHEMA_ARCH_ARRAYS.includes(attr))
        errors.push(`Can not provide architecture specific variables for the 'any' architecture: ${name}`);
      else if (SCHEMA_ARCH_ARRAYS.includes(attr) && !isArray(attrs)) errors.push(`${name} should be an array`);
      if ([...SCHEMA_ARRAYS, ...SCHEMA_STRINGS].includes(attr) && !SCHEMA_ARCH_ARRAYS.includes(attr))
        errors.push(`${attr} can not be architecture specific: ${name}`);
    }
  }

  // assignments inside package functions (variable.sh, package_function_variable.sh)
  const reported = new Set<string>();
  for (const { attr, form } of raw.functionAssignments) {
    const push = (msg: string): void => {
      if (!reported.has(msg)) errors.push(msg);
      reported.add(msg);
    };
    let baseAttr = attr;
    for (const a of arch) if (attr.endsWith(`_${a}`)) baseAttr = attr.slice(0, -(a.length + 1));
    const known = SCHEMA_ARRAYS.includes(baseAttr) || SCHEMA_STRINGS.includes(baseAttr);
    if (!known) continue;
    if (!PACKAGE_OVERRIDES.includes(baseAttr)) push(`${attr} can not be set inside a package function`);
    if (form === 's' && (SCHEMA_ARRAYS.includes(attr) || (attr !== baseAttr && SCHEMA_ARCH_ARRAYS.includes(baseAttr))))
      push(`${attr} should be an array`);
    if (form === 'a' && SCHEMA_STRINGS.includes(attr)) push(`${attr} should not be an array`);
  }

  for (const fn of raw.missingFunctions) errors.push(`Missing ${fn}() function`);

  // dependency-like arrays over every section and arch (get_pkgbuild_all_split_attributes)
  const all = (key: string): string[] => {
    const out: string[] = [];
    for (const sec of [raw.pkgbase, ...raw.packages]) {
      out.push(...(sec.attrs.get(key) ?? []));
      for (const a of arch) out.push(...(sec.attrs.get(`${key}_${a}`) ?? []));
    }
    return out;
  };
  errors.push(...checkVersionedNames('depends', all('depends'), false));
  errors.push(...checkVersionedNames('conflicts', all('conflicts'), false));
  errors.push(
    ...checkVersionedNames(
      'optdepends',
      all('optdepends').map((o) => o.replace(/:[ \t\n\v\f\r].*$/s, '')),
      true,
    ),
  );
  for (const provide of all('provides')) {
    if (/[<>]/.test(provide)) {
      errors.push('provides array cannot contain comparison (< or >) operators.');
      continue;
    }
    const eq = provide.lastIndexOf('=');
    const name = eq >= 0 ? provide.slice(0, eq) : provide;
    errors.push(...checkPackageName('provides', name));
    if (eq >= 0) errors.push(...checkFullPkgver(provide.slice(eq + 1), 'provides'));
  }
  for (const b of all('backup')) if (b.startsWith('/')) errors.push(`backup entry should not contain leading slash : ${b}`);

  // install / changelog files must exist beside the PKGBUILD
  for (const key of ['install', 'changelog']) {
    for (const sec of [raw.pkgbase, ...raw.packages]) {
      const file = sec.attrs.get(key)?.[0];
      if (file && !existsSync(join(packageDir, file))) errors.push(`${key} file (${file}) does not exist or is not a regular file.`);
    }
  }
  return [...new Set(errors)];
}
