/**
 * What the port-maintenance verbs share: exit codes, error reporting on stderr, and reading the
 * configuration and blacklist the same way in every verb.
 */
import { resolve } from 'node:path';
import { ConfigError, CONFIG_FILE_NAME, loadUpstreamConfig, type UpstreamConfig } from '../upstream/config';
import { BlacklistError, EMPTY_BLACKLIST, readBlacklist, type Blacklist } from '../upstream/blacklist';

/** 0 success, 1 the work failed (download, unknown package, ...), 2 bad usage or configuration */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export class UsageError extends Error {
  override name = 'UsageError';
}

export function configFromFlag(flag: string | undefined): UpstreamConfig {
  return loadUpstreamConfig(resolve(flag ?? CONFIG_FILE_NAME));
}

/** `--blacklist FILE` wins over the config; `--no-blacklist` disables it. */
export function blacklistFrom(config: UpstreamConfig, flag: string | undefined, disabled: boolean | undefined): Blacklist {
  if (disabled) return EMPTY_BLACKLIST;
  const file = flag ? resolve(flag) : config.blacklist;
  return file ? readBlacklist(file) : EMPTY_BLACKLIST;
}

/** Names given as repeated flags, commas or spaces: `--packages a,b --packages c`. */
export function splitNames(values: readonly string[] | undefined): string[] {
  const out = (values ?? []).flatMap((v) => v.split(/[\s,]+/)).filter(Boolean);
  for (const n of out) if (!/^[a-zA-Z0-9@_+][a-zA-Z0-9@._+-]*$/.test(n)) throw new UsageError(`invalid package name '${n}'`);
  return out;
}

/** Run a verb: map errors to stderr lines and exit codes. */
export async function runVerb(verb: string, main: (argv: string[]) => Promise<number>, argv: string[] = process.argv.slice(2)): Promise<void> {
  try {
    process.exitCode = await main(argv);
  } catch (e) {
    const err = e as Error;
    const usage = err instanceof UsageError || err instanceof ConfigError || err instanceof BlacklistError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`${verb}: error: ${err.message}\n`);
    process.exitCode = usage ? EXIT_USAGE : EXIT_FAILURE;
  }
}
