/** Decompressors for the formats pacman databases and packages use. */
import { gunzipSync as zlibGunzip } from 'node:zlib';
import { spawn, spawnSync } from 'node:child_process';

export function gunzipSync(buf: Uint8Array): Uint8Array {
  return zlibGunzip(buf);
}

/** Node has no bzip2; databases in bzip2 are rare and old. Delegate to the bzip2 tool. */
export function bunzip2Sync(buf: Uint8Array): Uint8Array {
  const r = spawnSync('bzip2', ['-dc'], { input: buf, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`bzip2 -dc failed: ${r.stderr?.toString() || r.error?.message}`);
  return r.stdout;
}

/** Node has no xz either; the xz tool is part of every Arch and Debian base system. */
export function xzDecompress(buf: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const child = spawn('xz', ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`xz -dc failed: ${Buffer.concat(err).toString()}`)),
    );
    child.stdin.end(buf);
  });
}
