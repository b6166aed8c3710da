/**
 * Architecture overlays: a unified diff (`<carch>.patch`, the archriscv-packages model) applied with
 * `patch -p0` on top of the upstream PKGBUILD after every checkout.
 *
 * Where the patch lives, in lookup order:
 * 1. `pkgbuilds/<pkgbase>/<carch>.patch`, untracked by the checkout's repository. It is added to the
 *    checkout git dir's `info/exclude`, so git status/stash/checkout never see or remove it.
 * 2. `<overlaysDir>/<carch>/<pkgbase>.patch` (default `overlays/` at the workspace root).
 *
 * What was applied is recorded in `<git dir>/pkgnx-overlay.json` (patch hash + hash of every patched
 * file afterwards), so an update can tell our own modifications from a user's edits and undo only ours.
 * The git dir lives outside the package directory (`.pkgnx/git/<pkgbase>.git`, see fetch.ts), so every
 * function here takes it explicitly.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { run } from '../process/run';

export interface OverlayState {
  /** absolute path of the patch that was applied */
  patch: string;
  patchSha256: string;
  /** checkout-relative path -> sha256 of its content right after patching */
  files: Record<string, string>;
  /** files the patch created (absent before it was applied): undone by deleting them, not by checkout */
  created?: string[];
}

export type OverlayOutcome =
  | { status: 'applied'; patch: string; files: string[] }
  | { status: 'unchanged'; patch: string }
  | { status: 'failed'; patch: string; message: string; rejectedHunks: string[] };

const STATE_FILE = 'pkgnx-overlay.json';

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function fileSha(path: string): string | undefined {
  return existsSync(path) ? sha256(readFileSync(path)) : undefined;
}

/** The overlay for a package, if any (see the module comment for the lookup order). */
export function findOverlay(checkoutDir: string, pkgbase: string, carch: string | undefined, overlaysDir?: string): string | undefined {
  if (!carch) return undefined;
  const inCheckout = join(checkoutDir, `${carch}.patch`);
  if (existsSync(inCheckout)) return inCheckout;
  if (overlaysDir) {
    const shared = join(overlaysDir, carch, `${pkgbase}.patch`);
    if (existsSync(shared)) return shared;
  }
  return undefined;
}

/** Files a `-p0` patch writes to (its `+++` lines; `/dev/null` for deletions is skipped). */
export function patchTargets(patchText: string): string[] {
  const out: string[] = [];
  for (const line of patchText.split('\n')) {
    if (!line.startsWith('+++ ')) continue;
    const name = line.slice(4).split('\t')[0].trim();
    if (name !== '/dev/null' && !out.includes(name)) out.push(name);
  }
  return out;
}

/** Hunk headers (`@@ -a,b +c,d @@`) per target file, in order, to name a rejected hunk. */
function hunkHeaders(patchText: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of patchText.split('\n')) {
    if (line.startsWith('+++ ')) {
      current = [];
      map.set(line.slice(4).split('\t')[0].trim(), current);
    } else if (line.startsWith('@@') && current) current.push(line);
  }
  return map;
}

export function readOverlayState(gitDir: string): OverlayState | undefined {
  const file = join(gitDir, STATE_FILE);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as OverlayState;
  } catch {
    return undefined;
  }
}

export function clearOverlayState(gitDir: string): void {
  rmSync(join(gitDir, STATE_FILE), { force: true });
}

/** Files the recorded overlay changed that still hold exactly what the overlay wrote (ours to undo). */
export function overlayOwnedFiles(checkoutDir: string, gitDir: string): string[] {
  const state = readOverlayState(gitDir);
  if (!state) return [];
  return Object.entries(state.files)
    .filter(([file, hash]) => fileSha(join(checkoutDir, file)) === hash)
    .map(([file]) => file);
}

