/** The `pkgnx` CLI as a separate process (`npm run pkgnx -- ...` without npm), from any directory. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { WORKSPACE_ROOT } from './env';

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
