/**
 * Publishing reports as text: what the `publish`/`prune` verbs print and what the Nx publish target
 * prints for a dry run. One place, so both say it the same way.
 */
import type { PublishReport } from './publish';
import type { DeletionReport } from './repository';

export function formatDeletions(reports: DeletionReport[], dryRun: boolean): string {
  let out = '';
  for (const r of reports) {
    const where = `${r.ref.repo}/os/${r.ref.arch}`;
    if (r.repaired) out += `  ${where}: rewrote ${r.repaired} derived database object(s) a killed publisher left behind\n`;
    for (const f of r.deleted) out += `  ${where}: ${dryRun ? 'would delete' : 'deleted'} ${f}\n`;
    for (const f of r.renamed) out += `  ${where}: kept ${f} (named by the database again)\n`;
    for (const w of r.waiting) out += `  ${where}: ${w.file} is deleted after ${w.due}\n`;
  }
  return out;
}

export function formatPublishReport(r: PublishReport): string {
  let out = `${r.dryRun ? 'would publish' : 'published'} to ${r.destination}:\n`;
  for (const repo of r.repositories) {
    out += `  ${repo.ref.repo}/os/${repo.ref.arch}: ${repo.changed ? `database generation ${repo.generation}` : `unchanged (generation ${repo.generation})`}  ${repo.location}\n`;
    for (const f of repo.added) out += `    + ${f}  (${repo.routes[f]})\n`;
    for (const f of repo.unchanged) out += `    = ${f}  (already published)\n`;
    for (const f of repo.scheduledForDeletion) out += `    - ${f}  (no longer in the database; deleted after the grace period)\n`;
  }
  return out + formatDeletions(r.deletions, r.dryRun);
}
