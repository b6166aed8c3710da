// fileIdentity stands for a file's content without reading it (the cache files, the .SRCINFO sync's memory of a
// file found in sync): any write must change it, even one that keeps inode, size and mtime.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileIdentity } from '../../tools/src/file-identity';

test('fileIdentity changes on a same-size edit in place whose mtime is put back (cp -p, touch -r)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pkgnx-identity-'));
  try {
    const file = join(dir, '.SRCINFO');
    writeFileSync(file, 'pkgver = 1.0\n');
    // whole seconds, which utimes sets back exactly
    utimesSync(file, 1_700_000_000, 1_700_000_000);
    const before = statSync(file);
    const identity = fileIdentity(file);
    // the change time has a clock tick to move on
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(file, 'pkgver = 7.7\n');
    utimesSync(file, 1_700_000_000, 1_700_000_000);
    const after = statSync(file);
    assert.deepEqual([after.ino, after.size, after.mtimeMs], [before.ino, before.size, before.mtimeMs], 'the edit kept inode, size and mtime');
    assert.notEqual(fileIdentity(file), identity);
    assert.equal(fileIdentity(join(dir, 'missing')), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
