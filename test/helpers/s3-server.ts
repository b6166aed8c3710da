/**
 * S3 servers for tests, one per test file on a free loopback port:
 * - versitygw v1.8.0 (scripts/install-test-tools.sh): implements conditional writes like AWS S3
 *   (412 on If-Match/If-None-Match failures), real SigV4 authentication, anonymous reads by bucket policy;
 * - s3rver (devDependency): ignores If-Match/If-None-Match, the "server without conditional writes".
 */
import { CreateBucketCommand, ListObjectsV2Command, PutBucketPolicyCommand, S3Client } from '@aws-sdk/client-s3';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WORKSPACE_ROOT, hasCommand } from './env';

export const VERSITYGW_VERSION = 'v1.8.0';

// the SDK warns on every load that its 2027 versions need Node 22; this suite pins a version that runs on 20
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

export interface S3TestServer {
  kind: 'versitygw' | 's3rver';
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  dataDir: string;
  /** a bucket, optionally readable anonymously over HTTP (what pacman needs) */
  createBucket(name: string, options?: { publicRead?: boolean }): Promise<void>;
  /** environment for child processes using the SDK's credential chain */
  env: Record<string, string>;
  /** an SDK client for this server (destroy it when done) */
  client(): S3Client;
  /** every key in the bucket (under `prefix`), sorted */
  keys(bucket: string, prefix?: string): Promise<string[]>;
  stop(): Promise<void>;
}

/** why a test needing versitygw is skipped, or false when it is installed */
export function versitygwSkip(): string | false {
  return versitygwBinary() ? false : `versitygw ${VERSITYGW_VERSION} is not installed (bash scripts/install-test-tools.sh)`;
}

/** The versitygw binary: $VERSITYGW_BIN, the install script's directory, or PATH. */
export function versitygwBinary(): string | undefined {
  const candidates = [process.env.VERSITYGW_BIN, `/opt/versitygw-${VERSITYGW_VERSION}/versitygw`].filter((c): c is string => Boolean(c));
  for (const c of candidates) if (existsSync(c)) return c;
  return hasCommand('versitygw') ? 'versitygw' : undefined;
}

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

function clientFor(endpoint: string, accessKeyId: string, secretAccessKey: string): S3Client {
  return new S3Client({
    endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

async function waitFor(url: string, child: ChildProcess, stderr: () => string, check: (r: Response) => boolean, timeoutMs = 20_000): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`server exited: ${stderr()}`);
    try {
      if (check(await fetch(url))) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill('SIGKILL');
  throw new Error(`server not ready after ${timeoutMs} ms: ${stderr()}`);
}

function serverHandle(kind: S3TestServer['kind'], child: ChildProcess, port: number, dataDir: string, accessKeyId: string, secretAccessKey: string): S3TestServer {
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    kind,
    endpoint,
    accessKeyId,
    secretAccessKey,
    dataDir,
    env: {
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    client: () => clientFor(endpoint, accessKeyId, secretAccessKey),
    async keys(bucket, prefix) {
      const s3 = clientFor(endpoint, accessKeyId, secretAccessKey);
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
    async createBucket(name, options = {}) {
      const s3 = clientFor(endpoint, accessKeyId, secretAccessKey);
      try {
        await s3.send(new CreateBucketCommand({ Bucket: name }));
        if (options.publicRead) {
          const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: ['s3:GetObject'], Resource: [`arn:aws:s3:::${name}/*`] }] };
          await s3.send(new PutBucketPolicyCommand({ Bucket: name, Policy: JSON.stringify(policy) }));
        }
      } finally {
        s3.destroy();
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function startVersitygw(): Promise<S3TestServer> {
  const bin = versitygwBinary();
  if (!bin) throw new Error(`versitygw ${VERSITYGW_VERSION} is not installed: run scripts/install-test-tools.sh`);
  const dataDir = mkdtempSync(join(tmpdir(), 'pkgnx-vgw-'));
  const accessKeyId = 'pkgnxtest';
  const secretAccessKey = 'pkgnxtestsecret';
  for (let tries = 0; tries < 5; tries++) {
    const port = await freePort();
    const child = spawn(bin, ['--access', accessKeyId, '--secret', secretAccessKey, '--port', `127.0.0.1:${port}`, '--health', '/health', '--quiet', 'posix', dataDir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      await waitFor(`http://127.0.0.1:${port}/health`, child, () => stderr, (r) => r.status === 200 && r.headers.get('server') === 'VERSITYGW');
      return serverHandle('versitygw', child, port, dataDir, accessKeyId, secretAccessKey);
    } catch (e) {
      // another process took the port between our probe and versitygw's bind: try another
      if (!/address already in use/.test(stderr)) {
        rmSync(dataDir, { recursive: true, force: true });
        throw e;
      }
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
  throw new Error('versitygw: no free port after 5 tries');
}

export async function startS3rver(): Promise<S3TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pkgnx-s3rver-'));
  const port = await freePort();
  const script = join(WORKSPACE_ROOT, 'node_modules', 's3rver', 'bin', 's3rver.js');
  const child = spawn(process.execPath, [script, '-d', dataDir, '-a', '127.0.0.1', '-p', String(port), '-s', '--no-vhost-buckets'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitFor(`http://127.0.0.1:${port}/`, child, () => stderr, (r) => r.status < 500);
  return serverHandle('s3rver', child, port, dataDir, 'S3RVER', 'S3RVER');
}
