import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderPackage, validateTemplateInput, type PackageTemplateInput } from '../../tools/generators/package/templates';

const input = (patch: Partial<PackageTemplateInput> = {}): PackageTemplateInput => ({
  name: 'demo', template: 'plain', pkgver: '1.0', pkgdesc: 'demo', url: 'https://example.org', license: ['MIT'],
  arch: ['x86_64'], depends: [], makedepends: [], packages: [], vcsSource: '', ...patch,
});

test('package template: pkgver is restricted to makepkg-safe characters (it is written unquoted)', () => {
  for (const bad of ['1.0;id', '1.0$(id)', '1.0`id`', "1.0'x'", '1.0 2', '1:0', '1/0', '1-0', '1.0&&x', '1.0\nid', '']) {
    assert.match(validateTemplateInput(input({ pkgver: bad })).join('; '), /invalid pkgver/, JSON.stringify(bad));
    assert.throws(() => renderPackage(input({ pkgver: bad })), /invalid pkgver/);
  }
  for (const ok of ['1.0', '2024.01.05', '1.0rc1', '1.0+git3', '1.0~beta', 'r12.abc_def']) {
    assert.deepEqual(validateTemplateInput(input({ pkgver: ok })), [], ok);
  }
  assert.match(renderPackage(input({ pkgver: '1.0+x' })).pkgbuild, /^pkgver=1\.0\+x$/m);
});

test('package template: newlines are refused in vcsSource and every other single-line field', () => {
  const vcs = validateTemplateInput(input({ template: 'vcs', vcsSource: 'https://x/y.git\nid' }));
  assert.match(vcs.join('; '), /values must be single-line: "https:\/\/x\/y\.git\\nid"/);
  assert.throws(() => renderPackage(input({ template: 'vcs', vcsSource: 'https://x/y.git\nrm -rf ~' })), /single-line/);
  for (const patch of [{ pkgdesc: 'a\nb' }, { url: 'https://x\r' }, { license: ['MIT\nx'] }, { depends: ['zlib\nx'] }, { arch: ['x86_64\nx'] }]) {
    assert.ok(validateTemplateInput(input(patch)).some((e) => e.startsWith('values must be single-line')), JSON.stringify(patch));
  }
  assert.deepEqual(validateTemplateInput(input({ template: 'vcs', vcsSource: 'https://x/y.git' })), []);
});
