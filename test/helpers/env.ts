import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const WORKSPACE_ROOT = resolve(__dirname, '..', '..');
/** ../shared beside the checkout (CI clones the project with shared/ next to it) */
export const SHARED = process.env.PKGNX_SHARED ?? resolve(WORKSPACE_ROOT, '..', 'shared');
export const SHARED_DATA = join(SHARED, 'data');

export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('bash', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export const sharedAvailable = existsSync(SHARED_DATA);

const tempDirs: string[] = [];

/**
 * A fresh directory under the system's temporary directory, removed when the test file's process exits: for
 * fixtures used until the end of the file (a test that is done with its directory removes it itself).
 */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (tempDirs.push(dir) === 1) {
    process.once('exit', () => {
      for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
    });
  }
  return dir;
}

/** The unprivileged user that runs tools refusing root (makepkg): `PKGNX_BUILD_USER`, default `builder`. */
export const BUILD_USER = process.env.PKGNX_BUILD_USER ?? 'builder';

/**
 * Runs `cmd args` as BUILD_USER when the test runs as root (through runuser), directly otherwise.
 * Resolves with stdout/stderr/exit status; never rejects on a non-zero status.
 */
export function runAsBuildUser(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; input?: string } = {},
): Promise<{ stdout: string; stderr: string; status: number | null }> {
  const asRoot = process.getuid?.() === 0;
  const envArgs = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`);
  // runuser resets most of the environment; pass variables explicitly through env(1)
  const [file, argv] = asRoot
    ? ['runuser', ['-u', BUILD_USER, '--', 'env', ...envArgs, cmd, ...args]]
    : ['env', [...envArgs, cmd, ...args]];
  return new Promise((resolvePromise) => {
    const child = spawn(file, argv, { cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'], timeout: opts.timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', (err) => {
      stderr += String(err);
    });
    child.on('close', (status) => resolvePromise({ stdout, stderr, status }));
    child.stdin.end(opts.input ?? '');
  });
}
