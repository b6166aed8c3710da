/**
 * The publish executor's schema.json and parsePublishTargetOptions describe the same options: the same keys,
 * defaults, types. Nx validates against the schema before the executor parses, so a key in one and not the
 * other would be accepted by one and refused (or silently dropped) by the other. And the plugin's publish
 * target: one configuration per architecture like build, after the same configuration's build, never cached.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OptionsError } from '../../tools/src/options';
import { PUBLISH_OPTION_KEYS, parsePublishTargetOptions, type PublishTargetOptions } from '../../tools/src/publish/target-options';
import { buildTargetConfiguration, publishTargetConfiguration, PUBLISH_EXECUTOR } from '../../tools/plugin/targets';
import { resolvePluginOptions } from '../../tools/src/graph/plugin-options';

interface Property {
  type: string;
  default?: unknown;
}
const schema = JSON.parse(readFileSync(join(__dirname, '../../tools/executors/package-publish/schema.json'), 'utf8')) as {
  properties: Record<string, Property>;
  additionalProperties: boolean;
  required: string[];
};
const executors = JSON.parse(readFileSync(join(__dirname, '../../tools/executors.json'), 'utf8')) as { executors: Record<string, { implementation: string; schema: string }> };

test('schema.json lists exactly the keys parsePublishTargetOptions reads, and no others are accepted', () => {
  assert.deepEqual(Object.keys(schema.properties).sort(), [...PUBLISH_OPTION_KEYS].sort());
  assert.equal(schema.additionalProperties, false);
  assert.deepEqual(schema.required, ['arch']);
  assert.throws(() => parsePublishTargetOptions({}), /publish option "arch" is required/);
  assert.throws(() => parsePublishTargetOptions({ arch: 'x86_64', destination: 's3://b' }), /publish option "destination" is not a known option/);
  assert.equal(executors.executors[PUBLISH_EXECUTOR.split(':')[1]].schema, './executors/package-publish/schema.json');
});

test('every schema default is the parser default; values from the command line are strings', () => {
  const parsed = parsePublishTargetOptions({ arch: 'x86_64' }) as unknown as Record<string, unknown>;
  for (const [key, p] of Object.entries(schema.properties)) {
    if ('default' in p) assert.deepEqual(parsed[key], p.default, `default of ${key}`);
    else assert.equal(key, 'arch', `${key} has no schema default, so the parser must not invent one`);
  }
  assert.equal(parsePublishTargetOptions({ arch: 'aarch64', dryRun: 'true' }).dryRun, true);
});

test('types agree: what the schema refuses, the parser refuses, naming the key', () => {
  const good: Record<string, unknown> = { string: 'x', boolean: true };
  for (const [key, p] of Object.entries(schema.properties)) {
    const value = key === 'arch' ? 'x86_64' : good[p.type];
    const parsed = parsePublishTargetOptions({ arch: 'x86_64', [key]: value }) as unknown as Record<string, unknown>;
    assert.deepEqual(parsed[key as keyof PublishTargetOptions], value, key);
    assert.throws(() => parsePublishTargetOptions({ arch: 'x86_64', [key]: 7 }), (e: unknown) => e instanceof OptionsError && e.message.includes(`"${key}"`), key);
  }
  assert.throws(() => parsePublishTargetOptions({ arch: 'x86 64' }), /publish option "arch" is not an architecture name/);
});

test('the publish target: the build configurations, after the same configuration build, never cached', () => {
  const options = resolvePluginOptions({ architectures: ['x86_64', 'aarch64'] }, ['x86_64', 'aarch64']);
  const build = buildTargetConfiguration('hello-cli', options);
  const publish = publishTargetConfiguration('hello-cli', options);
  assert.equal(publish.executor, './tools:publish');
  assert.deepEqual(publish.configurations, build.configurations);
  assert.deepEqual(publish.configurations, { x86_64: { arch: 'x86_64' }, aarch64: { arch: 'aarch64' } });
  assert.equal(publish.defaultConfiguration, build.defaultConfiguration);
  assert.deepEqual(publish.dependsOn, ['build']);
  assert.equal(publish.cache, false);
  const renamed = resolvePluginOptions({ buildTargetName: 'pkg', publishTargetName: 'upload' }, ['x86_64']);
  assert.deepEqual(publishTargetConfiguration('x', renamed).dependsOn, ['pkg']);
  assert.equal(renamed.publishTargetName, 'upload');
});
