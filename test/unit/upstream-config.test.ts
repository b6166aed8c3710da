import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  ConfigError, fnmatchToRegExp, loadUpstreamConfig, parseBlacklist, parseStateLine, parseStateRepo,
  readBlacklist, stableRepoName, validateUpstreamConfig,
} from '../../tools/src/upstream';
import { officialRepoUrl, versionToTag } from '../../tools/src/git/arch-repos';
import { tempDir } from '../helpers/env';

const minimal = {
  upstreamArch: 'x86_64',
  targetArch: 'aarch64',
  upstreamRepos: [{ name: 'core', url: 'https://mirror.example/{repo}/os/{arch}/{repo}.db' }],
  targetRepos: [{ name: 'alarm', path: 'dbs/{repo}-{arch}.db' }],
};

test('config: defaults, substitution of {repo}/{arch}, paths relative to the file', () => {
  const c = validateUpstreamConfig(minimal, '/ws/pkgnx.config.json');
  assert.equal(c.upstreamRepos[0].url, 'https://mirror.example/core/os/x86_64/core.db');
  assert.equal(c.targetRepos[0].path, '/ws/dbs/alarm-aarch64.db');
  assert.deepEqual(c.bootstrapOnly, ['linux-api-headers', 'glibc', 'binutils', 'gcc']);
  assert.equal(c.cacheDir, '/ws/.pkgnx/upstream-cache');
  assert.equal(c.output, '/ws/packages_to_build.json');
  // the one URL rule (a test-only copy once skipped GitLab's path rules: libc++ lives at libcplusplus)
  assert.equal(officialRepoUrl('vim', c.officialUrlTemplate), 'https://gitlab.archlinux.org/archlinux/packaging/packages/vim.git');
  assert.equal(officialRepoUrl('libc++', c.officialUrlTemplate), 'https://gitlab.archlinux.org/archlinux/packaging/packages/libcplusplus.git');
  assert.equal(stableRepoName({ name: 'core-testing' }), 'core');
  assert.equal(stableRepoName({ name: 'alarm-staging', stable: 'alarm' }), 'alarm');
});

test('config: every error names the file and the key', () => {
  const bad = (patch: Record<string, unknown>, key: RegExp): void => {
    assert.throws(() => validateUpstreamConfig({ ...minimal, ...patch }, 'cfg.json'), (e: Error) => e instanceof ConfigError && key.test(e.message));
  };
  bad({ targetArch: '' }, /^cfg\.json: upstream\.targetArch: is required \(a non-empty string\)/);
  bad({ targetArch: 'aarch 64' }, /upstream\.targetArch: is not an architecture name, got "aarch 64"/);
  bad({ targetRepos: [] }, /upstream\.targetRepos: expected at least one repository/);
  bad({ targetRepos: [{ name: 'x' }] }, /upstream\.targetRepos\[0\]: expected exactly one of url or path/);
  bad({ upstreamRepos: [{ name: 'core', url: 'ftp://x/core.db' }] }, /upstream\.upstreamRepos\[0\]\.url: expected an http\(s\) URL/);
  bad({ upstreamRepos: [{ name: 'core', path: 'a' }, { name: 'core', path: 'b' }] }, /upstream\.upstreamRepos\[1\]\.name: repository 'core' listed twice/);
  bad({ overrides: { gcc: { branch: 'x' } } }, /upstream\.overrides\.gcc\.url/);
  bad({ officialUrlTemplate: 'https://x/y.git' }, /upstream\.officialUrlTemplate: must contain '\{pkgbase\}'/);
  bad({ bootstrapOnly: 'gcc' }, /upstream\.bootstrapOnly: must be an array of strings/);
  bad({ colour: true }, /upstream\.colour: is not a known key/);
  const dir = tempDir('pkgnx-cfg-');
  assert.throws(() => loadUpstreamConfig(join(dir, 'pkgnx.config.json')), /pkgnx\.config\.json: upstream: configuration file not found/);
  writeFileSync(join(dir, 'pkgnx.config.json'), '{"other": 1}');
  assert.throws(() => loadUpstreamConfig(join(dir, 'pkgnx.config.json')), /: upstream: missing key/);
  writeFileSync(join(dir, 'pkgnx.config.json'), '{');
  assert.throws(() => loadUpstreamConfig(join(dir, 'pkgnx.config.json')), /invalid JSON/);
});

test('blacklist: fnmatch wildcards, brackets, comments, inline comments, blank lines', () => {
  const b = parseBlacklist('# header\n\nlib32-*\nfoo   # broken on the port\nqt?-base\n[ab]ar\n[!x]yz\nliteral.name\n  spaced  \n');
  assert.deepEqual(b.patterns.map((p) => p.pattern), ['lib32-*', 'foo', 'qt?-base', '[ab]ar', '[!x]yz', 'literal.name', 'spaced']);
  assert.equal(b.match('foo')?.comment, 'broken on the port');
  assert.equal(b.match('foo')?.line, 4);
  assert.ok(b.match('lib32-glibc') && b.match('qt5-base') && b.match('bar') && b.match('aar') && b.match('ayz') && b.match('spaced'));
  assert.equal(b.match('foobar'), undefined);
  assert.equal(b.match('qt55-base'), undefined);
  assert.equal(b.match('car'), undefined);
  assert.equal(b.match('xyz'), undefined);
  assert.equal(b.match('literalXname'), undefined, 'a dot is literal');
  assert.equal(b.match('lib32'), undefined);
  assert.ok(fnmatchToRegExp('a[b').test('a[b'), 'an unclosed bracket is literal');
});

