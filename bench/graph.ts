/**
 * bench/graph: the project graph at distribution scale, against Nx's own floor.
 *   node --require @swc-node/register bench/graph.ts [--pkgbuilds DIR] [--arch x86_64,aarch64] [--limit N]
 *        [--runs 3] [--no-daemon] [--check-sharing] [--broken PERCENT] [--sample N]
 * --pkgbuilds DIR: every directory below DIR holding a PKGBUILD becomes a project (default: the 2,618-pkgbase
 * synthetic distribution, ../shared/bench/synth-distro.mjs over the 2022 Arch databases). --arch: the configured
 * architectures (each gets a chroot-config/<arch>/ and so a build configuration).
 * Beside it, the floor: the same files, with a plain project.json in every PKGBUILD directory giving the same
 * project names and dependency edges (implicitDependencies), and no plugin — what Nx itself costs for that many
 * projects. The same without the edges too (a lower floor: Nx's handling of implicitDependencies is costly). Printed, each with its
 * ratio to the floor measured in the same run, and the load average:
 *   - cold (empty Nx, metadata and graph caches), `nx show projects`;
 *   - warm `nx show projects` without the daemon (median of --runs) and the peak memory of the process tree;
 *   - one changed PKGBUILD (a pkgrel bump), `nx show projects`, median of --runs different packages;
 *   - `nx affected -t build --graph=FILE` after a pkgrel bump of the package with the most dependents;
 *   - with the daemon: warm `nx show projects`, the time from saving a PKGBUILD to a command that shows it, and to
 *     `nx sync:check` answering (the graph, then the .SRCINFO sync generator: what a task run waits for);
 *   - --check-sharing: the CARCH sharing's soundness on this set (every PKGBUILD read once for all architectures,
 *     by the static reader or by the sandbox's scan, gives the same .SRCINFO sourced in the sandbox for the second
 *     architecture) and its share;
 *   - the extractor's cost per PKGBUILD (static reader where it applies, the sandbox for the rest; and the sandbox
 *     alone) against `makepkg --printsrcinfo` on a sample.
 * Figures only: nothing here asserts.
 */
import { appendFileSync, closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { createStats, extractSrcinfo } from '../tools/src/metadata/extract';

const ROOT = resolve(__dirname, '..');
const SHARED = resolve(process.env.PKGNX_SHARED ?? resolve(ROOT, '..', 'shared'));
const { values } = parseArgs({
  options: {
    pkgbuilds: { type: 'string' },
    arch: { type: 'string', default: 'x86_64' },
    limit: { type: 'string' },
    runs: { type: 'string', default: '3' },
    'no-daemon': { type: 'boolean', default: false },
    'check-sharing': { type: 'boolean', default: false },
    broken: { type: 'string', default: '0' },
    sample: { type: 'string', default: '6' },
  },
});
const ARCHS = values.arch.split(',').filter(Boolean);
const RUNS = Math.max(1, Number(values.runs));
const BASE_ENV = { NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', FORCE_COLOR: '0', CI: '' };

interface Measured {
  ms: number;
  out: string;
  /** the largest sum of resident memory of the command's process tree, sampled every 25 ms (MiB) */
  peakMiB: number;
  /** user + system CPU time of the command and its descendants (ms): less bent by a busy machine than wall time */
  cpuMs: number;
}

/** resident memory of pid and its descendants (MiB), from /proc */
function treeRssMiB(root: number): number {
  const children = new Map<number, number[]>();
  const rss = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const pid = Number(entry);
      const ppid = Number(fields[1]);
      rss.set(pid, (Number(fields[21]) * 4096) / 2 ** 20);
      children.set(ppid, [...(children.get(ppid) ?? []), pid]);
    } catch {
      // the process ended while we looked
    }
  }
  let total = 0;
  const todo = [root];
  while (todo.length) {
    const pid = todo.pop()!;
    total += rss.get(pid) ?? 0;
    todo.push(...(children.get(pid) ?? []));
  }
  return total;
}

