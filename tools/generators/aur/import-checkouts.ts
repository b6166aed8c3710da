/**
 * The generators' "fallible work first" step: packages are fetched into a temp directory (beside
 * pkgbuilds/, same filesystem) with the fetch module; only when every fetch succeeded are their files
 * written into the Tree (so --dry-run lists them and a failure writes nothing). The checkouts' git
 * dirs are moved to `.pkgnx/git/<pkgbase>.git` (outside the package directory, as the fetch verb
 * keeps them) by the callback Nx runs after flushing the Tree; the temp directory is removed then, or
 * at process exit (dry run).
 */
import type { GeneratorCallback, Tree } from '@nx/devkit';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { checkoutGitDir, fetchPackages, tempEntryName, TEMP_DIR_NAME, type FetchOptions, type FetchRequest } from '../../src/fetch';

let tempCounter = 0;

/**
 * `<parent>/generator.<pid>.<n>`: the naming fetch's stale-temp cleanup understands, so that a fetch
 * run (in this process or another) never removes a running generator's directory.
 */
function makeGeneratorTemp(parent: string): string {
  for (;;) {
    const dir = join(parent, tempEntryName('generator', tempCounter++));
    try {
      mkdirSync(dir);
      return dir;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

export interface ImportResult {
  callback: GeneratorCallback;
  imported: string[];
}

function walk(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) {
      if (r !== '.git') out.push(...walk(dir, r));
    } else if (e.isFile()) out.push(r);
  }
  return out;
}

export async function fetchIntoTree(
  tree: Tree,
  directory: string,
  requests: FetchRequest[],
  options: Omit<FetchOptions, 'pkgbuildsDir' | 'dryRun'>,
): Promise<ImportResult> {
  const parent = join(tree.root, TEMP_DIR_NAME);
  mkdirSync(parent, { recursive: true });
  const tmp = makeGeneratorTemp(parent);
  const cleanup = (): void => {
    rmSync(tmp, { recursive: true, force: true });
    try {
      if (readdirSync(parent).length === 0) rmSync(parent, { recursive: true, force: true });
    } catch {
      // already gone
    }
  };
  process.once('exit', cleanup);
  const pkgbuildsDir = join(tmp, 'pkgbuilds');
  const gitDirsDir = join(tmp, 'git');
  try {
    const results = await fetchPackages(requests, { ...options, pkgbuildsDir, gitDirsDir, tempDir: join(tmp, 'clones') });
    const failed = results.filter((r) => r.error);
    if (failed.length) throw new Error(`nothing was written:\n${failed.map((r) => `  - ${r.error}`).join('\n')}`);
  } catch (e) {
    cleanup();
    throw e;
  }
  const imported: string[] = [];
  for (const req of requests) {
    const src = join(pkgbuildsDir, req.pkgbase);
    for (const rel of walk(src)) {
      const full = join(src, rel);
      const mode = statSync(full).mode & 0o777;
      tree.write(`${directory}/${req.pkgbase}/${rel}`, readFileSync(full), mode & 0o111 ? { mode } : undefined);
    }
    imported.push(req.pkgbase);
  }
  // local packages have no git dir; every fetched one must still have its own
  const withGit = requests.filter((r) => (r.source ?? 'official') !== 'local').map((r) => r.pkgbase);
  const callback: GeneratorCallback = () => {
    const missing = withGit.filter((pkgbase) => !existsSync(join(gitDirsDir, `${pkgbase}.git`)));
    if (missing.length) {
      cleanup();
      throw new Error(
        `the fetched git dir(s) of ${missing.join(', ')} disappeared from ${gitDirsDir} before they could be moved to .pkgnx/git ` +
          `(was the temp directory removed?); the package files were written without their git history — delete ` +
          `${missing.map((p) => `${directory}/${p}`).join(', ')} and run the generator again`,
      );
    }
    for (const pkgbase of withGit) {
      const gitDir = join(gitDirsDir, `${pkgbase}.git`);
      // where the fetch verb looks for it (`.pkgnx/git` beside the package directory's parent)
      const dest = checkoutGitDir({ pkgbuildsDir: join(tree.root, directory) }, pkgbase);
      mkdirSync(dirname(dest), { recursive: true });
      // the package directory was just created, so a git dir already there is stale
      rmSync(dest, { recursive: true, force: true });
      renameSync(gitDir, dest);
    }
    cleanup();
  };
  return { callback, imported };
}
