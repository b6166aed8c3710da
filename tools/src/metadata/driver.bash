# pkgnx metadata driver. Runs ONLY inside the bubblewrap sandbox built by sandbox.ts.
# Usage: bash -c "$(cat driver.bash)" pkgnx-driver scan|noscan <index> <dir> [<index> <dir> ...]
#
# For every directory it sources ./PKGBUILD in a fresh process, the way makepkg 6.0.2 does
# (inside a function, extglob off, an ERR trap that functions do not inherit), and writes what
# `makepkg --printsrcinfo` would read from it. Output framing (stdout, every field NUL-terminated,
# bash strings cannot contain NUL so no value can break it):
#   B <index>                          about to source this PKGBUILD (the parent's timer starts)
#   R <index> <n> <field>*n            its result: what the item process wrote to its own pipe
# Only this loop writes to the real stdout. Each item writes into a pipe of its own that the loop
# re-frames, so a PKGBUILD that prints garbage (or fake records) only corrupts its own result; the
# fields are untrusted and validated in TypeScript.
#
# The payload fields a subshell writes (parsed and validated in TypeScript):
#   S <kind> <name>                 section start (kind = pkgbase | pkgname)
#   A <key> <count> <value>*count   an attribute line as srcinfo.sh would print it (raw, not normalised)
#   T <name> <attrs>                a schema variable that is declared, with ${var@a} (for the lint rules)
#   F <pkgname> <attr> <a|s>        an attribute assigned inside package_<pkgname>() (array or string form)
#   M <function name>               a package function that is missing
#   P <function name>               a package function that is defined (package, package_<name>)
#   Q                               the source array is sparse
#   D <text>                        with `scan`: bash's own parse of the PKGBUILD, printed back by declare -f
#                                   (arch-independence.ts decides from it whether one sourcing serves every
#                                   architecture); absent when bash cannot parse the file
#   Z                               the record is complete
#   C                               the package directory could not be entered (a sandbox fault)
# and, added by the driver after them: X <exit status of the item process>, 2 <its stderr, first 4000 characters>

__pkgnx_hash_algos=(ck md5 sha1 sha224 sha256 sha384 sha512 b2)
__pkgnx_schema_arrays=(arch backup checkdepends conflicts depends groups license makedepends
	noextract optdepends options provides replaces source validpgpkeys
	"${__pkgnx_hash_algos[@]/%/sums}")
__pkgnx_schema_strings=(changelog epoch install pkgbase pkgdesc pkgrel pkgver url)
__pkgnx_schema_names=("${__pkgnx_schema_arrays[@]}" "${__pkgnx_schema_strings[@]}")
__pkgnx_arch_attrs=(source provides conflicts depends replaces optdepends makedepends checkdepends
	"${__pkgnx_hash_algos[@]/%/sums}")
__pkgnx_global_single=(pkgdesc pkgver pkgrel epoch url install changelog)
__pkgnx_global_multi=(arch groups license checkdepends makedepends depends optdepends provides
	conflicts replaces noextract options backup source validpgpkeys "${__pkgnx_hash_algos[@]/%/sums}")
__pkgnx_pkg_single=(pkgdesc url install changelog)
__pkgnx_pkg_multi=(arch groups license checkdepends depends optdepends provides conflicts replaces
	options backup)

__pkgnx_emit() { printf '%s\0' "$@"; }

# makepkg sources the PKGBUILD inside source_safe(), a function: mirror that so `declare`/`local`
# in a PKGBUILD behave the same.
__pkgnx_source() {
	shopt -u extglob
	source ./PKGBUILD
	local __pkgnx_status=$?
	shopt -s extglob
	return $__pkgnx_status
}

