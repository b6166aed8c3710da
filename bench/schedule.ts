/**
 * Scheduling benchmark: how close does `nx run-many --parallel=N` come to the best possible makespan
 * on a real-shaped dependency graph with uneven build times?
 *
 *   node --require @swc-node/register bench/schedule.ts [--limit 80] [--build-seconds 2] [--work 110] [--parallel 1,2,4]
 *
 * What is measured: NOT makepkg. Each project's bench target only sleeps the duration the synthetic
 * PKGBUILD's build() would sleep (scaled so the total work is --work seconds), so the numbers are Nx's
 * scheduling quality plus its per-task process overhead. Dependencies are exactly the edges the pkgnx
 * plugin gives Nx (sandboxed metadata, libalpm resolution, cycle breaks: tools/src/graph), written as
 * implicitDependencies of bench-only projects.
 * Lower bound per slot count: max(total work / slots, critical path).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { workspaceGraph } from '../tools/src/graph/cached-graph';

const WORKSPACE_ROOT = resolve(__dirname, '..');
const SHARED = resolve(process.env.PKGNX_SHARED ?? resolve(WORKSPACE_ROOT, '..', 'shared'));

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}
const limit = Number(arg('limit', '80'));
const buildSeconds = Number(arg('build-seconds', '2'));
const targetWork = Number(arg('work', '110'));
const slotsList = arg('parallel', '1,2,4').split(',').map(Number);

interface Graph {
  nodes: string[];
  /** pkgbase → the pkgbases it must wait for */
  edges: Map<string, Set<string>>;
  dropped: { from: string; to: string; why: string }[];
  total: number;
}

/** the stand-in build time of a synthetic PKGBUILD: its build() is `sleep S` */
function sleepSeconds(dir: string, pkgbase: string): number {
  return Number(/^\s*sleep ([\d.]+)/m.exec(readFileSync(join(dir, pkgbase, 'PKGBUILD'), 'utf8'))?.[1] ?? '0');
}

/** The edges the pkgnx plugin hands Nx: the real sandboxed metadata, libalpm resolution and cycle breaks. */
async function pkgnxGraph(workspaceRoot: string, pkgbases: string[]): Promise<Graph> {
  const g = await workspaceGraph(workspaceRoot, pkgbases.map((p) => `pkgbuilds/${p}/PKGBUILD`), {}); // no chroot-config: x86_64
  const edges = new Map<string, Set<string>>(pkgbases.map((p) => [p, new Set<string>()]));
  for (const e of g.edges) edges.get(e.source)?.add(e.target);
  const dropped = g.cycles.removed.map((r) => ({ from: r.source, to: r.target, why: `${r.kinds.join('+')}, ${r.reason}` }));
  return { nodes: pkgbases, edges, dropped, total: g.edges.length + dropped.length };
}