test('state repository: line format, tags, <repo>-<arch> directories, highest version wins', () => {
  assert.equal(versionToTag('17:4.3.2~rc1-10'), '17-4.3.2.rc1-10');
  const sha = 'e4f0'.padEnd(40, '0');
  assert.deepEqual(parseStateLine(`example 17:4.3.2-10 17-4.3.2-10 ${sha}\n`, 'f'), { pkgbase: 'example', version: '17:4.3.2-10', tag: '17-4.3.2-10', commit: sha });
  assert.throws(() => parseStateLine('example 1.0-1\n', 'core-x86_64/example'), /core-x86_64\/example: expected 'pkgbase version tag commit'/);
  const dir = tempDir('pkgnx-state-');
  const put = (sub: string, name: string, version: string): void => {
    mkdirSync(join(dir, sub), { recursive: true });
    writeFileSync(join(dir, sub, name), `${name} ${version} ${versionToTag(version)} ${sha}\n`);
  };
  put('core-x86_64', 'glibc', '2.36-3');
  put('core-testing-x86_64', 'glibc', '2.37-1');
  put('extra-any', 'python-requests', '2.28.1-1');
  put('extra-riscv64', 'vim', '9.0-1');
  const all = parseStateRepo(dir);
  assert.equal(all.get('glibc')?.version, '2.37-1');
  assert.equal(all.get('glibc')?.repo, 'core-testing');
  const stable = parseStateRepo(dir, { repos: ['core', 'extra'], arches: ['x86_64', 'any'] });
  assert.deepEqual([...stable.keys()].sort(), ['glibc', 'python-requests']);
  assert.equal(stable.get('glibc')?.tag, '2.36-3');
});

test('config: upstream.stateRepo.dir must not be or contain the workspace root or the pkgbuilds directory', () => {
  const withDir = (dir: string): ReturnType<typeof validateUpstreamConfig> =>
    validateUpstreamConfig({ ...minimal, stateRepo: { url: 'https://x/state.git', dir } }, '/ws/pkgnx.config.json');
  for (const dir of ['.', '..', '/', '/ws', 'pkgbuilds', 'pkgbuilds/', './pkgbuilds/vim', '/ws/pkgbuilds/state']) {
    assert.throws(() => withDir(dir), (e: Error) => e instanceof ConfigError && /^\/ws\/pkgnx\.config\.json: upstream\.stateRepo\.dir: state repository clone/.test(e.message), dir);
  }
  assert.equal(withDir('.pkgnx/state').stateRepo?.dir, '/ws/.pkgnx/state');
  assert.equal(withDir('pkgbuilds-state').stateRepo?.dir, '/ws/pkgbuilds-state');
  assert.equal(withDir('/srv/state').stateRepo?.dir, '/srv/state');
  // the default (<cacheDir>/state) is checked too, naming cacheDir
  assert.throws(
    () => validateUpstreamConfig({ ...minimal, cacheDir: '/', stateRepo: { url: 'https://x/state.git' } }, '/state/pkgnx.config.json'),
    /upstream\.cacheDir: state repository clone '\/state' is or contains the workspace root/,
  );
});

test('blacklist: an invalid pattern names the file and line; `]` right after `[` or `[!` is literal', () => {
  assert.throws(
    () => parseBlacklist('ok\n# c\n[z-a]foo\n', '/ws/blacklist.txt'),
    (e: Error) => /^\/ws\/blacklist\.txt:3: invalid pattern '\[z-a\]foo'/.test(e.message) && !/^Invalid regular expression/.test(e.message),
  );
  const dir = tempDir('pkgnx-bl-');
  writeFileSync(join(dir, 'blacklist.txt'), 'a\n\n[z-a]x  # bad\n');
  assert.throws(() => readBlacklist(join(dir, 'blacklist.txt')), new RegExp(`: ${join(dir, 'blacklist.txt').replace(/[.]/g, '\\.')}:3: invalid pattern`));
  const b = parseBlacklist('[!]x]y\n[]a]b\n');
  // `[!]x]y`: any character except `]` and `x`, then `y` (not: `[!]` + literal `x]y`)
  assert.ok(b.match('ay'));
  assert.equal(b.match('xy'), undefined);
  assert.equal(b.match(']y'), undefined);
  assert.equal(b.match('ax]y'), undefined);
  // `[]a]b`: `]` or `a`, then `b`
  assert.ok(b.match(']b') && b.match('ab'));
  assert.equal(b.match('cb'), undefined);
  assert.ok(fnmatchToRegExp('[!]').test('[!]'), 'no closing bracket after the literal one: the `[` is literal');
});
