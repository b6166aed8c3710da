/**
 * `nx g ./tools:official <pkgbase>`: an official package at the version the state repository (exact
 * tag + commit) or the upstream database names, through the fetch module.
 */
import { logger, type GeneratorCallback, type Tree } from '@nx/devkit';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { withTargetVersions, type FetchOptions, type FetchRequest } from '../../src/fetch';
import { loadUpstreamConfig, lookupTargetVersions, type UpstreamConfig } from '../../src/upstream';
import { fetchIntoTree } from '../aur/import-checkouts';

export interface OfficialGeneratorSchema {
  name: string;
  /** `--version` is Nx's own flag */
  targetVersion?: string;
  useLatest?: boolean;
  urlTemplate?: string;
  carch?: string;
  overlaysDir?: string;
  config?: string;
  offline?: boolean;
  directory?: string;
}

export default async function officialGenerator(tree: Tree, schema: OfficialGeneratorSchema): Promise<GeneratorCallback> {
  const directory = schema.directory ?? 'pkgbuilds';
  const names = schema.name.split(/[\s,]+/).filter(Boolean);
  if (schema.targetVersion && names.length > 1) throw new Error('--targetVersion applies to one package only');
  for (const n of names) if (tree.exists(`${directory}/${n}`)) throw new Error(`${directory}/${n} already exists in the workspace (update it with the fetch verb)`);

  const configFile = resolve(tree.root, schema.config ?? 'pkgnx.config.json');
  const config: UpstreamConfig | undefined = existsSync(configFile) ? loadUpstreamConfig(configFile) : undefined;
  let requests: FetchRequest[] = names.map((pkgbase) => ({
    pkgbase,
    source: 'official' as const,
    ...(schema.targetVersion ? { version: schema.targetVersion } : {}),
    ...(schema.useLatest ? { useLatest: true } : {}),
  }));
  if (requests.some((r) => !r.version && !r.useLatest)) {
    if (!config) throw new Error(`no version given and no ${configFile} to look it up (give --targetVersion or --useLatest)`);
    const unversioned = requests.filter((r) => !r.version && !r.useLatest).map((r) => r.pkgbase);
    requests = withTargetVersions(requests, await lookupTargetVersions(config, unversioned, { offline: schema.offline === true, warn: (m) => logger.warn(m) }));
    const unknown = requests.filter((r) => !r.version && !r.useLatest).map((r) => r.pkgbase);
    if (unknown.length) throw new Error(`not in the state repository or the upstream databases: ${unknown.join(', ')}`);
  }

  const options: Omit<FetchOptions, 'pkgbuildsDir' | 'dryRun'> = { log: (l) => logger.info(l), overlaysDir: resolve(tree.root, schema.overlaysDir ?? 'overlays') };
  const template = schema.urlTemplate ?? config?.officialUrlTemplate;
  if (template) options.officialUrlTemplate = template;
  if (config?.overrides) options.overrides = config.overrides;
  const carch = schema.carch ?? config?.targetArch;
  if (carch) options.carch = carch;
  const { callback } = await fetchIntoTree(tree, directory, requests, options);
  return callback;
}
