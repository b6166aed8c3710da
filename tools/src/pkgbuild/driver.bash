# pkgnx metadata driver. Runs ONLY inside the bubblewrap sandbox built by sandbox.ts.
# Usage: bash -c "$(cat driver.bash)" pkgnx-driver <index> <dir> [<index> <dir> ...]
#
# For every directory it sources ./PKGBUILD in a fresh subshell, the way makepkg 6.0.2 does
# (inside a function, extglob off, an ERR trap that functions do not inherit), and writes what
# `makepkg --printsrcinfo` would read from it. Output framing (stdout, every field NUL-terminated,
# bash strings cannot contain NUL so no value can break it):
#   B <index>                                  about to source this PKGBUILD (the parent's timer starts)
#   R <index> <exit status> <n> <field>*n <stderr text>   its result
# Only this loop writes to the real stdout: each subshell writes into its own file in the
# private /tmp, and the loop re-frames that file, so a PKGBUILD that prints garbage (or writes
# fake records) only corrupts its own result.
#
# The payload fields a subshell writes (parsed and validated in TypeScript):
#   S <kind> <name>                 section start (kind = pkgbase | pkgname)
#   A <key> <count> <value>*count   an attribute line as srcinfo.sh would print it (raw, not normalised)
#   T <name> <attrs>                a schema variable that is declared, with ${var@a} (for the lint rules)
#   F <pkgname> <attr> <a|s>        an attribute assigned inside package_<pkgname>() (array or string form)
#   M <function name>               a package function that is missing
#   Z                               the record is complete

__pkgnx_hash_algos=(ck md5 sha1 sha224 sha256 sha384 sha512 b2)
__pkgnx_schema_arrays=(arch backup checkdepends conflicts depends groups license makedepends
	noextract optdepends options provides replaces source validpgpkeys
	"${__pkgnx_hash_algos[@]/%/sums}")
__pkgnx_schema_strings=(changelog epoch install pkgbase pkgdesc pkgrel pkgver url)
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
# read without forking (declare -f into a file on the private tmpfs, then mapfile) and pre-split once:
# makepkg greps the function text with `^[[:space:]]* <attr>\+?=\(` (arrays) or `...=[^(]` (strings)
# per attribute; a single regex per line plus a string comparison per attribute selects the same lines.
__pkgnx_fn_attr=() __pkgnx_fn_kind=() __pkgnx_fn_line=()
declare -A __pkgnx_fn_has=()
__pkgnx_load_function() {
	local __pkgnx_l __pkgnx_lines
	__pkgnx_fn_attr=() __pkgnx_fn_kind=() __pkgnx_fn_line=() __pkgnx_fn_has=()
	{ declare -f "package_$1" || declare -f package; } >/tmp/.pkgnx-fn 2>/dev/null
	mapfile -t __pkgnx_lines </tmp/.pkgnx-fn
	for __pkgnx_l in "${__pkgnx_lines[@]}"; do
		[[ $__pkgnx_l =~ ^[[:space:]]*\ ([A-Za-z_][A-Za-z0-9_]*)\+?=(.?) ]] || continue
		[[ -n ${BASH_REMATCH[2]} ]] || continue
		__pkgnx_fn_attr+=("${BASH_REMATCH[1]}")
		if [[ ${BASH_REMATCH[2]} = '(' ]]; then __pkgnx_fn_kind+=(a); else __pkgnx_fn_kind+=(s); fi
		__pkgnx_fn_line+=("${__pkgnx_l##*([[:space:]])}")
		__pkgnx_fn_has[${BASH_REMATCH[1]}]=1
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

__pkgnx_section_details() {
	local __pkgnx_a __pkgnx_x __pkgnx_package_arch
	for __pkgnx_x in "${__pkgnx_single[@]}"; do __pkgnx_write "$1" "$__pkgnx_x" 0; done
	for __pkgnx_x in "${__pkgnx_multi[@]}"; do __pkgnx_write "$1" "$__pkgnx_x" 1; done
	__pkgnx_attr "$1" arch 1
	__pkgnx_package_arch=("${__pkgnx_v[@]}")
	for __pkgnx_a in "${__pkgnx_package_arch[@]}"; do
		[[ $__pkgnx_a = any ]] && continue
		for __pkgnx_x in "${__pkgnx_arch_attrs[@]}"; do
			__pkgnx_write "$1" "${__pkgnx_x}_$__pkgnx_a" 1
		done
	done
}

__pkgnx_item() {
	exec </dev/null
	# what makepkg defines before sourcing (BUILDDIR defaults to startdir)
	startdir=$PWD srcdir=$PWD/src
	trap 'true' ERR   # makepkg has a global ERR trap; sourcing runs in a function that does not inherit it
	__pkgnx_source >/dev/null
	local __pkgnx_status=$?
	trap - ERR
	if (( __pkgnx_status != 0 )); then
		__pkgnx_emit E "$__pkgnx_status"
		return
	fi
	shopt -s extglob
	pkgbase=${pkgbase:-${pkgname[0]}}

	local __pkgnx_single __pkgnx_multi __pkgnx_p __pkgnx_x __pkgnx_a __pkgnx_line __pkgnx_name
	# declared schema variables and their attributes, for the lint rules (variable.sh, arch_specific.sh)
	for __pkgnx_x in "${__pkgnx_schema_arrays[@]}" "${__pkgnx_schema_strings[@]}"; do
		[[ ${!__pkgnx_x@a} || ${!__pkgnx_x+set} ]] && __pkgnx_emit T "$__pkgnx_x" "${!__pkgnx_x@a}"
		for __pkgnx_a in "${arch[@]}"; do
			__pkgnx_name=${__pkgnx_x}_$__pkgnx_a
			[[ ${!__pkgnx_name@a} || ${!__pkgnx_name+set} ]] && __pkgnx_emit T "$__pkgnx_name" "${!__pkgnx_name@a}"
		done
	done

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

__pkgnx_err=()
__pkgnx_rec=()
while (( $# >= 2 )); do
	__pkgnx_index=$1 __pkgnx_dir=$2
	shift 2
	__pkgnx_emit B "$__pkgnx_index"
	( cd -- "$__pkgnx_dir" && __pkgnx_item ) >/tmp/.pkgnx-rec 2>/tmp/.pkgnx-err
	__pkgnx_status=$?
	# nothing a PKGBUILD started may outlive its item: a background process could rewrite the next
	# item's records. The sandbox has its own pid namespace, so -1 reaches exactly those processes.
	kill -KILL -1 2>/dev/null
	mapfile -d '' __pkgnx_rec </tmp/.pkgnx-rec
	mapfile -d '' __pkgnx_err </tmp/.pkgnx-err
	# and every item starts with an empty /tmp and HOME (checked with a glob: no fork in the usual case)
	shopt -s nullglob dotglob
	__pkgnx_left=(/tmp/* /tmp/home/*)
	shopt -u nullglob dotglob
	for __pkgnx_x in "${__pkgnx_left[@]}"; do
		case $__pkgnx_x in /tmp/.pkgnx-rec | /tmp/.pkgnx-err | /tmp/.pkgnx-fn | /tmp/home) ;; *)
			rm -rf /tmp/* /tmp/.[!.]* /tmp/..?* 2>/dev/null
			mkdir -p /tmp/home
			break ;;
		esac
	done
	printf -v __pkgnx_errtext '%s' "${__pkgnx_err[@]}"
	__pkgnx_emit R "$__pkgnx_index" "$__pkgnx_status" "${#__pkgnx_rec[@]}" "${__pkgnx_rec[@]}" "${__pkgnx_errtext:0:4000}"
done
