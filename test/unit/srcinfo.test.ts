import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WORKSPACE_ROOT } from '../helpers/env';
import { metadataForArch, normalizeSrcinfoValue, parseSrcinfo, writeSrcinfo, SrcinfoParseError } from '../../tools/src/srcinfo';
import { checkFullPkgver, checkPackageName } from '../../tools/src/metadata/lint';
import type { Srcinfo } from '../../tools/src/model';

const split: Srcinfo = {
  pkgbase: {
    kind: 'pkgbase',
    name: 'zstdx',
    entries: [
      ['pkgdesc', 'Zstandard'],
      ['pkgver', '1.5.2'],
      ['pkgrel', '3'],
      ['epoch', '1'],
      ['arch', 'x86_64'],
      ['arch', 'aarch64'],
      ['makedepends', 'cmake'],
      ['depends', 'glibc'],
      ['optdepends', 'python: for the scripts = yes'],
      ['provides', 'zstd'],
      ['source', 'a.tar.gz'],
      ['validpgpkeys', 'ABAF11C65A2970B130ABE3C479BE3E4300411886'],
      ['source_x86_64', 'x.bin'],
      ['depends_x86_64', 'lib32-glibc'],
      ['makedepends_aarch64', 'aarch64-gcc'],
      ['depends_aarch64', 'rpi-firmware'],
    ],
  },
  packages: [
    { kind: 'pkgname', name: 'zstdx', entries: [['depends_aarch64', 'rpi-eeprom']] },
    { kind: 'pkgname', name: 'libzstdx', entries: [['depends', ''], ['provides', 'libzstd.so=1-64'], ['arch', 'x86_64']] },
    { kind: 'pkgname', name: 'zstdx-doc', entries: [['pkgdesc', '']] },
  ],
};

test('writeSrcinfo prints what makepkg --printsrcinfo prints', () => {
  assert.equal(
    writeSrcinfo({
      pkgbase: { kind: 'pkgbase', name: 'a', entries: [['pkgver', '1'], ['pkgdesc', '  two   words\t']] },
      packages: [
        { kind: 'pkgname', name: 'a', entries: [] },
        { kind: 'pkgname', name: 'b', entries: [['depends', '']] },
      ],
    }),
    'pkgbase = a\n\tpkgver = 1\n\tpkgdesc = two words\n\npkgname = a\n\npkgname = b\n\tdepends = \n',
  );
});

test('whitespace normalisation follows srcinfo_write_attr', () => {
  assert.equal(normalizeSrcinfoValue('  a \t\n b  '), 'a b');
  assert.equal(normalizeSrcinfoValue(''), '');
  assert.equal(normalizeSrcinfoValue('x\r\ny'), 'x y');
});

test('parseSrcinfo(writeSrcinfo(x)) round-trips, including overrides to empty and values containing " = "', () => {
  assert.deepEqual(parseSrcinfo(writeSrcinfo(split)), split);
});

test('a committed .SRCINFO (with header comments) round-trips', () => {
  const file = join(WORKSPACE_ROOT, 'test/fixtures/pkgbuilds/multi-arch-deps/.SRCINFO');
  const text = readFileSync(file, 'utf8');
  const parsed = parseSrcinfo(text, file);
  assert.equal(parsed.pkgbase.name, 'multiarch');
  assert.deepEqual(parsed.packages.map((p) => p.name), ['multiarch', 'multiarch-tools']);
  const withoutHeader = text.split('\n').filter((l) => !l.startsWith('#')).join('\n');
  assert.equal(writeSrcinfo(parsed), withoutHeader);
});

test('parseSrcinfo tolerates blank lines, comments, CRLF and stripped trailing spaces', () => {
  const s = parseSrcinfo('# c\n\npkgbase = x\r\n\tpkgver = 1\n\n\npkgname = x\n\tdepends =\n');
  assert.deepEqual(s.packages[0].entries, [['depends', '']]);
});

