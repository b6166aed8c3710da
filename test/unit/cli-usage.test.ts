// `npx pkgnx <verb>`: every verb answers --help; an unknown verb is named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { WORKSPACE_ROOT } from '../helpers/env';

/** the real command: package.json's bin, linked by npm ci into node_modules/.bin (what `npx pkgnx` runs) */
function pkgnx(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(join(WORKSPACE_ROOT, 'node_modules', '.bin', 'pkgnx'), args, { cwd: WORKSPACE_ROOT, encoding: 'utf8' });
}

test('graph --help and cycles -h print their usage and exit 0 without loading the graph', () => {
  for (const [verb, flag] of [['graph', '--help'], ['cycles', '-h']]) {
    const r = pkgnx([verb, flag, '--workspace', '/nonexistent']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^usage: ${verb} \\[--json\\] \\[--workspace DIR\\]`));
  }
});

test('every verb knows --help (the verbs as pkgnx --help lists them, so a new verb is covered)', () => {
  // a verb may be two words (`root create`); the summary follows after two spaces at least
  const verbs = [...pkgnx(['--help']).stderr.matchAll(/^ {2}([a-z-]+(?: [a-z-]+)?) {2,}/gm)].map((m) => m[1]);
  assert.ok(verbs.length >= 6, verbs.join(' '));
  assert.ok(verbs.includes('root create') && verbs.includes('bootstrap'), verbs.join(', '));
  for (const verb of verbs) {
    const r = pkgnx([...verb.split(' '), '--help']);
    assert.equal(r.status, 0, `${verb}: ${r.stderr}`);
    assert.match(r.stdout, /^usage: /, verb);
  }
});

test('the first word of two-word verbs lists them; an unknown second word is named', () => {
  const r = pkgnx(['root', '--help']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^usage: npx pkgnx root <verb>/);
  assert.match(r.stdout, /^ {2}root create {2,}/m);
  const bad = pkgnx(['root', 'frob']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown verb 'root frob'/);
});

test('an unknown verb is named, with the list of verbs, exit 2', () => {
  const r = pkgnx(['frobnicate']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^pkgnx: unknown verb 'frobnicate'\n\nusage: npx pkgnx <verb> \[options\]/);
  assert.match(r.stderr, /^ {2}cycles /m);
  const help = pkgnx(['--help']);
  assert.equal(help.status, 0);
  assert.doesNotMatch(help.stderr, /unknown verb/);
});
