/**
 * The `fetch` verb as a user runs it: a real process, git counted through a PATH wrapper, killed
 * mid-clone to prove that an interrupted fetch leaves no half-written pkgbuilds/<pkgbase>.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WORKSPACE_ROOT } from '../helpers/env';
import { checkoutGit, createFixtureHost, tempDir, type FixtureHost } from '../helpers/git-fixtures';
import { startAurServer } from '../helpers/aur-server';

const CLI = join(WORKSPACE_ROOT, 'tools/src/cli/fetch.ts');
const REGISTER = require.resolve('@swc-node/register', { paths: [WORKSPACE_ROOT] });
const REAL_GIT = spawnSync('bash', ['-c', 'command -v git'], { encoding: 'utf8' }).stdout.trim();

let host: FixtureHost;
let aur: FixtureHost;
before(() => {
  host = createFixtureHost('pkgnx-cli-gitlab-');
  aur = createFixtureHost('pkgnx-cli-aur-');
  host.publish('vim', 'vim', [{ version: '9.1.1730-1' }, { version: '9.1.1734-1' }]);
  host.publish('gcc', 'gcc', [{ version: '14.2.1+r134+gab884fffe3fc-1' }]);
  aur.publish('yay', 'yay', [{ version: '12.4.2-1', tag: false }], 'master');
});
const workspaces: string[] = [];
after(() => {
  host.cleanup();
  aur.cleanup();
  for (const w of workspaces) rmSync(w, { recursive: true, force: true });
});

interface Ws {
  root: string;
  gitLog: string;
  env: NodeJS.ProcessEnv;
}

function workspace(): Ws {
  const root = tempDir('pkgnx-cli-ws-');
  workspaces.push(root);
  const bin = join(root, '.bin');
  mkdirSync(bin);
  const gitLog = join(root, 'git.log');
  writeFileSync(gitLog, '');
  // counts every git process and, when asked, hangs after a clone so the test can kill the fetch mid-way
  writeFileSync(
    join(bin, 'git'),
    `#!/bin/bash\necho "$*" >> "${gitLog}"\nif [ "$1" = clone ] && [ -n "$PKGNX_TEST_SLOW_CLONE" ]; then "${REAL_GIT}" "$@"; rc=$?; touch "$PKGNX_TEST_SLOW_CLONE"; sleep 60; exit $rc; fi\nexec "${REAL_GIT}" "$@"\n`,
  );
  chmodSync(join(bin, 'git'), 0o755);
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, SWC_NODE_PROJECT: join(WORKSPACE_ROOT, 'tsconfig.json') };
  return { root, gitLog, env };
}

function runCli(ws: Ws, args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--require', REGISTER, CLI, '--url-template', host.urlTemplate, '--aur-url-template', aur.urlTemplate, '--no-aur-rpc', ...args], {
    cwd: ws.root,
    env: ws.env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const gitCalls = (ws: Ws): string[] => readFileSync(ws.gitLog, 'utf8').split('\n').filter(Boolean);

test('fetch, up to date without git, update; dry run changes nothing', async () => {
  const ws = workspace();
  const dry = runCli(ws, ['--packages', 'vim=9.1.1730-1', '--aur', '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.equal(dry.stdout, 'Processing vim (fetching from AUR)...\n');
  const dry2 = runCli(ws, ['--packages', 'vim=9.1.1730-1', '--dry-run']);
  assert.equal(dry2.stdout, 'Processing vim (fetching 9.1.1730-1)...\n');
  assert.deepEqual(gitCalls(ws), []);
  assert.ok(!existsSync(join(ws.root, 'pkgbuilds')));

  const first = runCli(ws, ['--packages', 'vim=9.1.1730-1']);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^Processing vim \(fetching 9\.1\.1730-1\)\.\.\.\n==> 1 fetched/);

  writeFileSync(ws.gitLog, '');
  const same = runCli(ws, ['--packages', 'vim=9.1.1730-1']);
  assert.match(same.stdout, /^Processing vim \(already up to date: 9\.1\.1730-1\)\.\.\./);
  assert.deepEqual(gitCalls(ws), [], 'no git process at all');

  const dry3 = runCli(ws, ['--packages', 'vim=9.1.1734-1', '--dry-run']);
  assert.equal(dry3.stdout, 'Processing vim (updating 9.1.1730-1 -> 9.1.1734-1)...\n');
  assert.deepEqual(gitCalls(ws), []);

  const upd = runCli(ws, ['vim=9.1.1734-1']);
  assert.equal(upd.code, 0, upd.stderr);
  assert.match(upd.stdout, /Processing vim \(updating 9\.1\.1730-1 -> 9\.1\.1734-1\)/);
});

test('--from packages_to_build.json fetches exactly its entries', () => {
  const ws = workspace();
  const list = {
    _command: 'outdated',
    _timestamp: '2026-01-01T00:00:00',
    packages: [
      { name: 'gcc', basename: 'gcc', version: '14.2.1+r134+gab884fffe3fc-1', use_aur: false, force_latest: false },
      { name: 'yay', basename: 'yay', version: 'AUR', use_aur: true, force_latest: false },
      { name: 'vim', basename: 'vim', version: 'latest', use_aur: false, force_latest: true },
      { name: 'mine', basename: 'mine', version: 'local', use_aur: false, use_local: true },
      { name: 'gcc', basename: 'gcc', version: '14.2.1+r134+gab884fffe3fc-1', cycle_stage: 2 },
    ],
  };
  writeFileSync(join(ws.root, 'packages_to_build.json'), JSON.stringify(list));
  mkdirSync(join(ws.root, 'pkgbuilds', 'mine'), { recursive: true });
  const r = runCli(ws, ['--from', 'packages_to_build.json', '--jobs', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout.split('\n').filter((l) => l.startsWith('Processing')).join('\n'),
    [
      'Processing gcc (fetching 14.2.1+r134+gab884fffe3fc-1)...',
      'Processing yay (fetching from AUR)...',
      'Processing vim (fetching latest commit)...',
      'Processing mine (local package, current: unknown)...',
    ].join('\n'),
  );
  assert.deepEqual(readdirSync(join(ws.root, 'pkgbuilds')).sort(), ['gcc', 'mine', 'vim', 'yay']);
});

test('dirty checkout: exit 1 naming the file; nothing changed', () => {
  const ws = workspace();
  runCli(ws, ['vim=9.1.1730-1']);
  const pkgbuild = join(ws.root, 'pkgbuilds/vim/PKGBUILD');
  writeFileSync(pkgbuild, `${readFileSync(pkgbuild, 'utf8')}# my edit\n`);
  const r = runCli(ws, ['vim=9.1.1734-1']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /error: vim: uncommitted changes in .*pkgbuilds\/vim\/PKGBUILD; not updating .*--stash/);
  assert.match(readFileSync(pkgbuild, 'utf8'), /# my edit/);
  assert.match(readFileSync(join(ws.root, 'pkgbuilds/vim/.SRCINFO'), 'utf8'), /9\.1\.1730/);
});

async function killMidClone(signal: NodeJS.Signals): Promise<Ws> {
  const ws = workspace();
  const marker = join(ws.root, 'clone-done');
  const child = spawn(process.execPath, ['--require', REGISTER, CLI, '--url-template', host.urlTemplate, 'vim=9.1.1730-1'], {
    cwd: ws.root,
    env: { ...ws.env, PKGNX_TEST_SLOW_CLONE: marker },
    detached: true,
    stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const deadline = Date.now() + 30_000;
  while (!existsSync(marker) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(existsSync(marker), 'clone reached');
  // the clone is on disk in the temp dir, the fetch is halfway
  assert.equal(readdirSync(join(ws.root, '.pkgnx-fetch-tmp')).length, 1);
  if (signal === 'SIGKILL') process.kill(-child.pid!, 'SIGKILL');
  else process.kill(child.pid!, signal);
  await exited;
  if (signal !== 'SIGKILL') process.kill(-child.pid!, 'SIGKILL'); // the hanging git wrapper
  return ws;
}

test('killed mid-clone (SIGKILL): no pkgbuilds/vim; the next run cleans up and fetches', async () => {
  const ws = await killMidClone('SIGKILL');
  assert.ok(!existsSync(join(ws.root, 'pkgbuilds', 'vim')), 'no half-written checkout');
  assert.ok(!existsSync(join(ws.root, '.pkgnx', 'git', 'vim.git')), 'nor a git dir: both are renamed in only once complete');
  const r = runCli(ws, ['vim=9.1.1730-1']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!existsSync(join(ws.root, '.pkgnx-fetch-tmp')));
  assert.equal(checkoutGit(join(ws.root, 'pkgbuilds', 'vim'), 'describe', '--tags').trim(), '9.1.1730-1');
});

test('interrupted mid-clone (SIGTERM): the temp clone is removed at once', async () => {
  const ws = await killMidClone('SIGTERM');
  assert.ok(!existsSync(join(ws.root, 'pkgbuilds', 'vim')));
  const tmp = join(ws.root, '.pkgnx-fetch-tmp');
  assert.ok(!existsSync(tmp) || readdirSync(tmp).length === 0);
});

test('usage errors exit 2', () => {
  const ws = workspace();
  assert.equal(runCli(ws, []).code, 2);
  assert.equal(runCli(ws, ['--packages', 'a', '--from', 'x.json']).code, 2);
  assert.equal(runCli(ws, ['--packages', '../evil']).code, 2);
});

test('AUR versions from RPC v5: an up-to-date AUR checkout runs no git', async () => {
  const ws = workspace();
  const server = await startAurServer([{ name: 'yay', version: '12.4.2-1' }]);
  // async: the RPC server answers from this process
  const run = (args: string[]): Promise<{ code: number; stdout: string }> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, ['--require', REGISTER, CLI, '--aur-url-template', aur.urlTemplate, '--aur-rpc', server.baseUrl, ...args], { cwd: ws.root, env: ws.env });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.on('close', (code) => resolve({ code: code ?? -1, stdout }));
    });
  try {
    const first = await run(['--aur', 'yay']);
    assert.equal(first.code, 0);
    assert.match(first.stdout, /Processing yay \(fetching from AUR\)/);
    writeFileSync(ws.gitLog, '');
    const again = await run(['--aur', 'yay']);
    assert.match(again.stdout, /Processing yay \(already up to date: 12\.4\.2-1\)/);
    assert.deepEqual(gitCalls(ws), []);
  } finally {
    await server.close();
  }
});
