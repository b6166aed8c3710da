/**
 * The metadata of a PKGBUILD that only assigns variables and defines functions, read without bash: the same
 * payload fields the driver (driver.bash) would print for it, or why not when the PKGBUILD is outside the subset
 * this reader knows bash's behaviour for exactly, which is then sourced in the sandbox as before. Nothing of the
 * PKGBUILD runs, so no isolation is involved; what matters is that the result is the driver's, field for field
 * (test/integration/static-reader.test.ts compares both on every fixture and on hand-made edge cases).
 *
 * The subset, checked as the text is read (anything else, or anything unusual, is left to bash):
 *   - top level: `name=word`, `name+=word`, `name=(words)`, `name+=(words)`, several on one line, comments, `;`;
 *     function definitions `name() { ... }` / `function name { ... }`;
 *   - words: literal text, '...', "...", `\`, `$name`, `${name}`, `${name[@]}`/`[*]`/`[N]`, `${#name}`,
 *     `${name#pat}` `##` `%` `%%` `/` `//` `/#` `/%`, `${name:-w}` `-` `:+` `+`, `${name:N}` `${name:N:M}`; brace
 *     expansion `{a,b}` in arrays; no command substitution, arithmetic, tilde or unquoted glob in an array;
 *   - variables read are ones the file assigned before, or lowercase names nothing else sets (makepkg.conf, when
 *     the sandbox has one, must assign upper-case names only: staticReadingPossible);
 *   - function bodies (function-body.ts) are checked for bash's structure (quotes, here-documents, nesting, if/fi, loops, case,
 *     [[ ]], empty bodies) but not run; the assignment lines of a package function are listed as the driver's grep of
 *     `declare -f` finds them, and those of the package section's attributes evaluated as its eval does. Where bash
 *     prints a function less simply (subshells, substitutions, here-documents, multi-line strings), bash reads it.
 * Such a PKGBUILD reads the same for every architecture: its result is arch-independent.
 */

import { FunctionBodyScanner, OutsideSubset, RESERVED, outside, type FunctionLine, type FunctionLines } from './function-body';

/** Bump when what the reader (function-body.ts included) accepts or returns changes: part of every metadata cache key (extract.ts). */
export const STATIC_READER_VERSION = 1;

// ---- what the driver prints, in its order (driver.bash) ---------------------------------------------------------
const HASH_SUMS = ['ck', 'md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512', 'b2'].map((a) => `${a}sums`);
const SCHEMA_ARRAYS = ['arch', 'backup', 'checkdepends', 'conflicts', 'depends', 'groups', 'license', 'makedepends', 'noextract', 'optdepends', 'options', 'provides', 'replaces', 'source', 'validpgpkeys', ...HASH_SUMS];
const SCHEMA_STRINGS = ['changelog', 'epoch', 'install', 'pkgbase', 'pkgdesc', 'pkgrel', 'pkgver', 'url'];
const SCHEMA_NAMES = [...SCHEMA_ARRAYS, ...SCHEMA_STRINGS];
const ARCH_ATTRS = ['source', 'provides', 'conflicts', 'depends', 'replaces', 'optdepends', 'makedepends', 'checkdepends', ...HASH_SUMS];
const GLOBAL_SINGLE = ['pkgdesc', 'pkgver', 'pkgrel', 'epoch', 'url', 'install', 'changelog'];
const PKG_SINGLE = ['pkgdesc', 'url', 'install', 'changelog'];
const PKG_MULTI = ['arch', 'groups', 'license', 'checkdepends', 'depends', 'optdepends', 'provides', 'conflicts', 'replaces', 'options', 'backup'];
const GLOBAL_MULTI = ['arch', 'groups', 'license', 'checkdepends', 'makedepends', 'depends', 'optdepends', 'provides', 'conflicts', 'replaces', 'noextract', 'options', 'backup', 'source', 'validpgpkeys', ...HASH_SUMS];

/** bash builtins and keywords: a PKGBUILD function with one of these names changes how the driver itself runs */
const SHELL_NAMES = new Set(
  ('. : [ alias bg bind break builtin caller case cd command compgen complete compopt continue coproc declare dirs disown do done echo ' +
    'elif else enable esac eval exec exit export false fc fg fi for function getopts hash help history if in jobs kill let local ' +
    'logout mapfile popd printf pushd pwd read readarray readonly return select set shift shopt source suspend test then time ' +
    'times trap true type typeset ulimit umask unalias unset until wait while command_not_found_handle')
    .split(' '),
);

/** variables the PKGBUILD may assign and read here: nothing else in the sandbox sets a lower-case name but these */
const DRIVER_SET = new Set(['startdir', 'srcdir', '_', 'attrname', 'isarray']);
function ownName(name: string): boolean {
  return /^[a-z_][A-Za-z0-9_]*$/.test(name) && !DRIVER_SET.has(name) && !name.startsWith('__pkgnx');
}

