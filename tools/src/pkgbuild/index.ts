/**
 * PKGBUILD metadata without trusting the PKGBUILD: what `makepkg --printsrcinfo` prints, extracted by a bash driver
 * that runs only inside bubblewrap, many PKGBUILDs per sandbox, cached on disk by content hash.
 * Or, with metadataSource 'srcinfo', read from committed `.SRCINFO` files without executing anything.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import type { Srcinfo, SrcinfoSection } from '../model';
import { normalizeSrcinfoValue, parseSrcinfo } from '../srcinfo';
import { DRIVER_SCRIPT, runBatch, type BatchItem, type BatchOutcome } from './batch';
import { SrcinfoCache, cacheKey, type CachedResult } from './cache';
import { lintExtraction, type RawExtraction, type RawSection } from './lint';
import { assertSandboxAvailable } from './sandbox';

export { SandboxUnavailableError } from './sandbox';

/** Bump when the extraction or its error texts change: part of every cache key. */
export const EXTRACTOR_VERSION = 'pkgnx-srcinfo-1';

export type ExtractResult = { srcinfo: Srcinfo; warnings: string[] } | { error: string };

/** Counters for callers and tests (e.g. "an unchanged workspace spawns no sandbox"). */
export interface ExtractStats {
  /** sandbox processes started (restarts after a timeout included) */
  spawned: number;
  /** PKGBUILDs sourced */
  sourced: number;
  cacheHits: number;
}

export interface ExtractOptions {
  carch: string;
  /** 'pkgbuild' (default): source in the sandbox; 'srcinfo': read `<dir>/.SRCINFO`, never run bash */
  metadataSource?: 'pkgbuild' | 'srcinfo';
  /** time limit per PKGBUILD, default 10 s */
  timeoutMs?: number;
  /** directory for the result cache; no cache when undefined */
  cacheDir?: string;
  /** sandboxes run in parallel, default the number of CPUs */
  concurrency?: number;
  /** paths in messages are relative to it (default process.cwd()) */
  workspaceRoot?: string;
  /** drop cache entries of PKGBUILDs not in `dirs` (pass when `dirs` is the whole workspace) */
  pruneCache?: boolean;
  /** bubblewrap binary (default `bwrap` from PATH) */
  bwrap?: string;
  stats?: ExtractStats;
  onSpawn?: () => void;
}

export function createStats(): ExtractStats {
  return { spawned: 0, sourced: 0, cacheHits: 0 };
}

/** Turns the driver's payload fields into sections with raw values and the lint facts. */
function decodePayload(fields: string[]): { raw: RawExtraction; complete: boolean; sourceStatus?: number } {
  const raw: RawExtraction = {
    pkgbase: { name: '', attrs: new Map(), lines: [] },
    packages: [],
    pkgnames: [],
    declared: new Map(),
    functionAssignments: [],
    missingFunctions: [],
  };
  let complete = false;
  let sourceStatus: number | undefined;
  let section: RawSection | undefined;
  let i = 0;
  const bad = (): never => {
    throw new Error(`malformed driver record at field ${i}`);
  };
  while (i < fields.length) {
    const tag = fields[i++];
    switch (tag) {
      case 'S': {
        const kind = fields[i++];
        const name = fields[i++] ?? bad();
        section = { name, attrs: new Map(), lines: [] };
        if (kind === 'pkgbase') raw.pkgbase = section;
        else if (kind === 'pkgname') {
          raw.packages.push(section);
          raw.pkgnames.push(name);
        } else bad();
        break;
      }
      case 'A': {
        const key = fields[i++];
        const count = Number(fields[i++]);
        if (!section || key === undefined || !Number.isInteger(count) || count < 0 || i + count > fields.length)
          return bad();
        const values = fields.slice(i, i + count);
        i += count;
        section.attrs.set(key, values);
        if (count === 0) section.lines.push([key, '']);
        else for (const v of values) section.lines.push([key, v]);
        break;
      }
      case 'T':
        raw.declared.set(fields[i] ?? bad(), fields[i + 1] ?? bad());
        i += 2;
        break;
      case 'F': {
        const [pkgname, attr, form] = [fields[i], fields[i + 1], fields[i + 2]];
        if (form !== 'a' && form !== 's') bad();
        raw.functionAssignments.push({ pkgname, attr, form: form as 'a' | 's' });
        i += 3;
        break;
      }
      case 'M':
        raw.missingFunctions.push(fields[i++] ?? bad());
        break;
      case 'E':
        sourceStatus = Number(fields[i++]);
        break;
      case 'Z':
        complete = true;
        break;
      default:
        bad();
    }
  }
  return { raw, complete, sourceStatus };
}

