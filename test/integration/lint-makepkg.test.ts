// Lint parity with makepkg 6.0.2: for every lint rule of libmakepkg/lint_pkgbuild/, a PKGBUILD that the real
// `makepkg --printsrcinfo` (run as the build user) rejects with exit 12 is an error in pkgnx too, naming the file,
// with makepkg's own messages (each once, in makepkg's order).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCommand, runAsBuildUser } from '../helpers/env';
import { extractSrcinfo, type ExtractResult } from '../../tools/src/metadata/extract';

const H = 'pkgver=1\npkgrel=1\n';

/** rule -> cases (directory name -> files); every case is a PKGBUILD makepkg refuses */
const RULES: Record<string, Record<string, Record<string, string>>> = {
  lint_arch: {
    'arch-any-mixed': { PKGBUILD: `pkgname=a\n${H}arch=(any x86_64)\npackage() { :; }\n` },
  },
  lint_arch_specific: {
    'archspec-any': { PKGBUILD: `pkgname=a\n${H}arch=(any)\ndepends_any=(x)\nsource_any=(y)\n` },
    'archspec-string': { PKGBUILD: `pkgname=a\n${H}arch=(x86_64)\npkgdesc_x86_64=x\nlicense_x86_64=(x)\n` },
    'archspec-function': { PKGBUILD: `pkgname=(a b)\n${H}arch=(x86_64)\npackage_a() {\n  license_x86_64=(x)\n  depends_x86_64=(y)\n  backup_x86_64=(z)\n}\npackage_b() { :; }\n` },
    'archspec-function-any': { PKGBUILD: `pkgname=a\n${H}arch=(x86_64 any)\npackage() {\n  license_x86_64=(x)\n  depends_any=(y)\n  url_x86_64=u\n}\n` },
  },
  lint_backup: {
    'backup-slash': { PKGBUILD: `pkgname=(a b)\n${H}arch=(any)\nbackup=(/etc/x etc/y)\npackage_a() { backup=(/etc/a); }\npackage_b() { :; }\n` },
  },
  lint_changelog: {
    'changelog-missing': { PKGBUILD: `pkgname=(a b)\n${H}arch=(any)\nchangelog=nope\npackage_a() { changelog=dir; }\npackage_b() { :; }\n`, 'dir/x': '' },
  },
  lint_epoch: {
    epoch: { PKGBUILD: `pkgname=a\n${H}epoch=1a\narch=(any)\n` },
  },
  lint_pkgrel: {
    pkgrel: { PKGBUILD: `pkgname=a\npkgver=1\npkgrel=1.2.3\narch=(any)\n` },
  },
  lint_pkgver: {
    pkgver: { PKGBUILD: `pkgname=a\npkgver=1ä\npkgrel=1\narch=(any)\n` },
  },
  lint_pkgname: {
    'pkgname-empty-element': { PKGBUILD: `pkgname=(a '')\n${H}arch=(any)\npackage_a() { :; }\n` },
    'pkgname-non-ascii': { PKGBUILD: `pkgname=(ä .b)\n${H}arch=(any)\n` },
  },
  lint_checkdepends: {
    checkdepends: { PKGBUILD: `pkgname=a\n${H}arch=(x86_64)\ncheckdepends=('-x' 'c=' 'd<=1:2:3' 'e>=1-a' '.f' 'g h' 'ü')\n` },
  },
  lint_conflicts: {
    conflicts: { PKGBUILD: `pkgname=a\n${H}arch=(x86_64)\nconflicts=('e=' 'f<1' 'g<=a/b')\npackage() { conflicts=('h>=-1'); }\n` },
  },
  lint_depends: {
    depends: { PKGBUILD: `pkgname=a\n${H}arch=(x86_64)\ndepends=('g=' 'h>=1:' 'i<2-' '@j' 'k=1 2')\n` },
  },
  lint_install: {
    'install-missing': { PKGBUILD: `pkgname=(a b)\n${H}arch=(any)\ninstall=nope.install\npackage_a() { install=a.install; }\npackage_b() { install=$pkgname.install; }\n`, 'a.install': '' },
  },
  lint_makedepends: {
    makedepends: { PKGBUILD: `pkgname=a\n${H}arch=(x86_64)\nmakedepends=('-x' 'y>' 'z>=1-a' 'w=>1')\nmakedepends_x86_64=('q=:1')\n` },
  },
  lint_optdepends: {
    optdepends: { PKGBUILD: `pkgname=a\n${H}arch=(x86_64)\noptdepends=('a: fine' 'b>=: why' 'c=1-1a: x' '-d' 'e:nospace')\n` },
  },
  lint_options: {
    'options-pestrip': { PKGBUILD: `pkgname=a\n${H}arch=(any)\noptions=(!strip pestrip)\npackage() { :; }\n` },
    'options-unknown': { PKGBUILD: `pkgname=(a b)\n${H}arch=(any)\noptions=('!check' strip '!lto' ccache '!!strip' '' autodeps)\npackage_a() { options=(color); }\npackage_b() { :; }\n` },
  },
  lint_package_function: {
    'package-function-missing': { PKGBUILD: `pkgname=a\n${H}arch=(any)\nbuild() { :; }\n` },
    'package-function-missing-split': { PKGBUILD: `pkgname=(a b c)\n${H}arch=(any)\npackage_b() { :; }\n` },
  },
  lint_package_function_variable: {
    'package-function-variable': { PKGBUILD: `pkgname=(a b)\n${H}arch=(x86_64)\npackage_a() {\n  source=(x)\n  pkgver=2\n  makedepends_x86_64=(y)\n  noextract=(z)\n}\npackage_b() { md5sums=(q); }\n` },
  },
  lint_pkgbase: {
    pkgbase: { PKGBUILD: `pkgbase=-base\npkgname=a\n${H}arch=(any)\n` },
    'pkgbase-chars': { PKGBUILD: `pkgbase='b a/se'\npkgname=a\n${H}arch=(any)\n` },
  },
  lint_provides: {
    provides: { PKGBUILD: `pkgname=a\n${H}arch=(x86_64)\nprovides=('a<1' 'b=1-x' 'c=' '-d' 'e=1=2' 'f>=1')\n` },
  },
  lint_variable: {
    variable: { PKGBUILD: `pkgname=a\n${H}arch=(x86_64)\ndepends=x\nsource_x86_64=y\npkgdesc=(a b)\nurl=(u)\n` },
    'variable-function': { PKGBUILD: `pkgname=(a b)\n${H}arch=(x86_64)\npackage_a() {\n  depends="x"\n  provides_x86_64="y"\n  pkgdesc=(a)\n}\npackage_b() { install=(z); }\n` },
  },
};

