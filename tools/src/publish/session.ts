/**
 * Everything a publish, promote or prune run needs, checked up front in this order so that a bad setting
 * fails before anything is uploaded: the signing key (local), then the store (credentials, bucket,
 * network), then whether the store honours conditional writes (unless the single-writer mode is chosen).
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pidAlive } from '../process/tree';
import type { PublishConfig } from './config';
import { PublishError } from './errors';
import { LocalStore } from './local-store';
import { probeConditionalWrites } from './probe';
import type { RepositoryContext } from './repository';
import { S3Store, type S3StoreOptions } from './s3-store';
import { Signer, type SignerOptions } from './signing';
import type { ObjectStore } from './store';

export interface SessionOptions {
  dryRun?: boolean;
  log?: (line: string) => void;
  /** explicit S3 credentials (tests); normally the SDK's chain */
  credentials?: S3StoreOptions['credentials'];
  /** clock, for tests of the grace period */
  now?: () => number;
  /** override `publish.gracePeriodSeconds` */
  gracePeriodSeconds?: number;
}

export interface Session {
  config: PublishConfig;
  ctx: RepositoryContext;
  store: ObjectStore;
  /** signs package files that have no `.sig` yet (makepkg --sign), if configured */
  packageSigner?: Signer;
  close(): Promise<void>;
}

const SCRATCH_PREFIX = 'pkgnx-publish-';

/** Scratch directories of publishers that were killed (SIGKILL leaves them): removed by the next run. */
async function sweepDeadSessions(): Promise<void> {
  for (const name of await readdir(tmpdir()).catch(() => [] as string[])) {
    const pid = Number(new RegExp(`^${SCRATCH_PREFIX}(\\d+)-`).exec(name)?.[1]);
    if (pid && pid !== process.pid && !pidAlive(pid)) await rm(join(tmpdir(), name), { recursive: true, force: true });
  }
}

export function openStore(config: PublishConfig, credentials?: S3StoreOptions['credentials']): ObjectStore {
  const d = config.destination;
  if (d.kind === 'local') return new LocalStore(d.dir);
  const options: S3StoreOptions = {
    bucket: d.bucket,
    prefix: d.prefix,
    forcePathStyle: d.forcePathStyle,
    connectTimeoutMs: d.connectTimeoutMs,
    requestTimeoutMs: d.requestTimeoutMs,
    maxAttempts: d.maxAttempts,
  };
  if (d.endpoint) options.endpoint = d.endpoint;
  if (d.region) options.region = d.region;
  if (credentials) options.credentials = credentials;
  return new S3Store(options);
}

export async function openSession(config: PublishConfig, options: SessionOptions = {}): Promise<Session> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  let signer: Signer | undefined;
  if (config.signing) {
    const envKey = process.env.PKGNX_SIGN_KEY;
    const key = envKey || config.signing.key;
    const signerOptions: SignerOptions = {};
    if (key) {
      signerOptions.key = key;
      signerOptions.source = envKey ? 'PKGNX_SIGN_KEY' : `${config.file}: publish.signing.key`;
    }
    if (config.signing.gnupgHome) signerOptions.gnupgHome = config.signing.gnupgHome;
    signer = await Signer.create(signerOptions);
  }
  const store = openStore(config, options.credentials);
  try {
    await store.check();
    if (!store.supportsConditionalWritesNatively && !config.singleWriter && !options.dryRun) {
      const probe = await probeConditionalWrites(store);
      if (!probe.supported) {
        const failed = probe.steps.filter((s) => s.got !== s.expected).map((s) => `${s.step}: expected ${s.expected}, got ${s.got}`);
        throw new PublishError(
          `${store.description}: the server does not honour conditional writes (${failed.join('; ')}); concurrent publishers could lose each other's packages. ` +
            `Use a server that supports If-Match/If-None-Match (AWS S3, MinIO, R2, versitygw), or set publish.singleWriter = true in ${config.file} if only one publisher ever runs at a time.`,
        );
      }
    }
  } catch (e) {
    store.close();
    throw e;
  }
  await sweepDeadSessions();
  const tmp = await mkdtemp(join(tmpdir(), `${SCRATCH_PREFIX}${process.pid}-`));
  const ctx: RepositoryContext = {
    store,
    conditional: !config.singleWriter,
    gracePeriodMs: (options.gracePeriodSeconds ?? config.gracePeriodSeconds) * 1000,
    log,
    tmpDir: tmp,
    now: options.now ?? Date.now,
    maxAttempts: 60,
    dryRun: options.dryRun ?? false,
  };
  if (signer && config.signing?.databases) ctx.databaseSigner = signer;
  const session: Session = {
    config,
    ctx,
    store,
    close: async () => {
      store.close();
      await rm(tmp, { recursive: true, force: true });
    },
  };
  if (signer && config.signing?.packages) session.packageSigner = signer;
  return session;
}
