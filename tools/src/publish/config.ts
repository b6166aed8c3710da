/**
 * The publishing configuration: key `publish` of `pkgnx.config.json` (beside `upstream`, read the same
 * way). Validated by hand so that every error names the file and the exact key. Secrets never live here:
 * S3 credentials come from the AWS SDK's chain, the signing key's secret from the GnuPG home.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError, CONFIG_FILE_NAME } from '../upstream/config';
import { ARCH_NAME, REPO_NAME, repoNameProblem } from './layout';
import { parseS3Url } from './s3-store';

export interface S3Destination {
  kind: 's3';
  bucket: string;
  prefix: string;
  endpoint?: string;
  region?: string;
  forcePathStyle: boolean;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  maxAttempts: number;
}

export interface LocalDestination {
  kind: 'local';
  /** absolute directory */
  dir: string;
}

export interface SigningConfig {
  packages: boolean;
  databases: boolean;
  key?: string;
  gnupgHome?: string;
}

export interface PublishConfig {
  /** the file it came from, for messages */
  file: string;
  destination: S3Destination | LocalDestination;
  /** repository for packages no route matches */
  defaultRepo: string;
  /** upstream repository -> destination repository (default core -> core-testing, extra -> extra-testing) */
  routes: Record<string, string>;
  /** pkgbase -> destination repository, winning over routes */
  projects: Record<string, string>;
  gracePeriodSeconds: number;
  /** the server lacks conditional writes and only one publisher ever runs at a time */
  singleWriter: boolean;
  signing?: SigningConfig;
  /** the public base URL clients use (`Server = <publicUrl>/$repo/os/$arch`), for summaries */
  publicUrl?: string;
  /** the architectures `--all` may publish; default any */
  architectures?: string[];
}

export const DEFAULT_ROUTES: Readonly<Record<string, string>> = { core: 'core-testing', extra: 'extra-testing' };
export const DEFAULT_GRACE_PERIOD_SECONDS = 24 * 3600;