// ---- words --------------------------------------------------------------------------------------------------------
type Op =
  | { k: '#' | '##' | '%' | '%%'; pat: Part[] }
  | { k: '/' | '//' | '/#' | '/%'; pat: Part[]; rep: Part[] }
  | { k: ':-' | '-' | ':+' | '+'; word: Part[] }
  | { k: 'sub'; off: number; len?: number };
interface Param {
  name: string;
  /** written ${name...}, not $name (whose name brace expansion can extend) */
  braced?: boolean;
  /** `[@]`/`[*]`, or an element */
  index?: '@' | '*' | number;
  length?: boolean;
  op?: Op;
}
/** `q`: quoted (no splitting, no glob, no brace expansion) */
type Part = { t: 'lit'; s: string; q: boolean } | { t: 'param'; p: Param; q: boolean };

type Value = { array: boolean; items: string[] };


// ---- the reader ---------------------------------------------------------------------------------------------------
class Reader extends FunctionBodyScanner {
  vars = new Map<string, Value>();
  functions = new Set<string>();
  /**
   * per function, the lines of `declare -f` that makepkg's grep takes for attribute assignments: the name and the
   * form (`(` after the `=`: array), in order; or why they cannot be known without bash
   */
  functionLines = new Map<string, FunctionLines>();
  /** while evaluating a package function's line: the driver's local `pkgname` */
  private local: Map<string, Value> | undefined;
  /** pattern-matching steps left (see Glob) */
  readonly budget: Budget = { steps: 20_000_000 };

  /** `conf`: a makepkg.conf, whose upper-case assignments are checked and not evaluated */
  constructor(
    src: string,
    private readonly conf = false,
  ) {
    super(src);
  }

  // ---- top level ----
  readFile(): void {
    for (;;) {
      this.blanks();
      this.comment();
      if (this.pos >= this.src.length) return;
      if (this.peek() === '\n') {
        this.pos++;
        continue;
      }
      this.statement();
      this.blanks();
      this.comment();
      const c = this.peek();
      if (c === ';') {
        this.pos++;
        this.blanks();
        this.comment();
        // `;` must end a statement, not start an empty one
        if (this.peek() === ';') outside('empty statement');
      } else if (c !== '\n' && c !== '') outside(`unexpected ${JSON.stringify(c)} after a statement`);
    }
  }

  private statement(): void {
    const rest = this.src.slice(this.pos, this.pos + 300);
    const fn = /^(?:function[ \t]+([A-Za-z0-9_@.+:-]+)(?=[\s(]|$)(?:[ \t]*\([ \t]*\))?|([A-Za-z0-9_@.+:-]+)[ \t]*\([ \t]*\))/.exec(rest);
    if (fn) {
      if (this.conf) outside('a function in makepkg.conf');
      this.pos += fn[0].length;
      this.functionBody(fn[1] ?? fn[2]);
      return;
    }
    let count = 0;
    for (;;) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(\+?)=/.exec(this.src.slice(this.pos, this.pos + 200));
      if (!m) {
        if (count === 0) outside('a command at top level');
        return;
      }
      this.pos += m[0].length;
      this.assign(m[1], m[2] === '+');
      count++;
      this.blanks();
      const c = this.peek();
      if (c === '' || c === '\n' || c === ';' || c === '#') return;
    }
  }

  private assign(name: string, append: boolean): void {
    if (this.conf) {
      if (!/^[A-Z][A-Z0-9_]*$/.test(name)) outside(`makepkg.conf assigns ${name}`);
    } else if (!ownName(name)) outside(`assigns ${name}`);
    const old = this.vars.get(name);
    if (this.peek() === '(') {
      this.pos++;
      const words: string[] = [];
      for (;;) {
        this.blanks();
        this.comment();
        const c = this.peek();
        if (c === '\n') {
          this.pos++;
          continue;
        }
        if (c === ')') {
          this.pos++;
          break;
        }
        if (c === '') outside('unterminated array');
        if (c === '[') outside('subscripted array element');
        if (';&|<>('.includes(c)) outside(`${c} in an array`);
        const word = this.word('array');
        if (!this.conf) words.push(...this.expandFields(word));
      }
      const end = this.peek();
      if (end !== '' && end !== ' ' && end !== '\t' && end !== '\n' && end !== ';') outside('text after an array');
      if (this.conf) return;
      const items = append && old ? [...old.items, ...words] : words;
      bounded(items);
      // `x+=(...)` on an unset name or a string: an array with the old value first
      this.vars.set(name, { array: true, items });
      return;
    }
    const word = this.word('scalar');
    if (this.conf) return;
    const value = this.expandScalar(word);
    if (!old) this.vars.set(name, { array: false, items: [value] });
    else if (old.array) {
      if (old.items.length === 0 && append) outside('append to an empty array');
      old.items[0] = append ? (old.items[0] ?? '') + value : value;
    } else old.items[0] = append ? old.items[0] + value : value;
    bounded(this.vars.get(name)!.items);
  }

