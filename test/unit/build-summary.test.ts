import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clearStaleMark, isBuildRun, markSummaryStale, renderSummaryTable, summarizeRun, writeRunSummary, type TaskResultLike, type TaskStatusLike } from '../../tools/src/packaging/run-summary';

function result(project: string, status: TaskStatusLike, extra: Partial<TaskResultLike> = {}): [string, TaskResultLike] {
  const id = `${project}:build:aarch64`;
  return [
    id,
    {
      task: { id, target: { project, target: 'build', configuration: 'aarch64' }, startTime: 1000, endTime: 4500 },
      status,
      code: status === 'failure' ? 1 : 0,
      ...extra,
    },
  ];
}

// zlib fails; libpng depends on zlib (skipped); cairo depends on libpng (skipped, through libpng); pixman builds.
const taskResults = Object.fromEntries([
  result('zlib', 'failure'),
  result('libpng', 'skipped'),
  result('cairo', 'skipped'),
  result('pixman', 'success'),
  result('glibc', 'local-cache'),
  result('bash', 'remote-cache'),
  result('gcc', 'stopped'),
]);
// Nx 24 task graph edges are { id } objects
const dependencies = {
  'libpng:build:aarch64': [{ id: 'zlib:build:aarch64' }],
  'cairo:build:aarch64': [{ id: 'libpng:build:aarch64' }, { id: 'pixman:build:aarch64' }],
  'pixman:build:aarch64': [],
};

test('summarizeRun sorts Nx task results into built / restored / failed / skipped (with the failed dependency)', () => {
  const s = summarizeRun({ taskResults, dependencies, startTime: 0, endTime: 60000 }, (p) => `logs/${p}/x.log`);
  assert.deepEqual(s.counts, { total: 7, built: 1, restored: 2, failed: 1, skipped: 2, stopped: 1 });
  assert.deepEqual(s.built, [{ project: 'pixman', target: 'build', configuration: 'aarch64', durationMs: 3500 }]);
  assert.deepEqual(s.restored.map((r) => [r.project, r.from]), [['bash', 'remote-cache'], ['glibc', 'local-cache']]);
  assert.deepEqual(s.failed, [{ project: 'zlib', target: 'build', configuration: 'aarch64', code: 1, log: 'logs/zlib/x.log' }]);
  assert.deepEqual(s.skipped.map((k) => [k.project, k.because]), [['cairo', ['zlib']], ['libpng', ['zlib']]]);
  assert.equal(s.durationMs, 60000);
  // string edges (older Nx) and a project-level map work too
  const s2 = summarizeRun({ taskResults, dependencies: { libpng: ['zlib'], cairo: ['libpng'] } });
  assert.deepEqual(s2.skipped.map((k) => k.because), [['zlib'], ['zlib']]);
  assert.deepEqual(summarizeRun({ taskResults }).skipped[0].because, []);
});

test('renderSummaryTable lists failures first with their logs and a count line', () => {
  const text = renderSummaryTable(summarizeRun({ taskResults, dependencies }, () => 'logs/zlib/20260101-000000-aarch64.log'));
  const lines = text.split('\n');
  assert.match(lines[0], /^RESULT\s+PROJECT\s+ARCH\s+DETAIL$/);
  assert.match(lines[1], /^failed\s+zlib\s+aarch64\s+exit 1, log: logs\/zlib\/20260101-000000-aarch64\.log$/);
  assert.match(text, /skipped\s+libpng\s+aarch64\s+because zlib failed/);
  assert.match(text, /7 tasks: 1 built, 2 restored from cache, 1 failed, 2 skipped, 1 stopped/);
});

test('writeRunSummary writes dist/summary.json and .txt atomically; the log is the newest file in logs/<pkgbase>/', () => {
  const root = mkdtempSync(join(tmpdir(), 'pkgnx-summary-'));
  mkdirSync(join(root, 'logs', 'zlib'), { recursive: true });
  writeFileSync(join(root, 'logs', 'zlib', '20260101-000000-aarch64.log'), '');
  writeFileSync(join(root, 'logs', 'zlib', '20260102-000000-aarch64.log'), '');
  writeFileSync(join(root, 'logs', 'zlib', '20260103-000000-x86_64.log'), '');
  const { summary, json, txt } = writeRunSummary(root, { taskResults, dependencies, startTime: 0, endTime: 1000 });
  assert.equal(summary.failed[0].log, 'logs/zlib/20260102-000000-aarch64.log');
  assert.deepEqual(JSON.parse(readFileSync(json, 'utf8')), summary);
  assert.match(readFileSync(txt, 'utf8'), /failed\s+zlib/);
  assert.deepEqual(readdirSync(join(root, 'dist')).sort(), ['summary.json', 'summary.txt'], 'no temp files left');
  const none = writeRunSummary(mkdtempSync(join(tmpdir(), 'pkgnx-summary-')), { taskResults });
  assert.equal(none.summary.failed[0].log, null);
  assert.ok(existsSync(none.json));
});

