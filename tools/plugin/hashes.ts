/**
 * Content hashes of package directories from Nx's own file index (the workspace context, kept current by the
 * daemon's watcher): the same hash the plugin's createNodes gets, so the metadata cache's digests taken under
 * it are reused by anything else that asks with it, without reading the directories again.
 */

/** one hash per directory (workspace-relative), or undefined where Nx's internal API is unavailable */
export async function directoryHashes(workspaceRoot: string, dirs: readonly string[]): Promise<string[] | undefined> {
  try {
    const { calculateHashesForCreateNodes } = await import('@nx/devkit/internal');
    return await calculateHashesForCreateNodes([...dirs], {}, { workspaceRoot, nxJsonConfiguration: {} });
  } catch {
    // internal API unavailable: callers hash the files themselves
    return undefined;
  }
}

