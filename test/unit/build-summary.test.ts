import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clearStaleMark, markSummaryStale, renderSummaryTable, summarizeRun, writeRunSummary, type TaskOutcome, type TaskRun } from '../../tools/src/packaging/run-summary';
import { buildTaskRuns, isBuildRun } from '../../tools/plugin/run';
import { tempDir } from '../helpers/env';

function task(project: string, outcome: TaskOutcome, extra: Partial<TaskRun> = {}): TaskRun {
  return { id: `${project}:build:aarch64`, project, target: 'build', configuration: 'aarch64', outcome, startTime: 1000, endTime: 4500, ...(outcome === 'failed' ? { code: 1 } : {}), ...extra };
}

// zlib fails; libpng depends on zlib (skipped); cairo depends on libpng (skipped, through libpng); pixman builds.
const tasks = [
  task('zlib', 'failed'),
  task('libpng', 'skipped'),
  task('cairo', 'skipped'),
  task('pixman', 'built'),
  task('glibc', 'restored', { restoredFrom: 'local-cache' }),
  task('bash', 'restored', { restoredFrom: 'remote-cache' }),
  task('gcc', 'stopped'),
];
const dependsOn = {
  'libpng:build:aarch64': ['zlib:build:aarch64'],
  'cairo:build:aarch64': ['libpng:build:aarch64', 'pixman:build:aarch64'],
  'pixman:build:aarch64': [],
};

test('summarizeRun sorts the tasks into built / restored / failed / skipped (with the failed dependency)', () => {
  const s = summarizeRun({ tasks, dependsOn, startTime: 0, endTime: 60000 }, (p) => `logs/${p}/x.log`);
  assert.deepEqual(s.counts, { total: 7, built: 1, restored: 2, failed: 1, skipped: 2, stopped: 1 });
  assert.deepEqual(s.built, [{ project: 'pixman', target: 'build', configuration: 'aarch64', durationMs: 3500 }]);
  assert.deepEqual(s.restored.map((r) => [r.project, r.from]), [['bash', 'remote-cache'], ['glibc', 'local-cache']]);
  assert.deepEqual(s.failed, [{ project: 'zlib', target: 'build', configuration: 'aarch64', code: 1, log: 'logs/zlib/x.log' }]);
  assert.deepEqual(s.skipped.map((k) => [k.project, k.because]), [['cairo', ['zlib']], ['libpng', ['zlib']]]);
  assert.equal(s.durationMs, 60000);
  assert.deepEqual(summarizeRun({ tasks }).skipped[0].because, []);
});

test('renderSummaryTable lists failures first with their logs and a count line', () => {
  const text = renderSummaryTable(summarizeRun({ tasks, dependsOn }, () => 'logs/zlib/20260101-000000-aarch64.log'));
  const lines = text.split('\n');
  assert.match(lines[0], /^RESULT\s+PROJECT\s+ARCH\s+DETAIL$/);
  assert.match(lines[1], /^failed\s+zlib\s+aarch64\s+exit 1, log: logs\/zlib\/20260101-000000-aarch64\.log$/);
  assert.match(text, /skipped\s+libpng\s+aarch64\s+because zlib failed/);
  assert.match(text, /7 tasks: 1 built, 2 restored from cache, 1 failed, 2 skipped, 1 stopped/);
});

test('writeRunSummary writes dist/summary.json and .txt atomically; the log is the newest file in logs/<pkgbase>/', () => {
  const root = tempDir('pkgnx-summary-');
  mkdirSync(join(root, 'logs', 'zlib'), { recursive: true });
  writeFileSync(join(root, 'logs', 'zlib', '20260101-000000-aarch64.log'), '');
  writeFileSync(join(root, 'logs', 'zlib', '20260102-000000-aarch64.log'), '');
  writeFileSync(join(root, 'logs', 'zlib', '20260103-000000-x86_64.log'), '');
  const { summary, json, txt } = writeRunSummary(root, { tasks, dependsOn, startTime: 0, endTime: 1000 });
  assert.equal(summary.failed[0].log, 'logs/zlib/20260102-000000-aarch64.log');
  assert.deepEqual(JSON.parse(readFileSync(json, 'utf8')), summary);
  assert.match(readFileSync(txt, 'utf8'), /failed\s+zlib/);
  assert.deepEqual(readdirSync(join(root, 'dist')).sort(), ['summary.json', 'summary.txt'], 'no temp files left');
  const none = writeRunSummary(tempDir('pkgnx-summary-'), { tasks });
  assert.equal(none.summary.failed[0].log, null);
  assert.ok(existsSync(none.json));
});

