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
  'root create': { module: '../src/cli/root-create', summary: 'make the build root of an architecture with pacman (chroot-config/<arch>/pacman.conf) or from a signed tarball' },
  'root update': { module: '../src/cli/root-update', summary: "pacman -Syuu in an architecture's build root, under its lock (devtools' -u)" },
  'root check': { module: '../src/cli/root-check', summary: 'what is wrong with the build roots (stand-in, architecture, base-devel, keyring, unsigned source), with the fix' },
  'root packages': { module: '../src/cli/root-packages', summary: "the build roots' installed packages (the build's cache input under the plugin option rootInput)" },
  bootstrap: { module: '../src/cli/bootstrap', summary: 'build a committed plan of stages (a toolchain bootstrap), each against the stages before it; resumable, one run at a time' },
  watch: { module: '../src/cli/watch', summary: 'rebuild what saved files under pkgbuilds/ affect (nx affected), debounced, one build at a time, until Ctrl-C' },
  'status-page': { module: '../src/cli/status-page', summary: 'render dist/summary.json as static HTML pages per architecture (dist/status/)' },
};

async function run(): Promise<void> {
  const args = process.argv.slice(2);
  // two-word verbs (`root create`): the first word alone lists them
  const twoWords = args.length > 1 ? `${args[0]} ${args[1]}` : undefined;
  const [verb, ...rest] = twoWords && VERBS[twoWords] ? [twoWords, ...args.slice(2)] : args;
  const entry = verb ? VERBS[verb] : undefined;
  const group = verb !== undefined && !entry && Object.keys(VERBS).some((v) => v.startsWith(`${verb} `));
  if (group) {
    const list = Object.entries(VERBS).filter(([v]) => v.startsWith(`${verb} `)).map(([v, e]) => `  ${v.padEnd(16)} ${e.summary}`).join('\n');
    const asked = rest.length === 0 || rest[0] === '--help' || rest[0] === '-h';
    (asked ? process.stdout : process.stderr).write(`${asked ? '' : `pkgnx: unknown verb '${verb} ${rest[0]}'\n\n`}usage: npx pkgnx ${verb} <verb> [options]   (npx pkgnx ${verb} <verb> --help)\n\nverbs:\n${list}\n`);
    process.exitCode = asked ? 0 : 2;
    return;
  }
  if (!entry) {
    const list = Object.entries(VERBS).map(([v, e]) => `  ${v.padEnd(16)} ${e.summary}`).join('\n');
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
