/**
 * The executor's schema.json and parseBuildOptions describe the same options: the same keys, the same
 * defaults, the same enums and bounds. Nx validates against the schema before the executor parses, so a
 * key in one and not the other would be accepted by one and refused (or silently dropped) by the other.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILD_OPTION_KEYS, OptionsError, parseBuildOptions, type BuildOptions } from '../../tools/src/packaging/build-options';

interface Property {
  type: string;
  default?: unknown;
  enum?: string[];
  minimum?: number;
  exclusiveMinimum?: number;
}
const schema = JSON.parse(readFileSync(join(__dirname, '../../tools/executors/package-build/schema.json'), 'utf8')) as {
  properties: Record<string, Property>;
  additionalProperties: boolean;
  required: string[];
};

/** where parseBuildOptions puts a key's value */
function parsedValue(parsed: BuildOptions, key: string): unknown {
  if (key in parsed.devtools) return (parsed.devtools as unknown as Record<string, unknown>)[key];
  if (key in parsed.qemu) return (parsed.qemu as unknown as Record<string, unknown>)[key];
  return (parsed as unknown as Record<string, unknown>)[key];
}

test('schema.json lists exactly the keys parseBuildOptions reads, and no others are accepted', () => {
  assert.deepEqual(Object.keys(schema.properties).sort(), [...BUILD_OPTION_KEYS].sort());
  assert.equal(schema.additionalProperties, false);
  assert.deepEqual(schema.required, ['arch']);
  assert.throws(() => parseBuildOptions({}), /build option "arch" is required/);
});

test('every schema default is the parser default', () => {
  const parsed = parseBuildOptions({ arch: 'x86_64' });
  for (const [key, p] of Object.entries(schema.properties)) {
    if ('default' in p) assert.deepEqual(parsedValue(parsed, key), p.default, `default of ${key}`);
    else if (key !== 'arch') assert.equal(parsedValue(parsed, key), undefined, `${key} has no schema default, so the parser must not invent one`);
  }
});

test('types, enums and bounds agree: what the schema refuses, the parser refuses, naming the key', () => {
  const sample: Record<string, unknown> = { string: 'x', boolean: true, integer: 7, number: 7.5, array: ['a'] };
  for (const [key, p] of Object.entries(schema.properties)) {
    if (key === 'arch') continue;
    const good = p.enum ? p.enum[p.enum.length - 1] : key === 'buildUser' || key === 'repoName' ? 'someone' : sample[p.type];
    assert.doesNotThrow(() => parseBuildOptions({ arch: 'x86_64', [key]: good }), `${key}: ${JSON.stringify(good)}`);
    const wrongType = p.type === 'boolean' ? 7 : p.type === 'array' ? 7 : p.type === 'string' ? 7 : 'seven';
    assert.throws(() => parseBuildOptions({ arch: 'x86_64', [key]: wrongType }), (e: unknown) => e instanceof OptionsError && e.message.includes(`"${key}"`), key);
    if (p.enum) assert.throws(() => parseBuildOptions({ arch: 'x86_64', [key]: 'none-of-these' }), new RegExp(`"${key}" must be one of ${p.enum.map((v) => `"${v}"`).join(', ')}`));
    if (p.minimum !== undefined) assert.throws(() => parseBuildOptions({ arch: 'x86_64', [key]: (p.minimum as number) - 1 }), new RegExp(`"${key}"`));
    if (p.exclusiveMinimum !== undefined) assert.throws(() => parseBuildOptions({ arch: 'x86_64', [key]: p.exclusiveMinimum }), new RegExp(`"${key}"`));
    if (p.type === 'integer') assert.throws(() => parseBuildOptions({ arch: 'x86_64', [key]: 2.5 }), new RegExp(`"${key}"`));
  }
});
