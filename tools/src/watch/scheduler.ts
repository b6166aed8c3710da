/**
 * The watch loop's scheduling, without files or processes: saved files are collected until none has come for
 * `debounceMs`, then one build runs for all of them; files saved during a build wait for the next one (never
 * two builds at once). Every change of state is reported, for the status line.
 */

/** how a build ended, in a line for the status (`built a, b; failed c (log: …)`) */
export interface BuildReport {
  ok: boolean;
  text: string;
}

export type WatchPhase = 'idle' | 'queued' | 'building' | 'stopping';

export interface WatchStatus {
  phase: WatchPhase;
  /** the files the running build is for */
  building: string[];
  /** saved files waiting for the next build */
  queued: string[];
  /** the last build's end */
  last?: BuildReport;
}

export class RebuildScheduler {
  private pending = new Set<string>();
  private building: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<void> | undefined;
  private last: BuildReport | undefined;
  private stopping = false;

  constructor(
    private readonly build: (files: string[]) => Promise<BuildReport>,
    private readonly onStatus: (status: WatchStatus) => void,
    private readonly debounceMs: number,
  ) {}

  status(): WatchStatus {
    const phase: WatchPhase = this.stopping ? 'stopping' : this.current ? 'building' : this.pending.size ? 'queued' : 'idle';
    return { phase, building: [...this.building], queued: [...this.pending].sort(), ...(this.last ? { last: this.last } : {}) };
  }

  /** a file was saved (workspace-relative path) */
  changed(file: string): void {
    if (this.stopping) return;
    this.pending.add(file);
    // during a build the debounce starts when it ends
    if (!this.current) this.arm();
    this.onStatus(this.status());
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fire(), this.debounceMs);
  }

  private fire(): void {
    this.timer = undefined;
    if (this.stopping || this.current || this.pending.size === 0) return;
    this.building = [...this.pending].sort();
    this.pending.clear();
    this.current = this.build(this.building)
      .catch((err: unknown): BuildReport => ({ ok: false, text: `the build could not run: ${err instanceof Error ? err.message : String(err)}` }))
      .then((report) => {
        this.last = report;
        this.building = [];
        this.current = undefined;
        if (this.pending.size && !this.stopping) this.arm();
        this.onStatus(this.status());
      });
    this.onStatus(this.status());
  }

  /** no new build from now on; resolves when the running one (if any) has ended */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    this.onStatus(this.status());
    await this.current;
  }
}
