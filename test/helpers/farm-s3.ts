/**
 * The S3 server and the remote cache server of the farm tests.
 *
 * versitygw v1.8.0 (conditional writes like AWS S3, real SigV4), one per test file on a free port, installed
 * by scripts/install-test-tools.sh. NOTE: the publishing branch brings test/helpers/s3-server.ts with
 * the same job (same binary, same install directory); once both have landed this file should shrink to the
 * cache-server part and use that helper.
 */
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WORKSPACE_ROOT } from './env';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

export const FARM_VERSITYGW = process.env.VERSITYGW_BIN ?? '/opt/versitygw-v1.8.0/versitygw';
export const farmS3Skip = existsSync(FARM_VERSITYGW) ? false : `versitygw not installed at ${FARM_VERSITYGW} (bash scripts/install-test-tools.sh)`;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

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

export interface FarmS3 {
  endpoint: string;
  dataDir: string;
  /** AWS_* variables for child processes */
  env: Record<string, string>;
  client(): S3Client;
  createBucket(name: string): Promise<void>;
  /** every key under the bucket (prefix optional) */
  keys(bucket: string, prefix?: string): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startFarmS3(): Promise<FarmS3> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pkgnx-farm-vgw-'));
  const port = await freePort();
  const accessKeyId = 'pkgnxfarm';
  const secretAccessKey = 'pkgnxfarmsecret';
  const child = spawn(FARM_VERSITYGW, ['--access', accessKeyId, '--secret', secretAccessKey, '--port', `127.0.0.1:${port}`, '--health', '/health', '--quiet', 'posix', dataDir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const endpoint = `http://127.0.0.1:${port}`;
  await waitUntil('versitygw', child, () => stderr, async () => (await fetch(`${endpoint}/health`)).status === 200);
  const env = { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_REGION: 'us-east-1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  const client = (): S3Client =>
    new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey }, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  return {
    endpoint,
    dataDir,
    env,
    client,
    async createBucket(name) {
      const s3 = client();
      try {
        await s3.send(new CreateBucketCommand({ Bucket: name }));
      } finally {
        s3.destroy();
      }
    },
    async keys(bucket, prefix) {
      const s3 = client();
      const out: string[] = [];
      try {
        let token: string | undefined;
        do {
          const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ...(prefix ? { Prefix: prefix } : {}), ...(token ? { ContinuationToken: token } : {}) }));
          out.push(...(r.Contents ?? []).map((c) => c.Key ?? ''));
          token = r.IsTruncated ? r.NextContinuationToken : undefined;
        } while (token);
      } finally {
        s3.destroy();
      }
      return out.sort();
    },
    async stop() {
      await stopChild(child);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
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
export async function startCacheServerProcess(s3: FarmS3, bucket: string, extraEnv: Record<string, string> = {}): Promise<CacheServerProcess> {
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
