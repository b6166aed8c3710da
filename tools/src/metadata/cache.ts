/**
 * On-disk cache of extraction results: one JSON file per cache directory and architecture, keyed by a sha256 of
 * everything the result depends on, replaced atomically (temp file + rename) so readers never see half a file.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileIdentity } from '../file-identity';
import type { Srcinfo } from '../model';

/** an error is cached too; `timedOutAfterMs`: the time limit it exceeded (a higher limit tries again) */
export type CachedResult = { srcinfo: Srcinfo; warnings: string[]; archIndependent?: boolean } | { error: string; timedOutAfterMs?: number };

interface CacheFileBody<V> {
  version: 1;
  entries: Record<string, V>;
}

export function cacheKey(parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    const b = typeof p === 'string' ? Buffer.from(p) : p;
    // length-prefix every part so concatenations cannot collide
    h.update(`${b.length}:`);
    h.update(b);
  }
  return h.digest('hex');
}

// a long-lived process (the Nx daemon's plugin worker) computes the graph again on every change: the cache it
// read or wrote last is kept, and parsed again only when another process replaced the file
const inMemory = new Map<string, { identity: string; entries: Record<string, unknown> }>();

/** One cache file of the metadata cache directory: string keys to JSON values. */
export class CacheFile<V> {
  private readonly file: string;
  private entries: Record<string, V> = {};
  private dirty = false;

  constructor(
    private readonly dir: string,
    name: string,
  ) {
    this.file = join(dir, name);
    const identity = fileIdentity(this.file);
    const kept = inMemory.get(this.file);
    if (identity !== undefined && kept?.identity === identity) {
      this.entries = kept.entries as Record<string, V>;
      return;
    }
    try {
      const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as Partial<CacheFileBody<V>>;
      if (parsed.version === 1 && parsed.entries && typeof parsed.entries === 'object') this.entries = parsed.entries;
      if (identity !== undefined) inMemory.set(this.file, { identity, entries: this.entries });
    } catch {
      // missing or unreadable cache: start empty
    }
  }

  get(key: string): V | undefined {
    return Object.prototype.hasOwnProperty.call(this.entries, key) ? this.entries[key] : undefined;
  }

  set(key: string, value: V): void {
    this.entries[key] = value;
    this.dirty = true;
  }

  /** Keeps only the given keys (entries of deleted or changed PKGBUILDs go away). */
  retain(keys: ReadonlySet<string> | ReadonlyMap<string, unknown>): void {
    for (const k of Object.keys(this.entries)) {
      if (!keys.has(k)) {
        delete this.entries[k];
        this.dirty = true;
      }
    }
  }

  save(): void {
    if (!this.dirty) return;
    mkdirSync(this.dir, { recursive: true });
    const tmp = `${this.file}.${process.pid}.${Date.now()}.tmp`;
    const body: CacheFileBody<V> = { version: 1, entries: this.entries };
    writeFileSync(tmp, JSON.stringify(body));
    renameSync(tmp, this.file);
    this.dirty = false;
    const identity = fileIdentity(this.file);
    if (identity !== undefined) inMemory.set(this.file, { identity, entries: this.entries });
  }
}

/** extraction results of one architecture, by cache key */
export class SrcinfoCache extends CacheFile<CachedResult> {
  constructor(dir: string, carch: string) {
    super(dir, `srcinfo-${carch}.json`);
  }
}
