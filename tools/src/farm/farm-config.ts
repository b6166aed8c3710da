/**
 * How the build farm runs: key `farm` of `pkgnx.config.json` (the same file as `upstream`). One place for
 * runners per architecture, the qemu fallback, packages that must build natively, job set-up, limits and
 * publishing. Validated by hand; every error names the file and the exact key (ConfigError).
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CONFIG_FILE_NAME, ConfigError } from '../upstream/config';

export interface ArchRunners {
  /** GitLab runner tags of native runners of this architecture */
  gitlabTags?: string[];
  /** GitHub Actions `runs-on` labels of native runners of this architecture */
  githubRunsOn?: string[];
  /** another architecture whose runners build this one under qemu-user (the configured fallback) */
  emulateOn?: string;
  /** build under emulation even though native runners are configured (all but nativeOnly packages) */
  emulate: boolean;
}

export interface PublishSettings {
  /** shell command run once per architecture after its builds; `{arch}` is replaced */
  command: string;
  /** GitLab resource_group / GitHub concurrency group: one publisher per repository at a time; `{arch}` replaced */
  group: string;
}

export interface FarmConfig {
  architectures: Record<string, ArchRunners>;
  /** per architecture: pkgbases that never build under emulation (their test suites or toolchains fail there) */
  nativeOnly: Record<string, string[]>;
  /** shell lines every job runs first in its fresh clone (install dependencies, ...) */
  setup: string[];
  /** a job that runs longer is stopped: Nx 24 hangs on a remote cache that stops answering mid-run */
  jobTimeoutMinutes: number;
  /** GitLab's limit of `needs:` per job */
  maxNeeds: number;
  /** more build tasks than this: tasks are binned, several per job (see docs/farm.md) */
  maxJobs: number;
  github: { levels: number; planRunsOn: string[]; maxMatrix: number };
  publish?: PublishSettings;
}

export const FARM_DEFAULTS = { setup: ['npm ci'], jobTimeoutMinutes: 360, maxNeeds: 50, maxJobs: 1000, levels: 32, maxMatrix: 256 } as const;

