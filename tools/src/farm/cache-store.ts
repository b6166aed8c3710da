/**
 * Where the remote cache server keeps artifacts: an S3 bucket (any S3-compatible storage with conditional
 * writes: AWS S3, MinIO, versitygw, ...). One object per Nx task hash, written once with a conditional
 * `If-None-Match: *` write, so two racing writers cannot both write. Downloads stream straight through;
 * uploads stream through in parts of at most `partBytes` (the only memory an upload holds), and become
 * visible only once every byte has arrived.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';

export interface CacheObject {
  body: Readable;
  /** bytes, when the storage said */
  length?: number;
}

export interface CacheStore {
  /** the artifact, or undefined when there is none (a miss); rejects on storage trouble */
  get(hash: string, signal: AbortSignal): Promise<CacheObject | undefined>;
  /**
   * Stores exactly `length` bytes of `body` unless the hash exists ('exists'). A body that ends short, errors
   * or is aborted through `signal` stores nothing and rejects.
   */
  putIfAbsent(hash: string, body: Readable, length: number, signal: AbortSignal): Promise<'stored' | 'exists'>;
  /** aborts incomplete multipart uploads older than this; returns how many */
  sweepIncompleteUploads(olderThanMs: number): Promise<number>;
  close(): void;
}

export class ShortBodyError extends Error {
  constructor(readonly received: number, readonly expected: number, readonly why = 'ended') {
    super(`upload ${why} after ${received} of ${expected} bytes`);
    this.name = 'ShortBodyError';
  }
}

/**
 * The body as pieces of `pieceBytes` (the last one shorter), exactly `length` bytes in all; a body that ends
 * short or fails (the client hung up) throws ShortBodyError. At most one piece is held in memory.
 */
export async function* exactPieces(body: AsyncIterable<Buffer | string>, length: number, pieceBytes: number): AsyncGenerator<Buffer> {
  let held: Buffer[] = [];
  let heldBytes = 0;
  let total = 0;
  try {
    for await (const raw of body) {
      let chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
      total += chunk.length;
      if (total > length) throw new ShortBodyError(total, length, 'ran past its Content-Length');
      while (heldBytes + chunk.length >= pieceBytes) {
        const take = pieceBytes - heldBytes;
        yield Buffer.concat([...held, chunk.subarray(0, take)]);
        chunk = chunk.subarray(take);
        held = [];
        heldBytes = 0;
      }
      if (chunk.length) {
        held.push(chunk);
        heldBytes += chunk.length;
      }
    }
  } catch (e) {
    if (e instanceof ShortBodyError) throw e;
    throw new ShortBodyError(total, length, `failed (${(e as Error).message})`);
  }
  if (total !== length) throw new ShortBodyError(total, length);
  if (heldBytes > 0 || length === 0) yield Buffer.concat(held);
}

export interface S3StoreOptions {
  bucket: string;
  prefix: string;
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  timeoutMs: number;
  /** multipart part size; bodies up to this size go up in one PutObject (default 8 MiB, at least 5 MiB for S3) */
  partBytes?: number;
}

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('base64');

