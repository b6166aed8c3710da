/**
 * The port update end to end, as a maintainer runs it in a workspace whose PKGBUILDs are committed:
 * `outdated` compares the upstream and target databases and writes packages_to_build.json, `fetch
 * --from` moves exactly those checkouts to their new tags, and `nx affected -t build` then selects
 * their builds — which only works because a checkout's git dir lives in .pkgnx/git, not inside
 * pkgbuilds/<pkgbase> (the workspace repository's diff must see the PKGBUILD changes).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WORKSPACE_ROOT } from '../helpers/env';
import { checkoutGit, git, tempDir } from '../helpers/git-fixtures';
import { makeTempWorkspace, type TempWorkspace } from '../helpers/nx-workspace';
import { writeSyncDatabase, type DescInput } from '../helpers/syncdb-writer';
import { versionFromSrcinfoText } from '../../tools/src/fetch/checkout-version';
import { versionToTag } from '../../tools/src/git/arch-repos';

const EXAMPLES = ['libhello', 'hello-cli', 'hello-fr', 'greet-utils', 'tap-runner', 'tap-fixtures'];
/** the one the packaging host has nothing newer for (a dependent of hello-cli: does Nx select it?) */
const UNCHANGED = 'greet-utils';
const UPDATED = EXAMPLES.filter((p) => p !== UNCHANGED);

const REGISTER = require.resolve('@swc-node/register', { paths: [WORKSPACE_ROOT] });

let ws: TempWorkspace;
let host: string;
let mirror: string;
/** pkgbase -> [version in the workspace, version after the update] */
const versions = new Map<string, [string, string]>();

function bumpPkgrel(version: string): string {
  return version.replace(/-(\d+)$/, (_, rel: string) => `-${Number(rel) + 1}`);
}

/** `pkgname = x` lines of a .SRCINFO: the split packages the databases list. */
function pkgnames(srcinfo: string): string[] {
  return srcinfo.split('\n').filter((l) => l.startsWith('pkgname = ')).map((l) => l.slice('pkgname = '.length).trim());
}

/**
 * One bare repository per pkgbase, like Arch's packaging GitLab: the example files tagged at their
 * current version, and for UPDATED a second commit with pkgrel + 1 in PKGBUILD and .SRCINFO.
 */
function publish(pkgbase: string): void {
  const src = join(WORKSPACE_ROOT, 'pkgbuilds', pkgbase);
  const wt = join(host, '.work', pkgbase);
  const bare = join(host, `${pkgbase}.git`);
  mkdirSync(wt, { recursive: true });
  cpSync(src, wt, { recursive: true });
  const oldVersion = versionFromSrcinfoText(readFileSync(join(wt, '.SRCINFO'), 'utf8'));
  assert.ok(oldVersion, `${pkgbase}: version in .SRCINFO`);
  git(wt, 'init', '-q', '-b', 'main');
  git(wt, 'add', '-A');
  git(wt, 'commit', '-q', '-m', `${pkgbase} ${oldVersion}`);
  git(wt, 'tag', versionToTag(oldVersion));
  let newVersion = oldVersion;
  if (UPDATED.includes(pkgbase)) {
    newVersion = bumpPkgrel(oldVersion);
    const rel = newVersion.slice(newVersion.lastIndexOf('-') + 1);
    const pkgbuild = readFileSync(join(wt, 'PKGBUILD'), 'utf8');
    const srcinfo = readFileSync(join(wt, '.SRCINFO'), 'utf8');
    writeFileSync(join(wt, 'PKGBUILD'), pkgbuild.replace(/^pkgrel=\d+$/m, `pkgrel=${rel}`));
    writeFileSync(join(wt, '.SRCINFO'), srcinfo.replace(/^\tpkgrel = \d+$/m, `\tpkgrel = ${rel}`));
    assert.equal(versionFromSrcinfoText(readFileSync(join(wt, '.SRCINFO'), 'utf8')), newVersion);
    git(wt, 'commit', '-q', '-am', `${pkgbase} ${newVersion}`);
    git(wt, 'tag', versionToTag(newVersion));
  }
  git(wt, 'init', '-q', '--bare', '-b', 'main', bare);
  git(wt, 'push', '-q', '--tags', bare, 'HEAD:refs/heads/main');
  versions.set(pkgbase, [oldVersion, newVersion]);
}

