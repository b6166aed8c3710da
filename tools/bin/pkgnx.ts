#!/usr/bin/env node
/**
 * `npx pkgnx <verb> [options]`: one small tool per verb, aurutils style.
 * Each verb lives in tools/src/cli/<verb>.ts and exports `main(argv): Promise<number>`.
 */
const VERBS: Record<string, { module: string; summary: string }> = {
  cycles: { module: '../src/cli/cycles', summary: 'print every dependency edge removed to make the graph acyclic, with its reason' },
  graph: { module: '../src/cli/graph-report', summary: 'print the resolved dependencies and warnings of every project (--json)' },
  fetch: { module: '../src/cli/fetch', summary: 'bring pkgbuilds/<pkgbase>/ to the wanted upstream version (--packages, --from packages_to_build.json)' },
  outdated: { module: '../src/cli/outdated', summary: 'compare upstream and target repositories; write packages_to_build.json' },
  'repo-analyze': { module: '../src/cli/repo-analyze', summary: 'repository health reports (target newer/only, orphans, broken and SONAME-drift deps, ...)' },
  dependents: { module: '../src/cli/dependents', summary: 'reverse dependencies and rebuild order of packages in the target repositories' },
  publish: { module: '../src/cli/publish', summary: 'upload built packages into their pacman repositories (S3 or a directory), one database rewrite per repository' },
  promote: { module: '../src/cli/promote', summary: 'move pkgbases between repositories (testing -> stable), as dbscripts db-move' },
  prune: { module: '../src/cli/prune', summary: 'delete published files past their grace period, and files killed publishers left' },
  'cache-server': { module: '../src/cli/cache-server', summary: "Nx's self-hosted remote cache (GET/PUT /v1/cache/{hash}) over an S3 bucket" },
  pipeline: { module: '../src/cli/pipeline', summary: "write Nx's task graph as a GitLab CI child pipeline and a GitHub Actions workflow" },
  'farm-job': { module: '../src/cli/farm-job', summary: 'run build tasks in a CI job: dependencies restored from the remote cache, the result uploaded' },
  watch: { module: '../src/cli/watch', summary: 'rebuild what saved files under pkgbuilds/ affect (nx affected), debounced, one build at a time, until Ctrl-C' },
  'status-page': { module: '../src/cli/status-page', summary: 'render dist/summary.json as static HTML pages per architecture (dist/status/)' },
};

async function run(): Promise<void> {
  const [verb, ...rest] = process.argv.slice(2);
  const entry = verb ? VERBS[verb] : undefined;
  if (!entry) {
    const list = Object.entries(VERBS).map(([v, e]) => `  ${v.padEnd(14)} ${e.summary}`).join('\n');
    const help = verb === undefined || verb === '--help' || verb === '-h' || verb === 'help';
    const unknown = help ? '' : `pkgnx: unknown verb '${verb}'\n\n`;
    process.stderr.write(`${unknown}usage: npx pkgnx <verb> [options]   (npx pkgnx <verb> --help)\n\nverbs:\n${list}\n`);
    process.exitCode = help ? 0 : 2;
    return;
  }
  const { runVerb } = await import('../src/cli/support');
  const mod = (await import(entry.module)) as { main: (argv: string[]) => Promise<number> };
  await runVerb(verb, mod.main, rest);
}

void run();
