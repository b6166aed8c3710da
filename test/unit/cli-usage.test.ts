// `npm run pkgnx -- <verb>`: every verb answers --help; an unknown verb is named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { WORKSPACE_ROOT } from '../helpers/env';

function pkgnx(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ['--require', '@swc-node/register', join(WORKSPACE_ROOT, 'tools', 'bin', 'pkgnx.ts'), ...args], {
    cwd: WORKSPACE_ROOT,
    encoding: 'utf8',
    env: { ...process.env, SWC_NODE_PROJECT: join(WORKSPACE_ROOT, 'tsconfig.json') },
  });
}

test('graph --help and cycles -h print their usage and exit 0 without loading the graph', () => {
  for (const [verb, flag] of [['graph', '--help'], ['cycles', '-h']]) {
    const r = pkgnx([verb, flag, '--workspace', '/nonexistent']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^usage: ${verb} \\[--json\\] \\[--workspace DIR\\]`));
  }
});

test('every verb knows --help', () => {
  for (const verb of ['cycles', 'graph', 'fetch', 'outdated', 'repo-analyze', 'dependents', 'cache-server', 'pipeline', 'farm-job', 'status-page']) {
    const r = pkgnx([verb, '--help']);
    assert.equal(r.status, 0, `${verb}: ${r.stderr}`);
    assert.match(r.stdout, /^usage: /, verb);
  }
});

test('an unknown verb is named, with the list of verbs, exit 2', () => {
  const r = pkgnx(['frobnicate']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^pkgnx: unknown verb 'frobnicate'\n\nusage: npm run pkgnx -- <verb> \[options\]/);
  assert.match(r.stderr, /^ {2}cycles /m);
  const help = pkgnx(['--help']);
  assert.equal(help.status, 0);
  assert.doesNotMatch(help.stderr, /unknown verb/);
});
