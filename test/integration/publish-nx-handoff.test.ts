/**
 * The hand-off from the publish tasks to the run's one database commit, through real Nx with the pkgnx plugin
 * in a worker of its own (NX_ISOLATE_PLUGINS=true) and in the nx process (false), daemon off, and with the Nx
 * daemon running the run hooks: three projects
 * built with the host backend, `nx run-many -t publish` into a local directory; every task stages, the plugin
 * commits the repository once (generation 1, all three projects), a real pacman reads it, and no staging
 * directory is left, not even the one a killed nx process left behind. And the executor in a workspace without
 * the pkgnx plugin (nothing would commit after the run): it commits at once. With the daemon (Nx's default for
 * interactive use) a failed commit still fails the nx run with the error in the terminal.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { makepkg, scriptPackages } from '../helpers/makepkg-build';
import { makeTempWorkspace, simplePkgbuild } from '../helpers/nx-workspace';
import { pacmanClient, type PacmanClient } from '../helpers/pacman-client';
import { publishTestPrerequisites } from '../helpers/pkgnx-cli';

const skip = publishTestPrerequisites({ pacman: true, tools: ['repo-add'] });
const PROJECTS = ['pub-a', 'pub-b', 'pub-c'];

const workspaces: string[] = [];
const clients: PacmanClient[] = [];
after(() => {
  for (const c of clients) c.close();
  for (const w of workspaces) rmSync(w, { recursive: true, force: true });
});

test('every publish task stages, the plugin commits the repository once after the run, with plugins isolated, in the nx process, and the run hooks in the Nx daemon', { skip, timeout: 900_000 }, () => {
  const ws = makeTempWorkspace({
    prefix: 'pkgnx-publish-handoff-',
    pkgbuilds: {
      'pkgbuilds/pub-a/PKGBUILD': simplePkgbuild('pub-a'),
      'pkgbuilds/pub-b/PKGBUILD': simplePkgbuild('pub-b', 'depends=(pub-a)'),
      'pkgbuilds/pub-c/PKGBUILD': simplePkgbuild('pub-c'),
    },
  });
  workspaces.push(ws.root);
  const root = ws.root;
  // the host backend's build user reads the workspace
  chmodSync(root, 0o755);
  const nxJson = JSON.parse(readFileSync(join(root, 'nx.json'), 'utf8')) as { targetDefaults: { build: { options: Record<string, unknown> } } };
  nxJson.targetDefaults.build.options = { backend: 'host' };
  ws.write('nx.json', JSON.stringify(nxJson));
  const runs = join(root, '.nx/workspace-data/pkgnx/runs');

  const modes: { name: string; env: Record<string, string> }[] = [
    { name: 'isolated', env: { NX_ISOLATE_PLUGINS: 'true' } },
    { name: 'in-process', env: { NX_ISOLATE_PLUGINS: 'false' } },
    // the hooks run in the daemon, which is not the nx process the tasks were forked by
    { name: 'daemon', env: { NX_DAEMON: 'true', CI: 'false' } },
  ];
  try {
    for (const { name: mode, env } of modes) publishIn(mode, env);
  } finally {
    ws.nx(['daemon', '--stop'], { NX_DAEMON: 'true', CI: 'false' });
  }

  function publishIn(mode: string, env: Record<string, string>): void {
    const repoDir = join(root, `repo-${mode}`);
    mkdirSync(repoDir);
    ws.write(`${mode}.config.json`, JSON.stringify({ publish: { destination: `repo-${mode}`, defaultRepo: 'forge-testing', gracePeriodSeconds: 60 } }));
    // what an nx process killed between its publish tasks and its commit leaves: its process is gone
    const dead = spawnSync('true').pid;
    const leftover = join(runs, `publish-${dead}-1`, 'x86_64');
    mkdirSync(leftover, { recursive: true });
    writeFileSync(join(leftover, 'ghost.json'), '{}');

    const r = ws.nx(['run-many', '-t', 'publish', `--config=${mode}.config.json`, '--outputStyle=static'], env);
    const out = `${r.stdout}${r.stderr}`;
    assert.equal(r.status, 0, `${mode}\n${out.slice(-6000)}`);
    for (const p of PROJECTS) assert.match(out, new RegExp(`pkgnx publish \\(${p}\\): the database of each repository is written once after the run`), `${mode}: ${p} staged`);
    const summary = JSON.parse(readFileSync(join(root, 'dist/summary.json'), 'utf8')) as { published?: { repo: string; generation: number; projects: string[]; added: { file: string }[] }[] };
    assert.equal(summary.published?.length, 1, `${mode}: ${JSON.stringify(summary.published)}`);
    const [repo] = summary.published!;
    assert.equal(repo.repo, 'forge-testing');
    assert.equal(repo.generation, 1, `${mode}: three projects, one database rewrite`);
    assert.deepEqual([...repo.projects].sort(), PROJECTS);
    assert.equal(repo.added.length, 3);
    // (what the daemon's hook prints goes to the daemon's log; the summary file is the same in every mode)
    const published = new RegExp(`published to ${repoDir}:\\n {2}forge-testing/os/x86_64 {2}generation 1`);
    if (mode !== 'daemon') assert.match(out, published);
    assert.match(readFileSync(join(root, 'dist/summary.txt'), 'utf8'), published);
    assert.deepEqual(existsSync(runs) ? readdirSync(runs).filter((n) => n.startsWith('publish-')) : [], [], `${mode}: no staging directory is left`);

    const c = pacmanClient([{ name: 'forge-testing', server: `file://${repoDir}/$repo/os/$arch` }], undefined);
    clients.push(c);
    c.sync();
    assert.deepEqual(c.list('forge-testing').sort(), PROJECTS.map((p) => `${p} 1.0-1`));
    if (mode === 'daemon') {
      // a failed commit: the hook's error reaches the terminal and fails the run
      const bad = join(root, 'repo-broken/forge-testing/os/x86_64');
      mkdirSync(bad, { recursive: true });
      writeFileSync(join(bad, 'forge-testing.files.tar.zst'), 'not a database');
      ws.write('broken.config.json', JSON.stringify({ publish: { destination: 'repo-broken', defaultRepo: 'forge-testing' } }));
      const failed = ws.nx(['run-many', '-t', 'publish', '-p', 'pub-a', '--config=broken.config.json', '--outputStyle=static'], env);
      // the hooks really ran in the daemon
      assert.match(readFileSync(join(root, '.nx/workspace-data/d/daemon.log'), 'utf8'), /Time taken for 'pkgnx:postTasksExecution'/);
      assert.equal(failed.status, 1, `${failed.stdout}${failed.stderr}`.slice(-4000));
      assert.match(`${failed.stdout}${failed.stderr}`, /pkgnx publish: the packages are uploaded but the database commit failed, so nothing of them is published: .*repo-broken/);
    }
  }
});

test('without the pkgnx plugin in nx.json the publish executor commits at once', { skip, timeout: 600_000 }, async () => {
  const [pkg] = await makepkg(scriptPackages({ pkgbase: 'solo', packages: { solo: '' } }));
  const bare = makeTempWorkspace({ prefix: 'pkgnx-publish-noplugin-', pkgbuilds: { 'solo/project.json': JSON.stringify({ name: 'solo', targets: { publish: { executor: './tools:publish', options: { arch: 'x86_64' } } } }) } });
  try {
    bare.write('nx.json', JSON.stringify({ plugins: [] }));
    bare.write('pkgnx.config.json', JSON.stringify({ publish: { destination: 'repo', defaultRepo: 'forge-testing' } }));
    mkdirSync(join(bare.root, 'repo'));
    mkdirSync(join(bare.root, 'dist/x86_64/solo'), { recursive: true });
    copyFileSync(pkg, join(bare.root, 'dist/x86_64/solo', pkg.split('/').pop()!));
    const r = bare.nx(['run', 'solo:publish', '--outputStyle=static']);
    const out = `${r.stdout}${r.stderr}`;
    assert.equal(r.status, 0, out.slice(-4000));
    assert.doesNotMatch(out, /written once after the run/);
    assert.match(out, /forge-testing\/os\/x86_64: database generation 1/);
    assert.deepEqual(existsSync(join(bare.root, '.nx/workspace-data/pkgnx/runs')) ? readdirSync(join(bare.root, '.nx/workspace-data/pkgnx/runs')).filter((n) => n.startsWith('publish-')) : [], []);
    const c = pacmanClient([{ name: 'forge-testing', server: `file://${join(bare.root, 'repo')}/$repo/os/$arch` }], undefined);
    clients.push(c);
    c.sync();
    assert.deepEqual(c.list('forge-testing'), ['solo 1.0-1']);
  } finally {
    rmSync(bare.root, { recursive: true, force: true });
  }
});
