/**
 * The remote cache server of the farm tests (`pkgnx cache-server` as a child process, over the versitygw of
 * test/helpers/s3-server.ts) and fresh clones of a test workspace, as other machines would have them.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WORKSPACE_ROOT } from './env';
import { freePort, type S3TestServer } from './s3-server';

async function waitUntil(what: string, child: ChildProcess, stderr: () => string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited: ${stderr()}`);
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`${what} not ready after ${timeoutMs} ms: ${stderr()}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

export const RW_TOKEN = 'farm-rw-token-0123456789';
export const RO_TOKEN = 'farm-ro-token-0123456789';

export interface CacheServerProcess {
  url: string;
  /** the JSON lines it logged so far */
  requests(): { method: string; path: string; status: number; access?: string; error?: string }[];
  stop(): Promise<void>;
}

/** `pkgnx cache-server` as a child process, the way a user runs it */
export async function startCacheServerProcess(s3: S3TestServer, bucket: string, extraEnv: Record<string, string> = {}): Promise<CacheServerProcess> {
  const port = await freePort();
  // the request log goes to a file: tests run nx with spawnSync, which blocks this process's event loop
  const logDir = mkdtempSync(join(tmpdir(), 'pkgnx-farm-cache-log-'));
  const logFile = join(logDir, 'requests.jsonl');
  const logFd = openSync(logFile, 'w');
  const child = spawn(
    process.execPath,
    ['--require', '@swc-node/register', join(WORKSPACE_ROOT, 'tools', 'bin', 'pkgnx.ts'), 'cache-server', '--listen', `127.0.0.1:${port}`, '--bucket', bucket, '--endpoint', s3.endpoint, '--path-style'],
    {
      cwd: WORKSPACE_ROOT,
      env: { ...process.env, ...s3.env, SWC_NODE_PROJECT: join(WORKSPACE_ROOT, 'tsconfig.json'), PKGNX_CACHE_RW_TOKENS: RW_TOKEN, PKGNX_CACHE_RO_TOKENS: RO_TOKEN, ...extraEnv },
      stdio: ['ignore', logFd, 'pipe'],
    },
  );
  closeSync(logFd);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  await waitUntil('cache-server', child, () => stderr, async () => (await fetch(`${url}/healthz`)).status === 200, 60_000);
  return {
    url,
    requests: () =>
      readFileSync(logFile, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { method: string; path: string; status: number; access?: string; error?: string }),
    async stop() {
      await stopChild(child);
      rmSync(logDir, { recursive: true, force: true });
    },
  };
}

/** A fresh `git clone` of a test workspace, as another machine would have it (node_modules and the build roots linked). */
export function cloneWorkspace(src: string, prefix: string): { dir: string; nx(args: string[], env: Record<string, string>, timeoutMs?: number): { status: number | null; out: string } } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  rmSync(dir, { recursive: true });
  const git = spawnSync('git', ['clone', '-q', src, dir], { encoding: 'utf8' });
  if (git.status !== 0) throw new Error(`git clone: ${git.stderr}`);
  symlinkSync(join(WORKSPACE_ROOT, 'node_modules'), join(dir, 'node_modules'));
  mkdirSync(join(dir, '.pkgnx'), { recursive: true });
  symlinkSync(join(WORKSPACE_ROOT, '.pkgnx', 'rootfs'), join(dir, '.pkgnx', 'rootfs'));
  return {
    dir,
    nx(args, env, timeoutMs = 900_000) {
      const r = spawnSync(join(WORKSPACE_ROOT, 'node_modules', '.bin', 'nx'), [...args, '--outputStyle=static'], {
        cwd: dir,
        encoding: 'utf8',
        timeout: timeoutMs,
        maxBuffer: 1 << 28,
        env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', CI: 'true', NX_TUI: 'false', NX_SKIP_NX_CACHE: '', FORCE_COLOR: '0', ...env },
      });
      return { status: r.status, out: `${r.stdout}${r.stderr}` };
    },
  };
}
