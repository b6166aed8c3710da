/**
 * Benchmark of the port-maintenance comparison on the real 2022 databases (core+extra+multilib, 3,568
 * packages) against a derived target with ~10% of pkgbases lowered, beside the predecessor's approach
 * of spawning `vercmp` once per compared pair (measured on a sample and extrapolated per pair).
 *   node --require @swc-node/register bench/upstream.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readSyncDatabase, type SyncDatabase } from '../tools/src/syncdb';
import { analyzeRepositories, compareRepositories } from '../tools/src/upstream';
import { RepoSet } from '../tools/src/repo-set';
import { descFromPackage, writeSyncDatabase } from '../test/helpers/syncdb-writer';

const DATA = resolve(__dirname, '..', '..', 'shared', 'data', 'syncdb', 'arch-x86_64-2022');
const REPOS = ['core', 'extra', 'multilib'];
const SAMPLE = 300;

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pkgnx-bench-'));
  try {
    const upstreamDbs: SyncDatabase[] = [];
    for (const r of REPOS) upstreamDbs.push(await readSyncDatabase(join(DATA, `${r}.db.tar.gz`)));
    // derived target: every 10th pkgbase (sorted) gets pkgrel 0, i.e. older by vercmp
    const bases = [...new Set(upstreamDbs.flatMap((d) => d.packages.map((p) => p.base)))].sort();
    const lowered = new Set(bases.filter((_, i) => i % 10 === 0));
    for (const db of upstreamDbs) {
      await writeSyncDatabase(join(dir, `${db.repo}.db.tar.gz`), db.packages.map((p) =>
        descFromPackage(p, { version: lowered.has(p.base) ? p.version.replace(/-[^-]+$/, '-0') : p.version, arch: p.arch === 'any' ? 'any' : 'aarch64' })));
    }

    let t0 = process.hrtime.bigint();
    const up = await Promise.all(REPOS.map((r) => readSyncDatabase(join(DATA, `${r}.db.tar.gz`))));
    const tg = await Promise.all(REPOS.map((r) => readSyncDatabase(join(dir, `${r}.db.tar.gz`))));
    const parseMs = ms(t0);
    t0 = process.hrtime.bigint();
    const upstream = new RepoSet(up.map((database) => ({ database })));
    const target = new RepoSet(tg.map((database) => ({ database })));
    const indexMs = ms(t0);
    t0 = process.hrtime.bigint();
    const plan = compareRepositories(upstream, target, { includeMissing: false });
    const compareMs = ms(t0);
    t0 = process.hrtime.bigint();
    const analysis = analyzeRepositories(upstream, target);
    const analyzeMs = ms(t0);

    const pairs = plan.comparisons.filter((c) => c.targetVersion !== null).map((c) => [c.targetVersion as string, c.upstreamVersion]);
    const sample = pairs.filter((_, i) => i % Math.max(1, Math.floor(pairs.length / SAMPLE)) === 0).slice(0, SAMPLE);
    t0 = process.hrtime.bigint();
    for (const [a, b] of sample) {
      try {
        execFileSync('vercmp', [a, b], { encoding: 'utf8' });
      } catch (e) {
        throw new Error(`vercmp not runnable: ${(e as Error).message}`);
      }
    }
    const spawnMs = ms(t0);
    const perPair = spawnMs / sample.length;
    const extrapolated = perPair * pairs.length;

    const usage = process.resourceUsage();
    const mem = process.memoryUsage();
    const line = (k: string, v: string): void => console.log(`${k.padEnd(44)} ${v}`);
    line('upstream packages / pkgbases', `${upstream.packages.length} / ${upstream.bases.size}`);
    line('target packages / pkgbases (10% lowered)', `${target.packages.length} / ${target.bases.size} (${lowered.size} lowered)`);
    line('parse 6 databases (gzip + tar + desc)', `${parseMs.toFixed(0)} ms`);
    line('index both sides (RepoSet)', `${indexMs.toFixed(0)} ms`);
    line('compare + missing deps + order', `${compareMs.toFixed(1)} ms (${plan.upgrades.length} upgrades, ${plan.entries.length} entries, ${plan.cycles.length} cycles)`);
    line('repo-analyze (all sections)', `${analyzeMs.toFixed(1)} ms (${analysis.brokenDeps.length} broken, ${analysis.unsatisfiedDeps.length} unsatisfied)`);
    line('wall time, parse to plan + analysis', `${(parseMs + indexMs + compareMs + analyzeMs).toFixed(0)} ms`);
    line('peak RSS (resourceUsage.maxRSS)', mb(usage.maxRSS * 1024));
    line('heap used now', mb(mem.heapUsed));
    line('compared pairs (pkgbases on both sides)', `${pairs.length}`);
    line(`spawned vercmp, sample of ${sample.length} pairs`, `${spawnMs.toFixed(0)} ms = ${perPair.toFixed(2)} ms/pair`);
    line('spawned vercmp, extrapolated to all pairs', `${extrapolated.toFixed(0)} ms (per-pair cost x ${pairs.length})`);
    line('ratio: spawned vercmp / in-process compare', `${(extrapolated / compareMs).toFixed(0)}x (comparison only, parsing excluded on both sides)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: Error) => {
  console.error(e.message);
  process.exit(1);
});
