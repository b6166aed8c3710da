/**
 * The exported GitLab pipeline run for real by gitlab-ci-local 4.73.0 (shell executor, --shell-isolation: every
 * job in its own copy of the repository, like a fresh clone), with `pkgnx cache-server` on versitygw as the only
 * thing jobs share: no job starts before its needs, every job's dependencies arrive from the remote cache, and
 * the publish job's repository holds the same packages as a one-machine run. For the examples (rootfs backend,
 * real compilers) and for a 30-package synthetic subset (host backend, cheap builds).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { makeTempWorkspace, type TempWorkspace } from '../helpers/nx-workspace';
import { ensureRootfs } from '../helpers/rootfs';
import { SHARED, SHARED_DATA, WORKSPACE_ROOT, hasCommand, sharedAvailable } from '../helpers/env';
import { RW_TOKEN, startCacheServerProcess, type CacheServerProcess } from '../helpers/farm';
import { startVersitygw, type S3TestServer, versitygwSkip } from '../helpers/s3-server';
import type { RunSummary } from '../../tools/src/packaging/run-summary';

const root = ensureRootfs('x86_64');
const skip = root.skipReason || versitygwSkip() || (hasCommand('rsync') ? false : 'gitlab-ci-local needs rsync');
let s3: S3TestServer;
let cache: CacheServerProcess;
/** workspaces (and the job copies inside them) removed at the end */
const made: string[] = [];

before(async () => {
  if (skip) return;
  s3 = await startVersitygw();
  await s3.createBucket('farm-glci');
  cache = await startCacheServerProcess(s3, 'farm-glci');
});

after(async () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
  if (skip) return;
  await cache.stop();
  await s3.stop();
});

const FARM = {
  architectures: { x86_64: { gitlabTags: ['pkgnx-x86_64'] } },
  // a runner's fresh clone has no node_modules and no build root: link the test's
  setup: ['ln -sfn "$PKGNX_NODE_MODULES" node_modules', 'mkdir -p .pkgnx && ln -sfn "$PKGNX_ROOTFS" .pkgnx/rootfs'],
  jobTimeoutMinutes: 30,
  publish: { command: 'ls dist/{arch}/repo > published-{arch}.txt' },
};

