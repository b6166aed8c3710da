/**
 * Bash function bodies read as bash parses them, without running them (for static-reader.ts): where a body ends,
 * whether bash would accept it, and which of its assignments `declare -f` prints at the start of a line, the lines
 * the driver's grep of a package function takes for attribute overrides (driver.bash, __pkgnx_load_function).
 * Whatever it does not follow exactly throws OutsideSubset, and the PKGBUILD is left to bash.
 */

/** the PKGBUILD is outside what the static reader knows bash's behaviour for: bash reads it */
export class OutsideSubset extends Error {}
export const outside = (why: string): never => {
  throw new OutsideSubset(why);
};

/** builtins that take `name=(...)` arguments */
const DECLARATIONS = new Set(['declare', 'local', 'export', 'readonly', 'typeset']);
/** reserved words that end or divide a compound command: they may follow one directly (`fi }`) */
const CLOSERS = new Set(['}', 'fi', 'done', 'esac', 'then', 'do', 'else', 'elif']);
const UNARY_TESTS = new Set(['-a', '-b', '-c', '-d', '-e', '-f', '-g', '-h', '-k', '-p', '-r', '-s', '-t', '-u', '-w', '-x', '-G', '-L', '-N', '-O', '-S', '-z', '-n', '-o', '-v', '-R']);
const BINARY_TESTS = new Set(['==', '=', '!=', '<', '>', '-eq', '-ne', '-lt', '-le', '-gt', '-ge', '-ef', '-nt', '-ot']);
export const RESERVED = new Set(['if', 'then', 'elif', 'else', 'fi', 'case', 'esac', 'for', 'select', 'while', 'until', 'do', 'done', 'in', 'function', 'time', '{', '}', '!', '[[', ']]', 'coproc']);

/** what makepkg's grep of `declare -f` takes for an attribute assignment (a looser form: no leading space needed) */
const ASSIGNMENT_LINE = /^[ \t]*[A-Za-z_][A-Za-z0-9_]*\+?=/;

/** an assignment line of a package function as makepkg's grep takes it; `start`: where its word starts in the text */
export interface FunctionLine {
  name: string;
  kind: 'a' | 's';
  start: number;
  /** nothing else on its line (the driver evaluates the whole line) */
  alone: boolean;
}

/** a function's assignment lines, or why they cannot be known without bash */
export interface FunctionLines {
  lines: FunctionLine[];
  uncertain?: string;
}

/** The text and position, and the scanning of function bodies; the static reader builds on it for the rest. */
export class FunctionBodyScanner {
  pos = 0;
  private lines: FunctionLine[] = [];
  private uncertain: string | undefined;
  /** inside $( ), <( ), >( ) */
  private nest = 0;
  private heredocs: { delim: string; tabs: boolean; quoted: boolean }[] = [];

  constructor(protected readonly src: string) {}

  protected peek(n = 0): string {
    return this.src[this.pos + n] ?? '';
  }

  protected startsWith(s: string): boolean {
    return this.src.startsWith(s, this.pos);
  }

  /** spaces, tabs and line continuations */
  protected blanks(): void {
    for (;;) {
      const c = this.peek();
      if (c === ' ' || c === '\t') this.pos++;
      else if (c === '\\' && this.peek(1) === '\n') this.pos += 2;
      else return;
    }
  }

  protected comment(): void {
    if (this.peek() === '#') while (this.pos < this.src.length && this.peek() !== '\n') this.pos++;
  }

  /** after a function's opening `{`: the body up to its closing `}`, and its assignment lines */
  protected functionBodyLines(): FunctionLines {
    this.lines = [];
    this.uncertain = undefined;
    this.commands('}');
    // a here-document started on the body's last line continues below it
    if (this.heredocs.length) outside('a here-document after the end of a function');
    return { lines: this.lines, ...(this.uncertain ? { uncertain: this.uncertain } : {}) };
  }

  /** whether only blanks and a comment are left before the end of this statement */
  private endsLine(): boolean {
    const save = this.pos;
    this.blanks();
    const c = this.peek();
    this.pos = save;
    return c === '' || c === '\n' || c === ';' || c === '#';
  }

  private unsure(why: string): void {
    this.uncertain ??= why;
  }

