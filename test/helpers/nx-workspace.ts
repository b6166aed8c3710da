/**
 * Temporary Nx workspaces for integration tests: the repository's tools/, configs and chroot-config,
 * node_modules symlinked, and the PKGBUILD directories the test asks for. Nx runs for real, without
 * the daemon, as CI does.
 */
import { cpSync, mkdtempSync, mkdirSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { WORKSPACE_ROOT } from './env';

export interface TempWorkspace {
  root: string;
  /** run `nx <args>` in the workspace; never throws */
  nx(args: string[], env?: Record<string, string>): { status: number; stdout: string; stderr: string };
  write(path: string, content: string): void;
}

export const NX_TEST_ENV: Record<string, string> = { NX_DAEMON: 'false', NX_NO_CLOUD: 'true', CI: 'true', NX_TUI: 'false', NX_SKIP_NX_CACHE: '' };

export function makeTempWorkspace(opts: { pkgbuilds?: Record<string, string>; copyExamples?: boolean; pluginOptions?: Record<string, unknown>; prefix?: string } = {}): TempWorkspace {
  const root = mkdtempSync(join(tmpdir(), opts.prefix ?? 'pkgnx-ws-'));
  for (const p of ['tools', 'chroot-config', 'keys', 'tsconfig.base.json', 'tsconfig.json', 'package.json']) cpSync(join(WORKSPACE_ROOT, p), join(root, p), { recursive: true });
  symlinkSync(join(WORKSPACE_ROOT, 'node_modules'), join(root, 'node_modules'));
  const nxJson = JSON.parse(readFileSync(join(WORKSPACE_ROOT, 'nx.json'), 'utf8')) as { plugins: { plugin: string; options?: Record<string, unknown> }[] };
  if (opts.pluginOptions) nxJson.plugins = [{ plugin: './tools/plugin/nx-entry.js', options: opts.pluginOptions }];
  writeFileSync(join(root, 'nx.json'), `${JSON.stringify(nxJson, null, 2)}\n`);
  writeFileSync(join(root, '.gitignore'), 'node_modules\ndist\n.nx\nlogs\n');
  mkdirSync(join(root, 'pkgbuilds'), { recursive: true });
  if (opts.copyExamples) cpSync(join(WORKSPACE_ROOT, 'pkgbuilds'), join(root, 'pkgbuilds'), { recursive: true });
  const write = (path: string, content: string): void => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  };
  for (const [path, content] of Object.entries(opts.pkgbuilds ?? {})) write(path, content);
  // Nx needs a git repository for affected and to identify the workspace cache
  spawnSync('git', ['init', '-q', '-b', 'main'], { cwd: root });
  spawnSync('git', ['add', '-A'], { cwd: root });
  spawnSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', 'commit', '-qm', 'init'], { cwd: root });
  return {
    root,
    write,
    nx(args, env = {}) {
      const r = spawnSync(join(WORKSPACE_ROOT, 'node_modules', '.bin', 'nx'), args, {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, ...NX_TEST_ENV, ...env },
        maxBuffer: 1 << 28,
      });
      return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
    },
  };
}

export function simplePkgbuild(name: string, fields: string = '', version = '1.0'): string {
  return `pkgname=${name}\npkgver=${version}\npkgrel=1\narch=(any)\n${fields}\npackage() { :; }\n`;
}
