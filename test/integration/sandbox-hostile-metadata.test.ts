// Hostile PKGBUILDs against the metadata sandbox, checked from outside: while an attacker is being sourced the
// test reads its processes' credentials in /proc; afterwards it compares every file of the workspace with a
// snapshot, looks for surviving processes, and checks that the PKGBUILDs sourced after the attacker in the
// same sandbox kept their own metadata. Run as root in CI, the way the rootfs backend runs. The attacker is
// a small C program (test/fixtures/hostile/attack.c) compiled for the test, so every attempt is a real
// system call, not a shell command that may be missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WORKSPACE_ROOT, hasCommand } from '../helpers/env';
import { createStats, extractSrcinfo, type ExtractResult } from '../../tools/src/metadata/extract';
import { metadataIdentity } from '../../tools/src/sandbox/identity';

const skip = !hasCommand('bwrap') ? 'bwrap not installed' : process.getuid?.() !== 0 ? 'the hostile suite runs as root (as CI does)' : false;

function compileAttack(dir: string): string {
  const out = join(dir, 'attack');
  execFileSync('gcc', ['-O0', '-o', out, join(WORKSPACE_ROOT, 'test', 'fixtures', 'hostile', 'attack.c')]);
  return out;
}

/** path -> sha256 of every file under dir (symlinks by target), for before/after comparisons */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) walk(p);
      else out.set(p, execFileSync('sha256sum', [p], { encoding: 'utf8' }).split(' ')[0]);
    }
  };
  walk(dir);
  return out;
}

function pkgbuild(name: string, body: string, depends = 'honest'): string {
  return `pkgname=${name}\npkgver=1\npkgrel=1\narch=(any)\ndepends=(${depends})\n${body}\npackage() { :; }\n`;
}

interface Observed {
  pid: number;
  status: Record<string, string>;
}

