/**
 * The checks makepkg 6.0.2 runs before `--printsrcinfo` (libmakepkg/lint_pkgbuild/*.sh), on the raw values the
 * sandboxed driver extracted. A PKGBUILD failing one of them makes makepkg exit 12, so it is an error here too.
 * Every rule of lint_pkgbuild/ is here, in makepkg's order and with makepkg's messages (each message once):
 *   lint_arch lint_arch_specific lint_backup lint_changelog lint_epoch lint_pkgrel lint_pkgver lint_pkgname
 *   lint_checkdepends lint_conflicts lint_depends lint_install lint_makedepends lint_optdepends lint_options
 *   lint_package_function lint_package_function_variable lint_pkgbase lint_pkglist lint_provides lint_source
 *   lint_variable
 * except lint_pkglist (it checks makepkg's --pkg argument, not the PKGBUILD). The "not available for the
 * '<arch>' architecture" part of lint_arch is off for --printsrcinfo (makepkg sets IGNOREARCH), so it is here.
 * Two facts come from the driver only when it reports them: which package functions are defined
 * (`packageFunctions`: "Conflicting ..."/"Extra ..." of lint_package_function) and whether `source` is sparse
 * (`sparseSource`: lint_source); without them those two checks cannot run.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';

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
  /** the defined functions among `package` and `package_<pkgname>` (undefined: the driver did not say) */
  packageFunctions?: string[];
  /** the source array has holes (`unset 'source[0]'`); undefined: the driver did not say */
  sparseSource?: boolean;
}

const HASH_ALGOS = ['ck', 'md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512', 'b2'];
/** util/schema.sh, in its order (the order of makepkg's messages follows it) */
const SCHEMA_ARRAYS = [
  'arch', 'backup', 'checkdepends', 'conflicts', 'depends', 'groups', 'license', 'makedepends', 'noextract',
  'optdepends', 'options', 'provides', 'replaces', 'source', 'validpgpkeys', ...HASH_ALGOS.map((h) => `${h}sums`),
];
const SCHEMA_STRINGS = ['changelog', 'epoch', 'install', 'pkgbase', 'pkgdesc', 'pkgrel', 'pkgver', 'url'];
const SCHEMA_ARCH_ARRAYS = [
  'checkdepends', 'conflicts', 'depends', 'makedepends', 'optdepends', 'provides', 'replaces', 'source',
  ...HASH_ALGOS.map((h) => `${h}sums`),
];
/** a name the driver may read from a package function's assignment lines: a schema attribute or its `_<arch>` form */
export function isDriverAttribute(name: string): boolean {
  if (SCHEMA_ARRAYS.includes(name) || SCHEMA_STRINGS.includes(name)) return true;
  const us = name.indexOf('_');
  return us > 0 && SCHEMA_ARCH_ARRAYS.includes(name.slice(0, us));
}

const PACKAGE_OVERRIDES = [
  'pkgdesc', 'arch', 'url', 'license', 'groups', 'depends', 'optdepends', 'provides', 'conflicts', 'replaces',
  'backup', 'options', 'install', 'changelog',
];

/**
 * The options makepkg 6.0.2 knows: `packaging_options` (tidy/*.sh) and `build_options` (buildenv/*.sh).
 * A unit test compares this list with the installed makepkg's scripts.
 */
export const MAKEPKG_PACKAGING_OPTIONS = ['docs', 'emptydirs', 'libtool', 'purge', 'staticlibs', 'strip', 'debug', 'zipman'];
export const MAKEPKG_BUILD_OPTIONS = ['buildflags', 'ccache', 'distcc', 'lto', 'makeflags'];
const KNOWN_OPTIONS = new Set([...MAKEPKG_PACKAGING_OPTIONS, ...MAKEPKG_BUILD_OPTIONS]);

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

/** check_fullpkgver: epoch up to the first colon, pkgrel after the last hyphen (not a leading one). */
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

