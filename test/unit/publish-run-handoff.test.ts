/**
 * Which staging directory the plugin's postTasksExecution commits (tools/plugin/run.ts takePublishRun), with
 * real processes standing in for nx processes: its own nx process's; where the hook runs elsewhere (the Nx
 * daemon), the directory of a running nx process whose every manifest is a successful publish task of this run
 * written while it ran; never a directory twice; directories of processes that are gone are removed.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, test } from 'node:test';
import type { TaskResult } from '@nx/devkit';
import { processKey, takePublishRun } from '../../tools/plugin/run';
import { manifestPath } from '../../tools/src/publish/run-dir';
import { WORKSPACE_DATA } from '../../tools/src/workspace-paths';
import { tempDir } from '../helpers/env';

const roots: string[] = [];
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill();
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function workspace(): { root: string; runs: string } {
  const root = tempDir('pkgnx-handoff-');
  roots.push(root);
  const runs = join(root, WORKSPACE_DATA, 'runs');
  mkdirSync(runs, { recursive: true });
  return { root, runs };
}

/** a running process standing in for another nx process */
function otherProcessKey(): string {
  const child = spawn('sleep', ['600'], { stdio: 'ignore' });
  children.push(child);
  const key = processKey(child.pid!);
  assert.ok(key);
  return key;
}

function stage(runs: string, key: string, arch: string, project: string, writtenMs: number): string {
  const dir = join(runs, `publish-${key}`);
  const file = manifestPath(dir, arch, project);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, '{}');
  utimesSync(file, writtenMs / 1000, writtenMs / 1000);
  return dir;
}

/** the part of Nx's TaskResult the hand-off reads */
function result(project: string, configuration: string, status: TaskResult['status'], startTime: number, endTime: number): TaskResult {
  return { status, code: status === 'success' ? 0 : 1, task: { id: `${project}:publish:${configuration}`, target: { project, target: 'publish', configuration }, startTime, endTime } } as TaskResult;
}

test('the own nx process directory is claimed (renamed) and only once', () => {
  const { root, runs } = workspace();
  const own = processKey(process.pid)!;
  const now = Date.now();
  stage(runs, own, 'x86_64', 'hello', now);
  const claimed = takePublishRun(root, [result('hello', 'x86_64', 'success', now - 5000, now + 5000)]);
  assert.ok(claimed && basename(claimed).startsWith(`publish-${own}.claimed-`), claimed);
  assert.ok(existsSync(manifestPath(claimed, 'x86_64', 'hello')));
  assert.ok(!existsSync(join(runs, `publish-${own}`)));
  assert.equal(takePublishRun(root, [result('hello', 'x86_64', 'success', now - 5000, now + 5000)]), undefined, 'nothing left to claim');
});

test("elsewhere (the daemon): the directory whose manifests are all this run's successful publish tasks, written while they ran", () => {
  const { root, runs } = workspace();
  const now = Date.now();
  const results = [result('a', 'aarch64', 'success', now - 10_000, now), result('b', 'aarch64', 'success', now - 10_000, now), result('c', 'aarch64', 'failure', now - 10_000, now)];
  // another run's: a project this run did not publish
  const foreign = stage(runs, otherProcessKey(), 'aarch64', 'zzz', now - 5000);
  // another run's: the same project, but staged before this run's task started
  const earlier = stage(runs, otherProcessKey(), 'aarch64', 'a', now - 60_000);
  // another architecture
  const otherArch = stage(runs, otherProcessKey(), 'x86_64', 'a', now - 5000);
  // a failed task has no manifest; one whose manifest is there did not fail
  const failed = stage(runs, otherProcessKey(), 'aarch64', 'c', now - 5000);
  const ours = stage(runs, otherProcessKey(), 'aarch64', 'a', now - 5000);
  stage(runs, basename(ours).slice('publish-'.length), 'aarch64', 'b', now - 4000);
  const claimed = takePublishRun(root, results);
  assert.ok(claimed?.startsWith(`${ours}.claimed-`), claimed);
  for (const d of [foreign, earlier, otherArch, failed]) assert.ok(existsSync(d), `${basename(d)} is another run's and stays`);
});

test('directories of nx processes that are gone, and claims of hooks that are gone, are removed', () => {
  const { root, runs } = workspace();
  const dead = spawnSync('true').pid;
  const now = Date.now();
  stage(runs, `${dead}-1`, 'x86_64', 'ghost', now);
  mkdirSync(join(runs, `publish-${otherProcessKey()}.claimed-${dead}-1`));
  const alive = stage(runs, otherProcessKey(), 'x86_64', 'other', now);
  assert.equal(takePublishRun(root, [result('hello', 'x86_64', 'success', now - 1000, now + 1000)]), undefined);
  assert.deepEqual(readdirSync(runs), [basename(alive)]);
});
