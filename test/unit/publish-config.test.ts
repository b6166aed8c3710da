/** The publish section of pkgnx.config.json, routing, and .PKGINFO parsing as repo-add does it. */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  DEFAULT_GRACE_PERIOD_SECONDS,
  loadPublishConfig,
  parsePkgInfo,
  parseS3Url,
  routePackage,
  upstreamLookupFromState,
  validatePublishConfig,
} from '../../tools/src/publish';
import { descText, filesText, nameOfDir } from '../../tools/src/publish/database';
import { isPackageObject } from '../../tools/src/publish/layout';
import type { StateEntry } from '../../tools/src/upstream/state-repo';
import { tempDir } from '../helpers/env';

const FILE = '/ws/pkgnx.config.json';
const fails = (raw: unknown, pattern: RegExp): void => assert.throws(() => validatePublishConfig(raw, FILE), pattern);

test('an S3 destination with its options, defaults filled in', () => {
  const c = validatePublishConfig({ destination: 's3://my-bucket/repo/prefix/', s3: { endpoint: 'http://127.0.0.1:7070', forcePathStyle: true, region: 'eu-west-1' }, defaultRepo: 'forge' }, FILE);
  assert.deepEqual(c.destination, {
    kind: 's3', bucket: 'my-bucket', prefix: 'repo/prefix', endpoint: 'http://127.0.0.1:7070', region: 'eu-west-1', forcePathStyle: true,
    connectTimeoutMs: 5000, requestTimeoutMs: 60_000, maxAttempts: 3,
  });
  assert.deepEqual(c.routes, { core: 'core-testing', extra: 'extra-testing' });
  assert.equal(c.gracePeriodSeconds, DEFAULT_GRACE_PERIOD_SECONDS);
  assert.equal(c.singleWriter, false);
  assert.equal(c.signing, undefined);
});

test('a local destination is relative to the configuration file; file:// works too', () => {
  assert.deepEqual(validatePublishConfig({ destination: 'public/repo', defaultRepo: 'home' }, FILE).destination, { kind: 'local', dir: '/ws/public/repo' });
  assert.deepEqual(validatePublishConfig({ destination: 'file:///srv/repo', defaultRepo: 'home' }, FILE).destination, { kind: 'local', dir: '/srv/repo' });
});

test('signing: both on by default once the section is there, GnuPG home relative to the file', () => {
  const c = validatePublishConfig({ destination: '/srv', defaultRepo: 'x', signing: { key: 'ABCD', gnupgHome: 'keys/gnupg' } }, FILE);
  assert.deepEqual(c.signing, { packages: true, databases: true, key: 'ABCD', gnupgHome: '/ws/keys/gnupg' });
  assert.deepEqual(validatePublishConfig({ destination: '/srv', defaultRepo: 'x', signing: { packages: false } }, FILE).signing, { packages: false, databases: true });
});

