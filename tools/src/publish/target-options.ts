/**
 * The publish executor's options (the Nx `publish` target), validated against the same keys as its
 * schema.json (a unit test keeps the two in step). Destinations, routing and signing are not options:
 * they are the `publish` section of pkgnx.config.json, shared with the CLI verbs.
 */
import { OptionsError, OptionsReader } from '../options';
import { CONFIG_FILE_NAME } from '../config-file';
import { ARCH_NAME } from './layout';

export interface PublishTargetOptions {
  /** the architecture, set by the target's configuration as for `build` */
  arch: string;
  /** the configuration file, relative to the workspace root */
  config: string;
  /** print what would be uploaded and written; change nothing */
  dryRun: boolean;
  /** route with the cached upstream databases (no download) */
  offline: boolean;
  /** route without upstream repositories */
  noUpstream: boolean;
  /** do not delete files whose grace period is over */
  noPrune: boolean;
}

export const PUBLISH_OPTION_KEYS = ['arch', 'config', 'dryRun', 'offline', 'noUpstream', 'noPrune'] as const;

export function parsePublishTargetOptions(raw: Record<string, unknown>): PublishTargetOptions {
  const o = new OptionsReader(raw, { describe: (k) => `publish option "${k}"`, fromCommandLine: true });
  o.rejectUnknown(PUBLISH_OPTION_KEYS);
  const arch = o.matching('arch', ARCH_NAME, 'an architecture name');
  if (!arch) throw new OptionsError('publish option "arch" is required (e.g. "x86_64"; use -c aarch64 for another architecture)');
  return {
    arch,
    config: o.string('config', CONFIG_FILE_NAME),
    dryRun: o.bool('dryRun', false),
    offline: o.bool('offline', false),
    noUpstream: o.bool('noUpstream', false),
    noPrune: o.bool('noPrune', false),
  };
}