/**
 * Rules whose facts the metadata driver does not report yet (which package functions exist; holes in
 * `source`): lint.ts implements them (unit-tested on the facts), the driver must emit the facts.
 */
const NEEDS_DRIVER_FACTS: Record<string, Record<string, Record<string, string>>> = {
  lint_package_function: {
    'package-function-conflicting': { PKGBUILD: `pkgname=a\n${H}arch=(any)\npackage() { :; }\npackage_a() { :; }\n` },
    'package-function-extra': { PKGBUILD: `pkgname=(a b)\n${H}arch=(any)\npackage() { :; }\npackage_a() { :; }\npackage_b() { :; }\n` },
  },
  lint_source: {
    'source-sparse': { PKGBUILD: `pkgname=a\n${H}arch=(any)\nsource=(a b)\nunset 'source[0]'\n` },
  },
};

const skip = !hasCommand('makepkg') || !hasCommand('bwrap') ? 'makepkg or bwrap not installed' : false;
const allCases = Object.entries(RULES).flatMap(([rule, cases]) => Object.entries(cases).map(([name, files]) => ({ rule, name, files })));
const pendingCases = Object.entries(NEEDS_DRIVER_FACTS).flatMap(([rule, cases]) => Object.entries(cases).map(([name, files]) => ({ rule, name, files })));

interface Run {
  makepkg: Map<string, { status: number | null; errors: string[] }>;
  pkgnx: Map<string, ExtractResult>;
}
let run: Promise<Run> | undefined;

/** makepkg --printsrcinfo on every case (two at a time), and pkgnx's extraction of the same directories */
function runAll(): Promise<Run> {
  run ??= (async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'pkgnx-lint-'));
    for (const c of [...allCases, ...pendingCases]) {
      for (const [file, text] of Object.entries(c.files)) {
        mkdirSync(join(tmp, c.name, file, '..'), { recursive: true });
        writeFileSync(join(tmp, c.name, file), text);
      }
    }
    writeFileSync(join(tmp, 'makepkg.conf'), 'source /etc/makepkg.conf\nCARCH=x86_64\n');
    execFileSync('chmod', ['-R', 'a+rwX', tmp]);
    const env = { BUILDDIR: tmp, PKGDEST: tmp, SRCDEST: tmp, SRCPKGDEST: tmp, LOGDEST: tmp };
    const makepkg = new Map<string, { status: number | null; errors: string[] }>();
    const queue = [...allCases, ...pendingCases];
    const worker = async (): Promise<void> => {
      for (let c = queue.shift(); c; c = queue.shift()) {
        const r = await runAsBuildUser('makepkg', ['--config', join(tmp, 'makepkg.conf'), '--printsrcinfo'], { cwd: join(tmp, c.name), env, timeoutMs: 60_000 });
        const errors = r.stderr
          .split('\n')
          .filter((l) => l.startsWith('==> ERROR: '))
          .map((l) => l.slice('==> ERROR: '.length).replaceAll(`${join(tmp, c.name)}/`, ''));
        makepkg.set(c.name, { status: r.status, errors: [...new Set(errors)] });
      }
    };
    const [pkgnx] = await Promise.all([
      extractSrcinfo([...allCases, ...pendingCases].map((c) => c.name), { carch: 'x86_64', workspaceRoot: tmp }),
      worker(),
      worker(),
    ]);
    rmSync(tmp, { recursive: true, force: true });
    return { makepkg, pkgnx };
  })();
  return run;
}

for (const [rule, cases] of Object.entries(RULES)) {
  test(`${rule}: makepkg exits 12 and pkgnx reports the same errors, naming the file`, { skip, timeout: 300_000 }, async () => {
    const { makepkg, pkgnx } = await runAll();
    for (const name of Object.keys(cases)) {
      const want = makepkg.get(name)!;
      assert.equal(want.status, 12, `makepkg on ${name}: exit ${want.status}`);
      assert.ok(want.errors.length > 0, `makepkg printed no error for ${name}`);
      const got = pkgnx.get(name)!;
      assert.ok('error' in got, `${name}: pkgnx accepted what makepkg rejects (${want.errors.join('; ')})`);
      const prefix = `${name}/PKGBUILD: `;
      assert.ok(got.error.startsWith(prefix), got.error);
      assert.deepEqual(got.error.slice(prefix.length).split('; '), want.errors, name);
    }
  });
}

for (const { rule, name } of pendingCases) {
  test(`${rule} (${name}): makepkg rejects it, and so does pkgnx with the same error`, { skip, timeout: 300_000 }, async () => {
    const { makepkg, pkgnx } = await runAll();
    assert.equal(makepkg.get(name)!.status, 12);
    const got = pkgnx.get(name)!;
    assert.ok('error' in got && got.error.endsWith(makepkg.get(name)!.errors.join('; ')), JSON.stringify(got));
  });
}
