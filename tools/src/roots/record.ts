/**
 * `.pkgnx-root.json`: what pkgnx did to make and keep a build root, written into the root itself so it
 * travels with it: where its packages came from (pacman repositories and their signature levels, or a
 * signed tarball and the key that verified it), which keyring sources were imported (hashed, so a later
 * change shows as a stale keyring), and when it was last updated. Written to a temporary name and renamed.
 */
import { lchownSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT_RECORD = '.pkgnx-root.json';

export interface KeyringSource {
  /** `distribution`: a keyring package's files (archlinux.gpg ...); `key`: a key file from keys/pacman/ */
  kind: 'distribution' | 'key' | 'root';
  /** the keyring name (archlinux) or the key file, as the user would name it */
  name: string;
  /** the file that was imported, and its sha256 then */
  file: string;
  sha256: string;
}

export interface RootRecord {
  arch: string;
  created: string;
  updated?: string;
  source:
    | { kind: 'pacman'; pacmanConf: string; packages: string[]; repositories: { name: string; sigLevel: string }[] }
    | { kind: 'tarball'; tarball: string; sha256: string; signature: string; signer: string; key: string };
  keyring: KeyringSource[];
}

export function readRootRecord(root: string): RootRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(root, ROOT_RECORD), 'utf8')) as RootRecord;
  } catch {
    return undefined;
  }
}

/** written as the given owner (the root's uid range) so the root's files stay all in that range */
export function writeRootRecord(root: string, record: RootRecord, owner?: number): void {
  const file = join(root, ROOT_RECORD);
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`);
  if (owner !== undefined) lchownSync(tmp, owner, owner);
  renameSync(tmp, file);
}
