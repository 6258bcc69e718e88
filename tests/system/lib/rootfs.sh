# shellcheck shell=bash
# The Debian 12 root file system the system test boots, built with
# debootstrap once and cached as a tarball (notes/systemd-container.md).
# Needs SYSTEM_CACHE (the cache folder) and WORK.

ROOTFS_SUITE=bookworm
# Bump when the way the root is made changes, so old caches are not used.
ROOTFS_RECIPE=1
# What the test needs inside besides the package's own dependencies: a
# booting systemd, ss, man (systemd-analyze verify reads Documentation=), the client (curl, openssl for the signature) and a
# PostgreSQL for the daemon to write into.
ROOTFS_EXTRA=(systemd systemd-sysv dbus iproute2 man-db curl openssl postgresql-15)

# The Debian mirror apt on this machine already uses.
rootfs_mirror() {
	local uri
	if [ -n "${STRIDE_TEST_MIRROR:-}" ]; then
		echo "$STRIDE_TEST_MIRROR"
		return
	fi
	uri=$(awk '/^URIs:/ { u = $2 } /^Suites:/ && / bookworm( |$)/ && u { print u; exit }' \
		/etc/apt/sources.list.d/*.sources 2>/dev/null)
	[ -n "$uri" ] || uri=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' \
		/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null)
	echo "${uri:-http://deb.debian.org/debian}"
}

# The package names of a .deb's Depends (first alternative, no versions).
rootfs_deb_depends() { # DEB
	dpkg-deb -f "$1" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/[[:space:]]//g' |
		grep -v '^$' | grep -v '^\${'
}

# rootfs_tarball DEB: prints the cached tarball for DEB's dependencies,
# building it when missing. The key covers everything that goes into it.
rootfs_tarball() {
	local deb=$1 mirror packages key tarball
	mirror=$(rootfs_mirror)
	packages=$( (rootfs_deb_depends "$deb"; printf '%s\n' "${ROOTFS_EXTRA[@]}") | sort -u |
		paste -sd, -)
	key=$(printf '%s\n' "$ROOTFS_RECIPE" "$ROOTFS_SUITE" "$mirror" "$packages" |
		sha256sum | cut -c1-16)
	tarball=$SYSTEM_CACHE/rootfs-$ROOTFS_SUITE-$key.tar.zst
	if [ -s "$tarball" ]; then
		echo "# root file system from the cache: $tarball" >&2
	else
		echo "# building the root file system (debootstrap $ROOTFS_SUITE from $mirror," \
			"with $packages)" >&2
		rootfs_build "$mirror" "$packages" "$tarball" || return 1
	fi
	echo "$tarball"
}

rootfs_build() { # MIRROR PACKAGES TARBALL
	local dir=$WORK/debootstrap
	mkdir -p "$SYSTEM_CACHE" || return 1
	if ! LANG=C.UTF-8 LC_ALL=C.UTF-8 debootstrap --variant=minbase --include="$2" \
		"$ROOTFS_SUITE" "$dir" "$1" >"$WORK/debootstrap.log" 2>&1; then
		tail -n 20 "$WORK/debootstrap.log" >&2
		return 1
	fi
	# The downloaded packages are half the size, and of no use offline.
	rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
	# Older tarballs of this suite are stale once the key changed.
	rm -f "$SYSTEM_CACHE"/rootfs-"$ROOTFS_SUITE"-*.tar.zst
	tar --zstd -C "$dir" -cf "$3.part" . && mv "$3.part" "$3" || return 1
	rm -rf "$dir"
}
