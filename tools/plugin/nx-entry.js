'use strict';
/**
 * What nx.json loads: the plugin (index.ts) compiled to JavaScript once per change of tools/, so that an nx
 * command loads neither TypeScript nor a transpiler: at 8,000 projects that is about 0.3 s and 80 MiB of every
 * command. JavaScript because it runs before any TypeScript can.
 *
 * The compiled copy is node_modules/.cache/pkgnx-plugin/<hash>/, a mirror of tools/ with a .js beside every
 * .ts, made with the workspace's own compiler (ts.transpileModule) and the emit options tools/ is written for
 * (those of tsconfig.base.json, fixed here: a workspace's own tsconfig, or none, changes nothing). <hash>
 * covers every file of tools/ and the compiler's version: any edit gives another copy, never a stale plugin.
 * The copy is made in a directory of its own and renamed into place, so concurrent nx processes never see half
 * of one. When a copy cannot be made (read-only node_modules, no compiler) the TypeScript sources are loaded
 * the way Nx would (@swc-node/register).
 */
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const { dirname, join, relative } = require('node:path');

const TOOLS = join(__dirname, '..');
const ROOT = join(TOOLS, '..');
const CACHE = join(ROOT, 'node_modules', '.cache', 'pkgnx-plugin');
const ENTRY = join('plugin', 'index.js');
/** copies kept besides the current one: an older nx process (a daemon) may still load modules from its own */
const KEEP = 4;

/** @param {string} dir @param {string[]} out @returns {string[]} */
function filesUnder(dir, out = []) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules') continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) filesUnder(path, out);
    else if (e.isFile()) out.push(path);
  }
  return out;
}

/** @param {string[]} files @returns {string} */
function sourceHash(files) {
  const hash = createHash('sha256').update('pkgnx-plugin-1\0');
  for (const f of files) {
    hash.update(relative(ROOT, f)).update('\0');
    try {
      hash.update(fs.readFileSync(f));
    } catch {
      hash.update('\0missing');
    }
    hash.update('\0');
  }
  try {
    hash.update(JSON.parse(fs.readFileSync(require.resolve('typescript/package.json', { paths: [ROOT] }), 'utf8')).version);
  } catch {
    // no compiler: building fails, and the fallback loads the sources
  }
  return hash.digest('hex').slice(0, 32);
}

/** @param {string[]} files @param {string} dest */
function build(files, dest) {
  const ts = require(require.resolve('typescript', { paths: [ROOT] }));
  const compilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    esModuleInterop: true,
    resolveJsonModule: true,
    isolatedModules: true,
  };
  const sources = new Set(files);
  const tmp = `${dest}.${process.pid}.tmp`;
  fs.rmSync(tmp, { recursive: true, force: true });
  for (const file of files) {
    const target = join(tmp, relative(TOOLS, file));
    fs.mkdirSync(dirname(target), { recursive: true });
    fs.copyFileSync(file, target);
    const js = file.replace(/\.ts$/, '.js');
    // a hand-written .js of the same name (tools/bin/pkgnx.js) stays what it is
    if (js === file || file.endsWith('.d.ts') || sources.has(js)) continue;
    const { outputText } = ts.transpileModule(fs.readFileSync(file, 'utf8'), { compilerOptions, fileName: file });
    fs.writeFileSync(target.replace(/\.ts$/, '.js'), outputText);
  }
  try {
    fs.renameSync(tmp, dest);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    // another process renamed its identical copy first
    if (!fs.existsSync(join(dest, ENTRY))) throw e;
  }
  prune(dest);
}

/**
 * The oldest copies beyond KEEP go (never one being made: those end in .tmp). Best effort: another process may
 * be pruning too. @param {string} current
 */
function prune(current) {
  try {
    const copies = [];
    for (const name of fs.readdirSync(CACHE)) {
      const path = join(CACHE, name);
      const st = /^[0-9a-f]{32}$/.test(name) && path !== current ? fs.statSync(path, { throwIfNoEntry: false }) : undefined;
      if (st) copies.push({ path, mtime: st.mtimeMs });
    }
    copies.sort((a, b) => b.mtime - a.mtime);
    for (const old of copies.slice(KEEP)) fs.rmSync(old.path, { recursive: true, force: true });
  } catch {
    // left for the next build
  }
}

/** @returns {string | undefined} the compiled plugin's entry, made if missing; undefined when it cannot be */
function compiledEntry() {
  try {
    const files = filesUnder(TOOLS).sort();
    const dest = join(CACHE, sourceHash(files));
    if (!fs.existsSync(join(dest, ENTRY))) {
      fs.mkdirSync(CACHE, { recursive: true });
      build(files, dest);
    }
    return join(dest, ENTRY);
  } catch (e) {
    console.warn(`pkgnx: loading the plugin from its TypeScript sources (no compiled copy in ${CACHE}: ${e instanceof Error ? e.message : String(e)})`);
    return undefined;
  }
}

const entry = compiledEntry();
if (entry) {
  module.exports = require(entry);
} else {
  const project = ['tsconfig.base.json', 'tsconfig.json'].map((f) => join(ROOT, f)).find((f) => fs.existsSync(f));
  if (project) process.env.SWC_NODE_PROJECT ??= project;
  require('@swc-node/register');
  module.exports = require('./index.ts');
}