function toSrcinfo(raw: RawExtraction): Srcinfo {
  const section = (kind: 'pkgbase' | 'pkgname', s: RawSection): SrcinfoSection => ({
    kind,
    name: s.name,
    entries: s.lines.map(([k, v]): [string, string] => [k, normalizeSrcinfoValue(v)]),
  });
  return { pkgbase: section('pkgbase', raw.pkgbase), packages: raw.packages.map((p) => section('pkgname', p)) };
}

const WRITE_PATTERN = /Read-only file system/;
const NETWORK_PATTERN =
  /\/dev\/(tcp|udp)\/|Network is unreachable|Connection refused|Could not resolve host|Temporary failure in name resolution|Name or service not known|getaddrinfo/i;
const SYNTAX_PATTERN = /syntax error|unexpected EOF|unexpected end of file/;

/** The stderr lines of one PKGBUILD, with bash's `./PKGBUILD: line 3:` made to name the real file. */
function stderrLines(stderr: string, display: string): string[] {
  return stderr
    .split('\n')
    .map((l) => l.replace(/^(\/bin\/bash: )?(\.\/)?PKGBUILD: /, `${display}: `).trimEnd())
    .filter((l) => l !== '');
}

function interpret(outcome: BatchOutcome, display: string, packageDir: string, timeoutMs: number): CachedResult {
  if (outcome.kind === 'timeout')
    return { error: `${display}: sourcing it took longer than ${timeoutMs / 1000} s (an endless loop or a command that waits?); it was killed` };
  if (outcome.kind === 'crashed') return { error: `${display}: ${outcome.detail}` };
  const lines = stderrLines(outcome.stderr, display);
  const detail = lines.length ? `\n${lines.slice(0, 10).join('\n')}` : '';
  const wrote = lines.filter((l) => WRITE_PATTERN.test(l));
  if (wrote.length)
    return { error: `${display}: tried to write files while being sourced (the sandbox is read-only; a PKGBUILD must only set variables and define functions)${detail}` };
  if (lines.some((l) => NETWORK_PATTERN.test(l)))
    return { error: `${display}: tried to open a network connection while being sourced (the sandbox has no network)${detail}` };
  if (lines.some((l) => SYNTAX_PATTERN.test(l))) return { error: `${display}: bash syntax error${detail}` };
  let decoded: ReturnType<typeof decodePayload>;
  try {
    decoded = decodePayload(outcome.fields);
  } catch (err) {
    return { error: `${display}: unreadable result from the sandbox (${(err as Error).message}); did the PKGBUILD redefine shell builtins?${detail}` };
  }
  if (decoded.sourceStatus !== undefined)
    return { error: `${display}: sourcing failed: its last command returned exit status ${decoded.sourceStatus} (makepkg: "Failed to source")${detail}` };
  if (!decoded.complete)
    return { error: `${display}: the PKGBUILD exited while being sourced (exit status ${outcome.status}); it must not call exit${detail}` };
  const lint = lintExtraction(decoded.raw, packageDir);
  if (lint.length) return { error: `${display}: ${lint.join('; ')}` };
  return { srcinfo: toSrcinfo(decoded.raw), warnings: lines };
}

const BATCH_SIZE = 64;

// the driver script is hashed once, not once per PKGBUILD (2,600 PKGBUILDs x 10 KiB adds up)
let driverDigest: string | undefined;

/**
 * sha256 of what one result depends on: the PKGBUILD, every other file of its directory (a PKGBUILD
 * may source one; install/changelog must exist): contents up to 1 MiB, name, size and mtime beyond
 * (source tarballs), carch and the extractor. Only the package directory is visible in the sandbox,
 * so nothing outside it can change the result.
 */
function keyFor(dir: string, pkgbuild: Buffer, carch: string): string {
  const parts: (string | Buffer)[] = [];
  try {
    for (const name of readdirSync(dir).sort()) {
      if (name === 'PKGBUILD' || name === 'src' || name === 'pkg') continue;
      const path = join(dir, name);
      const st = statSync(path);
      parts.push(name);
      if (st.isFile() && st.size <= 1 << 20) parts.push(readFileSync(path));
      else parts.push(`${st.isDirectory() ? 'dir' : 'file'}:${st.size}:${st.mtimeMs}`);
    }
  } catch {
    // unreadable directory: the PKGBUILD read already succeeded, so only the lint facts differ
  }
  driverDigest ??= cacheKey([DRIVER_SCRIPT]);
  return cacheKey([EXTRACTOR_VERSION, driverDigest, carch, pkgbuild, ...parts]);
}

