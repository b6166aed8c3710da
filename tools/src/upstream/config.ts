/**
 * The port-maintenance configuration: key `upstream` of `pkgnx.config.json` at the workspace root.
 * Read with the one OptionsReader (config-file.ts), so every error names the file and the exact key;
 * nothing here has a default architecture, because the whole point is that the port's architecture is the
 * user's choice.
 */
import { DEFAULT_OFFICIAL_URL_TEMPLATE } from '../git/arch-repos';
import { CONFIG_FILE_NAME, ConfigError, readSection, sectionReader } from '../config-file';
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
export { CONFIG_FILE_NAME, ConfigError };

const REPO_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
const ARCH_NAME = /^[A-Za-z0-9_]+$/;
const PKGBASE = /^[A-Za-z0-9@._+-]+$/;
const KNOWN_KEYS = [
  'upstreamArch', 'targetArch', 'upstreamRepos', 'targetRepos', 'upstreamTestingRepos', 'targetTestingRepos',
  'cacheDir', 'blacklist', 'bootstrapOnly', 'overrides', 'officialUrlTemplate', 'stateRepo', 'output',
];

type Json = unknown;

/** Validate the `upstream` object; `file` is used in messages and relative paths resolve against its directory. */
export function validateUpstreamConfig(raw: Json, file: string): UpstreamConfig {
  const base = dirname(resolve(file));
  const o = sectionReader(raw, file, 'upstream');
  o.rejectUnknown(KNOWN_KEYS, 'key');
  const path = (v: string): string => (isAbsolute(v) ? v : resolve(base, v));

  const upstreamArch = o.required('upstreamArch', ARCH_NAME, 'an architecture name');
  const targetArch = o.required('targetArch', ARCH_NAME, 'an architecture name');

  const repos = (key: string, required: boolean, arch: string): RepositorySource[] => {
    const items = o.objects(key, 'an array of {name, url|path}');
    if (required && items.length === 0) o.fail(key, 'expected at least one repository {name, url|path}');
    const seen = new Set<string>();
    return items.map((item, i): RepositorySource => {
      item.rejectUnknown(['name', 'url', 'path', 'stable'], 'key');
      const name = item.required('name', REPO_NAME, 'a repository name');
      if (seen.has(name)) item.fail('name', `repository '${name}' listed twice`);
      seen.add(name);
      const url = item.string('url');
      const p = item.string('path');
      if ((url === undefined) === (p === undefined)) o.fail(`${key}[${i}]`, 'expected exactly one of url or path');
      const subst = (s: string): string => s.replaceAll('{repo}', name).replaceAll('{arch}', arch);
      const out: RepositorySource = { name };
      if (url !== undefined) {
        if (!/^https?:\/\//.test(url)) item.fail('url', `expected an http(s) URL, got '${url}'`);
        out.url = subst(url);
      }
      if (p !== undefined) out.path = path(subst(p));
      const stable = item.matching('stable', REPO_NAME, 'a repository name');
      if (stable !== undefined) out.stable = stable;
      return out;
    });
  };

  const bootstrapOnly = o.has('bootstrapOnly') ? o.strings('bootstrapOnly') : [...DEFAULT_BOOTSTRAP_ONLY];
  bootstrapOnly.forEach((name, i) => PKGBASE.test(name) || o.fail(`bootstrapOnly[${i}]`, 'is not a pkgbase name', name));

  const overrides: Record<string, PackageOverride> = {};
  const overrideReader = o.object('overrides', 'an object {pkgbase: {url, branch}}');
  for (const pkgbase of overrideReader?.keys() ?? []) {
    if (!PKGBASE.test(pkgbase)) overrideReader!.fail(pkgbase, 'invalid pkgbase name');
    const entry = overrideReader!.object(pkgbase, 'an object {url, branch}');
    if (!entry) return overrideReader!.fail(pkgbase, 'must be an object {url, branch}');
    entry.rejectUnknown(['url', 'branch'], 'key');
    overrides[pkgbase] = { url: entry.required('url'), branch: entry.string('branch', 'main') };
  }

  const officialUrlTemplate = o.string('officialUrlTemplate', DEFAULT_OFFICIAL_URL_TEMPLATE);
  if (!officialUrlTemplate.includes('{pkgbase}')) o.fail('officialUrlTemplate', "must contain '{pkgbase}'");

  const cacheDir = path(o.string('cacheDir', '.pkgnx/upstream-cache'));
  let stateRepo: StateRepoConfig | undefined;
  const stateReader = o.object('stateRepo', 'an object {url, dir?}');
  if (stateReader) {
    stateReader.rejectUnknown(['url', 'dir'], 'key');
    const dir = stateReader.string('dir');
    stateRepo = { url: stateReader.required('url'), dir: dir === undefined ? resolve(cacheDir, 'state') : path(dir) };
    // the clone is fetched, reset and cleaned (and, when damaged, re-cloned): it must never be the
    // workspace, the pkgbuilds directory, a directory holding either, or a directory inside pkgbuilds
    const pkgbuilds = resolve(base, 'pkgbuilds');
    const within = (child: string, parent: string): boolean => {
      const r = relative(parent, child);
      return r === '' || (r !== '..' && !r.startsWith(`..${sep}`) && !isAbsolute(r));
    };
    const key = dir === undefined ? 'cacheDir' : 'stateRepo.dir';
    if (within(base, stateRepo.dir)) o.fail(key, `state repository clone '${stateRepo.dir}' is or contains the workspace root '${base}'`);
    if (within(pkgbuilds, stateRepo.dir) || within(stateRepo.dir, pkgbuilds)) {
      o.fail(key, `state repository clone '${stateRepo.dir}' is, contains or is inside the pkgbuilds directory '${pkgbuilds}'`);
    }
  }

  const config: UpstreamConfig = {
    upstreamArch,
    targetArch,
    upstreamRepos: repos('upstreamRepos', true, upstreamArch),
    targetRepos: repos('targetRepos', true, targetArch),
    upstreamTestingRepos: repos('upstreamTestingRepos', false, upstreamArch),
    targetTestingRepos: repos('targetTestingRepos', false, targetArch),
    cacheDir,
    bootstrapOnly,
    overrides,
    officialUrlTemplate,
    output: path(o.string('output', 'packages_to_build.json')),
  };
  const blacklist = o.string('blacklist');
  if (blacklist !== undefined) config.blacklist = path(blacklist);
  if (stateRepo) config.stateRepo = stateRepo;
  return config;
}

/** Read and validate `<file>` (default `pkgnx.config.json` in `cwd`), key `upstream`. */
export function loadUpstreamConfig(file = resolve(process.cwd(), CONFIG_FILE_NAME)): UpstreamConfig {
  return validateUpstreamConfig(readSection(file, 'upstream'), file);
}

/** Stable repository a testing repository's packages are labelled with. */
export function stableRepoName(source: RepositorySource): string {
  return source.stable ?? source.name.replace(/-(testing|staging)$/, '');
}


