/**
 * Which version of a file this is, without reading it: pkgnx's cache files are replaced whole (a temporary file
 * renamed over them, so a new inode), so an equal identity is the same content. A long-lived process (the Nx
 * daemon's plugin worker) keeps what it parsed and parses again only when another process replaced the file.
 * The change time too: a file edited in place to the same size with its mtime put back (cp -p, rsync -t
 * --inplace, touch -r) keeps inode, size and mtime, but no one can set the ctime (the .SRCINFO sync relies on it).
 */
import { statSync } from 'node:fs';

export function fileIdentity(file: string): string | undefined {
  try {
    const st = statSync(file);
    return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  } catch {
    return undefined;
  }
}
