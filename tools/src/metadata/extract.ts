/**
 * PKGBUILD metadata without trusting the PKGBUILD: what `makepkg --printsrcinfo` prints, extracted by a bash driver
 * that runs only inside bubblewrap (sandbox.ts), many PKGBUILDs per sandbox, cached on disk by content hash —
 * errors included, so a broken PKGBUILD costs nothing on the next command either. Callers go through
 * readMetadata (index.ts), which also reads committed `.SRCINFO` files instead when the workspace says so.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import type { Srcinfo, SrcinfoSection } from '../model';
import { normalizeSrcinfoValue } from '../srcinfo';
import { WORKSPACE_DATA } from '../workspace-paths';
import { DRIVER_SCRIPT, runBatch, type BatchItem, type BatchOutcome } from './batch';
import { CacheFile, SrcinfoCache, cacheKey, type CachedResult } from './cache';
import { isDriverAttribute, lintExtraction, type RawExtraction, type RawSection } from './lint';
import { isArchIndependent } from './arch-independence';
import { metadataView } from './build-root-view';
import { assertSandboxAvailable, sandboxFiles } from './sandbox';
import { STATIC_READER_VERSION, readPkgbuildStatically, staticReadingPossible } from './static-reader';

export { SandboxUnavailableError } from './sandbox';

/** Bump when the extraction or its error texts change: part of every cache key. */
export const EXTRACTOR_VERSION = 'pkgnx-srcinfo-5';

/** `archIndependent`: one sourcing serves every architecture (only known when the extraction scanned for it) */
export type ExtractResult = { srcinfo: Srcinfo; warnings: string[]; archIndependent?: boolean } | { error: string };

/** Counters for callers and tests (e.g. "an unchanged workspace spawns no sandbox"). */
export interface ExtractStats {
  /** sandbox processes started (restarts after a timeout included) */
  spawned: number;
  /** PKGBUILDs sourced */
  sourced: number;
  /** PKGBUILDs read without bash (static-reader.ts) */
  evaluated: number;
  cacheHits: number;
  /** package directories read and hashed for their cache keys (once for every architecture) */
  read: number;
}

export interface ExtractOptions {
  carch: string;
  /** decide, for each PKGBUILD, whether its metadata can depend on the architecture (arch-independence.ts) */
  scanArchIndependence?: boolean;
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
  /**
   * a content hash of each directory (absolute path, as resolved from `dirs`) that changes whenever a file in it
   * does: Nx's own file hashes, in the plugin. A directory whose hash is the one of an earlier call in this
   * process is not read again to find its cache key (the Nx daemon recomputes the graph on every save)
   */
  contentHashes?: ReadonlyMap<string, string>;
  /**
   * read the PKGBUILDs that only assign variables and define functions without bash (static-reader.ts), default
   * true: the same result, without a sandbox. Off to test the sandbox itself
   */
  staticReading?: boolean;
  /** bubblewrap binary (default `bwrap` from PATH) */
  bwrap?: string;
  /** where the sandbox's own files are kept (default <workspaceRoot>/.nx/workspace-data/pkgnx) */
  dataDir?: string;
  stats?: ExtractStats;
  onSpawn?: () => void;
}

export function createStats(): ExtractStats {
  return { spawned: 0, sourced: 0, evaluated: 0, cacheHits: 0, read: 0 };
}

/** Turns the driver's payload fields into sections with raw values and the lint facts. */
interface DecodedPayload {
  raw: RawExtraction;
  complete: boolean;
  /** `source ./PKGBUILD` returned non-zero */
  sourceStatus?: number;
  /** the item process exited early with this status (exit in the PKGBUILD) */
  exitStatus?: number;
  /** commands the PKGBUILD called that do not exist in the sandbox */
  missingCommands: string[];
  /** the driver could not enter the package directory: a fault of the sandbox, not of the PKGBUILD */
  sandboxFault: boolean;
  /** bash's parse of the PKGBUILD (scan mode) */
  canonical?: string;
}

/** The item's stderr, which the driver's capture appends last (`2`, text); the fields before it. */
function splitStderr(fields: string[]): { fields: string[]; stderr: string } {
  const n = fields.length;
  if (n >= 2 && fields[n - 2] === '2') return { fields: fields.slice(0, n - 2), stderr: fields[n - 1] };
  return { fields, stderr: '' };
}

