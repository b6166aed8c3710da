#!/bin/bash
set -euo pipefail
u=$PKGNX_BUILD_USER
args=(-f --noconfirm)
[ -f /.pkgnx/nodeps ] && args+=(--nodeps)
cd /build/startdir
printf '==> pkgnx: makepkg %s\n' "${args[*]} $*"
if [ "$(id -u)" = 0 ]; then
  exec setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups --inh-caps=-all --bounding-set=-all makepkg "${args[@]}" "$@"
fi
exec makepkg "${args[@]}" "$@"