test('every error names the file and the key', () => {
  fails([], /\/ws\/pkgnx\.config\.json: publish: expected an object/);
  fails({ defaultRepo: 'x' }, /publish\.destination: is required \(a non-empty string\)/);
  fails({ destination: 's3://B/x', defaultRepo: 'x' }, /publish\.destination: invalid S3 URL 's3:\/\/B\/x'/);
  fails({ destination: 'https://host/x', defaultRepo: 'x' }, /publish\.destination: unsupported URL/);
  fails({ destination: '/srv', defaultRepo: 'x', s3: {} }, /publish\.s3: only for an s3:\/\/ destination/);
  fails({ destination: 's3://bucket', defaultRepo: 'x', s3: { endpoint: 'localhost:9000' } }, /publish\.s3\.endpoint: expected an http\(s\) URL/);
  fails({ destination: 's3://bucket', defaultRepo: 'x', s3: { pathStyle: true } }, /publish\.s3\.pathStyle: is not a known key/);
  fails({ destination: 's3://bucket', defaultRepo: 'x', s3: { maxAttempts: 0 } }, /publish\.s3\.maxAttempts: must be an integer >= 1/);
  fails({ destination: '/srv' }, /publish\.defaultRepo: is required \(a non-empty string\)/);
  fails({ destination: '/srv', defaultRepo: 'local' }, /publish\.defaultRepo: 'local' is the name of pacman's local database/);
  fails({ destination: '/srv', defaultRepo: 'x', routes: { extra: 'a b' } }, /publish\.routes\.extra: invalid repository name 'a b'/);
  fails({ destination: '/srv', defaultRepo: 'x', projects: { 'bad/name': 'x' } }, /publish\.projects\.bad\/name: invalid name/);
  fails({ destination: '/srv', defaultRepo: 'x', gracePeriodSeconds: -1 }, /publish\.gracePeriodSeconds: must be a number >= 0/);
  fails({ destination: '/srv', defaultRepo: 'x', singleWriter: 'yes' }, /publish\.singleWriter: must be true or false/);
  fails({ destination: '/srv', defaultRepo: 'x', signing: { keyid: 'x' } }, /publish\.signing\.keyid: is not a known key/);
  fails({ destination: '/srv', defaultRepo: 'x', publicUrl: 'host' }, /publish\.publicUrl: expected an http\(s\) or file URL/);
  fails({ destination: '/srv', defaultRepo: 'x', architectures: ['x86-64'] }, /publish\.architectures\[0\]: is not an architecture name, got "x86-64"/);
});

test('reading the file: missing file, missing key, bad JSON, destination override', () => {
  const dir = tempDir('pkgnx-pubconf-');
  try {
    const f = join(dir, 'pkgnx.config.json');
    assert.throws(() => loadPublishConfig(f), /pkgnx\.config\.json: publish: configuration file not found/);
    writeFileSync(f, '{"upstream": {}}');
    assert.throws(() => loadPublishConfig(f), /publish: missing key/);
    writeFileSync(f, '{');
    assert.throws(() => loadPublishConfig(f), /\(file\): invalid JSON/);
    writeFileSync(f, JSON.stringify({ publish: { destination: 's3://bucket/p', s3: { forcePathStyle: true }, defaultRepo: 'x' } }));
    assert.deepEqual(loadPublishConfig(f, { destination: 'out' }).destination, { kind: 'local', dir: join(dir, 'out') });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('routing: project setting, then upstream repository through routes, then the default', () => {
  const config = { routes: { core: 'core-testing', extra: 'extra-testing' }, defaultRepo: 'forge', projects: { pinned: 'extra' } };
  const upstream: Record<string, string> = { glibc: 'core', vim: 'extra', pinned: 'core', steam: 'multilib' };
  const lookup = (b: string): string | undefined => upstream[b];
  assert.deepEqual(routePackage('glibc', config, lookup), { repo: 'core-testing', reason: 'upstream core -> core-testing' });
  assert.deepEqual(routePackage('vim', config, lookup), { repo: 'extra-testing', reason: 'upstream extra -> extra-testing' });
  assert.deepEqual(routePackage('pinned', config, lookup), { repo: 'extra', reason: 'publish.projects.pinned' });
  assert.equal(routePackage('steam', config, lookup).repo, 'forge');
  assert.match(routePackage('steam', config, lookup).reason, /upstream multilib has no route: default/);
  assert.equal(routePackage('my-aur-thing', config, lookup).repo, 'forge');
});

test('the state repository as lookup: testing and staging directories count as their stable repository', () => {
  const entry = (pkgbase: string, repo: string): [string, StateEntry] => [pkgbase, { pkgbase, repo, arch: 'x86_64', version: '1-1', tag: '1-1', commit: '0'.repeat(40) }];
  const lookup = upstreamLookupFromState(new Map([entry('gcc', 'core-testing'), entry('vim', 'extra'), entry('qt', 'extra-staging')]));
  assert.equal(lookup('gcc'), 'core');
  assert.equal(lookup('vim'), 'extra');
  assert.equal(lookup('qt'), 'extra');
  assert.equal(lookup('none'), undefined);
});

test('.PKGINFO as repo-add reads it: whitespace, = in values, comments, last scalar wins, lists in order', () => {
  const info = parsePkgInfo(
    ['# Generated by makepkg', 'pkgname = foo', 'pkgbase = foo-base', 'pkgver = 1:2.0-3', 'pkgdesc = a  b\t= c  ', 'pkgdesc = later wins', 'depend = bar>=1', 'depend = baz', 'optdepend = qux: for = stuff', 'size = 1024', 'arch = x86_64', 'license = MIT', 'xdata = pkgtype=pkg', 'no newline at the end'].join('\n'),
  );
  assert.equal(info.pkgname, 'foo');
  assert.equal(info.pkgbase, 'foo-base');
  assert.equal(info.pkgver, '1:2.0-3');
  assert.equal(info.pkgdesc, 'later wins');
  assert.deepEqual(info.depend, ['bar>=1', 'baz']);
  assert.deepEqual(info.optdepend, ['qux: for = stuff']);
  assert.deepEqual(info.license, ['MIT']);
  assert.equal(parsePkgInfo('pkgdesc = a  b\t= c  \n').pkgdesc, 'a b = c');
});

test('database helpers: entry names, empty fields left out, files text, package objects', () => {
  assert.equal(nameOfDir('foo-bar-1:2.0-3'), 'foo-bar');
  assert.equal(filesText(['usr/', 'usr/bin/x']), '%FILES%\nusr/\nusr/bin/x\n');
  const desc = descText({ path: '/x', filename: 'a-1-1-any.pkg.tar.zst', csize: 10, md5: 'm', sha256: 's', files: [], info: { pkgname: 'a', pkgver: '1-1', arch: 'any', group: [], license: [], replaces: [], depend: [], conflict: [], provides: [], optdepend: [], makedepend: [], checkdepend: [] } }, undefined);
  assert.equal(desc, '%FILENAME%\na-1-1-any.pkg.tar.zst\n\n%NAME%\na\n\n%VERSION%\n1-1\n\n%CSIZE%\n10\n\n%MD5SUM%\nm\n\n%SHA256SUM%\ns\n\n%ARCH%\nany\n\n');
  const ref = { repo: 'extra', arch: 'x86_64' };
  assert.ok(isPackageObject(ref, 'extra/os/x86_64/a-1-1-any.pkg.tar.zst'));
  assert.ok(isPackageObject(ref, 'extra/os/x86_64/a-1:1+g-1-any.pkg.tar.zst.sig'));
  assert.ok(!isPackageObject(ref, 'extra/os/x86_64/extra.db'));
  assert.ok(!isPackageObject(ref, 'extra/os/x86_64/.pkgnx/pending-deletions.json'));
  assert.deepEqual(parseS3Url('s3://b'), { bucket: 'b', prefix: '' });
});
