/**
 * Build-farm benchmark: how close do 1, 2 and 4 machines that share nothing but the remote cache come to the
 * best possible makespan of the synthetic build-seconds subset?
 *
 *   node --require @swc-node/register bench/farm.ts [--limit 40] [--build-seconds 2] [--work 240] [--workers 1,2,4]
 *
 * Set-up: versitygw + `pkgnx cache-server` (as in the tests; scripts/install-test-tools.sh installs
 * versitygw). Every worker is its own `git clone` of a bench workspace whose projects sleep what the synthetic
 * PKGBUILD's build() would sleep (scaled so the total work is --work seconds), with the edges the pkgnx plugin
 * gives Nx (like bench/schedule.ts). The jobs and their needs are the GitLab plan `pkgnx pipeline` makes
 * (tools/src/farm/plan.ts); a dispatcher hands a job to an idle worker once all its needs are done (longest
 * remaining path first), and the worker runs `nx run-many -t bench-sleep -p <project>` in its clone: its
 * dependencies arrive from the remote cache, its output goes up to it. Bound per worker count:
 * max(total work / workers, critical path). Prints figures; asserts nothing.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { workspaceGraph } from '../tools/src/graph/cached-graph';
import { validateFarmConfig } from '../tools/src/farm/farm-config';
import { planPipeline, type PlannedJob } from '../tools/src/farm/plan';
import type { FarmTaskGraph } from '../tools/src/farm/task-graph';
import { RW_TOKEN, startCacheServerProcess } from '../test/helpers/farm';
import { startVersitygw } from '../test/helpers/s3-server';

const WORKSPACE_ROOT = resolve(__dirname, '..');
const SHARED = resolve(process.env.PKGNX_SHARED ?? resolve(WORKSPACE_ROOT, '..', 'shared'));

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}
const limit = Number(arg('limit', '40'));
const buildSeconds = Number(arg('build-seconds', '2'));
const targetWork = Number(arg('work', '240'));
const workerCounts = arg('workers', '1,2,4').split(',').map(Number);

const sleepOf = (dir: string, p: string): number => Number(/^\s*sleep ([\d.]+)/m.exec(readFileSync(join(dir, p, 'PKGBUILD'), 'utf8'))?.[1] ?? '0');

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  return new Promise((res) => {
    const c = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    c.stdout.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    c.stderr.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    c.on('close', (code) => res({ code: code ?? 1, output }));
  });
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'pkgnx-bench-farm-'));
  // the edges come from a pkgnx workspace (chroot-config and build root for the metadata sandbox) ...
  const meta = join(work, 'meta');
  mkdirSync(join(meta, '.pkgnx'), { recursive: true });
  cpSync(join(WORKSPACE_ROOT, 'chroot-config'), join(meta, 'chroot-config'), { recursive: true });
  symlinkSync(join(WORKSPACE_ROOT, '.pkgnx', 'rootfs'), join(meta, '.pkgnx', 'rootfs'));
  // ... the bench workspace has only the PKGBUILD directories and a project.json in each
  const origin = join(work, 'origin');
  const distro = join(meta, 'pkgbuilds');
  const dbDir = join(SHARED, 'data', 'syncdb', 'arch-x86_64-2022');
  const dbs = readdirSync(dbDir).filter((f) => f.endsWith('.db.tar.gz')).map((f) => join(dbDir, f));
  const gen = execFileSync(process.execPath, [join(SHARED, 'bench', 'synth-distro.mjs'), '--out', distro, '--limit', String(limit), '--build-seconds', String(buildSeconds), ...dbs], { encoding: 'utf8' });
  const pkgs = readdirSync(distro).sort();
  const raw = new Map(pkgs.map((p) => [p, sleepOf(distro, p)]));
  const rawWork = [...raw.values()].reduce((a, b) => a + b, 0);
  const scale = rawWork > 0 ? targetWork / rawWork : 1;
  const cost = new Map(pkgs.map((p) => [p, Math.round((raw.get(p) ?? 0) * scale * 100) / 100]));
  const g = await workspaceGraph(meta, pkgs.map((p) => `pkgbuilds/${p}/PKGBUILD`), { architectures: ['x86_64'] });
  const deps = new Map<string, string[]>(pkgs.map((p) => [p, []]));
  for (const e of g.edges) deps.get(e.source)?.push(e.target);

  // the bench workspace: one project.json per PKGBUILD dir with a cacheable sleeping target
  cpSync(distro, join(origin, 'pkgbuilds'), { recursive: true });
  const times = join(work, 'times');
  symlinkSync(join(WORKSPACE_ROOT, 'node_modules'), join(origin, 'node_modules'));
  writeFileSync(join(origin, 'package.json'), '{"name":"pkgnx-bench-farm","private":true}\n');
  writeFileSync(join(origin, 'nx.json'), '{"useDaemonProcess":false,"cacheDirectory":".nx/cache"}\n');
  writeFileSync(join(origin, '.gitignore'), 'node_modules\ndist\n.nx\n');
  // as in the repository (.env): Nx's plugins run inside the nx process, not one worker process each
  writeFileSync(join(origin, '.env'), 'NX_ISOLATE_PLUGINS=false\n');
  for (const p of pkgs) {
    const stamp = (what: string): string => `echo $EPOCHREALTIME > ${times}/${p}.${what}`;
    writeFileSync(
      join(origin, 'pkgbuilds', p, 'project.json'),
      JSON.stringify({
        name: p,
        root: `pkgbuilds/${p}`,
        implicitDependencies: [...(deps.get(p) ?? [])].sort(),
        targets: {
          'bench-sleep': {
            executor: 'nx:run-commands',
            options: { command: `bash -c '${stamp('start')}; sleep ${cost.get(p)}; mkdir -p ../../dist/bench/${p} && echo ${p} > ../../dist/bench/${p}/out; ${stamp('end')}'`, cwd: `pkgbuilds/${p}` },
            dependsOn: ['^bench-sleep'],
            cache: true,
            inputs: ['{projectRoot}/**/*', { externalDependencies: [] }],
            outputs: [`{workspaceRoot}/dist/bench/${p}`],
          },
        },
      }),
    );
  }
  execFileSync('bash', ['-c', 'git init -q -b main && git add -A && git -c user.email=b@b -c user.name=b commit -qm bench'], { cwd: origin });

  // the farm's jobs as `pkgnx pipeline` plans them
  const graph: FarmTaskGraph = {
    tasks: pkgs.map((p) => ({ id: `${p}:bench-sleep:x86_64`, project: p, target: 'bench-sleep', configuration: 'x86_64' })),
    deps: new Map(pkgs.map((p) => [`${p}:bench-sleep:x86_64`, (deps.get(p) ?? []).map((d) => `${d}:bench-sleep:x86_64`)])),
  };
  const plan = planPipeline(graph, validateFarmConfig({ architectures: { x86_64: { gitlabTags: ['bench'] } }, maxJobs: 10_000 }, 'bench'), 'gitlab', 'bench');
  const tail = new Map<string, number>();
  const remaining = (j: PlannedJob): number => {
    const known = tail.get(j.name);
    if (known !== undefined) return known;
    const own = j.tasks.reduce((s, t) => s + (cost.get(t.project) ?? 0), 0);
    const after = Math.max(0, ...plan.jobs.filter((x) => x.needs.includes(j.name)).map(remaining));
    tail.set(j.name, own + after);
    return own + after;
  };
  const totalWork = [...cost.values()].reduce((a, b) => a + b, 0);
  const cp = Math.max(...plan.jobs.map(remaining));

  const s3 = await startVersitygw();
  console.log(`synthetic subset: ${gen.trim()}`);
  console.log(`graph: ${pkgs.length} projects, ${g.edges.length} edges kept; ${plan.jobs.length} jobs (${plan.fanIns} fan-in)`);
  console.log(`work ${totalWork.toFixed(1)} s (build() sleeps scaled by ${scale.toFixed(3)}), critical path ${cp.toFixed(1)} s`);
  console.log('');
  console.log('  span  = first task start .. last task end (what the farm adds: Nx start-up, graph, cache restore/upload per job)');
  console.log('  bound = max(total work / workers, critical path)');
  const rows: string[][] = [['workers', 'bound s', 'span s', 'span/bound', 'wall s', 'verdict']];
  try {
    for (const n of workerCounts) {
      const bucket = `bench-farm-${n}`;
      await s3.createBucket(bucket);
      const cache = await startCacheServerProcess(s3, bucket);
      rmSync(times, { recursive: true, force: true });
      mkdirSync(times);
      const clones = Array.from({ length: n }, (_, i) => {
        const dir = join(work, `w${n}-${i}`);
        execFileSync('git', ['clone', '-q', origin, dir]);
        symlinkSync(join(WORKSPACE_ROOT, 'node_modules'), join(dir, 'node_modules'));
        return dir;
      });
      const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', CI: 'true', NX_SELF_HOSTED_REMOTE_CACHE_SERVER: cache.url, NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: RW_TOKEN };
      const done = new Set<string>();
      const started = new Set<string>();
      const builds = plan.jobs.filter((j) => j.kind !== 'publish');
      const t0 = performance.now();
      let failed = '';
      await Promise.all(
        clones.map(async (dir) => {
          for (;;) {
            const ready = builds.filter((j) => !started.has(j.name) && j.needs.every((x) => done.has(x))).sort((a, b) => remaining(b) - remaining(a));
            if (failed || started.size === builds.length) return;
            const job = ready[0];
            if (!job) {
              await new Promise((r) => setTimeout(r, 20));
              continue;
            }
            started.add(job.name);
            if (job.kind === 'build') {
              const { code, output } = await run(process.execPath, [join(dir, 'node_modules', 'nx', 'dist', 'bin', 'nx.js'), 'run-many', '-t', 'bench-sleep', '-p', job.tasks.map((t) => t.project).join(','), '--outputStyle=static'], dir, env);
              if (code !== 0) failed = `${job.name} failed in ${dir}:\n${output}`;
            }
            done.add(job.name);
          }
        }),
      );
      const wall = (performance.now() - t0) / 1000;
      await cache.stop();
      if (failed) throw new Error(failed);
      const read = (what: string): number[] => readdirSync(times).filter((f) => f.endsWith(`.${what}`)).map((f) => Number(readFileSync(join(times, f), 'utf8').trim()));
      const starts = read('start');
      const ends = read('end');
      if (starts.length !== pkgs.length) throw new Error(`${n} workers: ${starts.length} of ${pkgs.length} tasks ran (the rest came from the cache?)`);
      const span = Math.max(...ends) - Math.min(...starts);
      const bound = Math.max(totalWork / n, cp);
      rows.push([String(n), bound.toFixed(1), span.toFixed(1), (span / bound).toFixed(3), wall.toFixed(1), span / bound <= 1.25 ? 'within 1.25x of bound' : 'MORE than 1.25x over bound']);
    }
  } finally {
    await s3.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(`  ${r.map((c, i) => c.padEnd(widths[i])).join('  ')}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
