// The extracted metadata must print byte-identical to the real `makepkg --printsrcinfo` (makepkg 6.0.2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WORKSPACE_ROOT, hasCommand, runAsBuildUser } from '../helpers/env';
import { createStats, extractSrcinfo } from '../../tools/src/metadata/extract';
import { parseSrcinfo, writeSrcinfo } from '../../tools/src/srcinfo';

const FIXTURES = join(WORKSPACE_ROOT, 'test', 'fixtures', 'pkgbuilds');
const EXAMPLES = join(WORKSPACE_ROOT, 'pkgbuilds');
const names = readdirSync(FIXTURES).sort();
/** the fixtures and every example package of the workspace */
const cases = [...names.map((n) => ({ name: n, dir: join(FIXTURES, n), set: 'pkgbuilds' })), ...readdirSync(EXAMPLES).sort().map((n) => ({ name: `example:${n}`, dir: join(EXAMPLES, n), set: 'examples' }))];
const caseDir = (tmp: string, c: (typeof cases)[number]): string => join(tmp, c.set, c.name.replace(/^example:/, ''));
const skip = !hasCommand('makepkg') || !hasCommand('bwrap') ? 'makepkg or bwrap not installed' : false;

/** Runs makepkg --printsrcinfo on a copy of every fixture, two at a time. */
type MakepkgOutput = { stdout: string; stderr: string; status: number | null };
let makepkgRun: Promise<Map<string, MakepkgOutput>> | undefined;
/** makepkg --printsrcinfo of every case, run once for the tests that compare with it */
function makepkgOutputs(): Promise<Map<string, MakepkgOutput>> {
  makepkgRun ??= runMakepkg();
  return makepkgRun;
}

async function runMakepkg(): Promise<Map<string, MakepkgOutput>> {
  const tmp = mkdtempSync(join(tmpdir(), 'pkgnx-printsrcinfo-'));
  chmodSync(tmp, 0o777);
  cpSync(FIXTURES, join(tmp, 'pkgbuilds'), { recursive: true });
  cpSync(EXAMPLES, join(tmp, 'examples'), { recursive: true });
  // makepkg reads CARCH from makepkg.conf; the dest dirs must be writable even for --printsrcinfo
  const conf = join(tmp, 'makepkg.conf');
  writeFileSync(conf, 'source /etc/makepkg.conf\nCARCH=x86_64\n');
  execFileSync('chmod', ['-R', 'a+rwX', tmp]);
  const env = { BUILDDIR: tmp, PKGDEST: tmp, SRCDEST: tmp, SRCPKGDEST: tmp, LOGDEST: tmp };
  const results = new Map<string, { stdout: string; stderr: string; status: number | null }>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < cases.length) {
      const c = cases[next++];
      results.set(
        c.name,
        await runAsBuildUser('makepkg', ['--config', conf, '--printsrcinfo'], {
          cwd: caseDir(tmp, c),
          env,
          timeoutMs: 60_000,
        }),
      );
    }
  };
  await Promise.all([worker(), worker()]);
  rmSync(tmp, { recursive: true, force: true });
  return results;
}

test('at least 30 fixtures', () => {
  assert.ok(names.length >= 30, `only ${names.length} fixtures`);
});

for (const staticReading of [false, true])
test(`writeSrcinfo(extractSrcinfo(PKGBUILD)) is byte-identical to makepkg --printsrcinfo (${staticReading ? 'the static reader where it applies, the sandbox for the rest' : 'every PKGBUILD sourced in the sandbox'})`, { skip, timeout: 120_000 }, async () => {
  const stats = createStats();
  const [expected, extracted] = await Promise.all([
    makepkgOutputs(),
    extractSrcinfo(
      cases.map((c) => c.dir),
      { carch: 'x86_64', workspaceRoot: WORKSPACE_ROOT, staticReading, stats },
    ),
  ]);
  // not a comparison that passes by reading nothing one way
  if (staticReading) assert.ok(stats.evaluated >= cases.length / 2 && stats.sourced >= 3, JSON.stringify(stats));
  else assert.equal(stats.evaluated, 0);
  const failures: string[] = [];
  assert.ok(cases.filter((c) => c.set === 'examples').length >= 6, 'every example package is compared');
  for (const { name, dir } of cases) {
    const want = expected.get(name)!;
    if (want.status !== 0) {
      failures.push(`makepkg failed on ${name}: ${want.stderr}`);
      continue;
    }
    const got = extracted.get(dir)!;
    if ('error' in got) {
      failures.push(`${name}: ${got.error}`);
      continue;
    }
    const text = writeSrcinfo(got.srcinfo);
    if (text !== want.stdout) failures.push(`${name}:\n--- makepkg\n${want.stdout}\n--- pkgnx\n${text}`);
    // and the printed text reads back to the same model
    assert.deepEqual(parseSrcinfo(text, name), got.srcinfo, `round trip of ${name}`);
  }
  assert.deepEqual(failures, []);
});

/** n trivial packages pkgbuilds/p000.. under root, pkgver from version(i); their directories, workspace-relative */
function writePackages(root: string, n: number, version: (i: number) => string): string[] {
  const dirs = Array.from({ length: n }, (_, i) => `pkgbuilds/p${String(i).padStart(3, '0')}`);
  for (const [i, d] of dirs.entries()) {
    mkdirSync(join(root, d), { recursive: true });
    writeFileSync(join(root, d, 'PKGBUILD'), `pkgname=p${i}\npkgver=${version(i)}\npkgrel=1\narch=(any)\npackage() { :; }\n`);
  }
  return dirs;
}

