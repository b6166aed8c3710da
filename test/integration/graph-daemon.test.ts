/**
 * The plugin inside the Nx daemon (on for people at a terminal; Nx turns it off in CI): the daemon keeps
 * the graph in memory and recomputes it on file changes, with the plugin loaded once. The next command
 * after a save must show the change — a new version, a new edge, a new project — never a stale graph.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
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

test('with the daemon: the next command after saving a PKGBUILD sees the change', (t) => {
  const ws = makeTempWorkspace({
    pkgbuilds: {
      'pkgbuilds/app/PKGBUILD': simplePkgbuild('app', "depends=('lib-a')"),
      'pkgbuilds/lib-a/PKGBUILD': simplePkgbuild('lib-a'),
    },
  });
  t.after(() => ws.nx(['daemon', '--stop'], DAEMON));
  const start = ws.nx(['daemon', '--start'], DAEMON);
  assert.equal(start.status, 0, start.stderr + start.stdout);
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