function decodePayload(fields: string[]): DecodedPayload {
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
  let exitStatus: number | undefined;
  let sandboxFault = false;
  let canonical: string | undefined;
  const missingCommands: string[] = [];
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
      case 'P':
        (raw.packageFunctions ??= []).push(fields[i++] ?? bad());
        break;
      case 'Q':
        raw.sparseSource = true;
        break;
      case 'E':
        sourceStatus = Number(fields[i++]);
        break;
      case 'Z':
        complete = true;
        break;
      case 'X':
        exitStatus = Number(fields[i++] ?? bad());
        break;
      case 'N':
        missingCommands.push(fields[i++] ?? bad());
        break;
      case 'C':
        sandboxFault = true;
        break;
      case 'D':
        canonical = fields[i++] ?? bad();
        break;
      default:
        bad();
    }
  }
  return { raw, complete, sourceStatus, exitStatus, missingCommands: [...new Set(missingCommands)], sandboxFault, ...(canonical !== undefined ? { canonical } : {}) };
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
  /\/dev\/(tcp|udp)\/|socket: Operation not permitted|Network is unreachable|Connection refused|Could not resolve host|Temporary failure in name resolution|Name or service not known|getaddrinfo/i;
const SYNTAX_PATTERN = /syntax error|unexpected EOF|unexpected end of file/;
const READONLY_PATTERN = /readonly variable/;

/** The stderr lines of one PKGBUILD, with bash's `./PKGBUILD: line 3:` made to name the real file. */
function stderrLines(stderr: string, display: string): string[] {
  return stderr
    .split('\n')
    .map((l) => l.replace(/^(\/bin\/bash: |pkgnx-driver: )?(\.\/)?PKGBUILD: /, `${display}: `).trimEnd())
    .filter((l) => l !== '');
}

/** `uncacheable`: the sandbox itself failed (not the PKGBUILD), so the next run must try again */
function interpret(outcome: BatchOutcome, display: string, packageDir: string, timeoutMs: number, viewDescription: string, scan: boolean): CachedResult & { uncacheable?: true } {
  if (outcome.kind === 'timeout')
    return {
      error: `${display}: sourcing it took longer than ${timeoutMs / 1000} s (an endless loop or a command that waits?); it was killed (the plugin option sandboxTimeoutSeconds sets the limit)`,
      timedOutAfterMs: timeoutMs,
    };
  if (outcome.kind === 'crashed') return { error: `${display}: ${outcome.detail}`, uncacheable: true };
  const { fields, stderr } = splitStderr(outcome.fields);
  const lines = stderrLines(stderr, display);
  const detail = lines.length ? `\n${lines.slice(0, 10).join('\n')}` : '';
  let decoded: DecodedPayload;
  try {
    decoded = decodePayload(fields);
  } catch (err) {
    return { error: `${display}: unreadable result from the sandbox (${(err as Error).message}); did the PKGBUILD redefine shell builtins or pkgnx's functions?${detail}` };
  }
  if (decoded.sandboxFault) return { error: `${display}: the sandbox failed on it (it could not enter the package directory or write its scratch /tmp)${detail}`, uncacheable: true };
  if (decoded.missingCommands.length)
    return {
      error: `${display}: calls ${decoded.missingCommands.map((c) => `\`${c}\``).join(', ')} while being sourced, which ${decoded.missingCommands.length > 1 ? 'do' : 'does'} not exist in the metadata sandbox (this host's /usr, with ${viewDescription}); a missing command would silently change the result${detail}`,
    };
  if (lines.some((l) => WRITE_PATTERN.test(l)))
    return { error: `${display}: tried to write files outside /tmp while being sourced (the sandbox is read-only; a PKGBUILD must only set variables and define functions)${detail}` };
  if (lines.some((l) => READONLY_PATTERN.test(l)))
    return { error: `${display}: declares a variable readonly that makepkg (and pkgnx) must assign while reading it${detail}` };
  if (lines.some((l) => SYNTAX_PATTERN.test(l))) return { error: `${display}: bash syntax error${detail}` };
  const triedNetwork = lines.some((l) => NETWORK_PATTERN.test(l));
  const networkNote = triedNetwork ? ' It also tried to open a network connection (the sandbox has no network).' : '';
  if (decoded.sourceStatus !== undefined)
    return { error: `${display}: sourcing failed: its last command returned exit status ${decoded.sourceStatus} (makepkg: "Failed to source").${networkNote}${detail}` };
  if (!decoded.complete)
    return {
      error: `${display}: the PKGBUILD ended the shell while being sourced (${decoded.exitStatus !== undefined ? `exit status ${decoded.exitStatus}` : 'killed'}); it must not call exit or kill its shell.${networkNote}${detail}`,
    };
  const lint = lintExtraction(decoded.raw, packageDir);
  if (lint.length) return { error: `${display}: ${lint.join('; ')}` };
  // a PKGBUILD that only tries the network and falls back reads as makepkg reads it offline: it stands
  const warnings = triedNetwork ? [`${display}: tried to open a network connection while being sourced (the sandbox has no network); its fallback result is used`, ...lines] : lines;
  const srcinfo = toSrcinfo(decoded.raw);
  if (!scan) return { srcinfo, warnings };
  // one bash cannot parse as a function body is not provably independent; a PKGBUILD that printed anything
  // while sourced may have read its environment to do so: both sourced per architecture
  return { srcinfo, warnings, archIndependent: decoded.canonical !== undefined && lines.length === 0 && isArchIndependent(decoded.canonical, isDriverAttribute) };
}