/**
 * lint_{checkdepends,conflicts,depends,makedepends,optdepends}: the name ends at the first <, > or =; the
 * version follows the operator (`>=`/`<=` before `>`/`<`/`=`). lint_depends alone skips an empty version.
 */
function checkVersionedNames(type: string, values: string[], skipEmptyVersion: boolean): string[] {
  const errors: string[] = [];
  for (const value of values) {
    const m = /^([^<>=]*)(>=|<=|<|>|=)?(.*)$/s.exec(value)!;
    const name = m[1];
    errors.push(...checkPackageName(type, name));
    if (name !== value && !(skipEmptyVersion && m[3] === '')) errors.push(...checkFullPkgver(m[3], type));
  }
  return errors;
}

/** The facts the rules share, computed once per PKGBUILD. */
class Facts {
  readonly arch: string[];
  /** global arch as makepkg's unquoted `for a in ${arch[@]}` sees it */
  readonly archWords: string[];
  /** pkgname as the unquoted `for pkg in ${pkgname[@]}` loops see it */
  readonly pkgnameWords: string[];
  /** pkgname -> attribute -> the forms ('a' array, 's' string) it is assigned with inside its package function */
  private readonly assigned = new Map<string, Map<string, Set<'a' | 's'>>>();

  constructor(readonly raw: RawExtraction) {
    this.arch = raw.pkgbase.attrs.get('arch') ?? [];
    this.archWords = this.arch.flatMap((a) => a.split(/[ \t\n]+/)).filter((a) => a !== '');
    this.pkgnameWords = raw.pkgnames.flatMap((n) => n.split(/[ \t\n]+/)).filter((n) => n !== '');
    for (const { pkgname, attr, form } of raw.functionAssignments) {
      let attrs = this.assigned.get(pkgname);
      if (!attrs) this.assigned.set(pkgname, (attrs = new Map()));
      let forms = attrs.get(attr);
      if (!forms) attrs.set(attr, (forms = new Set()));
      forms.add(form);
    }
  }

  /** extract_function_variable package_<pkg> <attr> <isarray>: an assignment of that form in the function */
  assignedIn(pkg: string, attr: string, form?: 'a' | 's'): boolean {
    const forms = this.assigned.get(pkg)?.get(attr);
    return forms !== undefined && (form === undefined || forms.has(form));
  }

  /** `declare -p name` succeeds (the driver reports declared schema variables) */
  declared(name: string): boolean {
    return this.raw.declared.has(name);
  }

  /** is_array: the variable's attributes include `a` (an associative array is not an array here) */
  isArray(name: string): boolean {
    return /a/.test(this.raw.declared.get(name) ?? '');
  }

  /** a key's values in the pkgbase section (the global variable) */
  global(key: string): string[] {
    return this.raw.pkgbase.attrs.get(key) ?? [];
  }

  /** the values the package functions set for `key` (array or string form, as the section holds them) */
  overrides(key: string): string[] {
    return this.raw.packages.flatMap((p) => p.attrs.get(key) ?? []);
  }

  /** get_pkgbuild_all_split_attributes: global + `_<arch>` + every package function's values */
  allSplit(key: string): string[] {
    const out = [...this.global(key)];
    for (const a of this.arch) out.push(...this.global(`${key}_${a}`));
    for (const p of this.raw.packages) {
      out.push(...(p.attrs.get(key) ?? []));
      for (const a of this.arch) out.push(...(p.attrs.get(`${key}_${a}`) ?? []));
    }
    return out;
  }
}

type Rule = (f: Facts, packageDir: string) => string[];

function lintArch(f: Facts): string[] {
  if (f.arch.includes('any')) return f.arch.length === 1 ? [] : ["Can not use 'any' architecture with other architectures"];
  return f.arch.flatMap((a) => {
    const invalid = a.replace(/[A-Za-z0-9_]/g, '');
    return invalid ? [`arch contains invalid characters: '${invalid}'`] : [];
  });
}

