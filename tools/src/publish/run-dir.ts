/**
 * The layout of a run directory: what the publish tasks of one run staged, one manifest per project and
 * architecture (`<arch>/<project>.json`), committed after the run by `workspace.ts commitRun`. Kept apart from
 * workspace.ts so that the Nx plugin can find a run's directory without loading the S3 SDK. Reads the disk.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export function manifestPath(runDir: string, arch: string, project: string): string {
  return join(runDir, arch, `${project}.json`);
}

export interface StagedEntry {
  arch: string;
  project: string;
  /** when its manifest was written (ms since the epoch) */
  writtenMs: number;
}

/** every manifest of a run directory; empty when the directory is missing or unreadable */
export function listStaged(runDir: string): StagedEntry[] {
  const out: StagedEntry[] = [];
  let arches: string[] = [];
  try {
    arches = readdirSync(runDir);
  } catch {
    return out;
  }
  for (const arch of arches) {
    let files: string[] = [];
    try {
      files = readdirSync(join(runDir, arch));
    } catch {
      continue;
    }
    for (const f of files.filter((n) => n.endsWith('.json')).sort()) {
      try {
        out.push({ arch, project: f.slice(0, -'.json'.length), writtenMs: statSync(join(runDir, arch, f)).mtimeMs });
      } catch {
        // removed meanwhile
      }
    }
  }
  return out;
}
