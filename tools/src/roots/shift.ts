/**
 * A build root as a build's user namespace sees it: every file's owner moved into pkgnx's uid range
 * (uid N becomes base + N), so root inside the namespace owns the root's files and can install packages
 * into a copy of it, while no file belongs to a host account. Done once per root (and again if the base
 * changes); `.pkgnx-uid-base` in the root records the base it was shifted to.
 */
import { chmodSync, lchownSync, lstatSync, opendirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAPPED_IDS } from '../sandbox/identity';

export const SHIFT_MARKER = '.pkgnx-uid-base';

/** the base a root was shifted to, 0 when it never was */
export function shiftedBase(root: string): number {
  try {
    const n = Number(readFileSync(join(root, SHIFT_MARKER), 'utf8').trim());
    return Number.isInteger(n) ? n : 0;
  } catch {
    return 0;
  }
}

/**
 * Moves the ownership of every file under `root` from `from` (0 for a root made by debootstrap or pacstrap)
 * to base `to`. chown clears set-id bits, so they are put back. Returns the number of entries changed.
 */
function shiftTree(root: string, from: number, to: number): number {
  let changed = 0;
  const move = (id: number): number => (id >= from && id < from + MAPPED_IDS ? id - from + to : id);
  const visit = (path: string): void => {
    const st = lstatSync(path);
    const uid = move(st.uid);
    const gid = move(st.gid);
    if (uid !== st.uid || gid !== st.gid) {
      lchownSync(path, uid, gid);
      if (!st.isSymbolicLink() && st.mode & 0o6000) chmodSync(path, st.mode & 0o7777);
      changed++;
    }
    if (st.isDirectory()) {
      const dir = opendirSync(path);
      try {
        for (let e = dir.readSync(); e; e = dir.readSync()) visit(join(path, e.name));
      } finally {
        dir.closeSync();
      }
    }
  };
  visit(root);
  return changed;
}

/** Shifts `root` to `base` unless it already is; the caller holds a lock on the root. */
export function ensureShifted(root: string, base: number): { changed: number; from: number } | undefined {
  const from = shiftedBase(root);
  if (from === base) return undefined;
  const changed = shiftTree(root, from, base);
  writeFileSync(join(root, SHIFT_MARKER), `${base}\n`);
  lchownSync(join(root, SHIFT_MARKER), base, base);
  return { changed, from };
}
