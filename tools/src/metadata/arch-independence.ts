/**
 * Whether a PKGBUILD's metadata provably cannot depend on the architecture it is read for, so that one
 * sourcing serves every configured architecture (the `<attr>_<arch>` arrays are printed for all of them
 * anyway; metadataForArch picks the architecture's).
 *
 * What differs between two architectures' sandboxes is their environment: CARCH, everything the target's
 * makepkg.conf sets (CHOST, CFLAGS, ...), and the build root's files visible read-only. The metadata reads
 * that environment only through code that runs while the PKGBUILD is sourced — its top level — and through
 * the attribute lines of its package functions, which the driver evaluates one by one afterwards. So the
 * rule, checked on bash's own parse of the file (the driver wraps it in a function and prints it back with
 * `declare -f`, which normalises it without running it):
 *   - every top-level statement is a plain assignment (`name=value`, `name+=value`, `name=(...)`): no
 *     command, no `if`/`case`, no `source`, no function call;
 *   - every attribute assignment line of a package function is one too;
 *   - their values expand only variables the file itself assigned before at top level (`pkgname` too in a
 *     package function), with no command or process substitution, no arithmetic, no indirection, no tilde,
 *     no unquoted glob (a glob could read a directory of the build root).
 * Anything else — or anything the scan does not recognise — counts as dependent and is sourced per
 * architecture: being wrong in that direction only costs time.
 */

/** an assignment statement as declare -f prints it, at a given indentation; the value is group 3 */
const assignment = (indent: number): RegExp => new RegExp(`^ {${indent}}([A-Za-z_][A-Za-z0-9_]*)(\\+?)=(.*?);?$`);
const TOP_ASSIGNMENT = assignment(4);
const FUNCTION_START = /^ {4}function (\S+) \(\) $/;
const BODY_OPEN = /^ {4}\{ $/;
const BODY_CLOSE = /^ {4}\};?$/;
/** the lines of a package function the driver evaluates (makepkg's grep: `^[[:space:]]* <attr>+?=`) */
const FUNCTION_ATTRIBUTE = /^\s* ([A-Za-z_][A-Za-z0-9_]*)\+?=(.?)/;

/** variables set by the driver the same way for every architecture */
const DRIVER_SET = ['startdir', 'srcdir'];

/**
 * Can this value (the right-hand side of an assignment, as bash printed it) only produce text that is the same
 * for every architecture, given the variables assigned so far?
 */
export function valueIsArchNeutral(value: string, assigned: ReadonlySet<string>): boolean {
  let single = false;
  let double = false;
  // inside ${...}: `*`, `?`, `[`, `~` are pattern operators there, not globs
  let braces = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (single) {
      if (c === "'") single = false;
      continue;
    }
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === "'" && !double) {
      single = true;
      continue;
    }
    if (c === '"') {
      double = !double;
      continue;
    }
    if (c === '`') return false;
    if (c === '$') {
      const next = value[i + 1];
      if (next === '(' || next === '[') return false; // command substitution, arithmetic
      if (next === '{') {
        const m = /^\$\{#?([A-Za-z_][A-Za-z0-9_]*)/.exec(value.slice(i));
        if (!m || !assigned.has(m[1])) return false; // ${!indirect}, ${@}, or a variable from outside
        // the rest of ${...} is an operator on that variable, whose operands are checked as we go
        braces++;
        i += m[0].length - 1;
        continue;
      }
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(value.slice(i));
      if (!m) {
        // a lone `$` before a quote or at the end is literal; special parameters ($$, $1, $@ ...) are not
        if (next === undefined || next === '"' || next === "'" || next === ' ' || next === ')') continue;
        return false;
      }
      if (!assigned.has(m[1])) return false;
      i += m[0].length - 1;
      continue;
    }
    if (c === '}' && braces > 0) {
      braces--;
      continue;
    }
    if (double || braces > 0) continue;
    // unquoted: process substitution, tilde, globs, anything that ends the statement
    if ((c === '<' || c === '>') && value[i + 1] === '(') return false;
    if ('~*?;&|<>'.includes(c)) return false;
    if (c === '[' && i > 0) return false; // `[` inside a word is a glob; `name=(` arrays start with `(`, not `[`
  }
  return !single && !double && braces === 0;
}

/**
 * The index of the line after `lines[i]` and the bodies of the here-documents it starts (declare -f prints
 * their text as written, at any indentation, so a line of it must not be taken for a closing brace).
 * `last` when a terminator is missing.
 */
function afterHeredocs(lines: readonly string[], i: number, last: number): number {
  let next = i + 1;
  for (const m of lines[i].matchAll(/<<(-?)\s*(['"]?)([A-Za-z0-9_.-]+)\2/g)) {
    const tabs = m[1] === '-';
    while (next < last && (tabs ? lines[next].replace(/^\t+/, '') : lines[next]) !== m[3]) next++;
    if (next >= last) return last;
    next++;
  }
  return next;
}

/**
 * @param canonical `declare -f` of a function whose body is the whole PKGBUILD (see driver.bash)
 * @param isAttribute whether the driver evaluates assignments to this name from package functions (schema
 *   attributes and their `_<arch>` forms)
 */
export function isArchIndependent(canonical: string, isAttribute: (name: string) => boolean): boolean {
  const lines = canonical.split('\n');
  // `<name> () `, `{ `, the body, `}`
  if (lines.length < 3 || !/^\S+ \(\) $/.test(lines[0]) || lines[1] !== '{ ') return false;
  const last = lines[lines.length - 1] === '' ? lines.length - 2 : lines.length - 1;
  if (lines[last] !== '}') return false;
  const assigned = new Set(DRIVER_SET);
  const packageLines: string[] = [];
  let i = 2;
  while (i < last) {
    const line = lines[i];
    const fn = FUNCTION_START.exec(line);
    if (fn) {
      if (!BODY_OPEN.test(lines[i + 1] ?? '')) return false;
      let end = i + 2;
      while (end < last && !BODY_CLOSE.test(lines[end])) end = afterHeredocs(lines, end, last);
      if (end >= last) return false;
      if (fn[1] === 'package' || fn[1].startsWith('package_')) packageLines.push(...lines.slice(i + 2, end));
      i = end + 1;
      continue;
    }
    const a = TOP_ASSIGNMENT.exec(line);
    if (!a || !valueIsArchNeutral(a[3], assigned)) return false;
    assigned.add(a[1]);
    i++;
  }
  // attribute lines the driver evaluates: the same rule, with the package's own name set by the driver
  const inPackage = new Set([...assigned, 'pkgname']);
  for (const line of packageLines) {
    const m = FUNCTION_ATTRIBUTE.exec(line);
    if (!m || !m[2] || !isAttribute(m[1])) continue;
    const a = /^\s*[A-Za-z_][A-Za-z0-9_]*\+?=(.*?);?$/.exec(line);
    if (!a || !valueIsArchNeutral(a[1], inPackage)) return false;
  }
  return true;
}
