import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OptionsError, parseBuildOptions } from '../../tools/src/packaging/build-options';
import { expandArch } from '../../tools/src/roots/locate';

test('defaults', () => {
  const o = parseBuildOptions({ arch: 'x86_64' });
  assert.equal(o.backend, 'auto');
  assert.equal(o.nocheck, false);
  assert.equal(o.dryRun, false);
  assert.equal(o.keepLogs, 3);
  assert.equal(o.buildUser, 'builder');
  assert.equal(o.repoName, 'pkgnx-workspace');
  assert.deepEqual(o.makepkgArgs, []);
});

test('command-line strings are accepted for booleans, numbers and makepkgArgs', () => {
  const o = parseBuildOptions({ arch: 'aarch64', nocheck: 'true', keepLogs: '5', makepkgArgs: '--skippgpcheck  --holdver' });
  assert.equal(o.nocheck, true);
  assert.equal(o.keepLogs, 5);
  assert.deepEqual(o.makepkgArgs, ['--skippgpcheck', '--holdver']);
});

test('errors name the key', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{}, /"arch" is required/],
    [{ arch: 'x86_64', backend: 'docker' }, /"backend" must be one of/],
    [{ arch: 'x86_64', nocheck: 'yes' }, /"nocheck" must be true or false/],
    [{ arch: 'x86_64', keepLogs: 0 }, /"keepLogs"/],
    [{ arch: 'x86_64', makepkgArgs: [1] }, /"makepkgArgs"/],
    [{ arch: 'x86_64', buildUser: 'root' }, /"buildUser"/],
    [{ arch: 'x86_64', rootfs: 3 }, /"rootfs" must be a string/],
    [{ arch: 'x86 64' }, /"arch" is not an architecture/],
  ];
  for (const [raw, re] of cases) assert.throws(() => parseBuildOptions(raw), (e: unknown) => e instanceof OptionsError && re.test(e.message));
});

test('unknown keys are kept for the backends', () => {
  assert.equal(parseBuildOptions({ arch: 'x86_64', chrootDir: '/srv/chroot' }).devtools.chrootDir, '/srv/chroot');
});

test('{arch} placeholder', () => {
  assert.equal(expandArch('/srv/roots/{arch}/root', 'aarch64'), '/srv/roots/aarch64/root');
});
