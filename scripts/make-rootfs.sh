#!/usr/bin/env bash
# Make a build root for pkgnx's rootfs backend on a Debian/Ubuntu host: a minimal Debian with
# makepkg, pacman, fakeroot and a C toolchain, made with debootstrap (a foreign architecture works
# through qemu-user binfmt). Built in a temporary directory and renamed into place when complete.
#   scripts/make-rootfs.sh ARCH DIR        ARCH: pacman name (x86_64, aarch64, armv7h, riscv64)
set -euo pipefail
arch=${1:?usage: make-rootfs.sh ARCH DIR}
dir=${2:?usage: make-rootfs.sh ARCH DIR}
packages=makepkg,pacman-package-manager,fakeroot,libarchive-tools,zstd,binutils,gcc,libc6-dev,file
case $arch in
  x86_64) debarch=amd64 ;; aarch64) debarch=arm64 ;; armv7h) debarch=armhf ;; riscv64) debarch=riscv64 ;;
  *) echo "make-rootfs: no Debian architecture for '$arch'" >&2; exit 2 ;;
esac
if [ -e "$dir/.pkgnx-rootfs-complete" ]; then echo "make-rootfs: $dir exists"; exit 0; fi
command -v debootstrap >/dev/null || { echo "make-rootfs: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "make-rootfs: debootstrap needs root (run with sudo)" >&2; exit 1; }
mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
[ -n "$mirror" ] || mirror=$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\).*/\2/p' /etc/apt/sources.list 2>/dev/null | head -n1)
mirror=${mirror:-http://deb.debian.org/debian}
suite=${PKGNX_ROOTFS_SUITE:-bookworm}
tmp="$dir.tmp-$$"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$(dirname "$dir")"
echo "make-rootfs: debootstrap $suite $debarch from $mirror into $dir (a few minutes)"
debootstrap --arch="$debarch" --variant=minbase --include="$packages" "$suite" "$tmp" "$mirror" >"$tmp.log" 2>&1 || {
  tail -n 20 "$tmp.log" >&2; rm -f "$tmp.log"; echo "make-rootfs: debootstrap failed" >&2; exit 1; }
rm -f "$tmp.log"
# makepkg on Debian needs a local pacman database and an unprivileged user
mkdir -p "$tmp/var/lib/pacman/local" "$tmp/var/lib/pacman/sync"
echo 9 > "$tmp/var/lib/pacman/local/ALPM_DB_VERSION"
if ! grep -q '^builder:' "$tmp/etc/passwd"; then
  echo 'builder:x:1000:1000:build user:/build:/bin/bash' >> "$tmp/etc/passwd"
  echo 'builder:x:1000:' >> "$tmp/etc/group"
  echo 'builder:!:19000::::::' >> "$tmp/etc/shadow"
fi
rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*
date -u +%FT%TZ > "$tmp/.pkgnx-rootfs-complete"
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "make-rootfs: $dir ready"
