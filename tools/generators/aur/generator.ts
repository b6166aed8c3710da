/**
 * `nx g ./tools:aur <name>`: import an AUR package and, recursively (RPC v5 info), the AUR packages it
 * needs, leaving out whatever the workspace or the target repositories already provide.
 */
import { logger, type GeneratorCallback, type Tree } from '@nx/devkit';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { firstSatisfier, readWorkspaceProvisions, repositorySatisfier, resolveAurDependencies, workspaceSatisfier, type ExternalSatisfier } from '../../src/aur';
import { workspaceMetadataSettings } from '../../src/graph/cached-graph';
import { readSyncDatabase } from '../../src/syncdb';
import { RepoSet } from '../../src/repo-set';
import { CONFIG_FILE_NAME, loadUpstreamConfig } from '../../src/upstream';
import { fetchIntoTree } from './import-checkouts';

export interface AurGeneratorSchema {
  name: string;
  rpcUrl?: string;
  gitUrlTemplate?: string;
  repoDb?: string[];
  carch?: string;
  noDeps?: boolean;
  noCheck?: boolean;
  allowUnresolved?: boolean;
  directory?: string;
}

export function defaultCarch(root: string): string {
  const file = join(root, CONFIG_FILE_NAME);
  if (!existsSync(file)) return 'x86_64';
  try {
    return loadUpstreamConfig(file).targetArch;
  } catch {
    return 'x86_64';
  }
}

async function repoSatisfier(root: string, dbs: string[]): Promise<ExternalSatisfier | undefined> {
  if (!dbs.length) return undefined;
  return repositorySatisfier(new RepoSet(await Promise.all(dbs.map(async (f) => ({ database: await readSyncDatabase(resolve(root, f)) })))));
}

export default async function aurGenerator(tree: Tree, schema: AurGeneratorSchema): Promise<GeneratorCallback> {
  const directory = schema.directory ?? 'pkgbuilds';
  const names = schema.name.split(/[\s,]+/).filter(Boolean);
  const carch = schema.carch ?? defaultCarch(tree.root);
  for (const n of names) if (tree.exists(`${directory}/${n}`)) throw new Error(`${directory}/${n} already exists in the workspace`);

  const packagesDir = join(tree.root, directory);
  const dirs = existsSync(packagesDir) ? readdirSync(packagesDir).map((n) => join(packagesDir, n)).filter((d) => existsSync(join(d, 'PKGBUILD'))) : [];
  const workspace = workspaceSatisfier(await readWorkspaceProvisions(tree.root, dirs, carch, workspaceMetadataSettings(tree.root)));
  const satisfiedBy = firstSatisfier(workspace, await repoSatisfier(tree.root, schema.repoDb ?? []));
  const resolved = await resolveAurDependencies(names, {
    baseUrl: schema.rpcUrl ?? 'https://aur.archlinux.org',
    satisfiedBy,
    ...(schema.noCheck ? { checkDepends: false } : {}),
    ...(schema.noDeps ? { maxRounds: 0 } : {}),
  });
  const notFound = resolved.unresolved.filter((u) => u.requiredBy.includes('(command line)'));
  if (notFound.length) throw new Error(`not in the AUR: ${notFound.map((u) => u.dep).join(', ')}`);
  if (resolved.unresolved.length && !schema.allowUnresolved && !schema.noDeps) {
    throw new Error(
      `dependencies satisfied nowhere (workspace, target repositories, AUR); nothing was written (--allowUnresolved to import anyway):\n${resolved.unresolved
        .map((u) => `  - ${u.dep} (needed by ${u.requiredBy.join(', ')}): ${u.reason}`)
        .join('\n')}`,
    );
  }
  for (const c of resolved.cycles) logger.warn(`dependency cycle among AUR packages: ${c.join(' -> ')}`);
  const bases = resolved.bases.filter((b) => !tree.exists(`${directory}/${b.pkgbase}`));
  logger.info(`AUR packages in dependency order: ${bases.map((b) => `${b.pkgbase} ${b.version}`).join(', ')}`);
  for (const [dep, by] of resolved.external) logger.info(`  ${dep}: ${by}`);

  const { callback } = await fetchIntoTree(
    tree,
    directory,
    bases.map((b) => ({ pkgbase: b.pkgbase, source: 'aur' as const })),
    { ...(schema.gitUrlTemplate ? { aurUrlTemplate: schema.gitUrlTemplate } : {}), log: (l) => logger.info(l) },
  );
  return callback;
}
