/**
 * The blacklist: one pattern per line, fnmatch wildcards (`*`, `?`, `[...]`, `[!...]`), `#` comments,
 * inline comments (`foo # why` — the predecessor kept the whole line as a dead pattern), blank lines.
 */
import { readFileSync } from 'node:fs';

export interface BlacklistPattern {
  pattern: string;
  /** the text after `#` on the same line, if any */
  comment?: string;
  line: number;
}

export interface Blacklist {
  patterns: BlacklistPattern[];
  /** first pattern matching `name`, or undefined */
  match(name: string): BlacklistPattern | undefined;
}

/**
 * fnmatch(3) without flags, as Python's fnmatch.fnmatchcase: whole-string match. Throws (a SyntaxError
 * from RegExp) on an invalid range such as `[z-a]`; parseBlacklist reports it with file and line.
 */
export function fnmatchToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      // as fnmatch: after `[` or `[!`, a `]` is a literal member of the set, not its end
      let j = i + 1;
      if (pattern[j] === '!') j++;
      if (pattern[j] === ']') j++;
      const close = pattern.indexOf(']', j);
      if (close === -1) {
        re += '\\[';
        continue;
      }
      let set = pattern.slice(i + 1, close);
      const negate = set.startsWith('!');
      if (negate) set = set.slice(1);
      re += `[${negate ? '^' : ''}${set.replace(/[\\\]^]/g, '\\$&')}]`;
      i = close;
    } else re += c.replace(/[.+^${}()|\\/-]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export class BlacklistError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(`${file}:${line}: ${message}`);
    this.name = 'BlacklistError';
  }
}

/** `file` names the blacklist in error messages (`<file>:<line>: invalid pattern ...`). */
export function parseBlacklist(text: string, file = '<blacklist>'): Blacklist {
  const patterns: BlacklistPattern[] = [];
  text.split('\n').forEach((raw, index) => {
    const hash = raw.indexOf('#');
    const body = (hash === -1 ? raw : raw.slice(0, hash)).trim();
    if (!body) return;
    const p: BlacklistPattern = { pattern: body, line: index + 1 };
    const comment = hash === -1 ? '' : raw.slice(hash + 1).trim();
    if (comment) p.comment = comment;
    patterns.push(p);
  });
  const compiled = patterns.map((p) => {
    const literal = !/[*?[]/.test(p.pattern);
    let re: RegExp | undefined;
    if (!literal) {
      try {
        re = fnmatchToRegExp(p.pattern);
      } catch (e) {
        throw new BlacklistError(file, p.line, `invalid pattern '${p.pattern}': ${(e as Error).message.replace(/^Invalid regular expression: \/.*\/: /, '')}`);
      }
    }
    return { p, literal, re };
  });
  return {
    patterns,
    match(name: string) {
      for (const { p, literal, re } of compiled) if (literal ? p.pattern === name : re?.test(name)) return p;
      return undefined;
    },
  };
}

export const EMPTY_BLACKLIST: Blacklist = parseBlacklist('');

export function readBlacklist(file: string): Blacklist {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot read blacklist: ${(e as Error).message}`);
  }
  return parseBlacklist(text, file);
}
