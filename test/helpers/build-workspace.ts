/**
 * A temporary Nx workspace for build tests: the repository's tools/ (plugin + executors), a generated
 * nx.json registering the plugin with build options in targetDefaults, chroot-config/ per architecture
 * and the given PKGBUILD directories.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WORKSPACE_ROOT } from './env';

export const NX_ENV = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', CI: 'true', NX_TUI: 'false', NX_SKIP_NX_CACHE: undefined, FORCE_COLOR: '0' };

export interface Workspace {
  dir: string;
  nx(args: string[], timeoutMs?: number): { status: number | null; output: string };
  write(rel: string, text: string): void;
}

export function makepkgConfFor(root: string, arch: string): string {
  return readFileSync(join(root, 'etc/makepkg.conf'), 'utf8')
    .replace(/^CARCH=.*$/m, `CARCH="${arch}"`)
    .replace(/^CHOST=.*$/m, `CHOST="${arch}-linux-gnu"`)
    .replace(/^PKGEXT=.*$/m, "PKGEXT='.pkg.tar.zst'")
    .replace(/^OPTIONS=\(/m, 'OPTIONS=(!debug ');
}

export function createWorkspace(roots: Record<string, string>, packages: Record<string, Record<string, string>>, options: Record<string, unknown> = {}): Workspace {
  const dir = mkdtempSync(join(tmpdir(), 'pkgnx-build-'));
  chmodSync(dir, 0o755); // the host backend's build user must read the PKGBUILDs
  cpSync(join(WORKSPACE_ROOT, 'tools'), join(dir, 'tools'), { recursive: true });
  cpSync(join(WORKSPACE_ROOT, 'tsconfig.base.json'), join(dir, 'tsconfig.base.json'));
  symlinkSync(join(WORKSPACE_ROOT, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'pkgnx-test-ws', private: true }));
  writeFileSync(join(dir, '.gitignore'), 'dist/\nlogs/\n.pkgnx/\n.nx/\nnode_modules\n');
  writeFileSync(join(dir, '.nxignore'), 'dist/\nlogs/\n.pkgnx/\n');
  writeFileSync(
    join(dir, 'nx.json'),
    JSON.stringify(
      {
        cacheDirectory: '.nx/cache',
        useDaemonProcess: false,
        plugins: [{ plugin: './tools/plugin/nx-entry.js', options: { rebuildPolicy: 'abi', validateExternal: false } }],
        targetDefaults: {
          build: { options: { keepLogs: 3, ...options } },
        },
      },
      null,
      2,
    ),
  );
  for (const [arch, root] of Object.entries(roots)) {
    mkdirSync(join(dir, 'chroot-config', arch), { recursive: true });
    writeFileSync(join(dir, 'chroot-config', arch, 'makepkg.conf'), makepkgConfFor(root, arch));
    writeFileSync(join(dir, 'chroot-config', arch, 'pacman.conf'), readFileSync(join(root, 'etc/pacman.conf')));
  }
  mkdirSync(join(dir, 'keys', 'pgp'), { recursive: true });
  const write = (rel: string, text: string) => {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  };
  for (const [name, files] of Object.entries(packages)) for (const [file, text] of Object.entries(files)) write(join('pkgbuilds', name, file), text);
  spawnSync('git', ['init', '-q'], { cwd: dir });
  return {
    dir,
    write,
    nx(args, timeoutMs = 600_000) {
      const r = spawnSync(join(dir, 'node_modules/.bin/nx'), args, { cwd: dir, env: NX_ENV, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
      return { status: r.status, output: `${r.stdout}${r.stderr}` };
    },
  };
}