function lintArchSpecific(f: Facts): string[] {
  const errors: string[] = [];
  const notArchSpecific = [...SCHEMA_ARRAYS, ...SCHEMA_STRINGS].filter((i) => !SCHEMA_ARCH_ARRAYS.includes(i));
  const check = (exists: (name: string) => boolean): void => {
    for (const a of f.archWords) {
      if (a === 'any') {
        for (const i of SCHEMA_ARCH_ARRAYS)
          if (exists(`${i}_${a}`)) errors.push(`Can not provide architecture specific variables for the 'any' architecture: ${i}_${a}`);
      }
      for (const i of notArchSpecific) if (exists(`${i}_${a}`)) errors.push(`${i} can not be architecture specific: ${i}_${a}`);
    }
  };
  check((name) => f.declared(name));
  for (const pkg of f.pkgnameWords) check((name) => f.assignedIn(pkg, name));
  return errors;
}

function lintBackup(f: Facts): string[] {
  return [...f.global('backup'), ...f.overrides('backup')]
    .filter((b) => b.startsWith('/'))
    .map((b) => `backup entry should not contain leading slash : ${b}`);
}

/** check_files_exist: a named install/changelog file must be a regular file (relative to the PKGBUILD) */
function filesExist(kind: 'install' | 'changelog'): Rule {
  return (f, packageDir) =>
    [...f.global(kind), ...f.overrides(kind)]
      .filter((file) => file !== '' && !isRegularFile(resolve(packageDir, file)))
      .map((file) => `${kind} file (${file}) does not exist or is not a regular file.`);
}

/** any error (not a directory on the way, a name too long, a loop of links) means "no such file" here, never a throw */
function isRegularFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function lintPkgname(f: Facts): string[] {
  if (f.raw.pkgnames.join(' ') === '') return ['pkgname is not allowed to be empty.'];
  return f.raw.pkgnames.flatMap((n) => checkPackageName('pkgname', n));
}

function lintOptions(f: Facts): string[] {
  return [...f.global('options'), ...f.overrides('options')]
    .filter((o) => !KNOWN_OPTIONS.has(o.startsWith('!') ? o.slice(1) : o))
    .map((o) => `options array contains unknown option '${o}'`);
}

function lintPackageFunction(f: Facts): string[] {
  const { pkgnames, pkgbase } = f.raw;
  const defined = f.raw.packageFunctions;
  const errors: string[] = [];
  if (pkgnames.length === 1) {
    if (defined?.includes('package') && defined.includes(`package_${pkgnames[0]}`))
      errors.push(`Conflicting package() and package_${pkgnames[0]}() functions in PKGBUILD`);
    else if (f.raw.missingFunctions.includes('package')) errors.push('Missing package() function in PKGBUILD');
    return errors;
  }
  if (defined?.includes('package')) errors.push(`Extra package() function for split package '${pkgbase.name}'`);
  for (const fn of f.raw.missingFunctions) {
    if (fn.startsWith('package_')) errors.push(`Missing ${fn}() function for split package '${fn.slice('package_'.length)}'`);
  }
  return errors;
}

function lintPackageFunctionVariable(f: Facts): string[] {
  const errors: string[] = [];
  const forbidden = [...SCHEMA_ARRAYS, ...SCHEMA_STRINGS].filter((i) => !PACKAGE_OVERRIDES.includes(i));
  for (const pkg of f.pkgnameWords) {
    for (const a of f.archWords) {
      if (a === 'any') continue;
      for (const i of forbidden) if (f.assignedIn(pkg, `${i}_${a}`)) errors.push(`${i}_${a} can not be set inside a package function`);
    }
    for (const i of forbidden) if (f.assignedIn(pkg, i)) errors.push(`${i} can not be set inside a package function`);
  }
  return errors;
}

function lintPkgbase(f: Facts): string[] {
  return f.raw.pkgbase.name === '' ? [] : checkPackageName('pkgbase', f.raw.pkgbase.name);
}