const BATCH_SIZE = 64;

// the driver script is hashed once, not once per PKGBUILD (2,600 PKGBUILDs x 10 KiB adds up)
let driverDigest: string | undefined;

type KeyOrError = { key: string } | { error: string };
type DigestOrError = { digest: string } | { error: string };

/** a directory's Nx content hash and its contents' digest (directory-digests.json in the cache directory) */
type DirectoryDigest = { contentHash: string; digest: string };

/**
 * A directory's cache key, or why it cannot be sourced (checked on the host, before any sandbox): its contents'
 * digest (directoryDigest), carch, the build-root view and the extractor (the driver and the static reader: a result
 * may come from either, and a fix to one must not leave its old results in the cache).
 */
function cacheKeyOf(content: DigestOrError, dir: string, carch: string, viewFingerprint: string): KeyOrError {
  if ('error' in content) return content;
  driverDigest ??= cacheKey([DRIVER_SCRIPT]);
  // the directory too: an error names it, and $startdir is its path. Not whether the extraction scanned for
  // architecture independence: a scanned result serves a caller that did not ask (the graph scans, the
  // .SRCINFO sync does not: one sourcing for both), and an unscanned one is sourced again when asked
  return { key: cacheKey([EXTRACTOR_VERSION, driverDigest, `static-reader-${STATIC_READER_VERSION}`, carch, viewFingerprint, dir, content.digest]) };
}

/**
 * What a directory's contents give: their digest, or why the PKGBUILD cannot be sourced. With Nx's content hash
 * of the directory, a directory whose hash is the one remembered with its digest (by any earlier process, for
 * any architecture) is not read again: the trust the cached graph already has, which a warm command takes
 * whole when Nx's hashes are unchanged.
 */
function directoryContent(dir: string, display: string, contentHash: string | undefined, digests: CacheFile<DirectoryDigest> | undefined, stats: ExtractStats): DigestOrError {
  const kept = contentHash === undefined ? undefined : digests?.get(dir);
  if (kept && kept.contentHash === contentHash) return { digest: kept.digest };
  stats.read++;
  const bytes = readPkgbuild(dir, display);
  // errors are not remembered: some depend on more than the contents (permissions, where a link leads)
  if (!Buffer.isBuffer(bytes)) return bytes;
  const digest = directoryDigest(dir, bytes);
  if (contentHash !== undefined) digests?.set(dir, { contentHash, digest });
  return { digest };
}

/**
 * sha256 of the directory's part of what one result depends on: the PKGBUILD, every other file of its directory
 * (a PKGBUILD may source one; install/changelog must exist): contents up to 1 MiB, name, size and mtime beyond
 * (source tarballs); below it, every entry by name, size, mtime and ctime (a PKGBUILD may source files/vars.sh;
 * makepkg may have cloned a VCS source here, too big to read each time), makepkg's src/ and pkg/ aside. Only the
 * package directory is visible in the sandbox, so nothing outside it can change the result.
 */
/** what directoryDigest leaves out at the top of a package directory: the PKGBUILD (read first), makepkg's work trees */
export const OUTSIDE_DIGEST: ReadonlySet<string> = new Set(['PKGBUILD', 'src', 'pkg']);

function directoryDigest(dir: string, pkgbuild: Buffer): string {
  const parts: (string | Buffer)[] = [pkgbuild];
  const walk = (path: string, prefix: string): void => {
    let names: string[];
    try {
      names = readdirSync(path).sort();
    } catch {
      // unreadable: the PKGBUILD read already succeeded, so only what the sandbox can see differs
      parts.push(`${prefix}:unreadable`);
      return;
    }
    for (const name of names) {
      if (!prefix && OUTSIDE_DIGEST.has(name)) continue;
      const full = join(path, name);
      parts.push(prefix + name);
      try {
        const st = lstatSync(full);
        if (st.isSymbolicLink()) parts.push(`link:${readlinkSafe(full)}`);
        else if (st.isDirectory()) {
          parts.push('dir');
          walk(full, `${prefix}${name}/`);
        } else if (!prefix && st.isFile() && st.size <= 1 << 20) parts.push(readFileSync(full));
        else parts.push(`file:${st.size}:${st.mtimeMs}:${st.ctimeMs}`);
      } catch {
        // gone or unreadable since the listing: named as such, never a throw for one file
        parts.push('unreadable');
      }
    }
  };
  walk(dir, '');
  return cacheKey(parts);
}

