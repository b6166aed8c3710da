/**
 * `root check`: what is wrong with the build root of an architecture, each problem with its fix — a
 * missing root, a non-Arch stand-in, the wrong architecture, no base-devel (or no pacman/makepkg), a
 * missing or stale keyring, an unsigned source (a repository that lets unsigned packages in, a tarball
 * nobody verified, a root pkgnx did not make), and a chroot pacman.conf without repositories. Reads only.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { acceptsUnsignedPackages, parsePacmanConf } from '../pacman-conf';
import { shiftedBase } from './shift';
import { chrootConfig } from './create';
import { inspectRoot, type RootFacts } from './inspect';
import { staleKeyringSources } from './keyring';
import { ROOT_RECORD } from './record';
import { hasKeyring } from './update';

export interface RootProblem {
  problem: string;
  fix: string;
}

export interface RootCheck {
  arch: string;
  root: string;
  facts: RootFacts;
  problems: RootProblem[];
  /** what is fine, for the report */
  notes: string[];
}

export function checkRoot(workspaceRoot: string, arch: string, root: string): RootCheck {
  const facts = inspectRoot(root);
  const problems: RootProblem[] = [];
  const notes: string[] = [];
  const create = `npx pkgnx root create --arch ${arch}`;
  if (facts.kind === 'missing') {
    problems.push({ problem: `${root} is not a build root (no usr/)`, fix: create });
    return { arch, root, facts, problems, notes };
  }
  if (facts.machine.arches.length && !facts.machine.arches.includes(arch))
    problems.push({ problem: `wrong architecture: its /usr/bin/bash is built for ${facts.machine.arches[0]} (ELF machine ${facts.machine.machine}), not ${arch}`, fix: `${create} --replace` });
  const foreign = facts.packages.filter((p) => p.arch && p.arch !== 'any' && p.arch !== arch);
  if (foreign.length)
    problems.push({ problem: `wrong architecture: ${foreign.length} installed package(s) are not for ${arch}: ${foreign.slice(0, 5).map((p) => `${p.name} (${p.arch})`).join(', ')}`, fix: `${create} --replace` });
  if (facts.kind === 'stand-in') {
    problems.push({ problem: `not an Arch root: ${facts.standIn}; packages built in it are not Arch packages`, fix: `${create} --replace (docs/roots.md)` });
    return { arch, root, facts, problems, notes };
  }
  notes.push(`an Arch root: ${facts.packages.length} packages installed`);
  const names = new Set(facts.packages.map((p) => p.name));
  // `root update` runs the root's own pacman: without one, only a new root helps
  const install = existsSync(join(root, 'usr/bin/pacman')) ? `npx pkgnx root update --arch ${arch} --install base-devel` : `${create} --replace (base-devel brings pacman and makepkg)`;
  if (!names.has('base-devel') && !facts.packages.some((p) => p.groups.includes('base-devel')))
    problems.push({ problem: 'no base-devel: neither the base-devel package nor any package of the base-devel group is installed', fix: install });
  for (const tool of ['usr/bin/pacman', 'usr/bin/makepkg', 'usr/bin/bash']) {
    if (!existsSync(join(root, tool))) problems.push({ problem: `no /${tool}: builds cannot run in it`, fix: install });
  }
  const record = facts.record;
  if (!hasKeyring(root)) problems.push({ problem: 'no pacman keyring (etc/pacman.d/gnupg is empty): pacman cannot verify signed packages', fix: `npx pkgnx root update --arch ${arch} (it initialises and populates the keyring)` });
  else if (record) {
    const stale = staleKeyringSources(workspaceRoot, root, record.keyring);
    if (stale.length) problems.push({ problem: `stale keyring: ${stale.join('; ')}`, fix: `npx pkgnx root update --arch ${arch} (it populates the keyring again)` });
    else notes.push(`keyring populated from ${record.keyring.map((s) => s.name).join(', ')}`);
  }
  if (!record) {
    problems.push({ problem: `unsigned source: not made by pkgnx (no ${ROOT_RECORD}), so nothing verified where its packages came from`, fix: `${create} --replace (from signed repositories, or a signed tarball with --tarball)` });
  } else if (record.source.kind === 'pacman') {
    const unsigned = record.source.repositories.filter((r) => acceptsUnsignedPackages(r.sigLevel));
    if (unsigned.length)
      problems.push({ problem: `unsigned source: made from ${unsigned.map((r) => `[${r.name}] (SigLevel = ${r.sigLevel})`).join(', ')}, which let unsigned packages in`, fix: `set SigLevel = Required in chroot-config/${arch}/pacman.conf, put the repository key into keys/pacman/, then ${create} --replace` });
    else notes.push(`made ${record.created} with pacman from ${record.source.repositories.map((r) => r.name).join(', ')} (signatures required)`);
  } else {
    notes.push(`made ${record.created} from ${record.source.tarball}, signed by ${record.source.signer} (${record.source.key})`);
  }
  const { pacmanConf } = chrootConfig(workspaceRoot, arch);
  const confFile = existsSync(pacmanConf) ? pacmanConf : join(root, 'etc/pacman.conf');
  if (existsSync(confFile)) {
    const conf = parsePacmanConf(readFileSync(confFile, 'utf8'));
    if (conf.repositories.length === 0)
      problems.push({ problem: `${confFile} names no repository: builds cannot install dependencies the workspace does not build`, fix: `add the distribution's repositories ([core], [extra] with Server lines) to chroot-config/${arch}/pacman.conf (docs/roots.md)` });
    const unsigned = conf.repositories.filter((r) => acceptsUnsignedPackages(r.sigLevel));
    if (unsigned.length)
      problems.push({ problem: `unsigned source: builds install from ${unsigned.map((r) => `[${r.name}] (SigLevel = ${r.sigLevel})`).join(', ')} without requiring signatures (${confFile})`, fix: 'set SigLevel = Required there and put the repository key into keys/pacman/' });
  }
  if (record?.updated) notes.push(`last updated ${record.updated}`);
  const base = shiftedBase(root);
  notes.push(base ? `its files belong to the build uid range (base ${base})` : 'not yet moved into the build uid range (the first build or update does it)');
  return { arch, root, facts, problems, notes };
}

export function formatRootCheck(c: RootCheck): string {
  const lines = [`${c.arch}: ${c.root}`];
  for (const n of c.notes) lines.push(`  ok: ${n}`);
  for (const p of c.problems) lines.push(`  PROBLEM: ${p.problem}`, `    fix: ${p.fix}`);
  lines.push(c.problems.length ? `  ${c.problems.length} problem(s)` : '  no problems');
  return `${lines.join('\n')}\n`;
}
