/**
 * What the publish, promote and prune verbs share: the configuration file and workspace root, the
 * session, and the packages of projects. (The upstream lookup and the report texts are the library's,
 * shared with the Nx publish target: publish/workspace.ts, publish/report.ts.)
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { listPackageFiles } from '../packaging/workspace-repo';
import { openSession, type PublishConfig, type Session } from '../publish';
import { ARCH_NAME } from '../publish/layout';
import { CONFIG_FILE_NAME } from '../config-file';
import { UsageError } from './support';

export function configPath(flag: string | undefined): string {
  return resolve(flag ?? CONFIG_FILE_NAME);
}

export function checkArch(arch: string | undefined): string {
  if (!arch) throw new UsageError('--arch is required (the architecture to publish, e.g. x86_64)');
  if (!ARCH_NAME.test(arch)) throw new UsageError(`--arch: invalid architecture '${arch}'`);
  return arch;
}

export async function sessionFor(config: PublishConfig, dryRun: boolean, quiet: boolean): Promise<Session> {
  return openSession(config, { dryRun, log: quiet ? () => undefined : (line) => process.stderr.write(`${line}\n`) });
}

/** The package files of projects in `dist/<arch>/<project>/` (the workspace root is the config file's directory). */
export async function projectPackages(configFile: string, arch: string, projects: string[] | 'all'): Promise<{ file: string; project: string }[]> {
  const dist = join(dirname(configFile), 'dist', arch);
  let names: string[];
  if (projects === 'all') {
    if (!existsSync(dist)) throw new UsageError(`${dist}: no build outputs for ${arch} (build first: npx nx run-many -t build -c ${arch})`);
    names = readdirSync(dist).filter((n) => n !== 'repo' && !n.startsWith('.') && statSync(join(dist, n)).isDirectory()).sort();
  } else names = projects;
  const out: { file: string; project: string }[] = [];
  for (const project of names) {
    const files = await listPackageFiles(join(dist, project));
    if (files.length === 0) {
      if (projects === 'all') continue;
      throw new UsageError(`${project}: no package files in ${join(dist, project)} (build it first: npx nx run ${project}:build -c ${arch})`);
    }
    for (const file of files) out.push({ file, project });
  }
  return out;
}
