/** Paths inside a workspace that several layers share. */
import { join } from 'node:path';

/** pkgnx's derived data: inside .nx/workspace-data (ignored by git, cleared by `nx reset`) */
export const WORKSPACE_DATA = join('.nx', 'workspace-data', 'pkgnx');

/** dist/any/: the results of arch=(any) packages, built once for every architecture (packaging/any-package.ts) */
export const ANY_DIST = 'any';
