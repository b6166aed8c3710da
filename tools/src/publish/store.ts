/**
 * The object store under a published repository: an S3 bucket (s3-store.ts) or a local directory
 * (local-store.ts), with one optimistic-concurrency contract for both.
 *
 * - every read returns an ETag, an opaque version of the object;
 * - `put` with `ifMatch: etag` succeeds only if the object still has that version, `ifNoneMatch: '*'`
 *   only if it does not exist; otherwise it throws a StoreError of kind `precondition` and changes nothing;
 * - a `put` is atomic: readers see the old object or the new one, never a part (a killed writer leaves
 *   the old object);
 * - user metadata (`x-amz-meta-*` on S3) travels with the object version it was written with.
 *
 * Keys are relative to the store's prefix and use `/` separators.
 */

export type StoreErrorKind =
  /** If-Match / If-None-Match did not hold (412, or 409 ConditionalRequestConflict): re-read and retry */
  | 'precondition'
  /** the bucket (or local directory) does not exist */
  | 'no-bucket'
  /** credentials missing, wrong or not allowed */
  | 'auth'
  /** connection refused, DNS failure, timeout */
  | 'unreachable'
  /** the server does not implement a request (501) */
  | 'unsupported'
  /** anything else: 5xx, unexpected answers, local I/O errors */
  | 'other';

export class StoreError extends Error {
  override name = 'StoreError';
  constructor(
    readonly kind: StoreErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isPrecondition(e: unknown): boolean {
  return e instanceof StoreError && e.kind === 'precondition';
}

export interface ObjectInfo {
  key: string;
  /** opaque version; pass back unchanged as `ifMatch` */
  etag: string;
  size: number;
  lastModified: Date;
  /** user metadata, lower-case keys; empty from `list` (S3 listings do not carry it) */
  metadata: Record<string, string>;
}

/** A body: bytes, or a local file streamed from disk. */
export type Body = Buffer | { file: string };

export interface PutOptions {
  ifMatch?: string;
  ifNoneMatch?: '*';
  /** hex MD5 of the body when the caller has it (else the store computes it where it needs it) */
  md5?: string;
  metadata?: Record<string, string>;
  contentType?: string;
  cacheControl?: string;
}

export interface CopyOptions {
  /** replace the metadata instead of copying the source's */
  metadata?: Record<string, string>;
  cacheControl?: string;
}

export interface ObjectStore {
  /** `s3://bucket/prefix (endpoint)` or the directory: used in every message */
  readonly description: string;
  /** the object's location for messages and summaries: `s3://bucket/prefix/key` or a path */
  locate(key: string): string;
  /** fail with a clear StoreError when the store cannot be used (credentials, bucket, network) */
  check(): Promise<void>;
  head(key: string): Promise<ObjectInfo | undefined>;
  get(key: string): Promise<{ info: ObjectInfo; body: Buffer } | undefined>;
  /** stream an object into a local file (created or replaced); undefined when the object does not exist */
  download(key: string, file: string): Promise<ObjectInfo | undefined>;
  put(key: string, body: Body, options?: PutOptions): Promise<{ etag: string }>;
  /** server-side copy (no bytes through this machine on S3) */
  copy(sourceKey: string, key: string, options?: CopyOptions): Promise<{ etag: string }>;
  /** no error when the object is already gone */
  delete(key: string): Promise<void>;
  /** every object whose key starts with `prefix` */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** PUT a sentinel twice with If-None-Match: * and once with a stale If-Match; see probe.ts */
  readonly supportsConditionalWritesNatively: boolean;
  close(): void;
}


/** Refuse keys that could leave the store's prefix or directory. */
export function checkKey(key: string): string {
  if (key === '' || key.startsWith('/') || key.includes('\0') || key.split('/').some((s) => s === '..' || s === '.' || s === '')) {
    throw new StoreError('other', `invalid object key '${key}'`);
  }
  return key;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Exponential backoff with full jitter, for retries after a lost race. */
export function backoffMs(attempt: number, baseMs = 50, capMs = 2000): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** attempt);
}