test('parseSrcinfo errors name the file and the line', () => {
  assert.throws(() => parseSrcinfo('pkgbase = x\n\tpkgver 1\n', 'pkgbuilds/x/.SRCINFO'), (e: unknown) => {
    assert.ok(e instanceof SrcinfoParseError);
    assert.match(e.message, /^pkgbuilds\/x\/\.SRCINFO:2: expected "key = value"/);
    return true;
  });
  assert.throws(() => parseSrcinfo('\tpkgver = 1\n', 'f'), /^Error: f:1: "pkgver" before the pkgbase section|f:1:/);
  assert.throws(() => parseSrcinfo('pkgbase = x\n\tpkgver = 1\n', 'f'), /f:3: no pkgname section/);
  assert.throws(() => parseSrcinfo('pkgname = x\n', 'f'), /f:1: pkgname section before the pkgbase section/);
});

test('metadataForArch: pkgbase values plus the _<carch> arrays of the build architecture', () => {
  const x86 = metadataForArch(split, 'x86_64');
  assert.equal(x86.version, '1:1.5.2-3');
  assert.deepEqual(x86.depends, ['glibc', 'lib32-glibc']);
  assert.deepEqual(x86.makedepends, ['cmake']);
  assert.deepEqual(x86.source, ['a.tar.gz', 'x.bin']);
  assert.deepEqual(x86.arch, ['x86_64', 'aarch64']);
  assert.deepEqual(x86.validpgpkeys, ['ABAF11C65A2970B130ABE3C479BE3E4300411886']);
  const arm = metadataForArch(split, 'aarch64');
  assert.deepEqual(arm.makedepends, ['cmake', 'aarch64-gcc']);
  assert.deepEqual(arm.source, ['a.tar.gz']);
});

test('metadataForArch: split packages inherit, override, clear and append arch-specific overrides', () => {
  const arm = metadataForArch(split, 'aarch64');
  const [main, lib, doc] = arm.packages;
  // not overridden: pkgbase depends + pkgbase depends_aarch64, then the function's depends_aarch64 appended
  assert.deepEqual(main.depends, ['glibc', 'rpi-firmware', 'rpi-eeprom']);
  assert.deepEqual(main.optdepends, ['python: for the scripts = yes']);
  assert.deepEqual(main.provides, ['zstd']);
  // `depends = ` clears depends and (as makepkg merged them before) the pkgbase depends_<carch>
  assert.deepEqual(lib.depends, []);
  assert.deepEqual(lib.provides, ['libzstd.so=1-64']);
  assert.deepEqual(lib.arch, ['x86_64']);
  assert.deepEqual(doc.arch, ['x86_64', 'aarch64']);
  assert.deepEqual(doc.depends, ['glibc', 'rpi-firmware']);
  assert.deepEqual(metadataForArch(split, 'x86_64').packages[0].depends, ['glibc', 'lib32-glibc']);
});

test('metadataForArch: the version without epoch', () => {
  const s = parseSrcinfo('pkgbase = a\n\tpkgver = 2.0\n\tpkgrel = 1.1\n\tarch = any\n\npkgname = a\n');
  const m = metadataForArch(s, 'riscv64');
  assert.equal(m.version, '2.0-1.1');
  assert.equal(m.epoch, '');
  assert.deepEqual(m.packages[0].arch, ['any']);
});

test('name and version rules of makepkg lint', () => {
  assert.deepEqual(checkPackageName('pkgname', 'gtk+.x@2_a-b'), []);
  assert.deepEqual(checkPackageName('pkgname', '-x'), ['pkgname is not allowed to start with a hyphen.']);
  assert.deepEqual(checkPackageName('pkgname', 'ä'), ['pkgname may only contain ascii characters.']);
  assert.deepEqual(checkFullPkgver('1:2.0-1'), []);
  assert.deepEqual(checkFullPkgver('x:2.0'), ['epoch must be an integer, not x.']);
});