test('a failed task without a log of this run: "no log: failed before the build started" and the reason from its output', () => {
  const root = tempDir('pkgnx-summary-');
  // a log from an older run of the same package must not be shown as this failure's log
  mkdirSync(join(root, 'logs', 'zlib'), { recursive: true });
  writeFileSync(join(root, 'logs', 'zlib', '20200101-000000-aarch64.log'), 'old, unrelated\n');
  utimesSync(join(root, 'logs', 'zlib', '20200101-000000-aarch64.log'), new Date(Date.UTC(2020, 0, 1)), new Date(Date.UTC(2020, 0, 1)));
  const failed = [
    task('zlib', 'failed', { output: '\u001b[31m> nx run zlib:build\u001b[0m\npkgnx build (zlib): the PKGBUILD could not be read: pkgbuilds/zlib/PKGBUILD: pkgrel is not allowed to be empty.\n' }),
    task('xz', 'failed', { output: 'something else went wrong\n\n' }),
    task('bzip2', 'failed'),
  ];
  const { summary, txt } = writeRunSummary(root, { tasks: failed, startTime: Date.now() - 1000, endTime: Date.now() });
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
  const root = tempDir('pkgnx-summary-');
  markSummaryStale(root, { pid: 1, startedAt: '2026-01-01T00:00:00.000Z', command: 'run-many -t build' });
  assert.equal(existsSync(join(root, 'dist', 'summary.txt')), false, 'no summary, nothing to mark');
  writeRunSummary(root, { tasks, dependsOn, startTime: Date.parse('2025-12-31T00:00:00Z'), endTime: Date.parse('2025-12-31T00:10:00Z') });
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
  writeRunSummary(root, { tasks, dependsOn });
  assert.doesNotMatch(readFileSync(join(root, 'dist', 'summary.txt'), 'utf8'), /STALE/);
});

test('buildTaskRuns: Nx results in pkgnx terms, and the tasks Nx skipped from the run\'s recorded task graph', () => {
  const target = (project: string) => ({ project, target: 'build', configuration: 'aarch64' });
  const results = {
    'zlib:build:aarch64': { task: { id: 'zlib:build:aarch64', target: target('zlib'), overrides: {}, outputs: [], parallelism: true }, status: 'failure' as const, code: 2, terminalOutput: 'boom' },
    'glibc:build:aarch64': { task: { id: 'glibc:build:aarch64', target: target('glibc'), overrides: {}, outputs: [], parallelism: true }, status: 'remote-cache' as const, code: 0 },
    'x:lint': { task: { id: 'x:lint', target: { project: 'x', target: 'lint' }, overrides: {}, outputs: [], parallelism: true }, status: 'success' as const, code: 0 },
  };
  const recorded = {
    tasks: { 'zlib:build:aarch64': target('zlib'), 'glibc:build:aarch64': target('glibc'), 'libpng:build:aarch64': target('libpng') },
    dependencies: { 'libpng:build:aarch64': ['zlib:build:aarch64'] },
  };
  const { tasks: runs, dependsOn: deps } = buildTaskRuns(results as never, ['build'], recorded);
  assert.deepEqual(runs.map((t) => [t.project, t.outcome, t.restoredFrom ?? '', t.code ?? '']), [['zlib', 'failed', '', 2], ['glibc', 'restored', 'remote-cache', ''], ['libpng', 'skipped', '', '']]);
  assert.deepEqual(deps, recorded.dependencies);
  // a recorded graph that does not know a task that ran is another run's: ignored
  assert.equal(buildTaskRuns(results as never, ['build'], { tasks: {}, dependencies: {} }).dependsOn, undefined);
});
