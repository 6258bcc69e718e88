#!/bin/bash
# The systemd units as systemd reads them. Installs the build into a
# temporary root (meson install --destdir, and the binary at every path an
# Exec line of units/ names), puts units/ under its /etc/systemd/system,
# and checks:
#   - systemd-analyze verify --root of each unit says nothing on stderr
#     (it fails on a missing executable or unit, but only warns about a
#     misspelled key or a missing man page, which count here too);
#   - the service's `systemd-analyze security --offline=yes` exposure is
#     at most 1.5;
#   - with packaging/private-network.conf as a drop-in, the service still
#     verifies cleanly and its exposure is at most 0.5.
# The last line is "N passed, N failed".
#
#   BUILD_DIR=DIR   the meson build to install (default build)
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
SERVICE=stride-webhooks.service
DROPIN=$ROOT/packaging/private-network.conf
MAX_EXPOSURE=1.5
MAX_EXPOSURE_PRIVATE=0.5

PASSED=0
FAILED=0
WORK=$(mktemp -d /tmp/stride-units.XXXXXX)
R=$WORK/root
UNIT_DIR=$R/etc/systemd/system
trap 'rm -rf "$WORK"' EXIT

pass() {
	PASSED=$((PASSED + 1))
	echo "ok - $*"
}

fail() {
	FAILED=$((FAILED + 1))
	echo "not ok - $*"
}

finish() {
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
	exit
}

build() {
	if [ ! -f "$BUILD/build.ninja" ]; then
		meson setup "$BUILD" >"$WORK/build.log" 2>&1 || return 1
	fi
	ninja -C "$BUILD" >"$WORK/build.log" 2>&1
}

# The absolute programs the units' Exec lines run, without the prefixes
# ("-", "@", ":", "+", "!") that change how systemd runs them.
exec_paths() {
	sed -n 's/^[[:space:]]*Exec[A-Za-z]*=[-@:+!|]*\(\/[^[:space:]]*\).*/\1/p' \
		"$ROOT"/units/* "$ROOT"/units/*.d/*.conf 2>/dev/null | sort -u
}

# A root that holds what the units need: systemd's own units (for
# sysinit.target and the like), what meson installs, the man pages the
# packages ship from packaging/, the daemon where ExecStart looks for it,
# and units/.
make_root() {
	local path page

	mkdir -p "$R/usr/lib/systemd" "$UNIT_DIR" || return 1
	cp -a /usr/lib/systemd/system "$R/usr/lib/systemd/" || return 1
	meson install -C "$BUILD" --no-rebuild --destdir "$R" >"$WORK/install.log" 2>&1 || {
		tail -n 20 "$WORK/install.log"
		return 1
	}
	for page in "$ROOT"/packaging/*.[1-8]; do
		[ -f "$page" ] || continue
		install -D -m 644 "$page" "$R/usr/share/man/man${page##*.}/$(basename "$page")"
	done
	for path in $(exec_paths); do
		mkdir -p "$R$(dirname "$path")"
		if [ "$(basename "$path")" == stride-webhooks ]; then
			install -m 755 "$BUILD/stride-webhooks" "$R$path" || return 1
		elif [ -e "$path" ]; then
			cp -L "$path" "$R$path" || return 1
		fi
	done
	cp -r "$ROOT"/units/. "$UNIT_DIR"/
}

# The man pages the install put into the root, for verify's man checks.
man_path() {
	find "$R" -type d -path '*/share/man' -printf '%p:'
}

verify() { # UNIT WHAT
	local err=$WORK/verify.err rc

	MANPATH=$(man_path) systemd-analyze verify --root="$R" "$1" >/dev/null 2>"$err"
	rc=$?
	if [ $rc -eq 0 ] && [ ! -s "$err" ]; then
		pass "systemd-analyze verify $1$2"
	else
		fail "systemd-analyze verify $1$2 (exit $rc):"
		sed 's/^/    /' "$err"
	fi
}

# The overall exposure `systemd-analyze security --offline=yes` gives.
exposure() { # UNIT
	systemd-analyze security --offline=yes --root="$R" "$1" 2>"$WORK/security.err" |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}

check_exposure() { # WHAT SCORE MAX
	if [ -z "$2" ]; then
		fail "$1: systemd-analyze security gave no score:"
		sed 's/^/    /' "$WORK/security.err"
	elif awk -v s="$2" -v m="$3" 'BEGIN { exit !(s <= m) }'; then
		pass "$1: exposure $2 (at most $3)"
	else
		fail "$1: exposure $2, more than $3"
	fi
}

if ! build; then
	tail -n 30 "$WORK/build.log"
	fail "the daemon builds ($BUILD)"
	finish
fi
if ! make_root; then
	fail "installing into a temporary root"
	finish
fi

units=()
for f in "$ROOT"/units/*; do
	case $f in
	*.service | *.socket | *.path | *.timer | *.target | *.mount) units+=("$(basename "$f")") ;;
	esac
done
for u in "${units[@]}"; do
	verify "$u" ""
done

base=$(exposure "$SERVICE")
check_exposure "$SERVICE" "$base" "$MAX_EXPOSURE"

mkdir -p "$UNIT_DIR/$SERVICE.d"
cp "$DROPIN" "$UNIT_DIR/$SERVICE.d/"
verify "$SERVICE" " with packaging/$(basename "$DROPIN")"
private=$(exposure "$SERVICE")
check_exposure "$SERVICE with packaging/$(basename "$DROPIN")" "$private" "$MAX_EXPOSURE_PRIVATE"
if [ -n "$base" ] && [ -n "$private" ] &&
	awk -v p="$private" -v b="$base" 'BEGIN { exit !(p < b) }'; then
	pass "the drop-in lowers the exposure ($base -> $private)"
else
	fail "the drop-in lowers the exposure ($base -> $private)"
fi
finish
