# shellcheck shell=bash
# Builds the .deb and the .rpm from a pristine copy of the source tree,
# as from a fresh clone. Needs ROOT (the repository) and WORK.

# The version meson.build declares.
pkg_version() {
	sed -n "s/^ *version: *'\([^']*\)'.*/\1/p" "$ROOT/meson.build" | head -n 1
}

# pkg_source DIR: the files git tracks or would track (nothing it
# ignores, such as build folders), copied into DIR.
pkg_source() {
	mkdir -p "$1" &&
		git -C "$ROOT" ls-files -z --cached --others --exclude-standard |
		(cd "$ROOT" && xargs -0 cp -a --parents -t "$1" 2>/dev/null)
	# Files deleted but not yet committed are listed and absent: fine.
	[ -f "$1/meson.build" ]
}

# pkg_build_deb SRC: dpkg-buildpackage -us -uc -b in SRC; the .deb and
# .changes land beside SRC.
pkg_build_deb() {
	(cd "$1" && dpkg-buildpackage -us -uc -b) >"$WORK/dpkg-buildpackage.log" 2>&1 || {
		tail -n 30 "$WORK/dpkg-buildpackage.log" | sed 's/^/# /'
		return 1
	}
}

# pkg_build_rpm SRC VERSION TOPDIR: the source tarball, then rpmbuild -bb
# (--nodeps: the build dependencies carry Fedora's names, not Debian's).
pkg_build_rpm() {
	local src=$1 version=$2 top=$3
	mkdir -p "$top/SOURCES" || return 1
	tar -C "$(dirname "$src")" -czf "$top/SOURCES/stride-webhooks-$version.tar.gz" \
		"$(basename "$src")" || return 1
	rpmbuild -bb --nodeps --define "_topdir $top" \
		"$src/packaging/stride-webhooks.spec" >"$WORK/rpmbuild.log" 2>&1 || {
		tail -n 30 "$WORK/rpmbuild.log" | sed 's/^/# /'
		return 1
	}
}

# The paths a .deb installs, one a line, directories ending in /.
pkg_deb_files() { # DEB
	dpkg-deb -c "$1" | awk '{ print $6 }' | sed 's|^\./|/|' | grep -v '^/$' | sort
}

# The paths an .rpm installs, less the build-id links rpmbuild adds; a
# compressed man page counts under its plain name.
pkg_rpm_files() { # RPM
	rpm -qlp "$1" 2>/dev/null | grep -v '^/usr/lib/\.build-id' |
		sed -E 's/(\.[1-8])\.(gz|bz2|xz|zst)$/\1/' | sort
}

# The expected list of a package: tests/system/NAME-files.txt, plus the
# spool's .path unit once the tree has one.
pkg_expected_files() { # LIST UNITDIR
	{
		grep -v '^#' "$1"
		[ -f "$ROOT/units/stride-webhooks-spool.path" ] &&
			echo "$2/stride-webhooks-spool.path"
	} | sort
}
