/**
 * Local bare git repositories standing in for Arch's packaging GitLab and the AUR: each version of a
 * package is a commit with PKGBUILD + .SRCINFO, tagged the way Arch tags them.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { parseEvr } from '../../tools/src/version';
import { versionToTag } from '../../tools/src/git/arch-repos';

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Fixture',
  GIT_AUTHOR_EMAIL: 'fixture@example.invalid',
  GIT_COMMITTER_NAME: 'Fixture',
  GIT_COMMITTER_EMAIL: 'fixture@example.invalid',
  GIT_CONFIG_NOSYSTEM: '1',
};

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The git dir of a fetched package directory `<ws>/pkgbuilds/<pkgbase>`: `<ws>/.pkgnx/git/<pkgbase>.git`. */
export function checkoutGitDir(packageDir: string): string {
  return join(dirname(dirname(packageDir)), '.pkgnx', 'git', `${basename(packageDir)}.git`);
}

/** git in a fetched package's checkout (its git dir lives outside the package directory). */
export function checkoutGit(packageDir: string, ...args: string[]): string {
  return git(packageDir, `--git-dir=${checkoutGitDir(packageDir)}`, `--work-tree=${packageDir}`, ...args);
}

export function pkgbuildText(pkgbase: string, version: string, extra = '', depends: string[] = ['glibc']): string {
  const { epoch, version: pkgver, release: pkgrel = '1' } = parseEvr(version);
  return [
    `pkgname=${pkgbase}`,
    ...(epoch && epoch !== '0' ? [`epoch=${epoch}`] : []),
    `pkgver=${pkgver}`,
    `pkgrel=${pkgrel}`,
    `pkgdesc="fixture package ${pkgbase}"`,
    "arch=('x86_64')",
    "license=('MIT')",
    `depends=(${depends.map((d) => `'${d}'`).join(' ')})`,
    extra,
    'package() {',
    '  true',
    '}',
    '',
  ].join('\n');
}

export function srcinfoText(pkgbase: string, version: string, depends: string[] = ['glibc']): string {
  const { epoch, version: pkgver, release: pkgrel = '1' } = parseEvr(version);
  return [
    `pkgbase = ${pkgbase}`,
    `\tpkgdesc = fixture package ${pkgbase}`,
    `\tpkgver = ${pkgver}`,
    `\tpkgrel = ${pkgrel}`,
    ...(epoch && epoch !== '0' ? [`\tepoch = ${epoch}`] : []),
    '\tarch = x86_64',
    '\tlicense = MIT',
    ...depends.map((d) => `\tdepends = ${d}`),
    '',
    `pkgname = ${pkgbase}`,
    '',
  ].join('\n');
}

export interface FixtureVersion {
  version: string;
  /** default true: tag the commit with versionToTag(version) */
  tag?: boolean | string;
  /** extra PKGBUILD lines (to make versions differ in content) */
  extra?: string;
  files?: Record<string, string>;
  /** default ['glibc'] */
  depends?: string[];
}

export interface FixtureHost {
  root: string;
  /** `file://<root>/{pkgbase}.git`, usable as a URL template */
  urlTemplate: string;
  /** create or extend `<root>/<repoName>.git` with the given versions, in order */
  publish(repoName: string, pkgbase: string, versions: FixtureVersion[], branch?: string): string;
  cleanup(): void;
}

export function createFixtureHost(prefix = 'pkgnx-githost-'): FixtureHost {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const work = join(root, '.work');
  mkdirSync(work);
  return {
    root,
    urlTemplate: `file://${root}/{pkgbase}.git`,
    publish(repoName, pkgbase, versions, branch = 'main') {
      const bare = join(root, `${repoName}.git`);
      const wt = join(work, repoName);
      if (!existsDir(bare)) {
        mkdirSync(bare, { recursive: true });
        git(bare, 'init', '-q', '--bare', `--initial-branch=${branch}`);
        mkdirSync(wt, { recursive: true });
        git(wt, 'init', '-q', `--initial-branch=${branch}`);
        git(wt, 'remote', 'add', 'origin', bare);
      }
      for (const v of versions) {
        writeFileSync(join(wt, 'PKGBUILD'), pkgbuildText(pkgbase, v.version, v.extra, v.depends));
        writeFileSync(join(wt, '.SRCINFO'), srcinfoText(pkgbase, v.version, v.depends));
        for (const [f, content] of Object.entries(v.files ?? {})) {
          mkdirSync(dirname(join(wt, f)), { recursive: true });
          writeFileSync(join(wt, f), content);
        }
        git(wt, 'add', '-A');
        git(wt, 'commit', '-q', '--allow-empty', '-m', `${pkgbase} ${v.version}`);
        if (v.tag !== false) git(wt, 'tag', typeof v.tag === 'string' ? v.tag : versionToTag(v.version));
      }
      git(wt, 'push', '-q', '--tags', 'origin', `HEAD:refs/heads/${branch}`);
      return bare;
    },
    cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}

function existsDir(p: string): boolean {
  try {
    execFileSync('test', ['-d', p]);
    return true;
  } catch {
    return false;
  }
}

export function tempDir(prefix = 'pkgnx-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