/**
 * Database entries of a pkgbase at a version. Every entry says x86_64, although four of the examples
 * are `arch=any`: `outdated` never builds an all-`any` pkgbase (a port syncs those), and this test is
 * about the update of packages the port does build.
 */
function entries(pkgbase: string, version: string): DescInput[] {
  const srcinfo = readFileSync(join(WORKSPACE_ROOT, 'pkgbuilds', pkgbase, '.SRCINFO'), 'utf8');
  return pkgnames(srcinfo).map((name) => ({ name, base: pkgbase, version, arch: 'x86_64' }));
}

function pkgnx(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--require', REGISTER, 'tools/bin/pkgnx.ts', ...args], {
    cwd: ws.root,
    encoding: 'utf8',
    env: { ...process.env, SWC_NODE_PROJECT: join(ws.root, 'tsconfig.json') },
    timeout: 120_000,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const wsGit = (...args: string[]): string => git(ws.root, ...args);
const lines = (s: string): string[] => s.split('\n').filter(Boolean).sort();

before(async () => {
  host = tempDir('pkgnx-port-host-');
  mirror = tempDir('pkgnx-port-mirror-');
  for (const p of EXAMPLES) publish(p);
  // upstream has every pkgbase at its new version; the port's repository lags behind on UPDATED
  await writeSyncDatabase(join(mirror, 'upstream', 'core.db'), EXAMPLES.flatMap((p) => entries(p, versions.get(p)![1])));
  await writeSyncDatabase(join(mirror, 'target', 'core.db'), EXAMPLES.flatMap((p) => entries(p, versions.get(p)![0])));

  ws = makeTempWorkspace({ copyExamples: true, prefix: 'pkgnx-port-ws-' });
  ws.write(
    'pkgnx.config.json',
    `${JSON.stringify(
      {
        upstream: {
          upstreamArch: 'x86_64',
          targetArch: 'x86_64',
          upstreamRepos: [{ name: 'core', path: join(mirror, 'upstream', '{repo}.db') }],
          targetRepos: [{ name: 'core', path: join(mirror, 'target', '{repo}.db') }],
          officialUrlTemplate: `file://${host}/{pkgbase}.git`,
        },
      },
      null,
      2,
    )}\n`,
  );
  // what the repository's own .gitignore has: fetch's git dirs and temp clones, the database cache
  appendFileSync(join(ws.root, '.gitignore'), '.pkgnx/\n.pkgnx-fetch-tmp/\npackages_to_build.json\n');
  wsGit('add', '-A');
  wsGit('-c', 'user.email=t@t', '-c', 'user.name=t', 'commit', '-q', '-m', 'port configuration');
});

after(() => {
  for (const d of [ws?.root, host, mirror]) if (d) rmSync(d, { recursive: true, force: true });
});

test('outdated -> fetch --from -> nx affected selects the updated packages', () => {
  // 1. put the committed examples under fetch's management: the checkouts at the workspace's
  // versions are byte-identical to what is committed, so the workspace repository sees no change
  for (const p of EXAMPLES) rmSync(join(ws.root, 'pkgbuilds', p), { recursive: true, force: true });
  const initial = pkgnx(['fetch', '--packages', ...EXAMPLES.map((p) => `${p}=${versions.get(p)![0]}`)]);
  assert.equal(initial.status, 0, initial.stderr);
  assert.match(initial.stdout, /==> 6 fetched, 0 updated, 0 unchanged, 0 local, 0 failed/);
  for (const p of EXAMPLES) {
    assert.ok(!existsSync(join(ws.root, 'pkgbuilds', p, '.git')), `${p}: no nested repository`);
    assert.ok(existsSync(join(ws.root, '.pkgnx', 'git', `${p}.git`, 'HEAD')), `${p}: git dir in .pkgnx/git`);
  }
  assert.equal(wsGit('status', '--porcelain', '--untracked-files=all'), '', 'fetched files are exactly the committed ones');
  const base = wsGit('rev-parse', 'HEAD').trim();

  // 2. what needs work: exactly the pkgbases the port's repository has at an older version
  const outdated = pkgnx(['outdated', '--config', 'pkgnx.config.json']);
  assert.equal(outdated.status, 0, outdated.stderr);
  const list = JSON.parse(readFileSync(join(ws.root, 'packages_to_build.json'), 'utf8')) as { packages: { name: string; version: string; current_version: string }[] };
  assert.deepEqual(list.packages.map((e) => e.name).sort(), [...UPDATED].sort());
  for (const e of list.packages) assert.deepEqual([e.current_version, e.version], versions.get(e.name));

  // 3. fetch exactly those, to their new tags
  const fetch = pkgnx(['fetch', '--from', 'packages_to_build.json']);
  assert.equal(fetch.status, 0, fetch.stderr);
  assert.deepEqual(lines(fetch.stdout).filter((l) => l.startsWith('Processing')), UPDATED.map((p) => `Processing ${p} (updating ${versions.get(p)![0]} -> ${versions.get(p)![1]})...`).sort());
  assert.match(fetch.stdout, /==> 0 fetched, 5 updated, 0 unchanged, 0 local, 0 failed/);
  for (const p of UPDATED) assert.equal(checkoutGit(join(ws.root, 'pkgbuilds', p), 'describe', '--tags').trim(), versionToTag(versions.get(p)![1]));
  // the workspace repository sees the update file by file: PKGBUILD and .SRCINFO of the five
  assert.deepEqual(lines(wsGit('status', '--porcelain', '--untracked-files=all')), UPDATED.flatMap((p) => [` M pkgbuilds/${p}/.SRCINFO`, ` M pkgbuilds/${p}/PKGBUILD`]).sort());
  wsGit('add', 'pkgbuilds');
  wsGit('-c', 'user.email=t@t', '-c', 'user.name=t', 'commit', '-q', '-m', 'port update');

  // 4. what Nx rebuilds
  const affected = ws.nx(['affected', '-t', 'build', `--base=${base}`, '--head=HEAD', '--graph=stdout']);
  assert.equal(affected.status, 0, affected.stderr);
  const out = JSON.parse(affected.stdout.slice(affected.stdout.indexOf('{'))) as {
    graph: { dependencies: Record<string, { target: string }[]> };
    tasks: { tasks: Record<string, unknown>; dependencies: Record<string, { id: string }[]> };
  };
  // The five updated builds plus greet-utils, whose files did not change. `nx affected` works on
  // projects: the touched ones (the five, from the workspace repository's diff) and every project
  // that depends on one of them in the project graph (greet-utils -> hello-cli, a static edge from
  // its depends/checkdepends). Task inputs play no part in that selection, so the `abi` rebuild policy
  // (`dependentTasksOutputFiles: '**/abi.json'`) does not narrow it; it decides at run time whether
  // greet-utils' build hash changed (hello-cli's abi.json) or its build is restored from the cache.
  // The arch=(any) projects (greet-utils, hello-fr, tap-runner, tap-fixtures) add their one build, build-any:any.
  const ANY = ['greet-utils', 'hello-fr', 'tap-fixtures', 'tap-runner'];
  assert.deepEqual(Object.keys(out.tasks.tasks).sort(), [...EXAMPLES.map((p) => `${p}:build:x86_64`), ...ANY.map((p) => `${p}:build-any:any`)].sort());
  assert.deepEqual(out.graph.dependencies[UNCHANGED].map((d) => d.target), ['hello-cli']);
  assert.deepEqual(out.tasks.dependencies[`${UNCHANGED}:build:x86_64`].map((d) => d.id).sort(), [`${UNCHANGED}:build-any:any`, 'hello-cli:build:x86_64']);
  assert.deepEqual(out.tasks.dependencies[`${UNCHANGED}:build-any:any`], [{ id: 'hello-cli:build:x86_64' }]);
  // the selection really comes from the diff: with nothing changed since HEAD, nothing is affected
  const none = ws.nx(['affected', '-t', 'build', '--base=HEAD', '--head=HEAD', '--graph=stdout']);
  assert.equal(none.status, 0, none.stderr);
  const noneOut = JSON.parse(none.stdout.slice(none.stdout.indexOf('{'))) as { tasks: { tasks: Record<string, unknown> } };
  assert.deepEqual(Object.keys(noneOut.tasks.tasks), []);
});
