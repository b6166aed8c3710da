/**
 * Where fetch requests come from: `packages_to_build.json` entries (the `outdated` verb's output),
 * or names on the command line whose target version is looked up in the state repository, then in
 * the upstream databases.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { FetchRequest, FetchSource } from './fetch';

/** The fields of a packages_to_build.json entry that fetching uses. */
export interface BuildListEntryFields {
  name: string;
  basename?: string;
  version?: string;
  use_aur?: boolean;
  use_local?: boolean;
  force_latest?: boolean;
  state_tag?: string;
  state_commit?: string;
}

/** Placeholders the predecessor wrote into `version` instead of a version. */
const NOT_A_VERSION = new Set(['AUR', 'local', 'latest', 'unknown', '']);

export function requestFromBuildEntry(e: BuildListEntryFields): FetchRequest {
  const source: FetchSource = e.use_local ? 'local' : e.use_aur ? 'aur' : 'official';
  const req: FetchRequest = { pkgbase: e.basename ?? e.name, source };
  if (e.version && !NOT_A_VERSION.has(e.version)) req.version = e.version;
  if (e.force_latest || e.version === 'latest') req.useLatest = true;
  if (e.state_tag) req.tag = e.state_tag;
  if (e.state_commit) req.commit = e.state_commit;
  return req;
}

export function readBuildList(file: string): FetchRequest[] {
  if (!existsSync(file)) throw new Error(`${file}: not found (the outdated verb deletes it when nothing is to be built)`);
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: invalid JSON: ${(e as Error).message}`);
  }
  const list = Array.isArray(doc) ? doc : (doc as { packages?: unknown }).packages;
  if (!Array.isArray(list)) throw new Error(`${file}: expected {"packages": [...]}`);
  const out: FetchRequest[] = [];
  const seen = new Set<string>();
  list.forEach((raw: unknown, i: number) => {
    const e = raw as BuildListEntryFields;
    if (typeof e?.name !== 'string') throw new Error(`${file}: packages[${i}].name: expected a string`);
    const req = requestFromBuildEntry(e);
    // cycle entries appear twice (stage 1 and 2): one fetch per pkgbase
    if (!seen.has(req.pkgbase)) {
      seen.add(req.pkgbase);
      out.push(req);
    }
  });
  return out;
}

export interface VersionSource {
  /** pkgbase -> {version, tag, commit} (the state repository) */
  state?: ReadonlyMap<string, { version: string; tag: string; commit: string }>;
  /** pkgbase -> version (the upstream databases) */
  upstream?: (pkgbase: string) => string | undefined;
}

/** Fill in version/tag/commit of official requests that have none; the state repository wins. */
export function withTargetVersions(requests: readonly FetchRequest[], source: VersionSource): FetchRequest[] {
  return requests.map((r) => {
    if ((r.source ?? 'official') !== 'official' || r.version || r.useLatest) return r;
    const st = source.state?.get(r.pkgbase);
    if (st) return { ...r, version: st.version, tag: st.tag, commit: st.commit };
    const v = source.upstream?.(r.pkgbase);
    return v ? { ...r, version: v } : r;
  });
}
