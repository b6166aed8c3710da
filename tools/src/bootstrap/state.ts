/**
 * A bootstrap run's progress: which entries of the plan (stage and pkgbase) are built, written after each
 * build to a temporary name and renamed, so an interrupt (SIGINT, a crash) leaves the last complete state
 * and a rerun resumes at the first entry not in it — in whatever stage that is (the predecessor's
 * --continue could not resume after stage 1).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface DoneEntry {
  stage: string;
  pkgbase: string;
  at: string;
  /** the package files it made */
  packages: string[];
}

export interface BootstrapState {
  plan: string;
  planSha256: string;
  arch: string;
  done: DoneEntry[];
}

export function readState(file: string): BootstrapState | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as BootstrapState;
  } catch (e) {
    throw new Error(`${file}: unreadable bootstrap progress (${(e as Error).message}); remove it, or run with --restart`);
  }
}

export function writeState(file: string, state: BootstrapState): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, file);
}

export function removeState(file: string): void {
  rmSync(file, { force: true });
}

export const entryKey = (stage: string, pkgbase: string): string => `${stage}/${pkgbase}`;
