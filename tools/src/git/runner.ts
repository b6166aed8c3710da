/**
 * The only place that runs git: a thin wrapper over simple-git that reports every invocation to an
 * observer (tests count them: "up to date" must run no git at all) and never lets git prompt.
 */
import { simpleGit } from 'simple-git';

export type GitObserver = (args: readonly string[], cwd: string) => void;

export class GitError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly cwd: string,
    readonly detail: string,
  ) {
    super(`git ${args.join(' ')} (in ${cwd}) failed: ${detail.trim()}`);
    this.name = 'GitError';
  }
}

export interface GitRunner {
  run(cwd: string, args: string[]): Promise<string>;
  /** like run, but resolves to undefined instead of throwing */
  tryRun(cwd: string, args: string[]): Promise<string | undefined>;
}

const GIT_ENV: Record<string, string> = {
  // an HTTPS remote that does not exist must fail, not ask for a user name
  GIT_TERMINAL_PROMPT: '0',
  GCM_INTERACTIVE: 'never',
  LC_ALL: 'C',
};

/**
 * Variables simple-git refuses to pass on (they can make git run other programs); none is needed to
 * fetch over HTTPS or file://, and a user's EDITOR/PAGER under npx/Nx must not break fetching.
 */
const UNSAFE_ENV = new Set([
  'editor', 'git_askpass', 'git_config_global', 'git_config_system', 'git_config_count', 'git_config', 'git_editor',
  'git_exec_path', 'git_external_diff', 'git_pager', 'git_proxy_command', 'git_template_dir', 'git_sequence_editor',
  'git_ssh', 'git_ssh_command', 'pager', 'prefix', 'ssh_askpass',
]);

const REPO_ENV = new Set(['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_COMMON_DIR', 'GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_NAMESPACE', 'GIT_PREFIX']);

export function createGitRunner(observer?: GitObserver): GitRunner {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    const key = k.toLowerCase();
    if (v !== undefined && !UNSAFE_ENV.has(key) && !key.startsWith('git_config_key_') && !key.startsWith('git_config_value_')) env[k] = v;
  }
  // a repository chosen by the environment (e.g. fetch run from a git hook) would redirect every
  // command to it; each checkout command names its own --git-dir/--work-tree
  for (const k of Object.keys(env)) if (REPO_ENV.has(k.toUpperCase())) delete env[k];
  Object.assign(env, GIT_ENV);
  const run = async (cwd: string, args: string[]): Promise<string> => {
    observer?.(args, cwd);
    try {
      return await simpleGit({
        baseDir: cwd,
        maxConcurrentProcesses: 1,
        // simple-git's default treats a non-zero exit with an empty stderr as success (e.g. a
        // conflicting `stash pop` reports on stdout); every non-zero exit is a failure here
        errors: (error, result) => {
          if (error) return error;
          if (result.exitCode !== 0) return Buffer.concat([...result.stdErr, ...result.stdOut, Buffer.from(` (exit ${result.exitCode})`)]);
          return undefined;
        },
      })
        .env(env)
        .raw(args);
    } catch (e) {
      throw new GitError(args, cwd, (e as Error).message);
    }
  };
  return {
    run,
    async tryRun(cwd, args) {
      try {
        return await run(cwd, args);
      } catch {
        return undefined;
      }
    },
  };
}
