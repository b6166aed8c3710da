/**
 * Configuration of the remote cache server (`pkgnx cache-server`): command-line flags first, then the
 * environment; tokens from the environment or from a file. Every error names the flag, the variable or the
 * file and line it came from.
 */
import { readFileSync } from 'node:fs';
import { OptionsError, OptionsReader } from '../options';

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

export class CacheConfigError extends OptionsError {}

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
 * `readFile` how a tokens file is read (tests pass their own). Read with the one OptionsReader; an error
 * names the flag or the variable the value came from.
 */
export function resolveCacheServerConfig(
  flags: CacheSettingValues,
  env: NodeJS.ProcessEnv,
  readFile: (file: string) => string = (f) => readFileSync(f, 'utf8'),
): CacheServerConfig {
  const raw: Record<string, unknown> = {};
  const source: Record<string, string> = {};
  for (const name of Object.keys(CACHE_SERVER_SETTINGS) as CacheSettingName[]) {
    const f = flags[name];
    const e = env[CACHE_SERVER_SETTINGS[name].env];
    if (f !== undefined) [raw[name], source[name]] = [f, where(name, true)];
    else if (e !== undefined && e !== '') [raw[name], source[name]] = [e, where(name, false)];
  }
  const o = new OptionsReader(raw, {
    describe: (k) => source[k] ?? k,
    fromCommandLine: true,
    error: (k, problem) => new CacheConfigError(`${source[k] ?? where(k as CacheSettingName, true)}: ${problem}`),
  });

  const listen = o.string('listen', '127.0.0.1:3000');
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:\s]+)):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) return o.fail('listen', `expected HOST:PORT (e.g. 127.0.0.1:3000), got '${listen}'`);

  const bucket = o.string('bucket');
  if (bucket === undefined) throw new CacheConfigError(`the bucket is required: ${where('bucket', true)} or ${where('bucket', false)}`);
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) o.fail('bucket', `'${bucket}' is not a valid S3 bucket name`);

  const prefixRaw = o.string('prefix') ?? 'nx-cache/';
  const prefix = prefixRaw === '' || prefixRaw.endsWith('/') ? prefixRaw.replace(/^\/+/, '') : `${prefixRaw.replace(/^\/+/, '')}/`;

  const endpoint = o.string('endpoint');
  if (endpoint !== undefined && !/^https?:$/.test(URL.canParse(endpoint) ? new URL(endpoint).protocol : '')) o.fail('endpoint', `expected an http(s) URL, got '${endpoint}'`);

  const maxUploadMiB = o.number('maxUploadMiB', 5120, { min: 1, max: 5120 });
  const s3TimeoutMs = Math.round(o.number('s3TimeoutSeconds', 30, { min: 1 }) * 1000);

  const readWriteTokens: string[] = [];
  const readOnlyTokens: string[] = [];
  const tokensFile = o.string('tokensFile');
  if (tokensFile !== undefined) {
    let text = '';
    try {
      text = readFile(tokensFile);
    } catch (e) {
      o.fail('tokensFile', `cannot read ${tokensFile}: ${(e as Error).message}`);
    }
    const t = parseTokensFile(text, tokensFile);
    readWriteTokens.push(...t.readWrite);
    readOnlyTokens.push(...t.readOnly);
  }
  for (const [name, list] of [['rwTokens', readWriteTokens], ['roTokens', readOnlyTokens]] as const) {
    for (const t of o.strings(name, { splitString: true }).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean)) list.push(checkToken(t, CACHE_SERVER_SETTINGS[name].env));
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
    bucket,
    prefix,
    ...(endpoint !== undefined ? { endpoint } : {}),
    region: o.string('region', 'us-east-1'),
    forcePathStyle: o.bool('pathStyle', false),
    readWriteTokens,
    readOnlyTokens,
    maxUploadBytes: Math.floor(maxUploadMiB * 1024 * 1024),
    s3TimeoutMs,
  };
}
