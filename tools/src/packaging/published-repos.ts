/**
 * The published repositories a build may install dependencies from (build option `publishedRepos`): where
 * pacman reads them (pkgnx.config.json "publish": publicUrl, else the destination itself) and what their
 * databases name, so that a cached package file of the same name with other contents is evicted before
 * pacman trusts it. The databases are read the way pacman reads them, from the client URL (no S3
 * credentials), through the one database fetcher (cached with conditional GET in .pkgnx/cache/published/).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_FILE_NAME } from '../config-file';
import { clientBaseUrl, loadPublishConfig } from '../publish/config';
import { DatabaseFetchError, fetchRepositoryDatabase } from '../upstream/fetch-db';
import type { BuildRepository } from './backends/backend';

export interface RepositoryPackages {
  repo: BuildRepository;
  /** file name -> sha256 of every package its database names */
  packages: Map<string, string>;
}

/**
 * The published repositories `names` for `arch`, in that order. A repository with no database yet (never
 * published: 404, a missing file) is left out with a log line; any other failure to read it is an error
 * naming the URL.
 */
export async function publishedRepositories(workspaceRoot: string, arch: string, names: readonly string[], log: (line: string) => void): Promise<RepositoryPackages[]> {
  if (names.length === 0) return [];
  const configFile = join(workspaceRoot, CONFIG_FILE_NAME);
  const base = clientBaseUrl(loadPublishConfig(configFile));
  const out: RepositoryPackages[] = [];
  for (const name of names) {
    const server = `${base}/${name}/os/${arch}`;
    const local = server.startsWith('file://') ? fileURLToPath(server) : undefined;
    const source = local ? { name, path: join(local, `${name}.db`) } : { name, url: `${server}/${name}.db` };
    if (local && !existsSync(source.path as string)) {
      log(`==> pkgnx: published repository ${name}: no database at ${source.path} (nothing published yet): not used`);
      continue;
    }
    let packages: Map<string, string>;
    try {
      const { database } = await fetchRepositoryDatabase(source, { cacheDir: join(workspaceRoot, '.pkgnx', 'cache', 'published', arch), timeoutMs: 60_000 });
      packages = new Map(database.packages.map((p) => [p.filename, p.sha256sum ?? '']));
    } catch (e) {
      // a repository nothing was published to yet answers 404 (403 where anonymous listing is not allowed)
      if (e instanceof DatabaseFetchError && /HTTP (403|404)\b/.test(e.message)) {
        log(`==> pkgnx: published repository ${name}: ${e.message} (nothing published yet?): not used`);
        continue;
      }
      throw new Error(`build option "publishedRepos": ${name} (${configFile}): ${(e as Error).message}`);
    }
    out.push({
      repo: {
        name,
        server,
        // its packages are checked against the database's checksums; the build root has no keyring for the
        // publisher's key (the workspace repository is trusted the same way): docs/building.md
        sigLevel: 'Never',
        comment: `published repository (build option "publishedRepos", ${CONFIG_FILE_NAME} "publish")`,
        ...(local ? { bind: local } : {}),
      },
      packages,
    });
  }
  return out;
}