function status(e: unknown): number | undefined {
  return e instanceof S3ServiceException ? e.$metadata.httpStatusCode : (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

export function s3CacheStore(options: S3StoreOptions): CacheStore {
  const o = { ...options, partBytes: options.partBytes ?? 8 * 1024 * 1024 };
  // credentials: the SDK's default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profiles, instance roles)
  const s3 = new S3Client({
    region: o.region,
    forcePathStyle: o.forcePathStyle,
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    // a streamed body cannot be sent twice; a GET that fails is a miss for Nx anyway
    maxAttempts: 1,
    // plain bodies with a Content-Length: what every S3-compatible server accepts, and no buffering
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: Math.min(5000, Math.ceil(o.timeoutMs / 5)), requestTimeout: o.timeoutMs, throwOnRequestTimeout: true },
  });
  const key = (hash: string): string => `${o.prefix}${hash}`;
  const exists = async (hash: string, signal: AbortSignal): Promise<boolean> => {
    try {
      await s3.send(new HeadObjectCommand({ Bucket: o.bucket, Key: key(hash) }), { abortSignal: signal });
      return true;
    } catch (e) {
      if (status(e) === 404) return false;
      throw e;
    }
  };
  return {
    async get(hash, signal) {
      try {
        const r = await s3.send(new GetObjectCommand({ Bucket: o.bucket, Key: key(hash) }), { abortSignal: signal });
        if (!r.Body) return undefined;
        return { body: r.Body as Readable, ...(r.ContentLength !== undefined ? { length: r.ContentLength } : {}) };
      } catch (e) {
        if (status(e) === 404 && (e as Error).name === 'NoSuchKey') return undefined;
        throw e;
      }
    },
    async putIfAbsent(hash, body, length, signal) {
      // Nothing reaches the key before every byte has arrived: an S3 server may keep the bytes of a PUT
      // whose connection closed early (versitygw 1.8.0 does), so a short body must never be sent as one.
      // Up to one part: a single conditional PutObject of the whole, verified body. Larger: a multipart
      // upload whose conditional CompleteMultipartUpload comes only after the last byte; else it is aborted.
      const pieces = exactPieces(body, length, o.partBytes);
      try {
        if (length <= o.partBytes) {
          const { value } = await pieces.next();
          await pieces.next(); // checks the length
          const whole = value ?? Buffer.alloc(0);
          await s3.send(new PutObjectCommand({ Bucket: o.bucket, Key: key(hash), Body: whole, ContentLength: whole.length, ContentMD5: md5(whole), ContentType: 'application/octet-stream', IfNoneMatch: '*' }), { abortSignal: signal });
          return 'stored';
        }
        // a big artifact that exists already: say so before receiving it (the conditional complete still decides races)
        if (await exists(hash, signal)) return 'exists';
        const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: o.bucket, Key: key(hash), ContentType: 'application/octet-stream' }), { abortSignal: signal });
        if (!UploadId) throw new Error('CreateMultipartUpload returned no UploadId');
        try {
          const parts: { PartNumber: number; ETag?: string }[] = [];
          for await (const piece of pieces) {
            const PartNumber = parts.length + 1;
            const r = await s3.send(new UploadPartCommand({ Bucket: o.bucket, Key: key(hash), UploadId, PartNumber, Body: piece, ContentLength: piece.length, ContentMD5: md5(piece) }), { abortSignal: signal });
            parts.push({ PartNumber, ETag: r.ETag });
          }
          await s3.send(new CompleteMultipartUploadCommand({ Bucket: o.bucket, Key: key(hash), UploadId, MultipartUpload: { Parts: parts }, IfNoneMatch: '*' }), { abortSignal: signal });
          return 'stored';
        } catch (e) {
          await s3.send(new AbortMultipartUploadCommand({ Bucket: o.bucket, Key: key(hash), UploadId })).catch(() => undefined);
          throw e;
        }
      } catch (e) {
        const code = status(e);
        // 412 PreconditionFailed: the object exists; 409 ConditionalRequestConflict: another writer is on it
        if (code === 412 || code === 409) return 'exists';
        throw e;
      } finally {
        await pieces.return(undefined);
      }
    },
    async sweepIncompleteUploads(olderThanMs) {
      // uploads left by a server that was killed mid-upload (invisible, but they cost storage)
      let aborted = 0;
      let KeyMarker: string | undefined;
      let UploadIdMarker: string | undefined;
      const before = Date.now() - olderThanMs;
      for (;;) {
        const r = await s3.send(new ListMultipartUploadsCommand({ Bucket: o.bucket, Prefix: o.prefix, ...(KeyMarker ? { KeyMarker, UploadIdMarker } : {}) }));
        for (const u of r.Uploads ?? []) {
          if (!u.Key || !u.UploadId || (u.Initiated && u.Initiated.getTime() > before)) continue;
          await s3.send(new AbortMultipartUploadCommand({ Bucket: o.bucket, Key: u.Key, UploadId: u.UploadId }));
          aborted++;
        }
        if (!r.IsTruncated) return aborted;
        KeyMarker = r.NextKeyMarker;
        UploadIdMarker = r.NextUploadIdMarker;
      }
    },
    close() {
      s3.destroy();
    },
  };
}