function lintProvides(f: Facts): string[] {
  const errors: string[] = [];
  for (const provide of f.allSplit('provides')) {
    if (/[<>]/.test(provide)) {
      errors.push('provides array cannot contain comparison (< or >) operators.');
      continue;
    }
    const eq = provide.lastIndexOf('=');
    const name = eq >= 0 ? provide.slice(0, eq) : provide;
    errors.push(...checkPackageName('provides', name));
    if (eq >= 0) errors.push(...checkFullPkgver(provide.slice(eq + 1), 'provides'));
  }
  return errors;
}

function lintSource(f: Facts): string[] {
  return f.raw.sparseSource ? ['Sparse arrays are not allowed for source'] : [];
}

function lintVariable(f: Facts): string[] {
  const errors: string[] = [];
  for (const i of SCHEMA_ARRAYS) if (f.declared(i) && !f.isArray(i)) errors.push(`${i} should be an array`);
  for (const a of f.archWords) {
    if (a === 'any') continue;
    for (const i of SCHEMA_ARCH_ARRAYS) if (f.declared(`${i}_${a}`) && !f.isArray(`${i}_${a}`)) errors.push(`${i}_${a} should be an array`);
  }
  for (const i of SCHEMA_STRINGS) if (f.declared(i) && f.isArray(i)) errors.push(`${i} should not be an array`);
  for (const pkg of f.pkgnameWords) {
    for (const i of SCHEMA_ARRAYS) if (f.assignedIn(pkg, i, 's')) errors.push(`${i} should be an array`);
    for (const a of f.archWords) {
      if (a === 'any') continue;
      for (const i of SCHEMA_ARCH_ARRAYS) if (f.assignedIn(pkg, `${i}_${a}`, 's')) errors.push(`${i}_${a} should be an array`);
    }
    for (const i of SCHEMA_STRINGS) if (f.assignedIn(pkg, i, 'a')) errors.push(`${i} should not be an array`);
  }
  return errors;
}

/** makepkg's lint_pkgbuild_functions, in the order makepkg 6.0.2 registers (and runs) them */
export const LINT_RULES: readonly (readonly [name: string, rule: Rule])[] = [
  ['lint_arch', lintArch],
  ['lint_arch_specific', lintArchSpecific],
  ['lint_backup', lintBackup],
  ['lint_changelog', filesExist('changelog')],
  ['lint_epoch', (f) => checkEpoch(f.global('epoch')[0] ?? '')],
  ['lint_pkgrel', (f) => checkPkgrel(f.global('pkgrel')[0] ?? '')],
  ['lint_pkgver', (f) => checkPkgver(f.global('pkgver')[0] ?? '')],
  ['lint_pkgname', lintPkgname],
  ['lint_checkdepends', (f) => checkVersionedNames('checkdepends', f.allSplit('checkdepends'), false)],
  ['lint_conflicts', (f) => checkVersionedNames('conflicts', f.allSplit('conflicts'), false)],
  ['lint_depends', (f) => checkVersionedNames('depends', f.allSplit('depends'), true)],
  ['lint_install', filesExist('install')],
  ['lint_makedepends', (f) => checkVersionedNames('makedepends', f.allSplit('makedepends'), false)],
  ['lint_optdepends', (f) => checkVersionedNames('optdepends', f.allSplit('optdepends').map((o) => o.replace(/:[ \t\n\v\f\r].*$/s, '')), false)],
  ['lint_options', lintOptions],
  ['lint_package_function', lintPackageFunction],
  ['lint_package_function_variable', lintPackageFunctionVariable],
  ['lint_pkgbase', lintPkgbase],
  ['lint_provides', lintProvides],
  ['lint_source', lintSource],
  ['lint_variable', lintVariable],
];

/** makepkg's lint messages for one PKGBUILD, in makepkg's order, each once; empty when makepkg accepts it. */
export function lintExtraction(raw: RawExtraction, packageDir: string): string[] {
  const facts = new Facts(raw);
  return [...new Set(LINT_RULES.flatMap(([, rule]) => rule(facts, packageDir)))];
}
