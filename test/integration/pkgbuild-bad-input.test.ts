// Bad PKGBUILDs give an error that names the file and the cause; the rest of the batch still loads; nothing
// a PKGBUILD does while being sourced reaches the workspace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WORKSPACE_ROOT, hasCommand } from '../helpers/env';
import { createStats, extractSrcinfo, type ExtractResult } from '../../tools/src/metadata/extract';
import { SandboxUnavailableError } from '../../tools/src/metadata/sandbox';

const BAD = join(WORKSPACE_ROOT, 'test', 'fixtures', 'bad-pkgbuilds');
const skip = hasCommand('bwrap') ? false : 'bwrap not installed';
const names = readdirSync(BAD).sort();
const pwnedPaths = [
  join(BAD, 'pwned'),
  join(BAD, 'writes-files', 'pwned-here'),
  join(WORKSPACE_ROOT, 'test', 'pwned-workspace'),
  '/pwned-root',
];

let results: Map<string, ExtractResult> | undefined;
const stats = createStats();
async function all(): Promise<Map<string, ExtractResult>> {
  // one batch (concurrency 1) so every bad PKGBUILD shares a sandbox with the good ones
  results ??= await extractSrcinfo(
    names.map((n) => `test/fixtures/bad-pkgbuilds/${n}`),
    // sourced, all of them: the static reader would read the good ones outside the sandbox
    { carch: 'x86_64', workspaceRoot: WORKSPACE_ROOT, concurrency: 1, timeoutMs: 1500, staticReading: false, stats },
  );
  return results;
}

function errorOf(r: ExtractResult | undefined): string {
  assert.ok(r, 'no result');
  assert.ok('error' in r, `expected an error, got ${JSON.stringify(r)}`);
  return r.error;
}

const cases: [name: string, cause: RegExp][] = [
  ['syntax-error', /syntax error/],
  ['missing-pkgver', /pkgver is not allowed to be empty/],
  ['missing-pkgrel', /pkgrel is not allowed to be empty/],
  ['name-hyphen', /pkgname is not allowed to start with a hyphen/],
  ['name-dot', /pkgname is not allowed to start with a dot/],
  ['name-invalid-chars', /pkgname contains invalid characters: '\/!'/],
  ['bad-pkgver', /pkgver is not allowed to contain colons, forward slashes, hyphens or whitespace/],
  ['bad-pkgrel', /pkgrel must be of the form 'integer\[\.integer\]', not 1a/],
  ['bad-epoch', /epoch must be an integer, not one/],
  ['exit-top-level', /ended the shell while being sourced \(exit status 1\); it must not call exit/],
  ['endless-loop', /took longer than 1\.5 s/],
  ['writes-files', /tried to write files outside \/tmp while being sourced/],
  ['depends-invalid', /depends contains invalid characters: '  '.*pkgrel in depends must be of the form/],
  ['not-an-array', /makedepends can not be set inside a package function.*depends should be an array/],
  ['source-fails', /sourcing failed: its last command returned exit status 1/],
  ['install-path-errors', /changelog file \(c{300}\) does not exist or is not a regular file\.; install file \(PKGBUILD\/x\.install\) does not exist or is not a regular file\./],
];

for (const [name, cause] of cases) {
  test(`${name}: the error names the file and the cause`, { skip, timeout: 120_000 }, async () => {
    const error = errorOf((await all()).get(`test/fixtures/bad-pkgbuilds/${name}`));
    assert.ok(error.startsWith(`test/fixtures/bad-pkgbuilds/${name}/PKGBUILD: `), error);
    assert.match(error.replace(/\n/g, ' '), cause);
  });
}

// makepkg offline prints what such a PKGBUILD falls back to: the result stands, with a warning (the
// sandbox still has no network: the attempt fails)
for (const name of ['network', 'curl-network']) {
  test(`${name}: a PKGBUILD that only tries the network reads as it does offline, with a warning`, { skip, timeout: 120_000 }, async () => {
    const r = (await all()).get(`test/fixtures/bad-pkgbuilds/${name}`);
    assert.ok(r && 'srcinfo' in r, JSON.stringify(r));
    assert.equal(r.srcinfo.pkgbase.name, name);
    assert.match(r.warnings[0], new RegExp(`^test/fixtures/bad-pkgbuilds/${name}/PKGBUILD: tried to open a network connection while being sourced \\(the sandbox has no network\\)`));
  });
}

test('the good PKGBUILDs of the same batch still load', { skip, timeout: 120_000 }, async () => {
  const r = await all();
  for (const name of ['good-one', 'good-two']) {
    const got = r.get(`test/fixtures/bad-pkgbuilds/${name}`);
    assert.ok(got && 'srcinfo' in got, `${name}: ${JSON.stringify(got)}`);
    assert.equal(got.srcinfo.pkgbase.name, name);
  }
  // the endless loop was killed and the batch restarted once with the remaining PKGBUILDs
  assert.equal(stats.spawned, 2);
  assert.equal(stats.sourced, names.length);
});

