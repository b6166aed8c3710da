/**
 * ObjectStore on S3 and S3-compatible servers (AWS, MinIO, Cloudflare R2, versitygw, ...) through the AWS SDK.
 *
 * Credentials come from the SDK's default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE,
 * web identity, instance roles ...); the endpoint, region and path-style addressing from the configuration.
 * Checksums are sent only when S3 requires them (`WHEN_REQUIRED`): minimal S3 implementations store
 * aws-chunked stream bodies verbatim otherwise. The SDK has no request timeout by default; here every
 * request has a connect and an idle timeout, and retries are ours (a file body is re-opened per attempt).
 */
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { backoffMs, checkKey, sleep, StoreError, type Body, type CopyOptions, type ObjectInfo, type ObjectStore, type PutOptions, type StoreErrorKind } from './store';

export interface S3StoreOptions {
  bucket: string;
  /** key prefix without leading or trailing `/` ('' for the bucket root) */
  prefix: string;
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  connectTimeoutMs?: number;
  /** idle time without a byte before a request fails */
  requestTimeoutMs?: number;
  /** attempts for transient failures (5xx, reset connections, timeouts); refused connections fail at once */
  maxAttempts?: number;
  /** explicit credentials (tests); without them the SDK's default chain */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $fault?: string;
}

const AUTH_NAMES = new Set([
  'SignatureDoesNotMatch', 'InvalidAccessKeyId', 'AccessDenied', 'XAdminUserNotFound', 'ExpiredToken', 'InvalidToken',
  'TokenRefreshRequired', 'CredentialsProviderError', 'InvalidClientTokenId', 'AuthorizationHeaderMalformed',
]);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

export class S3Store implements ObjectStore {
  readonly description: string;
  readonly supportsConditionalWritesNatively = false;
  private readonly client: S3Client;
  private readonly maxAttempts: number;

  constructor(private readonly options: S3StoreOptions) {
    const prefix = options.prefix.replace(/^\/+|\/+$/g, '');
    this.options = { ...options, prefix };
    this.description = `s3://${options.bucket}${prefix ? `/${prefix}` : ''}${options.endpoint ? ` (endpoint ${options.endpoint})` : ''}`;
    this.maxAttempts = options.maxAttempts ?? 3;
    const config: S3ClientConfig = {
      region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
      forcePathStyle: options.forcePathStyle ?? false,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 1,
      requestHandler: {
        connectionTimeout: options.connectTimeoutMs ?? 5000,
        requestTimeout: options.requestTimeoutMs ?? 60_000,
        throwOnRequestTimeout: true,
      },
    };
    if (options.endpoint) config.endpoint = options.endpoint;
    if (options.credentials) config.credentials = options.credentials;
    this.client = new S3Client(config);
  }

  private fullKey(key: string): string {
    checkKey(key);
    return this.options.prefix ? `${this.options.prefix}/${key}` : key;
  }

  locate(key: string): string {
    return `s3://${this.options.bucket}/${this.fullKey(key)}`;
  }

  close(): void {
    this.client.destroy();
  }

