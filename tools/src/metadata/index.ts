/**
 * The one way anything in pkgnx gets a PKGBUILD directory's metadata — the graph, the generators, the AUR
 * import, fetching: sandboxed sourcing with the disk cache (extract.ts), or the committed `.SRCINFO` files,
 * as the workspace's plugin options say (`metadataSource`, `sandboxTimeoutSeconds`). The build executor does
 * not read metadata at all: the plugin hands it what the graph read, per architecture.
 */
import { readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { Srcinfo } from '../model';
import { parseSrcinfo } from '../srcinfo';
import { WORKSPACE_DATA } from '../workspace-paths';
import { extractSrcinfo, type ExtractStats } from './extract';

export type MetadataResult = { srcinfo: Srcinfo; warnings: string[]; archIndependent?: boolean } | { error: string };

export interface MetadataSettings {
  /** `pkgbuild`: source in the sandbox; `srcinfo`: read `<dir>/.SRCINFO`, never run bash */
  source: 'pkgbuild' | 'srcinfo';
  /** time limit per PKGBUILD while sourcing */
  timeoutSeconds: number;
}

export interface ReadMetadataOptions {
  /** drop cache entries of PKGBUILDs not in `dirs` (when `dirs` is the whole workspace) */
  pruneCache?: boolean;
  /** content hashes of the directories (absolute), see ExtractOptions.contentHashes */
  contentHashes?: ReadonlyMap<string, string>;
  stats?: ExtractStats;
  /** see ExtractOptions.staticReading (tests of the sandbox turn it off) */
  staticReading?: boolean;
}

/** the committed `.SRCINFO` of each directory, never executing anything */
async function readSrcinfoFiles(workspaceRoot: string, dirs: readonly string[]): Promise<Map<string, MetadataResult>> {
  const out = new Map<string, MetadataResult>();
  await Promise.all(
    dirs.map(async (dir) => {
      const file = join(resolve(workspaceRoot, dir), '.SRCINFO');
      const shown = relative(workspaceRoot, file) || file;
      try {
        out.set(dir, { srcinfo: parseSrcinfo(await readFile(file, 'utf8'), shown), warnings: [] });
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        out.set(dir, { error: err.code === 'ENOENT' ? `${shown}: not found (metadataSource "srcinfo" reads committed .SRCINFO files; run \`npx nx sync\` or makepkg --printsrcinfo > .SRCINFO)` : err.message });
      }
    }),
  );
  return new Map(dirs.map((d) => [d, out.get(d)!]));
}

/**
 * Metadata of each PKGBUILD directory (absolute or relative to the workspace) for one architecture, keyed as
 * passed in. Never throws for a bad PKGBUILD (the result holds the error, naming the file and the cause).
 */
export async function readMetadata(workspaceRoot: string, dirs: readonly string[], arch: string, settings: MetadataSettings, opts: ReadMetadataOptions = {}): Promise<Map<string, MetadataResult>> {
  if (settings.source === 'srcinfo') return readSrcinfoFiles(workspaceRoot, dirs);
  return extractSrcinfo([...dirs], {
    carch: arch,
    timeoutMs: settings.timeoutSeconds * 1000,
    cacheDir: join(workspaceRoot, WORKSPACE_DATA, 'metadata'),
    workspaceRoot,
    pruneCache: opts.pruneCache,
    contentHashes: opts.contentHashes,
    stats: opts.stats,
    staticReading: opts.staticReading,
  });
}

/**
 * Metadata of each directory for every architecture: arch -> dir -> result. A PKGBUILD is sourced for the first
 * architecture only when its metadata provably cannot depend on the architecture (arch-independence.ts) —
 * the same `.SRCINFO` then serves all of them, as it would from makepkg — and for each architecture otherwise.
 */
export async function readMetadataForArchitectures(
  workspaceRoot: string,
  dirs: readonly string[],
  archs: readonly string[],
  settings: MetadataSettings,
  opts: ReadMetadataOptions = {},
): Promise<Map<string, Map<string, MetadataResult>>> {
  const out = new Map<string, Map<string, MetadataResult>>();
  if (archs.length === 0) return out;
  if (settings.source === 'srcinfo') {
    const files = await readSrcinfoFiles(workspaceRoot, dirs);
    for (const arch of archs) out.set(arch, files);
    return out;
  }
  const extract = (list: readonly string[], arch: string, scan: boolean): Promise<Map<string, MetadataResult>> =>
    extractSrcinfo([...list], {
      carch: arch,
      scanArchIndependence: scan,
      timeoutMs: settings.timeoutSeconds * 1000,
      cacheDir: join(workspaceRoot, WORKSPACE_DATA, 'metadata'),
      workspaceRoot,
      pruneCache: opts.pruneCache,
      contentHashes: opts.contentHashes,
      stats: opts.stats,
      staticReading: opts.staticReading,
    });
  const first = await extract(dirs, archs[0], archs.length > 1);
  out.set(archs[0], first);
  const perArch = dirs.filter((d) => {
    const r = first.get(d);
    return !(r && 'srcinfo' in r && r.archIndependent);
  });
  for (const arch of archs.slice(1)) {
    const own = perArch.length ? await extract(perArch, arch, false) : new Map<string, MetadataResult>();
    out.set(arch, new Map(dirs.map((d) => [d, own.get(d) ?? first.get(d)!])));
  }
  return out;
}