function readSrcinfoFiles(dirs: string[], root: string): Map<string, ExtractResult> {
  const results = new Map<string, ExtractResult>();
  for (const dir of dirs) {
    const file = join(resolve(root, dir), '.SRCINFO');
    const display = relative(root, file) || file;
    if (!existsSync(file)) {
      results.set(dir, { error: `${display}: not found (metadataSource "srcinfo" reads committed .SRCINFO files; create it with makepkg --printsrcinfo > .SRCINFO)` });
      continue;
    }
    try {
      results.set(dir, { srcinfo: parseSrcinfo(readFileSync(file, 'utf8'), display), warnings: [] });
    } catch (err) {
      results.set(dir, { error: (err as Error).message });
    }
  }
  return results;
}

/**
 * Metadata of each PKGBUILD directory, keyed by the dir as passed in. Never throws for a bad PKGBUILD (the result
 * holds the error); throws SandboxUnavailableError when PKGBUILDs must be sourced and bubblewrap cannot run.
 */
export async function extractSrcinfo(dirs: string[], options: ExtractOptions): Promise<Map<string, ExtractResult>> {
  const root = resolve(options.workspaceRoot ?? process.cwd());
  if (options.metadataSource === 'srcinfo') return readSrcinfoFiles(dirs, root);

  const timeoutMs = options.timeoutMs ?? 10_000;
  const stats = options.stats ?? createStats();
  const cache = options.cacheDir ? new SrcinfoCache(resolve(root, options.cacheDir), options.carch) : undefined;
  const results = new Map<string, ExtractResult>();
  const pending: (BatchItem & { key: string; input: string; display: string })[] = [];
  const usedKeys = new Set<string>();

  dirs.forEach((input, index) => {
    const dir = resolve(root, input);
    const file = join(dir, 'PKGBUILD');
    const display = relative(root, file) || file;
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      results.set(input, { error: `${display}: ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}` });
      return;
    }
    if (bytes.includes(13)) {
      results.set(input, { error: `${display}: contains CRLF characters and cannot be sourced (makepkg refuses it too)` });
      return;
    }
    const key = keyFor(dir, bytes, options.carch);
    usedKeys.add(key);
    const hit = cache?.get(key);
    if (hit) {
      stats.cacheHits++;
      results.set(input, hit);
      return;
    }
    pending.push({ index, dir, key, input, display });
  });

  if (pending.length) {
    assertSandboxAvailable(options.bwrap);
    const concurrency = Math.max(1, Math.min(options.concurrency ?? cpus().length, pending.length));
    // each sandbox binds its package directories one by one (a PKGBUILD sees only its own directory);
    // bwrap's start-up grows quickly with the number of mounts, so a sandbox takes at most 64 of them
    const chunks: (typeof pending)[] = [];
    for (let i = 0; i < pending.length; i += BATCH_SIZE) chunks.push(pending.slice(i, i + BATCH_SIZE));
    const outcomes: Map<number, BatchOutcome>[] = [];
    let nextChunk = 0;
    const worker = async (): Promise<void> => {
      while (nextChunk < chunks.length) {
        const chunk = chunks[nextChunk++];
        outcomes.push(
          await runBatch(chunk, {
            carch: options.carch,
            timeoutMs,
            bwrap: options.bwrap,
            // each package directory alone, read-only, at its own path (so $startdir and messages are real)
            readOnlyDirs: [...new Set(chunk.map((it) => it.dir))],
            onSpawn: () => {
              stats.spawned++;
              options.onSpawn?.();
            },
          }),
        );
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const byIndex = new Map<number, BatchOutcome>();
    for (const m of outcomes) for (const [k, v] of m) byIndex.set(k, v);
    for (const item of pending) {
      const outcome = byIndex.get(item.index) ?? { kind: 'crashed', detail: 'no result from the sandbox' };
      stats.sourced++;
      const result = interpret(outcome, item.display, item.dir, timeoutMs);
      results.set(item.input, result);
      // a timeout or a crash may not happen again: only cache what the PKGBUILD itself determines
      if (cache && outcome.kind === 'done') cache.set(item.key, result);
    }
  }
  if (cache) {
    if (options.pruneCache) cache.retain(usedKeys);
    cache.save();
  }
  // keep the caller's order
  return new Map(dirs.map((d) => [d, results.get(d)!]));
}
