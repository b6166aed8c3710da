/**
 * `pkgnx watch`: rebuild what a saved file under pkgbuilds/ affects, through Nx (watch/watch.ts), until Ctrl-C.
 *   npx pkgnx watch [-c ARCH] [--debounce MS] [--workspace DIR] [-- NX ARGS…]
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { UsageError } from './support';
import { readPluginOptionsFromNxJson, resolveOptions } from '../graph/cached-graph';
import { formatStatus, startWatch } from '../watch/watch';
import type { WatchStatus } from '../watch/scheduler';

const HELP = `usage: watch [-c ARCH] [--debounce MS] [--workspace DIR] [-- NX ARGS...]
  watch pkgbuilds/ and, when files are saved, build what they affect: nx affected -t build --files=<saved>
  (the projects owning them and their dependents; dependencies come from the cache or build first). Saves
  within the debounce make one build; saves during a build wait for the next one. A status line says what
  is queued, building, done or failed (the run summary's words). Ctrl-C stops the running build as it stops
  an nx command (no build copy or staging directory stays) and exits. Works with or without the Nx daemon.
  -c, --configuration ARCH   build for this architecture (default: the plugin's default architecture)
  --debounce MS              quiet time after the last save before a build starts (default 300)
  --workspace DIR            the workspace (default: the current directory)
  -- NX ARGS                 more arguments for nx (e.g. -- --parallel=2 --skip-nx-cache)
exit codes: 130 after Ctrl-C (SIGINT), 143 after SIGTERM, 129 after SIGHUP, 1 failure, 2 usage error`;

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      configuration: { type: 'string', short: 'c' },
      debounce: { type: 'string' },
      workspace: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const dashdash = argv.indexOf('--');
  if (positionals.length > (dashdash < 0 ? 0 : argv.length - dashdash - 1)) throw new UsageError(`unexpected argument ${positionals[0]} (nx arguments go after --)`);
  const debounceMs = values.debounce === undefined ? 300 : Number(values.debounce);
  if (!Number.isInteger(debounceMs) || debounceMs < 0) throw new UsageError(`--debounce: ${values.debounce} is not a whole number of milliseconds`);
  const root = resolve(values.workspace ?? process.cwd());
  const options = resolveOptions(readPluginOptionsFromNxJson(root), root);
  if (values.configuration !== undefined && !options.architectures.includes(values.configuration))
    throw new UsageError(`-c ${values.configuration}: not one of the workspace's architectures (${options.architectures.join(', ')})`);
  const nxArgs = [...(values.configuration ? ['-c', values.configuration] : []), ...(dashdash < 0 ? [] : argv.slice(dashdash + 1))];

  // a terminal gets one status line, redrawn in place under nx's output; a pipe gets a line per change
  const tty = process.stdout.isTTY === true;
  let shown = '';
  const clock = (): string => new Date().toTimeString().slice(0, 8);
  const status = (s: WatchStatus): void => {
    const line = `pkgnx watch ${clock()}: ${formatStatus(s)}`;
    if (tty) process.stdout.write(`\r\x1b[K${line}`);
    else if (formatStatus(s) !== shown) process.stdout.write(`${line}\n`);
    shown = formatStatus(s);
  };
  const output = (line: string): void => {
    if (tty) process.stdout.write(`\r\x1b[K${line}\npkgnx watch ${clock()}: ${shown}`);
    else process.stdout.write(`${line}\n`);
  };

  const watcher = await startWatch({ root, target: options.buildTargetName, nxArgs, debounceMs, output, status });
  const signal = await new Promise<NodeJS.Signals>((done) => {
    process.once('SIGINT', () => done('SIGINT'));
    process.once('SIGTERM', () => done('SIGTERM'));
    // the terminal closed: the build runs in a process group of its own, so it is ended here too
    process.once('SIGHUP', () => done('SIGHUP'));
  });
  await watcher.stop();
  if (tty) process.stdout.write('\n');
  return signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 129;
}
