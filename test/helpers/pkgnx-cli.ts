/** The `pkgnx` CLI as a separate process (`npx pkgnx ...` without npm), from any directory. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { BUILD_USER, WORKSPACE_ROOT, hasCommand } from './env';
import { versitygwBinary } from './s3-server';

export interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function spawnPkgnx(args: string[], options: { cwd: string; env?: Record<string, string> }): ChildProcess {
  return spawn(process.execPath, ['--require', require.resolve('@swc-node/register'), join(WORKSPACE_ROOT, 'tools/bin/pkgnx.ts'), ...args], {
    cwd: options.cwd,
    env: { ...process.env, SWC_NODE_PROJECT: join(WORKSPACE_ROOT, 'tsconfig.json'), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Collect a spawned CLI's output; `onStderr` sees progress lines as they come. */
export function collect(child: ChildProcess, onStderr?: (text: string) => void): Promise<CliResult> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      onStderr?.(stderr);
    });
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

export function runPkgnx(args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<CliResult> {
  return collect(spawnPkgnx(args, options));
}

/** Assert exit 0, showing the output when not. */
export function succeeded(r: CliResult): CliResult {
  if (r.status !== 0) throw new Error(`exit ${r.status} ${r.signal ?? ''}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/**
 * Why a publishing test cannot run here, or undefined: makepkg as the build user, the tools the
 * publisher and the tests call, root for pacman -Sy, versitygw for S3 tests.
 */
export function publishTestPrerequisites(needs: { pacman?: boolean; versitygw?: boolean; tools?: string[] } = {}): string | undefined {
  const tools = ['makepkg', 'bsdtar', 'zstd', 'gpg', ...(needs.pacman ? ['pacman', 'pacman-key'] : []), ...(needs.tools ?? [])];
  for (const cmd of tools) if (!hasCommand(cmd)) return `${cmd} is not installed`;
  if (needs.pacman && process.getuid?.() !== 0) return 'pacman -Sy needs root';
  if (process.getuid?.() === 0 && spawnSync('id', [BUILD_USER]).status !== 0) return `no "${BUILD_USER}" user for makepkg`;
  if (needs.versitygw && !versitygwBinary()) return 'versitygw is not installed (scripts/install-test-tools.sh)';
  return undefined;
}