function criticalPath(g: Graph, cost: Map<string, number>): { length: number; path: string[] } {
  const memo = new Map<string, { length: number; path: string[] }>();
  const longest = (n: string): { length: number; path: string[] } => {
    const hit = memo.get(n);
    if (hit) return hit;
    let best = { length: 0, path: [] as string[] };
    for (const d of g.edges.get(n) ?? []) {
      const r = longest(d);
      if (r.length > best.length) best = r;
    }
    const r = { length: best.length + (cost.get(n) ?? 0), path: [...best.path, n] };
    memo.set(n, r);
    return r;
  };
  let best = { length: 0, path: [] as string[] };
  for (const n of g.nodes) {
    const r = longest(n);
    if (r.length > best.length) best = r;
  }
  return best;
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'pkgnx-bench-schedule-'));
  const distro = join(work, 'pkgbuilds');
  const dbDir = join(SHARED, 'data', 'syncdb', 'arch-x86_64-2022');
  const dbs = readdirSync(dbDir).filter((f) => f.endsWith('.db.tar.gz')).map((f) => join(dbDir, f));
  const gen = execFileSync(
    process.execPath,
    [join(SHARED, 'bench', 'synth-distro.mjs'), '--out', distro, '--limit', String(limit), '--build-seconds', String(buildSeconds), ...dbs],
    { encoding: 'utf8' },
  );
  const pkgs = readdirSync(distro).sort().map((pkgbase) => ({ pkgbase, sleep: sleepSeconds(distro, pkgbase) }));
  const rawWork = pkgs.reduce((s, p) => s + p.sleep, 0);
  const scale = rawWork > targetWork ? targetWork / rawWork : 1;
  const cost = new Map(pkgs.map((p) => [p.pkgbase, Math.round(p.sleep * scale * 100) / 100]));
  const g = await pkgnxGraph(work, pkgs.map((p) => p.pkgbase));
  const totalWork = [...cost.values()].reduce((a, b) => a + b, 0);
  const cp = criticalPath(g, cost);
  const kept = [...g.edges.values()].reduce((s, e) => s + e.size, 0);

  // a bench-only Nx workspace: one project.json per PKGBUILD dir, nothing else
  mkdirSync(join(work, 'times'));
  symlinkSync(join(WORKSPACE_ROOT, 'node_modules'), join(work, 'node_modules'));
  writeFileSync(join(work, 'package.json'), '{"name":"pkgnx-bench-schedule","private":true}\n');
  writeFileSync(join(work, 'nx.json'), '{"useDaemonProcess":false}\n');
  for (const p of pkgs) {
    const secs = cost.get(p.pkgbase) ?? 0;
    const stamp = (what: string): string => `echo $EPOCHREALTIME > ../../times/${p.pkgbase}.${what}`;
    writeFileSync(
      join(distro, p.pkgbase, 'project.json'),
      JSON.stringify({
        name: p.pkgbase,
        root: `pkgbuilds/${p.pkgbase}`,
        implicitDependencies: [...(g.edges.get(p.pkgbase) ?? [])].sort(),
        targets: {
          'bench-sleep': {
            executor: 'nx:run-commands',
            options: { command: `bash -c '${stamp('start')}; sleep ${secs}; ${stamp('end')}'`, cwd: `pkgbuilds/${p.pkgbase}` },
            dependsOn: ['^bench-sleep'],
            cache: false,
          },
        },
      }),
    );
  }

  console.log(`synthetic subset: ${gen.trim()}`);
  console.log(
    `graph: ${g.nodes.length} projects, ${g.total} resolved edges, ${g.dropped.length} dropped to break cycles ` +
      `(${g.dropped.map((d) => `${d.from}->${d.to} [${d.why}]`).join(', ') || 'none'}), ${kept} kept`,
  );
  const costs = [...cost.values()].sort((a, b) => b - a);
  console.log(
    `task durations: total work ${totalWork.toFixed(1)} s (build() sleeps scaled by ${scale.toFixed(3)}), ` +
      `longest ${costs[0]?.toFixed(1)} s, median ${costs[Math.floor(costs.length / 2)]?.toFixed(2)} s, ` +
      `${costs.filter((c) => c < 0.5).length} tasks under 0.5 s`,
  );
  console.log(`critical path: ${cp.length.toFixed(1)} s (${cp.path.join(' -> ')})`);
  console.log('');
  console.log('measured per --parallel:');
  console.log('  task span = first task start .. last task end (Nx scheduling + per-task process overhead)');
  console.log('  wall      = whole `nx run-many` command (adds Nx start-up and project-graph time)');
  console.log('  bound     = max(total work / slots, critical path)');
  console.log('');
  const header = ['slots', 'bound s', 'task span s', 'span/bound', 'wall s', 'wall/bound', 'verdict'];
  const rows: string[][] = [header];
  for (const slots of slotsList) {
    rmSync(join(work, 'times'), { recursive: true, force: true });
    mkdirSync(join(work, 'times'));
    const t0 = process.hrtime.bigint();
    const r = spawnSync(
      process.execPath,
      [join(work, 'node_modules', 'nx', 'dist', 'bin', 'nx.js'), 'run-many', '-t', 'bench-sleep', `--parallel=${slots}`, '--skip-nx-cache', '--outputStyle=static'],
      { cwd: work, encoding: 'utf8', env: { ...process.env, NX_DAEMON: 'false', NX_TUI: 'false', NX_NO_CLOUD: 'true', NX_SKIP_NX_CACHE: 'true' }, maxBuffer: 1 << 26 },
    );
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0) {
      console.error(r.stdout.slice(-3000), r.stderr.slice(-3000));
      throw new Error(`nx run-many --parallel=${slots} failed (exit ${r.status})`);
    }
    const read = (what: string): number[] =>
      readdirSync(join(work, 'times'))
        .filter((f) => f.endsWith(`.${what}`))
        .map((f) => Number(readFileSync(join(work, 'times', f), 'utf8').trim()));
    const starts = read('start');
    const ends = read('end');
    if (starts.length !== pkgs.length || ends.length !== pkgs.length) throw new Error(`expected ${pkgs.length} task stamps, got ${starts.length}/${ends.length}`);
    const span = Math.max(...ends) - Math.min(...starts);
    const bound = Math.max(totalWork / slots, cp.length);
    const ratio = span / bound;
    rows.push([
      String(slots), bound.toFixed(1), span.toFixed(1), ratio.toFixed(3), wall.toFixed(1), (wall / bound).toFixed(3),
      ratio <= 1.15 ? 'within 15% of bound' : 'MORE than 15% over bound',
    ]);
  }
  const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(`  ${r.map((c, i) => c.padEnd(widths[i])).join('  ')}`);
  rmSync(work, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