  /** after `$(`, `<(`, `>(`: its commands (bash 5.2 prints compound ones over several lines: see commands) */
  private substitution(): void {
    if (this.nest > 32) outside('command substitutions nested too deeply');
    const heredocs = this.heredocs.length;
    this.nest++;
    try {
      this.commands(')');
    } finally {
      this.nest--;
    }
    // bash warns when a here-document started inside is not ended inside
    if (this.heredocs.length > heredocs) outside('a here-document left open in a command substitution');
  }

  /**
   * Skips a list of commands, checking bash's structure, up to `end` (`}` closing a function body at command
   * position, or `)` closing a command substitution), and records the assignments `declare -f` prints at the start
   * of a line: those of a command that starts a statement (after a newline, `;`, `&`, `then`, `do`, `else`, `{`, a
   * case pattern), not after `&&`, `|`, `if`, `while`, `!`. Where bash prints less simply (subshells, substitutions,
   * here-documents, multi-line strings, `&`), the function's lines are `uncertain`. Anything this does not follow
   * exactly is outside the subset.
   */
  private commands(end: '}' | ')'): void {
    type Frame = { k: '{' | '(' | 'if' | 'loop' | 'for' | 'case'; st: string; n: number };
    const stack: Frame[] = [];
    let subshells = 0; // ( frames on the stack
    let cmdpos = true; // the next word is a command's first
    let need = false; // after && || | ! if while ...: a command must follow
    let bang = false; // that was ! or time, which a newline would end
    let pipe = false; // after | (where ! is an error)
    let stmt = true; // the next command starts a statement: declare -f prints it at the start of a line
    let amp = false; // after `&`, which declare -f follows with the next command on the same line
    let ended = false; // after a compound command, [[ ]] or (( )): only an operator, a redirection or a closing word
    let redirFirst = false; // a redirection before the command's first word (declare -f prints it at the end)
    let endedRedirected = false; // a redirection after a compound command: no closing word may follow it directly
    let afterTime = false; // `time -p` makes bash read the next word as reserved
    let heredocInList = false; // a here-document since the statement began (declare -f breaks the line after it)
    let prefix = false; // after an assignment that starts a command: the next plain word is the command's name
    let commandName = '';
    let commandsInList = 0;
    let expectWord: 'redir' | 'heredoc' | 'fn' | undefined;
    let heredocTabs = false;
    const top = (): Frame | undefined => stack[stack.length - 1];
    const newStatement = (): void => {
      cmdpos = true;
      stmt = true;
      ended = false;
      endedRedirected = false;
      redirFirst = false;
      heredocInList = false;
      prefix = false;
      pipe = false;
    };
    const assignment = (raw: string, text: string, kind: 'a' | 's' | undefined, start: number, multiline: boolean): void => {
      if (this.nest > 0) return this.unsure('an assignment in a command substitution');
      if (subshells > 0) return this.unsure('an assignment in a subshell');
      if (amp) return this.unsure('an assignment after &');
      if (heredocInList) return this.unsure('an assignment after a here-document');
      if (!stmt) return;
      if (kind === undefined || raw !== text) return this.unsure('an assignment of an empty or escaped value');
      const m = /^([A-Za-z_][A-Za-z0-9_]*)\+?=/.exec(text);
      // the driver evaluates the line as printed: a redirection moved after it, a value over several lines, or the
      // `; then` / `; do` that ends a condition's last line breaks that
      const inCondition = stack.some((fr) => fr.st === 'cond');
      if (m) this.lines.push({ name: m[1], kind, start, alone: this.endsLine() && !redirFirst && !multiline && !inCondition });
    };
    const count = (): void => {
      const f = top();
      if (f) f.n++;
      else commandsInList++;
    };
    const open = (k: Frame['k'], st: string): void => {
      stack.push({ k, st, n: 0 });
      if (k === '(') subshells++;
      cmdpos = true;
    };
    const close = (): void => {
      if (stack.pop()?.k === '(') subshells--;
      count();
      cmdpos = false;
      ended = true;
    };
    // then, elif, else, do: the next part of the compound command on top, whose part so far must have a command
    const next = (f: Frame | undefined, k: Frame['k'], from: string, to: string, word: string): void => {
      if (f?.k !== k || f.st !== from || f.n === 0) outside(`${word} out of place`);
      f!.st = to;
      f!.n = 0;
      cmdpos = true;
    };
    const loopBody = (f: Frame): void => {
      f.k = 'loop';
      f.st = 'body';
      f.n = 0;
      newStatement();
      amp = false;
    };
    for (;;) {
      this.blanks();
      const c = this.peek();
      if (c === '') return outside('unterminated function body');
      if (c === '#') {
        this.comment();
        continue;
      }
      const f = top();
      if (c === '\n') {
        this.pos++;
        if (expectWord) outside('newline where a word was expected');
        this.readHeredocs();
        if (f?.k === 'case' && f.st !== 'pat0' && f.st !== 'body') outside('newline in a case pattern');
        if (f?.k === 'for') {
          if (f.st === 'name') outside('newline after for');
          f.st = 'sep';
          continue;
        }
        if (need) {
          if (bang) outside('! or time alone on a line');
          continue;
        }
        newStatement();
        continue;
      }
      const op = /^(;;&|;;|;&|&&|\|\||\|&|<<<|<<-|<<|<>|<&|>&|>>|>\||&>>|&>|;|&|\||<\(|>\(|<|>|\(\(|\(|\))/.exec(this.src.slice(this.pos, this.pos + 4));
      if (op && !(op[1] === '((' && !cmdpos)) {
        const o = op[1];
        if (expectWord && o !== '<(' && o !== '>(') outside(`${o} where a word was expected`);
        const inPattern = f?.k === 'case' && f.st !== 'body';
        if (o === '<(' || o === '>(') {
          if (inPattern || f?.k === 'for') outside('process substitution out of place');
          this.pos += 2;
          this.substitution();
          this.finishWord();
          if (expectWord) {
            expectWord = undefined;
            need = false;
            continue;
          }
          if (ended) outside('a word after a compound command');
          if (cmdpos) {
            cmdpos = false;
            stmt = false;
            need = false;
            count();
          }
          continue;
        }
        this.pos += o.length;
        if (o === ';' || o === '&') {
          if (f?.k === 'for' && f.st === 'name') outside(`${o} where a for loop's name goes`);
          if (f?.k === 'for') {
            if (o === '&' || f.st === 'sep') outside(`${o} in a for loop's head`);
            f.st = 'sep';
            continue;
          }
          if (inPattern || cmdpos || need) outside(`${o} without a command`);
          newStatement();
          if (o === '&') amp = true;
          continue;
        }
        if (o === ';;' || o === ';;&' || o === ';&') {
          if (f?.k !== 'case' || f.st !== 'body' || need) outside(`${o} outside a case item`);
          f!.st = 'pat0';
          newStatement();
          stmt = false;
          continue;
        }
        if (o === '|' && f?.k === 'case' && f.st === 'pat2') {
          f.st = 'pat1';
          continue;
        }
        if ((inPattern || f?.k === 'for') && o !== '(' && o !== ')') outside(`${o} out of place`);
        if (o === '&&' || o === '||' || o === '|' || o === '|&') {
          if (cmdpos || need) outside(`${o} without a command before it`);
          cmdpos = true;
          need = true;
          bang = false;
          pipe = o === '|' || o === '|&';
          stmt = false;
          ended = false;
          redirFirst = false;
          prefix = false;
          continue;
        }
        if (o === '((') {
          if (redirFirst) outside('a redirection before a compound command');
          this.skipArithmetic();
          count();
          cmdpos = false;
          need = false;
          stmt = false;
          ended = true;
          continue;
        }
        if (o === '(') {
          if (f?.k === 'case' && f.st === 'pat0') {
            f.st = 'pat1';
            continue;
          }
          if (!cmdpos || inPattern) outside('( after a word');
          if (redirFirst) outside('a redirection before a compound command');
          need = false;
          stmt = false;
          open('(', 'body');
          continue;
        }
        if (o === ')') {
          if (f?.k === 'case' && f.st === 'pat2') {
            f.st = 'body';
            newStatement();
            continue;
          }
          if (inPattern) outside(') out of place in a case pattern');
          if (f?.k === '(') {
            if (f.n === 0 || need) outside('empty subshell');
            close();
            continue;
          }
          if (!f && end === ')') {
            if (need) outside(') after an operator');
            return;
          }
          return outside('unbalanced )');
        }
        // a redirection: its target follows
        if (inPattern) outside('a redirection in a case pattern');
        if (cmdpos && !prefix) redirFirst = true;
        expectWord = o === '<<' || o === '<<-' ? 'heredoc' : 'redir';
        if (expectWord === 'heredoc') heredocInList = true;
        heredocTabs = o === '<<-';
        continue;
      }
      // a word
      const start = this.pos;
      const plain = this.skipWord();
      const raw = this.src.slice(start, this.pos);
      // bash joins a line continuation before anything else (`d\<newline>one` is done)
      const text = raw.replace(/\\\n/g, '');
      if (text === '') outside(`unexpected ${JSON.stringify(c)}`);
      const multiline = this.checkLines(text);
      // 2>file, {fd}>file: the number or name belongs to the redirection
      if (!expectWord && (/^[0-9]+$/.test(text) || /^\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(text)) && (this.peek() === '<' || this.peek() === '>')) continue;
      if (expectWord === 'heredoc') {
        if (!/^(?:[A-Za-z0-9_.-]+|'[A-Za-z0-9_.-]+'|"[A-Za-z0-9_.-]+"|\\[A-Za-z0-9_.-]+)$/.test(text)) outside('unusual here-document delimiter');
        this.heredocs.push({ delim: text.replace(/^['"\\]|['"]$/g, ''), tabs: heredocTabs, quoted: text !== text.replace(/['"\\]/g, '') });
        expectWord = undefined;
        need = false;
        if (cmdpos && !prefix) count();
        if (ended) endedRedirected = true;
        continue;
      }
      if (expectWord === 'redir') {
        expectWord = undefined;
        need = false;
        if (cmdpos && !prefix) count();
        if (ended) endedRedirected = true;
        continue;
      }
      if (expectWord === 'fn') {
        expectWord = undefined;
        // `function name`, then an optional (), then the body
        if (!plain) outside('an unusual function name');
        this.blanks();
        if (this.startsWith('()')) this.pos += 2;
        this.functionBodyFollows();
        newStatement();
        continue;
      }
      if (f?.k === 'case' && f.st !== 'body') {
        if (f.st === 'word') f.st = 'in';
        else if (f.st === 'in') {
          if (!plain || text !== 'in') outside('case without in');
          f.st = 'pat0';
        } else if (f.st === 'pat0' && plain && text === 'esac') close();
        else if (f.st === 'pat0' || f.st === 'pat1') {
          // declare -f prints a pattern at the start of a line
          if (ASSIGNMENT_LINE.test(text)) this.unsure('a case pattern that looks like an assignment');
          f.st = 'pat2';
        } else outside('two words in a case pattern');
        continue;
      }
      if (f?.k === 'for') {
        if (f.st === 'name') {
          if (!plain || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(text)) outside('a for loop without a name');
          f.st = 'afterName';
        } else if (plain && text === 'do' && f.st !== 'words') loopBody(f);
        else if (f.st === 'afterName' && plain && text === 'in') f.st = 'words';
        else if (f.st !== 'words') outside('a for loop without do');
        continue;
      }
      if (ended && (endedRedirected || !(plain && CLOSERS.has(text)))) outside('a word after a compound command');
      if (afterTime) {
        afterTime = false;
        if (text.startsWith('-')) outside('time with an option');
      }
      // `name=(...)`, also as an argument of a declaration (local x=(...)): a compound assignment, not a subshell
      if (/^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=$/.test(text) && this.peek() === '(') {
        if (!cmdpos && !prefix && !DECLARATIONS.has(commandName)) outside('( in an argument');
        this.pos++;
        const arrayMultiline = this.skipArrayBody();
        if (cmdpos) {
          assignment(raw, text, 'a', start, arrayMultiline);
          need = false;
          stmt = false;
          count();
          cmdpos = false;
          prefix = true;
        }
        continue;
      }
      if ((cmdpos || ended) && plain && RESERVED.has(text)) {
        if (need && CLOSERS.has(text)) outside(`${text} after an operator`);
        // after a redirection bash reads no reserved word
        if (redirFirst) outside(`${text} after a redirection`);
        // after | bash reads ! as an error and time as a command
        if (pipe && (text === '!' || text === 'time')) outside(`${text} after |`);
        need = false;
        bang = false;
        amp = false;
        ended = false;
        // then, else, do and { start statements; if, elif, while, until, !, time continue the line
        stmt = text === '{' || text === 'then' || text === 'else' || text === 'do';
        switch (text) {
          case '{':
            open('{', 'body');
            continue;
          case '}': {
            if (!f) {
              if (end !== '}') outside('} closing a command substitution');
              if (commandsInList === 0) outside('empty function body');
              return;
            }
            if (f.k !== '{' || f.n === 0) outside('unbalanced }');
            close();
            continue;
          }
          case 'if':
          case 'while':
          case 'until':
            open(text === 'if' ? 'if' : 'loop', 'cond');
            need = true;
            continue;
          case 'for':
          case 'select':
            stack.push({ k: 'for', st: 'name', n: 0 });
            cmdpos = false;
            this.blanks();
            if (text === 'for' && this.startsWith('((')) {
              this.pos += 2;
              this.skipArithmetic();
              stack[stack.length - 1].st = 'afterArith';
            }
            continue;
          case 'then':
            next(f, 'if', 'cond', 'then', text);
            continue;
          case 'elif':
            next(f, 'if', 'then', 'cond', text);
            need = true;
            continue;
          case 'else':
            next(f, 'if', 'then', 'else', text);
            continue;
          case 'fi':
            if (f?.k !== 'if' || (f.st !== 'then' && f.st !== 'else') || f.n === 0) outside('fi out of place');
            close();
            continue;
          case 'do':
            next(f, 'loop', 'cond', 'body', text);
            continue;
          case 'done':
            if (f?.k !== 'loop' || f.st !== 'body' || f.n === 0) outside('done out of place');
            close();
            continue;
          case 'case':
            stack.push({ k: 'case', st: 'word', n: 0 });
            cmdpos = false;
            continue;
          case 'esac':
            if (f?.k !== 'case' || f.st !== 'body') outside('esac out of place');
            close();
            continue;
          case 'function':
            expectWord = 'fn';
            continue;
          case '!':
          case 'time':
            need = true;
            bang = true;
            afterTime = text === 'time';
            cmdpos = true;
            continue;
          case '[[':
            this.conditional();
            count();
            cmdpos = false;
            ended = true;
            continue;
          default:
            // in, ]], coproc
            return outside(`${text} out of place`);
        }
      }
      if (cmdpos) {
        need = false;
        bang = false;
        pipe = false;
        if (/^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=/.test(text)) {
          // an assignment: the command name, if any, follows (bash takes no reserved word there)
          const value = text.slice(text.indexOf('=') + 1);
          assignment(raw, text, value === '' || value[0] === '\\' ? undefined : 's', start, multiline);
          stmt = false;
          count();
          cmdpos = false;
          prefix = true;
          continue;
        }
        cmdpos = false;
        stmt = false;
        amp = false;
        prefix = false;
        commandName = text;
        count();
        // `name ()`: a function definition inside the body
        this.blanks();
        if (this.startsWith('()') || /^\([ \t]*\)/.test(this.src.slice(this.pos, this.pos + 20))) {
          if (redirFirst) outside('a redirection before a function definition');
          this.pos = this.src.indexOf(')', this.pos) + 1;
          this.functionBodyFollows();
          newStatement();
        }
        continue;
      }
      if (prefix && !/^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=/.test(text)) {
        prefix = false;
        commandName = text;
      }
    }
  }

  /** a word's lines after its first, which declare -f prints as written: one may look like an assignment. Whether it has any */
  private checkLines(text: string): boolean {
    if (!text.includes('\n')) return false;
    if (text.split('\n').slice(1).some((l) => ASSIGNMENT_LINE.test(l))) this.unsure('a multi-line word with a line that looks like an assignment');
    return true;
  }

  /** after a function's name inside a body: bash requires its body next (a { } group is all this reader takes) */
  private functionBodyFollows(): void {
    for (;;) {
      this.blanks();
      this.comment();
      if (this.peek() !== '\n') break;
      if (this.heredocs.length) outside('a here-document pending before a function body');
      this.pos++;
    }
    if (this.peek() !== '{' || !' \t\n'.includes(this.peek(1))) outside('a function without a { } body');
  }

  /** after `name=(`: the elements up to `)`; whether one spans lines */
  private skipArrayBody(): boolean {
    let multiline = false;
    for (;;) {
      this.blanks();
      this.comment();
      const c = this.peek();
      if (c === '') outside('unterminated array');
      if (c === '\n') {
        if (this.heredocs.length) outside('a here-document pending across an array');
        this.pos++;
        continue;
      }
      if (c === ')') {
        this.pos++;
        return multiline;
      }
      if (';&|<>('.includes(c)) outside(`${c} in an array`);
      const start = this.pos;
      this.skipWord();
      if (this.checkLines(this.src.slice(start, this.pos).replace(/\\\n/g, ''))) multiline = true;
    }
  }

  /** after a process substitution, the rest of the word */
  private finishWord(): void {
    const c = this.peek();
    if (c !== '' && !' \t\n;&|<>()'.includes(c)) this.skipWord();
  }

  /** skips one word of a function body; returns whether it had no quoting at all (a reserved word can only be such) */
  private skipWord(): boolean {
    let plain = true;
    for (;;) {
      const c = this.peek();
      if (c === '' || ' \t\n;&|<>()'.includes(c)) return plain;
      if (c === '\\') {
        // a line continuation is not quoting
        if (this.peek(1) !== '\n') plain = false;
        this.pos += 2;
        continue;
      }
      if (c === "'") {
        const end = this.src.indexOf("'", this.pos + 1);
        if (end < 0) outside('unterminated quote');
        this.pos = end + 1;
        plain = false;
        continue;
      }
      if (c === '"') {
        this.pos++;
        this.skipDouble();
        plain = false;
        continue;
      }
      if (c === '`') {
        this.skipBackquote();
        plain = false;
        continue;
      }
      if (c === '$') {
        plain = false;
        this.skipDollar(false);
        continue;
      }
      this.pos++;
    }
  }

  private skipDouble(): void {
    for (;;) {
      const c = this.peek();
      if (c === '') outside('unterminated double quote');
      if (c === '"') {
        this.pos++;
        return;
      }
      if (c === '\\') this.pos += 2;
      else if (c === '`') this.skipBackquote();
      else if (c === '$') this.skipDollar(true);
      else this.pos++;
    }
  }

  private skipBackquote(): void {
    this.pos++;
    for (;;) {
      const c = this.peek();
      if (c === '') outside('unterminated backquote');
      if (c === '\\') this.pos += 2;
      else if (c === '`') {
        this.pos++;
        return;
      } else this.pos++;
    }
  }

  /** at `$` */
  private skipDollar(quoted: boolean): void {
    const n = this.peek(1);
    if (n === '(') {
      if (this.peek(2) === '(') {
        this.pos += 3;
        this.skipArithmetic();
        return;
      }
      this.pos += 2;
      this.substitution();
      return;
    }
    if (n === '{') {
      this.pos += 2;
      this.skipBraceParam(quoted);
      return;
    }
    if (n === "'") {
      this.pos += 2;
      for (;;) {
        const c = this.peek();
        if (c === '') outside('unterminated $\'');
        if (c === '\\') this.pos += 2;
        else if (c === "'") {
          this.pos++;
          return;
        } else this.pos++;
      }
    }
    if (n === '"') {
      this.pos += 2;
      this.skipDouble();
      return;
    }
    if (n === '[') outside('$[ arithmetic');
    this.pos++;
  }

  private skipBraceParam(quoted: boolean): void {
    let depth = 1;
    for (;;) {
      const c = this.peek();
      if (c === '') outside('unterminated ${');
      if (c === '}') {
        this.pos++;
        if (--depth === 0) return;
        continue;
      }
      if (c === '\\') this.pos += 2;
      else if (c === "'") {
        if (quoted) outside("' inside a quoted ${}");
        const end = this.src.indexOf("'", this.pos + 1);
        if (end < 0) outside('unterminated quote');
        this.pos = end + 1;
      } else if (c === '"') {
        this.pos++;
        this.skipDouble();
      } else if (c === '`') this.skipBackquote();
      else if (c === '$') {
        if (this.peek(1) === '{') {
          this.pos += 2;
          depth++;
        } else this.skipDollar(quoted);
      } else this.pos++;
    }
  }

  /** after `((` or `$((`: up to the matching `))` */
  private skipArithmetic(): void {
    let depth = 0;
    for (;;) {
      const c = this.peek();
      if (c === '') outside('unterminated arithmetic');
      if (c === '(') depth++;
      else if (c === ')') {
        if (depth === 0) {
          if (this.peek(1) !== ')') outside('arithmetic not closed by ))');
          this.pos += 2;
          return;
        }
        depth--;
      } else if (c === '$') {
        this.skipDollar(false);
        continue;
      } else if (c === "'" || c === '"' || c === '`' || c === '\n') outside('quote or newline in arithmetic');
      this.pos++;
    }
  }

  /**
   * After `[[`: the expression up to `]]`, checked as bash parses it (`!`, `( )`, `&&`, `||`, unary and binary tests,
   * `=~` with its regular expression read as one word).
   */
  private conditional(): void {
    type Tok = { op: string } | { word: string; plain: boolean };
    let peeked: Tok | undefined;
    const next = (): Tok => {
      if (peeked) {
        const t = peeked;
        peeked = undefined;
        return t;
      }
      this.blanks();
      const c = this.peek();
      if (c === '' || c === '\n') outside('unterminated [[');
      const op = /^(&&|\|\||\(|\)|<|>)/.exec(this.src.slice(this.pos, this.pos + 2));
      if (op) {
        this.pos += op[1].length;
        return { op: op[1] };
      }
      if ('&|;#'.includes(c)) outside(`${c} in [[ ]]`);
      const start = this.pos;
      const plain = this.skipWord();
      const word = this.src.slice(start, this.pos).replace(/\\\n/g, '');
      this.checkLines(word);
      return { word, plain };
    };
    const peek = (): Tok => (peeked ??= next());
    const isWord = (t: Tok, w: string): boolean => 'word' in t && t.plain && t.word === w;
    const operand = (): void => {
      const t = next();
      if (!('word' in t) || isWord(t, ']]')) outside('a test without its operand');
    };
    // =~: the regular expression is one word, parentheses and | included
    const regex = (): void => {
      this.blanks();
      let depth = 0;
      const start = this.pos;
      for (;;) {
        const c = this.peek();
        if (c === '' || c === '\n') outside('unterminated [[');
        if ((c === ' ' || c === '\t') && depth === 0) break;
        // bash ends the expression there, or reads a comment
        if (';&<>'.includes(c) || (c === '#' && this.pos === start)) outside(`${c} in a regular expression`);
        if (c === '(') depth++;
        else if (c === ')') {
          if (depth === 0) break;
          depth--;
        }
        if (c === '\\' || c === "'" || c === '"' || c === '$' || c === '`') {
          this.skipWord();
          continue;
        }
        this.pos++;
      }
      if (this.pos === start) outside('=~ without a regular expression');
    };
    const primary = (): void => {
      const t = next();
      if ('op' in t) {
        if (t.op !== '(') outside(`${t.op} where a test goes`);
        or();
        const close = next();
        if (!('op' in close) || close.op !== ')') outside('( without ) in [[ ]]');
        return;
      }
      if (isWord(t, '!')) return primary();
      if (isWord(t, ']]')) outside('an empty test');
      if (t.plain && UNARY_TESTS.has(t.word)) return operand();
      const after = peek();
      if ('word' in after && after.plain && after.word === '=~') {
        next();
        return regex();
      }
      if (('op' in after && (after.op === '<' || after.op === '>')) || ('word' in after && after.plain && BINARY_TESTS.has(after.word))) {
        next();
        operand();
      }
    };
    const and = (): void => {
      primary();
      while ('op' in peek() && (peek() as { op: string }).op === '&&') {
        next();
        primary();
      }
    };
    const or = (): void => {
      and();
      while ('op' in peek() && (peek() as { op: string }).op === '||') {
        next();
        and();
      }
    };
    or();
    const last = next();
    if (!isWord(last, ']]')) outside('[[ ]] with more than one expression');
  }

  /** at the start of the line after one that started here-documents: their bodies */
  private readHeredocs(): void {
    for (const h of this.heredocs) {
      for (;;) {
        if (this.pos >= this.src.length) outside('here-document without its delimiter');
        let eol = this.src.indexOf('\n', this.pos);
        if (eol < 0) eol = this.src.length;
        let line = this.src.slice(this.pos, eol);
        this.pos = Math.min(eol + 1, this.src.length);
        if (h.tabs) line = line.replace(/^\t+/, '');
        if (line === h.delim) break;
        // an unquoted here-document joins a line continuation before it looks for its delimiter
        if (!h.quoted && line.endsWith('\\')) outside('a line continuation in a here-document');
        if (ASSIGNMENT_LINE.test(line)) this.unsure('a here-document line that looks like an assignment');
      }
    }
    this.heredocs = [];
  }
}
