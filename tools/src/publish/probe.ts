/**
 * Does the store honour conditional writes? PUT a sentinel with If-None-Match: * (must succeed), again
 * (must fail with 412/409), with a stale If-Match (must fail), with the right If-Match (must succeed);
 * then delete it. A server that ignores the headers (s3rver, some gateways) answers 200 every time:
 * concurrent publishers would silently drop each other's packages there.
 */
import { randomUUID } from 'node:crypto';
import { backoffMs, isPrecondition, sleep, StoreError, type ObjectStore } from './store';

/**
 * Sentinels sit directly under the prefix: on servers that map keys to directories (versitygw's posix
 * backend) a directory of their own would be emptied by every probe, and 20 publishers probing at once
 * raced on creating and removing it (409 ExistingObjectIsDirectory).
 */
export const PROBE_PREFIX = '.pkgnx-probe-';

export interface ProbeResult {
  supported: boolean;
  /** what each step answered, for the error message */
  steps: { step: string; expected: string; got: string }[];
}

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (isPrecondition(e)) return 'precondition failed';
    if (e instanceof StoreError && (e.kind === 'unsupported' || e.kind === 'other')) return `error: ${e.message}`;
    throw e;
  }
}

/** Probe; a step that fails with an error (not a yes or no) is tried again, up to `attempts` times. */
export async function probeConditionalWrites(store: ObjectStore, attempts = 3): Promise<ProbeResult> {
  let result = await probeOnce(store);
  for (let i = 1; i < attempts && result.steps.some((s) => s.got.startsWith('error:')); i++) {
    await sleep(backoffMs(i, 200, 2000));
    result = await probeOnce(store);
  }
  return result;
}

async function probeOnce(store: ObjectStore): Promise<ProbeResult> {
  const key = `${PROBE_PREFIX}${randomUUID()}`;
  const steps: ProbeResult['steps'] = [];
  try {
    // a server that refuses the header (Swift's s3api: 501) fails here already
    const created = await outcome(store.put(key, Buffer.from('pkgnx probe 1\n'), { ifNoneMatch: '*' }));
    steps.push({ step: 'PUT If-None-Match: * (new object)', expected: 'ok', got: created });
    if (created !== 'ok') return { supported: false, steps };
    steps.push({ step: 'PUT If-None-Match: * (existing object)', expected: 'precondition failed', got: await outcome(store.put(key, Buffer.from('pkgnx probe 2\n'), { ifNoneMatch: '*' })) });
    steps.push({ step: 'PUT If-Match: <stale ETag>', expected: 'precondition failed', got: await outcome(store.put(key, Buffer.from('pkgnx probe 3\n'), { ifMatch: '"00000000000000000000000000000000"' })) });
    const current = (await store.head(key))?.etag ?? '';
    steps.push({ step: 'PUT If-Match: <current ETag>', expected: 'ok', got: await outcome(store.put(key, Buffer.from('pkgnx probe 4\n'), { ifMatch: current })) });
  } finally {
    await store.delete(key).catch(() => undefined);
  }
  return { supported: steps.every((s) => s.got === s.expected), steps };
}