/** runs a command, timing it and sampling its tree's memory; stdout goes to a file (Nx exits before a large pipe drains) */
function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<Measured> {
  const outFile = join(tmpdir(), `pkgnx-bench-out-${process.pid}`);
  const fd = openSync(outFile, 'w');
  const t0 = process.hrtime.bigint();
  const timeFile = `${outFile}.time`;
  const child = spawn('/usr/bin/time', ['-o', timeFile, '-f', '%U %S', cmd, ...args], { cwd, stdio: ['ignore', fd, 'pipe'], env: { ...process.env, ...BASE_ENV, ...env } });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  let peakMiB = 0;
  const sampler = setInterval(() => {
    if (child.pid) peakMiB = Math.max(peakMiB, treeRssMiB(child.pid));
  }, 25);
  return new Promise((done, fail) => {
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      clearInterval(sampler);
      closeSync(fd);
      const out = readFileSync(outFile, 'utf8');
      const [user, system] = (readFileSync(timeFile, 'utf8').trim().split('\n').pop() ?? '').split(' ').map(Number);
      rmSync(outFile, { force: true });
      rmSync(timeFile, { force: true });
      if (code !== 0) fail(new Error(`${cmd} ${args.join(' ')} failed (${code}) in ${cwd}:\n${stderr}\n${out}`));
      else done({ ms, out, peakMiB, cpuMs: (user + system) * 1000 });
    });
  });
}
function sh(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const load = (): string => `load ${loadavg()[0].toFixed(2)}`;
const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;
const line = (label: string, value: string, rest = ''): void => console.log(`${label.padEnd(58)} ${value.padStart(9)}  ${rest}`);

function commitAll(ws: string, message: string): void {
  sh('git', ['add', '-A'], ws);
  sh('git', ['-c', 'user.email=b@b', '-c', 'user.name=b', 'commit', '-q', '--allow-empty', '-m', message], ws);
}

/** directories (relative to dir) that hold a PKGBUILD */
function pkgbuildDirs(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue;
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name === 'PKGBUILD') found.push(relative(dir, d));
    }
  };
  walk(dir);
  return found.sort();
}

function nxWorkspace(prefix: string): string {
  const ws = mkdtempSync(join(tmpdir(), prefix));
  for (const p of ['tsconfig.base.json', 'tsconfig.json', 'package.json']) cpSync(join(ROOT, p), join(ws, p));
  symlinkSync(join(ROOT, 'node_modules'), join(ws, 'node_modules'));
  writeFileSync(join(ws, '.gitignore'), 'node_modules\n.nx\ndist\n');
  sh('git', ['init', '-q', '-b', 'main'], ws);
  return ws;
}

/** a workspace with this repository's plugin, one chroot-config per architecture, and the PKGBUILD directories */
function pluginWorkspace(brokenPercent: number): { ws: string; dirs: string[] } {
  const ws = nxWorkspace('pkgnx-bench-graph-');
  for (const p of ['tools', 'nx.json', '.env']) cpSync(join(ROOT, p), join(ws, p), { recursive: true });
  for (const arch of ARCHS) {
    const from = join(ROOT, 'chroot-config', existsSync(join(ROOT, 'chroot-config', arch)) ? arch : 'x86_64');
    cpSync(from, join(ws, 'chroot-config', arch), { recursive: true });
  }
  if (values.pkgbuilds) {
    const src = resolve(values.pkgbuilds);
    const all = pkgbuildDirs(src);
    for (const d of values.limit ? all.slice(0, Number(values.limit)) : all) cpSync(join(src, d), join(ws, 'pkgbuilds', d), { recursive: true });
  } else {
    const dbs = ['core', 'extra', 'multilib'].map((r) => join(SHARED, 'data', 'syncdb', 'arch-x86_64-2022', `${r}.db.tar.gz`));
    sh(process.execPath, [join(SHARED, 'bench', 'synth-distro.mjs'), '--out', join(ws, 'pkgbuilds'), ...(values.limit ? ['--limit', values.limit] : []), ...dbs], ws);
  }
  const dirs = pkgbuildDirs(join(ws, 'pkgbuilds'));
  if (brokenPercent > 0) {
    const every = Math.max(1, Math.round(100 / brokenPercent));
    const kinds = ['\npkgver=(\n', '\nexit 1\n', '\noptions=(pestrip)\n'];
    dirs.forEach((d, i) => {
      if (i % every === 0) appendFileSync(join(ws, 'pkgbuilds', d, 'PKGBUILD'), kinds[(i / every) % kinds.length]);
    });
  }
  commitAll(ws, 'packages');
  return { ws, dirs };
}