const ARCH = /^[A-Za-z0-9_]+$/;
const PKGBASE = /^[A-Za-z0-9@._+-]+$/;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function validateFarmConfig(raw: unknown, file: string): FarmConfig {
  const fail = (key: string, msg: string): never => {
    throw new ConfigError(file, key, msg);
  };
  if (!isObject(raw)) return fail('farm', 'expected an object');
  const known = ['architectures', 'nativeOnly', 'setup', 'jobTimeoutMinutes', 'maxNeeds', 'maxJobs', 'github', 'publish'];
  for (const k of Object.keys(raw)) if (!known.includes(k)) fail(`farm.${k}`, `unknown key (known: ${known.join(', ')})`);
  const strings = (key: string, v: unknown, allowEmpty = false): string[] => {
    if (!Array.isArray(v) || (!allowEmpty && v.length === 0)) return fail(key, `expected a${allowEmpty ? 'n' : ' non-empty'} array of strings`);
    return v.map((s, i) => (typeof s === 'string' && s !== '' ? s : fail(`${key}[${i}]`, 'expected a non-empty string')));
  };
  const int = (key: string, v: unknown, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) return fail(key, `expected an integer from ${min} to ${max}`);
    return v;
  };

  if (!isObject(raw.architectures) || Object.keys(raw.architectures).length === 0) return fail('farm.architectures', 'expected an object with one entry per target architecture');
  const architectures: Record<string, ArchRunners> = {};
  for (const [arch, a] of Object.entries(raw.architectures)) {
    const k = `farm.architectures.${arch}`;
    if (!ARCH.test(arch)) fail(k, `'${arch}' is not an architecture name`);
    if (!isObject(a)) return fail(k, 'expected an object {gitlabTags?, githubRunsOn?, emulateOn?, emulate?}');
    for (const f of Object.keys(a)) if (!['gitlabTags', 'githubRunsOn', 'emulateOn', 'emulate'].includes(f)) fail(`${k}.${f}`, 'unknown key (known: gitlabTags, githubRunsOn, emulateOn, emulate)');
    const r: ArchRunners = { emulate: false };
    if (a.gitlabTags !== undefined) r.gitlabTags = strings(`${k}.gitlabTags`, a.gitlabTags);
    if (a.githubRunsOn !== undefined) r.githubRunsOn = strings(`${k}.githubRunsOn`, a.githubRunsOn);
    if (a.emulateOn !== undefined) {
      if (typeof a.emulateOn !== 'string' || !ARCH.test(a.emulateOn)) fail(`${k}.emulateOn`, 'expected an architecture name');
      r.emulateOn = a.emulateOn as string;
    }
    if (a.emulate !== undefined) {
      if (typeof a.emulate !== 'boolean') fail(`${k}.emulate`, 'expected true or false');
      r.emulate = a.emulate as boolean;
    }
    if (r.emulate && !r.emulateOn) fail(`${k}.emulate`, 'emulate needs emulateOn (the architecture whose runners run qemu-user)');
    if (!r.gitlabTags && !r.githubRunsOn && !r.emulateOn) fail(k, 'no runners: give gitlabTags/githubRunsOn (native runners) or emulateOn (qemu-user on another architecture)');
    architectures[arch] = r;
  }
  for (const [arch, r] of Object.entries(architectures)) {
    if (!r.emulateOn) continue;
    const host = architectures[r.emulateOn];
    if (!host) fail(`farm.architectures.${arch}.emulateOn`, `'${r.emulateOn}' is not in farm.architectures`);
    else if (host.emulateOn) fail(`farm.architectures.${arch}.emulateOn`, `'${r.emulateOn}' is emulated itself: emulation needs native runners`);
  }

  const nativeOnly: Record<string, string[]> = {};
  if (raw.nativeOnly !== undefined) {
    if (!isObject(raw.nativeOnly)) return fail('farm.nativeOnly', 'expected an object {arch: [pkgbase, ...]}');
    for (const [arch, list] of Object.entries(raw.nativeOnly)) {
      const k = `farm.nativeOnly.${arch}`;
      const r = architectures[arch];
      if (!r) fail(k, `'${arch}' is not in farm.architectures`);
      nativeOnly[arch] = strings(k, list, true).map((p, i) => (PKGBASE.test(p) ? p : fail(`${k}[${i}]`, `'${p}' is not a pkgbase`)));
      if (nativeOnly[arch].length && !r.gitlabTags && !r.githubRunsOn) fail(k, `${arch} has no native runners (farm.architectures.${arch}.gitlabTags/githubRunsOn): these packages could not build anywhere`);
    }
  }

  const setup = raw.setup === undefined ? [...FARM_DEFAULTS.setup] : strings('farm.setup', raw.setup, true);
  const jobTimeoutMinutes = int('farm.jobTimeoutMinutes', raw.jobTimeoutMinutes, FARM_DEFAULTS.jobTimeoutMinutes, 1, 60 * 24 * 30);
  const maxNeeds = int('farm.maxNeeds', raw.maxNeeds, FARM_DEFAULTS.maxNeeds, 2, 50);
  const maxJobs = int('farm.maxJobs', raw.maxJobs, FARM_DEFAULTS.maxJobs, 1);

  const gh = raw.github === undefined ? {} : raw.github;
  if (!isObject(gh)) return fail('farm.github', 'expected an object {levels?, planRunsOn?, maxMatrix?}');
  for (const f of Object.keys(gh)) if (!['levels', 'planRunsOn', 'maxMatrix'].includes(f)) fail(`farm.github.${f}`, 'unknown key (known: levels, planRunsOn, maxMatrix)');
  const github = {
    levels: int('farm.github.levels', gh.levels, FARM_DEFAULTS.levels, 1, 200),
    planRunsOn: gh.planRunsOn === undefined ? ['ubuntu-latest'] : strings('farm.github.planRunsOn', gh.planRunsOn),
    maxMatrix: int('farm.github.maxMatrix', gh.maxMatrix, FARM_DEFAULTS.maxMatrix, 1, 256),
  };

  let publish: PublishSettings | undefined;
  if (raw.publish !== undefined) {
    const p = raw.publish;
    if (!isObject(p)) return fail('farm.publish', 'expected an object {command, group?}');
    for (const f of Object.keys(p)) if (!['command', 'group'].includes(f)) fail(`farm.publish.${f}`, 'unknown key (known: command, group)');
    if (typeof p.command !== 'string' || p.command.trim() === '') fail('farm.publish.command', 'expected a shell command ({arch} is replaced)');
    if (p.group !== undefined && (typeof p.group !== 'string' || !/^[A-Za-z0-9_.{}-]+$/.test(p.group))) fail('farm.publish.group', 'expected a name of letters, digits, -, _, . ({arch} is replaced)');
    publish = { command: p.command as string, group: (p.group as string | undefined) ?? 'pkgnx-publish-{arch}' };
  }
  return { architectures, nativeOnly, setup, jobTimeoutMinutes, maxNeeds, maxJobs, github, ...(publish ? { publish } : {}) };
}

/** key `farm` of pkgnx.config.json (default: in the current directory) */
export function loadFarmConfig(file = resolve(process.cwd(), CONFIG_FILE_NAME)): FarmConfig {
  if (!existsSync(file)) throw new ConfigError(file, 'farm', `${CONFIG_FILE_NAME} not found: the farm settings (runners per architecture, ...) live under its key "farm"`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(file, '(file)', `not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(raw) || raw.farm === undefined) throw new ConfigError(file, 'farm', 'missing: the farm settings (runners per architecture, ...) live under this key');
  return validateFarmConfig(raw.farm, file);
}
