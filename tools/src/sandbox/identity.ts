/**
 * Which host identity untrusted code runs under. Never root: when pkgnx itself runs as root (how the rootfs
 * backend and CI run), PKGBUILDs, pacman scriptlets and makepkg run as uids of a range that no account on the
 * host owns, `PKGNX_SANDBOX_UID_BASE` (default 0x70000000, above systemd-nspawn's `--private-users=pick`
 * range) .. base + 65536:
 *   base + 0 .. base + 65535   a build's user namespace: uid N inside is base + N outside (root inside = base)
 *   base + 65536               the metadata sandbox (sourcing PKGBUILDs)
 * When pkgnx runs as an ordinary user, untrusted code runs as that user inside a user namespace.
 */

export const DEFAULT_UID_BASE = 0x70000000;
/** uids a build's user namespace maps (0 .. 65535 inside) */
export const MAPPED_IDS = 65536;

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** the first host uid (and gid) of pkgnx's range, from PKGNX_SANDBOX_UID_BASE */
export function uidBase(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.PKGNX_SANDBOX_UID_BASE;
  if (raw === undefined || raw === '') return DEFAULT_UID_BASE;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 65536 || n + MAPPED_IDS + 1 > 0xffffffff)
    throw new Error(`PKGNX_SANDBOX_UID_BASE=${raw}: must be an integer between 65536 and ${0xffffffff - MAPPED_IDS - 1} (the first of ${MAPPED_IDS + 1} host uids no account uses)`);
  return n;
}

export interface HostIdentity {
  uid: number;
  gid: number;
}

/** the identity bubblewrap is started with to source PKGBUILDs; undefined: as ourselves (we are not root) */
export function metadataIdentity(env: NodeJS.ProcessEnv = process.env): HostIdentity | undefined {
  if (!isRoot()) return undefined;
  const id = uidBase(env) + MAPPED_IDS;
  return { uid: id, gid: id };
}

/** host uid of uid `inside` of a build's user namespace */
export function hostIdOf(inside: number, env: NodeJS.ProcessEnv = process.env): number {
  return uidBase(env) + inside;
}
