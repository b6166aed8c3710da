#!/usr/bin/env node
// Runs the node:test suites under test/<kind>/ with TypeScript loaded through @swc-node/register.
// Usage: node scripts/run-tests.mjs [unit|integration ...] [--file test/unit/x.test.ts ...]
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const explicit = [];
const kinds = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--file') explicit.push(args[++i]);
  else kinds.push(args[i]);
}
const walk = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'fixtures' ? [] : walk(p);
    return p.endsWith('.test.ts') ? [p] : [];
  });
const files = explicit.length
  ? explicit
  : (kinds.length ? kinds : ['unit', 'integration']).flatMap((k) => walk(join('test', k))).sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const r = spawnSync(
  process.execPath,
  ['--require', '@swc-node/register', '--test', '--test-concurrency=1', ...files],
  { stdio: 'inherit', env: { ...process.env, SWC_NODE_PROJECT: 'tsconfig.json' } },
);
process.exit(r.status ?? 1);
