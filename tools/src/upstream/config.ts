/**
 * The port-maintenance configuration: key `upstream` of `pkgnx.config.json` at the workspace root.
 * Validated by hand so that every error names the file and the exact key; nothing here has a default
 * architecture, because the whole point is that the port's architecture is the user's choice.
 */
import { DEFAULT_OFFICIAL_URL_TEMPLATE } from '../git/arch-repos';
import { readFileSync, existsSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';

export interface RepositorySource {
  /** repository name as pacman knows it (`core`, `extra`, `alarm`, `core-testing`) */
  name: string;
  /** http(s) URL of the `.db` file; `{repo}` and `{arch}` are substituted */
  url?: string;
  /** local `.db` file (absolute, or relative to the config file); `{repo}` and `{arch}` are substituted */
  path?: string;
  /** for testing repositories: the stable repository its packages belong to (default: name without `-testing`/`-staging`) */
  stable?: string;
}

export interface PackageOverride {
  url: string;
  branch: string;
}

export interface StateRepoConfig {
  url: string;
  /** local clone; default `<cacheDir>/state` */
  dir: string;
}

export interface UpstreamConfig {
  /** architecture the upstream repositories are built for (substituted as `{arch}` in upstream URLs) */
  upstreamArch: string;
  /** architecture of the port (substituted as `{arch}` in target URLs) */
  targetArch: string;
  upstreamRepos: RepositorySource[];
  targetRepos: RepositorySource[];
  upstreamTestingRepos: RepositorySource[];
  targetTestingRepos: RepositorySource[];
  /** absolute directory where downloaded databases and their validators live */
  cacheDir: string;
  /** absolute path of the blacklist file, if any */
  blacklist?: string;
  /** pkgbases that only a bootstrap procedure builds */
  bootstrapOnly: string[];
  overrides: Record<string, PackageOverride>;
  /** git URL of an official package; `{pkgbase}` is substituted */
  officialUrlTemplate: string;
  stateRepo?: StateRepoConfig;
  /** absolute path of packages_to_build.json */
  output: string;
}

export const DEFAULT_BOOTSTRAP_ONLY = ['linux-api-headers', 'glibc', 'binutils', 'gcc'];
export { DEFAULT_OFFICIAL_URL_TEMPLATE };
export const CONFIG_FILE_NAME = 'pkgnx.config.json';

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly key: string,
    message: string,
  ) {
    super(`${file}: ${key}: ${message}`);
    this.name = 'ConfigError';
  }
}

