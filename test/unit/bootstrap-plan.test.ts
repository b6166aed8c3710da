/**
 * The bootstrap plan (loading, errors naming file and key, --stage/--start-from selection), the run
 * lock's stale rule, and the root tarball's entry checks: the pure parts of bootstrap/ and roots/tarball.ts.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPlan, selectEntries, SelectionError } from '../../tools/src/bootstrap/plan';
import { staleReason, takeRunLock, LockBusyError } from '../../tools/src/bootstrap/lock';
import { unsafeEntries } from '../../tools/src/roots/tarball';
import { tempDir } from '../helpers/env';

const dir = tempDir('pkgnx-plan-');
after(() => rmSync(dir, { recursive: true, force: true }));

function plan(body: unknown, name = 'p.json'): string {
  const f = join(dir, name);
  writeFileSync(f, typeof body === 'string' ? body : JSON.stringify(body));
  return f;
}

const TOOLCHAIN = {
  stages: [
    { name: 'stage1', nocheck: true, pkgbases: ['linux-api-headers', 'glibc', 'binutils', 'gcc', 'gmp'] },
    { name: 'stage2', pkgbases: ['glibc', 'binutils', 'gcc', 'libtool'] },
  ],
};
const key = (e: { stage: string; pkgbase: string }): string => `${e.stage}/${e.pkgbase}`;

describe('bootstrap plan', () => {
  test('the committed toolchain plan loads: the predecessor\'s two stages', () => {
    const p = loadPlan(join(__dirname, '..', '..', 'bootstrap', 'toolchain.json'));
    assert.deepEqual(p.stages.map((s) => s.pkgbases.length), [8, 5]);
    assert.equal(p.publishRepo, 'core-testing');
  });

  test('bad plans: errors name the file and the key', () => {
    assert.throws(() => loadPlan(plan('{', 'bad.json')), /bad\.json.*invalid JSON/);
    assert.throws(() => loadPlan(plan({ stages: [{ name: 's', pkgbases: ['a', 'a'] }] }, 'twice.json')), /twice\.json.*pkgbases.*"a" is listed twice in stage s/);
    assert.throws(() => loadPlan(plan({ stages: [{ name: 's', pkgbases: ['a'] }, { name: 's', pkgbases: ['b'] }] }, 'dup.json')), /dup\.json.*two stages are named "s"/);
    assert.throws(() => loadPlan(plan({ stages: [], extra: 1 }, 'unknown.json')), /unknown\.json.*extra/);
  });

  test('--start-from skips the entries before it and only those; it never spills into another stage', () => {
    const p = loadPlan(plan(TOOLCHAIN));
    const a = selectEntries(p, { startFrom: 'stage2/binutils' });
    assert.deepEqual(a.entries.map(key), ['stage2/binutils', 'stage2/gcc', 'stage2/libtool']);
    assert.deepEqual(a.skipped.map(key), ['stage1/linux-api-headers', 'stage1/glibc', 'stage1/binutils', 'stage1/gcc', 'stage1/gmp', 'stage2/glibc']);
    const b = selectEntries(p, { startFrom: 'gmp' });
    assert.deepEqual(b.skipped.map(key), ['stage1/linux-api-headers', 'stage1/glibc', 'stage1/binutils', 'stage1/gcc']);
    assert.equal(b.entries.length, 5, 'gmp and all of stage 2');
    const c = selectEntries(p, { stage: 'stage1', startFrom: 'gcc' });
    assert.deepEqual(c.entries.map(key), ['stage1/gcc', 'stage1/gmp'], '--stage keeps it inside stage 1');
    const d = selectEntries(p, { stage: '2' });
    assert.deepEqual(d.entries.map(key), ['stage2/glibc', 'stage2/binutils', 'stage2/gcc', 'stage2/libtool']);
    assert.throws(() => selectEntries(p, { startFrom: 'gcc' }), (e: Error) => e instanceof SelectionError && /gcc is in 2 stages \(stage1, stage2\)/.test(e.message));
    assert.throws(() => selectEntries(p, { stage: 'stage2', startFrom: 'gmp' }), /gmp is not in stage stage2/);
    assert.throws(() => selectEntries(p, { stage: 'stage3' }), /no stage "stage3".*1=stage1, 2=stage2/);
  });
});

describe('bootstrap run lock', () => {
  test('stale rule: a dead pid of this host is stale, a live one is not, another host\'s never by itself', () => {
    const now = new Date().toISOString();
    assert.match(staleReason({ pid: 2 ** 22 + 11, host: hostname(), startedAt: now, command: 'x' }) ?? '', /not running/);
    assert.equal(staleReason({ pid: process.pid, host: hostname(), startedAt: now, command: 'x' }), undefined);
    assert.match(staleReason({ pid: process.pid, host: hostname(), startedAt: '2000-01-01T00:00:00Z', command: 'x' }) ?? '', /another process now/);
    assert.equal(staleReason({ pid: 2 ** 22 + 11, host: 'elsewhere', startedAt: now, command: 'x' }), undefined);
  });

  test('a held lock refuses a second taker, naming the holder; released, it can be taken again', async () => {
    const file = join(dir, 'locks', 'run.lock');
    const first = await takeRunLock(file, 'first run');
    await assert.rejects(takeRunLock(file, 'second run'), (e: Error) => e instanceof LockBusyError && new RegExp(`pid ${process.pid} on host ${hostname()}, started .* \\(first run\\)`).test(e.message));
    first.release();
    const again = await takeRunLock(file, 'third run');
    assert.equal(again.tookOver, undefined);
    again.release();
  });
});

describe('root tarball entries', () => {
  test('absolute paths, "..", writes through an archive symlink, outside hard links and devices are refused', () => {
    const problems = unsafeEntries([
      { name: './usr/', type: 'directory' },
      { name: 'usr/lib', type: 'symlink', linkname: '/etc' },
      { name: 'usr/lib/evil', type: 'file' },
      { name: '/etc/shadow', type: 'file' },
      { name: 'a/../../x', type: 'file' },
      { name: 'usr/h', type: 'link', linkname: '../outside' },
      { name: 'dev/null', type: 'character-device' },
      { name: 'usr/bin/sh', type: 'symlink', linkname: '/usr/bin/bash' },
    ]);
    assert.deepEqual(problems.map((p) => p.split(':')[0]), ['usr/lib/evil', '/etc/shadow', 'a/../../x', 'usr/h', 'dev/null']);
    assert.deepEqual(unsafeEntries([{ name: 'usr/bin/sh', type: 'symlink', linkname: 'bash' }, { name: 'usr/bin/bash', type: 'file' }]), []);
  });
});