type Json = unknown;
const isObject = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function validatePublishConfig(raw: Json, file: string): PublishConfig {
  const base = dirname(resolve(file));
  const fail = (key: string, msg: string): never => {
    throw new ConfigError(file, key, msg);
  };
  if (!isObject(raw)) return fail('publish', 'expected an object');
  const known = ['destination', 's3', 'defaultRepo', 'routes', 'projects', 'gracePeriodSeconds', 'singleWriter', 'signing', 'publicUrl', 'architectures'];
  for (const k of Object.keys(raw)) if (!known.includes(k)) fail(`publish.${k}`, `unknown key (known: ${known.join(', ')})`);
  const str = (key: string, v: Json, pattern?: RegExp): string => {
    if (typeof v !== 'string' || v === '') return fail(key, 'expected a non-empty string');
    if (pattern && !pattern.test(v)) return fail(key, `invalid value '${v}'`);
    return v;
  };
  const repo = (key: string, v: Json): string => {
    const name = str(key, v);
    const problem = repoNameProblem(name);
    return problem ? fail(key, problem) : name;
  };
  const bool = (key: string, v: Json, dflt: boolean): boolean => {
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') return fail(key, 'expected true or false');
    return v;
  };
  const num = (key: string, v: Json, dflt: number, min: number): number => {
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) return fail(key, `expected a number >= ${min}`);
    return v;
  };
  const repoMap = (key: string, v: Json, dflt: Record<string, string>, keyPattern: RegExp): Record<string, string> => {
    if (v === undefined) return { ...dflt };
    if (!isObject(v)) return fail(key, 'expected an object {name: repository}');
    const out: Record<string, string> = {};
    for (const [k, r] of Object.entries(v)) {
      if (!keyPattern.test(k)) fail(`${key}.${k}`, 'invalid name');
      out[k] = repo(`${key}.${k}`, r);
    }
    return out;
  };

  const destText = str('publish.destination', raw.destination);
  let destination: S3Destination | LocalDestination;
  if (destText.startsWith('s3://')) {
    const parsed = parseS3Url(destText);
    if (!parsed || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(parsed.bucket)) return fail('publish.destination', `invalid S3 URL '${destText}' (expected s3://bucket/prefix)`);
    const s3 = raw.s3 === undefined ? {} : isObject(raw.s3) ? raw.s3 : fail('publish.s3', 'expected an object');
    const s3known = ['endpoint', 'region', 'forcePathStyle', 'connectTimeoutSeconds', 'requestTimeoutSeconds', 'maxAttempts'];
    for (const k of Object.keys(s3)) if (!s3known.includes(k)) fail(`publish.s3.${k}`, `unknown key (known: ${s3known.join(', ')})`);
    const d: S3Destination = {
      kind: 's3',
      ...parsed,
      forcePathStyle: bool('publish.s3.forcePathStyle', s3.forcePathStyle, false),
      connectTimeoutMs: num('publish.s3.connectTimeoutSeconds', s3.connectTimeoutSeconds, 5, 0.1) * 1000,
      requestTimeoutMs: num('publish.s3.requestTimeoutSeconds', s3.requestTimeoutSeconds, 60, 0.1) * 1000,
      maxAttempts: Math.floor(num('publish.s3.maxAttempts', s3.maxAttempts, 3, 1)),
    };
    if (s3.endpoint !== undefined) {
      d.endpoint = str('publish.s3.endpoint', s3.endpoint);
      if (!/^https?:\/\/[^/]+/.test(d.endpoint)) fail('publish.s3.endpoint', `expected an http(s) URL, got '${d.endpoint}'`);
    }
    if (s3.region !== undefined) d.region = str('publish.s3.region', s3.region, /^[a-z0-9-]+$/);
    destination = d;
  } else {
    if (raw.s3 !== undefined) fail('publish.s3', 'only for an s3:// destination');
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(destText) && !destText.startsWith('file://')) fail('publish.destination', `unsupported URL '${destText}' (expected s3://bucket/prefix or a directory)`);
    const path = destText.startsWith('file://') ? destText.slice('file://'.length) : destText;
    destination = { kind: 'local', dir: isAbsolute(path) ? path : resolve(base, path) };
  }

  let signing: SigningConfig | undefined;
  if (raw.signing !== undefined) {
    if (!isObject(raw.signing)) return fail('publish.signing', 'expected an object {packages, databases, key, gnupgHome}');
    const s = raw.signing;
    for (const k of Object.keys(s)) if (!['packages', 'databases', 'key', 'gnupgHome'].includes(k)) fail(`publish.signing.${k}`, 'unknown key (known: packages, databases, key, gnupgHome)');
    signing = { packages: bool('publish.signing.packages', s.packages, true), databases: bool('publish.signing.databases', s.databases, true) };
    if (s.key !== undefined) signing.key = str('publish.signing.key', s.key);
    if (s.gnupgHome !== undefined) {
      const h = str('publish.signing.gnupgHome', s.gnupgHome);
      signing.gnupgHome = isAbsolute(h) ? h : resolve(base, h);
    }
  }

  const config: PublishConfig = {
    file,
    destination,
    defaultRepo: repo('publish.defaultRepo', raw.defaultRepo),
    routes: repoMap('publish.routes', raw.routes, DEFAULT_ROUTES, REPO_NAME),
    projects: repoMap('publish.projects', raw.projects, {}, /^[A-Za-z0-9@._+-]+$/),
    gracePeriodSeconds: num('publish.gracePeriodSeconds', raw.gracePeriodSeconds, DEFAULT_GRACE_PERIOD_SECONDS, 0),
    singleWriter: bool('publish.singleWriter', raw.singleWriter, false),
  };
  if (signing) config.signing = signing;
  if (raw.publicUrl !== undefined) {
    const u = str('publish.publicUrl', raw.publicUrl);
    if (!/^(https?|file):\/\//.test(u)) fail('publish.publicUrl', `expected an http(s) or file URL, got '${u}'`);
    config.publicUrl = u.replace(/\/+$/, '');
  }
  if (raw.architectures !== undefined) {
    if (!Array.isArray(raw.architectures)) fail('publish.architectures', 'expected an array of architecture names');
    config.architectures = (raw.architectures as Json[]).map((a, i) => str(`publish.architectures[${i}]`, a, ARCH_NAME));
  }
  return config;
}

/** The parsed configuration file; errors name the file. */
export function readConfigFile(file: string): Record<string, Json> {
  if (!existsSync(file)) throw new ConfigError(file, 'publish', 'configuration file not found');
  let parsed: Json;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(file, '(file)', `invalid JSON: ${(e as Error).message}`);
  }
  if (!isObject(parsed)) throw new ConfigError(file, '(file)', 'expected a JSON object');
  return parsed;
}

/**
 * Read and validate `<file>` (default `pkgnx.config.json` in `cwd`), key `publish`. A `destination`
 * override (command line) replaces `publish.destination` before validation (and drops `publish.s3`
 * when the override is a directory).
 */
export function loadPublishConfig(file = resolve(process.cwd(), CONFIG_FILE_NAME), overrides: { destination?: string } = {}): PublishConfig {
  const parsed = readConfigFile(file);
  if (parsed.publish === undefined) throw new ConfigError(file, 'publish', 'missing key');
  let raw = parsed.publish;
  if (overrides.destination !== undefined && isObject(raw)) {
    raw = { ...raw, destination: overrides.destination };
    if (!overrides.destination.startsWith('s3://')) delete (raw as Record<string, Json>).s3;
  }
  return validatePublishConfig(raw, file);
}
