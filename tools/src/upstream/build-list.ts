/**
 * packages_to_build.json: the predecessor's document (`_command`, `_timestamp`, `packages`), written
 * atomically. An empty list deletes the file, as the predecessor did (its daemon relies on that).
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { BuildEntry } from './compare';
import type { CycleGroup } from './order';
import { writeFileAtomic } from './fetch-db';

export interface BuildListDocument {
  _command: string;
  _timestamp: string;
  packages: BuildEntry[];
  cycles: CycleGroup[];
}

export function buildListDocument(entries: BuildEntry[], cycles: CycleGroup[], command: string, now = new Date()): BuildListDocument {
  return { _command: command, _timestamp: now.toISOString(), packages: entries, cycles };
}

/** Write (or, for an empty list, remove) the build list; returns what happened. */
export function writeBuildList(file: string, doc: BuildListDocument): 'written' | 'removed' | 'unchanged' {
  if (doc.packages.length === 0) {
    if (!existsSync(file)) return 'unchanged';
    rmSync(file);
    return 'removed';
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileAtomic(file, `${JSON.stringify(doc, null, 2)}\n`);
  return 'written';
}
