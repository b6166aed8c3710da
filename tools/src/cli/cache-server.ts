/**
 * `pkgnx cache-server`: Nx's self-hosted remote cache API over an S3 bucket (see tools/src/farm/cache-server.ts).
 *   npx pkgnx cache-server --bucket B [--endpoint URL --path-style] [--listen 0.0.0.0:3000] [--tokens-file F]
 */
import { parseArgs } from 'node:util';
import { CACHE_SERVER_SETTINGS, CacheConfigError, resolveCacheServerConfig, type CacheSettingValues } from '../farm/cache-config';
import { startCacheServer } from '../farm/cache-server';
import { s3CacheStore } from '../farm/cache-store';
import { UsageError } from './support';

const HELP = `usage: cache-server [options]
  Nx's self-hosted remote cache (GET/PUT /v1/cache/{hash}) storing artifacts in an S3 bucket.
  Clients: NX_SELF_HOSTED_REMOTE_CACHE_SERVER=http://HOST:PORT NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN=TOKEN
  Every option also comes from the environment (the flag wins):
${Object.values(CACHE_SERVER_SETTINGS)
  .map((s) => `  ${(s.flag || '').padEnd(16)} ${s.env.padEnd(27)} ${s.help}`)
  .join('\n')}
  S3 credentials: the AWS SDK's chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, instance role).
  One JSON line per request on stdout; stops on SIGTERM/SIGINT (uploads in flight store nothing).
exit codes: 0 stopped by a signal, 1 failure (S3 not usable, port taken), 2 usage or configuration error`;

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      listen: { type: 'string' },
      bucket: { type: 'string' },
      prefix: { type: 'string' },
      endpoint: { type: 'string' },
      region: { type: 'string' },
      'path-style': { type: 'boolean' },
      'tokens-file': { type: 'string' },
      'max-upload-mib': { type: 'string' },
      's3-timeout': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const flags: CacheSettingValues = {
    listen: values.listen,
    bucket: values.bucket,
    prefix: values.prefix,
    endpoint: values.endpoint,
    region: values.region,
    pathStyle: values['path-style'] === undefined ? undefined : String(values['path-style']),
    tokensFile: values['tokens-file'],
    maxUploadMiB: values['max-upload-mib'],
    s3TimeoutSeconds: values['s3-timeout'],
  };
  for (const k of Object.keys(flags) as (keyof CacheSettingValues)[]) if (flags[k] === undefined) delete flags[k];
  let config;
  try {
    config = resolveCacheServerConfig(flags, process.env);
  } catch (e) {
    if (e instanceof CacheConfigError) throw new UsageError(e.message);
    throw e;
  }
  const store = s3CacheStore({ bucket: config.bucket, prefix: config.prefix, endpoint: config.endpoint, region: config.region, forcePathStyle: config.forcePathStyle, timeoutMs: config.s3TimeoutMs });
  // the bucket must answer before clients are told to rely on it: a miss is fine, anything else is named
  try {
    await store.get('pkgnx-startup-check', AbortSignal.timeout(config.s3TimeoutMs));
  } catch (e) {
    store.close();
    const err = e as Error & { $metadata?: { httpStatusCode?: number } };
    throw new Error(`S3 bucket '${config.bucket}'${config.endpoint ? ` at ${config.endpoint}` : ''} is not usable: ${err.name}${err.$metadata?.httpStatusCode ? ` (HTTP ${err.$metadata.httpStatusCode})` : ''}: ${err.message}`);
  }
  // multipart uploads a killed server left behind (the grace period spares other servers' uploads in flight)
  const swept = await store.sweepIncompleteUploads(6 * 3600_000).catch((e: unknown) => {
    process.stderr.write(`cache-server: warning: could not list incomplete uploads: ${(e as Error).message}\n`);
    return 0;
  });
  if (swept) process.stderr.write(`cache-server: aborted ${swept} incomplete upload(s) older than 6 h\n`);
  const running = await startCacheServer({
    store,
    host: config.host,
    port: config.port,
    readWriteTokens: config.readWriteTokens,
    readOnlyTokens: config.readOnlyTokens,
    maxUploadBytes: config.maxUploadBytes,
    log: (r) => process.stdout.write(`${JSON.stringify({ t: new Date().toISOString(), ...r })}\n`),
  });
  process.stderr.write(
    `cache-server: listening on ${running.url}, s3://${config.bucket}/${config.prefix} (${config.readWriteTokens.length} read-write, ${config.readOnlyTokens.length} read-only token(s))\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = (sig: string): void => {
      process.stderr.write(`cache-server: ${sig}, stopping\n`);
      void running.close().then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  store.close();
  return 0;
}