test('a failed task without a log of this run: "no log: failed before the build started" and the reason from its output', () => {
  const root = mkdtempSync(join(tmpdir(), 'pkgnx-summary-'));
  // a log from an older run of the same package must not be shown as this failure's log
  mkdirSync(join(root, 'logs', 'zlib'), { recursive: true });
  writeFileSync(join(root, 'logs', 'zlib', '20200101-000000-aarch64.log'), 'old, unrelated\n');
  utimesSync(join(root, 'logs', 'zlib', '20200101-000000-aarch64.log'), new Date(Date.UTC(2020, 0, 1)), new Date(Date.UTC(2020, 0, 1)));
  const failed = Object.fromEntries([
    result('zlib', 'failure', { terminalOutput: '\u001b[31m> nx run zlib:build\u001b[0m\npkgnx build (zlib): the PKGBUILD could not be read: pkgbuilds/zlib/PKGBUILD: pkgrel is not allowed to be empty.\n' }),
    result('xz', 'failure', { terminalOutput: 'something else went wrong\n\n' }),
    result('bzip2', 'failure'),
  ]);
  const { summary, txt } = writeRunSummary(root, { taskResults: failed, startTime: Date.now() - 1000, endTime: Date.now() });
  const zlib = summary.failed.find((f) => f.project === 'zlib')!;
  assert.equal(zlib.log, null);
  assert.equal(zlib.reason, 'the PKGBUILD could not be read: pkgbuilds/zlib/PKGBUILD: pkgrel is not allowed to be empty.');
  const text = readFileSync(txt, 'utf8');
  assert.match(text, /failed\s+zlib\s+aarch64\s+exit 1, no log: failed before the build started: the PKGBUILD could not be read: pkgbuilds\/zlib\/PKGBUILD: pkgrel/);
  assert.match(text, /failed\s+xz\s+aarch64\s+exit 1, no log: failed before the build started: something else went wrong$/m);
  assert.match(text, /failed\s+bzip2\s+aarch64\s+exit 1, no log: failed before the build started$/m);
  assert.doesNotMatch(text, /20200101/);
});

test('isBuildRun: which nx command lines run the build target (dry runs do not)', () => {
  const yes = [['run-many', '-t', 'build'], ['affected', '--target=build'], ['run-many', '--targets', 'lint,build', '-c', 'aarch64'], ['run', 'hello-cli:build'], ['hello-cli:build:aarch64'], ['build', 'hello-cli']];
  const no = [['show', 'projects'], ['graph'], ['run-many', '-t', 'publish'], ['run', 'hello-cli:publish'], ['run-many', '-t', 'build', '--dry-run'], ['run', 'x:build', '--dryRun'], []];
  for (const args of yes) assert.equal(isBuildRun(args, 'build'), true, args.join(' '));
  for (const args of no) assert.equal(isBuildRun(args, 'build'), false, args.join(' '));
});

test('a build run that starts marks the previous summary stale; its own summary or the end of a run without builds clears the mark', () => {
  const root = mkdtempSync(join(tmpdir(), 'pkgnx-summary-'));
  markSummaryStale(root, { pid: 1, startedAt: '2026-01-01T00:00:00.000Z', command: 'run-many -t build' });
  assert.equal(existsSync(join(root, 'dist', 'summary.txt')), false, 'no summary, nothing to mark');
  writeRunSummary(root, { taskResults, dependencies, startTime: Date.parse('2025-12-31T00:00:00Z'), endTime: Date.parse('2025-12-31T00:10:00Z') });
  const before = readFileSync(join(root, 'dist', 'summary.txt'), 'utf8');
  markSummaryStale(root, { pid: 4242, startedAt: '2026-01-01T00:00:00.000Z', command: 'run-many -t build' });
  const stale = readFileSync(join(root, 'dist', 'summary.txt'), 'utf8');
  assert.match(stale, /^STALE: a later build run \(nx run-many -t build, started 2026-01-01T00:00:00\.000Z, pid 4242\) did not finish \(interrupted or killed\);\nthis is the summary of the run before it, started 2025-12-31T00:00:00\.000Z\.\n\n/);
  assert.ok(stale.endsWith(before), 'the old table follows the warning');
  assert.equal((JSON.parse(readFileSync(join(root, 'dist', 'summary.json'), 'utf8')) as { stale?: { pid: number } }).stale?.pid, 4242);
  clearStaleMark(root, 1);
  assert.match(readFileSync(join(root, 'dist', 'summary.txt'), 'utf8'), /^STALE/, 'another process cannot clear it');
  clearStaleMark(root, 4242);
  assert.equal(readFileSync(join(root, 'dist', 'summary.txt'), 'utf8'), before);
  markSummaryStale(root, { pid: 4242, startedAt: '2026-01-01T00:00:00.000Z', command: 'run-many -t build' });
  writeRunSummary(root, { taskResults, dependencies });
  assert.doesNotMatch(readFileSync(join(root, 'dist', 'summary.txt'), 'utf8'), /STALE/);
});