  /** Turn an SDK error into a StoreError that names the store, the operation and the key. */
  private classify(e: unknown, op: string, key?: string): StoreError {
    const err = e as SdkErrorShape;
    const status = err.$metadata?.httpStatusCode;
    const name = err.name ?? 'Error';
    const where = key === undefined ? this.description : `${this.locate(key)}${this.options.endpoint ? ` (endpoint ${this.options.endpoint})` : ''}`;
    const detail = `${name}${status ? ` ${status}` : ''}${err.code && err.code !== name ? ` ${err.code}` : ''}${err.message && err.message !== name && err.message !== 'UnknownError' ? `: ${err.message}` : ''}`;
    let kind: StoreErrorKind = 'other';
    let hint = '';
    if (status === 412 || (status === 409 && name === 'ConditionalRequestConflict')) kind = 'precondition';
    else if (name === 'NoSuchBucket') {
      kind = 'no-bucket';
      hint = `bucket '${this.options.bucket}' does not exist`;
    } else if (AUTH_NAMES.has(name) || status === 401 || status === 403 || /Could not load credentials/i.test(err.message ?? '')) {
      kind = 'auth';
      hint = 'credentials are missing, wrong or not allowed (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_PROFILE)';
    } else if (status === 501 || name === 'NotImplemented') kind = 'unsupported';
    else if ((err.code && NETWORK_CODES.has(err.code)) || name === 'TimeoutError' || name === 'RequestTimeout' || (status === undefined && /ECONNREFUSED|ENOTFOUND|socket hang up|timed? ?out/i.test(err.message ?? ''))) {
      kind = 'unreachable';
      hint = `cannot reach ${this.options.endpoint ?? 'the S3 endpoint'}`;
    }
    return new StoreError(kind, `${where}: ${op}${key === undefined ? '' : ` ${key}`}: ${hint ? `${hint} (${detail})` : detail}`, { cause: e });
  }

  private static transient(e: unknown): boolean {
    const err = e as SdkErrorShape;
    const status = err.$metadata?.httpStatusCode;
    // a gateway mapping keys to directories (versitygw posix) races when one request removes an emptied
    // directory while another creates a key below it
    if (err.name === 'ExistingObjectIsDirectory') return true;
    if (status !== undefined) return status >= 500 && status !== 501;
    return err.code === 'ECONNRESET' || err.code === 'EPIPE' || err.name === 'TimeoutError';
  }