interface GraphJson {
  graph: { nodes: Record<string, { data: { root: string } }>; dependencies: Record<string, { target: string }[]> };
}

/**
 * the floor: the same files (so Nx hashes as much), and the same project names and edges as plain project.json
 * projects with one build target each, without the plugin
 */
function floorWorkspace(graph: GraphJson, from: string, withEdges = true): string {
  const ws = nxWorkspace(withEdges ? 'pkgnx-bench-floor-' : 'pkgnx-bench-plain-');
  cpSync(join(from, 'pkgbuilds'), join(ws, 'pkgbuilds'), { recursive: true });
  // the same nx.json and .env as the plugin's workspace, without the plugin: what Nx itself costs
  const nxJson = JSON.parse(readFileSync(join(ROOT, 'nx.json'), 'utf8')) as Record<string, unknown>;
  delete nxJson.plugins;
  delete nxJson.sync;
  writeFileSync(join(ws, 'nx.json'), JSON.stringify(nxJson, null, 2));
  cpSync(join(ROOT, '.env'), join(ws, '.env'));
  for (const [name, node] of Object.entries(graph.graph.nodes)) {
    const deps = (graph.graph.dependencies[name] ?? []).map((d) => d.target).filter((t) => t !== name && graph.graph.nodes[t]);
    const config = {
      name,
      targets: { build: { executor: 'nx:run-commands', options: { command: 'true' }, dependsOn: ['^build'], configurations: Object.fromEntries(ARCHS.map((a) => [a, {}])) } },
      implicitDependencies: withEdges ? [...new Set(deps)] : [],
    };
    mkdirSync(join(ws, node.data.root), { recursive: true });
    writeFileSync(join(ws, node.data.root, 'project.json'), JSON.stringify(config));
  }
  commitAll(ws, 'projects');
  return ws;
}

const nxOf = (ws: string): string => join(ws, 'node_modules', '.bin', 'nx');

async function warm(ws: string): Promise<{ ms: number; cpuMs: number; peakMiB: number; all: number[] }> {
  const runs: Measured[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await run(nxOf(ws), ['show', 'projects'], ws));
  return { ms: median(runs.map((r) => r.ms)), cpuMs: median(runs.map((r) => r.cpuMs)), peakMiB: Math.max(...runs.map((r) => r.peakMiB)), all: runs.map((r) => r.ms) };
}

