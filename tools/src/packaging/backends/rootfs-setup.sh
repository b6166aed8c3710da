#!/bin/bash
set -euo pipefail
say() { printf '==> pkgnx: %s\n' "$*"; }
u=$PKGNX_BUILD_USER
say "copy $PKGNX_COPY of $PKGNX_ROOTFS ($(uname -m))"
[ -f /.pkgnx/pacman.conf ] && cp /.pkgnx/pacman.conf /etc/pacman.conf
[ -f /.pkgnx/makepkg.conf ] && cp /.pkgnx/makepkg.conf /etc/makepkg.conf
if ! getent passwd "$u" >/dev/null; then
  id=1000
  while getent passwd "$id" >/dev/null || getent group "$id" >/dev/null; do id=$((id + 1)); done
  echo "$u:x:$id:$id:pkgnx build user:/build:/bin/bash" >>/etc/passwd
  echo "$u:x:$id:" >>/etc/group
  say "build user $u created with uid $id"
fi
mkdir -p /build/startdir /build/work /build/logs /srcdest /var/lib/pacman/local /var/lib/pacman/sync
# pacman's CheckSpace reads the mount table
[ -e /etc/mtab ] || ln -s ../proc/self/mounts /etc/mtab
[ -f /var/lib/pacman/local/ALPM_DB_VERSION ] || echo 9 >/var/lib/pacman/local/ALPM_DB_VERSION
cp -a /.pkgnx-startdir/. /build/startdir/
rm -rf /build/startdir/src /build/startdir/pkg
chown -R "$u:$(id -g "$u")" /build /srcdest /pkgdest ${GNUPGHOME:+"$GNUPGHOME"} 2>/dev/null || [ "$(id -u)" != 0 ] || exit 1
say "refreshing the package databases (pacman -Sy)"
pacman -Sy --noconfirm --cachedir /var/cache/pacman/pkg
# bootstrap stages: what earlier stages built replaces the root's installed copy, even at the same version
if [ -n "${PKGNX_REPLACE:-}" ]; then
  replace=()
  while IFS= read -r n; do
    [ -n "$n" ] && pacman -Qq "$n" >/dev/null 2>&1 && replace+=("$PKGNX_REPO/$n")
  done <<<"$PKGNX_REPLACE"
  if ((${#replace[@]})); then
    say "replacing installed packages with the workspace's builds: ${replace[*]}"
    pacman -S --noconfirm --cachedir /var/cache/pacman/pkg "${replace[@]}"
  fi
fi
# A root whose local pacman database is empty is not Arch (e.g. Debian): its own OS supplies what no
# pacman repository provides (glibc, gcc ...), so pacman installs without dependency checks and makepkg
# gets --nodeps.
foreign=1
compgen -G '/var/lib/pacman/local/*/desc' >/dev/null && foreign=0
install=() missing=() all=()
while IFS= read -r d; do
  [ -n "$d" ] || continue
  all+=("$d")
  if pacman -T "$d" >/dev/null 2>&1; then continue; fi
  if from=$(pacman -Sddp --print-format '%r/%n' "$d" 2>/dev/null); then
    say "$d: from ${from//$'\n'/ }"
    install+=("$d")
  else
    missing+=("$d")
  fi
done <<<"$PKGNX_DEPS"
# -dd (below) skips pacman's dependency resolution in a foreign root: add, transitively, the runtime
# dependencies a pacman repository provides (hello-cli needs libhello from the workspace repository)
if ((foreign)) && ((${#install[@]})); then
  declare -A seen=()
  for d in "${all[@]}"; do seen[$d]=1; done
  queue=("${install[@]}")
  while ((${#queue[@]})); do
    pkg=${queue[0]}
    queue=("${queue[@]:1}")
    for dep in $(pacman -Si "$pkg" 2>/dev/null | sed -n 's/^Depends On *: *//p' | head -n1); do
      [ "$dep" != None ] && [ -z "${seen[$dep]:-}" ] || continue
      seen[$dep]=1
      pacman -T "$dep" >/dev/null 2>&1 && continue
      if pacman -Sddp "$dep" >/dev/null 2>&1; then
        say "$dep: runtime dependency of $pkg"
        install+=("$dep")
        queue+=("$dep")
      fi
    done
  done
fi
if ((${#install[@]})); then
  say "installing dependencies with pacman: ${install[*]}"
  if ((foreign)); then
    pacman -S --noconfirm --needed --asdeps -dd --overwrite '*' --cachedir /var/cache/pacman/pkg "${install[@]}"
  else
    pacman -S --noconfirm --needed --asdeps --cachedir /var/cache/pacman/pkg "${install[@]}"
  fi
fi
if ((${#missing[@]})); then
  if ((foreign)); then
    say "not provided by any pacman repository, assumed to come from the root's own OS: ${missing[*]}"
  else
    say "ERROR: no pacman repository provides: ${missing[*]}"
    exit 8
  fi
fi
rm -f /.pkgnx/nodeps
if ((${#all[@]})) && ! pacman -T "${all[@]}" >/dev/null 2>&1; then
  say "makepkg will run with --nodeps (not installed in pacman's view: $(pacman -T "${all[@]}" | tr '\n' ' '))"
  : >/.pkgnx/nodeps
fi
if [ "$PKGNX_FETCH" = 1 ]; then
  say "fetching sources (makepkg --verifysource)"
  cd /build/startdir
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups --inh-caps=-all --bounding-set=-all makepkg --verifysource --nodeps --noconfirm
  else
    say "not root: sources are fetched during the build step"
  fi
fi