  /** Run one request with our retries; `what` names the operation in errors. */
  private async send<T>(op: string, key: string | undefined, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (attempt < this.maxAttempts && S3Store.transient(e)) {
          await sleep(backoffMs(attempt, 200, 3000));
          continue;
        }
        throw this.classify(e, op, key);
      }
    }
  }

  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.options.bucket }));
    } catch (e) {
      const err = e as SdkErrorShape;
      const status = err.$metadata?.httpStatusCode;
      if (status === undefined || status >= 500) throw this.classify(e, 'HeadBucket');
      // HeadBucket answers without a body, so its 403/404 does not say what is wrong (versitygw answers
      // 404 for an unknown access key too): ask again with a request whose error has a body
      try {
        await this.client.send(new ListObjectsV2Command({ Bucket: this.options.bucket, MaxKeys: 1 }));
      } catch (e2) {
        throw this.classify(e2, 'ListObjectsV2');
      }
      if (status === 404) throw new StoreError('no-bucket', `${this.description}: bucket '${this.options.bucket}' does not exist`, { cause: e });
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const r = await this.send('HEAD', key, () => this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: this.fullKey(key) })));
      return { key, etag: r.ETag ?? '', size: r.ContentLength ?? 0, lastModified: r.LastModified ?? new Date(0), metadata: r.Metadata ?? {} };
    } catch (e) {
      if (S3Store.notFound(e)) return undefined;
      throw e;
    }
  }

  /** a StoreError caused by a missing key (HEAD answers a bare 404 without a body) */
  private static notFound(e: unknown): boolean {
    const cause = (e as { cause?: SdkErrorShape }).cause;
    return e instanceof StoreError && (cause?.name === 'NoSuchKey' || (cause?.$metadata?.httpStatusCode === 404 && cause.name !== 'NoSuchBucket'));
  }

  private async getObject(key: string): Promise<{ info: ObjectInfo; stream: Readable } | undefined> {
    try {
      const r = await this.send('GET', key, () => this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: this.fullKey(key) })));
      const info: ObjectInfo = { key, etag: r.ETag ?? '', size: r.ContentLength ?? 0, lastModified: r.LastModified ?? new Date(0), metadata: r.Metadata ?? {} };
      return { info, stream: r.Body as Readable };
    } catch (e) {
      if (S3Store.notFound(e)) return undefined;
      throw e;
    }
  }

  async get(key: string): Promise<{ info: ObjectInfo; body: Buffer } | undefined> {
    const o = await this.getObject(key);
    if (!o) return undefined;
    const chunks: Buffer[] = [];
    try {
      for await (const c of o.stream) chunks.push(c as Buffer);
    } catch (e) {
      throw this.classify(e, 'GET (body)', key);
    }
    return { info: o.info, body: Buffer.concat(chunks) };
  }

  async download(key: string, file: string): Promise<ObjectInfo | undefined> {
    const o = await this.getObject(key);
    if (!o) return undefined;
    const tmp = `${file}.part-${process.pid}`;
    try {
      await pipeline(o.stream, createWriteStream(tmp));
      await rename(tmp, file);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e instanceof StoreError ? e : this.classify(e, 'GET (body)', key);
    }
    return o.info;
  }

  async put(key: string, body: Body, options: PutOptions = {}): Promise<{ etag: string }> {
    const size = Buffer.isBuffer(body) ? body.length : (await stat(body.file)).size;
    // Content-MD5 makes the server refuse a body cut short: without it an S3 gateway (versitygw 1.8)
    // stores the part received before a killed client's connection dropped, with the full metadata
    const md5 = options.md5 ?? (await md5Hex(body));
    const r = await this.send('PUT', key, () =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.options.bucket,
          Key: this.fullKey(key),
          // a file is streamed from disk, re-opened for every attempt
          Body: Buffer.isBuffer(body) ? body : (createReadStream(body.file) as Readable),
          ContentLength: size,
          ContentMD5: Buffer.from(md5, 'hex').toString('base64'),
          ContentType: options.contentType ?? 'application/octet-stream',
          ...(options.cacheControl ? { CacheControl: options.cacheControl } : {}),
          ...(options.metadata ? { Metadata: options.metadata } : {}),
          ...(options.ifMatch ? { IfMatch: options.ifMatch } : {}),
          ...(options.ifNoneMatch ? { IfNoneMatch: options.ifNoneMatch } : {}),
        }),
      ),
    );
    return { etag: r.ETag ?? '' };
  }

  async copy(sourceKey: string, key: string, options: CopyOptions = {}): Promise<{ etag: string }> {
    const source = `${this.options.bucket}/${this.fullKey(sourceKey)}`;
    const r = await this.send('COPY', key, () =>
      this.client.send(
        new CopyObjectCommand({
          Bucket: this.options.bucket,
          Key: this.fullKey(key),
          // the copy source is a URL path: encode each segment (epochs give ':' and versions '+')
          CopySource: source.split('/').map(encodeURIComponent).join('/'),
          ...(options.metadata ? { MetadataDirective: 'REPLACE', Metadata: options.metadata, ContentType: 'application/octet-stream' } : {}),
          ...(options.cacheControl && options.metadata ? { CacheControl: options.cacheControl } : {}),
        }),
      ),
    );
    return { etag: r.CopyObjectResult?.ETag ?? '' };
  }

  async delete(key: string): Promise<void> {
    await this.send('DELETE', key, () => this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.fullKey(key) })));
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    const base = this.options.prefix ? `${this.options.prefix}/` : '';
    let token: string | undefined;
    do {
      const r = await this.send('LIST', prefix, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: `${base}${prefix}`, ...(token ? { ContinuationToken: token } : {}) })),
      );
      for (const o of r.Contents ?? []) {
        if (!o.Key?.startsWith(base)) continue;
        out.push({ key: o.Key.slice(base.length), etag: o.ETag ?? '', size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0), metadata: {} });
      }
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out;
  }
}

async function md5Hex(body: Body): Promise<string> {
  const h = createHash('md5');
  if (Buffer.isBuffer(body)) return h.update(body).digest('hex');
  for await (const c of createReadStream(body.file)) h.update(c as Buffer);
  return h.digest('hex');
}

/** Parse `s3://bucket/prefix`; the prefix has no leading or trailing `/`. */
export function parseS3Url(url: string): { bucket: string; prefix: string } | undefined {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m) return undefined;
  return { bucket: m[1], prefix: m[2].replace(/\/+$/, '') };
}