/** the sandbox's processes as seen from the host while they run */
function sandboxProcesses(uid: number): Observed[] {
  const found: Observed[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${entry}/status`, 'utf8');
    } catch {
      continue;
    }
    const status = Object.fromEntries(text.split('\n').map((l) => l.split(/:\s*/, 2)).filter((kv) => kv.length === 2));
    // a zombie runs nothing (pid 1 of the host reaps it at its own pace)
    if (status.State?.startsWith('Z')) continue;
    if (status.Uid?.split(/\s+/).includes(String(uid))) found.push({ pid: Number(entry), status });
  }
  return found;
}

async function attackWorkspace(root: string, listener: { port: number; connections: () => number }): Promise<void> {
  const attack = compileAttack(root);
  const ws = join(root, 'ws');
  const pkgs = join(ws, 'pkgbuilds');
  const add = (name: string, text: string, withAttack = false): string => {
    mkdirSync(join(pkgs, name), { recursive: true });
    writeFileSync(join(pkgs, name, 'PKGBUILD'), text);
    writeFileSync(join(pkgs, name, 'keep.txt'), `${name} data\n`);
    if (withAttack) copyFileSync(attack, join(pkgs, name, 'attack'));
    chmodSync(join(pkgs, name, withAttack ? 'attack' : 'keep.txt'), 0o755);
    return join(pkgs, name);
  };
  const victimA = add('b-victim', pkgbuild('b-victim', ''));
  const victimZ = add('z-victim', pkgbuild('z-victim', ''));
  // every attempt, one PKGBUILD each, so a crash of one does not hide another
  const attackers = [
    add('a-remount', pkgbuild('a-remount', `./attack remount "$startdir" /usr / ${victimA} ${ws} >&2; ./attack write "$startdir/pwned" ${victimA}/pwned ${ws}/pwned /usr/pwned /etc/pwned >&2; ./attack unlink ${victimA}/keep.txt ${victimA}/PKGBUILD >&2`), true),
    add('a-procs', pkgbuild('a-procs', `./attack procs >&2`), true),
    add('a-ns', pkgbuild('a-ns', `pkgdesc="$(./attack userns; ./attack ipc; ./attack keyring; ./attack net 127.0.0.1 ${listener.port})"`), true),
    // stays long enough for the test to look at its credentials from outside
    add('a-caps', pkgbuild('a-caps', `pkgdesc="$(./attack caps | tr '\\n' ';')"; sleep 3`), true),
    add('a-survivor', pkgbuild('a-survivor', `( trap '' HUP TERM; sleep 60; touch ${victimZ}/late ) & disown; setsid sleep 60 & echo "x" > /tmp/left-for-next`), true),
    add('a-driver-killer', pkgbuild('a-driver-killer', `kill -KILL $PPID 2>/dev/null; for p in /proc/[0-9]*; do kill -KILL \${p#/proc/} 2>/dev/null; done`), true),
    add('c-reads-leftover', pkgbuild('c-reads-leftover', `[[ -e /tmp/left-for-next ]] && depends+=(leaked)`)),
  ];
  // pkgnx's own data (.nx, the cache) changes; nothing else may
  const userFiles = (): Map<string, string> => new Map([...snapshot(ws)].filter(([p]) => !p.startsWith(join(ws, '.nx')) && !p.startsWith(join(ws, '.cache'))));
  const before = userFiles();
  const uid = metadataIdentity()!.uid;
  const seen: Observed[] = [];
  const watcher = setInterval(() => seen.push(...sandboxProcesses(uid)), 100);
  const dirs = [...attackers, victimA, victimZ].sort();
  const stats = createStats();
  let results: Map<string, ExtractResult>;
  try {
    // one sandbox at a time: every attacker shares a batch with the victims after it
    results = await extractSrcinfo(dirs, { carch: 'x86_64', workspaceRoot: ws, concurrency: 1, timeoutMs: 20_000, stats, cacheDir: join(ws, '.cache') });
  } finally {
    clearInterval(watcher);
  }

  // credentials, seen from the host while PKGBUILDs were sourced
  assert.ok(seen.length > 0, 'the test saw no sandbox process');
  for (const p of seen) {
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) assert.equal(p.status[set], '0000000000000000', `${set} of pid ${p.pid}: ${p.status[set]}`);
    assert.equal(p.status.NoNewPrivs, '1', `pid ${p.pid} may gain privileges`);
    assert.equal(p.status.Seccomp, '2', `pid ${p.pid} has no seccomp filter`);
    assert.deepEqual(p.status.Uid.split(/\s+/), [String(uid), String(uid), String(uid), String(uid)]);
  }
  // nothing the attackers started survives the extraction
  const describe = (pid: number): string => {
    try {
      return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').slice(0, 60)} ppid ${/PPid:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]}`;
    } catch {
      return `${pid} (gone)`;
    }
  };
  assert.deepEqual(sandboxProcesses(uid).map((p) => describe(p.pid)), []);
  // no file of the workspace changed, appeared or disappeared; nothing outside it either
  assert.deepEqual(userFiles(), before);
  for (const p of ['/usr/pwned', '/etc/pwned', '/pwned']) assert.equal(existsSync(p), false, `${p} exists`);
  assert.equal(listener.connections(), 0, 'a PKGBUILD reached a TCP port on the host');

  // the victims sourced after each attacker kept their own metadata; the leftover file did not carry over
  for (const v of [victimA, victimZ, join(pkgs, 'c-reads-leftover')]) {
    const r = results.get(v);
    assert.ok(r && 'srcinfo' in r, `${v}: ${JSON.stringify(r)}`);
    const deps = r.srcinfo.pkgbase.entries.filter(([k]) => k === 'depends').map(([, d]) => d);
    assert.deepEqual(deps, ['honest'], `${v}: ${deps}`);
  }
  // and the attempts themselves were refused (the attackers' own reports; the checks above are the proof)
  const desc = (name: string): string => {
    const r = results.get(join(pkgs, name));
    return r && 'srcinfo' in r ? (r.srcinfo.pkgbase.entries.find(([k]) => k === 'pkgdesc')?.[1] ?? '') : `(error) ${r && 'error' in r ? r.error : ''}`;
  };
  const procs = results.get(join(pkgs, 'a-procs'));
  assert.ok(procs && 'srcinfo' in procs, JSON.stringify(procs));
  const reached = procs.warnings.filter((l) => / ok /.test(l) && !/^kill-stop /.test(l));
  assert.deepEqual(reached, [], 'reached another process');
  assert.ok(procs.warnings.some((l) => /^pidfd_getfd denied/.test(l)) && procs.warnings.some((l) => /^ptrace denied/.test(l)), procs.warnings.join('\n'));
  assert.doesNotMatch(desc('a-ns'), / ok /, desc('a-ns'));
  assert.match(desc('a-caps'), /CapEff:\s*0000000000000000/);
  const killer = results.get(join(pkgs, 'a-driver-killer'));
  assert.ok(killer && ('error' in killer ? /sandbox exited|ended the shell/.test(killer.error) : true), JSON.stringify(killer));

  // a second run reads the cache: the victims' cached records are their own too
  const again = await extractSrcinfo(dirs, { carch: 'x86_64', workspaceRoot: ws, concurrency: 1, timeoutMs: 20_000, cacheDir: join(ws, '.cache') });
  for (const v of [victimA, victimZ]) assert.deepEqual(again.get(v), results.get(v));
}

function tcpListener(): Promise<{ server: Server; port: number; connections: () => number }> {
  let count = 0;
  const server = createServer((socket) => {
    count++;
    socket.destroy();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port, connections: () => count })));
}

test('hostile PKGBUILDs (workspace under /tmp): no capability, no escape, no other item reached, nothing changed or left behind', { skip, timeout: 300_000 }, async () => {
  const listener = await tcpListener();
  const root = mkdtempSync(join(tmpdir(), 'pkgnx-hostile-'));
  try {
    await attackWorkspace(root, listener);
  } finally {
    listener.server.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('hostile PKGBUILDs (workspace in a directory only root can enter, outside /tmp)', { skip, timeout: 300_000 }, async () => {
  const listener = await tcpListener();
  const base = join(WORKSPACE_ROOT, 'tmp');
  mkdirSync(base, { recursive: true });
  const root = mkdtempSync(join(base, 'hostile-'));
  chmodSync(root, 0o700);
  try {
    await attackWorkspace(root, listener);
  } finally {
    listener.server.close();
    rmSync(root, { recursive: true, force: true });
  }
});
