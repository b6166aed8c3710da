// dist/summary.txt through real Nx runs: a task that failed before its build started points to no old log and
// says why; a run interrupted while Nx loads the graph leaves the previous summary marked STALE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeTempWorkspace, NX_TEST_ENV, simplePkgbuild } from '../helpers/nx-workspace';
import { WORKSPACE_ROOT, hasCommand } from '../helpers/env';
import { writeRunSummary } from '../../tools/src/packaging/run-summary';

const skip = hasCommand('bwrap') ? false : 'bwrap not installed';

test('a failed task whose build never started: "no log: failed before the build started" and the reason, not an old log', { skip, timeout: 300_000 }, () => {
  const ws = makeTempWorkspace({ pkgbuilds: { 'pkgbuilds/broken/PKGBUILD': 'pkgname=broken\npkgver=1\narch=(any)\npackage() { :; }\n' } });
  try {
    mkdirSync(join(ws.root, 'logs', 'broken'), { recursive: true });
    const old = join(ws.root, 'logs', 'broken', '20200101-000000-x86_64.log');
    writeFileSync(old, '==> an old, unrelated build\n');
    utimesSync(old, new Date(Date.UTC(2020, 0, 1)), new Date(Date.UTC(2020, 0, 1)));
    const r = ws.nx(['run', 'broken:build', '--outputStyle=static']);
    assert.notEqual(r.status, 0);
    const text = readFileSync(join(ws.root, 'dist', 'summary.txt'), 'utf8');
    assert.match(text, /failed\s+broken\s+x86_64\s+exit 1, no log: failed before the build started: the PKGBUILD could not be read: pkgbuilds\/broken\/PKGBUILD: pkgrel is not allowed to be empty\./);
    assert.doesNotMatch(text, /20200101/);
  } finally {
    rmSync(ws.root, { recursive: true, force: true });
  }
});

test('an interrupt while Nx loads the graph leaves the previous summary marked STALE, not looking current', { skip, timeout: 300_000 }, async () => {
  // sourcing this PKGBUILD takes 8 s: the graph is still loading when the interrupt comes
  const ws = makeTempWorkspace({
    pkgbuilds: { 'pkgbuilds/slow/PKGBUILD': `sleep 8\n${simplePkgbuild('slow')}` },
    pluginOptions: { sandboxTimeoutSeconds: 30 },
  });
  try {
    const previous = [{ id: 'old:build:x86_64', project: 'old', target: 'build', configuration: 'x86_64', outcome: 'built' as const }];
    writeRunSummary(ws.root, { tasks: previous, startTime: Date.parse('2026-01-01T00:00:00Z'), endTime: Date.parse('2026-01-01T00:01:00Z') });
    const txt = join(ws.root, 'dist', 'summary.txt');
    const child = spawn(join(WORKSPACE_ROOT, 'node_modules', '.bin', 'nx'), ['run-many', '-t', 'build', '--outputStyle=static'], {
      cwd: ws.root,
      env: { ...process.env, ...NX_TEST_ENV },
      detached: true,
      stdio: 'ignore',
    });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    const deadline = Date.now() + 60_000;
    while (!readFileSync(txt, 'utf8').startsWith('STALE') && Date.now() < deadline) await sleep(100);
    assert.match(readFileSync(txt, 'utf8'), /^STALE: a later build run \(nx run-many -t build --outputStyle=static, started \S+, pid \d+\) did not finish/);
    await sleep(500);
    process.kill(-child.pid!, 'SIGINT'); // what Ctrl-C sends to the terminal's process group
    await exited;
    const after = readFileSync(txt, 'utf8');
    assert.match(after, /^STALE: /);
    assert.match(after, /this is the summary of the run before it, started 2026-01-01T00:00:00\.000Z\.\n\nRESULT\s+PROJECT/);
    assert.match(after, /built\s+old\s+x86_64/);
    // a command that is not a build run leaves the mark alone
    ws.nx(['show', 'projects']);
    assert.match(readFileSync(txt, 'utf8'), /^STALE: /);
    assert.ok(existsSync(join(ws.root, 'dist', 'summary.json')));
  } finally {
    rmSync(ws.root, { recursive: true, force: true });
  }
});

test('a task skipped after its dependency failed is in the summary with the failure it waited for, with plugins isolated or in the nx process', { skip, timeout: 600_000 }, () => {
  const ws = makeTempWorkspace({
    pkgbuilds: {
      'pkgbuilds/bad-lib/PKGBUILD': 'pkgname=bad-lib\npkgver=1\npkgrel=1\narch=(any)\nbuild() { false; }\npackage() { :; }\n',
      'pkgbuilds/needs-bad/PKGBUILD': simplePkgbuild('needs-bad', 'depends=(bad-lib)'),
    },
  });
  try {
    const nxJson = JSON.parse(readFileSync(join(ws.root, 'nx.json'), 'utf8')) as { targetDefaults: { build: { options: Record<string, unknown> } } };
    nxJson.targetDefaults.build.options = { backend: 'host' };
    ws.write('nx.json', JSON.stringify(nxJson));
    for (const isolate of ['true', 'false']) {
      const r = ws.nx(['run-many', '-t', 'build', '--outputStyle=static', '--skip-nx-cache'], { NX_ISOLATE_PLUGINS: isolate });
      assert.notEqual(r.status, 0);
      const summary = JSON.parse(readFileSync(join(ws.root, 'dist', 'summary.json'), 'utf8')) as { skipped: { project: string; configuration?: string; because: string[] }[] };
      // arch=(any) packages: the one build (build-any:any) and the placement (build:x86_64) are two tasks
      assert.deepEqual(
        summary.skipped.map((s) => [s.project, s.configuration, s.because]),
        [['bad-lib', 'x86_64', ['bad-lib']], ['needs-bad', 'any', ['bad-lib']], ['needs-bad', 'x86_64', ['bad-lib']]],
        `NX_ISOLATE_PLUGINS=${isolate}`,
      );
      assert.match(readFileSync(join(ws.root, 'dist', 'summary.txt'), 'utf8'), /skipped\s+needs-bad/);
    }
    assert.deepEqual(existsSync(join(ws.root, '.nx', 'workspace-data', 'pkgnx', 'runs')) ? readdirSync(join(ws.root, '.nx', 'workspace-data', 'pkgnx', 'runs')) : [], [], 'no record of a run is left');
  } finally {
    rmSync(ws.root, { recursive: true, force: true });
  }
});
