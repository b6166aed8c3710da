import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { logPathFor, newestLog, rotateLogs } from '../../tools/src/packaging/logs';
import { tempDir } from '../helpers/env';

test('logPathFor: logs/<pkgbase>/<YYYYmmdd-HHMMSS>-<arch>.log in UTC', () => {
  assert.equal(
    logPathFor('/w', 'python-requests', 'aarch64', new Date(Date.UTC(2026, 0, 2, 3, 4, 5))),
    '/w/logs/python-requests/20260102-030405-aarch64.log',
  );
  assert.throws(() => logPathFor('/w', '../etc', 'x86_64', new Date()), /invalid pkgbase/);
});

function seed(root: string, pkgbase: string, stamps: string[]): string {
  const dir = join(root, 'logs', pkgbase);
  mkdirSync(dir, { recursive: true });
  for (const s of stamps) writeFileSync(join(dir, `${s}-x86_64.log`), s);
  return dir;
}

test('rotateLogs keeps the newest N of that package only: rotating python never touches python-requests', () => {
  const root = tempDir('pkgnx-logs-');
  const stamps = ['20260101-000001', '20260101-000002', '20260101-000003', '20260101-000004', '20260101-000005'];
  const python = seed(root, 'python', stamps);
  const requests = seed(root, 'python-requests', stamps);
  mkdirSync(join(python, 'makepkg')); // makepkg's own LOGDEST: a directory, never rotated
  writeFileSync(join(python, 'notes.txt'), 'not ours');
  // an old name with a fresh mtime is still old: the timestamp in the name wins
  const now = new Date();
  utimesSync(join(python, '20260101-000001-x86_64.log'), now, now);
  const removed = rotateLogs(python, 3);
  assert.equal(removed.length, 2);
  assert.deepEqual(readdirSync(python).sort(), [
    '20260101-000003-x86_64.log', '20260101-000004-x86_64.log', '20260101-000005-x86_64.log', 'makepkg', 'notes.txt',
  ]);
  assert.equal(readdirSync(requests).length, 5, 'python-requests untouched');
  assert.deepEqual(rotateLogs(join(root, 'logs', 'missing'), 3), []);
});

test('newestLog picks the newest file, per architecture when asked', () => {
  const root = tempDir('pkgnx-logs-');
  const dir = seed(root, 'foo', ['20260101-000001', '20260101-000003']);
  writeFileSync(join(dir, '20260101-000002-aarch64.log'), '');
  assert.equal(newestLog(dir), join(dir, '20260101-000003-x86_64.log'));
  assert.equal(newestLog(dir, 'aarch64'), join(dir, '20260101-000002-aarch64.log'));
  // never another architecture's log
  assert.equal(newestLog(dir, 'riscv64'), undefined);
  assert.equal(newestLog(join(root, 'none')), undefined);
});

test('newestLog since a time: only a log of this run, never an older one', () => {
  const root = tempDir('pkgnx-logs-');
  const dir = join(root, 'logs', 'foo');
  mkdirSync(dir, { recursive: true });
  const old = join(dir, '20260101-000001-x86_64.log');
  writeFileSync(old, '');
  utimesSync(old, new Date(Date.UTC(2026, 0, 1, 0, 0, 1)), new Date(Date.UTC(2026, 0, 1, 0, 0, 1)));
  const runStart = Date.UTC(2026, 0, 2, 10, 0, 0, 500);
  assert.equal(newestLog(dir, 'x86_64', runStart), undefined);
  // written in this run: the name is the build's start (one-second resolution), the mtime after the run started
  const current = join(dir, '20260102-100000-x86_64.log');
  writeFileSync(current, '');
  utimesSync(current, new Date(runStart + 2000), new Date(runStart + 2000));
  assert.equal(newestLog(dir, 'x86_64', runStart), current);
  assert.equal(newestLog(dir, undefined, runStart), current);
});
