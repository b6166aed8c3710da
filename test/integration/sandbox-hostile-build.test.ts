// Hostile packages against the rootfs backend, run as root (as CI and the backend run), checked from outside:
// an install scriptlet that runs while another package's copy is prepared, and a build() that attacks from
// makepkg. While they run the test reads their credentials and namespaces in /proc; afterwards it compares
// the workspace repository and the package directories with snapshots, looks for files they tried to
// create, and checks who owns the outputs. Then: kill -9 of nx in the middle of a build, and the time limit.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { WORKSPACE_ROOT, hasCommand } from '../helpers/env';
import { ensureRootfs, rootfsPath } from '../helpers/rootfs';
import { NX_ENV, createWorkspace, type Workspace } from '../helpers/build-workspace';
import { MAPPED_IDS, uidBase } from '../../tools/src/sandbox/identity';

function prerequisites(): string | undefined {
  if (process.getuid?.() !== 0) return 'the hostile suite runs as root (as CI does)';
  for (const cmd of ['bwrap', 'debootstrap', 'repo-add', 'gcc', 'unshare']) if (!hasCommand(cmd)) return `${cmd} is not installed`;
  return undefined;
}

const ROOTFS_OPTIONS = { backend: 'rootfs', rootfs: rootfsPath('{arch}') };
const BASE = uidBase();
const INIT_USERNS = readlinkSync('/proc/self/ns/user');

/** every file under dir with its content hash and owner */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!existsSync(dir)) return out;
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) walk(p);
      else out.set(p, `${execFileSync('sha256sum', [p], { encoding: 'utf8' }).split(' ')[0]} ${st.uid}:${st.gid} ${(st.mode & 0o7777).toString(8)}`);
    }
  };
  walk(dir);
  return out;
}

interface Seen {
  pid: number;
  ppid: number;
  comm: string;
  uid: string[];
  capEff: string;
  capBnd: string;
  noNewPrivs: string;
  seccomp: string;
  userns: string;
  uidMap: string;
}