test('nothing a PKGBUILD wrote while being sourced exists outside the sandbox', { skip, timeout: 120_000 }, async () => {
  await all();
  for (const p of pwnedPaths) assert.equal(existsSync(p), false, `${p} was created`);
});

test('a missing bubblewrap is a clear error for a PKGBUILD that needs bash, never an unsandboxed fallback; one the static reader reads needs no sandbox', { timeout: 30_000 }, async () => {
  // network runs commands at its top level
  await assert.rejects(
    extractSrcinfo(['test/fixtures/bad-pkgbuilds/network', 'test/fixtures/bad-pkgbuilds/good-one'], {
      carch: 'x86_64',
      workspaceRoot: WORKSPACE_ROOT,
      bwrap: '/nonexistent/bwrap',
    }),
    (err: unknown) =>
      err instanceof SandboxUnavailableError && /install it/.test(err.message) && /metadataSource/.test(err.message),
  );
  const s = createStats();
  const r = await extractSrcinfo(['test/fixtures/bad-pkgbuilds/good-one'], { carch: 'x86_64', workspaceRoot: WORKSPACE_ROOT, bwrap: '/nonexistent/bwrap', stats: s });
  const got = r.get('test/fixtures/bad-pkgbuilds/good-one');
  assert.ok(got && 'srcinfo' in got, JSON.stringify(got));
  assert.deepEqual([s.evaluated, s.spawned, s.sourced], [1, 0, 0]);
});

test('metadataSource srcinfo never runs bash and names a missing .SRCINFO', async () => {
  const { readMetadata } = await import('../../tools/src/metadata');
  const r = await readMetadata(WORKSPACE_ROOT, ['test/fixtures/bad-pkgbuilds/good-one'], 'x86_64', { source: 'srcinfo', timeoutSeconds: 10 });
  assert.match(errorOf(r.get('test/fixtures/bad-pkgbuilds/good-one')), /^test\/fixtures\/bad-pkgbuilds\/good-one\/\.SRCINFO: not found/);
});