# The assignment lines of `declare -f package_<name>` (falling back to `package`, as grep_function does),
# read without forking (declare -f into a file on the item's scratch /tmp, then mapfile) and pre-split once:
# makepkg greps the function text with `^[[:space:]]* <attr>\+?=\(` (arrays) or `...=[^(]` (strings)
# per attribute; a single regex per line plus a string comparison per attribute selects the same lines.
__pkgnx_fn_attr=() __pkgnx_fn_kind=() __pkgnx_fn_line=()
declare -A __pkgnx_fn_has=() __pkgnx_declared=()
# set when a name with an _ is declared (pkgbase) or assigned in the package function: else no <attr>_<arch> can print
__pkgnx_fn_per_arch= __pkgnx_declared_per_arch=
__pkgnx_load_function() {
	local __pkgnx_l __pkgnx_lines
	__pkgnx_fn_attr=() __pkgnx_fn_kind=() __pkgnx_fn_line=() __pkgnx_fn_has=() __pkgnx_fn_per_arch=
	{ { declare -f "package_$1" || declare -f package || :; } >/tmp/.pkgnx-fn && mapfile -t __pkgnx_lines </tmp/.pkgnx-fn; } 2>/dev/null ||
		{ printf 'C\0' >&3; exit 1; }
	for __pkgnx_l in "${__pkgnx_lines[@]}"; do
		# a glob first (bash compiles a regex on every =~): most lines assign nothing
		[[ $__pkgnx_l = *=?* ]] || continue
		[[ $__pkgnx_l =~ ^[[:space:]]*\ ([A-Za-z_][A-Za-z0-9_]*)\+?=(.?) ]] || continue
		[[ -n ${BASH_REMATCH[2]} ]] || continue
		__pkgnx_fn_attr+=("${BASH_REMATCH[1]}")
		if [[ ${BASH_REMATCH[2]} = '(' ]]; then __pkgnx_fn_kind+=(a); else __pkgnx_fn_kind+=(s); fi
		__pkgnx_fn_line+=("${__pkgnx_l#"${__pkgnx_l%%[![:space:]]*}"}")
		__pkgnx_fn_has[${BASH_REMATCH[1]}]=1
		[[ ${BASH_REMATCH[1]} = *_* ]] && __pkgnx_fn_per_arch=1
	done
}