function bumpPkgrel(file: string): void {
  const text = readFileSync(file, 'utf8');
  const bumped = text.replace(/^pkgrel=(['"]?)(\d+)(?:\.\d+)?\1/m, (_m, q: string, rel: string) => `pkgrel=${q}${Number(rel) + 1}${q}`);
  writeFileSync(file, bumped === text ? `${text}\n# bench change ${Date.now()}\n` : bumped);
}

/** the project with the most dependents (transitively): a low library, as a zlib bump */
function lowestLibrary(graph: GraphJson): { name: string; dependents: number } {
  const reverse = new Map<string, string[]>();
  for (const [from, deps] of Object.entries(graph.graph.dependencies)) for (const d of deps) if (d.target !== from) reverse.set(d.target, [...(reverse.get(d.target) ?? []), from]);
  let best = { name: Object.keys(graph.graph.nodes)[0], dependents: 0 };
  // direct dependents first, then the transitive count of the best 20
  const candidates = [...reverse.entries()].sort((a, b) => b[1].length - a[1].length).slice(0, 20);
  for (const [name] of candidates) {
    const seen = new Set<string>();
    const todo = [name];
    while (todo.length) for (const r of reverse.get(todo.pop()!) ?? []) if (!seen.has(r)) (seen.add(r), todo.push(r));
    if (seen.size > best.dependents) best = { name, dependents: seen.size };
  }
  return best;
}

async function affectedAfterChange(ws: string, change: () => void): Promise<{ ms: number; cpuMs: number; peakMiB: number; tasks: number; selectMs: number; selected: number }> {
  commitAll(ws, 'base');
  change();
  // the selection alone (which projects), then the task graph Nx would run
  const select = await run(nxOf(ws), ['show', 'projects', '--affected', '--base=HEAD'], ws);
  const out = join(ws, 'affected.json');
  const r = await run(nxOf(ws), ['affected', '-t', 'build', '--base=HEAD', `--graph=${out}`], ws);
  const tasks = Object.keys((JSON.parse(readFileSync(out, 'utf8')) as { tasks: { tasks: Record<string, unknown> } }).tasks.tasks).length;
  rmSync(out);
  sh('git', ['checkout', '-q', '--', '.'], ws);
  return { ms: r.ms, cpuMs: r.cpuMs, peakMiB: r.peakMiB, tasks, selectMs: select.ms, selected: select.out.trim().split('\n').length };
}

/** with the daemon: warm, and the time from saving a file until `nx show project` prints the change */
async function daemon(
  ws: string,
  project: string,
  marker: (i: number) => void,
  sees: (out: string, i: number) => boolean,
  syncCheck = false,
): Promise<{ warm: number; save: number[]; syncCheck: number[] }> {
  const env = { NX_DAEMON: 'true' };
  await run(nxOf(ws), ['daemon', '--stop'], ws, env).catch(() => undefined);
  await run(nxOf(ws), ['show', 'projects'], ws, env); // starts the daemon and computes the graph
  const warmRuns: number[] = [];
  for (let i = 0; i < RUNS; i++) warmRuns.push((await run(nxOf(ws), ['show', 'projects'], ws, env)).ms);
  const save: number[] = [];
  for (let i = 1; i <= RUNS; i++) {
    marker(i);
    const t0 = process.hrtime.bigint();
    // the next command after a save must show it; an old graph would fail `sees`
    for (let tries = 0; ; tries++) {
      const r = await run(nxOf(ws), ['show', 'project', project, '--json'], ws, env);
      if (sees(r.out, i)) break;
      if (tries === 0) console.log(`  (daemon: the first command after save ${i} showed the old graph)`);
      if (tries > 50) throw new Error('the daemon never saw the change');
    }
    save.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  // what a task run waits for after a save: the graph, then the workspace's sync generators (.SRCINFO); its exit
  // status says only whether some .SRCINFO is stale
  const checks: number[] = [];
  for (let i = 1; syncCheck && i <= RUNS; i++) {
    marker(RUNS + i);
    const t0 = process.hrtime.bigint();
    await run(nxOf(ws), ['sync:check'], ws, env).catch(() => undefined);
    checks.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  await run(nxOf(ws), ['daemon', '--stop'], ws, env).catch(() => undefined);
  return { warm: median(warmRuns), save, syncCheck: checks };
}

async function checkSharing(ws: string, dirs: string[]): Promise<void> {
  if (ARCHS.length < 2) return console.log('check-sharing: needs two architectures (--arch)');
  const abs = dirs.map((d) => join(ws, 'pkgbuilds', d));
  const stats = createStats();
  const scanned = await extractSrcinfo(abs, { carch: ARCHS[0], workspaceRoot: ws, scanArchIndependence: true, stats });
  const independent = abs.filter((d) => {
    const r = scanned.get(d);
    return r !== undefined && !('error' in r) && r.archIndependent === true;
  });
  // the second architecture sourced in bash, whatever read the first
  const other = await extractSrcinfo(independent, { carch: ARCHS[1], workspaceRoot: ws, staticReading: false });
  const differ = independent.filter((d) => {
    const a = scanned.get(d);
    const b = other.get(d);
    return !a || !b || 'error' in a || 'error' in b || !isDeepStrictEqual(a.srcinfo, b.srcinfo);
  });
  console.log(`CARCH sharing: ${independent.length} of ${abs.length} PKGBUILDs (${((independent.length / abs.length) * 100).toFixed(1)}%) read once for ${ARCHS.join('+')} (${stats.evaluated} by the static reader); sourced in the sandbox for ${ARCHS[1]}, ${differ.length} differ${differ.length ? `: ${differ.slice(0, 10).map((d) => relative(ws, d)).join(', ')}` : ''}`);
}

async function main(): Promise<void> {
  const { ws, dirs } = pluginWorkspace(0);
  console.log(`bench/graph: ${dirs.length} PKGBUILDs (${values.pkgbuilds ? resolve(values.pkgbuilds) : 'synthetic'}), architectures ${ARCHS.join(',')}, ${cpus().length} cores, ${load()}`);
  console.log(`workspaces: ${ws} and its floor; --runs ${RUNS}`);

  rmSync(join(ws, '.nx'), { recursive: true, force: true });
  const cold = await run(nxOf(ws), ['show', 'projects'], ws);
  const count = cold.out.trim().split('\n').length;
  await run(nxOf(ws), ['graph', `--file=${join(ws, 'graph.json')}`], ws);
  const graph = JSON.parse(readFileSync(join(ws, 'graph.json'), 'utf8')) as GraphJson;
  rmSync(join(ws, 'graph.json'));
  const floor = floorWorkspace(graph, ws);
  const floorCold = await run(nxOf(floor), ['show', 'projects'], floor);
  line(`cold, nx show projects (${count} projects)`, s(cold.ms), `floor ${s(floorCold.ms)}; ${(cold.ms / dirs.length).toFixed(2)} ms per PKGBUILD (${ARCHS.length} arch); CPU ${s(cold.cpuMs)}; ${load()}`);

  const w = await warm(ws);
  const fw = await warm(floor);
  line('warm, nx show projects, no daemon (median)', s(w.ms), `floor ${s(fw.ms)}: ${ratio(w.ms, fw.ms)}  [${w.all.map(s).join(', ')}] [floor ${fw.all.map(s).join(', ')}]; ${load()}`);
  line('  CPU time (user+system, median)', s(w.cpuMs), `floor ${s(fw.cpuMs)}: ${ratio(w.cpuMs, fw.cpuMs)}`);
  line('peak memory, warm (process tree)', `${w.peakMiB.toFixed(0)} MiB`, `floor ${fw.peakMiB.toFixed(0)} MiB: ${ratio(w.peakMiB, fw.peakMiB)}`);
  // the same floor without dependency edges (Nx's implicitDependencies cost much at this size): the lower floor
  const plain = floorWorkspace(graph, ws, false);
  await run(nxOf(plain), ['show', 'projects'], plain);
  const pw = await warm(plain);
  line('  against a floor without edges: warm, CPU, memory', s(pw.ms), `${ratio(w.ms, pw.ms)}; CPU ${s(pw.cpuMs)}: ${ratio(w.cpuMs, pw.cpuMs)}; ${pw.peakMiB.toFixed(0)} MiB: ${ratio(w.peakMiB, pw.peakMiB)}; ${load()}`);
  if (!process.env.PKGNX_BENCH_KEEP) rmSync(plain, { recursive: true, force: true });

  const picks = [0.1, 0.5, 0.9].slice(0, RUNS).map((f) => dirs[Math.floor(f * (dirs.length - 1))]);
  const changed: number[] = [];
  for (const d of picks) {
    bumpPkgrel(join(ws, 'pkgbuilds', d, 'PKGBUILD'));
    changed.push((await run(nxOf(ws), ['show', 'projects'], ws)).ms);
  }
  sh('git', ['checkout', '-q', '--', '.'], ws);
  await run(nxOf(ws), ['show', 'projects'], ws);
  line('one changed PKGBUILD, nx show projects (median)', s(median(changed)), `warm ${s(w.ms)}: ${ratio(median(changed), w.ms)}  [${changed.map(s).join(', ')}]; ${load()}`);

  const low = lowestLibrary(graph);
  const lowRoot = graph.graph.nodes[low.name].data.root;
  const aff = await affectedAfterChange(ws, () => bumpPkgrel(join(ws, lowRoot, 'PKGBUILD')));
  const floorProject = join(floor, lowRoot, 'project.json');
  // Nx itself may fail here on a large graph ("Invalid string length" writing the task graph): say so
  const floorAff = await affectedAfterChange(floor, () => writeFileSync(floorProject, JSON.stringify({ ...(JSON.parse(readFileSync(floorProject, 'utf8')) as object), tags: ['bumped'] }))).catch((e: unknown) => {
    sh('git', ['checkout', '-q', '--', '.'], floor);
    return `failed: ${(e instanceof Error ? e.message : String(e)).split('\n').filter((l) => /\w/.test(l)).slice(1, 3).join(' ').trim()}`;
  });
  const floorText = typeof floorAff === 'string' ? `floor ${floorAff}` : `floor ${s(floorAff.ms)} (${floorAff.tasks} tasks): ${ratio(aff.ms, floorAff.ms)}`;
  const floorSelect = typeof floorAff === 'string' ? '' : `; floor ${s(floorAff.selectMs)}: ${ratio(aff.selectMs, floorAff.selectMs)}`;
  line(`nx show projects --affected, ${low.name} bumped`, s(aff.selectMs), `${aff.selected} projects; warm ${ratio(aff.selectMs, w.ms)}${floorSelect}`);
  line(`nx affected -t build --graph, ${low.name} bumped`, s(aff.ms), `${aff.tasks} tasks, ${aff.peakMiB.toFixed(0)} MiB, CPU ${s(aff.cpuMs)}; warm ${ratio(aff.ms, w.ms)}; ${floorText}; ${load()}`);
  await run(nxOf(ws), ['show', 'projects'], ws);

  if (!values['no-daemon']) {
    const pick = dirs[Math.floor(dirs.length / 3)];
    const file = join(ws, 'pkgbuilds', pick, 'PKGBUILD');
    const project = Object.entries(graph.graph.nodes).find(([, n]) => n.data.root === join('pkgbuilds', pick))?.[0] ?? pick;
    const original = readFileSync(file, 'utf8');
    // a new pkgrel per save: the version the graph must show
    const d = await daemon(
      ws,
      project,
      (i) => writeFileSync(file, `${original}\npkgrel=${100 + i}\n`),
      (out, i) => new RegExp(`"description":"[^"]*-${100 + i}"`).test(out.replace(/\s/g, '')),
      true,
    ).catch((e: unknown) => {
      writeFileSync(file, original);
      throw e;
    });
    writeFileSync(file, original);
    const floorFile = join(floor, lowRoot, 'project.json');
    const floorOriginal = readFileSync(floorFile, 'utf8');
    const fd = await daemon(
      floor,
      low.name,
      (i) => writeFileSync(floorFile, JSON.stringify({ ...(JSON.parse(floorOriginal) as object), tags: [`save-${i}`] })),
      (out, i) => out.includes(`"save-${i}"`),
    );
    writeFileSync(floorFile, floorOriginal);
    line('daemon: warm nx show projects (median)', s(d.warm), `floor ${s(fd.warm)}: ${ratio(d.warm, fd.warm)}; ${load()}`);
    line('daemon: save a PKGBUILD → a command shows it (median)', s(median(d.save)), `[${d.save.map(s).join(', ')}]; floor ${s(median(fd.save))}: ${ratio(median(d.save), median(fd.save))}`);
    const stale = dirs.filter((dir) => !existsSync(join(ws, 'pkgbuilds', dir, '.SRCINFO'))).length;
    line(
      'daemon: save a PKGBUILD → nx sync:check answers (median)',
      s(median(d.syncCheck)),
      `[${d.syncCheck.map(s).join(', ')}]; save→shown ${ratio(median(d.syncCheck), median(d.save))}; ${stale} of ${dirs.length} without a .SRCINFO; ${load()}`,
    );
  }

  const brokenPercent = Number(values.broken);
  if (brokenPercent > 0) {
    const broken = pluginWorkspace(brokenPercent);
    rmSync(join(broken.ws, '.nx'), { recursive: true, force: true });
    const bc = await run(nxOf(broken.ws), ['show', 'projects'], broken.ws);
    const bw = await warm(broken.ws);
    line(`with ${brokenPercent}% broken PKGBUILDs: cold, warm`, s(bc.ms), `warm ${s(bw.ms)}; broken/intact: cold ${ratio(bc.ms, cold.ms)}, warm ${ratio(bw.ms, w.ms)}; ${load()}`);
    if (!process.env.PKGNX_BENCH_KEEP) rmSync(broken.ws, { recursive: true, force: true });
  }

  if (values['check-sharing']) await checkSharing(ws, dirs);

  // per-PKGBUILD cost: the extractor on every PKGBUILD (no cache), and the sandbox alone, against makepkg on a sample
  const abs = dirs.map((d) => join(ws, 'pkgbuilds', d));
  const perPkgbuild = async (staticReading: boolean): Promise<number> => {
    const t0 = process.hrtime.bigint();
    await extractSrcinfo(abs, { carch: ARCHS[0], workspaceRoot: ws, staticReading });
    return Number(process.hrtime.bigint() - t0) / 1e6 / abs.length;
  };
  const oursMs = await perPkgbuild(true);
  const sandboxMs = await perPkgbuild(false);
  const sample = abs.filter((_, i) => i % Math.max(1, Math.floor(abs.length / Number(values.sample))) === 0).slice(0, Number(values.sample));
  const scratch = mkdtempSync(join(tmpdir(), 'pkgnx-bench-makepkg-'));
  spawnSync('chmod', ['-R', 'a+rwX', scratch, ws]);
  const asUser = process.getuid?.() === 0 ? ['runuser', '-u', process.env.PKGNX_BUILD_USER ?? 'builder', '--'] : [];
  const makepkgMs: number[] = [];
  for (const dir of sample) {
    const env = { BUILDDIR: scratch, PKGDEST: scratch, SRCDEST: scratch, SRCPKGDEST: scratch, LOGDEST: scratch };
    const argv = [...asUser, 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), 'makepkg', '--printsrcinfo'];
    makepkgMs.push(await run(argv[0], argv.slice(1), dir).then((r) => r.ms, () => NaN));
  }
  const ok = makepkgMs.filter((m) => !Number.isNaN(m));
  const mp = ok.reduce((a, b) => a + b, 0) / Math.max(1, ok.length);
  line('per PKGBUILD: extractor (static reader, sandbox)', `${oursMs.toFixed(2)} ms`, `makepkg --printsrcinfo ${mp.toFixed(0)} ms (sample of ${ok.length}, one at a time): ${(mp / oursMs).toFixed(0)}x; the sandbox alone ${sandboxMs.toFixed(1)} ms: ${(mp / sandboxMs).toFixed(0)}x; ${load()}`);
  rmSync(scratch, { recursive: true, force: true });
  if (!process.env.PKGNX_BENCH_KEEP) for (const d of [ws, floor]) rmSync(d, { recursive: true, force: true });
  else console.log(`kept ${ws} ${floor}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