test('a missing PKGBUILD and a CRLF PKGBUILD are named without starting a sandbox', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pkgnx-bad-'));
  try {
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(join(dir, 'crlf'));
    writeFileSync(join(dir, 'crlf', 'PKGBUILD'), 'pkgname=x\r\npkgver=1\r\n');
    mkdirSync(join(dir, 'empty'));
    const s = createStats();
    const r = await extractSrcinfo(['crlf', 'empty'], { carch: 'x86_64', workspaceRoot: dir, stats: s, bwrap: '/nonexistent/bwrap' });
    assert.match(errorOf(r.get('crlf')), /^crlf\/PKGBUILD: has Windows \(CRLF\) line endings, first on line 1/);
    assert.match(errorOf(r.get('empty')), /^empty\/PKGBUILD: does not exist/);
    assert.equal(s.spawned, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the sandbox also works when pkgnx runs as an ordinary user (a user namespace)', { skip: skip || (process.getuid?.() !== 0 ? 'already unprivileged' : false), timeout: 60_000 }, async () => {
  const { spawnSync } = await import('node:child_process');
  const { cpSync, chmodSync, writeFileSync } = await import('node:fs');
  const { prepareSandbox, sandboxFiles } = await import('../../tools/src/metadata/sandbox');
  const { EMPTY_VIEW } = await import('../../tools/src/metadata/build-root-view');
  // a copy the build user can reach (the checkout itself may sit in a directory only root can enter)
  const dir = mkdtempSync(join(tmpdir(), 'pkgnx-unpriv-'));
  chmodSync(dir, 0o755);
  const pkg = join(dir, 'good-one');
  cpSync(join(BAD, 'good-one'), pkg, { recursive: true });
  const files = sandboxFiles(join(dir, 'data'));
  chmodSync(join(dir, 'data'), 0o755);
  writeFileSync(join(dir, 'probe.sh'), '');
  const uid = Number(spawnSync('id', ['-u', 'builder'], { encoding: 'utf8' }).stdout);
  const gid = Number(spawnSync('id', ['-g', 'builder'], { encoding: 'utf8' }).stdout);
  const launch = prepareSandbox({
    carch: 'aarch64',
    packageDirs: [pkg],
    files,
    view: EMPTY_VIEW,
    driverArgs: ['-c', `echo "$CARCH"; id -u; grep CapEff /proc/self/status; touch /tmp/ok && echo tmp-writable; touch ${pkg}/x 2>/dev/null || echo ro; . ${pkg}/PKGBUILD; echo $pkgname`],
    unprivilegedCaller: true,
  });
  const r = spawnSync('bwrap', launch.args, { stdio: ['ignore', 'pipe', 'pipe', ...launch.fds], encoding: 'utf8', uid, gid });
  launch.close();
  rmSync(dir, { recursive: true, force: true });
  assert.equal(r.stdout, `aarch64\n${uid}\nCapEff:\t0000000000000000\ntmp-writable\nro\ngood-one\n`, r.stderr);
});

/** writes `<root>/<name>/PKGBUILD` */
function pkgbuildWriter(root: string): (name: string, text: string) => void {
  return (name, text) => {
    mkdirSync(join(root, name), { recursive: true });
    writeFileSync(join(root, name, 'PKGBUILD'), text);
  };
}

test('a PKGBUILD cannot forge the metadata of the PKGBUILDs sourced after it in the same sandbox', { skip, timeout: 120_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'pkgnx-forge-'));
  const write = pkgbuildWriter(root);
  const good = (name: string): string => `pkgname=${name}\npkgver=1\npkgrel=1\narch=(any)\ndepends=(honest)\npackage() { :; }\n`;
  // a: a background loop keeps overwriting the record file the driver reads for the next item
  write('a-background', `pkgname=a-background\npkgver=1\npkgrel=1\narch=(any)\n( while :; do printf 'S\\0pkgbase\\0evil\\0' > /tmp/.pkgnx-rec 2>/dev/null; done ) &\npackage() { :; }\n`);
  write('b-victim', good('b-victim'));
  // c: tries to write a result frame for a later item straight into the driver's output
  write('c-frames', `pkgname=c-frames\npkgver=1\npkgrel=1\narch=(any)\nprintf 'R\\0%s\\0000\\0000\\0\\0' 3 > /proc/$$/fd/1 2>/dev/null\npackage() { :; }\n`);
  write('d-victim', good('d-victim'));
  const dirs = ['a-background', 'b-victim', 'c-frames', 'd-victim'].map((n) => join(root, n));
  const got = await extractSrcinfo(dirs, { carch: 'x86_64', workspaceRoot: root, concurrency: 1, timeoutMs: 5000 });
  for (const victim of ['b-victim', 'd-victim']) {
    const r = got.get(join(root, victim));
    assert.ok(r && 'srcinfo' in r, `${victim}: ${JSON.stringify(r)}`);
    assert.equal(r.srcinfo.pkgbase.name, victim);
    assert.deepEqual(r.srcinfo.pkgbase.entries.filter(([k]) => k === 'depends'), [['depends', 'honest']]);
  }
  // the driver's output is a socket, which /proc/<pid>/fd cannot reopen; had the frame arrived, the
  // batch runner would have rejected it as out of order and failed c-frames itself
  const c = got.get(join(root, 'c-frames'));
  assert.ok(c && ('error' in c ? /forged/.test(c.error) : c.srcinfo.pkgbase.name === 'c-frames'), JSON.stringify(c));
  rmSync(root, { recursive: true, force: true });
});

test('nothing a PKGBUILD leaves in the scratch /tmp reaches the PKGBUILDs sourced after it in the same sandbox', { skip, timeout: 120_000 }, async () => {
  // under /tmp, so the sandbox's /tmp also holds the directories bwrap made for the package directories
  const root = mkdtempSync(join(tmpdir(), 'pkgnx-leftover-'));
  const write = pkgbuildWriter(root);
  // each attack leaves something behind in a different way; the driver's scratch files are its record files
  const attacks: Record<string, string> = {
    'a-file': 'echo secret > /tmp/leak',
    'b-hidden-dir': 'mkdir -p /tmp/.d/e && echo secret > /tmp/.d/e/leak && chmod 000 /tmp/.d/e /tmp/.d',
    'c-beside-mounts': `echo secret > "${root}/leak" 2>/dev/null; echo secret > "$startdir/../leak" 2>/dev/null; :`,
    'd-symlink': 'ln -sf /tmp/leak /tmp/.pkgnx-top; echo secret > /tmp/leak',
    'e-hardlink': 'ln -f /tmp/.pkgnx-rec /tmp/.pkgnx-fn',
    'f-fifo': 'rm -f /tmp/.pkgnx-top; mkfifo /tmp/.pkgnx-top',
    'g-unwritable': 'chmod 000 /tmp/.pkgnx-fn /tmp/.pkgnx-err',
  };
  // what a victim looks for: any of it found becomes a dependency, so a leak shows in its metadata
  const victim = (name: string): string =>
    `pkgname=${name}\npkgver=1\npkgrel=1\narch=(any)\ndepends=(honest)\n` +
    `for f in /tmp/leak /tmp/.d "${root}/leak"; do [[ -e $f ]] && depends+=(leaked); done\n` +
    '[[ -L /tmp/.pkgnx-top || -p /tmp/.pkgnx-top ]] && depends+=(leaked-scratch)\n' +
    'package() { :; }\n';
  const dirs: string[] = [];
  for (const [name, attack] of Object.entries(attacks)) {
    write(name, `pkgname=${name}\npkgver=1\npkgrel=1\narch=(any)\n${attack}\npackage() { :; }\n`);
    write(`${name}-victim`, victim(`${name}-victim`));
    dirs.push(join(root, name), join(root, `${name}-victim`));
  }
  // scan mode too: the victims' own use of the driver's scratch files (.pkgnx-top, .pkgnx-fn) must work
  for (const scan of [false, true]) {
    const got = await extractSrcinfo(dirs, { carch: 'x86_64', workspaceRoot: root, concurrency: 1, timeoutMs: 5000, scanArchIndependence: scan });
    for (const name of Object.keys(attacks)) {
      const r = got.get(join(root, `${name}-victim`));
      assert.ok(r && 'srcinfo' in r, `after ${name} (scan ${scan}): ${JSON.stringify(r)}`);
      assert.deepEqual(r.srcinfo.pkgbase.entries.filter(([k]) => k === 'depends'), [['depends', 'honest']], `after ${name} (scan ${scan})`);
    }
  }
  rmSync(root, { recursive: true, force: true });
});

