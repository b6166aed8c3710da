/**
 * The publishing configuration: key `publish` of `pkgnx.config.json` (beside `upstream`, read the same
 * way, with the one OptionsReader): every error names the file and the exact key. Secrets never live here:
 * S3 credentials come from the AWS SDK's chain, the signing key's secret from the GnuPG home.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { CONFIG_FILE_NAME, readSection, sectionReader } from '../config-file';
import type { OptionsReader } from '../options';
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

const KNOWN_KEYS = ['destination', 's3', 'defaultRepo', 'routes', 'projects', 'gracePeriodSeconds', 'singleWriter', 'signing', 'publicUrl', 'architectures'];
const S3_KEYS = ['endpoint', 'region', 'forcePathStyle', 'connectTimeoutSeconds', 'requestTimeoutSeconds', 'maxAttempts'];
const SIGNING_KEYS = ['packages', 'databases', 'key', 'gnupgHome'];

export function validatePublishConfig(raw: unknown, file: string): PublishConfig {
  const base = dirname(resolve(file));
  const o = sectionReader(raw, file, 'publish');
  o.rejectUnknown(KNOWN_KEYS, 'key');
  const repo = (reader: OptionsReader, key: string): string => {
    const name = reader.required(key);
    const problem = repoNameProblem(name);
    return problem ? reader.fail(key, problem) : name;
  };
  const repoMap = (key: string, dflt: Record<string, string>, keyPattern: RegExp): Record<string, string> => {
    const map = o.object(key, 'an object {name: repository}');
    if (!map) return { ...dflt };
    const out: Record<string, string> = {};
    for (const k of map.keys()) {
      if (!keyPattern.test(k)) map.fail(k, 'invalid name');
      out[k] = repo(map, k);
    }
    return out;
  };

  const destText = o.required('destination');
  let destination: S3Destination | LocalDestination;
  if (destText.startsWith('s3://')) {
    const parsed = parseS3Url(destText);
    if (!parsed || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(parsed.bucket)) return o.fail('destination', `invalid S3 URL '${destText}' (expected s3://bucket/prefix)`);
    const s3 = o.object('s3') ?? sectionReader({}, file, 'publish.s3');
    s3.rejectUnknown(S3_KEYS, 'key');
    const d: S3Destination = {
      kind: 's3',
      ...parsed,
      forcePathStyle: s3.bool('forcePathStyle', false),
      connectTimeoutMs: s3.number('connectTimeoutSeconds', 5, { min: 0.1 }) * 1000,
      requestTimeoutMs: s3.number('requestTimeoutSeconds', 60, { min: 0.1 }) * 1000,
      maxAttempts: s3.number('maxAttempts', 3, { integer: true, min: 1 }),
    };
    const endpoint = s3.string('endpoint');
    if (endpoint !== undefined) {
      if (!/^https?:\/\/[^/]+/.test(endpoint)) s3.fail('endpoint', `expected an http(s) URL, got '${endpoint}'`);
      d.endpoint = endpoint;
    }
    const region = s3.matching('region', /^[a-z0-9-]+$/, 'a region name');
    if (region !== undefined) d.region = region;
    destination = d;
  } else {
    if (o.has('s3')) o.fail('s3', 'only for an s3:// destination');
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(destText) && !destText.startsWith('file://')) o.fail('destination', `unsupported URL '${destText}' (expected s3://bucket/prefix or a directory)`);
    const path = destText.startsWith('file://') ? destText.slice('file://'.length) : destText;
    destination = { kind: 'local', dir: isAbsolute(path) ? path : resolve(base, path) };
  }

  let signing: SigningConfig | undefined;
  const s = o.object('signing', 'an object {packages, databases, key, gnupgHome}');
  if (s) {
    s.rejectUnknown(SIGNING_KEYS, 'key');
    signing = { packages: s.bool('packages', true), databases: s.bool('databases', true) };
    const key = s.string('key');
    if (key !== undefined) signing.key = key;
    const home = s.string('gnupgHome');
    if (home !== undefined) signing.gnupgHome = isAbsolute(home) ? home : resolve(base, home);
  }

  const config: PublishConfig = {
    file,
    destination,
    defaultRepo: repo(o, 'defaultRepo'),
    routes: repoMap('routes', DEFAULT_ROUTES, REPO_NAME),
    projects: repoMap('projects', {}, /^[A-Za-z0-9@._+-]+$/),
    gracePeriodSeconds: o.number('gracePeriodSeconds', DEFAULT_GRACE_PERIOD_SECONDS, { min: 0 }),
    singleWriter: o.bool('singleWriter', false),
  };
  if (signing) config.signing = signing;
  const publicUrl = o.string('publicUrl');
  if (publicUrl !== undefined) {
    if (!/^(https?|file):\/\//.test(publicUrl)) o.fail('publicUrl', `expected an http(s) or file URL, got '${publicUrl}'`);
    config.publicUrl = publicUrl.replace(/\/+$/, '');
  }
  if (o.has('architectures')) {
    config.architectures = o.strings('architectures');
    config.architectures.forEach((a, i) => ARCH_NAME.test(a) || o.fail(`architectures[${i}]`, 'is not an architecture name', a));
  }
  return config;
}

/**
 * Read and validate `<file>` (default `pkgnx.config.json` in `cwd`), key `publish`. A `destination`
 * override (command line) replaces `publish.destination` before validation (and drops `publish.s3`
 * when the override is a directory).
 */
export function loadPublishConfig(file = resolve(process.cwd(), CONFIG_FILE_NAME), overrides: { destination?: string } = {}): PublishConfig {
  let raw = readSection(file, 'publish');
  if (overrides.destination !== undefined && typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    const { s3, ...rest } = raw as Record<string, unknown>;
    raw = { ...rest, destination: overrides.destination, ...(overrides.destination.startsWith('s3://') && s3 !== undefined ? { s3 } : {}) };
  }
  return validatePublishConfig(raw, file);
}

/**
 * The base URL machines read the repositories from (`<base>/<repo>/os/<arch>`): publish.publicUrl, else the
 * destination itself: `file://<dir>` for a directory, the endpoint path-style for an S3-compatible server,
 * the bucket's virtual-hosted AWS URL otherwise (both need anonymous reads, docs/publishing.md).
 */
export function clientBaseUrl(config: PublishConfig): string {
  if (config.publicUrl) return config.publicUrl;
  const d = config.destination;
  if (d.kind === 'local') return `file://${d.dir.replace(/\/+$/, '')}`;
  const prefix = d.prefix ? `/${d.prefix}` : '';
  if (d.endpoint) {
    const endpoint = d.endpoint.replace(/\/+$/, '');
    if (d.forcePathStyle) return `${endpoint}/${d.bucket}${prefix}`;
    const u = new URL(endpoint);
    return `${u.protocol}//${d.bucket}.${u.host}${prefix}`;
  }
  return `https://${d.bucket}.s3.${d.region ?? process.env.AWS_REGION ?? 'us-east-1'}.amazonaws.com${prefix}`;
}
