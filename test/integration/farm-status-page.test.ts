/**
 * The status page of a real run (host backend, a package that fails and one skipped because of it), written
 * after the run and again by `pkgnx status-page`, and opened in a real headless Chromium: a screenshot is taken, the failed and the
 * skipped packages are on the page with their colours, the log link opens the build log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { makeTempWorkspace, simplePkgbuild } from '../helpers/nx-workspace';
import { WORKSPACE_ROOT } from '../helpers/env';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : 'chromium is not installed (apt-get install chromium)';

test('the status page in a headless Chromium: counts, failures first, the failed package with its log, the skipped one with its cause', { skip, timeout: 600_000 }, async () => {
  const ws = makeTempWorkspace({
    prefix: 'pkgnx-status-',
    pkgbuilds: {
      'pkgbuilds/ok-lib/PKGBUILD': simplePkgbuild('ok-lib'),
      'pkgbuilds/app/PKGBUILD': simplePkgbuild('app', 'depends=(ok-lib)'),
      'pkgbuilds/bad-lib/PKGBUILD': `pkgname=bad-lib\npkgver=2.0\npkgrel=3\narch=(any)\nbuild() { echo "compiler error: bad-lib.c:1: nope" >&2; false; }\npackage() { :; }\n`,
      'pkgbuilds/needs-bad/PKGBUILD': simplePkgbuild('needs-bad', 'depends=(bad-lib)', '0.5'),
    },
  });
  chmodSync(ws.root, 0o755);
  const nxJson = JSON.parse(readFileSync(join(ws.root, 'nx.json'), 'utf8')) as { targetDefaults: { build: { options: Record<string, unknown> } } };
  nxJson.targetDefaults.build.options = { backend: 'host' };
  ws.write('nx.json', JSON.stringify(nxJson));
  const run = ws.nx(['run-many', '-t', 'build', '--outputStyle=static']);
  assert.equal(run.status, 1, 'bad-lib fails the run');
  // the run itself wrote the pages beside the summary; the verb renders them again (e.g. with another title)
  const afterRun = readFileSync(join(ws.root, 'dist', 'status', 'x86_64.html'), 'utf8');
  assert.match(afterRun, /bad-lib/);
  const page = spawnSync(process.execPath, ['--require', '@swc-node/register', join(WORKSPACE_ROOT, 'tools', 'bin', 'pkgnx.ts'), 'status-page', '--workspace', ws.root], {
    encoding: 'utf8',
    env: { ...process.env, SWC_NODE_PROJECT: join(WORKSPACE_ROOT, 'tsconfig.json') },
  });
  assert.equal(page.status, 0, page.stderr);
  const html = join(ws.root, 'dist', 'status', 'x86_64.html');
  assert.ok(existsSync(html) && existsSync(join(ws.root, 'dist', 'status', 'index.html')));

  const shots = mkdtempSync(join(tmpdir(), 'pkgnx-status-shot-'));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const tab = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    await tab.goto(`file://${html}`);
    const shot = join(shots, 'x86_64.png');
    await tab.screenshot({ path: shot, fullPage: true });
    assert.ok(statSync(shot).size > 5000, 'a real screenshot');
    assert.equal((await tab.locator('#counts [data-result=failed]').textContent())?.trim(), '1 failed');
    assert.equal((await tab.locator('#counts [data-result=skipped]').textContent())?.trim(), '1 skipped');
    assert.equal((await tab.locator('#counts [data-result=built]').textContent())?.trim(), '2 built');
    // failures first, then the skipped package
    const order = await tab.locator('#packages tbody tr').evaluateAll((rows) => rows.map((r) => `${r.children[0].textContent} ${r.getAttribute('data-result')}`));
    assert.deepEqual(order, ['bad-lib failed', 'needs-bad skipped', 'app built', 'ok-lib built']);
    const bad = tab.locator('#pkg-bad-lib');
    assert.equal(await bad.locator('td').nth(2).textContent(), '2.0-3', 'workspace version');
    const skipped = tab.locator('#pkg-needs-bad');
    assert.equal((await skipped.locator('td').last().textContent())?.trim(), 'skipped because bad-lib failed');
    const colour = async (sel: string): Promise<string> => tab.locator(sel).evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(el).backgroundColor);
    assert.notEqual(await colour('#pkg-bad-lib'), await colour('#pkg-ok-lib'));
    assert.notEqual(await colour('#pkg-needs-bad'), await colour('#pkg-bad-lib'));
    // the log link opens this run's build log
    await bad.locator('a.log').click();
    assert.match((await tab.locator('body').textContent()) ?? '', /compiler error: bad-lib\.c:1: nope/);
    await tab.goto(`file://${join(ws.root, 'dist', 'status', 'index.html')}`);
    await tab.screenshot({ path: join(shots, 'index.png') });
    assert.equal(await tab.locator('table tbody tr').count(), 1);
  } finally {
    await browser.close();
    rmSync(shots, { recursive: true, force: true });
    rmSync(ws.root, { recursive: true, force: true });
  }
});