/** the driver's fields for a PKGBUILD in the static reader's subset (read again: the digest may have been remembered) */
function readStatically(dir: string): string[] | undefined {
  let text: string;
  try {
    const bytes = readFileSync(join(dir, 'PKGBUILD'));
    // an unusually large PKGBUILD is the sandbox's (and its time limit's) job
    if (bytes.length > 1 << 20) return undefined;
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // unreadable, or not UTF-8 (bash reads bytes): the sandbox's job, which also names the problem
    return undefined;
  }
  const read = readPkgbuildStatically(text);
  return 'fields' in read ? read.fields : undefined;
}

/** whether what the sandbox sources as /etc/makepkg.conf (host path) leaves a statically read PKGBUILD as it is */
function makepkgConfAllowsStaticReading(path: string | undefined): boolean {
  if (path === undefined) return staticReadingPossible(undefined);
  try {
    // a link in a build root resolves differently inside the sandbox
    return !lstatSync(path).isSymbolicLink() && staticReadingPossible(readFileSync(path, 'utf8'));
  } catch {
    return false;
  }
}

function readlinkSafe(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '?';
  }
}

/** The PKGBUILD's bytes, or why it cannot be sourced: checked on the host, before any sandbox. */
function readPkgbuild(dir: string, display: string): Buffer | { error: string } {
  const file = join(dir, 'PKGBUILD');
  let st;
  try {
    st = lstatSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { error: `${display}: ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}` };
  }
  if (st.isSymbolicLink()) {
    // the sandbox shows the package directory alone: a link leading out of it would read as missing
    let target: string;
    try {
      target = realpathSync(file);
    } catch {
      return { error: `${display}: is a symbolic link to a file that does not exist` };
    }
    const realDir = realpathSync(dir);
    if (!target.startsWith(realDir + sep))
      return { error: `${display}: is a symbolic link to ${target}, outside its package directory; the sandbox shows only the package directory (copy the file instead)` };
  } else if (st.isDirectory()) {
    return { error: `${display}: is a directory, not a file` };
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    return { error: `${display}: cannot be read (${(err as NodeJS.ErrnoException).code})` };
  }
  const nul = bytes.indexOf(0);
  if (nul !== -1) return { error: `${display}: is not a text file (a NUL byte at offset ${nul}); a PKGBUILD is a bash script` };
  const crlf = bytes.indexOf('\r\n');
  if (crlf !== -1) {
    const line = bytes.subarray(0, crlf).toString('latin1').split('\n').length;
    return { error: `${display}: has Windows (CRLF) line endings, first on line ${line}; makepkg refuses them too (convert with dos2unix or sed -i 's/\\r$//')` };
  }
  return bytes;
}

/**
 * Metadata of each PKGBUILD directory, keyed by the dir as passed in. Never throws for a bad PKGBUILD (the result
 * holds the error); throws SandboxUnavailableError when PKGBUILDs must be sourced and bubblewrap cannot run.
 */
