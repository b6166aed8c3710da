// The watch loop's scheduling (watch/scheduler.ts): debounce, one build at a time, saves during a build queued
// for the next one, the status line's words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RebuildScheduler, type BuildReport, type WatchStatus } from '../../tools/src/watch/scheduler';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatStatus, isEditorNoise, packageFiles, reportFromSummary } from '../../tools/src/watch/watch';
import { tempDir } from '../helpers/env';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('saves within the debounce make one build; saves during a build make exactly one more, after it', async () => {
  const builds: string[][] = [];
  let release: (() => void) | undefined;
  let running = 0;
  let overlap = false;
  const statuses: WatchStatus[] = [];
  const s = new RebuildScheduler(
    async (files) => {
      builds.push(files);
      running++;
      if (running > 1) overlap = true;
      await new Promise<void>((r) => (release = r));
      running--;
      return { ok: true, text: `built ${files.length}` };
    },
    (st) => statuses.push(st),
    50,
  );
  s.changed('pkgbuilds/a/PKGBUILD');
  await sleep(20);
  s.changed('pkgbuilds/a/PKGBUILD');
  s.changed('pkgbuilds/b/PKGBUILD');
  assert.equal(builds.length, 0, 'debounced');
  await sleep(120);
  assert.deepEqual(builds, [['pkgbuilds/a/PKGBUILD', 'pkgbuilds/b/PKGBUILD']]);
  assert.equal(s.status().phase, 'building');
  s.changed('pkgbuilds/c/PKGBUILD');
  s.changed('pkgbuilds/d/PKGBUILD');
  await sleep(120);
  assert.equal(builds.length, 1, 'no second build while one runs');
  assert.match(formatStatus(s.status()), /^building \(pkgbuilds\/a\/PKGBUILD, pkgbuilds\/b\/PKGBUILD\) \| queued: pkgbuilds\/c\/PKGBUILD, pkgbuilds\/d\/PKGBUILD$/);
  release?.();
  await sleep(20);
  assert.match(formatStatus(s.status()), /^queued: .* \| done: built 2$/);
  await sleep(120);
  assert.deepEqual(builds[1], ['pkgbuilds/c/PKGBUILD', 'pkgbuilds/d/PKGBUILD']);
  release?.();
  await sleep(20);
  assert.equal(formatStatus(s.status()), 'watching pkgbuilds/ | done: built 2');
  assert.equal(overlap, false);
  assert.deepEqual([...new Set(statuses.map((x) => x.phase))].sort(), ['building', 'idle', 'queued']);
});

test('stop waits for the running build and starts no other; a build that throws is reported as failed', async () => {
  let release: (() => void) | undefined;
  const builds: string[][] = [];
  const s = new RebuildScheduler(
    async (files): Promise<BuildReport> => {
      builds.push(files);
      if (files[0] === 'boom') throw new Error('nx missing');
      await new Promise<void>((r) => (release = r));
      return { ok: false, text: 'stopped' };
    },
    () => undefined,
    10,
  );
  s.changed('boom');
  await sleep(50);
  assert.match(formatStatus(s.status()), /failed: the build could not run: nx missing/);
  s.changed('x');
  await sleep(50);
  s.changed('y');
  let stopped = false;
  const stopping = s.stop().then(() => (stopped = true));
  await sleep(50);
  assert.equal(stopped, false, 'waits for the running build');
  release?.();
  await stopping;
  await sleep(50);
  assert.deepEqual(builds, [['boom'], ['x']]);
});

test('status words from the run summary; editor noise is not a save', () => {
  const summary = { counts: { total: 3, built: 1, restored: 1, failed: 1, skipped: 0, stopped: 0 }, built: [{ project: 'a', target: 'build', configuration: 'x86_64' }], restored: [{ project: 'b', target: 'build', configuration: 'x86_64', from: 'local-cache' as const }], failed: [{ project: 'c', target: 'build', configuration: 'x86_64', log: 'logs/c/x.log' }], skipped: [], stopped: [] };
  assert.deepEqual(reportFromSummary(summary, 1), { ok: false, text: 'built a:x86_64; restored b:x86_64; failed c:x86_64 (log: logs/c/x.log)' });
  assert.deepEqual(reportFromSummary(undefined, 0), { ok: true, text: 'nothing to build' });
  for (const n of ['.PKGBUILD.swp', 'PKGBUILD~', '.#PKGBUILD', '4913']) assert.equal(isEditorNoise(n), true, n);
  for (const n of ['PKGBUILD', 'fix.patch', '.SRCINFO']) assert.equal(isEditorNoise(n), false, n);
});

test('saved files of no package directory (stray, or of a deleted one) are left out: Nx would count them as touching every project', () => {
  const root = tempDir('pkgnx-watch-unit-');
  try {
    mkdirSync(join(root, 'pkgbuilds/foo/patches'), { recursive: true });
    writeFileSync(join(root, 'pkgbuilds/foo/PKGBUILD'), 'pkgname=foo\n');
    assert.deepEqual(packageFiles(root, ['pkgbuilds/foo/PKGBUILD', 'pkgbuilds/foo/patches/a.patch', 'pkgbuilds/README.md', 'pkgbuilds/gone/PKGBUILD']), {
      owned: ['pkgbuilds/foo/PKGBUILD', 'pkgbuilds/foo/patches/a.patch'],
      ignored: ['pkgbuilds/README.md', 'pkgbuilds/gone/PKGBUILD'],
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