  /** one word (possibly empty) up to an unquoted metacharacter */
  private word(context: 'scalar' | 'array'): Part[] {
    const parts: Part[] = [];
    const lit = (s: string, q: boolean): void => {
      const last = parts[parts.length - 1];
      if (last && last.t === 'lit' && last.q === q) last.s += s;
      else parts.push({ t: 'lit', s, q });
    };
    for (;;) {
      const c = this.peek();
      if (c === '' || c === ' ' || c === '\t' || c === '\n' || c === ';') return parts;
      if (c === ')' && context === 'array') return parts;
      if ('&|<>()`'.includes(c)) outside(`unquoted ${c}`);
      if (c === '\\') {
        const n = this.peek(1);
        if (n === '') outside('trailing backslash');
        this.pos += 2;
        if (n !== '\n') lit(n, true);
        continue;
      }
      if (c === "'") {
        const end = this.src.indexOf("'", this.pos + 1);
        if (end < 0) outside('unterminated quote');
        lit(this.src.slice(this.pos + 1, end), true);
        this.pos = end + 1;
        continue;
      }
      if (c === '"') {
        this.pos++;
        const before = parts.length;
        this.doubleQuoted(parts, lit);
        // "" is a word of its own ("${empty[@]}" is none)
        if (parts.length === before) lit('', true);
        continue;
      }
      if (c === '$') {
        const p = this.dollar(false);
        if (p) parts.push({ t: 'param', p, q: false });
        else {
          this.pos++;
          lit('$', false);
        }
        continue;
      }
      if (c === '~') outside('tilde');
      if (c === '#' && parts.length === 0) outside('comment where a word was expected');
      this.pos++;
      lit(c, false);
    }
  }

  private doubleQuoted(parts: Part[], lit: (s: string, q: boolean) => void): void {
    for (;;) {
      const c = this.peek();
      if (c === '') outside('unterminated double quote');
      if (c === '"') {
        this.pos++;
        return;
      }
      if (c === '`') outside('command substitution');
      if (c === '\\') {
        const n = this.peek(1);
        this.pos += 2;
        if (n === '\n') continue;
        if ('$`"\\'.includes(n)) lit(n, true);
        else lit(`\\${n}`, true);
        continue;
      }
      if (c === '$') {
        const p = this.dollar(true);
        if (p) parts.push({ t: 'param', p, q: true });
        else {
          this.pos++;
          lit('$', true);
        }
        continue;
      }
      this.pos++;
      lit(c, true);
    }
  }

  /** at a `$`: a parameter expansion, or undefined when the `$` is literal */
  private dollar(quoted: boolean): Param | undefined {
    const n = this.peek(1);
    if (n === '{') {
      this.pos += 2;
      return this.braceParam(quoted);
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.src.slice(this.pos + 1, this.pos + 200));
    if (m) {
      this.pos += 1 + m[0].length;
      return { name: m[0] };
    }
    // `$(`, `$((`, `$[`, `$'`, `$"`, `$1`, `$@`, `$$` ...
    if (n === '' || n === ' ' || n === '\t' || n === '\n' || (quoted && n === '"') || n === ')' || n === ';' || n === '/' || n === ':' || n === '.' || n === ',' || n === '=' || n === '}' || n === ']' || n === '+') return undefined;
    return outside(`$${n}`);
  }

