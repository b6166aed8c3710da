/**
 * Dependency strings and their satisfaction, with libalpm's rules (lib/libalpm/deps.c):
 * a package satisfies `name<op>ver` literally by name and version; a provision satisfies an
 * unversioned dependency by name, and a versioned one only when the provision itself carries
 * `=version` (`provides=('foo')` never satisfies `foo>=1`).
 */
import { vercmp } from './version';

export type DepOperator = '' | '=' | '>=' | '<=' | '>' | '<';

export interface Dependency {
  name: string;
  op: DepOperator;
  /** empty when op is '' */
  version: string;
  /** optdepends description after ': ' */
  description?: string;
}

/** Parse `name`, `name>=1.2-3`, `name=1:2.0` or `name: why` (alpm_dep_from_string). */
export function parseDependency(text: string): Dependency {
  let spec = text;
  let description: string | undefined;
  const colon = spec.indexOf(': ');
  if (colon !== -1) {
    description = spec.slice(colon + 2);
    spec = spec.slice(0, colon);
  }
  const m = /[<>=]/.exec(spec);
  if (!m) return description === undefined ? { name: spec, op: '', version: '' } : { name: spec, op: '', version: '', description };
  const name = spec.slice(0, m.index);
  const rest = spec.slice(m.index);
  const op = (rest.startsWith('>=') || rest.startsWith('<=') ? rest.slice(0, 2) : rest[0]) as DepOperator;
  const dep: Dependency = { name, op, version: rest.slice(op.length) };
  if (description !== undefined) dep.description = description;
  return dep;
}

/** parseDependency(text).name without building the rest: the part before an operator or a `: ` description */
export function dependencyName(text: string): string {
  const end = text.search(/[<>=]|: /);
  return end === -1 ? text : text.slice(0, end);
}

/** dep_vercmp: does `version` fulfil `<op> wanted`? */
export function versionSatisfies(version: string, op: DepOperator, wanted: string): boolean {
  if (op === '') return true;
  const cmp = vercmp(version, wanted);
  switch (op) {
    case '=':
      return cmp === 0;
    case '>=':
      return cmp >= 0;
    case '<=':
      return cmp <= 0;
    case '<':
      return cmp < 0;
    case '>':
      return cmp > 0;
  }
}

/** Does a package called `name` at `version` satisfy `dep` by its own name? */
export function satisfiesLiterally(dep: Dependency, name: string, version: string): boolean {
  return dep.name === name && versionSatisfies(version, dep.op, dep.version);
}

/** Does one `provides` entry (e.g. `libfoo.so=1-64`, `sh`) satisfy `dep`? */
export function provisionSatisfies(dep: Dependency, provision: Dependency): boolean {
  if (provision.name !== dep.name) return false;
  if (dep.op === '') return true;
  // only a versioned provision (`=`) can satisfy a versioned dependency
  return provision.op === '=' && versionSatisfies(provision.version, dep.op, dep.version);
}
