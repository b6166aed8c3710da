/**
 * The status page of a run: static HTML, one page per architecture and an index, rendered from the run
 * summary (dist/summary.json) and whatever versions are known (workspace, upstream, target). Readable at a
 * glance: counts at the top, failures first, a colour per result; a failed package links to its log, a
 * skipped one to the failure it waited for. No script, no external resource: publishable as it is.
 */
import type { RunSummary } from '../packaging/run-summary';
import { ANY_DIST } from '../workspace-paths';

export type Result = 'failed' | 'stopped' | 'skipped' | 'built' | 'restored';

export interface PackageVersions {
  workspace?: string;
  upstream?: string;
  target?: string;
}

export interface StatusRow {
  project: string;
  result: Result;
  durationMs?: number;
  /** failed: the log's href on the page (relative), or why there is none */
  log?: string;
  reason?: string;
  /** skipped: the failed packages it waited for */
  because?: string[];
  /** restored: where from */
  from?: string;
  versions: PackageVersions;
}

export interface StatusPage {
  /** file name in the output directory */
  file: string;
  html: string;
}

const ORDER: Result[] = ['failed', 'stopped', 'skipped', 'built', 'restored'];
const COLOURS: Record<Result, { bg: string; fg: string }> = {
  failed: { bg: '#fde0dc', fg: '#b3261e' },
  stopped: { bg: '#fdebd3', fg: '#9a4d00' },
  skipped: { bg: '#fff4c2', fg: '#7a5d00' },
  built: { bg: '#dcf5e0', fg: '#1e6b2f' },
  restored: { bg: '#e3edf9', fg: '#1f4f8a' },
};

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
const anchor = (project: string): string => `pkg-${project.replace(/[^A-Za-z0-9_.-]/g, '_')}`;