  private braceParam(quoted: boolean): Param {
    let length = false;
    if (this.peek() === '#' && /[A-Za-z_]/.test(this.peek(1))) {
      length = true;
      this.pos++;
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.src.slice(this.pos, this.pos + 200));
    if (!m) return outside('special or indirect parameter');
    this.pos += m[0].length;
    const p: Param = { name: m[0], braced: true, ...(length ? { length } : {}) };
    if (this.peek() === '[') {
      // a subscript is arithmetic: 010 is octal
      const ix = /^\[(@|\*|0|[1-9][0-9]*)\]/.exec(this.src.slice(this.pos, this.pos + 40));
      if (!ix) outside('array subscript');
      p.index = ix![1] === '@' || ix![1] === '*' ? (ix![1] as '@' | '*') : Number(ix![1]);
      this.pos += ix![0].length;
    }
    if (this.peek() === '}') {
      this.pos++;
      return p;
    }
    if (length) outside('operator after ${#');
    const rest = this.src.slice(this.pos, this.pos + 3);
    const ops = ['//', '/#', '/%', '/', '##', '#', '%%', '%', ':-', ':+', '-', '+'] as const;
    const op = ops.find((o) => rest.startsWith(o));
    if (op) {
      this.pos += op.length;
      if (op[0] === '/') {
        const pat = this.operand(quoted, '/');
        let rep: Part[] = [];
        if (this.peek() === '/') {
          this.pos++;
          rep = this.operand(quoted, '');
        }
        this.pos++; // }
        p.op = { k: op as '/' | '//' | '/#' | '/%', pat, rep };
      } else if (op[0] === '#' || op[0] === '%') {
        const pat = this.operand(quoted, '');
        this.pos++;
        p.op = { k: op as '#' | '##' | '%' | '%%', pat };
      } else {
        const word = this.operand(quoted, '');
        this.pos++;
        p.op = { k: op as ':-' | '-' | ':+' | '+', word };
      }
      return p;
    }
    const sub = /^:(0|[1-9][0-9]*)(?::(0|[1-9][0-9]*))?\}/.exec(this.src.slice(this.pos, this.pos + 40));
    if (sub) {
      this.pos += sub[0].length;
      p.op = { k: 'sub', off: Number(sub[1]), ...(sub[2] !== undefined ? { len: Number(sub[2]) } : {}) };
      return p;
    }
    return outside('parameter operator');
  }

  /** the operand of a ${...} operator, up to the closing `}` (or `stop`), which is left unread */
  private operand(quoted: boolean, stop: string): Part[] {
    const parts: Part[] = [];
    const lit = (s: string, q: boolean): void => {
      const last = parts[parts.length - 1];
      if (last && last.t === 'lit' && last.q === q) last.s += s;
      else parts.push({ t: 'lit', s, q });
    };
    for (;;) {
      const c = this.peek();
      if (c === '') outside('unterminated ${');
      if (c === '}' || (stop && c === stop)) return parts;
      if (c === "'" || c === '"') {
        // inside double quotes bash reads quotes in operands by rules of their own: not this reader's subset
        if (quoted) outside('quote in a quoted operand');
        if (c === "'") {
          const end = this.src.indexOf("'", this.pos + 1);
          if (end < 0) outside('unterminated quote');
          lit(this.src.slice(this.pos + 1, end), true);
          this.pos = end + 1;
        } else {
          this.pos++;
          const before = parts.length;
          this.doubleQuoted(parts, lit);
          if (parts.length === before) lit('', true);
        }
        continue;
      }
      if (c === '\\') {
        // inside double quotes a backslash stays in a pattern, where it quotes again
        if (quoted) outside('backslash in a quoted operand');
        const n = this.peek(1);
        this.pos += 2;
        if (n === '\n') continue;
        lit(n, true);
        continue;
      }
      // the double quotes around ${...} do not quote its operand: a pattern stays a pattern ("${v%.*}")
      if (c === '$') {
        const p = this.dollar(quoted);
        if (p) parts.push({ t: 'param', p, q: false });
        else {
          this.pos++;
          lit('$', false);
        }
        continue;
      }
      if (c === '`' || c === '\n' || c === '{' || c === '~' || c === '&') outside(`${c} in an operand`);
      this.pos++;
      lit(c, false);
    }
  }

  // ---- expansion ----
  private lookup(name: string): Value | undefined {
    const v = this.local?.get(name) ?? this.vars.get(name);
    if (v) return v;
    if (!ownName(name)) outside(`reads ${name}, which may be set outside the PKGBUILD`);
    return undefined;
  }

  /** the value of one parameter: a list of strings when it expands per element (`[@]`/`[*]`), else one string */
  private param(p: Param): { list: string[]; each: boolean } {
    const v = this.lookup(p.name);
    const items = v ? v.items : [];
    if (p.length) {
      if (p.index === '@' || p.index === '*') return { list: [String(items.length)], each: false };
      const s = p.index === undefined ? (items[0] ?? '') : (items[p.index] ?? '');
      if (!isAscii(s)) outside('length of a non-ASCII value');
      return { list: [String(s.length)], each: false };
    }
    const each = p.index === '@' || p.index === '*';
    let list: string[];
    let isSet: boolean;
    if (each) {
      list = [...items];
      isSet = items.length > 0;
    } else {
      const i = typeof p.index === 'number' ? p.index : 0;
      isSet = v !== undefined && i < items.length;
      list = [isSet ? items[i] : ''];
    }
    const op = p.op;
    if (!op) return { list, each };
    switch (op.k) {
      case ':-':
      case '-':
      case ':+':
      case '+': {
        if (each) outside('default on an array');
        // in double quotes "${x:-${a[@]}}" keeps the elements apart
        if (op.word.some((w) => w.t === 'param' && (w.p.index === '@' || w.p.index === '*'))) outside('an array in a default');
        const useWord = op.k === ':-' ? !isSet || list[0] === '' : op.k === '-' ? !isSet : op.k === ':+' ? isSet && list[0] !== '' : isSet;
        if (op.k === ':-' || op.k === '-') return useWord ? { list: [this.expandScalar(op.word)], each: false } : { list, each };
        return { list: [useWord ? this.expandScalar(op.word) : ''], each: false };
      }
      case 'sub': {
        if (each) outside('slice of an array');
        const s = list[0];
        if (!isAscii(s)) outside('substring of a non-ASCII value');
        return { list: [op.off > s.length ? '' : s.slice(op.off, op.len === undefined ? undefined : op.off + op.len)], each };
      }
      default: {
        const re = this.pattern(op.pat);
        // bash's pre-check for / patterns treats a leading * and a quoted trailing * oddly (match_upattern)
        if (op.k[0] === '/' && re.quirky()) outside('a pattern with a leading * and a quoted trailing *');
        // matching is quadratic (cubic for /): bash, with its time limit, takes long values
        for (const s of list) if (s.length > (op.k[0] === '/' ? 256 : 4096)) outside('a pattern operation on a long value');
        for (const s of list) if (!isAscii(s)) outside('pattern on a non-ASCII value');
        if (op.k === '#' || op.k === '##' || op.k === '%' || op.k === '%%') return { list: list.map((s) => trim(s, re, op.k as '#' | '##' | '%' | '%%')), each };
        if (!('rep' in op)) return outside('operator');
        // an unset value is not substituted into (${unset/#/x} is empty)
        if (!each && !isSet) return { list: [''], each };
        const rep = this.expandScalar(op.rep);
        if (rep.includes('&') || rep.includes('\\')) outside('& or \\ in a replacement');
        return { list: list.map((s) => substitute(s, re, rep, op.k as '/' | '//' | '/#' | '/%')), each };
      }
    }
  }

  /** a glob pattern of `*`, `?` and literal text (bracket expressions and extended patterns are bash's job) */
  private pattern(parts: Part[]): Glob {
    const codes: number[] = [];
    for (const part of parts) {
      let text: string;
      if (part.t === 'lit') text = part.s;
      else {
        // the quoting of a default's word would have to survive into the pattern
        if (!part.q && hasQuotedOperand(part.p)) outside('a quoted operand inside a pattern');
        const value = this.param(part.p);
        if (value.each) outside('array in a pattern');
        text = value.list[0];
      }
      if (!isAscii(text)) outside('non-ASCII pattern');
      if (part.q) {
        for (let i = 0; i < text.length; i++) codes.push(text.charCodeAt(i));
        continue;
      }
      for (let i = 0; i < text.length; i++) {
        const c = text[i];
        if (c === '*') codes.push(STAR);
        else if (c === '?') codes.push(ANY);
        else if (c === '[' || c === ']') outside('bracket expression in a pattern');
        else if (c === '\\') {
          if (i + 1 >= text.length) outside('trailing backslash in a pattern');
          codes.push(text.charCodeAt(++i));
        } else if ('()|@!+'.includes(c)) outside('extended pattern character');
        else codes.push(text.charCodeAt(i));
      }
    }
    return new Glob(codes, this.budget);
  }

  /** a word as bash expands it in an assignment: no splitting, no glob, arrays joined by spaces */
  private expandScalar(parts: Part[]): string {
    let out = '';
    for (const part of parts) out += part.t === 'lit' ? part.s : this.param(part.p).list.join(' ');
    return out;
  }

  /** a word of an array: brace expansion, parameters, field splitting; a glob would read the directory */
  private expandFields(parts: Part[]): string[] {
    const out: string[] = [];
    for (const alt of braceExpand(parts)) {
      let cur: string | undefined;
      const push = (): void => {
        if (cur !== undefined) out.push(cur);
        cur = undefined;
      };
      const addSplit = (s: string): void => {
        if (/[*?[]/.test(s)) outside('unquoted expansion with a glob character');
        // a package function's line is evaluated with extglob on
        if (this.local && s.includes('(')) outside('unquoted expansion with an extended glob character');
        for (const c of s) {
          if (c === ' ' || c === '\t' || c === '\n') push();
          else cur = (cur ?? '') + c;
        }
      };
      for (const part of alt) {
        if (part.t === 'lit') {
          if (!part.q && /[*?[]/.test(part.s)) outside('unquoted glob in an array');
          // a literal $ stops the splitting of an expansion before it (bash 5.2)
          if (!part.q && part.s.includes('$')) outside('an unquoted $ in an array');
          cur = (cur ?? '') + part.s;
          continue;
        }
        if (!part.q && hasQuotedOperand(part.p)) outside('quoted operand of an unquoted expansion in an array');
        const { list, each } = this.param(part.p);
        if (!each) {
          if (part.q) cur = (cur ?? '') + list[0];
          else addSplit(list[0]);
          continue;
        }
        if (part.p.index === '*' && part.q) {
          cur = (cur ?? '') + list.join(' ');
          continue;
        }
        list.forEach((s, i) => {
          if (i > 0) {
            if (part.q) {
              push();
              cur = '';
            } else push();
          }
          if (part.q) cur = (cur ?? '') + s;
          else addSplit(s);
        });
      }
      push();
    }
    return out;
  }

  // ---- function bodies ----
  private functionBody(name: string): void {
    if (SHELL_NAMES.has(name) || RESERVED.has(name) || name.startsWith('__pkgnx') || /^[0-9]+$/.test(name)) outside(`defines a function named ${name}`);
    // the body may start on a later line
    for (;;) {
      this.blanks();
      this.comment();
      if (this.peek() !== '\n') break;
      this.pos++;
    }
    if (this.peek() !== '{' || !' \t\n'.includes(this.peek(1))) outside('function body that is not a { } group');
    this.pos++;
    this.functionLines.set(name, this.functionBodyLines());
    this.functions.add(name);
    this.blanks();
    const c = this.peek();
    if (c !== '' && c !== '\n' && c !== ';' && c !== '#') outside('redirection or text after a function body');
  }


  /**
   * The value a package function's assignment line gives, as the driver's eval of it does: with the global variables
   * and the driver's local `pkgname` (the package's name).
   */
  evaluateLine(line: FunctionLine, pkgname: string): { append: boolean; value: Value } {
    const save = this.pos;
    this.pos = line.start;
    this.local = new Map([['pkgname', { array: false, items: [pkgname] }]]);
    try {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(\+?)=/.exec(this.src.slice(this.pos, this.pos + 200))!;
      this.pos += m[0].length;
      if (this.peek() === '(') {
        this.pos++;
        const items: string[] = [];
        for (;;) {
          this.blanks();
          this.comment();
          const c = this.peek();
          if (c === '\n') {
            this.pos++;
            continue;
          }
          if (c === ')') break;
          if (c === '' || c === '[' || ';&|<>('.includes(c)) outside('an array element in a package function');
          items.push(...this.expandFields(this.word('array')));
        }
        return { append: m[2] === '+', value: { array: true, items } };
      }
      return { append: m[2] === '+', value: { array: false, items: [this.expandScalar(this.word('scalar'))] } };
    } finally {
      this.pos = save;
      this.local = undefined;
    }
  }















}

/** whether an operand of this expansion, at any depth, has quoted text (which this reader's strings do not keep) */
function hasQuotedOperand(p: Param): boolean {
  const op = p.op;
  if (!op) return false;
  const operands = [...('word' in op ? op.word : []), ...('pat' in op ? op.pat : []), ...('rep' in op ? op.rep : [])];
  return operands.some((w) => w.q || (w.t === 'param' && hasQuotedOperand(w.p)));
}

/** values this large are bash's job (a PKGBUILD doubling a variable must not fill the Nx process's memory) */
function bounded(items: readonly string[]): void {
  if (items.length > 16_384) outside('an array of more than 16,384 elements');
  let size = 0;
  for (const s of items) if ((size += s.length) > 1 << 20) outside('a value of more than 1 MiB');
}

function isAscii(s: string): boolean {
  return /^[\x00-\x7f]*$/.test(s);
}

const STAR = -1;
const ANY = -2;

/** steps of pattern matching left for one PKGBUILD: a hostile one must not hold the Nx process */
interface Budget {
  steps: number;
}

class Glob {
  constructor(
    private readonly codes: readonly number[],
    private readonly budget: Budget,
  ) {}

  quirky(): boolean {
    return this.codes[0] === STAR && this.codes[this.codes.length - 1] === 42;
  }

  matchesEmpty(): boolean {
    return this.codes.every((c) => c === STAR);
  }

  /** whether s[from, to) matches the whole pattern: two pointers, back to the last `*` on a mismatch, O(n·m) */
  matches(s: string, from: number, to: number): boolean {
    const m = this.codes.length;
    let p = 0;
    let i = from;
    let starP = -1;
    let starI = 0;
    while (i < to) {
      if (--this.budget.steps < 0) outside('pattern matching that takes too long');
      const c = this.codes[p];
      if (p < m && (c === ANY || c === s.charCodeAt(i))) {
        p++;
        i++;
      } else if (p < m && c === STAR) {
        starP = p++;
        starI = i;
      } else if (starP >= 0) {
        p = starP + 1;
        i = ++starI;
      } else return false;
    }
    while (p < m && this.codes[p] === STAR) p++;
    return p === m;
  }
}

function trim(s: string, g: Glob, k: '#' | '##' | '%' | '%%'): string {
  const n = s.length;
  if (k === '#') for (let i = 0; i <= n; i++) if (g.matches(s, 0, i)) return s.slice(i);
  if (k === '##') for (let i = n; i >= 0; i--) if (g.matches(s, 0, i)) return s.slice(i);
  if (k === '%') for (let i = n; i >= 0; i--) if (g.matches(s, i, n)) return s.slice(0, i);
  if (k === '%%') for (let i = 0; i <= n; i++) if (g.matches(s, i, n)) return s.slice(0, i);
  return s;
}

function substitute(s: string, g: Glob, rep: string, k: '/' | '//' | '/#' | '/%'): string {
  const n = s.length;
  if (g.matchesEmpty() && (k === '/' || k === '//')) outside('a pattern that matches the empty string');
  if (k === '/#') {
    for (let e = n; e >= 0; e--) if (g.matches(s, 0, e)) return rep + s.slice(e);
    return s;
  }
  if (k === '/%') {
    for (let b = 0; b <= n; b++) if (g.matches(s, b, n)) return s.slice(0, b) + rep;
    return s;
  }
  let out = '';
  let i = 0;
  while (i < n) {
    let matched = -1;
    for (let e = n; e > i; e--) {
      if (g.matches(s, i, e)) {
        matched = e;
        break;
      }
    }
    if (matched < 0) {
      out += s[i++];
      continue;
    }
    out += rep;
    i = matched;
    if (k === '/') return out + s.slice(i);
  }
  return out;
}

/** bash's brace expansion of one word (comma lists; a sequence `{a..b}` is left to bash) */
function braceExpand(parts: Part[]): Part[][] {
  // unquoted literal text as single characters, so that `{`, `,` and `}` can be found
  type Tok = Part | { t: 'ch'; c: string };
  const toks: Tok[] = [];
  let braces = 0;
  for (const p of parts) {
    if (p.t === 'lit' && !p.q) {
      for (const c of p.s) toks.push({ t: 'ch', c });
      braces += p.s.split('{').length - 1;
    } else toks.push(p);
  }
  // each { is matched by a scan of the rest of the word: a few dozen are plenty for a PKGBUILD
  if (braces > 64) outside('a word with more than 64 braces');
  if (braces === 0) return [parts];
  // bash expands braces in the raw text: $name or $ before a brace's { , } may read a different name afterwards
  for (let i = 0; i + 1 < toks.length; i++) {
    const t = toks[i];
    const unbraced = (t.t === 'param' && !t.q && !t.p.braced) || (t.t === 'ch' && t.c === '$');
    const n = toks[i + 1];
    if (unbraced && n.t === 'ch' && '{,}'.includes(n.c)) outside('$name next to a brace expansion');
  }
  const isCh = (t: Tok | undefined, c: string): boolean => t?.t === 'ch' && t.c === c;
  const toParts = (ts: Tok[]): Part[] => {
    const out: Part[] = [];
    for (const t of ts) {
      const p: Part = t.t === 'ch' ? { t: 'lit', s: t.c, q: false } : t;
      const last = out[out.length - 1];
      if (p.t === 'lit' && last?.t === 'lit' && last.q === p.q) out[out.length - 1] = { ...last, s: last.s + p.s };
      else out.push(p);
    }
    return out;
  };
  const expand = (ts: Tok[]): Tok[][] => {
    for (let i = 0; i < ts.length; i++) {
      if (!isCh(ts[i], '{')) continue;
      // its matching `}` and the commas at its own depth
      let depth = 0;
      const commas: number[] = [];
      let close = -1;
      for (let j = i + 1; j < ts.length; j++) {
        if (isCh(ts[j], '{')) depth++;
        else if (isCh(ts[j], '}')) {
          if (depth === 0) {
            close = j;
            break;
          }
          depth--;
        } else if (isCh(ts[j], ',') && depth === 0) commas.push(j);
      }
      // an unmatched { is literal; a later one may still expand
      if (close < 0) continue;
      if (commas.length === 0) {
        const inner = ts.slice(i + 1, close);
        if (inner.some((t) => isCh(t, '.'))) outside('brace sequence');
        continue;
      }
      const pre = ts.slice(0, i);
      const post = ts.slice(close + 1);
      const bounds = [i, ...commas, close];
      const out: Tok[][] = [];
      for (let b = 0; b + 1 < bounds.length; b++) {
        for (const alt of expand(ts.slice(bounds[b] + 1, bounds[b + 1]))) {
          for (const rest of expand(post)) {
            out.push([...pre, ...alt, ...rest]);
            if (out.length > 4096) outside('a brace expansion of more than 4,096 words');
          }
        }
      }
      return out;
    }
    return [ts];
  };
  return expand(toks).map(toParts);
}

/** The driver's payload fields for the PKGBUILD text, or why bash must read it. */
export function readPkgbuildStatically(text: string): { fields: string[] } | { outside: string } {
  try {
    return { fields: read(text) };
  } catch (err) {
    if (err instanceof OutsideSubset) return { outside: err.message };
    // nesting deep enough to exhaust the stack: bash's job too
    if (err instanceof RangeError) return { outside: 'nested too deeply' };
    throw err;
  }
}

/** what the driver prints for a package section (__pkgnx_section_details with a package name) */
function packageSection(reader: Reader, p: string, lines: readonly FunctionLine[], emit: (...f: string[]) => void): void {
  const has = new Set(lines.map((l) => l.name));
  const perArch = lines.some((l) => l.name.includes('_'));
  // __pkgnx_attr: the global value, then the package function's lines for this name and form, evaluated in order
  const attr = (name: string, isArray: boolean): { found: boolean; v: string[] } => {
    const global = reader.vars.get(name);
    let v: string[] = isArray ? [...(global?.items ?? [])] : global?.items[0] ? [global.items[0]] : [];
    let found = false;
    for (const line of lines) {
      if (line.name !== name || line.kind !== (isArray ? 'a' : 's')) continue;
      if (!line.alone) outside(`a line of a package function that does more than assign ${name}`);
      const { append, value } = reader.evaluateLine(line, p);
      if (value.array) v = append ? [...v, ...value.items] : value.items;
      else if (append) v[0] = (v[0] ?? '') + value.items[0];
      else v[0] = value.items[0];
      found = true;
    }
    return { found, v };
  };
  const write = (name: string, isArray: boolean): void => {
    const { found, v } = attr(name, isArray);
    if (found) emit('A', name, String(v.length), ...v);
  };
  for (const x of PKG_SINGLE) if (has.has(x)) write(x, false);
  for (const x of PKG_MULTI) if (has.has(x) || x === 'arch') write(x, true);
  if (!perArch && !has.has('arch')) return;
  for (const a of attr('arch', true).v) {
    if (a === 'any' || !/^[A-Za-z0-9_]+$/.test(a)) continue;
    for (const x of ARCH_ATTRS) if (has.has(`${x}_${a}`)) write(`${x}_${a}`, true);
  }
}

function read(text: string): string[] {
  // bash drops NUL bytes while it reads a file (pkgnx refuses such a PKGBUILD before reading it anyway)
  if (text.includes('\0')) outside('a NUL byte');
  const reader = new Reader(text);
  reader.readFile();
  const { vars, functions } = reader;
  const fields: string[] = [];
  const emit = (...f: string[]): void => {
    fields.push(...f);
  };
  const scalar = (name: string): string => vars.get(name)?.items[0] ?? '';
  // pkgbase=${pkgbase:-${pkgname[0]}}
  const pkgname = vars.get('pkgname')?.items ?? [];
  // the driver takes an empty name for the pkgbase section
  if (pkgname.includes('')) outside('an empty package name');
  const base = vars.get('pkgbase');
  if (!base || (base.items[0] ?? '') === '') {
    if (base) base.items[0] = pkgname[0] ?? '';
    else vars.set('pkgbase', { array: false, items: [pkgname[0] ?? ''] });
  }
  // the declared schema names, the <name>_<arch> forms included (T)
  const arch = vars.get('arch')?.items ?? [];
  const names = [...SCHEMA_NAMES];
  for (const a of arch) if (/^[A-Za-z0-9_]+$/.test(a)) names.push(...SCHEMA_NAMES.map((n) => `${n}_${a}`));
  let perArch = false;
  for (const n of names) {
    const v = vars.get(n);
    if (!v) continue;
    emit('T', n, v.array ? 'a' : '');
    if (n.includes('_')) perArch = true;
  }
  if (functions.has('package')) emit('P', 'package');
  for (const p of pkgname) if (functions.has(`package_${p}`)) emit('P', `package_${p}`);
  emit('S', 'pkgbase', scalar('pkgbase') || (pkgname[0] ?? ''));
  for (const n of GLOBAL_SINGLE) if (vars.has(n) && scalar(n) !== '') emit('A', n, '1', scalar(n));
  for (const n of GLOBAL_MULTI) {
    const items = vars.get(n)?.items ?? [];
    if (items.length) emit('A', n, String(items.length), ...items);
  }
  if (perArch) {
    for (const a of arch) {
      if (a === 'any' || !/^[A-Za-z0-9_]+$/.test(a)) continue;
      for (const x of ARCH_ATTRS) {
        const items = vars.get(`${x}_${a}`)?.items ?? [];
        if (items.length) emit('A', `${x}_${a}`, String(items.length), ...items);
      }
    }
  }
  for (const p of pkgname) {
    if (pkgname.length === 1) {
      if (!functions.has('package') && !functions.has(`package_${p}`) && functions.has('build')) emit('M', 'package');
    } else if (!functions.has(`package_${p}`)) emit('M', `package_${p}`);
    // the function the driver reads for this package (grep_function's fallback to package()): its assignment lines
    // are listed (F), and those of the package section's attributes evaluated
    const fn = reader.functionLines.get(`package_${p}`) ?? reader.functionLines.get('package');
    if (fn?.uncertain) outside(`a package function: ${fn.uncertain}`);
    const lines = fn?.lines ?? [];
    for (const { name, kind } of lines) emit('F', p, name, kind);
    emit('S', 'pkgname', p);
    packageSection(reader, p, lines, emit);
  }
  emit('Z', 'X', '0', '2', '');
  return fields;
}

/**
 * Whether what the sandbox sources before a PKGBUILD (its /etc/makepkg.conf, if any) leaves every lower-case name
 * unset and defines no function: then a PKGBUILD read by readPkgbuildStatically reads the same in the sandbox.
 */
export function staticReadingPossible(makepkgConf: string | undefined): boolean {
  if (makepkgConf === undefined) return true;
  try {
    new Reader(makepkgConf, true).readFile();
    return true;
  } catch (err) {
    if (err instanceof OutsideSubset) return false;
    throw err;
  }
}
