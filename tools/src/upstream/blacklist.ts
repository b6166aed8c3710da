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

/** fnmatch(3) without flags, as Python's fnmatch.fnmatchcase: whole-string match. */
export function fnmatchToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
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

export function parseBlacklist(text: string): Blacklist {
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
  const compiled = patterns.map((p) => ({ p, literal: !/[*?[]/.test(p.pattern), re: fnmatchToRegExp(p.pattern) }));
  return {
    patterns,
    match(name: string) {
      for (const { p, literal, re } of compiled) if (literal ? p.pattern === name : re.test(name)) return p;
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
  return parseBlacklist(text);
}
