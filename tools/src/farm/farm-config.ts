/**
 * How the build farm runs: key `farm` of `pkgnx.config.json` (the same file as `upstream`). One place for
 * runners per architecture, the qemu fallback, packages that must build natively, job set-up, limits and
 * publishing. Read with the one OptionsReader; every error names the file and the exact key (ConfigError).
 */
import { resolve } from 'node:path';
import { CONFIG_FILE_NAME, readSection, sectionReader } from '../config-file';
import type { OptionsReader } from '../options';

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
const RUNNER_KEYS = ['gitlabTags', 'githubRunsOn', 'emulateOn', 'emulate'];

export function validateFarmConfig(raw: unknown, file: string): FarmConfig {
  const o = sectionReader(raw, file, 'farm');
  o.rejectUnknown(['architectures', 'nativeOnly', 'setup', 'jobTimeoutMinutes', 'maxNeeds', 'maxJobs', 'github', 'publish'], 'key');
  /** a list of non-empty strings; `nonEmpty`: at least one */
  const strings = (r: OptionsReader, key: string, nonEmpty: boolean): string[] => {
    const list = r.strings(key);
    if (nonEmpty && list.length === 0) r.fail(key, 'expected a non-empty array of strings');
    list.forEach((v, i) => v === '' && r.fail(`${key}[${i}]`, 'expected a non-empty string'));
    return list;
  };

  const archs = o.object('architectures', 'an object with one entry per target architecture');
  if (!archs || archs.keys().length === 0) return o.fail('architectures', 'expected an object with one entry per target architecture');
  const architectures: Record<string, ArchRunners> = {};
  for (const arch of archs.keys()) {
    if (!ARCH.test(arch)) archs.fail(arch, `'${arch}' is not an architecture name`);
    const a = archs.object(arch, 'an object {gitlabTags?, githubRunsOn?, emulateOn?, emulate?}');
    if (!a) return archs.fail(arch, 'expected an object {gitlabTags?, githubRunsOn?, emulateOn?, emulate?}');
    a.rejectUnknown(RUNNER_KEYS, 'key');
    const r: ArchRunners = { emulate: a.bool('emulate', false) };
    if (a.has('gitlabTags')) r.gitlabTags = strings(a, 'gitlabTags', true);
    if (a.has('githubRunsOn')) r.githubRunsOn = strings(a, 'githubRunsOn', true);
    const emulateOn = a.matching('emulateOn', ARCH, 'an architecture name');
    if (emulateOn !== undefined) r.emulateOn = emulateOn;
    if (r.emulate && !r.emulateOn) a.fail('emulate', 'emulate needs emulateOn (the architecture whose runners run qemu-user)');
    if (!r.gitlabTags && !r.githubRunsOn && !r.emulateOn) archs.fail(arch, 'no runners: give gitlabTags/githubRunsOn (native runners) or emulateOn (qemu-user on another architecture)');
    architectures[arch] = r;
  }
  for (const [arch, r] of Object.entries(architectures)) {
    if (!r.emulateOn) continue;
    const host = architectures[r.emulateOn];
    if (!host) archs.fail(`${arch}.emulateOn`, `'${r.emulateOn}' is not in farm.architectures`);
    else if (host.emulateOn) archs.fail(`${arch}.emulateOn`, `'${r.emulateOn}' is emulated itself: emulation needs native runners`);
  }

  const nativeOnly: Record<string, string[]> = {};
  const native = o.object('nativeOnly', 'an object {arch: [pkgbase, ...]}');
  for (const arch of native?.keys() ?? []) {
    const r = architectures[arch];
    if (!r) native!.fail(arch, `'${arch}' is not in farm.architectures`);
    nativeOnly[arch] = strings(native!, arch, false);
    nativeOnly[arch].forEach((p, i) => PKGBASE.test(p) || native!.fail(`${arch}[${i}]`, `'${p}' is not a pkgbase`));
    if (nativeOnly[arch].length && !r.gitlabTags && !r.githubRunsOn)
      native!.fail(arch, `${arch} has no native runners (farm.architectures.${arch}.gitlabTags/githubRunsOn): these packages could not build anywhere`);
  }

  const gh = o.object('github', 'an object {levels?, planRunsOn?, maxMatrix?}') ?? sectionReader({}, file, 'farm.github');
  gh.rejectUnknown(['levels', 'planRunsOn', 'maxMatrix'], 'key');
  const github = {
    levels: gh.number('levels', FARM_DEFAULTS.levels, { integer: true, min: 1, max: 200 }),
    planRunsOn: gh.has('planRunsOn') ? strings(gh, 'planRunsOn', true) : ['ubuntu-latest'],
    maxMatrix: gh.number('maxMatrix', FARM_DEFAULTS.maxMatrix, { integer: true, min: 1, max: 256 }),
  };

  let publish: PublishSettings | undefined;
  const p = o.object('publish', 'an object {command, group?}');
  if (p) {
    p.rejectUnknown(['command', 'group'], 'key');
    const command = p.string('command') ?? '';
    if (command.trim() === '') p.fail('command', 'expected a shell command ({arch} is replaced)');
    const group = p.matching('group', /^[A-Za-z0-9_.{}-]+$/, 'a name of letters, digits, -, _, . ({arch} is replaced)', 'pkgnx-publish-{arch}') as string;
    publish = { command, group };
  }
  return {
    architectures,
    nativeOnly,
    setup: o.has('setup') ? strings(o, 'setup', false) : [...FARM_DEFAULTS.setup],
    jobTimeoutMinutes: o.number('jobTimeoutMinutes', FARM_DEFAULTS.jobTimeoutMinutes, { integer: true, min: 1, max: 60 * 24 * 30 }),
    maxNeeds: o.number('maxNeeds', FARM_DEFAULTS.maxNeeds, { integer: true, min: 2, max: 50 }),
    maxJobs: o.number('maxJobs', FARM_DEFAULTS.maxJobs, { integer: true, min: 1 }),
    github,
    ...(publish ? { publish } : {}),
  };
}

/** key `farm` of pkgnx.config.json (default: in the current directory) */
export function loadFarmConfig(file = resolve(process.cwd(), CONFIG_FILE_NAME)): FarmConfig {
  return validateFarmConfig(readSection(file, 'farm'), file);
}