export async function extractSrcinfo(dirs: string[], options: ExtractOptions): Promise<Map<string, ExtractResult>> {
  const root = resolve(options.workspaceRoot ?? process.cwd());

  const timeoutMs = options.timeoutMs ?? 10_000;
  const scan = options.scanArchIndependence === true;
  const stats = options.stats ?? createStats();
  const cache = options.cacheDir ? new SrcinfoCache(resolve(root, options.cacheDir), options.carch) : undefined;
  const digests = options.cacheDir && options.contentHashes ? new CacheFile<DirectoryDigest>(resolve(root, options.cacheDir), 'directory-digests.json') : undefined;
  const view = metadataView(root, options.carch);
  const staticReading = options.staticReading !== false && makepkgConfAllowsStaticReading(view.makepkgConf);
  const results = new Map<string, ExtractResult>();
  type Pending = BatchItem & { key: string; input: string; display: string };
  const pending: Pending[] = [];
  const usedKeys = new Set<string>();

  const lookUp = (input: string, index: number): void => {
    const dir = resolve(root, input);
    const display = relative(root, join(dir, 'PKGBUILD')) || join(dir, 'PKGBUILD');
    const found = cacheKeyOf(directoryContent(dir, display, options.contentHashes?.get(dir), digests, stats), dir, options.carch, view.fingerprint);
    if ('error' in found) {
      results.set(input, { error: found.error });
      return;
    }
    const { key } = found;
    usedKeys.add(key);
    const hit = cache?.get(key);
    // a PKGBUILD that ran out of time is tried again only with a longer limit; one read without the scan
    // again when the caller needs it
    const retry = hit !== undefined && ('error' in hit ? hit.timedOutAfterMs !== undefined && hit.timedOutAfterMs < timeoutMs : scan && hit.archIndependent === undefined);
    if (hit && !retry) {
      stats.cacheHits++;
      results.set(input, 'timedOutAfterMs' in hit ? { error: hit.error } : hit);
      return;
    }
    const fields = staticReading ? readStatically(dir) : undefined;
    if (fields) {
      stats.evaluated++;
      const { uncacheable, ...result } = interpret({ kind: 'done', fields }, display, dir, timeoutMs, view.describe, false);
      // the static reader's subset reads no variable from outside the PKGBUILD: the same for every architecture
      if ('srcinfo' in result) result.archIndependent = true;
      results.set(input, result);
      if (cache && !uncacheable) cache.set(key, result);
      return;
    }
    pending.push({ index, dir, key, input, display });
  };
  // the directories are read for their keys as the sandboxes ask for work, not all before the first one starts:
  // on a cold cache, reading 8,000 directories first kept every other core idle for a second
  let looked = 0;
  let taken = 0;
  const fill = (): void => {
    while (pending.length - taken < BATCH_SIZE && looked < dirs.length) lookUp(dirs[looked], looked++);
  };
  // set when a worker fails: the others take no more work, so nothing runs on after the call has rejected
  let stopped = false;
  const nextChunk = (): Pending[] | undefined => {
    if (stopped) return undefined;
    fill();
    if (taken === pending.length) return undefined;
    const chunk = pending.slice(taken, taken + BATCH_SIZE);
    taken += chunk.length;
    return chunk;
  };

  fill();
  if (taken < pending.length) {
    const files = sandboxFiles(resolve(root, options.dataDir ?? WORKSPACE_DATA));
    // each sandbox binds its package directories one by one (a PKGBUILD sees only its own directory);
    // bwrap's start-up grows with the number of mounts, so a sandbox takes at most 64 of them
    let broken = false;
    const work = async (): Promise<void> => {
      for (let chunk = nextChunk(); chunk; chunk = nextChunk()) {
        const outcomes = await runBatch(chunk, {
          carch: options.carch,
          scan,
          timeoutMs,
          bwrap: options.bwrap,
          files,
          view,
          onSpawn: () => {
            stats.spawned++;
            options.onSpawn?.();
          },
        });
        // read while the other sandboxes still run
        for (const item of chunk) {
          const outcome = outcomes.get(item.index) ?? { kind: 'crashed', detail: 'no result from the sandbox' };
          if (outcome.kind !== 'done') broken = true;
          stats.sourced++;
          const { uncacheable, ...result } = interpret(outcome, item.display, item.dir, timeoutMs, view.describe, scan);
          results.set(item.input, 'timedOutAfterMs' in result ? { error: result.error } : result);
          // what the PKGBUILD itself determines is cached, errors and timeouts included; a sandbox that broke
          // for a reason of its own is not
          if (cache && !uncacheable) cache.set(item.key, result);
        }
      }
    };
    const worker = (): Promise<void> =>
      work().catch((err: unknown) => {
        stopped = true;
        throw err;
      });
    const concurrency = Math.max(1, options.concurrency ?? cpus().length);
    // the sandbox is probed only when something went wrong (a probe costs a bwrap start on every change): a
    // missing or unusable bubblewrap is then one clear error instead of an error on every PKGBUILD
    // every worker settled before the call returns or rejects: no sandbox outlives it
    const settled = await Promise.allSettled(Array.from({ length: concurrency }, worker));
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failure) {
      assertSandboxAvailable(options.bwrap ?? 'bwrap', files);
      throw failure.reason;
    }
    if (broken) assertSandboxAvailable(options.bwrap ?? 'bwrap', files);
  }
  // directories gone from the workspace leave the digests too
  if (digests) {
    if (options.pruneCache && options.contentHashes) digests.retain(options.contentHashes);
    digests.save();
  }
  if (cache) {
    if (options.pruneCache) cache.retain(usedKeys);
    cache.save();
  }
  // keep the caller's order
  return new Map(dirs.map((d) => [d, results.get(d)!]));
}
