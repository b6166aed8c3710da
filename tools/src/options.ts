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
  /** how a key is named in messages, e.g. (k) => `build option "${k}"` */
  describe: (key: string) => string;
  /** values given on the command line are strings: accept "true", "3" ... */
  fromCommandLine?: boolean;
}

export class OptionsReader {
  constructor(
    private readonly raw: Record<string, unknown>,
    private readonly config: OptionsReaderConfig,
  ) {}

  private fail(key: string, problem: string, got?: unknown): never {
    throw new OptionsError(`${this.config.describe(key)} ${problem}${arguments.length > 2 ? `, got ${JSON.stringify(got)}` : ''}`);
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

  /** a string matching `pattern`, described as `what` in the error */
  matching(key: string, pattern: RegExp, what: string, fallback?: string): string | undefined {
    const v = this.string(key) ?? fallback;
    if (v !== undefined && !pattern.test(v)) this.fail(key, `is not ${what}`, v);
    return v;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
    const v = this.string(key) ?? fallback;
    if (!(allowed as readonly string[]).includes(v)) this.fail(key, `must be one of ${allowed.join(', ')}`, v);
    return v as T;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.value(key);
    if (v === undefined) return fallback;
    if (typeof v === 'boolean') return v;
    if (this.config.fromCommandLine && (v === 'true' || v === 'false')) return v === 'true';
    return this.fail(key, 'must be true or false', v);
  }

  number(key: string, fallback: number, bounds: { min?: number; exclusiveMin?: number; integer?: boolean } = {}): number {
    const v = this.value(key);
    if (v === undefined) return fallback;
    const n = typeof v === 'string' && this.config.fromCommandLine ? Number(v) : v;
    const kind = bounds.integer ? 'an integer' : 'a number';
    const range = bounds.min !== undefined ? ` >= ${bounds.min}` : bounds.exclusiveMin !== undefined ? ` > ${bounds.exclusiveMin}` : '';
    if (
      typeof n !== 'number' ||
      !Number.isFinite(n) ||
      (bounds.integer && !Number.isInteger(n)) ||
      (bounds.min !== undefined && n < bounds.min) ||
      (bounds.exclusiveMin !== undefined && n <= bounds.exclusiveMin)
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

  rejectUnknown(known: Iterable<string>): void {
    const unknown = this.unknownKeys(known);
    if (unknown.length) this.fail(unknown[0], `is not a known option (known: ${[...known].sort().join(', ')})`);
  }
}
