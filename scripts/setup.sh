#!/usr/bin/env bash
# pkgnx set-up, one command for a fresh machine:
#   - the OS tools pkgnx runs: makepkg, pacman, repo-add, vercmp, bubblewrap, qemu-user + binfmt, git
#     (installed with apt-get on Debian/Ubuntu, pacman on Arch, when missing and allowed);
#   - qemu binfmt registrations enabled, the unprivileged build user (makepkg refuses root);
#   - npm packages (npm ci);
#   - on hosts without devtools: a build root for the rootfs backend in .pkgnx/rootfs/<arch>.
# usage: bash scripts/setup.sh [--no-rootfs] [--rootfs-arch ARCH]... [--no-npm]
set -euo pipefail
cd "$(dirname "$0")/.."

want_rootfs=1 want_npm=1 rootfs_archs=()
while [ $# -gt 0 ]; do
  case $1 in
    --no-rootfs) want_rootfs=0 ;;
    --rootfs-arch) rootfs_archs+=("$2"); shift ;;
    --no-npm) want_npm=0 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "setup: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ ${#rootfs_archs[@]} -gt 0 ] || rootfs_archs=(x86_64)

say() { printf '==> %s\n' "$*"; }
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"
  else echo "setup: needs root for: $*" >&2; return 1; fi
}

# --- OS packages -------------------------------------------------------------------------------
if command -v apt-get >/dev/null; then
  pkgs=(pacman-package-manager makepkg libarchive-tools zstd xz-utils fakeroot bubblewrap qemu-user-static
        binfmt-support debootstrap file git util-linux gcc libc6-dev binutils)
  missing=()
  for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # Debian's pacman has no local database; makepkg's BUILDINFO step needs one
  if [ ! -e /var/lib/pacman/local/ALPM_DB_VERSION ]; then
    as_root mkdir -p /var/lib/pacman/local /var/lib/pacman/sync
    echo 9 | as_root tee /var/lib/pacman/local/ALPM_DB_VERSION >/dev/null
  fi
elif command -v pacman >/dev/null; then
  pkgs=(base-devel devtools bubblewrap qemu-user-static qemu-user-static-binfmt git)
  missing=()
  for p in "${pkgs[@]}"; do pacman -Qq "$p" >/dev/null 2>&1 || pacman -Qqg "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then say "installing ${missing[*]}"; as_root pacman -S --needed --noconfirm "${missing[@]}"; fi
else
  echo "setup: neither apt-get nor pacman found; install makepkg, pacman, bubblewrap, qemu-user-static by hand" >&2
fi

# --- binfmt: run foreign-architecture binaries through qemu-user (flag F: works inside chroots) -----
if [ -d /proc/sys/fs/binfmt_misc ] && [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
  as_root mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || echo "setup: could not mount binfmt_misc (foreign-arch builds unavailable)" >&2
fi
if command -v update-binfmts >/dev/null && [ -e /proc/sys/fs/binfmt_misc/status ]; then
  for q in qemu-aarch64 qemu-arm qemu-riscv64; do
    [ -e "/proc/sys/fs/binfmt_misc/$q" ] || as_root update-binfmts --enable "$q" >/dev/null 2>&1 || true
  done
fi

# --- the unprivileged build user -------------------------------------------------------------------
build_user=${PKGNX_BUILD_USER:-builder}
if [ "$(id -u)" = 0 ] && ! id "$build_user" >/dev/null 2>&1; then
  say "creating build user $build_user"
  useradd -m "$build_user"
fi

# --- npm ---------------------------------------------------------------------------------------------
if [ $want_npm = 1 ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# --- a build root for the rootfs backend (hosts without devtools) -----------------------------------
if [ $want_rootfs = 1 ] && ! command -v makechrootpkg >/dev/null && command -v debootstrap >/dev/null; then
  for a in "${rootfs_archs[@]}"; do
    as_root bash scripts/make-rootfs.sh "$a" ".pkgnx/rootfs/$a"
  done
fi
say "set-up complete"