/** processes of the build's uid range, as the host sees them */
function buildProcesses(): Seen[] {
  const out: Seen[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const status = readFileSync(`/proc/${e}/status`, 'utf8');
      const field = (k: string): string => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '';
      const uid = field('Uid').split(/\s+/);
      if (!uid.some((u) => Number(u) >= BASE && Number(u) < BASE + MAPPED_IDS)) continue;
      // a zombie runs nothing: bwrap's monitor exits without reaping its child, which pid 1 reaps later
      if (field('State').startsWith('Z')) continue;
      out.push({
        pid: Number(e),
        ppid: Number(field('PPid')),
        comm: field('Name'),
        uid,
        capEff: field('CapEff'),
        capBnd: field('CapBnd'),
        noNewPrivs: field('NoNewPrivs'),
        seccomp: field('Seccomp'),
        userns: readlinkSync(`/proc/${e}/ns/user`),
        uidMap: readFileSync(`/proc/${e}/uid_map`, 'utf8').trim().split(/\s+/).join(' '),
      });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const ATTACK_BIN = (dir: string): void => {
  execFileSync('gcc', ['-O0', '-o', join(dir, 'attack'), join(WORKSPACE_ROOT, 'test', 'fixtures', 'hostile', 'attack.c')]);
};

const skip = prerequisites();
const workspaces: string[] = [];
after(() => {
  for (const d of workspaces) rmSync(d, { recursive: true, force: true });
});

describe('hostile packages against the rootfs backend', { skip }, () => {
  let root: string | undefined;
  let rootSkip: string | undefined;
  before(() => {
    const r = ensureRootfs('x86_64');
    root = r.root;
    rootSkip = r.skipReason;
  });

  test('an install scriptlet and a build() get no host privilege, cannot remount or write the workspace, and the outputs are the caller\'s', async (t) => {
    if (!root) return t.skip(rootSkip);
    let connections = 0;
    const server = createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const ws: Workspace = createWorkspace({ x86_64: root }, {}, ROOTFS_OPTIONS);
    workspaces.push(ws.dir);
    const repo = join(ws.dir, 'dist', 'x86_64', 'repo');
    const targets = `${repo} ${join(ws.dir, 'pkgbuilds', 'consumer')} ${ws.dir} /`;
    // evil-dep carries the attack program and a post_install that uses it when a dependent is prepared
    ws.write('pkgbuilds/evil-dep/PKGBUILD', `pkgname=evil-dep
pkgver=1
pkgrel=1
arch=(x86_64)
install=evil.install
source=(attack)
sha256sums=(SKIP)
options=(!strip !debug)
package() { install -Dm755 attack "$pkgdir/usr/bin/pkgnx-attack"; }
`);
    ws.write('pkgbuilds/evil-dep/evil.install', `post_install() {
  pkgnx-attack caps
  pkgnx-attack remount ${targets}
  pkgnx-attack write ${repo}/pwned ${join(ws.dir, 'pwned')} ${join(ws.dir, 'pkgbuilds', 'consumer', 'pwned')} /pkgnx-scriptlet-pwned
  pkgnx-attack unlink ${repo}/pkgnx-workspace.db.tar.zst
  pkgnx-attack userns
  sleep 3
}
`);
    ATTACK_BIN(join(ws.dir, 'pkgbuilds', 'evil-dep'));
    ws.write('pkgbuilds/consumer/PKGBUILD', `pkgname=consumer
pkgver=1
pkgrel=1
arch=(x86_64)
depends=(evil-dep)
options=(!strip !debug)
build() {
  pkgnx-attack caps
  pkgnx-attack remount ${targets} "$startdir"
  pkgnx-attack write ${repo}/pwned-by-build ${join(ws.dir, 'pwned-by-build')} /pkgnx-build-pwned
  pkgnx-attack net 127.0.0.1 ${port}
  pkgnx-attack procs
  pkgnx-attack userns
  sleep 3
}
package() { install -Dm644 /dev/null "$pkgdir/usr/share/consumer/done"; }
`);
    // evil-dep first, alone, so the repository holds it before the attacks start
    const first = ws.nx(['run', 'evil-dep:build', '--outputStyle=static']);
    assert.equal(first.status, 0, first.output);
    const repoBefore = snapshot(repo);
    const pkgsBefore = snapshot(join(ws.dir, 'pkgbuilds'));

    const seen: Seen[] = [];
    const watcher = setInterval(() => seen.push(...buildProcesses()), 100);
    const r = await new Promise<{ status: number | null; output: string }>((resolve) => {
      const child = spawn(join(ws.dir, 'node_modules/.bin/nx'), ['run', 'consumer:build', '--outputStyle=static'], { cwd: ws.dir, env: NX_ENV });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      child.on('close', (status) => resolve({ status, output }));
    });
    clearInterval(watcher);
    server.close();
    assert.equal(r.status, 0, r.output);

    // seen from the host: every process of the build ran as a uid of pkgnx's range, never as root or a
    // host account, inside a user namespace that maps 0 to the range's base
    const log = readFileSync(join(ws.dir, 'dist', 'x86_64', 'consumer', 'build.log'), 'utf8');
    // (the attacks end with `sleep 3`, long enough to be seen)
    assert.ok(seen.some((p) => p.comm === 'sleep' && p.uid[0] === String(BASE)), `the scriptlet was seen running as root of the copy\n${log}`);
    assert.ok(seen.some((p) => p.comm === 'sleep' && Number(p.uid[0]) > BASE), `build() was seen running as the build user\n${log}`);
    const inRange = new Set(seen.map((p) => p.pid));
    for (const p of seen) {
      // pkgnx's own processes started from the executor (bwrap's monitor outside the sandbox's pid
      // namespace, the placeholder that creates the user namespace) run no code of the package
      if (!inRange.has(p.ppid)) continue;
      assert.notEqual(p.userns, INIT_USERNS, `pid ${p.pid} (${p.comm}) runs in the host's user namespace`);
      assert.equal(p.uidMap, `0 ${BASE} ${MAPPED_IDS}`, `pid ${p.pid} (${p.comm}): uid_map ${p.uidMap}`);
      // bwrap itself, seen while it sets the sandbox up: the filter and the capability drop apply from the
      // exec of the step on, and no code of the package runs before that exec
      if (p.comm === 'bwrap') continue;
      assert.equal(p.noNewPrivs, '1', `pid ${p.pid} (${p.comm}) may gain privileges`);
      assert.equal(p.seccomp, '2', `pid ${p.pid} (${p.comm}) has no seccomp filter`);
      if (Number(p.uid[0]) !== BASE) {
        assert.equal(p.capEff, '0000000000000000', `pid ${p.pid} (${p.comm}) uid ${p.uid[0]} has capabilities`);
        assert.equal(p.capBnd, '0000000000000000', `pid ${p.pid} (${p.comm}) uid ${p.uid[0]} has a bounding set`);
      }
    }
    // nothing changed where they aimed
    // (repo-add rewrote the databases to add consumer after its build: that is pkgnx, not the package)
    const repoAfter = snapshot(repo);
    for (const [f, h] of repoBefore) if (!/pkgnx-workspace\.(db|files)/.test(f)) assert.equal(repoAfter.get(f), h, `${f} changed or vanished`);
    assert.deepEqual([...repoAfter.keys()].filter((f) => !repoBefore.has(f)).map((f) => f.slice(repo.length + 1)), ['consumer-1-1-x86_64.pkg.tar.zst']);
    const after = snapshot(join(ws.dir, 'pkgbuilds'));
    assert.deepEqual(after, pkgsBefore, 'the package directories changed');
    for (const p of [join(repo, 'pwned'), join(repo, 'pwned-by-build'), join(ws.dir, 'pwned'), join(ws.dir, 'pwned-by-build'), '/pkgnx-scriptlet-pwned', '/pkgnx-build-pwned']) assert.equal(existsSync(p), false, `${p} was created`);
    assert.equal(connections, 0, 'build() reached a TCP port of the host with the network off');
    // the scriptlet's and build()'s own reports (the checks above are the proof)
    // (writing into the disposable copy itself is allowed: it is theirs; so is reaching its own makepkg
    // through /proc: the only processes a build sees are those of the same build)
    assert.doesNotMatch(log, /^(remount|unlink|unshare-user|unshare-mount|clone-newuser|connect|ptrace|pidfd_getfd|process_vm_readv) ok/m, log);
    assert.doesNotMatch(log, /^(write|write-after-remount) ok \/tmp\/pkgnx-build-/m, log);
    assert.match(log, /^remount denied/m);
    // finding 5: the outputs belong to the caller, not to a uid of the build
    for (const dir of [join(ws.dir, 'dist', 'x86_64', 'consumer'), join(ws.dir, 'dist', 'x86_64', 'evil-dep'), repo]) {
      for (const f of readdirSync(dir)) {
        const st = statSync(join(dir, f));
        assert.deepEqual([st.uid, st.gid], [process.getuid?.(), process.getgid?.()], `${dir}/${f} belongs to ${st.uid}:${st.gid}`);
      }
    }
    // and nothing of the build survives it
    assert.deepEqual(buildProcesses().map((p) => `${p.pid} ${p.comm}`), []);
  });

  test('kill -9 of nx during a build: within 10 s no process, mount or copy of it remains', async (t) => {
    if (!root) return t.skip(rootSkip);
    const ws = createWorkspace({ x86_64: root }, { slow: { PKGBUILD: 'pkgname=slow\npkgver=1\npkgrel=1\narch=(any)\nbuild() { sleep 300; }\npackage() { :; }\n' } }, ROOTFS_OPTIONS);
    workspaces.push(ws.dir);
    const child = spawn(process.execPath, [join(ws.dir, 'node_modules', 'nx', 'dist', 'bin', 'nx.js'), 'run', 'slow:build', '--outputStyle=stream'], { cwd: ws.dir, env: NX_ENV });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const deadline = Date.now() + 120_000;
    while (!/Starting build\(\)/.test(output) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    assert.match(output, /Starting build\(\)/, output);
    const copies = join(ws.dir, '.pkgnx', 'chroots', 'x86_64');
    assert.equal(readdirSync(copies).length, 1);
    assert.ok(buildProcesses().length > 0);
    child.kill('SIGKILL');
    const killedAt = Date.now();
    const leftovers = (): string[] => [
      ...buildProcesses().map((p) => `process ${p.pid} ${p.comm}`),
      ...(spawnSync('pgrep', ['-f', 'run-executor']).stdout.toString().trim() ? ['the executor process'] : []),
      ...readdirSync(copies).map((c) => `copy ${c}`),
      ...readdirSync(join(ws.dir, 'dist', 'x86_64')).filter((n) => n.startsWith('.staging')).map((n) => `staging ${n}`),
      ...readdirSync('/proc').filter((p) => /^\d+$/.test(p)).flatMap((p) => {
        try {
          return readFileSync(`/proc/${p}/mountinfo`, 'utf8').includes('pkgnx-copy') ? [`overlay mount seen by pid ${p}`] : [];
        } catch {
          return [];
        }
      }),
    ];
    while (leftovers().length && Date.now() - killedAt < 10_000) await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(leftovers(), [], `left ${Date.now() - killedAt} ms after kill -9`);
    assert.ok(!existsSync(join(ws.dir, 'dist', 'x86_64', 'slow')));
  });

  test('a build() that never ends is stopped at the time limit, named with the log, and leaves nothing', async (t) => {
    if (!root) return t.skip(rootSkip);
    const ws = createWorkspace({ x86_64: root }, { endless: { PKGBUILD: 'pkgname=endless\npkgver=1\npkgrel=1\narch=(any)\nbuild() { while :; do sleep 1; done; }\npackage() { :; }\n' } }, { ...ROOTFS_OPTIONS, timeLimitMinutes: 0.25 });
    workspaces.push(ws.dir);
    const r = ws.nx(['run', 'endless:build', '--outputStyle=static'], 180_000);
    assert.notEqual(r.status, 0);
    assert.match(r.output, /stopped: it ran longer than its time limit of 0\.25 min \(build option "timeLimitMinutes"\); log: \S+\/logs\/endless\/\S+\.log/);
    assert.deepEqual(readdirSync(join(ws.dir, '.pkgnx', 'chroots', 'x86_64')), []);
    // killed processes may take a moment to be torn down by the kernel on a loaded machine (as after kill -9)
    const until = Date.now() + 10_000;
    while (buildProcesses().length && Date.now() < until) await new Promise((res) => setTimeout(res, 200));
    assert.deepEqual(buildProcesses(), []);
    assert.ok(!existsSync(join(ws.dir, 'dist', 'x86_64', 'endless')));
  });
});
