/**
 * Reading pacman.conf (chroot-config/<arch>/pacman.conf, a root's /etc/pacman.conf): the [options]
 * values and each repository with its effective SigLevel. `Include` files are not followed (the
 * repositories are named in the file itself; only their servers sit in mirrorlists).
 */

export interface PacmanConf {
  options: Map<string, string>;
  repositories: { name: string; sigLevel: string; servers: string[] }[];
}

/** pacman's built-in SigLevel when neither [options] nor the repository sets one */
const DEFAULT_SIG_LEVEL = 'Required DatabaseOptional';

export function parsePacmanConf(text: string): PacmanConf {
  const options = new Map<string, string>();
  const repositories: PacmanConf['repositories'] = [];
  let section = '';
  const repoSig = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      section = header[1];
      if (section !== 'options') repositories.push({ name: section, sigLevel: '', servers: [] });
      continue;
    }
    const kv = /^([A-Za-z]+)\s*(?:=\s*(.*))?$/.exec(line);
    if (!kv) continue;
    const [, key, value = ''] = kv;
    if (section === 'options') options.set(key, value);
    else if (section) {
      const repo = repositories[repositories.length - 1];
      if (key === 'SigLevel') repoSig.set(repo.name, value);
      if (key === 'Server' || key === 'Include') repo.servers.push(key === 'Include' ? `Include = ${value}` : value);
    }
  }
  const global = options.get('SigLevel') ?? DEFAULT_SIG_LEVEL;
  for (const r of repositories) r.sigLevel = repoSig.get(r.name) ?? global;
  return { options, repositories };
}

/** `Architecture` values of [options] (may be several, or `auto`) */
export function readPacmanArchitectures(pacmanConfText: string): string[] | undefined {
  return parsePacmanConf(pacmanConfText).options.get('Architecture')?.split(/\s+/);
}

/** true when a SigLevel lets unsigned packages in (Never, Optional, PackageNever, PackageOptional) */
export function acceptsUnsignedPackages(sigLevel: string): boolean {
  return sigLevel.split(/\s+/).some((t) => t === 'Never' || t === 'Optional' || t === 'PackageNever' || t === 'PackageOptional');
}