const REPO_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
const ARCH_NAME = /^[A-Za-z0-9_]+$/;
const PKGBASE = /^[A-Za-z0-9@._+-]+$/;

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validate the `upstream` object; `file` is used in messages and relative paths resolve against its directory. */
export function validateUpstreamConfig(raw: Json, file: string): UpstreamConfig {
  const base = dirname(resolve(file));
  const fail = (key: string, msg: string): never => {
    throw new ConfigError(file, key, msg);
  };
  if (!isObject(raw)) return fail('upstream', 'expected an object');
  const known = new Set([
    'upstreamArch', 'targetArch', 'upstreamRepos', 'targetRepos', 'upstreamTestingRepos', 'targetTestingRepos',
    'cacheDir', 'blacklist', 'bootstrapOnly', 'overrides', 'officialUrlTemplate', 'stateRepo', 'output',
  ]);
  for (const k of Object.keys(raw)) if (!known.has(k)) fail(`upstream.${k}`, `unknown key (known: ${[...known].join(', ')})`);

  const str = (key: string, v: Json, pattern?: RegExp): string => {
    if (typeof v !== 'string' || v === '') return fail(key, 'expected a non-empty string');
    if (pattern && !pattern.test(v)) return fail(key, `invalid value '${v}'`);
    return v;
  };
  const optStr = (key: string, v: Json): string | undefined => (v === undefined ? undefined : str(key, v));
  const path = (v: string): string => (isAbsolute(v) ? v : resolve(base, v));

  const upstreamArch = str('upstream.upstreamArch', raw.upstreamArch, ARCH_NAME);
  const targetArch = str('upstream.targetArch', raw.targetArch, ARCH_NAME);

  const repos = (key: string, v: Json, required: boolean, arch: string): RepositorySource[] => {
    if (v === undefined && !required) return [];
    if (!Array.isArray(v)) return fail(`upstream.${key}`, 'expected an array of {name, url|path}');
    if (required && v.length === 0) return fail(`upstream.${key}`, 'expected at least one repository');
    const seen = new Set<string>();
    return v.map((item: Json, i: number): RepositorySource => {
      const k = `upstream.${key}[${i}]`;
      if (!isObject(item)) return fail(k, 'expected an object {name, url|path}');
      for (const f of Object.keys(item)) if (!['name', 'url', 'path', 'stable'].includes(f)) fail(`${k}.${f}`, 'unknown key');
      const name = str(`${k}.name`, item.name, REPO_NAME);
      if (seen.has(name)) fail(`${k}.name`, `repository '${name}' listed twice`);
      seen.add(name);
      const url = optStr(`${k}.url`, item.url);
      const p = optStr(`${k}.path`, item.path);
      if ((url === undefined) === (p === undefined)) fail(k, 'expected exactly one of url or path');
      const subst = (s: string): string => s.replaceAll('{repo}', name).replaceAll('{arch}', arch);
      const out: RepositorySource = { name };
      if (url !== undefined) {
        if (!/^https?:\/\//.test(url)) fail(`${k}.url`, `expected an http(s) URL, got '${url}'`);
        out.url = subst(url);
      }
      if (p !== undefined) out.path = path(subst(p));
      if (item.stable !== undefined) out.stable = str(`${k}.stable`, item.stable, REPO_NAME);
      return out;
    });
  };

  const bootstrapOnly =
    raw.bootstrapOnly === undefined
      ? [...DEFAULT_BOOTSTRAP_ONLY]
      : Array.isArray(raw.bootstrapOnly)
        ? raw.bootstrapOnly.map((v: Json, i: number) => str(`upstream.bootstrapOnly[${i}]`, v, PKGBASE))
        : fail('upstream.bootstrapOnly', 'expected an array of pkgbase names');

  const overrides: Record<string, PackageOverride> = {};
  if (raw.overrides !== undefined) {
    if (!isObject(raw.overrides)) fail('upstream.overrides', 'expected an object {pkgbase: {url, branch}}');
    for (const [pkgbase, o] of Object.entries(raw.overrides as Record<string, Json>)) {
      const k = `upstream.overrides.${pkgbase}`;
      if (!PKGBASE.test(pkgbase)) fail(k, 'invalid pkgbase name');
      if (!isObject(o)) return fail(k, 'expected an object {url, branch}');
      overrides[pkgbase] = { url: str(`${k}.url`, o.url), branch: o.branch === undefined ? 'main' : str(`${k}.branch`, o.branch) };
    }
  }

  const officialUrlTemplate = raw.officialUrlTemplate === undefined ? DEFAULT_OFFICIAL_URL_TEMPLATE : str('upstream.officialUrlTemplate', raw.officialUrlTemplate);
  if (!officialUrlTemplate.includes('{pkgbase}')) fail('upstream.officialUrlTemplate', "must contain '{pkgbase}'");

  const cacheDir = path(raw.cacheDir === undefined ? '.pkgnx/upstream-cache' : str('upstream.cacheDir', raw.cacheDir));
  let stateRepo: StateRepoConfig | undefined;
  if (raw.stateRepo !== undefined) {
    if (!isObject(raw.stateRepo)) fail('upstream.stateRepo', 'expected an object {url, dir?}');
    const s = raw.stateRepo as Record<string, Json>;
    stateRepo = { url: str('upstream.stateRepo.url', s.url), dir: s.dir === undefined ? resolve(cacheDir, 'state') : path(str('upstream.stateRepo.dir', s.dir)) };
    // the clone is fetched, reset and cleaned (and, when damaged, re-cloned): it must never be the
    // workspace, the pkgbuilds directory, a directory holding either, or a directory inside pkgbuilds
    const pkgbuilds = resolve(base, 'pkgbuilds');
    const within = (child: string, parent: string): boolean => {
      const r = relative(parent, child);
      return r === '' || (r !== '..' && !r.startsWith(`..${sep}`) && !isAbsolute(r));
    };
    const key = s.dir === undefined ? 'upstream.cacheDir' : 'upstream.stateRepo.dir';
    if (within(base, stateRepo.dir)) fail(key, `state repository clone '${stateRepo.dir}' is or contains the workspace root '${base}'`);
    if (within(pkgbuilds, stateRepo.dir) || within(stateRepo.dir, pkgbuilds)) {
      fail(key, `state repository clone '${stateRepo.dir}' is, contains or is inside the pkgbuilds directory '${pkgbuilds}'`);
    }
  }

  const config: UpstreamConfig = {
    upstreamArch,
    targetArch,
    upstreamRepos: repos('upstreamRepos', raw.upstreamRepos, true, upstreamArch),
    targetRepos: repos('targetRepos', raw.targetRepos, true, targetArch),
    upstreamTestingRepos: repos('upstreamTestingRepos', raw.upstreamTestingRepos, false, upstreamArch),
    targetTestingRepos: repos('targetTestingRepos', raw.targetTestingRepos, false, targetArch),
    cacheDir,
    bootstrapOnly,
    overrides,
    officialUrlTemplate,
    output: path(raw.output === undefined ? 'packages_to_build.json' : str('upstream.output', raw.output)),
  };
  const blacklist = optStr('upstream.blacklist', raw.blacklist);
  if (blacklist !== undefined) config.blacklist = path(blacklist);
  if (stateRepo) config.stateRepo = stateRepo;
  return config;
}

/** Read and validate `<file>` (default `pkgnx.config.json` in `cwd`), key `upstream`. */
export function loadUpstreamConfig(file = resolve(process.cwd(), CONFIG_FILE_NAME)): UpstreamConfig {
  if (!existsSync(file)) throw new ConfigError(file, 'upstream', 'configuration file not found');
  let parsed: Json;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(file, '(file)', `invalid JSON: ${(e as Error).message}`);
  }
  if (!isObject(parsed) || parsed.upstream === undefined) throw new ConfigError(file, 'upstream', 'missing key');
  return validateUpstreamConfig(parsed.upstream, file);
}

/** Stable repository a testing repository's packages are labelled with. */
export function stableRepoName(source: RepositorySource): string {
  return source.stable ?? source.name.replace(/-(testing|staging)$/, '');
}


