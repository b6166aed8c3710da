import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const WORKSPACE_ROOT = resolve(__dirname, '..', '..');
/** ../shared beside the checkout (CI clones the project with shared/ next to it) */
export const SHARED = process.env.PKGNX_SHARED ?? resolve(WORKSPACE_ROOT, '..', 'shared');
export const SHARED_DATA = join(SHARED, 'data');

export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('bash', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export const sharedAvailable = existsSync(SHARED_DATA);
