#!/bin/bash
# Installs what building, testing and the demo need, from Debian 12's
# packages. Safe to run again: apt-get only acts on what is missing.
set -euo pipefail

packages=(
	meson ninja-build pkg-config gcc
	libh2o-evloop-dev libssl-dev libyajl-dev libgnutls28-dev libpq-dev libsystemd-dev
	postgresql curl gnutls-bin openssl jq python3 systemd
	debhelper dpkg-dev lintian rpm rpmlint systemd-container debootstrap zstd
	clang libclang-rt-14-dev llvm man-db
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