# get_pkgbuild_attribute + pkgbuild_extract_to_srcinfo: start from the global value, then eval the
# matching lines of the package function with the attribute renamed to the output variable.
# `pkgname` is a local holding the split package's name, exactly as in makepkg, because override
# lines such as provides=("$pkgname-x") are evaluated there.
__pkgnx_attr() {
	# fast paths (most attributes are unset, or not assigned in the package function): same result, no eval
	if [[ -z $1 ]]; then
		[[ -v $2 || ${!2@a} ]] || { __pkgnx_v=(); return 1; }
	elif [[ -z ${__pkgnx_fn_has[$2]} && $2 != arch ]]; then
		return 1
	fi
	local pkgname=$1 attrname=$2 isarray=$3 __pkgnx_kind=s __pkgnx_j __pkgnx_found=1
	__pkgnx_v=()
	if (( isarray )); then
		__pkgnx_kind=a
		eval "__pkgnx_v=(\"\${$attrname[@]}\")"
	elif [[ ${!attrname} ]]; then
		__pkgnx_v=${!attrname}
	fi
	if [[ -z $pkgname ]]; then
		(( ${#__pkgnx_v[@]} )) && [[ $isarray = 1 || -n ${__pkgnx_v[0]} ]] && return 0
		return 1
	fi
	for __pkgnx_j in "${!__pkgnx_fn_attr[@]}"; do
		[[ ${__pkgnx_fn_attr[__pkgnx_j]} = "$attrname" && ${__pkgnx_fn_kind[__pkgnx_j]} = "$__pkgnx_kind" ]] || continue
		eval "${__pkgnx_fn_line[__pkgnx_j]/#$attrname/__pkgnx_v}"
		__pkgnx_found=0
	done
	return $__pkgnx_found
}

__pkgnx_write() {
	# $1 package name ('' for pkgbase), $2 attr, $3 isarray
	if __pkgnx_attr "$1" "$2" "$3"; then
		__pkgnx_emit A "$2" "${#__pkgnx_v[@]}" "${__pkgnx_v[@]}"
	fi
}

# Only attributes that can print are looked at (a function call per attribute costs more than the rest of the
# item): in the pkgbase section the declared ones (__pkgnx_declared, from the T pass: the same test as
# __pkgnx_attr's), in a package section those its function assigns (__pkgnx_fn_has) and arch.
__pkgnx_section_details() {
	local __pkgnx_a __pkgnx_x __pkgnx_package_arch __pkgnx_per_arch=$__pkgnx_declared_per_arch
	if [[ -n $1 ]]; then
		local -n __pkgnx_can=__pkgnx_fn_has
		__pkgnx_per_arch=$__pkgnx_fn_per_arch
		for __pkgnx_x in "${__pkgnx_single[@]}"; do [[ ${__pkgnx_can[$__pkgnx_x]} ]] && __pkgnx_write "$1" "$__pkgnx_x" 0; done
		for __pkgnx_x in "${__pkgnx_multi[@]}"; do [[ ${__pkgnx_can[$__pkgnx_x]} || $__pkgnx_x = arch ]] && __pkgnx_write "$1" "$__pkgnx_x" 1; done
	else
		# pkgbase: __pkgnx_write inlined (a string prints when not empty, an array when it has elements)
		local -n __pkgnx_can=__pkgnx_declared
		for __pkgnx_x in "${__pkgnx_single[@]}"; do [[ ${__pkgnx_can[$__pkgnx_x]} && ${!__pkgnx_x} ]] && __pkgnx_emit A "$__pkgnx_x" 1 "${!__pkgnx_x}"; done
		for __pkgnx_x in "${__pkgnx_multi[@]}"; do
			[[ ${__pkgnx_can[$__pkgnx_x]} ]] || continue
			__pkgnx_a=$__pkgnx_x[@]
			__pkgnx_v=("${!__pkgnx_a}")
			(( ${#__pkgnx_v[@]} )) && __pkgnx_emit A "$__pkgnx_x" "${#__pkgnx_v[@]}" "${__pkgnx_v[@]}"
		done
	fi
	# unless the package function has an arch= line: evaluated again here as makepkg does, side effects included
	[[ $__pkgnx_per_arch || ( -n $1 && ${__pkgnx_fn_has[arch]} ) ]] || return 0
	__pkgnx_attr "$1" arch 1
	__pkgnx_package_arch=("${__pkgnx_v[@]}")
	for __pkgnx_a in "${__pkgnx_package_arch[@]}"; do
		# not a variable name part (arch=(x86-64)): the arch lint names it; no <attr>_<arch> can exist
		[[ $__pkgnx_a = any || ! $__pkgnx_a =~ ^[A-Za-z0-9_]+$ ]] && continue
		for __pkgnx_x in "${__pkgnx_arch_attrs[@]}"; do
			[[ ${__pkgnx_can[${__pkgnx_x}_$__pkgnx_a]} ]] && __pkgnx_write "$1" "${__pkgnx_x}_$__pkgnx_a" 1
		done
	done
}

# A command the PKGBUILD calls that does not exist here: recorded (N), so the result is an error naming it
# instead of silently different. Runs with stdout at /dev/null (sourcing), hence the record fd 3.
command_not_found_handle() {
	printf 'N\0%s\0' "$1" >&3
	printf '%s: command not found\n' "$1" >&2
	return 127
}

# The PKGBUILD parsed by bash without running it: wrapped in a function (defining one runs nothing) and printed
# back by declare -f, which normalises it (one statement per line, functions as `function name () `). The
# wrapper's name is random so that no PKGBUILD defines it by accident.
__pkgnx_scan() {
	local __pkgnx_text __pkgnx_canon __pkgnx_fn=__pkgnx_top_$RANDOM$RANDOM
	IFS= read -r -d '' __pkgnx_text <PKGBUILD
	eval "$__pkgnx_fn() {
$__pkgnx_text
}" 2>/dev/null || return 0
	declare -f "$__pkgnx_fn" >/tmp/.pkgnx-top 2>/dev/null || return 0
	IFS= read -r -d '' __pkgnx_canon </tmp/.pkgnx-top
	unset -f "$__pkgnx_fn"
	__pkgnx_emit D "$__pkgnx_canon"
}

__pkgnx_item() {
	exec </dev/null
	(( __pkgnx_scan_mode )) && __pkgnx_scan
	# what makepkg defines before sourcing (BUILDDIR defaults to startdir)
	startdir=$PWD srcdir=$PWD/src
	trap 'true' ERR   # makepkg has a global ERR trap; sourcing runs in a function that does not inherit it
	__pkgnx_source >/dev/null
	local __pkgnx_status=$?
	trap - ERR
	# options a PKGBUILD may have set for itself (set -e, set -u ...) must not change how it is read
	set +euo pipefail +E +T
	if (( __pkgnx_status != 0 )); then
		__pkgnx_emit E "$__pkgnx_status"
		return
	fi
	shopt -s extglob
	pkgbase=${pkgbase:-${pkgname[0]}}

	local __pkgnx_single __pkgnx_multi __pkgnx_p __pkgnx_x __pkgnx_a __pkgnx_line __pkgnx_name __pkgnx_names
	# declared schema variables and their attributes, for the lint rules (variable.sh, arch_specific.sh), the
	# <name>_<arch> forms for every arch of arch=() included; remembered in __pkgnx_declared, so that the
	# pkgbase section looks at those alone. One flat list, the _<arch> forms made by one expansion per arch:
	# this pass tests ~40 names per architecture, and every bash command here costs on every PKGBUILD
	__pkgnx_names=("${__pkgnx_schema_names[@]}")
	for __pkgnx_a in "${arch[@]}"; do [[ $__pkgnx_a =~ ^[A-Za-z0-9_]+$ ]] && __pkgnx_names+=("${__pkgnx_schema_names[@]/%/_$__pkgnx_a}"); done
	for __pkgnx_name in "${__pkgnx_names[@]}"; do
		[[ ${!__pkgnx_name@a} || ${!__pkgnx_name+set} ]] || continue
		__pkgnx_emit T "$__pkgnx_name" "${!__pkgnx_name@a}"
		__pkgnx_declared[$__pkgnx_name]=1
		# schema names have no _: this is an <attr>_<arch> form
		[[ $__pkgnx_name = *_* ]] && __pkgnx_declared_per_arch=1
	done

	# the package functions defined (lint_package_function) and a sparse source array (lint_source)
	declare -F package >/dev/null && __pkgnx_emit P package
	for __pkgnx_p in "${pkgname[@]}"; do declare -F "package_$__pkgnx_p" >/dev/null && __pkgnx_emit P "package_$__pkgnx_p"; done
	if (( ${#source[*]} > 0 )); then
		__pkgnx_x=("${!source[@]}")
		(( ${__pkgnx_x[-1]} + 1 != ${#source[*]} )) && __pkgnx_emit Q
	fi

	__pkgnx_single=("${__pkgnx_global_single[@]}")
	__pkgnx_multi=("${__pkgnx_global_multi[@]}")
	__pkgnx_emit S pkgbase "${pkgbase:-$pkgname}"
	__pkgnx_fn_attr=() __pkgnx_fn_kind=() __pkgnx_fn_line=()
	__pkgnx_section_details ''

	__pkgnx_single=("${__pkgnx_pkg_single[@]}")
	__pkgnx_multi=("${__pkgnx_pkg_multi[@]}")
	for __pkgnx_p in "${pkgname[@]}"; do
		if (( ${#pkgname[@]} == 1 )); then
			declare -F package >/dev/null || declare -F "package_$__pkgnx_p" >/dev/null ||
				{ declare -F build >/dev/null && __pkgnx_emit M package; }
		else
			declare -F "package_$__pkgnx_p" >/dev/null || __pkgnx_emit M "package_$__pkgnx_p"
		fi
		__pkgnx_load_function "$__pkgnx_p"
		# every attribute assigned in the function (exists_function_variable), for the lint rules
		for __pkgnx_x in "${!__pkgnx_fn_attr[@]}"; do
			__pkgnx_emit F "$__pkgnx_p" "${__pkgnx_fn_attr[__pkgnx_x]}" "${__pkgnx_fn_kind[__pkgnx_x]}"
		done
		__pkgnx_emit S pkgname "$__pkgnx_p"
		__pkgnx_section_details "$__pkgnx_p"
	done
	__pkgnx_emit Z
}

# ---- the driver loop: non-dumpable (see sandbox.ts) -------------------------------------------------------
# Signals an item can send that do not kill are ignored; one that does (SIGKILL) ends the batch, which the
# caller reports on the item being sourced.
trap '' INT TERM HUP QUIT USR1 USR2 PIPE ALRM TSTP TTIN TTOU XFSZ VTALRM PROF WINCH
# file descriptors bwrap may have left open: an item must find nothing of the driver's besides 0, 1, 2
for __pkgnx_x in /proc/self/fd/*; do
	__pkgnx_x=${__pkgnx_x##*/}
	(( __pkgnx_x > 2 )) && exec {__pkgnx_x}>&-
done 2>/dev/null
# makepkg sources makepkg.conf before the PKGBUILD: so do we, once (it is the workspace's own file)
if [[ -r /etc/makepkg.conf ]]; then
	__pkgnx_carch=$CARCH
	source /etc/makepkg.conf >/dev/null 2>&1
	CARCH=$__pkgnx_carch
fi

# One item, in a fresh process (a subshell) whose stdout and stderr are files of the scratch /tmp. The driver
# does not wait for what the PKGBUILD left running (a background process holding a pipe would otherwise
# stall it): once the subshell has exited, everything else is killed, and only then are the files read —
# through descriptors the driver opened before the item ran, so a PKGBUILD that replaces them (a FIFO, a
# link to /dev/zero) changes nothing; their size is bounded by the scratch tmpfs.
__pkgnx_run_item() {
	# not the PKGBUILD's doing: the sandbox is broken, and the result must not be cached (C)
	cd -- "$1" || { printf 'C\0'; exit 1; }
	__pkgnx_item
}

__pkgnx_scan_mode=0
[[ $1 = scan ]] && __pkgnx_scan_mode=1
shift

# /tmp is the sandbox's scratch tmpfs, emptied after every item. Before the first item it holds the driver's
# own files and, for a workspace under /tmp, the directories bwrap made to hold the package directories.
# An item that left exactly that (the driver's files as regular files; in each of those directories the
# same names) needs no `rm -rf`, a process per item and a fifth of the time: only the tmpfs is writable
# (the package directories mounted in it are read-only), so comparing the names sees anything left behind.
__pkgnx_scratch=(/tmp/.pkgnx-rec /tmp/.pkgnx-err /tmp/.pkgnx-fn /tmp/.pkgnx-top)
__pkgnx_tmp_dirs=(/tmp)
declare -A __pkgnx_tmp_seen=()
for (( __pkgnx_x = 2; __pkgnx_x <= $#; __pkgnx_x += 2 )); do
	__pkgnx_dir=${!__pkgnx_x}
	__pkgnx_dir=${__pkgnx_dir%/*}
	while [[ $__pkgnx_dir = /tmp/* && -z ${__pkgnx_tmp_seen[$__pkgnx_dir]} ]]; do
		__pkgnx_tmp_seen[$__pkgnx_dir]=1
		__pkgnx_tmp_dirs+=("$__pkgnx_dir")
		__pkgnx_dir=${__pkgnx_dir%/*}
	done
done
# the names in those directories, one line each (sets __pkgnx_listing)
__pkgnx_list_tmp() {
	local __pkgnx_d __pkgnx_e
	__pkgnx_listing=
	shopt -s nullglob dotglob
	for __pkgnx_d in "${__pkgnx_tmp_dirs[@]}"; do
		__pkgnx_e=("$__pkgnx_d"/*)
		__pkgnx_listing+="${#__pkgnx_e[@]}:${__pkgnx_e[*]}"$'\n'
	done
	shopt -u nullglob dotglob
}
# the driver's files exist, are regular, readable and writable, and are four different files
__pkgnx_scratch_intact() {
	local __pkgnx_f __pkgnx_g
	for __pkgnx_f in "${__pkgnx_scratch[@]}"; do
		[[ -f $__pkgnx_f && ! -L $__pkgnx_f && -r $__pkgnx_f && -w $__pkgnx_f ]] || return 1
	done
	for __pkgnx_f in 0 1 2; do
		for (( __pkgnx_g = __pkgnx_f + 1; __pkgnx_g < 4; __pkgnx_g++ )); do
			[[ ! ${__pkgnx_scratch[__pkgnx_f]} -ef ${__pkgnx_scratch[__pkgnx_g]} ]] || return 1
		done
	done
}
for __pkgnx_x in "${__pkgnx_scratch[@]}"; do : >"$__pkgnx_x"; done
__pkgnx_list_tmp
__pkgnx_clean=$__pkgnx_listing
__pkgnx_rec=() __pkgnx_err=()
while (( $# >= 2 )); do
	__pkgnx_index=$1 __pkgnx_dir=$2
	shift 2
	: >/tmp/.pkgnx-rec
	: >/tmp/.pkgnx-err
	exec {__pkgnx_recfd}</tmp/.pkgnx-rec {__pkgnx_errfd}</tmp/.pkgnx-err
	__pkgnx_emit B "$__pkgnx_index"
	( exec {__pkgnx_recfd}<&- {__pkgnx_errfd}<&-; __pkgnx_run_item "$__pkgnx_dir" ) >/tmp/.pkgnx-rec 2>/tmp/.pkgnx-err 3>&1
	__pkgnx_status=$?
	# nothing an item started may outlive it: kill every process of ours in the pid namespace but us (bwrap's
	# init, pid 1, is out of reach), and wait until they are gone (killed processes count until reaped)
	while kill -KILL -1 2>/dev/null; do wait; done
	mapfile -d '' -u "$__pkgnx_recfd" __pkgnx_rec
	mapfile -d '' -u "$__pkgnx_errfd" __pkgnx_err
	exec {__pkgnx_recfd}<&- {__pkgnx_errfd}<&-
	printf -v __pkgnx_errtext '%s' "${__pkgnx_err[@]}"
	__pkgnx_err=()
	# the usual case: nothing left but the driver's files, emptied; else everything goes, the driver's files are
	# made again, and the names are taken anew (a PKGBUILD may have left what cannot be removed, e.g. a chmod)
	for __pkgnx_x in "${__pkgnx_scratch[@]}"; do [[ -e $__pkgnx_x || -L $__pkgnx_x ]] || : >"$__pkgnx_x"; done 2>/dev/null
	__pkgnx_list_tmp
	if [[ $__pkgnx_listing != "$__pkgnx_clean" ]] || ! __pkgnx_scratch_intact; then
		shopt -s nullglob dotglob
		__pkgnx_left=(/tmp/*)
		shopt -u nullglob dotglob
		# --one-file-system never enters the package directories; what the item made unreadable is opened first
		chmod -R u+rwX -- "${__pkgnx_left[@]}" 2>/dev/null
		rm -rf --one-file-system -- "${__pkgnx_left[@]}" 2>/dev/null
		for __pkgnx_x in "${__pkgnx_scratch[@]}"; do : >"$__pkgnx_x"; done 2>/dev/null
		__pkgnx_list_tmp
		__pkgnx_clean=$__pkgnx_listing
	else
		for __pkgnx_x in "${__pkgnx_scratch[@]}"; do : >"$__pkgnx_x"; done
	fi
	# the item's own fields, then its exit status and its stderr (first 4000 characters), always last
	__pkgnx_emit R "$__pkgnx_index" "$(( ${#__pkgnx_rec[@]} + 4 ))" "${__pkgnx_rec[@]}" X "$__pkgnx_status" 2 "${__pkgnx_errtext:0:4000}"
done