test('only the package directory is visible to its PKGBUILD; a sourced file inside it is part of the cache key', { skip, timeout: 120_000 }, async () => {
  const { mkdirSync, writeFileSync } = await import('node:fs');
  const root = mkdtempSync(join(tmpdir(), 'pkgnx-sourced-'));
  mkdirSync(join(root, 'common'));
  writeFileSync(join(root, 'common', 'ver.sh'), '_v=7\n');
  mkdirSync(join(root, 'outside'));
  writeFileSync(join(root, 'outside', 'PKGBUILD'), 'source ../common/ver.sh\npkgname=outside\npkgver=$_v\npkgrel=1\narch=(any)\npackage() { :; }\n');
  mkdirSync(join(root, 'inside'));
  writeFileSync(join(root, 'inside', 'ver.sh'), '_v=1\n');
  writeFileSync(join(root, 'inside', 'PKGBUILD'), 'source ./ver.sh\npkgname=inside\npkgver=$_v\npkgrel=1\narch=(any)\npackage() { :; }\n');
  const cacheDir = join(root, 'cache');
  const dirs = [join(root, 'outside'), join(root, 'inside')];
  const first = await extractSrcinfo(dirs, { carch: 'x86_64', workspaceRoot: root, cacheDir });
  const outside = first.get(dirs[0]);
  assert.ok(outside && 'error' in outside, `a file outside the package directory must not be readable: ${JSON.stringify(outside)}`);
  const pkgver = (r: ExtractResult | undefined): string | undefined => (r && 'srcinfo' in r ? r.srcinfo.pkgbase.entries.find(([k]) => k === 'pkgver')?.[1] : undefined);
  assert.equal(pkgver(first.get(dirs[1])), '1');
  writeFileSync(join(root, 'inside', 'ver.sh'), '_v=2\n');
  const second = await extractSrcinfo(dirs, { carch: 'x86_64', workspaceRoot: root, cacheDir });
  assert.equal(pkgver(second.get(dirs[1])), '2', 'the edited sourced file must invalidate the cached result');
  // a file in a subdirectory of the package directory too: the edit keeps that subdirectory's own mtime
  mkdirSync(join(root, 'nested', 'files'), { recursive: true });
  writeFileSync(join(root, 'nested', 'files', 'ver.sh'), '_v=1\n');
  writeFileSync(join(root, 'nested', 'PKGBUILD'), 'source ./files/ver.sh\npkgname=nested\npkgver=$_v\npkgrel=1\narch=(any)\npackage() { :; }\n');
  const nested = [join(root, 'nested')];
  assert.equal(pkgver((await extractSrcinfo(nested, { carch: 'x86_64', workspaceRoot: root, cacheDir })).get(nested[0])), '1');
  await new Promise((r) => setTimeout(r, 20));
  writeFileSync(join(root, 'nested', 'files', 'ver.sh'), '_v=3\n');
  const edited = await extractSrcinfo(nested, { carch: 'x86_64', workspaceRoot: root, cacheDir });
  assert.equal(pkgver(edited.get(nested[0])), '3', 'an edited file in a subdirectory must invalidate the cached result');
  rmSync(root, { recursive: true, force: true });
});
