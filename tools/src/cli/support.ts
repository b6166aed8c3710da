/**
 * What the verbs share: exit codes, error reporting on stderr, reading the configuration and blacklist
 * the same way in every port-maintenance verb, and the graph verbs' arguments and graph.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { findPkgbuilds, readPluginOptionsFromNxJson, workspaceGraph } from '../graph/cached-graph';
import type { WorkspaceGraph } from '../graph/workspace-graph';
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

/** What the workspace-graph verbs (graph, cycles) read: `--json`, `--workspace DIR`, `--help`. */
export interface GraphVerbArgs {
  json: boolean;
  root: string;
  /** workspace-relative PKGBUILD paths, found as the plugin finds them */
  pkgbuildFiles: string[];
  graph: WorkspaceGraph;
}

/** Parse the common arguments and load the graph as Nx would; undefined when `--help` was answered. */
export async function loadGraphForVerb(argv: string[], help: string): Promise<GraphVerbArgs | undefined> {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean' }, workspace: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(`${help}\n`);
    return undefined;
  }
  const root = values.workspace ?? process.cwd();
  const pkgbuildFiles = await findPkgbuilds(root);
  return { json: values.json === true, root, pkgbuildFiles, graph: await workspaceGraph(root, pkgbuildFiles, readPluginOptionsFromNxJson(root)) };
}
