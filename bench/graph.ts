/**
 * bench/graph: graph creation at distribution scale.
 *   node --require @swc-node/register bench/graph.ts [--limit N] [--sample N] [--broken PERCENT]
 * Builds the 2,618-pkgbase synthetic distribution (../shared/bench/synth-distro.mjs over the 2022 Arch
 * databases) into a temporary Nx workspace with this repository's plugin, then prints:
 *   - cold graph time (`nx show projects` with empty Nx, metadata and graph caches),
 *   - warm `nx show projects` (median of 3),
 *   - `nx show projects` after one changed PKGBUILD (median of 3 different changes),
 *   - per-PKGBUILD metadata cost of the sandboxed batch extractor against `makepkg --printsrcinfo` on a sample.
 * With --broken P, the same figures for a second copy of the distribution in which P% of the PKGBUILDs are broken
 * (a syntax error, an exit, an unknown makepkg option, in turn), against the intact one in the same run.
 * Without the Nx daemon, as CI runs. Figures only: nothing here asserts.
 */
import { appendFileSync, closeSync, cpSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { extractSrcinfo } from '../tools/src/metadata/extract';

const ROOT = resolve(__dirname, '..');
const SHARED = process.env.PKGNX_SHARED ?? resolve(ROOT, '..', 'shared');
const { values } = parseArgs({ options: { limit: { type: 'string' }, sample: { type: 'string', default: '6' }, broken: { type: 'string', default: '0' } } });

function sh(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): { ms: number; out: string } {
  // stdout goes to a file: Nx exits before a large piped output is drained
  const outFile = join(tmpdir(), `pkgnx-bench-out-${process.pid}`);
  const fd = openSync(outFile, 'w');
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', fd, 'pipe'], env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', ...env }, maxBuffer: 1 << 28 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  closeSync(fd);
  const out = readFileSync(outFile, 'utf8');
  rmSync(outFile, { force: true });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr}\n${out}`);
  return { ms, out };
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/** a workspace holding the synthetic distribution, this repository's plugin and one chroot-config */
function makeWorkspace(brokenPercent: number): { ws: string; pkgbases: string[] } {
  const ws = mkdtempSync(join(tmpdir(), 'pkgnx-bench-graph-'));
  const dbs = ['core', 'extra', 'multilib'].map((r) => join(SHARED, 'data', 'syncdb', 'arch-x86_64-2022', `${r}.db.tar.gz`));
  sh(process.execPath, [join(SHARED, 'bench', 'synth-distro.mjs'), '--out', join(ws, 'pkgbuilds'), ...(values.limit ? ['--limit', values.limit] : []), ...dbs], ws);
  for (const p of ['tools', 'tsconfig.base.json', 'tsconfig.json', 'package.json', 'nx.json', '.env']) cpSync(join(ROOT, p), join(ws, p), { recursive: true });
  mkdirSync(join(ws, 'chroot-config'), { recursive: true });
  cpSync(join(ROOT, 'chroot-config', 'x86_64'), join(ws, 'chroot-config', 'x86_64'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(ws, 'node_modules'));
  writeFileSync(join(ws, '.gitignore'), 'node_modules\n.nx\ndist\n');
  const pkgbases = readdirSync(join(ws, 'pkgbuilds')).sort();
  if (brokenPercent > 0) {
    const every = Math.max(1, Math.round(100 / brokenPercent));
    const kinds = ['\npkgver=(\n', '\nexit 1\n', '\noptions=(pestrip)\n'];
    pkgbases.forEach((p, i) => {
      if (i % every === 0) appendFileSync(join(ws, 'pkgbuilds', p, 'PKGBUILD'), kinds[(i / every) % kinds.length]);
    });
  }
  sh('git', ['init', '-q', '-b', 'main'], ws);
  sh('git', ['add', '-A'], ws);
  sh('git', ['-c', 'user.email=b@b', '-c', 'user.name=b', 'commit', '-qm', 'synthetic distribution'], ws);
  return { ws, pkgbases };
}

/** cold and warm nx show projects; returns the warm median */
function coldAndWarm(label: string, ws: string): { cold: number; warm: number; count: number } {
  const nx = join(ws, 'node_modules', '.bin', 'nx');
  rmSync(join(ws, '.nx'), { recursive: true, force: true });
  const cold = sh(nx, ['show', 'projects'], ws);
  const count = cold.out.trim().split('\n').length;
  console.log(`${label}cold graph (empty caches), nx show projects:     ${s(cold.ms)}  (${count} projects)`);
  const warm = [0, 1, 2].map(() => sh(nx, ['show', 'projects'], ws).ms);
  console.log(`${label}warm nx show projects (median of 3):             ${s(median(warm))}  [${warm.map(s).join(', ')}]`);
  return { cold: cold.ms, warm: median(warm), count };
}

async function main(): Promise<void> {
  const { ws, pkgbases } = makeWorkspace(0);
  const nx = join(ws, 'node_modules', '.bin', 'nx');

  console.log(`bench/graph: ${pkgbases.length} pkgbases, ${cpus().length} cores, load ${loadavg()[0].toFixed(2)}, workspace ${ws}`);

  const intact = coldAndWarm('', ws);

  const changed = [pkgbases[10], pkgbases[1000], pkgbases[2000]].filter(Boolean).map((name) => {
    const file = join(ws, 'pkgbuilds', name, 'PKGBUILD');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^pkgrel='?([0-9.]+)'?$/m, (_m, rel: string) => `pkgrel=${Number(rel) + 1}`));
    return sh(nx, ['show', 'projects'], ws).ms;
  });
  console.log(`one changed PKGBUILD, nx show projects (median): ${s(median(changed))}  [${changed.map(s).join(', ')}]`);

  const brokenPercent = Number(values.broken);
  if (brokenPercent > 0) {
    const broken = makeWorkspace(brokenPercent);
    console.log(`with ${brokenPercent}% broken PKGBUILDs (load ${loadavg()[0].toFixed(2)}):`);
    const b = coldAndWarm('  ', broken.ws);
    console.log(`  broken/intact: cold ${(b.cold / intact.cold).toFixed(2)}x, warm ${(b.warm / intact.warm).toFixed(2)}x`);
    if (!process.env.PKGNX_BENCH_KEEP) rmSync(broken.ws, { recursive: true, force: true });
  }

  // per-PKGBUILD cost: the batch extractor on every PKGBUILD (no cache) against makepkg on a sample
  const dirs = pkgbases.map((p) => join(ws, 'pkgbuilds', p));
  const t0 = process.hrtime.bigint();
  await extractSrcinfo(dirs, { carch: 'x86_64', workspaceRoot: ws });
  const oursMs = Number(process.hrtime.bigint() - t0) / 1e6 / dirs.length;
  const sample = pkgbases.filter((_, i) => i % Math.max(1, Math.floor(pkgbases.length / Number(values.sample))) === 0).slice(0, Number(values.sample));
  const scratch = mkdtempSync(join(tmpdir(), 'pkgnx-bench-makepkg-'));
  spawnSync('chmod', ['-R', 'a+rwX', scratch, ws]);
  const asUser = process.getuid?.() === 0 ? ['runuser', '-u', process.env.PKGNX_BUILD_USER ?? 'builder', '--'] : [];
  const makepkgMs = sample.map((p) => {
    const env = { BUILDDIR: scratch, PKGDEST: scratch, SRCDEST: scratch, SRCPKGDEST: scratch, LOGDEST: scratch };
    const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    const argv = [...asUser, 'env', ...envArgs, 'makepkg', '--printsrcinfo'];
    return sh(argv[0], argv.slice(1), join(ws, 'pkgbuilds', p)).ms;
  });
  const mp = makepkgMs.reduce((a, b) => a + b, 0) / makepkgMs.length;
  console.log(`per PKGBUILD: batch sandbox ${oursMs.toFixed(1)} ms (all ${dirs.length}, ${cpus().length} parallel batches), makepkg --printsrcinfo ${mp.toFixed(0)} ms (sample of ${sample.length}, one at a time): ratio ${(mp / oursMs).toFixed(0)}x`);
  rmSync(scratch, { recursive: true, force: true });
  if (!process.env.PKGNX_BENCH_KEEP) rmSync(ws, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