/** Is the recorded overlay the current patch, still fully in place? */
export function overlayInPlace(checkoutDir: string, gitDir: string, patch: string): boolean {
  const state = readOverlayState(gitDir);
  if (!state || state.patch !== patch || state.patchSha256 !== fileSha(patch)) return false;
  return overlayOwnedFiles(checkoutDir, gitDir).length === Object.keys(state.files).length;
}

/** Keep an in-checkout patch out of git's view (status, stash -u, clean). */
export function excludeFromGit(checkoutDir: string, gitDir: string, file: string): void {
  const rel = relative(checkoutDir, file);
  if (rel.startsWith('..')) return;
  const info = join(gitDir, 'info');
  const exclude = join(info, 'exclude');
  const line = `/${rel}`;
  const current = existsSync(exclude) ? readFileSync(exclude, 'utf8') : '';
  if (current.split('\n').includes(line)) return;
  mkdirSync(info, { recursive: true });
  appendFileSync(exclude, `${current === '' || current.endsWith('\n') ? '' : '\n'}${line}\n`);
}

async function runPatch(cwd: string, args: string[]): Promise<{ code: number; output: string }> {
  const r = await run('patch', args, { cwd, env: { LC_ALL: 'C' } });
  return { code: r.exitCode ?? 2, output: `${r.stdout}${r.stderr}` };
}

/**
 * Apply `patch` to a clean checkout: a dry run first, so that a patch that no longer applies leaves
 * every file untouched; then for real, recording the result.
 */
export async function applyOverlay(checkoutDir: string, gitDir: string, pkgbase: string, patch: string): Promise<OverlayOutcome> {
  const text = readFileSync(patch, 'utf8');
  const common = ['-p0', '--forward', '--batch', '--no-backup-if-mismatch', '--reject-file=-', '-i', patch];
  const dry = await runPatch(checkoutDir, ['--dry-run', ...common]);
  if (dry.code !== 0) {
    const headers = hunkHeaders(text);
    const rejected: string[] = [];
    let file = '';
    for (const line of dry.output.split('\n')) {
      const f = /^(?:checking|patching) file (.+)$/.exec(line);
      if (f) file = f[1].trim();
      const h = /^Hunk #(\d+) FAILED at (\d+)/.exec(line);
      if (h) rejected.push(`${file} hunk #${h[1]} ${headers.get(file)?.[Number(h[1]) - 1] ?? ''} (expected near line ${h[2]})`.replace(/\s+\(/, ' ('));
      if (/can't find file to patch|No file to patch/.test(line)) rejected.push(`${file || '(unknown file)'}: file not found in the checkout`);
      if (/Reversed \(or previously applied\) patch detected/.test(line)) rejected.push(`${file}: already applied or reversed`);
    }
    const detail = rejected.length ? rejected.join('; ') : dry.output.trim().split('\n').slice(-3).join(' / ');
    return {
      status: 'failed',
      patch,
      rejectedHunks: rejected,
      message: `${pkgbase}: overlay ${patch} no longer applies: ${detail}. The checkout is left at the clean upstream state; the patch file is kept.`,
    };
  }
  const existedBefore = new Set(patchTargets(text).filter((f) => existsSync(join(checkoutDir, f))));
  const real = await runPatch(checkoutDir, common);
  if (real.code !== 0) {
    return { status: 'failed', patch, rejectedHunks: [], message: `${pkgbase}: overlay ${patch} failed to apply: ${real.output.trim()}` };
  }
  const files: Record<string, string> = {};
  for (const f of patchTargets(text)) {
    const h = fileSha(join(checkoutDir, f));
    if (h) files[f] = h;
  }
  if (existsSync(gitDir)) {
    const created = Object.keys(files).filter((f) => !existedBefore.has(f));
    const state: OverlayState = { patch, patchSha256: sha256(text), files, ...(created.length ? { created } : {}) };
    writeFileSync(join(gitDir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
  }
  return { status: 'applied', patch, files: Object.keys(files) };
}
