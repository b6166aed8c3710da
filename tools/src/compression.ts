/** Decompressors for the formats pacman databases and packages use. */
import { gunzipSync as zlibGunzip } from 'node:zlib';
import { run, runSync } from './process/run';

export function gunzipSync(buf: Uint8Array): Uint8Array {
  return zlibGunzip(buf);
}

/** Node has no bzip2; databases in bzip2 are rare and old. Delegate to the bzip2 tool. */
export function bunzip2Sync(buf: Uint8Array): Uint8Array {
  const r = runSync('bzip2', ['-dc'], { input: Buffer.from(buf), binary: true });
  if (!r.ok) throw new Error(`bzip2 -dc failed: ${r.stderr}`);
  return r.bytes;
}

/** Node has no xz either; the xz tool is part of every Arch and Debian base system. */
export async function xzDecompress(buf: Uint8Array): Promise<Uint8Array> {
  const r = await run('xz', ['-dc'], { input: Buffer.from(buf), binary: true });
  if (!r.ok) throw new Error(`xz -dc failed: ${r.stderr}`);
  return r.bytes;
}
