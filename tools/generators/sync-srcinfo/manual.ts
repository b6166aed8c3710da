/**
 * `nx g ./tools:srcinfo`: the sync-srcinfo sync generator run by hand. A sync generator returns
 * `{ outOfSyncMessage }`, which `nx g` would try to call as a callback; this wrapper reports and returns nothing.
 */
import { logger, type Tree } from '@nx/devkit';
import syncSrcinfoGenerator from './generator';

export default async function srcinfoGenerator(tree: Tree): Promise<void> {
  const r = await syncSrcinfoGenerator(tree);
  for (const line of r.outOfSyncDetails ?? []) logger.info(line);
  if (!r.outOfSyncMessage) logger.info('every .SRCINFO matches its PKGBUILD');
}
