/**
 * Names and refs of the git repositories PKGBUILDs come from: Arch's GitLab project paths, the tag
 * a version is published under, and the URL templates. Used by fetching and by the state repository alike.
 */

export const DEFAULT_OFFICIAL_URL_TEMPLATE = 'https://gitlab.archlinux.org/archlinux/packaging/packages/{pkgbase}.git';
export const DEFAULT_AUR_URL_TEMPLATE = 'https://aur.archlinux.org/{pkgbase}.git';

/**
 * GitLab project path of an official pkgbase, with the rules devtools applies
 * (`gitlab_project_name_to_path` in src/lib/api/gitlab.sh), in order:
 * 1. `a+b` between alphanumerics becomes `a-b` (`dvd+rw-tools` -> `dvd-rw-tools`)
 * 2. any other `+` becomes `plus` (`libc++` -> `libcplusplus`, `gtk2+extra` is caught by rule 1)
 * 3. characters outside `[A-Za-z0-9_.-]` become `-`
 * 4. runs of two or more `_`/`-` collapse to one `-`
 * 5. `tree` is `unix-tree` (GitLab reserves the path `tree`)
 */
export function gitlabProjectPath(pkgbase: string): string {
  let p = pkgbase.replace(/([a-zA-Z0-9]+)\+([a-zA-Z]+)/g, '$1-$2');
  p = p.replace(/\+/g, 'plus');
  p = p.replace(/[^a-zA-Z0-9_.-]/g, '-');
  p = p.replace(/[_-]{2,}/g, '-');
  if (p === 'tree') p = 'unix-tree';
  return p;
}

/** The git tag Arch's packaging repositories use for a version: `:` -> `-` and `~` -> `.` (alpm-state-repo(7)). */
export function versionToTag(version: string): string {
  return version.replaceAll(':', '-').replaceAll('~', '.');
}

/** Official packaging repository URL. Only `{pkgbase}` is substituted; the URL is used as given (never rewritten to SSH). */
export function officialRepoUrl(pkgbase: string, template: string = DEFAULT_OFFICIAL_URL_TEMPLATE): string {
  return template.replaceAll('{pkgbase}', gitlabProjectPath(pkgbase));
}

export function aurRepoUrl(pkgbase: string, template: string = DEFAULT_AUR_URL_TEMPLATE): string {
  return template.replaceAll('{pkgbase}', pkgbase);
}

const PKGBASE = /^[A-Za-z0-9@_+][A-Za-z0-9@._+-]*$/;

/** A pkgbase as makepkg accepts it; also what keeps it safe as a directory name. */
export function isValidPkgbase(name: string): boolean {
  return PKGBASE.test(name) && name !== '.' && name !== '..';
}
