// The makepkg lint port on driver facts (tools/src/metadata/lint.ts). The comparison with the real makepkg is in
// test/integration/lint-makepkg.test.ts; here: the rule list and option list against the installed makepkg, and the
// rules whose facts the driver does not report yet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { LINT_RULES, MAKEPKG_BUILD_OPTIONS, MAKEPKG_PACKAGING_OPTIONS, lintExtraction, type RawExtraction } from '../../tools/src/metadata/lint';

const LIBRARY = '/usr/share/makepkg';
const noMakepkg = existsSync(join(LIBRARY, 'lint_pkgbuild.sh')) ? false : 'makepkg is not installed';

function raw(pkgnames: string[], extra: Partial<RawExtraction> = {}): RawExtraction {
  return {
    pkgbase: { name: pkgnames[0] ?? '', attrs: new Map([['pkgver', ['1']], ['pkgrel', ['1']], ['arch', ['any']]]), lines: [] },
    packages: pkgnames.map((n) => ({ name: n, attrs: new Map(), lines: [] })),
    pkgnames,
    declared: new Map(),
    functionAssignments: [],
    missingFunctions: [],
    ...extra,
  };
}

test('every lint function of the installed makepkg is ported, in its order (lint_pkglist checks --pkg, not the PKGBUILD)', { skip: noMakepkg }, () => {
  const out = execFileSync('bash', ['-c', `source ${LIBRARY}/lint_pkgbuild.sh; printf '%s\\n' "\${lint_pkgbuild_functions[@]}"`], { encoding: 'utf8' });
  const makepkg = out.trim().split('\n').filter((f) => f !== 'lint_pkglist');
  assert.deepEqual(LINT_RULES.map(([name]) => name), makepkg);
});

test('the known options are the installed makepkg\'s packaging_options and build_options', { skip: noMakepkg }, () => {
  const collect = (dir: string, array: string): string[] =>
    readdirSync(join(LIBRARY, dir))
      .sort()
      .flatMap((f) => [...readFileSync(join(LIBRARY, dir, f), 'utf8').matchAll(new RegExp(`^${array}\\+=\\(([^)]*)\\)`, 'gm'))])
      .flatMap((m) => m[1].split(/\s+/).filter(Boolean).map((w) => w.replace(/^'|'$/g, '')));
  assert.deepEqual([...MAKEPKG_PACKAGING_OPTIONS].sort(), collect('tidy', 'packaging_options').sort());
  assert.deepEqual([...MAKEPKG_BUILD_OPTIONS].sort(), collect('buildenv', 'build_options').sort());
});

test('lint_package_function: conflicting and extra package() functions, once the driver reports the defined functions', () => {
  assert.deepEqual(lintExtraction(raw(['a'], { packageFunctions: ['package', 'package_a'] }), '/nonexistent'), ['Conflicting package() and package_a() functions in PKGBUILD']);
  assert.deepEqual(lintExtraction(raw(['a'], { packageFunctions: ['package'] }), '/nonexistent'), []);
  assert.deepEqual(
    lintExtraction(raw(['a', 'b'], { packageFunctions: ['package', 'package_a'], missingFunctions: ['package_b'] }), '/nonexistent'),
    ["Extra package() function for split package 'a'", "Missing package_b() function for split package 'b'"],
  );
  // without the fact the rule stays silent rather than guessing
  assert.deepEqual(lintExtraction(raw(['a', 'b']), '/nonexistent'), []);
});

test('lint_source: a sparse source array, once the driver reports it', () => {
  assert.deepEqual(lintExtraction(raw(['a'], { sparseSource: true }), '/nonexistent'), ['Sparse arrays are not allowed for source']);
});

test('lint_options: known options and their negations pass; anything else is named', () => {
  const r = raw(['a']);
  r.pkgbase.attrs.set('options', ['strip', '!debug', 'lto', '!ccache', 'pestrip', '!!strip']);
  assert.deepEqual(lintExtraction(r, '/nonexistent'), ["options array contains unknown option 'pestrip'", "options array contains unknown option '!!strip'"]);
});
