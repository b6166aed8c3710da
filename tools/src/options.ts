/**
 * The one small validation helper every options parser uses (build options, plugin options, the port
 * configuration ...): typed reads of a plain object whose errors name the key as the user wrote it.
 */

export class OptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OptionsError';
  }
}

export interface OptionsReaderConfig {
  /** how a key is named in messages, e.g. (k) => `build option "${k}"`; nested keys come as `a.b`, `a[0].b` */
  describe: (key: string) => string;
  /** values given on the command line are strings: accept "true", "3" ... */
  fromCommandLine?: boolean;
  /** the error to throw (default: OptionsError `<describe(key)> <problem>`); `key` is the full path */
  error?: (key: string, problem: string) => Error;
}

export class OptionsReader {
  constructor(
    private readonly raw: Record<string, unknown>,
    private readonly config: OptionsReaderConfig,
    /** the path of this object inside the whole options (`upstreamRepos[0].`), for nested readers */
    private readonly prefix = '',
  ) {}

  /** Throw the configured error for `key` (relative to this reader); `got` is appended when given. */
  fail(key: string, problem: string, ...got: [unknown?]): never {
    const full = `${this.prefix}${key}`;
    const text = `${problem}${got.length ? `, got ${JSON.stringify(got[0])}` : ''}`;
    throw this.config.error ? this.config.error(full, text) : new OptionsError(`${this.config.describe(full)} ${text}`);
  }

  /** the keys present, in the order written */
  keys(): string[] {
    return Object.keys(this.raw);
  }

  /** the value as written, for shapes the typed reads do not cover */
  rawValue(key: string): unknown {
    return this.value(key);
  }

  /** a nested object as a reader of its own (errors name `key.inner`); undefined when absent */
  object(key: string, what = 'an object'): OptionsReader | undefined {
    const v = this.value(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(key, `must be ${what}`, v);
    return new OptionsReader(v as Record<string, unknown>, this.config, `${this.prefix}${key}.`);
  }

  /** an array of objects, each as a reader (errors name `key[i].inner`); [] when absent */
  objects(key: string, what = 'an array of objects'): OptionsReader[] {
    const v = this.value(key);
    if (v === undefined) return [];
    if (!Array.isArray(v)) this.fail(key, `must be ${what}`, v);
    return (v as unknown[]).map((item, i) => {
      if (typeof item !== 'object' || item === null || Array.isArray(item)) this.fail(`${key}[${i}]`, 'must be an object', item);
      return new OptionsReader(item as Record<string, unknown>, this.config, `${this.prefix}${key}[${i}].`);
    });
  }

  private value(key: string): unknown {
    const v = this.raw[key];
    return v === null || v === '' ? undefined : v;
  }

  has(key: string): boolean {
    return this.value(key) !== undefined;
  }

  string(key: string): string | undefined;
  string(key: string, fallback: string): string;
  string(key: string, fallback?: string): string | undefined {
    const v = this.value(key);
    if (v === undefined) return fallback;
    if (typeof v !== 'string') this.fail(key, 'must be a string', v);
    return v;
  }

  /** a string that must be there (and match `pattern`, described as `what`) */
  required(key: string, pattern?: RegExp, what = 'valid'): string {
    const v = this.string(key);
    if (v === undefined) return this.fail(key, 'is required (a non-empty string)');
    if (pattern && !pattern.test(v)) this.fail(key, `is not ${what}`, v);
    return v;
  }

  /** a string matching `pattern`, described as `what` in the error */
  matching(key: string, pattern: RegExp, what: string, fallback?: string): string | undefined {
    const v = this.string(key) ?? fallback;
    if (v !== undefined && !pattern.test(v)) this.fail(key, `is not ${what}`, v);
    return v;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
    const v = this.string(key) ?? fallback;
    if (!(allowed as readonly string[]).includes(v)) this.fail(key, `must be one of ${allowed.map((a) => `"${a}"`).join(', ')}`, v);
    return v as T;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.value(key);
    if (v === undefined) return fallback;
    if (typeof v === 'boolean') return v;
    if (this.config.fromCommandLine && (v === 'true' || v === 'false')) return v === 'true';
    return this.fail(key, 'must be true or false', v);
  }

  number(key: string, fallback: number, bounds: { min?: number; exclusiveMin?: number; max?: number; integer?: boolean } = {}): number {
    const v = this.value(key);
    if (v === undefined) return fallback;
    const n = typeof v === 'string' && this.config.fromCommandLine ? Number(v) : v;
    const kind = bounds.integer ? 'an integer' : 'a number';
    const low = bounds.min !== undefined ? ` >= ${bounds.min}` : bounds.exclusiveMin !== undefined ? ` > ${bounds.exclusiveMin}` : '';
    const range = bounds.max !== undefined ? `${low}${low ? ' and' : ''} <= ${bounds.max}` : low;
    if (
      typeof n !== 'number' ||
      !Number.isFinite(n) ||
      (bounds.integer && !Number.isInteger(n)) ||
      (bounds.min !== undefined && n < bounds.min) ||
      (bounds.exclusiveMin !== undefined && n <= bounds.exclusiveMin) ||
      (bounds.max !== undefined && n > bounds.max)
    )
      this.fail(key, `must be ${kind}${range}`, v);
    return n as number;
  }

  /** an array of strings; with `splitString`, a single string is split on whitespace (command line) */
  strings(key: string, opts: { splitString?: boolean } = {}): string[] {
    const v = this.value(key);
    if (v === undefined) return [];
    if (typeof v === 'string' && opts.splitString) return v.split(/\s+/).filter(Boolean);
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) this.fail(key, 'must be an array of strings', v);
    return [...(v as string[])];
  }

  /** the keys present that are not in `known` (keys Nx adds, starting with `__`, are not the user's) */
  unknownKeys(known: Iterable<string>): string[] {
    const set = new Set(known);
    return Object.keys(this.raw).filter((k) => !set.has(k) && !k.startsWith('__'));
  }

  rejectUnknown(known: Iterable<string>, what = 'option'): void {
    const unknown = this.unknownKeys(known);
    if (unknown.length) this.fail(unknown[0], `is not a known ${what} (known: ${[...known].sort().join(', ')})`);
  }
}
