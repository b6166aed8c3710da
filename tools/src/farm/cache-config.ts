/**
 * Configuration of the remote cache server (`pkgnx cache-server`): command-line flags first, then the
 * environment; tokens from the environment or from a file. Validated by hand so that every error names the
 * flag, the variable or the file and line it came from.
 */
import { readFileSync } from 'node:fs';

export interface CacheServerConfig {
  /** address to listen on */
  host: string;
  port: number;
  bucket: string;
  /** key prefix inside the bucket, '' or ending in '/' */
  prefix: string;
  /** S3 endpoint URL; undefined = AWS */
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  /** bearer tokens that may read and write */
  readWriteTokens: string[];
  /** bearer tokens that may only read (merge requests, forks, developers' machines) */
  readOnlyTokens: string[];
  /** largest accepted upload in bytes (a single S3 PutObject takes up to 5 GiB) */
  maxUploadBytes: number;
  /** S3 request timeout in milliseconds (connection: a fifth of it, at most 5 s) */
  s3TimeoutMs: number;
}

export class CacheConfigError extends Error {}

/** the flag and the environment variable of every setting */
export const CACHE_SERVER_SETTINGS = {
  listen: { flag: '--listen', env: 'PKGNX_CACHE_LISTEN', help: 'HOST:PORT to listen on (default 127.0.0.1:3000)' },
  bucket: { flag: '--bucket', env: 'PKGNX_CACHE_BUCKET', help: 'S3 bucket (required)' },
  prefix: { flag: '--prefix', env: 'PKGNX_CACHE_PREFIX', help: 'key prefix inside the bucket (default nx-cache/)' },
  endpoint: { flag: '--endpoint', env: 'PKGNX_CACHE_S3_ENDPOINT', help: 'S3 endpoint URL (default: AWS)' },
  region: { flag: '--region', env: 'AWS_REGION', help: 'S3 region (default us-east-1)' },
  pathStyle: { flag: '--path-style', env: 'PKGNX_CACHE_S3_PATH_STYLE', help: 'path-style bucket addressing (true/false; default false)' },
  tokensFile: { flag: '--tokens-file', env: 'PKGNX_CACHE_TOKENS_FILE', help: 'file with lines `rw TOKEN` / `ro TOKEN` (# comments)' },
  rwTokens: { flag: '', env: 'PKGNX_CACHE_RW_TOKENS', help: 'comma-separated read-write tokens' },
  roTokens: { flag: '', env: 'PKGNX_CACHE_RO_TOKENS', help: 'comma-separated read-only tokens' },
  maxUploadMiB: { flag: '--max-upload-mib', env: 'PKGNX_CACHE_MAX_UPLOAD_MIB', help: 'largest accepted artifact in MiB (default 5120)' },
  s3TimeoutSeconds: { flag: '--s3-timeout', env: 'PKGNX_CACHE_S3_TIMEOUT', help: 'S3 request timeout in seconds (default 30)' },
} as const;

export type CacheSettingName = keyof typeof CACHE_SERVER_SETTINGS;
export type CacheSettingValues = Partial<Record<CacheSettingName, string | boolean>>;

/** a token: printable ASCII without spaces, at least 16 characters (so a guessed one is not a real risk) */
const TOKEN_RE = /^[\x21-\x7e]{16,}$/;

function where(name: CacheSettingName, fromFlag: boolean): string {
  const s = CACHE_SERVER_SETTINGS[name];
  return fromFlag ? s.flag : s.env;
}

function checkToken(token: string, source: string): string {
  if (!TOKEN_RE.test(token)) throw new CacheConfigError(`${source}: a token must be at least 16 printable characters without spaces`);
  return token;
}

/** `rw TOKEN` / `ro TOKEN` lines, `#` comments and blank lines ignored */
export function parseTokensFile(text: string, file: string): { readWrite: string[]; readOnly: string[] } {
  const readWrite: string[] = [];
  const readOnly: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const m = /^(rw|ro)\s+(\S+)$/.exec(line);
    if (!m) throw new CacheConfigError(`${file}:${i + 1}: expected \`rw TOKEN\` or \`ro TOKEN\``);
    (m[1] === 'rw' ? readWrite : readOnly).push(checkToken(m[2], `${file}:${i + 1}`));
  });
  return { readWrite, readOnly };
}

/**
 * Resolves the configuration. `flags` are command-line values (they win), `env` the environment,
 * `readFile` how a tokens file is read (tests pass their own).
 */
