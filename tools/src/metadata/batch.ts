/**
 * Runs the driver over many PKGBUILDs in one sandbox, watches a per-PKGBUILD time limit, and restarts the
 * batch with the remaining PKGBUILDs when one had to be killed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { start } from '../process/run';
import { killBelow } from '../process/tree';
import type { MetadataView } from './build-root-view';
import { prepareSandbox, type SandboxFiles } from './sandbox';

export const DRIVER_SCRIPT = readFileSync(join(__dirname, 'driver.bash'), 'utf8');

export interface BatchItem {
  index: number;
  /** absolute package directory */
  dir: string;
}

/** `fields`: what the item process wrote to its own pipe (untrusted: decoded and validated by the caller) */
export type BatchOutcome = { kind: 'done'; fields: string[] } | { kind: 'timeout' } | { kind: 'crashed'; detail: string };

export interface BatchOptions {
  carch: string;
  /** also print bash's parse of each PKGBUILD (the driver's D field), for arch-independence.ts */
  scan?: boolean;
  timeoutMs: number;
  files: SandboxFiles;
  view: MetadataView;
  bwrap?: string;
  onSpawn?: () => void;
}

/** Splits the NUL-terminated field stream of the driver; keeps a partial field between chunks. */
class FieldReader {
  private pending: Buffer[] = [];
  readonly fields: string[] = [];
  push(chunk: Buffer): void {
    let start = 0;
    for (let i = chunk.indexOf(0); i !== -1; i = chunk.indexOf(0, start)) {
      const piece = chunk.subarray(start, i);
      if (this.pending.length) {
        this.pending.push(piece);
        this.fields.push(Buffer.concat(this.pending).toString('utf8'));
        this.pending = [];
      } else this.fields.push(piece.toString('utf8'));
      start = i + 1;
    }
    if (start < chunk.length) this.pending.push(Buffer.from(chunk.subarray(start)));
  }
}

/** One sandbox process; resolves with the outcomes it got, which may be fewer than the items (timeout/crash). */
function runOnce(items: BatchItem[], options: BatchOptions): Promise<Map<number, BatchOutcome>> {
  return new Promise((resolveRun) => {
    const outcomes = new Map<number, BatchOutcome>();
    const launch = prepareSandbox({
      carch: options.carch,
      // each package directory alone, read-only, at its own path (so $startdir and messages are real)
      packageDirs: [...new Set(items.map((it) => it.dir))],
      files: options.files,
      view: options.view,
      driverArgs: ['-c', DRIVER_SCRIPT, 'pkgnx-driver', options.scan ? 'scan' : 'noscan', ...items.flatMap((it) => [String(it.index), it.dir])],
    });
    options.onSpawn?.();
    // detached: its own process group, so a timeout kills bwrap and everything under it
    let child: ReturnType<typeof start>;
    try {
      child = start(options.bwrap ?? 'bwrap', launch.args, { stdio: launch.stdio, detached: true, buffer: false });
    } finally {
      launch.close();
    }
    const reader = new FieldReader();
    let pos = 0;
    let current: number | undefined;
    let timer: NodeJS.Timeout | undefined;
    let timedOut: number | undefined;
    let stderr = '';
    // the sandbox's own processes first, so bwrap reaps them (a zombie left to pid 1 may never be reaped)
    const kill = (): void => {
      const pid = child.pid;
      if (!pid) return;
      void killBelow(pid).then(() => {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // already gone
        }
      });
    };
    const arm = (ms: number, index: number | undefined): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = index;
        kill();
      }, ms);
    };
    // bwrap start-up is not charged to any PKGBUILD, but still bounded
    arm(Math.max(options.timeoutMs, 30_000), undefined);

    // the driver handles the items strictly in order: a frame for any other item was forged by a
    // PKGBUILD writing to the driver's output, so it ends the sandbox and fails the item being sourced
    let nextItem = 0;
    const forged = (what: string): void => {
      const victim = current ?? items[nextItem]?.index;
      if (victim !== undefined && !outcomes.has(victim)) outcomes.set(victim, { kind: 'crashed', detail: `it wrote ${what} to the sandbox driver's output` });
      current = undefined;
      kill();
    };
    const consume = (): void => {
      const f = reader.fields;
      for (;;) {
        const tag = f[pos];
        if (tag === undefined) return;
        if (tag === 'B') {
          if (f.length < pos + 2) return;
          const index = Number(f[pos + 1]);
          if (current !== undefined || index !== items[nextItem]?.index) return forged('a forged "begin" record');
          current = index;
          arm(options.timeoutMs, current);
          pos += 2;
        } else if (tag === 'R') {
          if (f.length < pos + 3) return;
          const n = Number(f[pos + 2]);
          if (f.length < pos + 3 + n) return;
          const index = Number(f[pos + 1]);
          if (index !== current) return forged('a forged result record');
          nextItem++;
          outcomes.set(index, { kind: 'done', fields: f.slice(pos + 3, pos + 3 + n) });
          pos += 3 + n;
          current = undefined;
          clearTimeout(timer);
        } else {
          // only the trusted driver loop writes here; anything else means the driver itself broke
          stderr += `unexpected driver output ${JSON.stringify(tag)}\n`;
          kill();
          return;
        }
      }
    };
    child.stdout!.on('data', (chunk: Buffer) => {
      reader.push(chunk);
      consume();
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      if (stderr.length < 8000) stderr += chunk.toString('utf8');
    });
    child.on('error', (err) => {
      stderr += String(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut !== undefined) outcomes.set(timedOut, { kind: 'timeout' });
      else if (current !== undefined && !outcomes.has(current))
        outcomes.set(current, {
          kind: 'crashed',
          detail: `the sandbox exited (${signal ?? `status ${code}`}) while sourcing it${stderr ? `: ${stderr.trim()}` : ''}`,
        });
      else if (outcomes.size < items.length && outcomes.size === 0) {
        // nothing was processed at all: report on the first item so the restart loop makes progress
        outcomes.set(items[0].index, {
          kind: 'crashed',
          detail: `the sandbox failed to start (${signal ?? `status ${code}`})${stderr ? `: ${stderr.trim()}` : ''}`,
        });
      }
      resolveRun(outcomes);
    });
  });
}

/** Runs all items, restarting the sandbox after a timeout or crash with the items not yet done. */
export async function runBatch(items: BatchItem[], options: BatchOptions): Promise<Map<number, BatchOutcome>> {
  const all = new Map<number, BatchOutcome>();
  let remaining = items;
  while (remaining.length) {
    const got = await runOnce(remaining, options);
    for (const [k, v] of got) all.set(k, v);
    const left = remaining.filter((it) => !all.has(it.index));
    // a run that settled nothing must not be retried forever
    if (left.length === remaining.length) all.set(left[0].index, { kind: 'crashed', detail: 'the sandbox made no progress on it' });
    remaining = remaining.filter((it) => !all.has(it.index));
  }
  return all;
}