function pkgnx(cwd: string, args: string[]): string {
  const r = spawnSync(process.execPath, ['--require', '@swc-node/register', join(WORKSPACE_ROOT, 'tools', 'bin', 'pkgnx.ts'), ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, SWC_NODE_PROJECT: join(WORKSPACE_ROOT, 'tsconfig.json') },
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stderr;
}

function commitAll(dir: string): void {
  // as in the repository: the plugin runs inside the nx process (each job starts nx once or twice)
  writeFileSync(join(dir, '.env'), 'NX_ISOLATE_PLUGINS=false\n');
  spawnSync('git', ['add', '-A'], { cwd: dir });
  spawnSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', 'commit', '-qm', 'farm'], { cwd: dir });
}

interface JobRun {
  name: string;
  needs: string[];
  tasks: string[];
  summary: RunSummary;
  dir: string;
}

/** export the pipeline, run it with gitlab-ci-local, and read every job's run summary from its own copy */
function runPipeline(ws: TempWorkspace): { jobs: Map<string, JobRun>; output: string } {
  const graph = ws.nx(['run-many', '-t', 'build', '--graph=tasks.json']);
  assert.equal(graph.status, 0, graph.stderr);
  pkgnx(ws.root, ['pipeline', '--from', 'tasks.json', '--gitlab', 'pkgnx-child.yml']);
  const yml = parse(readFileSync(join(ws.root, 'pkgnx-child.yml'), 'utf8')) as Record<string, { needs?: string[]; script?: string[] }>;
  const glci = spawnSync(
    join(WORKSPACE_ROOT, 'node_modules', '.bin', 'gitlab-ci-local'),
    [
      '--file', 'pkgnx-child.yml', '--shell-isolation', '--concurrency', '2', '--no-color',
      '--variable', `NX_SELF_HOSTED_REMOTE_CACHE_SERVER=${cache.url}`,
      '--variable', `NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN=${RW_TOKEN}`,
      '--variable', `PKGNX_NODE_MODULES=${join(WORKSPACE_ROOT, 'node_modules')}`,
      '--variable', `PKGNX_ROOTFS=${join(WORKSPACE_ROOT, '.pkgnx', 'rootfs')}`,
    ],
    { cwd: ws.root, encoding: 'utf8', maxBuffer: 1 << 28, timeout: 1_800_000, env: { ...process.env, NX_SELF_HOSTED_REMOTE_CACHE_SERVER: '', FORCE_COLOR: '0' } },
  );
  const output = `${glci.stdout}${glci.stderr}`;
  assert.equal(glci.status, 0, output.slice(-8000));
  // each job ran in its own copy .gitlab-ci-local/builds/<escaped job name>/: find it by what it ran
  const builds = join(ws.root, '.gitlab-ci-local', 'builds');
  const runs = readdirSync(builds)
    .map((d) => join(builds, d))
    .filter((d) => existsSync(join(d, 'dist', 'summary.json')))
    .map((dir) => ({ dir, summary: JSON.parse(readFileSync(join(dir, 'dist', 'summary.json'), 'utf8')) as RunSummary, published: readdirSync(dir).some((f) => f.startsWith('published-')) }));
  const jobs = new Map<string, JobRun>();
  for (const [name, job] of Object.entries(yml)) {
    if (!job.script || name.startsWith('fan-in:')) continue;
    const tasks = /farm-job (.*)$/.exec(job.script[0])?.[1]?.split(' ') ?? [];
    const run = name.startsWith('publish:') ? runs.find((r) => r.published) : runs.find((r) => !r.published && r.summary.built.map(id).join(' ') === tasks.join(' '));
    assert.ok(run, `no job copy ran ${name}`);
    jobs.set(name, { name, needs: job.needs ?? [], tasks, summary: run.summary, dir: run.dir });
  }
  return { jobs, output };
}

const id = (e: { project: string; target: string; configuration?: string }): string => `${e.project}:${e.target}:${e.configuration}`;

/** what every pipeline run must show */
function checkFarm(jobs: Map<string, JobRun>, expectedTasks: number): void {
  const builds = [...jobs.values()].filter((j) => j.name.startsWith('build:'));
  assert.equal(builds.length, expectedTasks);
  for (const j of builds) {
    // no job starts before its needs: its run began after each needed job's run had ended
    for (const n of j.needs) {
      const dep = jobs.get(n);
      if (!dep) continue;
      assert.ok(Date.parse(j.summary.startTime ?? '') >= Date.parse(dep.summary.endTime ?? ''), `${j.name} started before ${n} ended`);
    }
    // its own task was built here, every dependency task came from the remote cache
    assert.deepEqual(j.summary.built.map(id), j.tasks, `${j.name} built ${j.summary.built.map(id)}`);
    assert.deepEqual(j.summary.failed, []);
    for (const r of j.summary.restored) assert.equal(r.from, 'remote-cache', `${j.name}: ${id(r)} from ${r.from}`);
  }
}

function packagesIn(dir: string, arch = 'x86_64'): Record<string, string> {
  const repo = join(dir, 'dist', arch, 'repo');
  const out: Record<string, string> = {};
  for (const f of readdirSync(repo).filter((n) => n.endsWith('.pkg.tar.zst')).sort()) {
    // the package's files and metadata, without the build date
    const info = spawnSync('bsdtar', ['-xOf', join(repo, f), '.PKGINFO'], { encoding: 'utf8' }).stdout.replace(/^builddate = .*$/m, '');
    const files = spawnSync('bsdtar', ['-tf', join(repo, f)], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l && !l.startsWith('.')).sort().join(' ');
    out[f] = `${info}\n${files}`;
  }
  return out;
}

test('the examples: the exported pipeline runs in gitlab-ci-local with the remote cache as the only shared state', { skip, timeout: 1_800_000 }, () => {
  const ws = makeTempWorkspace({ copyExamples: true, prefix: 'pkgnx-glci-ex-' });
  made.push(ws.root);
  writeFileSync(join(ws.root, 'pkgnx.config.json'), `${JSON.stringify({ farm: FARM }, null, 2)}\n`);
  writeFileSync(join(ws.root, '.gitignore'), 'node_modules\ndist\n.nx\nlogs\n.pkgnx\n.gitlab-ci-local\ntasks.json\n');
  commitAll(ws.root);
  const { jobs, output } = runPipeline(ws);
  // 6 projects; the 4 arch=(any) ones also have their one build (build-any:any) as a job
  checkFarm(jobs, 10);
  assert.ok(jobs.get('build:hello-cli:x86_64')?.summary.restored.some((r) => r.project === 'libhello'), 'hello-cli got libhello from the cache');
  assert.match(output, /farm-job: 1 dependency task\(s\) restored from the remote cache/);
  // the publish job restored the whole repository from the cache: the same packages as one machine builds
  const publish = jobs.get('publish:x86_64');
  assert.ok(publish, 'publish job ran');
  assert.equal(publish.summary.counts.built, 0);
  assert.match(readFileSync(join(publish.dir, 'published-x86_64.txt'), 'utf8'), /hello-cli-1\.0\.0-1-x86_64\.pkg\.tar\.zst/);
  mkdirSync(join(ws.root, '.pkgnx'), { recursive: true });
  symlinkSync(join(WORKSPACE_ROOT, '.pkgnx', 'rootfs'), join(ws.root, '.pkgnx', 'rootfs'));
  const single = ws.nx(['run-many', '-t', 'build', '--outputStyle=static'], { NX_SELF_HOSTED_REMOTE_CACHE_SERVER: '' });
  assert.equal(single.status, 0, (single.stdout + single.stderr).slice(-4000));
  assert.deepEqual(packagesIn(publish.dir), packagesIn(ws.root));
});

test('a 30-package synthetic subset: the same, with cheap host-backend builds', { skip: skip || (!sharedAvailable && 'needs ../shared'), timeout: 1_800_000 }, () => {
  const ws = makeTempWorkspace({ prefix: 'pkgnx-glci-synth-' });
  made.push(ws.root);
  chmodSync(ws.root, 0o755); // the host backend's build user reads the job copies below it
  const dbs = ['core', 'extra'].map((r) => join(SHARED_DATA, 'syncdb', 'arch-x86_64-2022', `${r}.db.tar.gz`));
  const gen = spawnSync(process.execPath, [join(SHARED, 'bench', 'synth-distro.mjs'), '--out', join(ws.root, 'pkgbuilds'), '--limit', '30', '--build-seconds', '0.2', ...dbs], { encoding: 'utf8' });
  assert.equal(gen.status, 0, gen.stderr);
  const nxJson = JSON.parse(readFileSync(join(ws.root, 'nx.json'), 'utf8')) as { targetDefaults: { build: { options: Record<string, unknown> } } };
  nxJson.targetDefaults.build.options = { ...nxJson.targetDefaults.build.options, backend: 'host' };
  writeFileSync(join(ws.root, 'nx.json'), `${JSON.stringify(nxJson, null, 2)}\n`);
  writeFileSync(join(ws.root, 'pkgnx.config.json'), `${JSON.stringify({ farm: FARM }, null, 2)}\n`);
  writeFileSync(join(ws.root, '.gitignore'), 'node_modules\ndist\n.nx\nlogs\n.pkgnx\n.gitlab-ci-local\ntasks.json\n');
  commitAll(ws.root);
  const { jobs } = runPipeline(ws);
  // 30 projects; the arch=(any) ones also have their one build (build-any:any) as a job
  const tasks = Object.keys((JSON.parse(readFileSync(join(ws.root, 'tasks.json'), 'utf8')) as { tasks: { tasks: Record<string, unknown> } }).tasks.tasks);
  assert.equal(tasks.filter((t) => t.split(':')[1] !== 'build-any').length, 30);
  checkFarm(jobs, tasks.length);
  const withDeps = [...jobs.values()].filter((j) => j.name.startsWith('build:') && j.summary.restored.length > 0);
  assert.ok(withDeps.length > 0, 'some synthetic packages depend on others');
  const publish = jobs.get('publish:x86_64') as JobRun;
  const single = ws.nx(['run-many', '-t', 'build', '--outputStyle=static'], { NX_SELF_HOSTED_REMOTE_CACHE_SERVER: '' });
  assert.equal(single.status, 0, (single.stdout + single.stderr).slice(-4000));
  const farm = packagesIn(publish.dir);
  assert.ok(Object.keys(farm).length >= 30);
  assert.deepEqual(farm, packagesIn(ws.root));
});