export function resolveCacheServerConfig(
  flags: CacheSettingValues,
  env: NodeJS.ProcessEnv,
  readFile: (file: string) => string = (f) => readFileSync(f, 'utf8'),
): CacheServerConfig {
  const get = (name: CacheSettingName): { value: string; source: string } | undefined => {
    const f = flags[name];
    if (f !== undefined) return { value: String(f), source: where(name, true) };
    const e = env[CACHE_SERVER_SETTINGS[name].env];
    return e !== undefined && e !== '' ? { value: e, source: where(name, false) } : undefined;
  };
  const listen = get('listen') ?? { value: '127.0.0.1:3000', source: where('listen', true) };
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:\s]+)):(\d{1,5})$/.exec(listen.value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new CacheConfigError(`${listen.source}: expected HOST:PORT (e.g. 127.0.0.1:3000), got '${listen.value}'`);

  const bucket = get('bucket');
  if (!bucket) throw new CacheConfigError(`the bucket is required: ${where('bucket', true)} or ${where('bucket', false)}`);
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket.value)) throw new CacheConfigError(`${bucket.source}: '${bucket.value}' is not a valid S3 bucket name`);

  const prefixRaw = get('prefix')?.value ?? 'nx-cache/';
  const prefix = prefixRaw === '' || prefixRaw.endsWith('/') ? prefixRaw.replace(/^\/+/, '') : `${prefixRaw.replace(/^\/+/, '')}/`;

  const endpoint = get('endpoint');
  if (endpoint) {
    let url: URL | undefined;
    try {
      url = new URL(endpoint.value);
    } catch {
      url = undefined;
    }
    if (!url || !/^https?:$/.test(url.protocol)) throw new CacheConfigError(`${endpoint.source}: expected an http(s) URL, got '${endpoint.value}'`);
  }

  const pathStyle = get('pathStyle');
  let forcePathStyle = false;
  if (pathStyle) {
    if (!/^(true|false|1|0)$/.test(pathStyle.value)) throw new CacheConfigError(`${pathStyle.source}: expected true or false, got '${pathStyle.value}'`);
    forcePathStyle = pathStyle.value === 'true' || pathStyle.value === '1';
  }

  const number = (name: CacheSettingName, fallback: number, min: number): number => {
    const v = get(name);
    if (!v) return fallback;
    const n = Number(v.value);
    if (!Number.isFinite(n) || n < min) throw new CacheConfigError(`${v.source}: expected a number >= ${min}, got '${v.value}'`);
    return n;
  };
  const maxUploadBytes = Math.floor(number('maxUploadMiB', 5120, 1) * 1024 * 1024);
  if (maxUploadBytes > 5 * 1024 ** 3) throw new CacheConfigError(`${get('maxUploadMiB')?.source}: at most 5120 (a single S3 PutObject)`);
  const s3TimeoutMs = Math.round(number('s3TimeoutSeconds', 30, 1) * 1000);

  const readWriteTokens: string[] = [];
  const readOnlyTokens: string[] = [];
  const tokensFile = get('tokensFile');
  if (tokensFile) {
    let text: string;
    try {
      text = readFile(tokensFile.value);
    } catch (e) {
      throw new CacheConfigError(`${tokensFile.source}: cannot read ${tokensFile.value}: ${(e as Error).message}`);
    }
    const t = parseTokensFile(text, tokensFile.value);
    readWriteTokens.push(...t.readWrite);
    readOnlyTokens.push(...t.readOnly);
  }
  for (const [name, list] of [['rwTokens', readWriteTokens], ['roTokens', readOnlyTokens]] as const) {
    const v = env[CACHE_SERVER_SETTINGS[name].env];
    if (v) for (const t of v.split(',').map((s) => s.trim()).filter(Boolean)) list.push(checkToken(t, CACHE_SERVER_SETTINGS[name].env));
  }
  if (readWriteTokens.length + readOnlyTokens.length === 0)
    throw new CacheConfigError(
      `no access token: set ${CACHE_SERVER_SETTINGS.rwTokens.env} / ${CACHE_SERVER_SETTINGS.roTokens.env}, or ${CACHE_SERVER_SETTINGS.tokensFile.flag} FILE`,
    );
  const both = readWriteTokens.filter((t) => readOnlyTokens.includes(t));
  if (both.length) throw new CacheConfigError(`a token is listed both read-write and read-only (${CACHE_SERVER_SETTINGS.rwTokens.env}/${CACHE_SERVER_SETTINGS.roTokens.env} or the tokens file)`);

  return {
    host: m[1] ?? m[2],
    port,
    bucket: bucket.value,
    prefix,
    ...(endpoint ? { endpoint: endpoint.value } : {}),
    region: get('region')?.value ?? 'us-east-1',
    forcePathStyle,
    readWriteTokens,
    readOnlyTokens,
    maxUploadBytes,
    s3TimeoutMs,
  };
}
