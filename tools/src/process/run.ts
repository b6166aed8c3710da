/**
 * The one way pkgnx starts a program: execa. Loaded on first use (it costs ~100 ms to load, and a warm nx
 * command starts no program at all). A non-zero exit is a result, not an exception; a program that cannot be
 * started (missing, not executable) is an exception naming it.
 * Builds stream their output into logs and must end whole process trees: see logged-run.ts.
 */
import { statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Options, ResultPromise, SyncOptions } from 'execa';

export interface RunOptions {
  cwd?: string;
  /** added to (or, with `cleanEnv`, instead of) this process's environment */
  env?: Record<string, string | undefined>;
  cleanEnv?: boolean;
  input?: string | Buffer;
  /** run as another user (we are root) */
  uid?: number;
  gid?: number;
  timeoutMs?: number;
  /** stdout as bytes instead of text */
  binary?: boolean;
  /** stdin/stdout/stderr of this process instead of pipes */
  inherit?: boolean;
  /** file descriptors the child inherits as 3, 4, ... */
  fds?: number[];
}

export interface RunResult {
  /** undefined when killed by a signal */
  exitCode: number | undefined;
  signal: string | undefined;
  stdout: string;
  stderr: string;
  /** stdout as bytes (with `binary`) */
  bytes: Buffer;
  ok: boolean;
}

export class CommandNotFoundError extends Error {
  constructor(readonly command: string, detail: string) {
    super(`cannot run ${command}: ${detail}`);
    this.name = 'CommandNotFoundError';
  }
}

type Execa = typeof import('execa');
let execaModule: Execa | undefined;
/** execa, loaded once, synchronously (Node >= 20.19 requires ESM from CommonJS) */
export function execaLib(): Execa {
  execaModule ??= require('execa') as Execa;
  return execaModule;
}

/** the options both execa and execaSync take (their stdio types differ only in what we do not use) */
function execaOptions(opts: RunOptions): Record<string, unknown> {
  return {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: !opts.cleanEnv,
    input: opts.input,
    uid: opts.uid,
    gid: opts.gid,
    timeout: opts.timeoutMs,
    encoding: opts.binary ? 'buffer' : 'utf8',
    stripFinalNewline: false,
    reject: false,
    maxBuffer: 1 << 30,
    ...(opts.inherit ? { stdio: 'inherit' as const } : {}),
    // execa passes extra descriptors through as Node does; its types only admit them for 0-2
    ...(opts.fds?.length ? { stdio: ['pipe', 'pipe', 'pipe', ...opts.fds] } : {}),
  };
}

interface RawResult {
  exitCode?: number;
  signal?: string;
  stdout?: unknown;
  stderr?: unknown;
  failed: boolean;
  cause?: unknown;
  code?: string;
}

function toResult(file: string, r: RawResult): RunResult {
  const cause = r.cause as NodeJS.ErrnoException | undefined;
  if (r.exitCode === undefined && r.signal === undefined && cause?.code)
    throw new CommandNotFoundError(file, cause.code === 'ENOENT' ? 'not installed (not found on PATH)' : cause.message);
  const text = (v: unknown): string => (v === undefined ? '' : Buffer.isBuffer(v) ? v.toString('utf8') : v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : String(v));
  const bytes = r.stdout instanceof Uint8Array ? Buffer.from(r.stdout) : Buffer.from(text(r.stdout));
  return { exitCode: r.exitCode, signal: r.signal, stdout: text(r.stdout), stderr: text(r.stderr), bytes, ok: r.exitCode === 0 };
}

export async function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return toResult(file, (await execaLib().execa(file, args, execaOptions(opts) as Options)) as unknown as RawResult);
}

export function runSync(file: string, args: readonly string[], opts: RunOptions = {}): RunResult {
  return toResult(file, execaLib().execaSync(file, args, execaOptions(opts) as SyncOptions) as unknown as RawResult);
}

/** like run, but a non-zero exit is an error naming the command and showing its stderr */
export async function runChecked(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return checked(file, args, await run(file, args, opts));
}

export function runCheckedSync(file: string, args: readonly string[], opts: RunOptions = {}): RunResult {
  return checked(file, args, runSync(file, args, opts));
}

function checked(file: string, args: readonly string[], r: RunResult): RunResult {
  if (r.ok) return r;
  const how = r.exitCode === undefined ? `killed by ${r.signal}` : `exit ${r.exitCode}`;
  throw new Error(`${[file, ...args].join(' ')} failed (${how})${r.stderr.trim() ? `: ${r.stderr.trim()}` : ''}`);
}

/** a long-running program whose streams the caller reads (execa's subprocess, never rejecting) */
export function start(file: string, args: readonly string[], opts: Options): ResultPromise {
  return execaLib().execa(file, args, { reject: false, ...opts });
}

/** `command -v` without a shell: the executable's path on PATH, or undefined */
export function findOnPath(cmd: string, pathVar: string = process.env.PATH ?? ''): string | undefined {
  for (const dir of pathVar.split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, cmd);
    const st = statSync(p, { throwIfNoEntry: false });
    if (st?.isFile() && (st.mode & 0o111) !== 0) return p;
  }
  return undefined;
}

export function hasCommand(cmd: string): boolean {
  return findOnPath(cmd) !== undefined;
}
