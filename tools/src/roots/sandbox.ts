/**
 * Root-maintenance steps (creating, updating, keyring) run the way builds run their pacman step: as
 * root of the build's user namespace, inside bubblewrap with the seccomp filter and pacman's capabilities
 * only (sandbox/root-exec.ts). So no install scriptlet of a package put into a root ever runs as a host
 * account, and every file it writes already belongs to the root's uid range.
 */
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLogged } from '../process/logged-run';
import { uidBase } from '../sandbox/identity';
import { PACMAN_CAPS, sandboxArgv, type Bind, type SandboxRoot } from '../sandbox/root-exec';
import { seccompProgram } from '../sandbox/seccomp';
import { openBuildUserNamespace } from '../sandbox/userns';

export const SCRIPT_PROLOGUE = `set -euo pipefail\nsay() { printf '==> pkgnx: %s\\n' "$*"; }\n`;

export interface RootStep {
  root: SandboxRoot;
  binds: Bind[];
  network: boolean;
  /** bash, run after SCRIPT_PROLOGUE */
  script: string;
  env?: [string, string][];
  extraBwrap?: string[];
  purpose: string;
  logFile: string;
  signal?: AbortSignal;
}

export class RootStepError extends Error {
  override name = 'RootStepError';
}

/** pacman's and bubblewrap's error lines the step wrote to the log (the reason, not the whole log) */
function errorLines(logFile: string, from: number): string {
  let text: string;
  try {
    text = readFileSync(logFile).subarray(from).toString('utf8');
  } catch {
    return '';
  }
  const lines = text.split('\n').filter((l) => /^(error|bwrap|pacman-key): |^==> ERROR|^gpg: .*(error|failed|not found|no valid)|is corrupted/i.test(l));
  return lines.length ? `:\n  ${[...new Set(lines)].slice(-8).join('\n  ')}` : '';
}

function reasonAndLog(logFile: string, from: number): string {
  const reason = errorLines(logFile, from);
  return reason ? `${reason}\n  log: ${logFile}` : `; log: ${logFile}`;
}

/** runs the step; throws a RootStepError naming its purpose, exit status and log on failure */
export async function runRootStep(step: RootStep): Promise<void> {
  const base = uidBase();
  mkdirSync('/run/pkgnx', { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(join(tmpdir(), 'pkgnx-root-step-'));
  const userns = await openBuildUserNamespace(base);
  try {
    const seccompFile = join(dir, 'seccomp.bpf');
    writeFileSync(seccompFile, seccompProgram('build'));
    const fd = openSync(seccompFile, 'r');
    try {
      const argv = sandboxArgv({
        root: step.root,
        binds: step.binds,
        base,
        caps: PACMAN_CAPS,
        network: step.network,
        env: [['HOME', '/root'], ...(step.env ?? [])],
        extraBwrap: [...(step.extraBwrap ?? []), '--chdir', '/'],
        command: ['/bin/bash', '-c', `${SCRIPT_PROLOGUE}${step.script}`, 'pkgnx-root'],
      });
      const logStart = existsSync(step.logFile) ? statSync(step.logFile).size : 0;
      const r = await runLogged({ argv, purpose: step.purpose }, { logFile: step.logFile, signal: step.signal, fds: [userns.fd, fd] });
      if (r.aborted) throw new RootStepError(`${step.purpose}: interrupted (log: ${step.logFile})`);
      if (r.code !== 0) throw new RootStepError(`${step.purpose} failed (exit ${r.code ?? r.signal})${reasonAndLog(step.logFile, logStart)}`);
    } finally {
      closeSync(fd);
    }
  } finally {
    userns.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
