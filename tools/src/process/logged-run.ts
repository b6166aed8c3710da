/**
 * One build command (a backend's PlannedCommand), run the way every backend runs its steps: in its own
 * process group, its output appended to the build log and echoed to our stdout (Nx shows and caches it).
 * On abort, first every process below it is killed and waited for (a sandbox's processes live in sessions
 * and pid namespaces of their own, out of reach of the group), then the group gets SIGTERM and, after a
 * grace period, SIGKILL; the call returns only once the group is gone, so the caller's cleanup (removing a
 * copy, a staging directory) races nothing.
 */
import { createWriteStream } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import type { Options } from 'execa';
import { start } from './run';
import { killBelow } from './tree';

/** one command as it would be run: argv plus the environment entries set on purpose */
export interface PlannedCommand {
  argv: string[];
  cwd?: string;
  env?: Record<string, string>;
  /** what this step is for, printed in dry runs and logs */
  purpose: string;
}

const KILL_GRACE_MS = 5000;
const GONE_WAIT_MS = 3000;

export interface LoggedRunOptions {
  logFile: string;
  signal?: AbortSignal;
  /** the whole environment of the child instead of ours plus cmd.env */
  env?: Record<string, string>;
  /** echo the output to our stdout too (default) */
  echo?: boolean;
  /** file descriptors the child inherits as 3, 4, ... */
  fds?: number[];
  /** SIGTERM → SIGKILL grace on abort */
  killGraceMs?: number;
}

export interface LoggedRunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  aborted: boolean;
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function runLogged(cmd: PlannedCommand, opts: LoggedRunOptions): Promise<LoggedRunResult> {
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  const echo = opts.echo ?? true;
  const write = (chunk: Buffer | string): void => {
    log.write(chunk);
    if (echo) process.stdout.write(chunk);
  };
  write(`==> pkgnx: ${cmd.purpose}\n`);
  try {
    if (opts.signal?.aborted) return { code: null, signal: null, aborted: true };
    const child = start(cmd.argv[0], cmd.argv.slice(1), {
      cwd: cmd.cwd,
      env: opts.env ?? cmd.env,
      extendEnv: opts.env === undefined,
      detached: true, // own process group: killed as a whole with kill(-pid)
      // execa passes extra descriptors through as Node does; its types only admit them for 0-2
      stdio: ['ignore', 'pipe', 'pipe', ...(opts.fds ?? [])] as unknown as Options['stdio'],
      buffer: false,
    });
    child.stdout?.on('data', write);
    child.stderr?.on('data', write);
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    const pid = child.pid;
    const killGroup = (sig: NodeJS.Signals): void => {
      try {
        if (pid) process.kill(-pid, sig);
      } catch {
        // already gone
      }
    };
    const onAbort = (): void => {
      aborted = true;
      void (pid ? killBelow(pid) : Promise.resolve(true)).then((gone) => {
        if (!gone) write('==> pkgnx: some processes of the step did not end within 5 s\n');
        killGroup('SIGTERM');
        killTimer = setTimeout(() => killGroup('SIGKILL'), opts.killGraceMs ?? KILL_GRACE_MS);
      });
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const r = await child;
    opts.signal?.removeEventListener('abort', onAbort);
    if (killTimer) clearTimeout(killTimer);
    if (r.failed && r.exitCode === undefined && r.signal === undefined) {
      write(`==> pkgnx: cannot run ${cmd.argv[0]}: ${(r.cause as Error | undefined)?.message ?? 'failed to start'}\n`);
      return { code: 127, signal: null, aborted };
    }
    // stragglers that left the pipes (daemonised children) still belong to the group: end them and wait
    killGroup('SIGKILL');
    const deadline = Date.now() + GONE_WAIT_MS;
    while (pid && groupAlive(pid) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    return { code: r.exitCode ?? null, signal: (r.signal as NodeJS.Signals | undefined) ?? null, aborted };
  } finally {
    await new Promise<void>((resolve) => log.end(resolve));
  }
}

/** append a line to the log and echo it */
export async function logLine(logFile: string, line: string, echo = true): Promise<void> {
  await appendFile(logFile, `${line}\n`);
  if (echo) process.stdout.write(`${line}\n`);
}

/** one shell-quoted command line for dry runs and logs */
export function formatCommand(cmd: PlannedCommand): string {
  const q = (s: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`);
  const env = Object.entries(cmd.env ?? {}).map(([k, v]) => `${k}=${q(v)}`);
  return [...(cmd.cwd ? [`cd ${q(cmd.cwd)} &&`] : []), ...env, ...cmd.argv.map(q)].join(' ');
}