function duration(ms: number | undefined): string {
  if (ms === undefined) return '';
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** the rows of one architecture (configuration); tasks without a configuration count as `defaultArch` */
export function statusRows(
  s: RunSummary,
  arch: string,
  defaultArch: string,
  versions: (project: string) => PackageVersions,
  logHref: (log: string) => string = (l) => l,
): StatusRow[] {
  const mine = <T extends { configuration?: string }>(e: T): boolean => (e.configuration ?? defaultArch) === arch;
  const rows: StatusRow[] = [
    ...s.failed.filter(mine).map((f) => ({ project: f.project, result: 'failed' as const, ...(f.log ? { log: logHref(f.log) } : { reason: f.reason ? `failed before the build started: ${f.reason}` : 'no log' }), versions: versions(f.project) })),
    ...s.stopped.filter(mine).map((t) => ({ project: t.project, result: 'stopped' as const, durationMs: t.durationMs, versions: versions(t.project) })),
    ...s.skipped.filter(mine).map((k) => ({ project: k.project, result: 'skipped' as const, because: k.because, versions: versions(k.project) })),
    ...s.built.filter(mine).map((b) => ({ project: b.project, result: 'built' as const, durationMs: b.durationMs, versions: versions(b.project) })),
    ...s.restored.filter(mine).map((r) => ({ project: r.project, result: 'restored' as const, from: r.from, versions: versions(r.project) })),
  ];
  return rows.sort((a, b) => ORDER.indexOf(a.result) - ORDER.indexOf(b.result) || a.project.localeCompare(b.project));
}

function detail(r: StatusRow): string {
  switch (r.result) {
    case 'failed':
      return r.log ? `<a class="log" href="${esc(r.log)}">build log</a>` : esc(r.reason ?? '');
    case 'skipped':
      return r.because && r.because.length
        ? `skipped because ${r.because.map((b) => `<a href="#${anchor(b)}">${esc(b)}</a>`).join(', ')} failed`
        : 'skipped: a dependency did not build';
    case 'stopped':
      return 'interrupted';
    case 'restored':
      return r.from === 'remote-cache' ? 'restored from the remote cache' : 'restored from the local cache';
    default:
      return '';
  }
}

const STYLE = `
body{font:15px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1b1b1b}
h1{font-size:22px;margin:0 0 4px}.meta{color:#555;margin:0 0 16px}
.counts{display:flex;flex-wrap:wrap;gap:8px;margin:0 0 18px;padding:0;list-style:none}
.counts li{padding:6px 12px;border-radius:6px;font-weight:600}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:5px 10px;border-bottom:1px solid #e2e2e2}
th{background:#f4f4f4;position:sticky;top:0}td.num{white-space:nowrap}.result{font-weight:700;text-transform:uppercase;font-size:12px}
.stale{background:#fff4c2;padding:8px 12px;border-radius:6px;margin:0 0 16px}
${ORDER.map((r) => `.r-${r}{background:${COLOURS[r].bg}}.r-${r} .result,.c-${r}{color:${COLOURS[r].fg}}.c-${r}{background:${COLOURS[r].bg}}`).join('\n')}
`;

function page(title: string, body: string): string {
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">\n<title>${esc(title)}</title><style>${STYLE}</style></head>\n<body>\n${body}\n</body></html>\n`;
}

function runLine(s: RunSummary): string {
  const parts = [s.startTime ? `run started ${s.startTime.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}` : '', s.durationMs !== undefined ? `took ${duration(s.durationMs)}` : ''].filter(Boolean);
  return parts.join(', ');
}

function staleNote(s: RunSummary): string {
  return s.stale ? `<p class="stale">A later build run (nx ${esc(s.stale.command)}, started ${esc(s.stale.startedAt)}) did not finish: this is the page of the run before it.</p>\n` : '';
}

export function renderArchPage(s: RunSummary, arch: string, rows: readonly StatusRow[], title: string): string {
  const counts = ORDER.map((r) => [r, rows.filter((x) => x.result === r).length] as const);
  const body = [
    `<h1>${esc(title)}: ${esc(arch)}</h1>`,
    `<p class="meta">${esc(runLine(s))}${runLine(s) ? ' · ' : ''}<a href="index.html">all architectures</a></p>`,
    staleNote(s),
    `<ul class="counts" id="counts">${counts.map(([r, n]) => `<li class="c-${r}" data-result="${r}">${n} ${r}</li>`).join('')}<li>${rows.length} packages</li></ul>`,
    '<table id="packages"><thead><tr><th>package</th><th>result</th><th>workspace</th><th>upstream</th><th>target</th><th>duration</th><th>detail</th></tr></thead><tbody>',
    ...rows.map(
      (r) =>
        `<tr id="${anchor(r.project)}" class="r-${r.result}" data-result="${r.result}"><td>${esc(r.project)}</td><td class="result">${r.result}</td>` +
        `<td>${esc(r.versions.workspace ?? '')}</td><td>${esc(r.versions.upstream ?? '')}</td><td>${esc(r.versions.target ?? '')}</td>` +
        `<td class="num">${duration(r.durationMs)}</td><td>${detail(r)}</td></tr>`,
    ),
    '</tbody></table>',
  ].join('\n');
  return page(`${title}: ${arch}`, body);
}

/**
 * arch=(any) packages are built once (configuration `any`) and placed per architecture (packaging/any-package.ts).
 * A page is about the architectures packages are for: a placement skipped because its own one build failed (or
 * was stopped) is shown as that failure in its architecture; the one build's other outcomes are the placements'.
 */
export function foldAnyTasks(s: RunSummary, defaultArch: string): RunSummary {
  const isAny = (e: { configuration?: string }): boolean => e.configuration === ANY_DIST;
  const anyFailed = new Map(s.failed.filter(isAny).map((f) => [f.project, f]));
  const anyStopped = new Map(s.stopped.filter(isAny).map((t) => [t.project, t]));
  const shown = new Set<string>();
  const failed = s.failed.filter((e) => !isAny(e));
  const stopped = s.stopped.filter((e) => !isAny(e));
  const skipped: RunSummary['skipped'] = [];
  for (const k of s.skipped.filter((e) => !isAny(e))) {
    const f = anyFailed.get(k.project);
    const t = anyStopped.get(k.project);
    if (f) failed.push({ ...f, configuration: k.configuration ?? defaultArch });
    else if (t) stopped.push({ ...t, configuration: k.configuration ?? defaultArch });
    else skipped.push(k);
    if (f || t) shown.add(k.project);
  }
  // a one build whose placements are not in the summary at all still shows, in the default architecture
  for (const f of anyFailed.values()) if (!shown.has(f.project)) failed.push({ ...f, configuration: defaultArch });
  for (const t of anyStopped.values()) if (!shown.has(t.project)) stopped.push({ ...t, configuration: defaultArch });
  const built = s.built.filter((e) => !isAny(e));
  const restored = s.restored.filter((e) => !isAny(e));
  const counts = { total: built.length + restored.length + failed.length + skipped.length + stopped.length, built: built.length, restored: restored.length, failed: failed.length, skipped: skipped.length, stopped: stopped.length };
  return { ...s, counts, built, restored, failed, skipped, stopped };
}

/** index.html and one page per architecture that has tasks in the summary */
export function renderStatusPages(summary: RunSummary, defaultArch: string, versions: (project: string, arch: string) => PackageVersions, logHref: (log: string) => string, title = 'pkgnx build status'): StatusPage[] {
  const s = foldAnyTasks(summary, defaultArch);
  const all = [...s.built, ...s.restored, ...s.failed, ...s.skipped, ...s.stopped];
  const archs = [...new Set(all.map((e) => e.configuration ?? defaultArch))].sort();
  const pages: StatusPage[] = [];
  const lines: string[] = [];
  for (const arch of archs) {
    const rows = statusRows(s, arch, defaultArch, (p) => versions(p, arch), logHref);
    pages.push({ file: `${arch}.html`, html: renderArchPage(s, arch, rows, title) });
    const c = (r: Result): number => rows.filter((x) => x.result === r).length;
    lines.push(
      `<tr class="${c('failed') ? 'r-failed' : c('skipped') || c('stopped') ? 'r-skipped' : 'r-built'}"><td><a href="${esc(arch)}.html">${esc(arch)}</a></td>` +
        ORDER.map((r) => `<td class="num">${c(r)}</td>`).join('') +
        '</tr>',
    );
  }
  pages.unshift({
    file: 'index.html',
    html: page(
      title,
      `<h1>${esc(title)}</h1>\n<p class="meta">${esc(runLine(s))}</p>\n${staleNote(s)}<table><thead><tr><th>architecture</th>${ORDER.map((r) => `<th>${r}</th>`).join('')}</tr></thead><tbody>\n${lines.join('\n')}\n</tbody></table>`,
    ),
  });
  return pages;
}
