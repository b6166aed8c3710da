/**
 * tools/plugin/nx-entry.js, what nx.json loads: the plugin compiled once per change of tools/, loaded without
 * TypeScript or a transpiler; a new copy after any edit; both of two concurrent first loads get a whole copy;
 * the TypeScript sources when no copy can be made. Each workspace has a node_modules of its own (links to
 * the repository's packages), so its compiled copies are its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WORKSPACE_ROOT, tempDir } from '../helpers/env';

interface Loaded {
  exports: string[];
  probe?: number;
  typescriptLoaded: boolean;
  swcLoaded: boolean;
  tsSourcesLoaded: number;
  from: string;
  stderr: string;
}

const PROBE = `
const before = new Set(Object.keys(require.cache));
const m = require(process.argv[1]);
const loaded = Object.keys(require.cache).filter((k) => !before.has(k));
const plugin = loaded.find((k) => k.endsWith('index.js') && k.includes('plugin')) ?? loaded.find((k) => k.endsWith('plugin/index.ts')) ?? '';
process.stdout.write(JSON.stringify({
  exports: Object.keys(m).sort(),
  probe: m.probe,
  typescriptLoaded: loaded.some((k) => /node_modules\\/typescript\\//.test(k)),
  swcLoaded: loaded.some((k) => /node_modules\\/@swc/.test(k)),
  tsSourcesLoaded: loaded.filter((k) => k.endsWith('.ts')).length,
  from: plugin,
}));
`;

function workspace(files = ['tools', 'tsconfig.json', 'tsconfig.base.json', 'package.json']): string {
  const ws = tempDir('pkgnx-entry-');
  for (const f of files) cpSync(join(WORKSPACE_ROOT, f), join(ws, f), { recursive: true });
  // a node_modules of its own: the compiled copies go to node_modules/.cache
  mkdirSync(join(ws, 'node_modules'));
  for (const name of readdirSync(join(WORKSPACE_ROOT, 'node_modules'))) {
    if (name !== '.cache') symlinkSync(join(WORKSPACE_ROOT, 'node_modules', name), join(ws, 'node_modules', name));
  }
  return ws;
}

function load(ws: string): Loaded {
  const r = spawnSync(process.execPath, ['-e', PROBE, join(ws, 'tools', 'plugin', 'nx-entry.js')], { cwd: ws, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return { ...(JSON.parse(r.stdout) as Omit<Loaded, 'stderr'>), stderr: r.stderr };
}

const copies = (ws: string): string[] => readdirSync(join(ws, 'node_modules', '.cache', 'pkgnx-plugin')).sort();

test('the plugin is compiled once, then loaded without TypeScript; an edit of tools/ gives a new copy', () => {
  // no tsconfig in the workspace (as in the build tests' workspaces): tools/ is compiled with its own options
  const ws = workspace(['tools', 'package.json']);
  const first = load(ws);
  assert.equal(first.stderr, '');
  assert.ok(first.exports.includes('createNodes') && first.exports.includes('createDependencies'), first.exports.join(','));
  assert.equal(first.typescriptLoaded, true, 'the first load compiles');
  assert.equal(copies(ws).length, 1);
  assert.match(first.from, /node_modules\/\.cache\/pkgnx-plugin\/[0-9a-f]{32}\/plugin\/index\.js$/);

  const second = load(ws);
  assert.deepEqual(second.exports, first.exports);
  assert.equal(second.from, first.from);
  assert.equal(second.typescriptLoaded, false, 'no compiler once compiled');
  assert.equal(second.swcLoaded, false, 'no transpiler either');
  assert.equal(second.tsSourcesLoaded, 0);

  // any edit under tools/: a new copy that has it, the old one stays for processes still using it
  appendFileSync(join(ws, 'tools', 'plugin', 'index.ts'), '\nexport const probe = 42;\n');
  const edited = load(ws);
  assert.equal(edited.probe, 42);
  assert.notEqual(edited.from, first.from);
  assert.equal(copies(ws).length, 2);
  assert.equal(load(ws).typescriptLoaded, false);

  // older copies beyond the four newest besides the current one go
  for (let i = 0; i < 4; i++) {
    appendFileSync(join(ws, 'tools', 'plugin', 'index.ts'), `// another edit ${i}\n`);
    load(ws);
  }
  const kept = copies(ws);
  assert.equal(kept.length, 5, kept.join(', '));
  assert.ok(!kept.includes(first.from.split('/').at(-3)!), 'the oldest copy is gone');
  assert.ok(kept.includes(load(ws).from.split('/').at(-3)!), 'the current copy stays');
});

test('two first loads at once both get a whole copy, and nothing half-made stays', async () => {
  const ws = workspace();
  const run = (): Promise<{ status: number | null; out: string; err: string }> =>
    new Promise((done) => {
      const child = spawn(process.execPath, ['-e', PROBE, join(ws, 'tools', 'plugin', 'nx-entry.js')], { cwd: ws });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('close', (status) => done({ status, out, err }));
    });
  const results = await Promise.all([run(), run(), run()]);
  for (const r of results) {
    assert.equal(r.status, 0, r.err);
    assert.equal(r.err, '', 'no fallback');
    assert.ok((JSON.parse(r.out) as Loaded).exports.includes('createNodes'));
  }
  assert.equal(copies(ws).length, 1, copies(ws).join(', '));
});

test('when no copy can be made the TypeScript sources are loaded, with a warning that says why', () => {
  const ws = workspace();
  // node_modules/.cache is a file: the copy cannot be made
  writeFileSync(join(ws, 'node_modules', '.cache'), '');
  const r = load(ws);
  assert.ok(r.exports.includes('createNodes'));
  assert.ok(r.tsSourcesLoaded > 0);
  assert.match(r.stderr, /pkgnx: loading the plugin from its TypeScript sources \(no compiled copy in .*node_modules\/\.cache\/pkgnx-plugin: /);
});
