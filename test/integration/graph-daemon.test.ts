/**
 * The plugin inside the Nx daemon (on for people at a terminal; Nx turns it off in CI): the daemon keeps
 * the graph in memory and recomputes it on file changes, with the plugin loaded once. The next command
 * after a save must show the change — a new version, a new edge, a new project — never a stale graph.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempWorkspace, simplePkgbuild, type TempWorkspace } from '../helpers/nx-workspace';

const DAEMON = { NX_DAEMON: 'true', CI: '' };

interface ShownProject {
  metadata: { description: string };
}

function shown(ws: TempWorkspace, project: string): ShownProject {
  const r = ws.nx(['show', 'project', project, '--json'], DAEMON);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  return JSON.parse(r.stdout) as ShownProject;
}

function edges(ws: TempWorkspace): string[] {
  const r = ws.nx(['graph', '--file=stdout'], DAEMON);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const g = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { graph: { dependencies: Record<string, { source: string; target: string }[]> } };
  return Object.values(g.graph.dependencies)
    .flat()
    .filter((d) => !d.target.startsWith('npm:'))
    .map((d) => `${d.source} -> ${d.target}`)
    .sort();
}

/** app depending on lib-a, with the daemon started (and stopped after the test) */
function daemonWorkspace(t: TestContext): TempWorkspace {
  const ws = makeTempWorkspace({
    pkgbuilds: {
      'pkgbuilds/app/PKGBUILD': simplePkgbuild('app', "depends=('lib-a')"),
      'pkgbuilds/lib-a/PKGBUILD': simplePkgbuild('lib-a'),
    },
  });
  t.after(() => ws.nx(['daemon', '--stop'], DAEMON));
  const start = ws.nx(['daemon', '--start'], DAEMON);
  assert.equal(start.status, 0, start.stderr + start.stdout);
  return ws;
}

test('with the daemon: the next command after saving a PKGBUILD sees the change', (t) => {
  const ws = daemonWorkspace(t);
  assert.match(shown(ws, 'app').metadata.description, /^app 1\.0-1$/);
  assert.deepEqual(edges(ws), ['app -> lib-a']);

  // a new version: no command in between
  ws.write('pkgbuilds/app/PKGBUILD', simplePkgbuild('app', "depends=('lib-a')", '2.0'));
  assert.match(shown(ws, 'app').metadata.description, /^app 2\.0-1$/);

  // a new project and a new edge to it, from another PKGBUILD's change
  ws.write('pkgbuilds/lib-b/PKGBUILD', simplePkgbuild('lib-b', "provides=('virtual-b')"));
  ws.write('pkgbuilds/app/PKGBUILD', simplePkgbuild('app', "depends=('lib-a' 'virtual-b')", '2.0'));
  assert.deepEqual(edges(ws), ['app -> lib-a', 'app -> lib-b']);

  // a provider that goes away takes the edge with it
  ws.write('pkgbuilds/lib-b/PKGBUILD', simplePkgbuild('lib-b'));
  assert.deepEqual(edges(ws), ['app -> lib-a']);
  const status = ws.nx(['daemon'], DAEMON);
  assert.match(status.stdout + status.stderr, /Nx Daemon is currently running/i);
});

test('with the daemon: sync:check after a hand edit of a .SRCINFO, or a PKGBUILD edit, names exactly that file', (t) => {
  const ws = daemonWorkspace(t);
  const run = (args: string[]): { status: number; out: string } => {
    const r = ws.nx(args, DAEMON);
    return { status: r.status, out: r.stdout + r.stderr };
  };
  const first = run(['sync']);
  assert.equal(first.status, 0, first.out);
  const srcinfo = readFileSync(join(ws.root, 'pkgbuilds/app/.SRCINFO'), 'utf8');
  assert.match(srcinfo, /\tpkgver = 1\.0\n/);
  // found in sync twice: the second run is the daemon's generator answering from what it remembers
  for (let i = 0; i < 2; i++) {
    const ok = run(['sync:check']);
    assert.equal(ok.status, 0, ok.out);
  }

  // a hand edit of one .SRCINFO: that one is stale, the other still in sync
  ws.write('pkgbuilds/app/.SRCINFO', srcinfo.replace('\tpkgver = 1.0\n', '\tpkgver = 9.9\n'));
  const edited = run(['sync:check']);
  assert.notEqual(edited.status, 0, edited.out);
  assert.match(edited.out, /pkgbuilds\/app\/\.SRCINFO is stale/);
  assert.doesNotMatch(edited.out, /lib-a\/\.SRCINFO/);
  assert.equal(run(['sync']).status, 0);
  assert.equal(readFileSync(join(ws.root, 'pkgbuilds/app/.SRCINFO'), 'utf8'), srcinfo);
  const fixed = run(['sync:check']);
  assert.equal(fixed.status, 0, fixed.out);

  // a new version of the other PKGBUILD: its .SRCINFO is now stale
  ws.write('pkgbuilds/lib-a/PKGBUILD', simplePkgbuild('lib-a', '', '2.0'));
  const bumped = run(['sync:check']);
  assert.notEqual(bumped.status, 0, bumped.out);
  assert.match(bumped.out, /pkgbuilds\/lib-a\/\.SRCINFO is stale/);
  assert.doesNotMatch(bumped.out, /pkgbuilds\/app\/\.SRCINFO/);
  assert.equal(run(['sync']).status, 0);
  assert.match(readFileSync(join(ws.root, 'pkgbuilds/lib-a/.SRCINFO'), 'utf8'), /\tpkgver = 2\.0\n/);
  const synced = run(['sync:check']);
  assert.equal(synced.status, 0, synced.out);
});
