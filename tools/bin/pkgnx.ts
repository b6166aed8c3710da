#!/usr/bin/env node
/**
 * `npm run pkgnx -- <verb> [options]`: one small tool per verb, aurutils style.
 * Each verb lives in tools/src/cli/<verb>.ts and exports `main(argv): Promise<number>`.
 */
const VERBS: Record<string, { module: string; summary: string }> = {
  cycles: { module: '../src/cli/cycles', summary: 'print every dependency edge removed to make the graph acyclic, with its reason' },
  graph: { module: '../src/cli/graph-report', summary: 'print the resolved dependencies and warnings of every project (--json)' },
};

async function run(): Promise<number> {
  const [verb, ...rest] = process.argv.slice(2);
  const entry = verb ? VERBS[verb] : undefined;
  if (!entry) {
    const list = Object.entries(VERBS).map(([v, e]) => `  ${v.padEnd(14)} ${e.summary}`).join('\n');
    process.stderr.write(`usage: npm run pkgnx -- <verb> [options]\n\nverbs:\n${list}\n`);
    return verb === undefined || verb === '--help' || verb === '-h' ? 0 : 2;
  }
  const mod = (await import(entry.module)) as { main: (argv: string[]) => Promise<number> };
  return mod.main(rest);
}

run().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`pkgnx: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
