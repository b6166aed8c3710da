/**
 * Run one build command in its own process group, its output appended to the build log and echoed to
 * our stdout (Nx shows and caches it). On abort the whole group is ended (TERM, then KILL), so nothing
 * the build started outlives it.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { killBelow } from './tree';
import type { PlannedCommand } from '../packaging/backends/backend';

const KILL_GRACE_MS = 5000;

export interface LoggedRunOptions {
  logFile: string;
  signal?: AbortSignal;
  /** the full environment of the child (not merged) */
  env?: NodeJS.ProcessEnv;
  echo?: boolean;
  /** file descriptors the child inherits as 3, 4, ... */
  fds?: number[];
}

export interface LoggedRunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  aborted: boolean;
}

export async function runLogged(cmd: PlannedCommand, opts: LoggedRunOptions): Promise<LoggedRunResult> {
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  const echo = opts.echo ?? true;
  const write = (chunk: Buffer | string) => {
    log.write(chunk);
    if (echo) process.stdout.write(chunk);
  };
  write(`==> pkgnx: ${cmd.purpose}\n`);
  try {
    if (opts.signal?.aborted) return { code: null, signal: null, aborted: true };
    const child = spawn(cmd.argv[0], cmd.argv.slice(1), {
      cwd: cmd.cwd,
      env: opts.env ?? { ...process.env, ...cmd.env },
      detached: true, // own process group: killed as a whole with kill(-pid)
      stdio: ['ignore', 'pipe', 'pipe', ...(opts.fds ?? [])],
    });
    child.stdout!.on('data', write);
    child.stderr!.on('data', write);
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        /* already gone */
      }
    };
    const onAbort = () => {
      aborted = true;
      // first what is below the step's own process (a sandbox's sessions and pid namespaces are out of
      // reach of the process group), so each is reaped by its parent; then the group
      const below = child.pid ? killBelow(child.pid) : Promise.resolve(true);
      void below.then((gone) => {
        if (!gone) write('==> pkgnx: some processes of the step did not end within 5 s\n');
        killGroup('SIGTERM');
        killTimer = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
      });
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const result = await new Promise<LoggedRunResult>((resolve) => {
      child.on('error', (err) => {
        write(`==> pkgnx: cannot run ${cmd.argv[0]}: ${err.message}\n`);
        resolve({ code: 127, signal: null, aborted });
      });
      child.on('close', (code, signal) => resolve({ code, signal, aborted }));
    });
    opts.signal?.removeEventListener('abort', onAbort);
    if (killTimer) clearTimeout(killTimer);
    // stragglers that left the pipes (daemonised children) still belong to the group
    killGroup('SIGKILL');
    return result;
  } finally {
    await new Promise<void>((resolve) => log.end(resolve));
  }
}

/** append a line to the log and echo it */
export async function logLine(logFile: string, line: string, echo = true): Promise<void> {
  const { appendFile } = await import('node:fs/promises');
  await appendFile(logFile, `${line}\n`);
  if (echo) process.stdout.write(`${line}\n`);
}

/** one shell-quoted command line for dry runs and logs */
export function formatCommand(cmd: PlannedCommand): string {
  const q = (s: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`);
  const env = Object.entries(cmd.env ?? {}).map(([k, v]) => `${k}=${q(v)}`);
  return [...(cmd.cwd ? [`cd ${q(cmd.cwd)} &&`] : []), ...env, ...cmd.argv.map(q)].join(' ');
}