test('a cold cache: the first sandbox starts after reading only its own batch of directories, each sourced once, in the caller\'s order', { skip: hasCommand('bwrap') ? false : 'bwrap not installed', timeout: 120_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'pkgnx-srcinfo-lazy-'));
  try {
    const dirs = writePackages(tmp, 150, (i) => `1.${i}`);
    const stats = createStats();
    const readAtSpawn: number[] = [];
    const got = await extractSrcinfo([...dirs].reverse(), { carch: 'x86_64', workspaceRoot: tmp, cacheDir: '.cache/srcinfo', staticReading: false, stats, onSpawn: () => readAtSpawn.push(stats.read) });
    // 64 PKGBUILDs per sandbox: the first starts once 64 directories are read, not 150
    assert.equal(readAtSpawn[0], 64);
    assert.deepEqual({ sourced: stats.sourced, read: stats.read, spawned: stats.spawned }, { sourced: 150, read: 150, spawned: 3 });
    assert.deepEqual([...got.keys()], [...dirs].reverse());
    for (const [i, d] of dirs.entries()) {
      const r = got.get(d)!;
      assert.ok('srcinfo' in r, `${d}: ${'error' in r ? r.error : ''}`);
      assert.ok(r.srcinfo.pkgbase.entries.some(([k, v]) => k === 'pkgver' && v === `1.${i}`), d);
    }
    // all of them cached
    const again = createStats();
    await extractSrcinfo(dirs, { carch: 'x86_64', workspaceRoot: tmp, cacheDir: '.cache/srcinfo', staticReading: false, stats: again });
    assert.deepEqual({ sourced: again.sourced, cacheHits: again.cacheHits, spawned: again.spawned }, { sourced: 0, cacheHits: 150, spawned: 0 });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('a worker that fails stops the others: once the call has rejected, no sandbox starts and nothing more is sourced', { skip: hasCommand('bwrap') ? false : 'bwrap not installed', timeout: 120_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'pkgnx-srcinfo-stop-'));
  try {
    const dirs = writePackages(tmp, 320, () => '1');
    const stats = createStats();
    let spawns = 0;
    // the second sandbox fails as it starts (a fault of pkgnx's own, not of a PKGBUILD); the first one runs on
    const failing = extractSrcinfo(dirs, {
      carch: 'x86_64', workspaceRoot: tmp, concurrency: 2, staticReading: false, stats,
      onSpawn: () => {
        if (++spawns === 2) throw new Error('injected fault');
      },
    });
    await assert.rejects(failing, /injected fault/);
    const atRejection = { ...stats };
    await new Promise((r) => setTimeout(r, 2000));
    assert.deepEqual({ ...stats }, atRejection, 'work went on after the call rejected');
    // the first sandbox's 64 PKGBUILDs, and no third sandbox
    assert.deepEqual({ spawned: stats.spawned, sourced: stats.sourced }, { spawned: 2, sourced: 64 });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('the disk cache: an unchanged set of PKGBUILDs starts no sandbox; a changed one is sourced again', { skip: hasCommand('bwrap') ? false : 'bwrap not installed', timeout: 120_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'pkgnx-srcinfo-cache-'));
  try {
    const picked = names.slice(0, 6);
    cpSync(FIXTURES, join(tmp, 'pkgbuilds'), { recursive: true, filter: (src) => !picked.every((n) => !src.includes(`/${n}`)) || src === FIXTURES });
    const dirs = picked.map((n) => `pkgbuilds/${n}`);
    const options = { carch: 'x86_64', workspaceRoot: tmp, cacheDir: '.cache/srcinfo', staticReading: false };
    const first = createStats();
    const cold = await extractSrcinfo(dirs, { ...options, stats: first });
    assert.ok(first.spawned >= 1);
    assert.equal(first.sourced, picked.length);

    let spawns = 0;
    const second = createStats();
    const warm = await extractSrcinfo(dirs, { ...options, stats: second, onSpawn: () => spawns++ });
    assert.equal(spawns, 0);
    // without Nx's content hashes (a CLI verb) every directory is read again for its key
    assert.deepEqual(second, { spawned: 0, sourced: 0, evaluated: 0, cacheHits: picked.length, read: picked.length });
    assert.deepEqual(warm, cold);
    assert.deepEqual(readdirSync(join(tmp, '.cache/srcinfo')), ['srcinfo-x86_64.json']);

    // another architecture is another key; a changed PKGBUILD is sourced again, alone
    appendFileSync(join(tmp, dirs[0], 'PKGBUILD'), '\npkgdesc="changed"\n');
    const third = createStats();
    const changed = await extractSrcinfo(dirs, { ...options, stats: third });
    assert.deepEqual({ sourced: third.sourced, cacheHits: third.cacheHits }, { sourced: 1, cacheHits: picked.length - 1 });
    const r = changed.get(dirs[0])!;
    assert.ok('srcinfo' in r && r.srcinfo.pkgbase.entries.some(([k, v]) => k === 'pkgdesc' && v === 'changed'));
    const other = createStats();
    await extractSrcinfo(dirs, { ...options, carch: 'aarch64', stats: other });
    assert.equal(other.cacheHits, 0);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
