/**
 * Which PKGBUILDs are read once for every architecture: the decision on bash's own parse (the driver's `D`
 * field, made here by the same wrapper and `declare -f`, with a trusted bash: these fixtures are ours).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { isArchIndependent, valueIsArchNeutral } from '../../tools/src/metadata/arch-independence';
import { isDriverAttribute } from '../../tools/src/metadata/lint';

/** what the driver's scan prints for this PKGBUILD text */
function canonical(pkgbuild: string): string {
  const script = 'IFS= read -r -d "" t; eval "__pkgnx_top_1() {\n$t\n}" && declare -f __pkgnx_top_1';
  const r = spawnSync('bash', ['-c', script], { input: pkgbuild, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}
const independent = (pkgbuild: string): boolean => isArchIndependent(canonical(pkgbuild), isDriverAttribute);

const PLAIN = `pkgname=foo
pkgver=1.2.3
_tag=v\${pkgver//./_}
pkgrel=1
pkgdesc="Foo \${pkgver%%.*} tools"
arch=(x86_64 aarch64)
depends=(glibc "bar>=\$pkgver")
depends_x86_64=(lib32-foo)
source=("https://example.org/\$pkgname-\$_tag.tar.gz" foo.patch)
sha256sums=('SKIP' 'SKIP')
build() {
  cd "\$srcdir/\$pkgname-\$pkgver"
  ./configure --host=\$CHOST
  make \$(nproc)
}
package() {
  depends+=("baz=\$pkgver")
  make DESTDIR="\$pkgdir" install
  cat >"\$pkgdir/x.json" <<END
{
    "a": {
    }
}
END
}
`;

test('plain assignments, _<arch> arrays and functions that read CARCH when run: one sourcing for all architectures', () => {
  assert.equal(independent(PLAIN), true);
});

test('what makes the metadata depend on the architecture (or might): sourced per architecture', () => {
  const cases: [string, string][] = [
    ['top-level CARCH', 'pkgname=foo\npkgver=1\npkgrel=1\narch=(x86_64 aarch64)\nif [[ $CARCH == aarch64 ]]; then depends=(bar); fi\npackage() { :; }\n'],
    ['CARCH in a value', 'pkgname=foo\npkgver=1\npkgrel=1\narch=(x86_64 aarch64)\ndepends=("lib-$CARCH")\npackage() { :; }\n'],
    ['makepkg.conf variable', 'pkgname=foo\npkgver=1\npkgrel=1\narch=(any)\npkgdesc="built for $CHOST"\npackage() { :; }\n'],
    ['sourcing a helper', 'source ./common.sh\npkgname=foo\npkgver=1\npkgrel=1\narch=(any)\npackage() { :; }\n'],
    ['dot helper', '. ./common.sh\npkgname=foo\npkgver=1\npkgrel=1\narch=(any)\npackage() { :; }\n'],
    ['command substitution', 'pkgname=foo\npkgver=$(date +%Y)\npkgrel=1\narch=(any)\npackage() { :; }\n'],
    ['backticks', 'pkgname=foo\npkgver=`cat VERSION`\npkgrel=1\narch=(any)\npackage() { :; }\n'],
    ['a function called at top level', 'pkgname=foo\n_setup() { depends=(x); }\n_setup\npkgver=1\npkgrel=1\narch=(any)\npackage() { :; }\n'],
    ['an undefined variable', 'pkgname=foo\npkgver=${_ver:-1}\npkgrel=1\narch=(any)\npackage() { :; }\n'],
    ['indirection', 'pkgname=foo\n_v=pkgname\npkgdesc=${!_v}\npkgver=1\npkgrel=1\narch=(any)\npackage() { :; }\n'],
    ['a glob that could read the build root', 'pkgname=foo\npkgver=1\npkgrel=1\narch=(any)\nbackup=(/etc/*.conf)\npackage() { :; }\n'],
    ['a package function reading CARCH in an attribute', 'pkgname=foo\npkgver=1\npkgrel=1\narch=(x86_64 aarch64)\npackage() { depends=("bar-$CARCH"); :; }\n'],
    ['eval', 'pkgname=foo\npkgver=1\npkgrel=1\narch=(any)\neval "depends=(x)"\npackage() { :; }\n'],
    ['arithmetic', 'pkgname=foo\npkgver=1\npkgrel=$((1+1))\narch=(any)\npackage() { :; }\n'],
    ['declare', 'pkgname=foo\npkgver=1\npkgrel=1\narch=(any)\ndeclare -a depends=(x)\npackage() { :; }\n'],
  ];
  for (const [what, text] of cases) assert.equal(independent(text), false, what);
  // a syntax error: no parse to judge from
  assert.equal(isArchIndependent('', isDriverAttribute), false);
});

test('values: quoting, parameter operators and special parameters', () => {
  const set = new Set(['pkgname', 'pkgver']);
  assert.equal(valueIsArchNeutral('"${pkgname}-${pkgver//./_}"', set), true);
  assert.equal(valueIsArchNeutral("'$CARCH stays literal in single quotes'", set), true);
  assert.equal(valueIsArchNeutral('${pkgver%%.*}', set), true);
  assert.equal(valueIsArchNeutral('"$CARCH"', set), false);
  assert.equal(valueIsArchNeutral('$$', set), false);
  assert.equal(valueIsArchNeutral('$1', set), false);
  assert.equal(valueIsArchNeutral('~/x', set), false);
  assert.equal(valueIsArchNeutral('(a <(b))', set), false);
  assert.equal(valueIsArchNeutral('"unterminated', set), false);
});
